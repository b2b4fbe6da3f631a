"""Package version (single source, read by pyproject and the output metadata)."""

__version__ = "0.9.1"
