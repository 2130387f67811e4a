"""The demo's hand-set voice model: real speech in, its melody out as a voice.

Its weights are set, not trained (urvc_core.rvc.hand_set_voice_models). What matters is
what a listener hears, so the checks are on the audio: the pitch of what it renders
follows the input's (Praat's tracker on both sides; the conversion runs FCPE), it is
silent where the input is unvoiced, it has no offset, and it is loud enough to hear.
A model with random weights, checked the same way, fails: it renders an offset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from urvc_core.backends import Audio
from urvc_core.rvc.conversion import convert_voice
from urvc_core.rvc.hand_set_voice_models import build_hand_set_voice_file, hand_set_synthesizer
from urvc_core.rvc.random_voice_models import tiny_config
from urvc_core.rvc.voice_model import VoiceModel
from urvc_core.testing import speech
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.signals import praat_pitch_hz
from urvc_core.testing.voice_models import build_voice_model_file


@pytest.fixture(scope="module")
def embedder_256(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hf_hubert_folder(tmp_path_factory.mktemp("hubert") / "h64", hidden_size=64)


def _frame_rms_db(audio: Audio) -> np.ndarray:
    mono = audio.to_mono().samples[0]
    hop = audio.sample_rate // 100
    frames = mono[: len(mono) // hop * hop].reshape(-1, hop)
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def test_the_file_loads_as_a_v1_40k_model_with_pitch_guidance(tmp_path: Path) -> None:
    model = VoiceModel.load(build_hand_set_voice_file(tmp_path / "hummer.pth"))
    assert (model.info.version, model.info.sample_rate, model.info.pitch_guidance) == (
        "v1",
        40000,
        True,
    )
    # Zero layers are stored with a unit direction and a zero magnitude: no NaN anywhere.
    state = torch.load(tmp_path / "hummer.pth", map_location="cpu", weights_only=True)
    assert all(torch.isfinite(tensor).all() for tensor in state["weight"].values())


def test_it_hums_the_input_s_melody_and_is_silent_where_nothing_is_voiced(
    tmp_path: Path, embedder_256: Path
) -> None:
    path = build_hand_set_voice_file(tmp_path / "hummer.pth")
    sentence = speech()
    result = convert_voice(sentence, path, embedder=str(embedder_256), f0_method="fcpe")
    hummed = result.audio
    assert hummed.sample_rate == 40000
    assert hummed.duration == pytest.approx(sentence.duration, abs=0.02)

    melody, sung = praat_pitch_hz(sentence), praat_pitch_hz(hummed)
    frames = min(len(melody), len(sung))
    melody, sung = melody[:frames], sung[:frames]
    voiced = melody > 0
    both = voiced & (sung > 0)
    cents = np.abs(1200 * np.log2(sung[both] / melody[both]))
    assert both.sum() / voiced.sum() > 0.9
    assert np.median(cents) < 30
    assert np.mean(cents < 50) > 0.8

    # Loud where the input is voiced, at least 30 dB quieter where it is not (away
    # from the edges of voicing, where the tracker and the model's 10 ms frames differ).
    level = _frame_rms_db(hummed)[:frames]
    settled = np.convolve(voiced, np.ones(7), "same")
    inside, outside = level[settled == 7], level[settled == 0]
    assert np.median(inside) > -30
    assert np.median(inside) - np.median(outside) > 30
    samples = hummed.samples
    assert abs(float(samples.mean())) < 1e-3
    assert float(np.abs(samples).max()) < 0.99  # the output tanh is not saturated


def test_a_random_weight_model_fails_the_same_check(tmp_path: Path, embedder_256: Path) -> None:
    """What the demo used before: nearly all of its output is an offset, not a pitch."""
    path = build_voice_model_file(tmp_path / "random.pth", version="v1", sample_rate=40000)
    result = convert_voice(speech(), path, embedder=str(embedder_256), f0_method="fcpe")
    samples = result.audio.samples.astype(np.float64)
    offset_share = samples.mean() ** 2 / np.mean(samples**2)
    hand_set = convert_voice(
        speech(),
        build_hand_set_voice_file(tmp_path / "hummer.pth"),
        embedder=str(embedder_256),
        f0_method="fcpe",
    ).audio.samples.astype(np.float64)
    assert offset_share > 100 * hand_set.mean() ** 2 / np.mean(hand_set**2)


@pytest.mark.parametrize(("version", "rate"), [("v1", 40000), ("v2", 48000), ("v2", 32000)])
def test_every_configuration_renders_the_pitch(version: str, rate: int) -> None:
    network = hand_set_synthesizer(tiny_config(version, rate), version=version)
    frames = 100
    features = torch.randn(frames, network.embedder_dim)
    pitch = torch.full((frames,), 220.0)
    pitch[40:60] = 0.0  # an unvoiced stretch
    noise = torch.randn(network.config.inter_channels, frames)
    with torch.inference_mode():
        audio = network.infer(features, pitch, speaker_id=0, noise=noise).numpy()
    hop = network.hop_length
    voiced_part = audio[5 * hop : 35 * hop]
    pitch_hz = praat_pitch_hz(Audio(voiced_part[np.newaxis, :], rate))
    assert abs(1200 * np.log2(np.median(pitch_hz[pitch_hz > 0]) / 220.0)) < 10
    # A buzz, not a sine: the harmonics above the pitch carry much of its energy.
    spectrum = np.abs(np.fft.rfft(voiced_part * np.hanning(len(voiced_part)))) ** 2
    frequencies = np.fft.rfftfreq(len(voiced_part), 1.0 / rate)
    assert spectrum[frequencies > 330].sum() > 0.3 * spectrum.sum()
    silent = audio[45 * hop : 55 * hop]
    assert np.sqrt(np.mean(silent**2)) < 0.01 * np.sqrt(np.mean(voiced_part**2))
