"""Shared fixtures: an isolated urvc home, a fresh plugin host, and plugin installation."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from urvc_core.plugins import reset_plugin_host
from urvc_core.testing.demo_voice import demo_voice, demo_voice_trained_once  # noqa: F401
from urvc_core.testing.file_server import serve_folder

URVC = str(Path(sys.executable).with_name("urvc"))


@pytest.fixture(autouse=True)
def urvc_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own urvc home and a plugin host loaded afresh."""
    home = tmp_path_factory.mktemp("urvc-home")
    monkeypatch.setenv("URVC_HOME", str(home))
    for variable in (
        "URVC_LOAD_PLUGINS",
        "URVC_TRACE_PLUGINS",
        "URVC_OFFLINE",
        "URVC_RAISE_ERRORS",
    ):
        monkeypatch.delenv(variable, raising=False)
    reset_plugin_host()
    yield home
    reset_plugin_host()


@dataclass
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


def _run_urvc(
    *arguments: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> CommandResult:
    """Run the installed ``urvc`` script in a child process, as a user would."""
    completed = subprocess.run(
        [URVC, *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )
    return CommandResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path (and on PYTHONPATH for child processes) to install plugins into."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    )
    yield site


def _write_distribution(
    site: Path, distribution: str, module: str, source: str, version: str = "1.0"
) -> None:
    """Lay out an installed distribution in ``site``: its module and a dist-info with an entry point.

    This is the layout pip leaves behind, which importlib.metadata reads; it lets a test
    make broken or clashing plugins in milliseconds. The documented example plugin is
    installed by pip itself (tests/test_docs.py).
    """
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    dist_info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[urvc]\n{module} = {module}\n")
    (dist_info / "RECORD").write_text("")


@pytest.fixture
def run_urvc() -> Callable[..., CommandResult]:
    """Run the installed ``urvc`` script in a child process: ``run_urvc("backends", env={...})``."""
    return _run_urvc


@pytest.fixture
def add_distribution(site_dir: Path) -> Iterator[Callable[..., None]]:
    """Install a one-module plugin into ``site_dir``: ``add_distribution(dist, module, source)``."""
    modules: list[str] = []

    def add(distribution: str, module: str, source: str, version: str = "1.0") -> None:
        _write_distribution(site_dir, distribution, module, source, version)
        modules.append(module)
        importlib.invalidate_caches()

    yield add
    for module in modules:  # the next test may install another module of the same name
        sys.modules.pop(module, None)


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a folder: (base URL, folder)."""
    served = tmp_path / "served"
    served.mkdir()
    with serve_folder(served) as url:
        yield url, served
