"""The on-disk model repository: `<repo>/<model>/<version>/model.json` + artifact (docs/ARCHITECTURE.md, "Server repository layout").

Reads and validates model.json and verifies the artifact's sha256; knows nothing about serving.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SPEC_FILE = "model.json"


class TensorSpec(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    datatype: str = "FP32"
    shape: list[int]
    feature_names: list[str] | None = None


class BatchingSpec(BaseModel):
    max_batch_size: int = Field(32, ge=1)
    max_queue_delay_ms: float = Field(2.0, ge=0)
    max_queue_size: int = Field(512, ge=1)  # pending requests; beyond it the server answers 429
    inline_max_ms: float = Field(0.5, ge=0)  # batches cheaper than this run on the loop (see batching.py)


class FeatureStats(BaseModel):
    kind: Literal["continuous", "binary"]
    mean: float
    std: float | None = None
    quantiles: list[float] | None = None  # evenly spaced edges, 0% to 100% (continuous only; the demo's: 101)
    integer: bool = False  # a count: its values are whole numbers


class Baseline(BaseModel):
    features: dict[str, FeatureStats] = {}
    prediction: FeatureStats | None = None  # of the first output's first column, like a continuous feature


class DriftSpec(BaseModel):
    """The drift monitor's window (drift.py): memory and scoring cost grow with it, so it is capped."""

    window: int = Field(2000, ge=1, le=100_000)  # the last rows kept per version
    # No scores below this many rows: undrifted rows drawn from the fraud baseline passed the 0.1
    # threshold for 19% of features at 200 rows, 3% at 500, none at 1000 (Evidently too judges
    # by these distances only above 1000 rows). It is also the size of a first-served reference.
    min_rows: int = Field(1000, ge=1)

    @model_validator(mode="after")
    def _min_rows_fit_the_window(self) -> DriftSpec:
        if self.min_rows > self.window:
            raise ValueError(f"drift.min_rows ({self.min_rows}) exceeds drift.window ({self.window})")
        return self


class ScalingSpec(BaseModel):
    """Scale to zero. An on-demand version is not loaded at start-up; a version with an idle time
    is unloaded after that long without a request. Either stays routable: the next request that
    the traffic split sends it loads it again and waits for the load, up to `load_timeout_s`."""

    on_demand: bool = False
    idle_unload_s: float | None = Field(None, gt=0)
    load_timeout_s: float = Field(60.0, gt=0)  # beyond it the waiting request gets a 503 with Retry-After


class FeatureSpec(BaseModel):
    """An online feature lookup (features.py): each request row names an entity in its `key_input`
    column, and the model's `fields` columns come from the store's hash `<key_prefix><entity>`."""

    model_config = ConfigDict(extra="forbid")
    store: Literal["redis"] = "redis"  # where: the server's --feature-store URL
    key_input: str  # a request column that is no model column: the entity id, a whole number
    key_prefix: str = ""
    fields: list[str] = Field(min_length=1)  # model columns read from the store, not from the request
    timeout_ms: float | None = Field(20.0, gt=0)  # None: wait for the store however long it takes
    fallback: Literal["cached", "default", "none"] = "default"  # none: a lookup that fails answers 503


class ModelSpec(BaseModel):
    """model.json. Extra keys are kept so that backends can carry their own sections."""

    model_config = ConfigDict(extra="allow")
    backend: str
    artifact: str | None = None
    sha256: str | None = None
    architecture: dict[str, Any] | None = None
    inputs: list[TensorSpec] = []
    outputs: list[TensorSpec] = []
    batching: BatchingSpec = BatchingSpec()
    baseline: Baseline | None = None
    drift: DriftSpec = DriftSpec()
    scaling: ScalingSpec = ScalingSpec()
    features: FeatureSpec | None = None

    @model_validator(mode="after")
    def _features_name_model_columns(self) -> ModelSpec:
        if self.features is None:
            return self
        names = self.inputs[0].feature_names if self.inputs else None
        missing = [name for name in self.features.fields if name not in (names or ())]
        if missing:
            raise ValueError(f"features.fields names no input column: {', '.join(missing)}")
        if self.features.key_input in names:
            raise ValueError(f"features.key_input {self.features.key_input!r} is a model column; name the entity id")
        return self

    def section(self, key: str) -> dict[str, Any]:
        """A backend-specific section (e.g. "sim"), or {} when absent."""
        value = (self.model_extra or {}).get(key)
        return value if isinstance(value, dict) else {}


class RepositoryError(Exception):
    """A version on disk that cannot be served; the message is safe to log and return, and the
    reason (a short word) labels the refusal in /metrics."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_spec(version_dir: Path) -> ModelSpec:
    path = version_dir / SPEC_FILE
    try:
        return ModelSpec.model_validate(json.loads(path.read_text()))
    except FileNotFoundError as e:
        raise RepositoryError(f"{path}: missing", "not_found") from e
    except (json.JSONDecodeError, ValidationError) as e:
        raise RepositoryError(f"{path}: invalid model.json: {e}", "invalid_spec") from e


def verify_artifact(version_dir: Path, spec: ModelSpec, check_sha256: bool = True) -> Path | None:
    """The artifact path, after checking its sha256 against model.json (unless the operator
    turned that off); None for artifact-less backends."""
    if spec.artifact is None:
        return None
    path = version_dir / spec.artifact
    if not path.is_file():
        raise RepositoryError(f"{path}: artifact missing", "artifact_missing")
    if not check_sha256:
        return path
    if spec.sha256 is None:
        raise RepositoryError(f"{version_dir / SPEC_FILE}: no sha256 for artifact {spec.artifact}", "no_sha256")
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise RepositoryError(f"{path}: sha256 mismatch (model.json {spec.sha256[:12]}…, file {actual[:12]}…)",
                              "sha256_mismatch")
    return path


def version_sort_key(version: str) -> tuple[int, int | str]:
    """Numeric versions sort numerically and after nothing else; others sort by name."""
    return (0, int(version)) if version.isdigit() else (1, version)


def discover(repo: Path) -> dict[str, list[str]]:
    """model name → its version directory names (those holding a model.json), sorted."""
    found: dict[str, list[str]] = {}
    for model_dir in sorted(p for p in repo.iterdir() if p.is_dir() and not p.name.startswith(".")):
        versions = [v.name for v in model_dir.iterdir() if (v / SPEC_FILE).is_file()]
        if versions:
            found[model_dir.name] = sorted(versions, key=version_sort_key)
    return found
