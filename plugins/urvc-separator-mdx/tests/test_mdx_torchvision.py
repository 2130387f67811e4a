"""A torchvision that fails on import is hidden from transformers and onnx2torch.

The torchvision here is a stand-in package that fails on import the way PyPI's CUDA
build does beside a CPU torch (after importing a submodule, with torch's RuntimeError),
so these tests run the same on every machine. Each runs in a child process, where
nothing has imported transformers or torchvision yet, as when urvc starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAILURE = "operator torchvision::nms does not exist"


@pytest.fixture
def broken_torchvision(tmp_path: Path) -> dict[str, str]:
    """The environment of a child process that finds a torchvision which fails on import."""
    package = tmp_path / "site" / "torchvision"
    package.mkdir(parents=True)
    (package / "extension.py").write_text("LOADED = False\n")
    (package / "__init__.py").write_text(
        f"from torchvision import extension\nraise RuntimeError({FAILURE!r})\n"
    )
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(package.parent), os.environ.get("PYTHONPATH")])
        ),
    }


def run_child(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.slow
def test_the_stand_in_fails_like_the_real_one_without_the_plugin(
    broken_torchvision: dict[str, str],
) -> None:
    # The premise: transformers imports whatever torchvision it finds.
    child = run_child("from transformers import HubertModel", broken_torchvision)
    assert child.returncode == 1
    assert "Could not import module 'HubertModel'" in child.stderr


def test_loading_the_plugin_keeps_transformers_working(
    broken_torchvision: dict[str, str],
) -> None:
    script = """
import json, sys
import urvc_separator_mdx  # what urvc's plugin loading does, before any model
loaded_early = "torch" in sys.modules
from transformers import HubertConfig, HubertModel
model = HubertModel(HubertConfig(
    hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
    conv_dim=(8, 8), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=4,
))
try:
    import torchvision
    error = None
except ImportError as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({
    "torch_imported_by_loading_the_plugin": loaded_early,
    "hidden": "torchvision" in sys.modules and sys.modules["torchvision"] is None,
    "leftovers": sorted(m for m in sys.modules if m.startswith("torchvision.")),
    "import_error": error,
    "parameters": sum(p.numel() for p in model.parameters()),
}))
"""
    child = run_child(script, broken_torchvision)
    assert child.returncode == 0, child.stderr[-3000:]
    outcome = json.loads(child.stdout.splitlines()[-1])
    assert outcome["torch_imported_by_loading_the_plugin"] is False
    assert outcome["hidden"] is True
    assert outcome["leftovers"] == []
    assert outcome["import_error"].startswith("ModuleNotFoundError")
    assert outcome["parameters"] > 0


def test_onnx2torch_imports_against_the_stand_in_and_says_why(
    broken_torchvision: dict[str, str],
) -> None:
    script = """
import json, sys
from urvc_separator_mdx.onnx2torch_import import import_onnx2torch
from urvc_core.errors import UrvcError
import_onnx2torch()
from onnx2torch.node_converters import nms
try:
    nms.torchvision.ops.nms(None, None, 0.5)
    message = None
except UrvcError as exc:
    message = str(exc)
print(json.dumps({
    "still_hidden": sys.modules.get("torchvision", "absent") is None,
    "ops_left": "torchvision.ops" in sys.modules,
    "message": message,
}))
"""
    child = run_child(script, broken_torchvision)
    assert child.returncode == 0, child.stderr[-3000:]
    outcome = json.loads(child.stdout.splitlines()[-1])
    assert outcome["still_hidden"] is True
    assert outcome["ops_left"] is False
    assert outcome["message"] == (
        f"This ONNX model uses the NonMaxSuppression operator, which needs torchvision, and "
        f"torchvision can't be imported here (RuntimeError: {FAILURE}); install the "
        f"torchvision build that matches your torch, or run the model at its own segment size."
    )
