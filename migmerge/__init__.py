"""migmerge: find, classify and resolve parallel Django migrations across git branches."""

__version__ = "0.1.0"
