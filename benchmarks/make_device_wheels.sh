#!/usr/bin/env bash
# The wheels benchmarks/device_check.sh installs on a lent GPU machine, into .whl/.
#
#     benchmarks/make_device_wheels.sh        # CPython 3.12, manylinux x86_64
#     # the same for this machine's Python, for a smoke test of device_check.sh here:
#     PYTHON_VERSION=3.11 WHEELS=/tmp/whl-cp311 benchmarks/make_device_wheels.sh
#
# That machine has torch (a CUDA build), numpy, scipy, transformers, safetensors, click,
# pluggy, tqdm, filelock and pytest (urvc_core.testing imports it) already (the device
# notes' KINDS.md lists its packages), and no network. What the benchmark's path imports beyond those comes from here, without
# dependencies (--no-deps), one version each, at the releases this project is tested with:
#   soundfile (+ cffi, pycparser)  reads the test speech
#   soxr                            the engine's resampling
#   platformdirs, tomli-w           urvc's home and config.toml (tiny; imported on some paths)
#   torchfcpe                       only for the FCPE weights it ships (urvc never imports it)
#   urvc-f0-rmvpe                   built from plugins/, for its entry point: rmvpe is measured
# Left out, as nothing the benchmark runs imports them (each is imported lazily, by the
# backend or setting that needs it): praat-parselmouth (formant shift, 11 MB), pyworld-
# prebuilt (harvest, dio), pyloudnorm (loudness effect), noisereduce (clean), faiss-cpu
# (the benchmark's voice has no index; 30 MB), yt-dlp; and torch, which is there.
# urvc-core itself is not installed there: it runs from the working tree, and its
# built-in backends load by module name, not by entry point.
# The wheels travel with the working tree, whose limit is 64 MiB in all: the total is
# printed last.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PYTHON_VERSION=${PYTHON_VERSION:-3.12}
WHEELS=${WHEELS:-.whl}
implementation="cp${PYTHON_VERSION/./}"

rm -rf "$WHEELS"
mkdir -p "$WHEELS"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
    --python-version "$PYTHON_VERSION" --implementation cp --abi "$implementation" --abi abi3 \
    --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 --platform any \
    -d "$WHEELS" \
    soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 \
    soxr==1.1.0 platformdirs==4.14.9 tomli-w==1.2.0 \
    torchfcpe==0.0.4
"$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation -w "$WHEELS" plugins/urvc-f0-rmvpe

ls -l "$WHEELS"
du -cb "$WHEELS"/*.whl | tail -1 | awk '{printf "%.1f MiB of wheels in '"$WHEELS"'\n", $1 / 2^20}'
