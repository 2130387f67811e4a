"""Fixtures: an isolated urvc home per test, holding tiny models in each family's format.

The models are built once per session (exporting ONNX takes seconds) and copied into
every test's home, so a test can delete or replace them freely. audio-separator and
torch load once per process; the separators the conformance suites share are
module-scoped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from urvc_core.backends import Separator
from urvc_core.plugins import reset_plugin_host

#: File names of the tiny models every test home holds.
CENTRE_MDX = "tiny_centre_mdx.onnx"
KARAOKE_MDX = "tiny_karaoke_mdx.onnx"
DEREVERB_MDX = "tiny_dereverb_mdx.onnx"
GENTLE_MDX = "tiny_gentle_centre_mdx.onnx"
ROFORMER = "tiny_bs_roformer.ckpt"
VR = "tiny_vr.pth"
DEMUCS = "tiny_htdemucs.yaml"


@dataclass(frozen=True)
class TinyModels:
    """The folder the session's tiny models were built in."""

    folder: Path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    from urvc_separator_mdx.tiny_models import (
        build_centre_mdx_model,
        build_tiny_demucs,
        build_tiny_roformer,
        build_tiny_vr_model,
    )

    folder = tmp_path_factory.mktemp("tiny-models")
    build_centre_mdx_model(folder, CENTRE_MDX)
    # A centre mask is a karaoke model for a voice panned centre over backing vocals
    # panned to the sides, and a de-reverb model for a dry voice in a wide reverb.
    build_centre_mdx_model(folder, KARAOKE_MDX, primary_stem="Vocals", is_karaoke=True)
    build_centre_mdx_model(folder, DEREVERB_MDX, primary_stem="No Reverb")
    build_centre_mdx_model(folder, GENTLE_MDX, mask_exponent=1)
    build_tiny_roformer(folder, ROFORMER)
    build_tiny_vr_model(folder, VR)
    build_tiny_demucs(folder, DEMUCS)
    return TinyModels(folder)


def _isolate(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URVC_HOME", str(home))
    for variable in (
        "URVC_LOAD_PLUGINS",
        "URVC_TRACE_PLUGINS",
        "URVC_OFFLINE",
        "URVC_RAISE_ERRORS",
        "AUDIO_SEPARATOR_MODEL_DIR",
    ):
        monkeypatch.delenv(variable, raising=False)
    reset_plugin_host()


@pytest.fixture(autouse=True)
def urvc_home(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Path]:
    """Every test gets its own urvc home, with the tiny models in the model folder."""
    home = tmp_path_factory.mktemp("urvc-home")
    tiny_models: TinyModels = request.getfixturevalue("tiny_models")
    shutil.copytree(tiny_models.folder, model_folder_of(home))
    _isolate(home, monkeypatch)
    yield home
    reset_plugin_host()


def model_folder_of(home: Path) -> Path:
    return home / "assets" / "audio-separator"


@pytest.fixture
def model_folder(urvc_home: Path) -> Path:
    """audio-separator's model folder in this test's home."""
    return model_folder_of(urvc_home)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """URVC_OFFLINE=1, and any attempt to open a network connection fails the test."""
    import socket

    monkeypatch.setenv("URVC_OFFLINE", "1")

    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"a connection to {address} was opened while offline")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture(scope="module")
def shared_separator(
    tiny_models: TinyModels, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Separator]:
    """Make separators that live for a whole test module, so each model loads once.

    ``shared_separator("mdx", model=CENTRE_MDX)`` builds the backend in a home of its
    own; each test then runs it in the test's home, which holds the same models.
    """

    def make(family: str, **settings: Any) -> Separator:
        from urvc_core.registry import get_backend

        home = tmp_path_factory.mktemp("urvc-home-shared")
        shutil.copytree(tiny_models.folder, model_folder_of(home))
        with pytest.MonkeyPatch.context() as monkeypatch:
            _isolate(home, monkeypatch)
            try:
                separator = get_backend("separator", family, **settings)
                assert isinstance(separator, Separator)
                return separator
            finally:
                reset_plugin_host()

    return make
