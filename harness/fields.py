"""The field types of typed plugin arguments, and validation of a section through a registry.

Every section of a scenario that a plugin reads (a payload generator's settings, an arrival
process, a fault action, a protocol's options, an experiment's block) is a pydantic model
owned by that plugin. The scenario model names only the registry, and the registry entry
that the section's key picks validates the rest, so that an error keeps its location
(`workload.payload.stream`) and the loader can point at the file's line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from harness.units import parse_duration, parse_ratio
from slogate_common.registry import Registry, UnknownEntry

BASE_DIR = "base_dir"  # validation context key: the scenario file's folder


class Strict(BaseModel):
    """Unknown keys are errors; values are frozen once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _relative_to_scenario(path: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get(BASE_DIR)
    if path.is_absolute() or base is None:
        return path
    return (Path(base) / path).resolve()


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
Ratio = Annotated[float, BeforeValidator(parse_ratio), Field(ge=0, le=1)]
# Relative paths in a scenario are relative to the scenario file, as users expect.
ScenarioPath = Annotated[Path, AfterValidator(_relative_to_scenario)]


def through(registry: Registry[Any], key: str, default: str | None = None) -> WrapValidator:
    """Validate a mapping with the arguments model of the registry entry its `key` names."""

    def validate(value: Any, handler: Any, info: ValidationInfo) -> Any:
        if isinstance(value, BaseModel):
            return value  # a default, or a section validated already
        if not isinstance(value, dict):
            raise PydanticCustomError("mapping_expected", f"expected a mapping with `{key}:`")
        name = value.get(key, default)
        if name is None:
            raise _located("missing", f"required: one of {', '.join(registry.names())}", key, value)
        try:
            entry = registry.entry(name)
        except UnknownEntry as exc:
            raise _located("unknown_entry", str(exc), key, name) from None
        return TypeAdapter(entry.args).validate_python(value, context=info.context)

    return WrapValidator(validate)


def _located(kind: str, message: str, key: str, given: Any) -> ValidationError:
    # The error belongs to the key that names the entry, so the loader points at its line.
    error = PydanticCustomError(kind, message.replace("{", "{{").replace("}", "}}"))
    return ValidationError.from_exception_data("scenario", [{"type": error, "loc": (key,), "input": given}])
