"""Print the project's DATABASES["default"] as JSON (migmerge runs it with its interpreter).

Fixed code: the settings module comes from DJANGO_SETTINGS_MODULE (or the
project's own manage command, whose `shell -c` runs this), nothing is built
from names found in the repository, and nothing is migrated: only the
settings are imported.
"""

import importlib
import json
import os
import sys

_here = globals().get("__file__")
if _here and sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(_here)):
    # Run as a script: import the project's modules from its folder, not from migmerge's.
    sys.path[0] = os.getcwd()

_settings = importlib.import_module("django.conf").settings
_entry = _settings.DATABASES.get("default", {})
_keys = ("ENGINE", "NAME", "HOST", "PORT", "USER", "PASSWORD")
print("MIGMERGE-DATABASE:" + json.dumps({k: str(_entry.get(k) or "") for k in _keys}))
