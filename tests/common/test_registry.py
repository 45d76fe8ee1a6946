"""The one registry shape every plugin seam uses: lookup, duplicates, did-you-mean, lazy built-ins."""

from __future__ import annotations

import sys

import pytest

from slogate_common.registry import Registry, UnknownEntry


def test_registered_entries_are_found_with_their_args() -> None:
    registry: Registry[type] = Registry("widget")

    class Args:
        pass

    @registry.register("round", args=Args)
    class Round:
        pass

    assert registry.get("round") is Round
    assert registry.entry("round").args is Args
    assert "round" in registry and registry.names() == ["round"]


def test_a_name_registered_twice_with_another_value_is_an_error() -> None:
    registry: Registry[object] = Registry("widget")
    first = object()
    registry.add("a", first)
    registry.add("a", first)  # the same value again: a module imported twice
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        registry.add("a", object())


def test_an_unknown_name_lists_the_known_ones_and_guesses() -> None:
    registry: Registry[int] = Registry("arrival process")
    registry.add("poisson", 1)
    registry.add("constant", 2)
    with pytest.raises(UnknownEntry) as caught:
        registry.get("poison")
    assert str(caught.value) == "unknown arrival process 'poison'; did you mean 'poisson'?; known: constant, poisson"


def test_unhashable_names_are_unknown_not_a_crash() -> None:
    registry: Registry[int] = Registry("protocol")
    with pytest.raises(UnknownEntry):
        registry.get(["oip-v2"])  # type: ignore[arg-type]


def test_builtins_load_on_first_lookup(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "reg_host.py").write_text(
        "from slogate_common.registry import Registry\nREG = Registry('client', builtins='reg_builtins')\n")
    (tmp_path / "reg_builtins.py").write_text("from reg_host import REG\nREG.add('echo', 'the echo client')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import reg_host

    assert "reg_builtins" not in sys.modules  # nothing imported it yet
    assert reg_host.REG.get("echo") == "the echo client"
    assert reg_host.REG.names() == ["echo"]


def test_a_lazy_entry_imports_its_module_only_when_it_is_looked_up(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lazy_host.py").write_text(
        "from slogate_common.registry import Registry\nREG = Registry('backend')\n"
        "REG.add('light', 'the light one')\nREG.add_lazy('heavy', 'lazy_heavy')\n")
    (tmp_path / "lazy_heavy.py").write_text("from lazy_host import REG\nREG.add('heavy', 'the heavy one')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazy_host

    assert lazy_host.REG.get("light") == "the light one"
    assert lazy_host.REG.names() == ["heavy", "light"] and "heavy" in lazy_host.REG
    assert "lazy_heavy" not in sys.modules  # listing and other lookups never import it
    assert lazy_host.REG.get("heavy") == "the heavy one"
    assert "lazy_heavy" in sys.modules
