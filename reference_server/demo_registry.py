"""Demo models other modules add to the embedded demo repository (e.g. the tiny LLM).

Kept apart from demo_models.py so that a backend module can register a demo model while
demo_models is still importing the backends (a plain import cycle otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Builder = Callable[[Path], None]  # writes <repo>/<model>/<version>/ directories
_BUILDERS: dict[str, tuple[str, Builder]] = {}


def register_demo_model(name: str, version: str = "1") -> Callable[[Builder], Builder]:
    """Add a demo model; `version` is part of the repository stamp, so bumping it rebuilds."""

    def decorate(builder: Builder) -> Builder:
        _BUILDERS[name] = (version, builder)
        return builder

    return decorate


def extra_builders() -> dict[str, tuple[str, Builder]]:
    """name → (version, builder), sorted by name."""
    return dict(sorted(_BUILDERS.items()))
