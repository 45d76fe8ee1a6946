"""YAML config files read into pydantic models, with errors that name the file, line and field.

pydantic reports a location path (`workload.phases[0].arrival.rate`); YAML's composed node
tree knows where each path sits in the file, so we join the two. Scenarios and price
catalogs are read through here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from slogate_common.registry import did_you_mean


class ConfigError(Exception):
    """A config file problem a user must fix; str() is the full, located message."""


def read_located(path: Path, error: type[ConfigError] = ConfigError) -> tuple[Any, yaml.Node | None]:
    """The file's data and its node tree (for line numbers)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)  # composes, then constructs: an unknown `!tag` fails only here
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{path}:{line}: invalid YAML: {problem}") from None
    return data, root


def describe(exc: ValidationError, path: Path, root: yaml.Node | None,
             known_keys: Callable[[], list[str]] = list) -> str:
    """One `file:line: field: message` line per validation error."""
    lines = []
    for error in exc.errors():
        loc = _user_location(error)
        where = dotted(loc) or "(top level)"
        lines.append(f"{path}:{line_of(root, loc)}: {where}: {_message(error, loc, known_keys)}")
    return "\n".join(lines)


def _user_location(error: dict) -> list:
    """The error's path in the user's terms. An unknown or missing key ends the path as the user
    wrote it, even when it looks like one of pydantic's tags (`n[ame`)."""
    loc = list(error["loc"])
    named_key = loc[-1:] if error["type"] in ("extra_forbidden", "missing") else []
    return [part for part in loc[:len(loc) - len(named_key)] if not _is_union_tag(part)] + named_key


def _is_union_tag(part: Any) -> bool:
    # pydantic puts validator tags such as 'function-after[...]' into locations
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _message(error: dict, loc: list, known_keys: Callable[[], list[str]]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key" + did_you_mean(str(loc[-1]), known_keys())
    if kind == "missing":
        return "required"
    return error["msg"].removeprefix("Value error, ")


def dotted(loc: list) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(root: yaml.Node | None, loc: list) -> int:
    """The 1-based line of the deepest node on `loc` that exists in the file."""
    node, line = root, 1
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        node = _child(node, part)
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None
