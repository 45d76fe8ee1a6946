"""Price catalogs: instance types with their hourly price, size and where the price came from.

A catalog is YAML that users edit (`--catalog FILE`, or `cost.catalog` in a scenario); the
shipped one lies beside this module. Errors name the file, line and field, like scenarios'.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from harness.fields import Strict
from harness.located import ConfigError, describe, read_located
from slogate_common.registry import did_you_mean

SHIPPED_CATALOG = Path(__file__).with_name("instances.yaml")


class CatalogError(ConfigError):
    """A price catalog a user must fix, or an instance it does not list."""


class UnknownInstance(CatalogError):
    """An instance name the catalog does not list."""


class Instance(Strict):
    provider: str
    price_per_hour: float = Field(gt=0, description="USD, on demand")
    vcpus: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    gpus: int = Field(default=0, ge=0)
    gpu_model: str | None = None
    region: str = ""
    source: str = Field(min_length=1, description="where the price was read")
    as_of: str = Field(min_length=1, description="when it was read")


class Catalog(Strict):
    currency: str = "USD"
    instances: dict[str, Instance] = Field(min_length=1)

    def instance(self, name: str, path: Path) -> Instance:
        if name not in self.instances:
            known = sorted(self.instances)
            raise UnknownInstance(f"{path}: no instance {name!r}{did_you_mean(name, known)}; known: {', '.join(known)}")
        return self.instances[name]


def load_catalog(path: Path | None = None) -> Catalog:
    path = Path(path or SHIPPED_CATALOG)
    data, root = read_located(path, CatalogError)
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(describe(exc, path, root, lambda: sorted(Catalog.model_fields) + sorted(Instance.model_fields))) from None
