"""A package's public names, imported on first use (PEP 562).

`harness.analysis` and `harness.report` export functions whose modules import scipy,
pandas and matplotlib (~3 s together). Without this, importing any light submodule of
theirs (the SLO grammar, the formatting helpers) ran the package's `__init__` and paid for
all of it: `slogate validate` took 4 s, and `slogate run` could not start its server before
those imports were done.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(package: str, modules: Mapping[str, tuple[str, ...]]
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """`__getattr__`, `__dir__` and `__all__` for `package`, whose `modules` map each module to the names it exports."""
    exports = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__, sorted(exports)
