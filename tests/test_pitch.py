"""The pitch tools of the conversion engine, on hand-made curves with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from urvc_core.errors import BackendNotFoundError, UrvcError
from urvc_core.rvc.pitch import (
    F0_CURVE_HEADER,
    F0Curve,
    auto_pitch_shift,
    autotune_f0,
    combine_f0,
    extract_pitch,
    interpolate_f0,
    read_f0_curve,
    shift_f0,
    steer_f0,
    write_f0_curve,
)
from urvc_core.testing import signals


def cents(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    return 1200.0 * np.log2(np.asarray(a, dtype=np.float64) / np.asarray(b, dtype=np.float64))


# --- combining ----------------------------------------------------------------------------

CURVES = [
    np.array([100.0, 0.0, 200.0, 0.0, 150.0], dtype=np.float32),
    np.array([400.0, 0.0, 0.0, 0.0, 150.0], dtype=np.float32),
    np.array([100.0, 300.0, 0.0, 0.0, 0.0], dtype=np.float32),
]


def test_combine_takes_only_the_curves_voiced_in_each_frame() -> None:
    median = combine_f0(CURVES, "median")
    assert median.dtype == np.float32
    np.testing.assert_allclose(median, [100.0, 300.0, 200.0, 0.0, 150.0], rtol=1e-6)
    np.testing.assert_allclose(combine_f0(CURVES, "min"), [100, 300, 200, 0, 150], rtol=1e-6)
    np.testing.assert_allclose(combine_f0(CURVES, "max"), [400, 300, 200, 0, 150], rtol=1e-6)
    # The mean is taken in log-frequency: the geometric mean of 100, 400 and 100 Hz.
    expected_mean = (100.0 * 400.0 * 100.0) ** (1 / 3)
    np.testing.assert_allclose(
        combine_f0(CURVES, "mean"), [expected_mean, 300, 200, 0, 150], rtol=1e-6
    )


def test_median_of_two_voiced_values_is_the_pitch_halfway_between_them() -> None:
    combined = combine_f0([np.array([100.0, 0.0]), np.array([400.0, 0.0])], "median")
    np.testing.assert_allclose(combined, [200.0, 0.0])


def test_a_single_curve_combines_to_itself_and_bad_input_is_refused() -> None:
    np.testing.assert_array_equal(combine_f0([CURVES[0]]), CURVES[0])
    with pytest.raises(UrvcError, match="no 'average'"):
        combine_f0(CURVES, "average")
    with pytest.raises(UrvcError, match="one length"):
        combine_f0([np.ones(4), np.ones(5)])
    with pytest.raises(UrvcError, match="at least one"):
        combine_f0([])


# --- shifting, tuning, auto pitch ---------------------------------------------------------


def test_shift_by_an_octave_doubles_and_halves_and_keeps_unvoiced_frames() -> None:
    f0 = np.array([110.0, 0.0, 220.0, 261.63], dtype=np.float32)
    up = shift_f0(f0, 12)
    assert up.dtype == np.float32
    np.testing.assert_allclose(up, [220.0, 0.0, 440.0, 523.26], rtol=1e-6)
    np.testing.assert_allclose(shift_f0(f0, -12), [55.0, 0.0, 110.0, 130.815], rtol=1e-6)
    np.testing.assert_allclose(cents(shift_f0(f0, 0.5)[f0 > 0], f0[f0 > 0]), 50.0, atol=1e-3)


def test_autotune_at_full_strength_lands_on_equal_tempered_notes() -> None:
    rng = np.random.default_rng(7)
    f0 = 80.0 * 2.0 ** rng.uniform(0, 3, 500)  # three octaves of arbitrary pitches
    f0[::7] = 0.0
    tuned = autotune_f0(f0, 1.0)
    voiced = f0 > 0
    assert np.all(tuned[~voiced] == 0.0)
    semitones_from_a4 = 12.0 * np.log2(tuned[voiced] / 440.0)
    assert np.max(np.abs(semitones_from_a4 - np.round(semitones_from_a4))) * 100 < 1.0
    # Each frame goes to its nearest note: never more than 50 cents away.
    assert np.max(np.abs(cents(tuned[voiced], f0[voiced]))) <= 50.0 + 1e-6
    np.testing.assert_allclose(
        autotune_f0(np.array([440.0, 261.63]), 1.0), [440.0, 261.6256], rtol=1e-5
    )


def test_autotune_at_zero_strength_changes_nothing_and_half_goes_halfway() -> None:
    f0 = np.array([0.0, 100.0, 233.0, 450.0])
    np.testing.assert_allclose(autotune_f0(f0, 0.0), f0)
    # 450 Hz is 38.9 cents above A4: half strength leaves it 19.5 cents above.
    assert cents(autotune_f0(f0, 0.5)[3], 440.0) == pytest.approx(cents(450.0, 440.0) / 2)
    with pytest.raises(UrvcError, match="0 to 1"):
        autotune_f0(f0, 1.5)


def test_auto_pitch_moves_a_110_hz_voice_toward_155_hz() -> None:
    voice = np.full(300, 110.0)
    voice[::4] = 0.0  # unvoiced frames do not count
    # 12 * log2(155 / 110) = 5.94 semitones, rounded to 6.
    assert auto_pitch_shift(voice, target_hz=155.0) == 6.0
    # Octave mode rounds that to whole octaves, a tritone or more counting as one.
    assert auto_pitch_shift(voice, target_hz=155.0, mode="octaves") == 12.0


def test_auto_pitch_in_other_cases() -> None:
    assert auto_pitch_shift(np.full(10, 155.0)) == 0.0
    assert auto_pitch_shift(np.full(10, 310.0)) == -12.0
    assert auto_pitch_shift(np.full(10, 310.0), mode="octaves") == -12.0
    # 130 Hz to 155 Hz is 3.04 semitones: +3, and no octave.
    assert auto_pitch_shift(np.full(10, 130.0)) == 3.0
    assert auto_pitch_shift(np.full(10, 130.0), mode="octaves") == 0.0
    # The median voice, not the mean: a few wild frames do not move it.
    voice = np.array([110.0] * 9 + [900.0])
    assert auto_pitch_shift(voice) == 6.0
    assert auto_pitch_shift(np.zeros(10)) == 0.0
    with pytest.raises(UrvcError, match="no 'tones'"):
        auto_pitch_shift(voice, mode="tones")
    with pytest.raises(UrvcError, match="positive"):
        auto_pitch_shift(voice, target_hz=0.0)


# --- pitch curve files --------------------------------------------------------------------


def test_a_curve_survives_a_round_trip_through_its_file(tmp_path: Path) -> None:
    curve = F0Curve.from_frames(np.array([0.0, 110.0, 123.47, 0.0, 261.6256]), 0.01)
    path = write_f0_curve(tmp_path / "sub" / "pitch.csv", curve)
    lines = path.read_text().splitlines()
    assert lines[0] == F0_CURVE_HEADER == "time_s,f0_hz"
    assert lines[2] == "0.010000,110.0000"
    back = read_f0_curve(path)
    np.testing.assert_allclose(back.times, curve.times, atol=1e-6)
    np.testing.assert_allclose(back.f0_hz, curve.f0_hz, atol=1e-4)
    assert not list(path.parent.glob(".pitch.csv.*")), "a temporary file was left behind"


@pytest.mark.parametrize(
    "text",
    [
        "0.00 0\n0.01 110.5\n0.02 111\n",  # whitespace, no header
        "time\tfrequency\n0.00\t0\n0.01\t110.5\n0.02\t111\n",  # tabs and a header
        "# made by hand\n\ntime;f0\n0.00;0\n0.01;110.5\n\n0.02;111\n",  # comments, blanks
        "0.00,nan\n0.01,110.5\n0.02,111.0\n",  # pyin's nan for unvoiced
        "\ufefftime_s,f0_hz\r\n0,0\r\n0.01,110.5\r\n0.02,111\r\n",  # BOM and CRLF
    ],
)
def test_two_column_files_of_other_tools_are_read(tmp_path: Path, text: str) -> None:
    path = tmp_path / "curve.txt"
    path.write_text(text, encoding="utf-8", newline="")
    curve = read_f0_curve(path)
    np.testing.assert_allclose(curve.times, [0.0, 0.01, 0.02])
    np.testing.assert_allclose(curve.f0_hz, [0.0, 110.5, 111.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time_s,f0_hz\n0.0,100\n0.01,abc\n", r"line 3: '0\.01,abc' is not two numbers"),
        ("time_s,f0_hz\n0.0,100,0.9\n", "line 2: expected two columns"),
        ("time_s,f0_hz\n0.0,100\n0.02,100\n0.01,100\n", r"line 4: time 0\.01 s does not come"),
        ("time_s,f0_hz\n0.0,100\n0.0,100\n", "line 3: time 0 s does not come"),
        ("time_s,f0_hz\n0.0,100\n0.01,-5\n", "line 3: f0 -5 Hz is negative"),
        ("time_s,f0_hz\n0.0,inf\n", "line 2: time and f0 must be finite"),
        ("0.0,abc\n0.01,100\n", r"line 1: '0\.0,abc' is not two numbers"),
        ("time_s,f0_hz\n", "has no data"),
        ("", "has no data"),
    ],
)
def test_malformed_curve_files_are_refused_with_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(UrvcError, match=message):
        read_f0_curve(path)


def test_a_missing_curve_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UrvcError, match=r"nope\.csv does not exist"):
        read_f0_curve(tmp_path / "nope.csv")


def test_a_curve_checks_itself() -> None:
    with pytest.raises(UrvcError, match="must rise"):
        F0Curve(np.array([0.0, 0.2, 0.1]), np.array([1.0, 1.0, 1.0]))
    with pytest.raises(UrvcError, match="negative"):
        F0Curve(np.array([0.0, 0.1]), np.array([100.0, -1.0]))
    with pytest.raises(UrvcError, match="one f0 per time"):
        F0Curve(np.array([0.0, 0.1]), np.array([100.0]))


# --- resampling a curve -------------------------------------------------------------------


def test_resampling_interpolates_in_log_frequency_within_voiced_spans() -> None:
    curve = F0Curve(np.array([0.0, 0.1, 0.2, 0.3, 0.4]), np.array([100.0, 400.0, 0.0, 0.0, 200.0]))
    frames = curve.resample_to(50, 0.01)
    assert frames.dtype == np.float32 and frames.shape == (50,)
    # Halfway between 100 and 400 Hz in time is 200 Hz: halfway in pitch.
    assert frames[5] == pytest.approx(200.0, rel=1e-5)
    assert frames[2] == pytest.approx(100.0 * 4.0**0.2, rel=1e-5)
    # Next to an unvoiced point a frame takes the nearer point: 0.14 s is still voiced,
    # 0.16 s is not, and the unvoiced stretch stays unvoiced up to 0.35 s.
    assert frames[14] == pytest.approx(400.0, rel=1e-5)
    assert np.all(frames[16:35] == 0.0)
    assert frames[36] == pytest.approx(200.0, rel=1e-5)
    # Past the end of the curve (plus half a point-spacing) nothing is known: unvoiced.
    assert frames[44] == pytest.approx(200.0, rel=1e-5)
    assert np.all(frames[46:] == 0.0)


def test_interpolation_can_hold_the_ends() -> None:
    f0 = interpolate_f0(np.array([0.0, 0.1]), np.array([100.0, 100.0]), np.array([0.5]))
    assert f0[0] == 0.0
    held = interpolate_f0(
        np.array([0.0, 0.1]), np.array([100.0, 100.0]), np.array([0.5]), reach=np.inf
    )
    assert held[0] == pytest.approx(100.0)


# --- guides and extraction ----------------------------------------------------------------


def test_steering_corrects_octaves_and_replaces_what_strays() -> None:
    extracted = np.array([220.0, 110.0, 300.0, 0.0, 150.0, 180.0])
    guide = np.array([110.0, 110.0, 110.0, 110.0, 0.0, 170.0])
    steered = steer_f0(extracted, guide)
    np.testing.assert_allclose(
        steered,
        [
            110.0,  # an octave too high: moved down an octave
            110.0,  # agrees: kept
            110.0,  # 300 Hz is 1.4 octaves up; folded to 150 Hz, still 537 cents off: guide
            0.0,  # unvoiced in the extraction: stays unvoiced
            150.0,  # the guide has no opinion: the extraction stands
            180.0,  # 99 cents from the guide: within the tolerance, kept
        ],
    )
    strict = steer_f0(extracted, guide, tolerance_cents=50.0)
    assert strict[5] == 170.0


def test_a_guide_without_methods_is_the_pitch() -> None:
    guide = F0Curve(np.array([0.0, 0.5, 1.0]), np.array([200.0, 200.0, 0.0]))
    samples = np.zeros(16000, dtype=np.float32)
    f0 = extract_pitch(samples, 16000, methods=[], guide=guide)
    assert f0.shape == (101,) and f0.dtype == np.float32
    np.testing.assert_allclose(f0[:75], 200.0)
    assert np.all(f0[76:] == 0.0)
    with pytest.raises(UrvcError, match="at least one pitch extraction method"):
        extract_pitch(samples, 16000, methods=[])


def test_extract_pitch_combines_the_named_backends() -> None:
    tone = signals.harmonic_tone(220.0, 0.5, 16000).samples[0]
    f0 = extract_pitch(tone, 16000, methods=["pm", "harvest", "dio"], combine="median")
    assert f0.shape == (len(tone) // 160 + 1,) and f0.dtype == np.float32
    assert signals.voiced_fraction(f0) > 0.95
    assert np.median(signals.cents_error(f0, np.full(len(f0), 220.0))) < 5.0
    with pytest.raises(BackendNotFoundError, match="no f0 extractor named 'pmm'"):
        extract_pitch(tone, 16000, methods=["pmm"])


def test_a_guide_an_octave_below_pulls_the_extraction_down_and_keeps_its_voicing() -> None:
    sample_rate = 16000
    tone = signals.harmonic_tone(220.0, 0.5, sample_rate).samples[0]
    samples = np.concatenate([tone, np.zeros(sample_rate // 2, dtype=np.float32)])
    guide = F0Curve(np.array([0.0, 1.0]), np.array([110.0, 110.0]))  # voiced throughout
    plain = extract_pitch(samples, sample_rate, methods=["pm"])
    steered = extract_pitch(samples, sample_rate, methods=["pm"], guide=guide)
    voiced = plain > 0
    # The tone's frames move down an octave, each keeping its own fine pitch...
    np.testing.assert_allclose(steered[voiced], plain[voiced] / 2, rtol=1e-6)
    # ...and the silent half stays unvoiced although the guide's note goes on.
    assert np.all(steered[~voiced] == 0.0)
    assert signals.voiced_fraction(steered[55:]) == 0.0
