"""The log-mel front end against librosa, computed independently with the same parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from urvc_f0_rmvpe import mel

from urvc_core.testing import signals

librosa = pytest.importorskip("librosa")


def librosa_log_mel(samples: np.ndarray) -> np.ndarray:
    magnitude_mel = librosa.feature.melspectrogram(
        y=samples,
        sr=16000,
        n_fft=1024,
        hop_length=160,
        win_length=1024,
        window="hann",
        center=True,
        pad_mode="reflect",
        power=1.0,
        n_mels=128,
        fmin=30,
        fmax=8000,
        htk=True,
    )
    return np.log(np.maximum(magnitude_mel, 1e-5))


def assert_same_log_mel(ours: np.ndarray, reference: np.ndarray) -> None:
    """Equal to 0.1 % wherever a band is well above the floor; near the floor both are
    float32 rounding noise of the strong bins (a tone's gaps between harmonics come out
    at 1e-5 give or take 2 %), so there the magnitudes must agree to 1e-6 of full scale.
    """
    audible = reference > np.log(1e-3)
    assert np.max(np.abs(ours - reference)[audible]) < 1e-3
    assert np.allclose(np.exp(ours), np.exp(reference), rtol=1e-3, atol=1e-6)


def our_log_mel(samples: np.ndarray) -> np.ndarray:
    padded = mel.pad_for_frames(samples)
    return mel.MelFrontEnd().log_mel(padded, 0, mel.frame_count(len(samples))).numpy()


def test_filters_are_librosas_slaney_normalised_htk_filters() -> None:
    reference = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128, fmin=30, fmax=8000, htk=True)
    ours = mel.mel_filterbank()
    assert ours.shape == (128, 513)
    assert ours.dtype == np.float32
    assert np.allclose(ours, reference, rtol=1e-6, atol=1e-9)
    # The slaney normalisation is what distinguishes these from plain HTK triangles:
    # every filter has unit area (height 2 / width in Hz), which the FFT bins sample
    # closely once a filter spans several of them.
    areas = ours.sum(axis=1) * (8000 / 512)
    assert np.allclose(areas[64:], 1.0, rtol=0.02)
    assert abs(float(np.mean(areas[64:])) - 1.0) < 0.002


def test_log_mel_matches_librosa_on_speech_and_a_tone() -> None:
    for samples in (
        signals.speech(16000).samples[0],
        signals.harmonic_tone(196.0, 0.77, 16000).samples[0],
    ):
        ours = our_log_mel(samples)
        reference = librosa_log_mel(samples)
        assert ours.shape == reference.shape == (128, len(samples) // 160 + 1)
        assert_same_log_mel(ours, reference)


def test_silence_is_the_log_floor() -> None:
    log_mel = our_log_mel(np.zeros(4000, dtype=np.float32))
    assert np.allclose(log_mel, np.log(1e-5))


def test_clips_shorter_than_half_a_window_still_give_their_frames() -> None:
    for length in (0, 1, 2, 100, 511, 512, 513):
        samples = signals.harmonic_tone(440.0, length / 16000, 16000).samples[0]
        log_mel = our_log_mel(samples)
        assert log_mel.shape == (128, length // 160 + 1)
        assert np.all(np.isfinite(log_mel))
    # From 513 samples on, reflection never runs out and librosa agrees.
    samples = signals.harmonic_tone(440.0, 1100 / 16000, 16000).samples[0]
    assert_same_log_mel(our_log_mel(samples), librosa_log_mel(samples))


def test_any_run_of_frames_is_the_same_as_in_the_whole() -> None:
    samples = signals.speech(16000).samples[0]
    padded = mel.pad_for_frames(samples)
    front_end = mel.MelFrontEnd()
    total = mel.frame_count(len(samples))
    whole = front_end.log_mel(padded, 0, total)
    for first, stop in ((0, 1), (0, 100), (37, 250), (total - 3, total), (128, total)):
        part = front_end.log_mel(padded, first, stop)
        # The same frames through FFTs of another batch size: float32 rounding only.
        assert torch.allclose(part, whole[:, first:stop], rtol=0, atol=1e-5), (first, stop)
