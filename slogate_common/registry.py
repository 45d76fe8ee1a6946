"""One registry shape for every plugin seam: protocol clients, payload generators, arrival
processes, targets, fault actions, experiments, summary and report sections, server
backends and route extensions.

A registry maps a name to a value (a class or a factory) plus an optional typed arguments
model, so that whoever reads a scenario or a model.json can validate an entry's arguments
before anything runs. Every registry shares one duplicate policy: a name is registered
once; registering it again with another value is an error (the same value again is a no-op,
which a module imported twice under two names would otherwise break).

Built-in entries register themselves when their module is imported. A registry may name
the module that imports them (`builtins=`), so that a lookup never depends on who happened
to import what first. An entry whose module is dear to import (torch's ~3 s) may instead be
declared lazily, by name and module (`add_lazy`): the module is imported on that name's
first lookup, and a lookup of any other name never pays for it.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownEntry(KeyError, ValueError):
    """A name no entry is registered under; str() says which ones are, with a did-you-mean.

    A ValueError too: a name read from a config file is a bad value, and validators (pydantic's
    among them) report ValueErrors as such."""

    def __init__(self, kind: str, name: object, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = known
        super().__init__(name)

    def __str__(self) -> str:
        hint = did_you_mean(str(self.name), self.known)
        listed = ", ".join(self.known) or "none"
        return f"unknown {self.kind} {self.name!r}{hint}; known: {listed}"


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    value: T
    args: type | None = None  # the entry's typed arguments (a pydantic model), if it takes any


class Registry(Generic[T]):
    def __init__(self, kind: str, *, builtins: str | None = None) -> None:
        self.kind = kind
        self._builtins = builtins
        self._entries: dict[str, Entry[T]] = {}
        self._lazy: dict[str, str] = {}  # name → the module that registers it, not yet imported
        self._loaded = builtins is None

    def register(self, name: str, *, args: type | None = None) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def decorate(value: T) -> T:
            self.add(name, value, args=args)
            return value

        return decorate

    def register_model(self, name: str) -> Callable[[T], T]:
        """Decorator for a class that is its own arguments model: it validates and it acts."""

        def decorate(cls: T) -> T:
            self.add(name, cls, args=cls)  # type: ignore[arg-type]
            return cls

        return decorate

    def add(self, name: str, value: T, *, args: type | None = None) -> None:
        existing = self._entries.get(name)
        if existing is not None and existing.value is not value:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, value, args)

    def add_lazy(self, name: str, module: str) -> None:
        """`name` is registered by importing `module`, which its first lookup does."""
        self._lazy[name] = module

    def entry(self, name: str) -> Entry[T]:
        self._load_builtins()
        if isinstance(name, str) and name in self._lazy and name not in self._entries:
            importlib.import_module(self._lazy.pop(name))
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownEntry(self.kind, name, self.names()) from None

    def get(self, name: str) -> T:
        return self.entry(name).value

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted({*self._entries, *self._lazy})

    def entries(self) -> list[Entry[T]]:
        """In registration order: sections render in the order their modules declare them."""
        self._load_builtins()
        for name in list(self._lazy):
            self.entry(name)
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return isinstance(name, str) and (name in self._entries or name in self._lazy)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True  # set first: the imported modules register through this registry
            importlib.import_module(self._builtins)


def did_you_mean(word: str, candidates: list[str]) -> str:
    """The one candidate the word begins (`price` → `price_per_hour`), else the closest by difflib."""
    prefixed = [candidate for candidate in candidates if len(word) >= 3 and candidate.startswith(word)]
    close = prefixed if len(set(prefixed)) == 1 else difflib.get_close_matches(word, candidates, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""

