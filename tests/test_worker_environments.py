"""Worker environments (urvc_core.worker_environments): built from the registries, a
backend runs in one with a numpy major version other than urvc's own, and doctor,
install and uninstall see it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from urvc_core import worker_environments
from urvc_core.backends import Audio
from urvc_core.testing import speech
from urvc_core.testing.worker_backends import EchoSeparatorInWorker
from urvc_core.worker_environments import (
    MARKER,
    WorkerEnvironment,
    build_worker_environment,
    remove_worker_environment,
    worker_environment_facts,
)

pytestmark = pytest.mark.slow

# The other numpy: 1.x where urvc runs on 2.x (the case spleeter is: it can't share
# audio-separator's numpy 2), and 2.x where it runs on 1.26 (`make test-numpy1`). The
# test backend lives in urvc_core.testing, which imports pytest.
OTHER_NUMPY = "numpy<2" if np.__version__.startswith("2.") else "numpy>=2,<3"
OTHER_NUMPY_ENV = WorkerEnvironment(
    name="urvc-test-other-numpy",
    requirements=(OTHER_NUMPY, "pytest"),
    sources=(worker_environments._required_source("urvc-core"),),
    report_packages=("pluggy",),
    backends=("separator echo",),
)


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One urvc home with the other numpy's environment built, for the whole module."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("URVC_HOME", str(home))
        said: list[str] = []
        assert build_worker_environment(OTHER_NUMPY_ENV, said.append)
    return home, said


@pytest.fixture
def built_home(built_once: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("URVC_HOME", str(built_once[0]))
    return built_once


class EchoInOtherNumpy(EchoSeparatorInWorker):
    worker_python = None
    worker_environment = "urvc-test-other-numpy"


def test_a_backend_runs_in_its_environment_with_another_numpy(built_home: Any) -> None:
    home, said = built_home
    assert [line.split(":")[0] for line in said] == [
        "urvc-test-other-numpy [1/3]",
        "urvc-test-other-numpy [2/3]",
        "urvc-test-other-numpy [3/3]",
        "urvc-test-other-numpy",
    ]
    backend = EchoInOtherNumpy(gain=0.25)
    versions = backend.versions()
    assert Path(versions["prefix"]) == home / "envs" / "urvc-test-other-numpy"
    assert versions["numpy"].split(".")[0] != np.__version__.split(".")[0]
    song = Audio(np.tile(speech(44100).samples, (2, 12)), 44100)  # a file on the way
    stems = backend.separate(song)
    assert np.array_equal(stems["Same"].samples, song.samples * np.float32(0.25))
    backend.close()


def test_building_again_finds_it_up_to_date(built_home: Any) -> None:
    said: list[str] = []
    assert not build_worker_environment(OTHER_NUMPY_ENV, said.append)
    assert said == [
        f"urvc-test-other-numpy: the worker environment is up to date ({OTHER_NUMPY_ENV.folder})."
    ]
    recipe = json.loads((OTHER_NUMPY_ENV.folder / MARKER).read_text())
    assert recipe["requirements"] == sorted(["numpy", OTHER_NUMPY, "pluggy", "pytest"])


def test_doctor_facts_show_python_numpy_and_the_reported_packages(built_home: Any) -> None:
    facts = worker_environment_facts(OTHER_NUMPY_ENV)
    assert facts["built"] and "problem" not in facts
    assert facts["numpy"].split(".")[0] != np.__version__.split(".")[0] and facts["pluggy"]
    assert facts["python"].count(".") == 2


def test_a_missing_or_unfinished_environment_says_how_to_repair_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_HOME", str(tmp_path))
    facts = worker_environment_facts(OTHER_NUMPY_ENV)
    assert facts["problem"] == (
        "The worker environment urvc-test-other-numpy (separator echo) is missing: "
        "run `urvc install urvc-test-other-numpy`."
    )
    OTHER_NUMPY_ENV.folder.mkdir(parents=True)  # a build that was cut off: no marker
    assert "is outdated or unfinished" in worker_environment_facts(OTHER_NUMPY_ENV)["problem"]
    assert remove_worker_environment("urvc-test-other-numpy")
    assert not OTHER_NUMPY_ENV.folder.exists()
    assert not remove_worker_environment("urvc-test-other-numpy")


def test_a_failed_build_leaves_no_half_built_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_HOME", str(tmp_path))
    impossible = WorkerEnvironment(
        name="urvc-test-impossible", requirements=("urvc-no-such-package-anywhere",)
    )
    with pytest.raises(worker_environments.UrvcError) as error:
        build_worker_environment(impossible, lambda line: None)
    assert "failed while installing" in str(error.value)
    assert "run `urvc install urvc-test-impossible` again" in str(error.value)
    assert not impossible.folder.exists()


class EchoDeclared(EchoInOtherNumpy):
    """The backend as a plugin would ship it: its environment's requirements declared."""

    worker_requirements = (OTHER_NUMPY, "pytest")
    worker_report_packages = ("pluggy",)


def _install_plugin_with_a_worker_backend(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A plugin urvc-test-other-numpy whose separator runs in the other numpy's environment, as if
    pip had just installed it (pip itself is not run: it records its arguments)."""
    from urvc_core.backends import BackendKind
    from urvc_core.cli import plugins as plugins_cli
    from urvc_core.plugins import plugin_host

    plugin_host().registry.register_callback(BackendKind.SEPARATOR, "urvc-test-other-numpy")(
        EchoDeclared
    )
    pip_calls: list[list[str]] = []
    monkeypatch.setattr(plugins_cli, "_pip", pip_calls.append)
    monkeypatch.setattr("urvc_core.plugins.reset_plugin_host", lambda: None)
    return pip_calls


def run_urvc(*arguments: str) -> Any:
    """The CLI in this process, so that the plugin registered here is seen."""
    from click.testing import CliRunner

    from urvc_core.cli import cli

    return CliRunner().invoke(cli, list(arguments), catch_exceptions=False)


def test_urvc_install_builds_the_plugins_environment_and_doctor_reports_it(
    built_home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pip_calls = _install_plugin_with_a_worker_backend(monkeypatch)

    installed = run_urvc("install", "urvc-test-other-numpy>=0.1")
    assert pip_calls[0][:2] == ["install", "urvc-test-other-numpy>=0.1"]
    # Built by the fixture from the same recipe: found up to date, not rebuilt.
    assert "urvc-test-other-numpy: the worker environment is up to date" in installed.output

    doctor = json.loads(run_urvc("doctor", "--json").output)
    facts = doctor["worker_environments"]["urvc-test-other-numpy"]
    assert facts["built"] and facts["numpy"].split(".")[0] != np.__version__.split(".")[0]
    assert facts["backends"] == ["separator echo"]
    assert "worker environment urvc-test-other-numpy: Python 3." in run_urvc("doctor").output


def test_urvc_uninstall_removes_the_environment_and_doctor_says_how_to_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_HOME", str(tmp_path))
    _install_plugin_with_a_worker_backend(monkeypatch)
    OTHER_NUMPY_ENV.folder.mkdir(parents=True)

    removed = run_urvc("uninstall", "urvc-test-other-numpy", "-y")
    assert "Removed the worker environment urvc-test-other-numpy." in removed.output
    assert not OTHER_NUMPY_ENV.folder.exists()
    report = json.loads(run_urvc("doctor", "--json").output)
    facts = report["worker_environments"]["urvc-test-other-numpy"]
    assert facts["state"] == "missing" and facts["problem"] == (
        "The worker environment urvc-test-other-numpy (separator echo) is missing: "
        "run `urvc install urvc-test-other-numpy`."
    )
    # Never built is no problem (like a model not downloaded yet); half built is.
    assert not [p for p in report["problems"] if "urvc-test-other-numpy" in p]
    OTHER_NUMPY_ENV.folder.mkdir(parents=True)
    report = json.loads(run_urvc("doctor", "--json").output)
    assert any("urvc-test-other-numpy" in p and "unfinished" in p for p in report["problems"])
    assert "worker environment urvc-test-other-numpy: unfinished, run `urvc install" in (
        run_urvc("doctor").output
    )
