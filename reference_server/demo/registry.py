"""The demo models the embedded demo repository holds: name → builder.

A module registers its demo model with `@register_demo_model(name)`; the built-in ones
are listed in catalog.py, which the registry imports on its first lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slogate_common.registry import Registry

Builder = Callable[[Path], None]  # writes <repo>/<model>/<version>/ directories


@dataclass(frozen=True)
class DemoModel:
    builder_version: str  # part of the repository stamp: bumping it rebuilds the repository
    build: Builder


DEMO_MODELS: Registry[DemoModel] = Registry("demo model", builtins="reference_server.demo.catalog")


def register_demo_model(name: str, builder_version: str = "1") -> Callable[[Builder], Builder]:
    """Add a demo model built by the decorated function."""

    def decorate(builder: Builder) -> Builder:
        DEMO_MODELS.add(name, DemoModel(builder_version, builder))
        return builder

    return decorate
