"""Ensembles: the combination maths on stems whose answer is known, and whole ensembles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from urvc_separator_mdx.ensemble import ENSEMBLE_METHODS, combine_stems

from urvc_core.backends import Audio
from urvc_core.errors import UrvcError
from urvc_core.testing import signals
from urvc_core.testing.conformance import assert_audio_like


def stems_of(*rows: list[float]) -> list[Audio]:
    return [Audio(np.array([row], dtype=np.float32), 8000) for row in rows]


def test_per_sample_methods() -> None:
    stems = stems_of([1.0, -4.0, 0.0, 2.0], [3.0, 1.0, -0.5, 2.0], [-2.0, 2.0, 0.25, 8.0])
    expected = {
        "mean": [2 / 3, -1 / 3, -0.25 / 3, 4.0],
        "median": [1.0, 1.0, 0.0, 2.0],
        # Least and greatest magnitude, each keeping its sign: UVR's Min/Max Wave.
        "min": [1.0, 1.0, 0.0, 2.0],
        "max": [3.0, -4.0, -0.5, 8.0],
    }
    for method, values in expected.items():
        combined = combine_stems(stems, method)
        np.testing.assert_allclose(combined.samples[0], values, rtol=1e-6, err_msg=method)


def test_weighted_mean() -> None:
    stems = stems_of([1.0, 1.0], [4.0, -2.0])
    combined = combine_stems(stems, "mean", weights=[3.0, 1.0])
    np.testing.assert_allclose(combined.samples[0], [1.75, 0.25], rtol=1e-6)


def two_band_signal(low_amplitude: float, high_amplitude: float, phase: float) -> np.ndarray:
    seconds = np.arange(44100) / 44100
    return (
        low_amplitude * np.sin(2 * np.pi * 440 * seconds + phase)
        + high_amplitude * np.sin(2 * np.pi * 3000 * seconds + phase)
    ).astype(np.float32)


def test_spectral_methods_pick_each_bin_with_its_own_phase() -> None:
    # Model A hears the low tone loudly, model B the high one; their phases differ, so
    # averaging bins (or samples) would not give the answer that picking does.
    a = two_band_signal(0.5, 0.05, phase=0.0)
    b = two_band_signal(0.05, 0.5, phase=1.0)
    stems = [Audio(np.stack([a, a]), 44100), Audio(np.stack([b, b]), 44100)]
    seconds = np.arange(44100) / 44100
    loudest = 0.5 * np.sin(2 * np.pi * 440 * seconds) + 0.5 * np.sin(
        2 * np.pi * 3000 * seconds + 1.0
    )
    quietest = 0.05 * np.sin(2 * np.pi * 440 * seconds + 1.0) + 0.05 * np.sin(
        2 * np.pi * 3000 * seconds
    )
    core = slice(4096, -4096)  # leave out the first and last frames' edge effects
    for method, expected in (("max_mag", loudest), ("min_mag", quietest)):
        combined = combine_stems(stems, method)
        assert_audio_like(combined, stems[0], method)
        for channel in (0, 1):
            sdr = signals.sdr_db(expected[core], combined.samples[channel][core])
            assert sdr > 25.0, f"{method}: SDR {sdr:.1f} dB against the known answer"


def test_spectral_selection_of_identical_stems_is_transparent() -> None:
    # The STFT round trip, block by block, must give back the input: the blocks of about
    # 30 s join without a seam, and an odd length survives.
    mix = signals.centre_panned_speech_mix(16000).mixture
    long = Audio(np.tile(mix.samples, (1, 25))[:, : 16000 * 95 + 37], 16000)
    for method in ("min_mag", "max_mag"):
        combined = combine_stems([long, long], method)
        assert_audio_like(combined, long, method)
        assert signals.sdr_db(long.samples, combined.samples) > 80.0


def test_every_method_keeps_rate_channels_and_length() -> None:
    mix = signals.centre_panned_speech_mix(22050)
    stems = [mix.mixture, mix.vocals, mix.accompaniment]
    for method in ENSEMBLE_METHODS:
        assert_audio_like(combine_stems(stems, method), mix.mixture, method)


def test_mismatched_stems_and_bad_arguments_are_clear_errors() -> None:
    short = Audio(np.zeros((2, 100), np.float32), 44100)
    longer = Audio(np.zeros((2, 101), np.float32), 44100)
    with pytest.raises(UrvcError, match="different shapes"):
        combine_stems([short, longer], "mean")
    with pytest.raises(UrvcError, match="Unknown ensemble method 'average'"):
        combine_stems([short, short], "average")
    with pytest.raises(UrvcError, match="Weights apply to the 'mean' method only"):
        combine_stems([short, short], "median", weights=[1, 2])
    with pytest.raises(UrvcError, match="one weight of 0 or more per model"):
        combine_stems([short, short], "mean", weights=[1])


@pytest.mark.slow
def test_ensemble_of_two_models_on_one_song() -> None:
    from urvc_separator_mdx.cover_steps import separate_vocals
    from urvc_separator_mdx.ensemble import separate_with_ensemble

    whole = signals.centre_panned_speech_mix(44100).mixture
    mix = Audio(whole.samples[:, 22050:88200], 44100)
    models = ["tiny_centre_mdx.onnx", "tiny_gentle_centre_mdx.onnx"]
    singles = [separate_vocals(mix, model) for model in models]
    combined = separate_with_ensemble(mix, models, "max")
    assert set(combined) == {"Vocals", "Instrumental"}
    # The per-sample maximum of two separations is, sample for sample, one of them.
    expected = combine_stems([s.vocals for s in singles], "max")
    np.testing.assert_allclose(combined["Vocals"].samples, expected.samples, atol=1e-6)
    via_step = separate_vocals(mix, models=models, ensemble="min_mag")
    assert_audio_like(via_step.vocals, mix, "min_mag ensemble")


@pytest.mark.slow
def test_urvc_separate_runs_an_ensemble_of_two_models_as_one_cached_step(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from urvc_separator_mdx.cover_steps import separate_vocals

    from urvc_core.audio import load_audio, save_audio
    from urvc_core.cli import cli

    whole = signals.centre_panned_speech_mix(44100).mixture
    mix = Audio(whole.samples[:, 22050:88200], 44100)
    song = save_audio(mix, tmp_path / "Song.wav")
    models = ["tiny_centre_mdx.onnx", "tiny_gentle_centre_mdx.onnx"]
    arguments = ["separate", str(song), "--separation", "vocals", "-o", str(tmp_path / "out")]
    for model in models:
        arguments += ["--separator-step", f"vocals=mdx:model={model}"]
    arguments += ["--ensemble", "vocals=max", "--json"]
    outcome = CliRunner().invoke(cli, arguments)
    assert outcome.exit_code == 0, outcome.output
    (result,) = json.loads(outcome.stdout)
    (step,) = result["steps"]
    assert step["backend"] == "mdx+mdx@max" and step["cached"] is False
    expected = combine_stems([separate_vocals(mix, model).vocals for model in models], "max")
    written = load_audio(result["files"]["vocals"])
    np.testing.assert_allclose(written.samples, expected.samples, atol=1e-4)
    again = CliRunner().invoke(cli, arguments)
    assert json.loads(again.stdout)[0]["steps"][0]["cached"] is True
