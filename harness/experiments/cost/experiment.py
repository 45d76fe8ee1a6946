"""The `cost:` experiment: which instance type serves the run, and how many of them.

It sends nothing and changes nothing; it hands the instance's catalog entry to the `cost`
summary section (harness/analysis/cost.py), which prices the run at its achieved rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from harness.experiments.base import BaseExperiment, Contribution, Problem, experiments
from harness.experiments.cost.catalog import SHIPPED_CATALOG, CatalogError, Instance, UnknownInstance, load_catalog
from harness.fields import ScenarioPath, Strict

if TYPE_CHECKING:
    from harness.scenario.model import Scenario


class CostSettings(Strict):
    instance: str = Field(min_length=1, description="a catalog entry's name, e.g. aws-c7i.xlarge")
    replicas: int = Field(default=1, gt=0, description="instances serving the target")
    catalog: ScenarioPath | None = None  # default: the shipped catalog


def priced_instance(settings: CostSettings) -> tuple[str, Instance, Path]:
    """The settings' instance from its catalog; CatalogError when either is wrong."""
    path = settings.catalog or SHIPPED_CATALOG
    return settings.instance, load_catalog(path).instance(settings.instance, path), path


def cost_facts(name: str, instance: Instance, replicas: int, catalog: Path) -> dict:
    """What the `cost` summary section prices a run with (JSON-ready)."""
    return {"instance": name, **instance.model_dump(), "replicas": replicas, "catalog": str(catalog)}


@experiments.register("cost", args=CostSettings)
class CostModel(BaseExperiment):
    def __init__(self, args: CostSettings, scenario: Scenario) -> None:
        super().__init__(args, scenario)
        name, instance, path = priced_instance(args)
        self.facts = cost_facts(name, instance, args.replicas, path)

    @classmethod
    def problems(cls, args: CostSettings, scenario: Scenario) -> list[Problem]:
        try:
            priced_instance(args)
        except UnknownInstance as exc:
            return [Problem(("cost", "instance"), str(exc))]
        except CatalogError as exc:
            return [Problem(("cost", "catalog"), str(exc))]
        return []

    def contribution(self) -> Contribution:
        return Contribution(facts={"cost": self.facts})
