from __future__ import annotations

from migmerge.cli import main

raise SystemExit(main())
