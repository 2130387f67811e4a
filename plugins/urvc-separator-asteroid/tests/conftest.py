"""Fixtures: the plugin's worker environment, built once per session from the registries
(asteroid, torch 2.11, torchaudio), and random-weight models in asteroid's own format,
built in that environment. Each test gets its own urvc home, sharing the one
environment, whose config.toml points the published models' assets at random ones."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from urvc_core.plugins import reset_plugin_host

ENVIRONMENT = "urvc-separator-asteroid"

#: file name -> (architecture, sources, rate): the published models' shapes.
RANDOM_MODELS: dict[str, tuple[str, int, int]] = {
    "convtasnet-2src-16k.pth": ("ConvTasNet", 2, 16000),
    "convtasnet-1src-8k.pth": ("ConvTasNet", 1, 8000),
    "dprnn-2src-8k.pth": ("DPRNNTasNet", 2, 8000),
}
#: The published model each random one stands in for.
STANDS_IN_FOR: dict[str, str] = {
    "asteroid-convtasnet-damp-vsep": "convtasnet-2src-16k.pth",
    "asteroid-convtasnet-libri1mix-enhsingle": "convtasnet-1src-8k.pth",
    "asteroid-dprnn-wham-sepclean": "dprnn-2src-8k.pth",
}


@dataclass(frozen=True)
class AsteroidSetup:
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
def asteroid_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteroidSetup]:
    from urvc_core.worker_environments import (
        build_worker_environment,
        declared_worker_environments,
    )

    home = tmp_path_factory.mktemp("asteroid-home")
    with pytest.MonkeyPatch.context() as patch:
        _use_home(home, patch)
        (environment,) = declared_worker_environments([ENVIRONMENT])
        build_worker_environment(environment)
        python = environment.python  # its path under this home, not the next one's
        models = {}
        for name, (architecture, sources, rate) in RANDOM_MODELS.items():
            models[name] = home / "random-models" / name
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "urvc_separator_asteroid.random_models",
                    str(models[name]),
                    "--architecture",
                    architecture,
                    "--sources",
                    str(sources),
                    "--sample-rate",
                    str(rate),
                ],
                check=True,
            )
    yield AsteroidSetup(home, python, models)
    reset_plugin_host()


@pytest.fixture
def asteroid_home(
    asteroid_setup: AsteroidSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A urvc home of the test's own, sharing the session's worker environment, whose
    [asset_paths] point the published models at copies of the random ones (in
    tmp_path/models, for a test to spoil)."""
    home = tmp_path / "home"
    (home / "envs").mkdir(parents=True)
    (home / "envs" / ENVIRONMENT).symlink_to(asteroid_setup.home / "envs" / ENVIRONMENT)
    (tmp_path / "models").mkdir()
    lines = ["[asset_paths]"]
    for asset, name in STANDS_IN_FOR.items():
        copy = shutil.copy(asteroid_setup.models[name], tmp_path / "models" / name)
        lines.append(f'{asset} = "{copy}"')
    (home / "config.toml").write_text("\n".join(lines) + "\n")
    _use_home(home, monkeypatch)
    return home
