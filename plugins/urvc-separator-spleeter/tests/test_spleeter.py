"""The spleeter separator: real spleeter code on full-size random-weight models, run in
the plugin's worker environment (TensorFlow 2.12, numpy 1.x) behind urvc's Separator.

With any weights, spleeter's soft masks share each time-frequency bin among the stems
(they sum to 1) up to 11 kHz, the top of what its models see (F = 1024 bins), and leave
everything above out. So the stems add up to the mixture below 11 kHz and to silence
above it: the numbers these tests hold the separator to, wherever it resamples,
segments or re-channels on the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import signal
from urvc_separator_spleeter.separator import SpleeterSeparator

from urvc_core.backends import Audio, Separator
from urvc_core.errors import UrvcError
from urvc_core.registry import get_backend
from urvc_core.testing import SeparatorConformance, centre_panned_speech_mix

pytestmark = pytest.mark.slow


def _band_db(reference: np.ndarray, estimate: np.ndarray, rate: int, low: bool) -> float:
    """SNR of ``estimate`` against ``reference`` below 10 kHz (``low``), or the level of
    ``estimate`` above 12 kHz relative to ``reference`` there. Below 10 kHz means below
    0.4 of the rate for a rate under 25 kHz: the top of its band is where resampling to
    spleeter's 44.1 kHz and back takes its toll."""
    if low:
        sections = signal.butter(12, min(10000, 0.4 * rate), fs=rate, output="sos")
        a, b = (signal.sosfiltfilt(sections, x, axis=-1) for x in (reference, estimate))
        return float(10 * np.log10(np.sum(a**2) / np.sum((a - b) ** 2)))
    sections = signal.butter(12, 12000, btype="highpass", fs=rate, output="sos")
    a, b = (signal.sosfiltfilt(sections, x, axis=-1) for x in (reference, estimate))
    return float(10 * np.log10(np.sum(b**2) / np.sum(a**2)))


def _noise_song(seconds: float, rate: int, channels: int) -> Audio:
    rng = np.random.default_rng(4)
    return Audio(
        (0.1 * rng.standard_normal((channels, int(seconds * rate)))).astype(np.float32), rate
    )


@pytest.mark.usefixtures("spleeter_home")
class TestSpleeterConformance(SeparatorConformance):
    @pytest.fixture
    def backend(self) -> Iterator[Separator]:
        assert get_backend("separator", "spleeter").__class__ is SpleeterSeparator
        backend = SpleeterSeparator()
        yield backend
        backend.close()


@pytest.mark.parametrize(("rate", "channels"), [(44100, 2), (16000, 1)])
def test_two_stems_add_up_to_the_mixture_below_11_khz_at_any_rate(
    spleeter_home: Path, rate: int, channels: int
) -> None:
    song = _noise_song(4.0, rate, channels)
    separator = SpleeterSeparator(stems=2)

    stems = separator.separate(song)
    separator.close()

    assert list(stems) == ["Vocals", "Instrumental"]
    # spleeter's marker of a complete folder goes beside links to it, not into it.
    assert sorted(p.name for p in (spleeter_home.parent / "models" / "2stems").iterdir()) == [
        "checkpoint", "model.data-00000-of-00001", "model.index", "model.meta"
    ]
    for stem in stems.values():
        assert (stem.sample_rate, stem.channels, stem.num_samples) == (
            rate,
            channels,
            song.num_samples,
        )
    total = stems["Vocals"].samples + stems["Instrumental"].samples
    assert _band_db(song.samples, total, rate, low=True) > 25.0
    if rate == 44100:  # above 11 kHz spleeter hands out nothing
        assert _band_db(song.samples, total, rate, low=False) < -20.0
    # Random weights still separate: neither stem is the mixture or silence.
    share = np.sum(stems["Vocals"].samples ** 2) / np.sum(total**2)
    assert 0.02 < share < 0.98


def test_four_stems_are_named_and_add_up(spleeter_home: Path) -> None:
    song = centre_panned_speech_mix(44100).mixture
    separator = SpleeterSeparator(stems=4)
    stems = separator.separate(song)
    separator.close()
    assert list(stems) == ["Vocals", "Drums", "Bass", "Other"] == list(separator.stems)
    total = np.sum([stem.samples for stem in stems.values()], axis=0)
    assert _band_db(song.samples, total, 44100, low=True) > 25.0


def test_a_long_song_in_segments_joins_without_a_seam(spleeter_home: Path) -> None:
    song = _noise_song(25.0, 44100, 2)
    whole = SpleeterSeparator(stems=2, segment_seconds=30.0)
    segmented = SpleeterSeparator(stems=2, segment_seconds=10.0)

    at_once = whole.separate(song)
    in_pieces = segmented.separate(song)
    whole.close()
    segmented.close()

    vocals, pieces = at_once["Vocals"].samples, in_pieces["Vocals"].samples
    assert pieces.shape == vocals.shape
    # spleeter's own 512-frame windows fall elsewhere in a segment, so the two are
    # close, not equal; at the joins (10 s, 20 s) no worse than anywhere else.
    snr = 10 * np.log10(np.sum(vocals**2) / np.sum((vocals - pieces) ** 2))
    assert snr > 15.0
    total = in_pieces["Vocals"].samples + in_pieces["Instrumental"].samples
    for join in (10, 20):
        around = slice(join * 44100 - 4410, join * 44100 + 4410)
        assert _band_db(song.samples[:, around], total[:, around], 44100, low=True) > 20.0


def test_a_model_folder_missing_its_checkpoint_is_a_one_line_error(
    spleeter_home: Path, tmp_path: Path
) -> None:
    (tmp_path / "models" / "2stems" / "model.index").unlink()
    separator = SpleeterSeparator(stems=2)
    with pytest.raises(UrvcError) as error:
        separator.separate(_noise_song(1.0, 44100, 2))
    message = str(error.value)
    assert "lacks model.index" in message and "[asset_paths]" in message
    assert "\n" not in message
    separator.close()


def test_the_spleeter_preset_gives_a_covers_vocals_and_instrumental(spleeter_home: Path) -> None:
    from urvc_core.separation import separate_song

    song = centre_panned_speech_mix(44100).mixture

    stems = separate_song(song, "spleeter")

    assert {"vocals", "instrumental", "lead"} <= set(stems)
    total = stems["vocals"].samples + stems["instrumental"].samples
    assert stems["vocals"].num_samples == song.num_samples
    assert _band_db(song.samples, total, 44100, low=True) > 25.0


def test_an_ensemble_mixes_spleeter_with_a_separator_run_in_process(spleeter_home: Path) -> None:
    from urvc_core.separation import separate_song

    song = centre_panned_speech_mix(44100).mixture
    steps = ["vocals=spleeter:stems=2", "vocals=dsp-center"]

    ensemble = separate_song(song, "center", steps=steps, combine=["vocals=mean"])

    spleeter = SpleeterSeparator(stems=2)
    alone = spleeter.separate(song)["Vocals"].samples
    spleeter.close()
    center = get_backend("separator", "dsp-center").separate(song)["Vocals"].samples  # type: ignore[attr-defined]
    np.testing.assert_allclose(ensemble["vocals"].samples, (alone + center) / 2, atol=1e-5)


def test_urvc_separate_writes_the_stems_and_a_missing_environment_is_one_line(
    spleeter_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from urvc_core.audio import audio_info, save_audio
    from urvc_core.cli import cli

    song = save_audio(centre_panned_speech_mix(44100).mixture, tmp_path / "song.wav")
    separated = CliRunner().invoke(
        cli, ["separate", str(song), "--separation", "spleeter", "-o", str(tmp_path / "out")]
    )
    assert separated.exit_code == 0, separated.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["song (Instrumental).wav", "song (Vocals).wav"]
    assert audio_info(tmp_path / "out" / "song (Vocals).wav").frames == audio_info(song).frames

    (spleeter_home / "envs" / "urvc-separator-spleeter").unlink()  # as after pip install alone
    monkeypatch.setenv("URVC_HOME", str(spleeter_home))
    again = ["-o", str(tmp_path / "again"), "--refresh"]  # past the cached stems
    failed = CliRunner().invoke(cli, ["separate", str(song), "--separation", "spleeter", *again])
    assert failed.exit_code == 1
    lines = [line for line in failed.output.splitlines() if line.strip()]
    assert lines[-1].endswith("run `urvc install urvc-separator-spleeter`."), failed.output
    assert not (tmp_path / "again").exists() or not list((tmp_path / "again").iterdir())
