"""Model files are untrusted: loading one through the plugin never runs code from it.

Each hostile file here is a real model of its family with one extra pickled object whose
unpickling calls ``Path.touch`` on a marker file, which is what a file written to run
code would do instead. The tests that run one through a separator first show that the
loader audio-separator itself uses runs the payload (the marker appears), then that the
plugin refuses the file with one line naming it and the marker never appears. Published
models must still load: a Demucs package saved as Demucs saves them, and a Roformer
config written as UVR writes them, go all the way through a separation.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from urvc_separator_mdx.cover_steps import separator_for
from urvc_separator_mdx.model_catalogue import (
    DOWNLOAD_CHECKS_FILE,
    VR_MODEL_DATA_FILE,
    audio_separator_hash,
)
from urvc_separator_mdx.safe_model_loading import (
    UnsafeModelFileError,
    install_safe_demucs_loader,
    load_demucs_package,
    load_model_config,
)
from urvc_separator_mdx.tiny_models import (
    TINY_HTDEMUCS_ARGUMENTS,
    build_tiny_roformer,
    build_tiny_vr_model,
)

from urvc_core.backends import Audio
from urvc_core.errors import AssetError, UrvcError
from urvc_core.testing import signals
from urvc_core.testing.conformance import assert_audio_like

#: A small HTDemucs, saved as Demucs saves its published models. Its segment is a
#: Fraction, as in ``htdemucs`` (39/5 s there; 3/2 s here so that a second of audio runs
#: fast).
TINY_HTDEMUCS: dict[str, Any] = {**TINY_HTDEMUCS_ARGUMENTS, "segment": Fraction(3, 2)}


class TouchesMarker:
    """Unpickles into a call of ``Path.touch(marker)``: code a model file must never run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def published_demucs() -> Iterator[ModuleType]:
    """``demucs.htdemucs``, the module published Demucs packages name their class by.

    It is audio-separator's copy of Demucs imported under the name ``demucs``, as
    audio-separator itself makes possible by putting its ``uvr_lib_v5`` folder on
    ``sys.path``; the modules are taken out again afterwards.
    """
    import audio_separator.separator.uvr_lib_v5 as uvr_lib_v5

    before = set(sys.modules)
    sys.path.insert(0, str(Path(uvr_lib_v5.__file__).parent))
    try:
        yield importlib.import_module("demucs.htdemucs")
    finally:
        sys.path.remove(str(Path(uvr_lib_v5.__file__).parent))
        for name in set(sys.modules) - before:
            if name == "demucs" or name.startswith("demucs."):
                del sys.modules[name]


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "code-ran.marker"


def demucs_package(published_demucs: ModuleType, *, seed: int = 0, **extra: Any) -> dict[str, Any]:
    """A Demucs package as Demucs's ``serialize_model`` writes it, random weights.

    ``klass``, the constructor's ``args`` and ``kwargs`` as ``capture_init`` recorded them,
    the state in half precision (``get_state(..., half=True)``) and the training
    configuration, where Demucs's numbers include numpy scalars.
    """
    import torch
    from audio_separator.separator.uvr_lib_v5.demucs.states import get_state

    torch.manual_seed(seed)
    model = published_demucs.HTDemucs(**TINY_HTDEMUCS)
    args, kwargs = model._init_args_kwargs
    training_args = {
        "optim": {"lr": np.float64(3e-4), "beta2": np.float64(0.999)},
        "seed": np.int64(42),
        "dset": {"segment": 11, "sources": list(TINY_HTDEMUCS["sources"])},
    }
    package = {
        "klass": model.__class__,
        "args": args,
        "kwargs": kwargs,
        "state": get_state(model, None, half=True),
        "training_args": training_args,
    }
    package.update(extra)
    return package


def write_demucs_bag(folder: Path, name: str, package: dict[str, Any], signature: str) -> Path:
    """Save ``package`` as ``<signature>-<sha256 prefix>.th`` with the YAML bag naming it.

    Both are listed in the folder's ``download_checks.json``, as UVR lists its Demucs v4
    models; returns the ``.th``.
    """
    import torch
    import yaml

    unnamed = folder / f"{signature}.th.tmp"
    torch.save(package, unnamed)
    checksum = hashlib.sha256(unnamed.read_bytes()).hexdigest()[:8]
    weights = unnamed.rename(folder / f"{signature}-{checksum}.th")
    (folder / name).write_text(yaml.safe_dump({"models": [signature]}), encoding="utf-8")
    checks_path = folder / DOWNLOAD_CHECKS_FILE
    checks = json.loads(checks_path.read_text(encoding="utf-8"))
    checks["demucs_download_list"][f"Demucs v4: {Path(name).stem}"] = {
        weights.name: f"https://example.invalid/{weights.name}",
        name: f"https://example.invalid/{name}",
    }
    checks_path.write_text(json.dumps(checks), encoding="utf-8")
    return weights


def one_second_of_speech() -> Audio:
    """A second of the CMU ARCTIC sentence, panned centre over a stereo accompaniment."""
    mixture = signals.centre_panned_speech_mix(44100).mixture
    return Audio(mixture.samples[:, 22050:66150], 44100)


def assert_refused(exc: pytest.ExceptionInfo[UrvcError], path: Path, names: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"names {names}" in message
    assert "source you trust" in message


# -- Demucs ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_published_demucs_package_loads_with_the_allow_list_and_separates(
    model_folder: Path, published_demucs: ModuleType
) -> None:
    import torch

    package = demucs_package(published_demucs)
    weights = write_demucs_bag(model_folder, "published_htdemucs.yaml", package, "a1b2c3d4")
    # The file names what a published one names: the class under Demucs's own module, a
    # Fraction and numpy scalars; torch's weights-only loader allows none of them.
    assert set(torch.serialization.get_unsafe_globals_in_checkpoint(str(weights))) == {
        "demucs.htdemucs.HTDemucs",
        "fractions.Fraction",
        "numpy._core.multiarray.scalar",  # numpy.core.multiarray.scalar before numpy 2
        "numpy.dtype",
    }

    loaded = load_demucs_package(weights)
    from audio_separator.separator.uvr_lib_v5.demucs.htdemucs import HTDemucs

    assert loaded["klass"] is HTDemucs
    assert loaded["kwargs"]["segment"] == Fraction(3, 2)
    assert loaded["training_args"]["optim"]["lr"] == pytest.approx(3e-4)
    assert loaded["state"].keys() == package["state"].keys()
    for key, tensor in package["state"].items():
        assert loaded["state"][key].dtype == torch.float16
        assert torch.equal(loaded["state"][key], tensor), key

    backend = separator_for("published_htdemucs.yaml", shifts=0)
    mixture = one_second_of_speech()
    stems = backend.separate(mixture)
    assert set(stems) == {"Bass", "Drums", "Other", "Vocals"}
    for name, stem in stems.items():
        assert_audio_like(stem, mixture, f"Demucs {name}")
        # Random weights separate nothing, but they do output something.
        assert float(np.sqrt(np.mean(stem.samples**2))) > 1e-4, name
    from audio_separator.separator.uvr_lib_v5.demucs import repo

    assert getattr(repo.load_model, "urvc_safe_loader", False)


@pytest.mark.slow
def test_a_hostile_demucs_file_is_refused_and_its_code_never_runs(
    model_folder: Path, published_demucs: ModuleType, marker: Path
) -> None:
    from audio_separator.separator.uvr_lib_v5.demucs.states import load_model

    package = demucs_package(published_demucs, training_args=TouchesMarker(marker))
    weights = write_demucs_bag(model_folder, "hostile_htdemucs.yaml", package, "e5f6a7b8")
    # Demucs's own loader (torch.load with weights_only=False) runs the payload.
    load_model(str(weights))
    assert marker.exists()
    marker.unlink()

    backend = separator_for("hostile_htdemucs.yaml", shifts=0)
    with pytest.raises(UnsafeModelFileError) as refused:
        backend.separate(one_second_of_speech())
    assert_refused(refused, weights, "getattr")
    assert not marker.exists()


def test_audio_separators_demucs_loader_reads_files_with_the_allow_list(
    model_folder: Path, published_demucs: ModuleType, marker: Path
) -> None:
    # audio-separator reads a Demucs bag's .th files again on every separation, through
    # Demucs's repo; a file replaced after the plugin checked it is still read safely.
    from audio_separator.separator.uvr_lib_v5.demucs import repo
    from audio_separator.separator.uvr_lib_v5.demucs.htdemucs import HTDemucs
    from audio_separator.separator.uvr_lib_v5.demucs.pretrained import get_model

    install_safe_demucs_loader()
    installed = repo.load_model
    install_safe_demucs_loader()
    assert repo.load_model is installed  # one wrapper, however often it is installed

    good = demucs_package(published_demucs)
    write_demucs_bag(model_folder, "good_htdemucs.yaml", good, "0a0b0c0d")
    bag = get_model(name="good_htdemucs", repo=model_folder)
    (model,) = bag.models
    assert isinstance(model, HTDemucs)
    assert model.segment == Fraction(3, 2)

    hostile = demucs_package(published_demucs, training_args=TouchesMarker(marker))
    weights = write_demucs_bag(model_folder, "hostile_htdemucs.yaml", hostile, "1a1b1c1d")
    with pytest.raises(UnsafeModelFileError) as refused:
        get_model(name="hostile_htdemucs", repo=model_folder)
    assert_refused(refused, weights, "getattr")
    assert not marker.exists()


def test_a_demucs_package_naming_another_class_as_its_model_is_refused(
    model_folder: Path, published_demucs: ModuleType
) -> None:
    # Every global is on the allow-list, but the "model" is a Fraction: Demucs would call
    # it with the package's arguments.
    package = demucs_package(published_demucs, klass=Fraction)
    weights = write_demucs_bag(model_folder, "odd_htdemucs.yaml", package, "2a2b2c2d")
    with pytest.raises(UnsafeModelFileError, match="not a Demucs network") as refused:
        load_demucs_package(weights)
    assert str(weights) in str(refused.value)


def test_demucs_needs_a_torch_that_takes_named_allow_list_entries(
    model_folder: Path, published_demucs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    weights = write_demucs_bag(
        model_folder, "published_htdemucs.yaml", demucs_package(published_demucs), "3a3b3c3d"
    )
    monkeypatch.setattr(torch, "__version__", "2.5.1+cpu")
    with pytest.raises(UnsafeModelFileError, match=r"torch 2\.6 or newer \(this is torch 2\.5"):
        load_demucs_package(weights)


def test_a_truncated_demucs_file_says_to_download_it_again(
    model_folder: Path, published_demucs: ModuleType
) -> None:
    weights = write_demucs_bag(
        model_folder, "cut_htdemucs.yaml", demucs_package(published_demucs), "4a4b4c4d"
    )
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(AssetError, match="can't be read as a torch checkpoint") as damaged:
        load_demucs_package(weights)
    assert not isinstance(damaged.value, UnsafeModelFileError)
    assert str(weights) in str(damaged.value) and "\n" not in str(damaged.value)


# -- VR and MDX23C/Roformer ------------------------------------------------------------


def hostile_vr_model(folder: Path, marker: Path) -> Path:
    """The tiny VR model with the payload beside its weights, listed under its new MD5."""
    import torch

    path = build_tiny_vr_model(folder, "hostile_vr.pth")
    old_hash = audio_separator_hash(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    torch.save({**state, "payload": TouchesMarker(marker)}, path)
    table_path = folder / VR_MODEL_DATA_FILE
    table = json.loads(table_path.read_text(encoding="utf-8"))
    table[audio_separator_hash(path)] = table.pop(old_hash)
    table_path.write_text(json.dumps(table), encoding="utf-8")
    return path


def hostile_roformer(folder: Path, marker: Path) -> Path:
    """The tiny BS-Roformer checkpoint with the payload beside its weights."""
    import torch

    path = build_tiny_roformer(folder, "hostile_bs_roformer.ckpt")
    state = torch.load(path, map_location="cpu", weights_only=True)
    torch.save({**state, "payload": TouchesMarker(marker)}, path)
    return path


@pytest.mark.parametrize("build", [hostile_vr_model, hostile_roformer], ids=["vr", "roformer"])
def test_hostile_vr_and_roformer_files_are_refused_where_torch_would_unpickle_them(
    build: Any, model_folder: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    path = build(model_folder, marker)
    # audio-separator loads these with torch.load's default, which is full unpickling on
    # torch 2.3 to 2.5 and wherever this variable is set.
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.warns(UserWarning, match="TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        torch.load(path, map_location="cpu")
    assert marker.exists()
    marker.unlink()

    backend = separator_for(path.name)
    with pytest.raises(UnsafeModelFileError) as refused:
        backend.separate(one_second_of_speech())
    assert_refused(refused, path, "getattr")
    assert not marker.exists()


def test_urvc_separate_refuses_a_hostile_model_in_one_line(
    model_folder: Path, marker: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from urvc_core.audio import save_audio
    from urvc_core.cli import cli

    path = hostile_vr_model(model_folder, marker)
    song = save_audio(one_second_of_speech(), tmp_path / "Song.wav")
    out = tmp_path / "out"
    outcome = CliRunner().invoke(
        cli,
        [
            "separate",
            str(song),
            "--separation",
            "vocals",
            "--separator-step",
            f"vocals=vr:model={path.name}",
            "-o",
            str(out),
        ],
    )
    assert outcome.exit_code == 1, outcome.output
    lines = outcome.output.strip().splitlines()
    assert len(lines) == 1, outcome.output
    assert str(path) in lines[0] and "names getattr" in lines[0]
    assert "Traceback" not in outcome.output
    assert not marker.exists()
    assert not out.exists() or not any(out.iterdir())


# -- YAML configs ----------------------------------------------------------------------


@pytest.mark.slow
def test_roformer_configs_with_python_tuples_still_load_and_separate(model_folder: Path) -> None:
    path = build_tiny_roformer(model_folder, "tuple_bs_roformer.ckpt")
    config = model_folder / "tuple_bs_roformer.yaml"
    text = config.read_text(encoding="utf-8")
    assert "freqs_per_bands:\n" in text
    # How UVR's Roformer configs write their band list.
    config.write_text(
        text.replace("freqs_per_bands:\n", "freqs_per_bands: !!python/tuple\n"), encoding="utf-8"
    )
    assert load_model_config(config)["model"]["freqs_per_bands"] == (
        16,
        16,
        32,
        64,
        128,
        256,
        256,
        257,
    )
    mixture = one_second_of_speech()
    stems = separator_for(path.name, segment_size=64).separate(mixture)
    assert set(stems) == {"Vocals", "Instrumental"}
    for name, stem in stems.items():
        assert_audio_like(stem, mixture, f"Roformer {name}")


def test_a_model_config_that_makes_python_objects_is_refused(model_folder: Path) -> None:
    import os

    import yaml

    path = build_tiny_roformer(model_folder, "hostile_bs_roformer.ckpt")
    config = model_folder / "hostile_bs_roformer.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("  flash_attn: false\n", "  flash_attn: !!python/name:os.system\n"),
        encoding="utf-8",
    )
    # audio-separator's FullLoader hands the model a live function as a setting.
    assert (
        yaml.load(config.read_text(encoding="utf-8"), Loader=yaml.FullLoader)["model"]["flash_attn"]
        is os.system
    )

    with pytest.raises(UnsafeModelFileError) as refused:
        separator_for(path.name).separate(one_second_of_speech())
    message = str(refused.value)
    assert "\n" not in message and str(config) in message
    assert "!!python/name:os.system" in message
