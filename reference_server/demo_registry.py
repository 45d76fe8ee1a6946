"""Demo models other modules add to the embedded demo repository (e.g. the tiny LLM).

Kept apart from demo_models.py so that a module can register a demo model without
importing the repository builder (and the torch training it pulls in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slogate_common.registry import Registry

Builder = Callable[[Path], None]  # writes <repo>/<model>/<version>/ directories


@dataclass(frozen=True)
class DemoModel:
    version: str  # part of the repository stamp: bumping it rebuilds the repository
    build: Builder


DEMO_MODELS: Registry[DemoModel] = Registry("demo model", builtins="reference_server.llm.demo")


def register_demo_model(name: str, version: str = "1") -> Callable[[Builder], Builder]:
    """Add a demo model built by the decorated function."""

    def decorate(builder: Builder) -> Builder:
        DEMO_MODELS.add(name, DemoModel(version, builder))
        return builder

    return decorate
