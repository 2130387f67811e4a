"""What `urvc models info` tells of a model beyond its file's own keys, and its preview
(`urvc models preview`): urvc's spoken sample converted with the model, beside it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

from urvc_core.audio import audio_info, load_audio
from urvc_core.cache import StepCache
from urvc_core.demo import SPEECH_SAMPLE_FILE
from urvc_core.home import set_config_value
from urvc_core.previews import preview_voice_model
from urvc_core.rvc.voice_model import VoiceModel
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.voice_models import build_voice_model_file
from urvc_core.voices import get_voice_model, import_voice_model

if TYPE_CHECKING:
    from conftest import CommandResult


@pytest.fixture
def library_model(tmp_path: Path) -> str:
    """A v1 40 kHz model of two speakers in the library, and conversion defaults that
    need no download (a small embedder, Praat's pitch)."""
    path = build_voice_model_file(tmp_path / "Singer.pth", version="v1", speakers=2, seed=7)
    import_voice_model(path, name="Singer")
    embedder = build_hf_hubert_folder(tmp_path / "embedder", hidden_size=64)
    set_config_value("convert.embedder", str(embedder))
    set_config_value("convert.f0_method", "pm")
    return "Singer"


def test_info_counts_the_network_s_parameters_and_the_speaker_embedding_norm(
    library_model: str,
) -> None:
    entry = get_voice_model(library_model)
    network = VoiceModel.load(entry.model_path).network
    assert entry.info.parameters == sum(p.numel() for p in network.parameters())
    assert entry.info.parameters > 0
    stored = torch.load(entry.model_path, map_location="cpu", weights_only=True)["weight"]
    norms = stored["emb_g.weight"].float().norm(dim=1)
    assert norms.shape == (2,)
    assert entry.info.speaker_embedding_norm == pytest.approx(float(norms.mean()), rel=1e-6)
    details = entry.as_dict()
    assert details["parameters"] == entry.info.parameters
    assert details["preview"] is None


def test_a_preview_is_the_sample_in_the_model_s_voice_beside_it_and_cached(
    library_model: str, tmp_path: Path
) -> None:
    cache = StepCache(tmp_path / "cache")
    first = preview_voice_model(library_model, cache=cache)
    entry = get_voice_model(library_model)
    assert first.path == entry.folder / "preview.wav" == entry.preview_path
    written = audio_info(first.path)
    assert written.sample_rate == 40000
    sample = audio_info(SPEECH_SAMPLE_FILE)
    assert written.duration == pytest.approx(sample.duration, abs=0.02)
    assert first.duration == pytest.approx(written.duration, abs=1e-3)
    assert not first.cached
    assert load_audio(first.path).samples.std() > 1e-3

    again = preview_voice_model(library_model, cache=cache)
    assert again.cached
    higher = preview_voice_model(library_model, cache=cache, pitch=12)
    assert not higher.cached
    assert get_voice_model(library_model).as_dict()["preview"] == str(first.path)


def test_a_model_used_in_place_gets_its_preview_beside_its_file(tmp_path: Path) -> None:
    path = build_voice_model_file(tmp_path / "loose" / "Loose.pth", version="v1", seed=3)
    embedder = build_hf_hubert_folder(tmp_path / "embedder", hidden_size=64)
    result = preview_voice_model(path, embedder=str(embedder), f0_method="pm")
    assert result.path == path.with_name("Loose preview.wav")
    assert result.path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["Loose preview.wav", "Loose.pth"]


def test_urvc_models_preview_and_info(
    library_model: str, run_urvc: Callable[..., CommandResult]
) -> None:
    made = run_urvc("models", "preview", library_model, "--pitch", "3", "--json")
    assert made.exit_code == 0, made.stderr
    path = json.loads(made.stdout)["path"]
    shown = run_urvc("models", "info", library_model, "--json")
    details = json.loads(shown.stdout)
    assert details["preview"] == path
    assert details["parameters"] > 0 and details["speaker_embedding_norm"] > 0
    missing = run_urvc("models", "preview", "Nobody")
    assert missing.exit_code == 1
    assert "Nobody" in missing.stderr and "Traceback" not in missing.stderr
