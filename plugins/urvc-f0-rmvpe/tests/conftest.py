"""Fixtures: an isolated urvc home per test, and an RMVPE weights file made here.

The real ``rmvpe.pt`` can't be downloaded in a test run, so the tests build the
full-size network with random weights and save it the way ``rmvpe.pt`` is saved: a
plain state dict, tensors in half precision, written with ``torch.save``. The file is
made once per session (181 MB); each test points its own urvc home at it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from urvc_core.plugins import reset_plugin_host


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
        "URVC_DOWNLOAD_TIMEOUT",
    ):
        monkeypatch.delenv(variable, raising=False)
    reset_plugin_host()
    yield home
    reset_plugin_host()


@pytest.fixture(scope="session")
def random_state() -> dict[str, Any]:
    """The full-size network's state dict, random weights from a fixed seed (float32)."""
    from urvc_f0_rmvpe.testing import random_state_dict

    return random_state_dict(seed=20230524)


@pytest.fixture(scope="session")
def weights_file(
    tmp_path_factory: pytest.TempPathFactory, random_state: dict[str, Any]
) -> Iterator[Path]:
    """An ``rmvpe.pt`` with random weights, in the community file's format."""
    from urvc_f0_rmvpe.testing import save_like_rmvpe_pt

    path = save_like_rmvpe_pt(random_state, tmp_path_factory.mktemp("weights") / "rmvpe.pt")
    yield path
    path.unlink(missing_ok=True)  # 181 MB: not worth keeping with pytest's old temp folders


@pytest.fixture
def scratch_weights_path(tmp_path: Path) -> Iterator[Path]:
    """Where a test may write a weights file of its own; deleted after the test."""
    path = tmp_path / "rmvpe.pt"
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def use_weights(urvc_home: Path) -> Callable[[Path], Path]:
    """Point the test's config.toml at a weights file: ``[asset_paths] rmvpe = "<path>"``."""

    def point_at(weights: Path) -> Path:
        (urvc_home / "config.toml").write_text(
            f'[asset_paths]\nrmvpe = "{Path(weights).as_posix()}"\n'
        )
        return weights

    return point_at


@pytest.fixture
def rmvpe_weights(use_weights: Callable[[Path], Path], weights_file: Path) -> Path:
    """The test's urvc home configured to read :func:`weights_file` as the ``rmvpe`` asset."""
    return use_weights(weights_file)
