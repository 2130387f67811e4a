#!/usr/bin/env bash
# The one command for a lent GPU machine: install the carried wheels, then
# benchmarks/gpu.py with its profile, everything written to $OUT. Fits 8 minutes.
#
#     benchmarks/make_device_wheels.sh                  # here, once: fills .whl/
#     device run, carry [".whl"]:  bash benchmarks/device_check.sh
#     here, on the CPU (a smoke test of the same path):
#         DEVICE=cpu OUT=/tmp/out PYTHON=/tmp/gpuenv/bin/python \
#             bash benchmarks/device_check.sh --seconds 5 --runs 1
#
# Extra arguments go to gpu.py. urvc-core is not installed there: it runs from this
# working tree on PYTHONPATH (its built-in backends load by module name; only plugins
# need entry points, and the urvc-f0-rmvpe wheel brings the plugin's). The plugin's code
# comes from the working tree too, ahead of the wheel's copy. The full-size models are
# built there, under .benchmarks/ (about 640 MB: too large to carry).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-$PWD/.benchmarks/out}
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python3}
SITE=${SITE:-/tmp/site}
WHEELS=${WHEELS:-.whl}
# gpu.py's share of the 8 minutes; installing and nvidia-smi take well under one.
BENCHMARK_SECONDS=${BENCHMARK_SECONDS:-420}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

started=$SECONDS
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$WHEELS"/*.whl 2>&1 | tee "$OUT/install.log" || exit 1
export PYTHONPATH="$PWD:$PWD/plugins/urvc-f0-rmvpe:$SITE"
echo "wheels installed in $((SECONDS - started)) s"

if command -v nvidia-smi >/dev/null; then
    nvidia-smi 2>&1 | tee "$OUT/nvidia-smi.txt"
fi
# Fail here, in seconds, rather than minutes into the benchmark.
"$PYTHON" - >"$OUT/imports.txt" 2>&1 <<'EOF'
import importlib.metadata, sys
import torch, numpy, scipy, transformers, soxr, soundfile
import urvc_core
from urvc_core.registry import backend_registry
print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(),
      "numpy", numpy.__version__, "scipy", scipy.__version__,
      "transformers", transformers.__version__)
print("urvc_core from", urvc_core.__file__)
print("f0 backends:", ", ".join(backend_registry().names("f0")))
try:
    import urvc_f0_rmvpe
    print("urvc_f0_rmvpe from", urvc_f0_rmvpe.__file__)
except ImportError as exc:
    print("no rmvpe:", exc)
EOF
imports=$?
cat "$OUT/imports.txt"
[ "$imports" -eq 0 ] || exit 1

timeout --kill-after=15 "$BENCHMARK_SECONDS" "$PYTHON" benchmarks/gpu.py \
    --device "$DEVICE" --profile --trace "$OUT/trace.json.gz" --json "$OUT/gpu.json" "$@" \
    2>&1 | tee "$OUT/gpu.log"
status=${PIPESTATUS[0]}
echo "gpu.py exit status $status after $((SECONDS - started)) s in all (124: cut at ${BENCHMARK_SECONDS} s)"
ls -l "$OUT"
exit "$status"
