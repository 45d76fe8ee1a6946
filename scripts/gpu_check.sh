#!/usr/bin/env bash
# The GPU readiness check: one call on a lent GPU machine proves the CUDA paths.
#
#   bash scripts/gpu_wheels.sh                     # here, online: the wheels the GPU image lacks
#   OUT=/tmp/out bash scripts/gpu_check.sh         # there, offline, in under 8 minutes
#   OUT=/tmp/out bash scripts/gpu_check.sh --dry-run   # here, on CPU: every step up to the first CUDA call
#
# Steps, each logged to $OUT/<step>.log and timed in $OUT/steps.txt; a failed step does not
# stop the others, and the exit status is 1 if any failed:
#   environment  nvidia-smi -q, and what torch sees
#   packages     the carried wheels the image lacks, installed into .gpu-site (--no-index, --no-deps);
#                the project itself runs from the tree (PYTHONPATH): an offline image may lack a
#                build backend, and nothing here needs an installed entry point
#   gpu-tests    pytest -m gpu (tensor devices, CUDA batching against CPU, device in metadata/metrics)
#   fraud-ladder scenarios/gpu_fraud.yaml at doubling Poisson rates on cuda, then on cpu, each
#                device until a rate fails
#   tiny-llm     the tiny LLM through torch-lm on cuda (vLLM's CUDA wheel is too big to carry)
#   summary      $OUT/gpu_results.md and .json (scripts/gpu_summary.py)
# GPU utilisation, memory and power are sampled by nvidia-smi every 500 ms into $OUT/nvml.csv.
#
# The dry run checks that every carried wheel resolves for CPython 3.12 manylinux x86_64,
# runs the gpu tests (they skip without CUDA, but must collect), one short ladder step on
# cpu, and validates the LLM scenario.
set -uo pipefail
cd "$(dirname "$0")/.."
DRY=0
[[ "${1:-}" == "--dry-run" ]] && DRY=1
OUT=${OUT:-$PWD/gpu-check-out}
PYTHON=${PYTHON:-python3}
RATES=${GPU_RATES:-"1000 2000 4000 8000"}
mkdir -p "$OUT/reports"
export PYTHONPATH="$PWD/.gpu-site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
: > "$OUT/steps.txt"
failed=0

step() {
    local name=$1 started=$SECONDS
    shift
    echo "== $name"
    "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    echo "$name rc=$rc $((SECONDS - started))s" | tee -a "$OUT/steps.txt"
    (( rc == 0 )) || failed=1
}

environment() {
    if (( DRY )); then echo "dry run: no GPU is used" > "$OUT/nvidia-smi.txt"; else nvidia-smi -q > "$OUT/nvidia-smi.txt"; fi
    "$PYTHON" -c 'import json, platform, torch
print(json.dumps({"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.cuda.is_available(),
                  "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}))' \
        | tee "$OUT/environment.json"
}

missing_requirements() {  # the pinned requirements whose distribution the image does not have
    "$PYTHON" - <<'PY'
import importlib.metadata as metadata, re
for line in open("scripts/gpu_requirements.txt"):
    requirement = line.split("#")[0].strip()
    if requirement:
        try:
            metadata.distribution(re.split("[=<>!~ ]", requirement)[0])
        except metadata.PackageNotFoundError:
            print(requirement)
PY
}

packages() {
    if (( DRY )); then  # every wheel present and installable on the GPU image's Python
        "$PYTHON" -m pip install --dry-run --disable-pip-version-check --no-index --no-deps --find-links .whl \
            --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            --target "$(mktemp -d)" -r scripts/gpu_requirements.txt || return 1
    fi
    local missing
    missing=$(missing_requirements)
    echo "carried and installed: ${missing:-nothing, the image has every package}" | tee "$OUT/packages.txt"
    [[ -z "$missing" ]] && return 0
    # shellcheck disable=SC2086 # one requirement per word
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-index --no-deps --find-links .whl \
        --target .gpu-site $missing
}

gpu_tests() {
    "$PYTHON" -m pytest -m gpu tests/server/test_gpu.py tests/llm/test_gpu_llm.py -p no:cacheprovider -rs \
        --junitxml="$OUT/junit-gpu.xml"
}

ladder_step() {  # device rate duration: one run of the gpu scenario; its exit code says pass (0)
    "$PYTHON" -m harness run scenarios/gpu_fraud.yaml --out "$OUT/reports/fraud-$1-$2" \
        --set "target.server_args=[--device, $1]" --set "workload.phases.0.arrival.rate=$2" \
        --set "workload.phases.0.duration=$3"
}

fraud_ladder() {
    if (( DRY )); then  # a verdict of any kind (0, 1 or 3) proves the plumbing; 2 is a broken step
        ladder_step cpu 200 8s
        (( $? != 2 )); return
    fi
    local device rate
    for device in cuda cpu; do
        for rate in $RATES; do
            ladder_step "$device" "$rate" 20s || break
        done
    done
    return 0  # a rate that fails ends that device's ladder; it is a measurement, not an error
}

tiny_llm() {
    if (( DRY )); then "$PYTHON" -m harness validate scenarios/llm_smoke.yaml; return; fi
    local rate
    for rate in 5 40; do
        "$PYTHON" -m harness run scenarios/llm_smoke.yaml --out "$OUT/reports/llm-cuda-$rate" \
            --set "target.server_args=[--device, cuda]" --set "workload.phases.0.arrival.rate=$rate"
    done
    return 0
}

if (( ! DRY )); then
    nvidia-smi --query-gpu=timestamp,index,utilization.gpu,memory.used,power.draw --format=csv,nounits -lms 500 \
        > "$OUT/nvml.csv" 2>&1 &
    sampler=$!
    trap 'kill $sampler 2>/dev/null' EXIT
fi
step environment environment
step packages packages
step gpu-tests gpu_tests
step fraud-ladder fraud_ladder
step tiny-llm tiny_llm
step summary "$PYTHON" scripts/gpu_summary.py "$OUT"
cat "$OUT/steps.txt"
exit $failed
