"""Offline: with the files in place nothing touches the network; without them, a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from urvc_separator_mdx.cover_steps import separator_for

from urvc_core.catalogue import list_assets
from urvc_core.cli import cli
from urvc_core.errors import OfflineError, UrvcError
from urvc_core.testing.conformance import assert_audio_like, stereo_test_input


@pytest.mark.slow
@pytest.mark.usefixtures("offline")
def test_separation_with_every_file_in_place_opens_no_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    def no_requests(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"audio-separator tried to download {args}")

    monkeypatch.setattr(requests, "get", no_requests)
    mixture = stereo_test_input(44100, 2, 1.0)
    for model in ("tiny_centre_mdx.onnx", "tiny_bs_roformer.ckpt"):
        # A new backend: audio-separator's Separator is created and loads the model
        # here, with the socket patched.
        stems = separator_for(model, segment_size=64).separate(mixture)
        for name, stem in stems.items():
            assert_audio_like(stem, mixture, f"{model} {name}")


@pytest.mark.usefixtures("model_folder")
def test_separation_needs_no_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    # audio-separator refuses to start without ffmpeg on the PATH, except when it sees
    # pytest's variable: both go, as on a user's machine without ffmpeg.
    import os
    import shutil

    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    folders = os.environ["PATH"].split(os.pathsep)
    monkeypatch.setenv(
        "PATH",
        os.pathsep.join(f for f in folders if not (Path(f) / "ffmpeg").exists()),
    )
    assert shutil.which("ffmpeg") is None
    mixture = stereo_test_input(44100, 2, 1.0)
    for model in ("tiny_centre_mdx.onnx", "tiny_vr.pth"):
        stems = separator_for(model).separate(mixture)
        for name, stem in stems.items():
            assert_audio_like(stem, mixture, f"{model} {name}")


@pytest.mark.usefixtures("offline")
def test_missing_model_offline_says_where_to_put_it(model_folder: Path) -> None:
    (model_folder / "tiny_centre_mdx.onnx").unlink()
    backend = separator_for("tiny_centre_mdx.onnx")
    with pytest.raises(OfflineError) as caught:
        backend.separate(stereo_test_input(44100, 2, 0.5))
    message = str(caught.value)
    assert str(model_folder / "tiny_centre_mdx.onnx") in message
    assert "URVC_OFFLINE=1" in message


@pytest.mark.usefixtures("offline")
def test_missing_catalogue_offline_names_the_asset(model_folder: Path) -> None:
    (model_folder / "download_checks.json").unlink()
    backend = separator_for("tiny_centre_mdx.onnx")
    with pytest.raises(
        OfflineError, match=r"uvr-download-checks: audio-separator/download_checks\.json"
    ):
        backend.separate(stereo_test_input(44100, 2, 0.5))


def test_audio_that_cannot_be_separated_is_a_clear_error() -> None:
    import numpy as np

    from urvc_core.backends import Audio

    backend = separator_for("tiny_centre_mdx.onnx")
    with pytest.raises(UrvcError, match="no samples to separate"):
        backend.separate(Audio(np.zeros((2, 0), np.float32), 44100))
    broken = np.zeros((2, 1000), np.float32)
    broken[0, 10] = np.nan
    with pytest.raises(UrvcError, match="NaN or infinite samples"):
        backend.separate(Audio(broken, 44100))


def test_unknown_model_is_a_clear_error() -> None:
    backend = separator_for("no_such_model.onnx")
    with pytest.raises(
        UrvcError, match=r"no_such_model\.onnx is not a model audio-separator knows"
    ):
        backend.separate(stereo_test_input(44100, 2, 0.5))


@pytest.mark.usefixtures("offline")
def test_models_command_lists_known_models_offline(model_folder: Path) -> None:
    # Without UVR's list on disk the listing comes from the audio-separator wheel alone.
    (model_folder / "download_checks.json").unlink()
    result = CliRunner().invoke(cli, ["separators", "models", "--json"])
    assert result.exit_code == 0, result.output
    models = {entry["filename"]: entry for entry in json.loads(result.output)}
    assert len(models) > 100
    voc_ft = models["UVR-MDX-NET-Voc_FT.onnx"]
    assert voc_ft["family"] == "mdx"
    assert voc_ft["stems"] == ["Vocals", "Instrumental"]
    assert voc_ft["scores"]["Vocals"]["SDR"] == pytest.approx(10.1549)
    assert voc_ft["present"] is False
    assert models["UVR_MDXNET_KARA_2.onnx"]["stems"] == ["Backup", "Main"]
    assert models["Reverb_HQ_By_FoxJoy.onnx"]["stems"] == ["Reverb", "No Reverb"]
    roformer = models["model_bs_roformer_ep_317_sdr_12.9755.ckpt"]
    assert roformer["family"] == "mdxc"
    assert roformer["scores"]["Vocals"]["SDR"] == pytest.approx(11.7742)
    assert {"htdemucs_ft.yaml", "UVR-DeEcho-DeReverb.pth"} <= set(models)


@pytest.mark.usefixtures("offline")
def test_models_command_shows_local_models_as_present() -> None:
    result = CliRunner().invoke(cli, ["separators", "models", "--present"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["family", "model", "stems", "SDR", "(dB)", "on", "disk"]
    mdx_line = next(line for line in lines if "tiny_centre_mdx.onnx" in line)
    assert mdx_line.split()[0] == "mdx"
    assert "Vocals, Instrumental" in mdx_line
    karaoke_line = next(line for line in lines if "tiny_karaoke_mdx.onnx" in line)
    assert "Main, Backup" in karaoke_line
    roformer_line = next(line for line in lines if "tiny_bs_roformer.ckpt" in line)
    assert roformer_line.split()[0] == "mdxc"
    assert lines[-1].endswith("on disk.")


def test_catalogue_files_and_known_models_are_declared_assets() -> None:
    assets = {status.asset.name: status for status in list_assets()}
    for name in ("uvr-download-checks", "uvr-mdx-model-data", "uvr-vr-model-data"):
        assert assets[name].plugin == "urvc-separator-mdx"
        assert assets[name].asset.filename.startswith("audio-separator/")
    assert assets["uvr-download-checks"].present  # the test home holds a small one
    voc_ft = assets["UVR-MDX-NET-Voc_FT.onnx"]
    assert voc_ft.asset.url.endswith("/all_public_uvr_models/UVR-MDX-NET-Voc_FT.onnx")
    assert not voc_ft.present
    config = assets["model_bs_roformer_ep_317_sdr_12.9755.yaml"].asset
    assert config.sha256 is not None and len(config.sha256) == 64
