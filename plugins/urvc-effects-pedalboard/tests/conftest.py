"""Fixtures for the plugin's tests: an isolated urvc home, a fresh plugin host, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from urvc_core import Audio, save_audio
from urvc_core.plugins import reset_plugin_host

URVC = str(Path(sys.executable).with_name("urvc"))


@pytest.fixture(autouse=True)
def urvc_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own urvc home and a plugin host loaded afresh."""
    home = tmp_path_factory.mktemp("urvc-home")
    monkeypatch.setenv("URVC_HOME", str(home))
    for variable in ("URVC_LOAD_PLUGINS", "URVC_TRACE_PLUGINS", "URVC_RAISE_ERRORS"):
        monkeypatch.delenv(variable, raising=False)
    reset_plugin_host()
    yield home
    reset_plugin_host()


@dataclass
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_urvc() -> Callable[..., CommandResult]:
    """Run the installed ``urvc`` script in a child process, as a user would."""

    def run(*arguments: str) -> CommandResult:
        completed = subprocess.run(
            [URVC, *arguments],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
        )
        return CommandResult(completed.returncode, completed.stdout, completed.stderr)

    return run


@pytest.fixture
def impulse_response(tmp_path: Path) -> Path:
    """A small room's impulse response: 0.3 s of decaying noise after a direct sound."""
    rate = 44100
    rng = np.random.default_rng(7)
    seconds = np.arange(round(0.3 * rate)) / rate
    response = 0.3 * rng.standard_normal(len(seconds)) * np.exp(-seconds / 0.05)
    response[0] = 1.0
    return save_audio(Audio(response.astype(np.float32), rate), tmp_path / "room.wav")
