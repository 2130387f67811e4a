"""Decoding RMVPE's salience maps: hand-made maps whose pitch is known."""

from __future__ import annotations

import numpy as np
import pytest
from urvc_f0_rmvpe.decoding import (
    PITCH_BINS,
    PitchEstimate,
    bin_cents,
    cents_to_hz,
    decode_salience,
    hz_to_cents,
)

#: Bin 0: 1997.38 cents above 10 Hz, which is 31.70 Hz (CREPE's grid, which RMVPE shares).
FIRST_BIN_CENTS = 1997.3794084376191


def one_frame(**bins: float) -> np.ndarray:
    """A (1, 360) map that is zero except for the bins given as ``b<index>=score``."""
    salience = np.zeros((1, PITCH_BINS), dtype=np.float32)
    for name, score in bins.items():
        salience[0, int(name[1:])] = score
    return salience


def brute_force_cents(row: np.ndarray) -> float:
    """RMVPE's rule written as a plain loop: the weighted mean of the 9 bins around the peak."""
    peak = int(np.argmax(row))
    total = weighted = 0.0
    for index in range(peak - 4, peak + 5):
        if 0 <= index < PITCH_BINS:
            total += float(row[index])
            weighted += float(row[index]) * (FIRST_BIN_CENTS + 20.0 * index)
    return weighted / total


def test_bins_are_20_cents_apart_from_31_7_hz() -> None:
    cents = bin_cents()
    assert cents[0] == pytest.approx(FIRST_BIN_CENTS)
    assert cents_to_hz(cents[0]) == pytest.approx(31.7, abs=1e-6)
    assert np.allclose(np.diff(cents), 20.0)
    assert cents_to_hz(cents[-1]) == pytest.approx(2005.5, abs=0.1)
    assert cents_to_hz(1200.0) == pytest.approx(20.0)
    assert hz_to_cents(440.0) == pytest.approx(1200 * np.log2(44.0))


def test_a_single_bin_gives_its_centre() -> None:
    for index in (0, 57, 200, 359):
        estimate = decode_salience(one_frame(**{f"b{index}": 0.9}))
        assert estimate.cents[0] == pytest.approx(FIRST_BIN_CENTS + 20 * index)
        assert estimate.confidence[0] == pytest.approx(0.9)


def test_two_equal_neighbours_give_the_point_between() -> None:
    estimate = decode_salience(one_frame(b100=0.5, b101=0.5))
    assert estimate.cents[0] == pytest.approx(FIRST_BIN_CENTS + 20 * 100 + 10)


def test_a_symmetric_peak_gives_its_centre_and_an_uneven_one_leans() -> None:
    symmetric = one_frame(b146=0.1, b147=0.3, b148=0.8, b149=0.3, b150=0.1)
    assert decode_salience(symmetric).cents[0] == pytest.approx(FIRST_BIN_CENTS + 20 * 148)
    uneven = one_frame(b147=0.2, b148=0.8, b149=0.6)
    expected = FIRST_BIN_CENTS + 20 * (0.2 * 147 + 0.8 * 148 + 0.6 * 149) / 1.6
    assert decode_salience(uneven).cents[0] == pytest.approx(expected)


def test_only_four_bins_either_side_count() -> None:
    inside = decode_salience(one_frame(b100=0.9, b104=0.9 * 0.5)).cents[0]
    assert inside == pytest.approx(FIRST_BIN_CENTS + 20 * (100 * 0.9 + 104 * 0.45) / 1.35)
    outside = decode_salience(one_frame(b100=0.9, b105=0.8, b95=0.8)).cents[0]
    assert outside == pytest.approx(FIRST_BIN_CENTS + 20 * 100)


def test_bins_past_the_ends_weigh_nothing() -> None:
    bottom = decode_salience(one_frame(b0=0.9, b1=0.3)).cents[0]
    assert bottom == pytest.approx(FIRST_BIN_CENTS + 20 * 0.3 / 1.2)
    top = decode_salience(one_frame(b359=0.6, b358=0.6)).cents[0]
    assert top == pytest.approx(FIRST_BIN_CENTS + 20 * 358.5)


def test_the_first_of_equal_peaks_wins() -> None:
    estimate = decode_salience(one_frame(b10=0.7, b300=0.7))
    assert estimate.cents[0] == pytest.approx(FIRST_BIN_CENTS + 20 * 10)


def test_a_gaussian_bump_is_located_within_a_cent() -> None:
    """RMVPE is trained on targets blurred by a Gaussian of 1 bin (20 cents)."""
    for f0 in (98.0, 220.0, 443.3, 1000.0):
        centre = (hz_to_cents(f0) - FIRST_BIN_CENTS) / 20.0
        salience = np.exp(-0.5 * (np.arange(PITCH_BINS) - centre) ** 2)[None, :] * 0.95
        estimate = decode_salience(salience.astype(np.float32))
        error = abs(1200 * np.log2(cents_to_hz(estimate.cents[0]) / f0))
        assert error < 1.0, f"{f0} Hz decoded {error:.2f} cents off"


def test_agrees_with_a_plain_loop_on_random_maps() -> None:
    rng = np.random.default_rng(7)
    salience = rng.uniform(0.0, 1.0, (64, PITCH_BINS)).astype(np.float32) ** 6
    salience[5, :] = 0.0
    salience[5, 3] = 0.4  # a peak at the bottom edge
    salience[6, -2:] = 1.0  # a peak at the top edge
    estimate = decode_salience(salience)
    expected = [brute_force_cents(row) for row in salience]
    assert np.allclose(estimate.cents, expected, rtol=0, atol=1e-6)
    assert np.array_equal(estimate.confidence, salience.max(axis=1).astype(np.float64))


def test_threshold_voices_only_peaks_above_it() -> None:
    salience = np.concatenate(
        [one_frame(b100=0.03), one_frame(b100=0.0301), one_frame(b100=0.5), one_frame()]
    )
    estimate = decode_salience(salience)
    f0 = estimate.f0_hz(0.03)
    assert f0[0] == 0.0, "a peak equal to the threshold is unvoiced, as in RVC"
    assert f0[1] == pytest.approx(cents_to_hz(FIRST_BIN_CENTS + 2000))
    assert f0[2] == pytest.approx(cents_to_hz(FIRST_BIN_CENTS + 2000))
    assert f0[3] == 0.0
    assert np.all(estimate.f0_hz(0.0)[:3] > 0), "threshold 0 voices any non-zero peak"
    assert estimate.f0_hz(0.0)[3] == 0.0, "an all-zero frame is never voiced"
    assert np.all(estimate.f0_hz(1.0) == 0), "nothing scores above 1"


def test_decoding_refuses_a_map_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="360"):
        decode_salience(np.zeros((10, 128)))


def test_estimates_concatenate_in_order() -> None:
    first = decode_salience(one_frame(b1=0.5))
    second = decode_salience(np.concatenate([one_frame(b2=0.5), one_frame(b3=0.5)]))
    joined = PitchEstimate.concatenate([first, second])
    assert np.allclose(joined.cents, FIRST_BIN_CENTS + 20 * np.array([1, 2, 3]))
    assert len(PitchEstimate.concatenate([]).cents) == 0
