"""Vendor the JSON Schema of KServe's InferenceService from its CRD, for offline validation.

    python scripts/kserve_crd_schema.py serving.kserve.io_inferenceservices.yaml \\
        deploy/schemas/kserve-inferenceservice-v1beta1.schema.json.gz

reads the CRD (KServe's config/crd/full/serving.kserve.io_inferenceservices.yaml), takes the
v1beta1 `openAPIV3Schema`, and writes it gzipped (636 kB of JSON, 22 kB packed). The API server
prunes unknown fields of a structural schema without a word, so a misspelt field would pass
silently; like kubernetes-validate's --strict, every object that lists its properties and does not
keep unknown fields (x-kubernetes-preserve-unknown-fields) is closed here (additionalProperties:
false), and apiVersion and kind are pinned.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import yaml

GROUP_VERSION, KIND, VERSION = "serving.kserve.io/v1beta1", "InferenceService", "v1beta1"


def closed(schema: Any) -> Any:
    """`schema` with every listed-properties object closed to unknown fields, recursively."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def inference_service_schema(crd: dict[str, Any]) -> dict[str, Any]:
    version = next(v for v in crd["spec"]["versions"] if v["name"] == VERSION)
    schema = closed(version["schema"]["openAPIV3Schema"])
    schema["properties"]["apiVersion"] = {"const": GROUP_VERSION}
    schema["properties"]["kind"] = {"const": KIND}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"{KIND} {GROUP_VERSION}", **schema}


def main(argv: list[str]) -> int:
    crd_path, out_path = map(Path, argv)
    schema = inference_service_schema(yaml.safe_load(crd_path.read_text()))
    out_path.write_bytes(gzip.compress(json.dumps(schema, separators=(",", ":"), sort_keys=True).encode(), mtime=0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
