#!/usr/bin/env bash
# Download the wheels scripts/gpu_check.sh needs on the offline GPU box (CPython 3.12,
# manylinux x86_64) into .whl/, and print their total size: what travels to the device
# machine is capped at 64 MiB, so anything near it fails here rather than there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
LIMIT_MIB=${GPU_WHEELS_LIMIT_MIB:-48}  # leaves room under 64 MiB for the working tree itself
mkdir -p .whl
"$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl -r scripts/gpu_requirements.txt
size_kib=$(du -sk .whl | cut -f1)
echo "gpu wheels: $(ls .whl | wc -l) files, $((size_kib / 1024)) MiB in .whl/ (limit ${LIMIT_MIB} MiB)"
if (( size_kib > LIMIT_MIB * 1024 )); then
    echo "error: the wheels exceed ${LIMIT_MIB} MiB" >&2
    exit 1
fi
