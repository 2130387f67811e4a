"""Fixtures: the plugin's worker environment, built once per session from the registries
(spleeter, TensorFlow, numpy<2), and random-weight models in spleeter's own checkpoint
layout, built in that environment. Each test gets its own urvc home whose config.toml
points the model assets at them, and shares the one environment."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from urvc_core.plugins import reset_plugin_host

ENVIRONMENT = "urvc-separator-spleeter"


@dataclass(frozen=True)
class SpleeterSetup:
    """The session's urvc home (with the worker environment) and model folders."""

    home: Path
    models: dict[int, Path]


def _use_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URVC_HOME", str(home))
    for variable in ("URVC_LOAD_PLUGINS", "URVC_OFFLINE", "URVC_RAISE_ERRORS"):
        monkeypatch.delenv(variable, raising=False)
    reset_plugin_host()


@pytest.fixture(scope="session")
def spleeter_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpleeterSetup]:
    from urvc_core.worker_environments import (
        build_worker_environment,
        declared_worker_environments,
    )

    home = tmp_path_factory.mktemp("spleeter-home")
    with pytest.MonkeyPatch.context() as patch:
        _use_home(home, patch)
        (environment,) = declared_worker_environments([ENVIRONMENT])
        build_worker_environment(environment)
        models = {}
        for stems in (2, 4):
            folder = home / "random-models" / f"{stems}stems"
            subprocess.run(
                [
                    str(environment.python),
                    "-m",
                    "urvc_separator_spleeter.random_models",
                    str(folder),
                    "--stems",
                    str(stems),
                ],
                check=True,
            )
            models[stems] = folder
    yield SpleeterSetup(home, models)
    reset_plugin_host()


@pytest.fixture
def spleeter_home(
    spleeter_setup: SpleeterSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A urvc home of the test's own, sharing the session's worker environment, whose
    [asset_paths] point spleeter's models at the random ones."""
    home = tmp_path / "home"
    (home / "envs").mkdir(parents=True)
    (home / "envs" / ENVIRONMENT).symlink_to(spleeter_setup.home / "envs" / ENVIRONMENT)
    models = {}
    for stems, folder in spleeter_setup.models.items():
        models[stems] = tmp_path / "models" / f"{stems}stems"
        shutil.copytree(folder, models[stems])
    lines = ["[asset_paths]"] + [f'spleeter-{n}stems = "{path}"' for n, path in models.items()]
    (home / "config.toml").write_text("\n".join(lines) + "\n")
    _use_home(home, monkeypatch)
    return home
