"""``urvc install`` keeps the torch urvc runs on.

urvc's packages ask for torch>=2.2 and no more, so a plugin's requirements could let pip
replace the installed torch: urvc-separator-mdx brings onnx2torch, which asks for any
torchvision, and for the newest torchvision pip takes the newest torch, a CUDA build of
several GB in place of this machine's CPU build.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement

from urvc_core.cli import cli
from urvc_core.cli import plugins as plugins_cli

TORCH = importlib.metadata.version("torch")


def test_urvc_install_asks_pip_for_the_installed_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(plugins_cli, "_pip", calls.append)
    result = CliRunner().invoke(cli, ["install", "-e", "plugins/urvc-separator-mdx", "-U"])
    assert result.exit_code == 0, result.output
    assert calls == [
        ["install", "--upgrade", "-e", "plugins/urvc-separator-mdx", f"torch=={TORCH}"]
    ]


@pytest.mark.slow
def test_with_the_installed_torch_pinned_pip_takes_the_torchvision_built_for_it(
    tmp_path: Path,
) -> None:
    # What pip does for onnx2torch's bare `torchvision` requirement beside the pin that
    # `urvc install` adds, asked without installing anything (--dry-run).
    report = tmp_path / "report.json"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run"]
    subprocess.run(
        [*pip, "--report", str(report), "torchvision", f"torch=={TORCH}"],
        check=True,
        capture_output=True,
    )
    chosen = {item["metadata"]["name"]: item for item in json.loads(report.read_text())["install"]}
    assert "torch" not in chosen  # the installed one is kept
    # The torchvision chosen is the one built for this torch release (0.28 for 2.13),
    # not the newest, which would have asked for the newest torch.
    requires = [Requirement(text) for text in chosen["torchvision"]["metadata"]["requires_dist"]]
    torch_requirement = next(requirement for requirement in requires if requirement.name == "torch")
    assert TORCH in torch_requirement.specifier, torch_requirement
