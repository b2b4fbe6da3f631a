"""Modules imported on first attribute use: scipy.special, scipy.stats and pyarrow cost 0.1-1 s
to import, and commands such as `validate` or `run --summary-only` never touch them."""

from __future__ import annotations

import importlib


class LazyModule:
    """Stands for the module `name`, importing it when an attribute is first read."""

    def __init__(self, name: str):
        self._name = name
        self._module = None

    def __getattr__(self, attribute: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}{' (imported)' if self._module is not None else ''}>"
