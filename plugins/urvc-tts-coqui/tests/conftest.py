"""Fixtures: the plugin's worker environment, built once per session from the registries
(coqui-tts, torch 2.11, torchaudio), and random-weight VITS models in Coqui's own
format, built in that environment. Each test gets its own urvc home, sharing the one
environment, whose config.toml points a published model's asset at a random one."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from urvc_core.plugins import reset_plugin_host

ENVIRONMENT = "urvc-tts-coqui"
#: folder name -> speakers: a model of one voice, and one of three (p225, p226, p227).
RANDOM_MODELS: dict[str, int] = {"vits-one-voice": 1, "vits-three-voices": 3}
#: The published model the three-voice one stands in for (the engine's default).
STANDS_IN_FOR = ("coqui-en-vctk-vits", "vits-three-voices")


@dataclass(frozen=True)
class CoquiSetup:
    """The session's urvc home (with the worker environment) and its random models."""

    home: Path
    python: Path
    models: dict[str, Path]


def _use_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URVC_HOME", str(home))
    for variable in ("URVC_LOAD_PLUGINS", "URVC_OFFLINE", "URVC_RAISE_ERRORS"):
        monkeypatch.delenv(variable, raising=False)
    reset_plugin_host()


@pytest.fixture(scope="session")
def coqui_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoquiSetup]:
    from urvc_core.worker_environments import (
        build_worker_environment,
        declared_worker_environments,
    )

    home = tmp_path_factory.mktemp("coqui-home")
    with pytest.MonkeyPatch.context() as patch:
        _use_home(home, patch)
        (environment,) = declared_worker_environments([ENVIRONMENT])
        build_worker_environment(environment)
        python = environment.python
        models = {}
        for name, speakers in RANDOM_MODELS.items():
            models[name] = home / "random-models" / name
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "urvc_tts_coqui.random_models",
                    str(models[name]),
                    "--speakers",
                    str(speakers),
                ],
                check=True,
            )
    yield CoquiSetup(home, python, models)
    reset_plugin_host()


@pytest.fixture
def coqui_home(coqui_setup: CoquiSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A urvc home of the test's own, sharing the session's worker environment, whose
    [asset_paths] point the default published model at a copy of a random one (in
    tmp_path/models, for a test to spoil)."""
    home = tmp_path / "home"
    (home / "envs").mkdir(parents=True)
    (home / "envs" / ENVIRONMENT).symlink_to(coqui_setup.home / "envs" / ENVIRONMENT)
    asset, name = STANDS_IN_FOR
    copy = shutil.copytree(coqui_setup.models[name], tmp_path / "models" / name)
    (home / "config.toml").write_text(f'[asset_paths]\n{asset} = "{copy}"\n')
    _use_home(home, monkeypatch)
    return home
