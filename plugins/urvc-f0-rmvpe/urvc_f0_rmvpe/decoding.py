"""From RMVPE's salience map to pitch: RMVPE's local weighted average, in cents.

RMVPE scores 360 pitch bins per frame. Bin ``k`` is centred ``1997.38 + 20 k`` cents
above 10 Hz (bin 0 is 31.7 Hz, bin 359 is 2005.5 Hz; CREPE's grid). A frame's pitch is
the salience-weighted average of the bin centres over the most salient bin and the
four on either side of it (bins past either end of the grid weigh nothing), which
resolves pitch far finer than the 20-cent bins. A frame is unvoiced when its most
salient bin scores ``threshold`` or less (RVC's default 0.03). Cents become Hz as
``10 * 2 ** (cents / 1200)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PITCH_BINS = 360
CENTS_PER_BIN = 20.0
#: Bin 0's centre, in cents above 10 Hz: 31.7 Hz.
FIRST_BIN_CENTS = 1997.3794084376191
#: Cents are counted from this frequency.
CENTS_REFERENCE_HZ = 10.0
#: Bins either side of the most salient one that the average takes in.
LOCAL_AVERAGE_RADIUS = 4
#: RVC's voicing threshold on the most salient bin's score.
DEFAULT_THRESHOLD = 0.03


@dataclass(frozen=True)
class PitchEstimate:
    """Per frame: the local-average pitch in cents above 10 Hz, and the peak salience."""

    cents: np.ndarray
    confidence: np.ndarray

    def f0_hz(self, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
        """Float64 Hz, ``0`` where the peak salience is ``threshold`` or less."""
        voiced = self.confidence > threshold
        return np.where(voiced, cents_to_hz(self.cents), 0.0)

    @staticmethod
    def concatenate(parts: list[PitchEstimate]) -> PitchEstimate:
        if not parts:
            return PitchEstimate(np.zeros(0), np.zeros(0))
        return PitchEstimate(
            np.concatenate([part.cents for part in parts]),
            np.concatenate([part.confidence for part in parts]),
        )


def bin_cents() -> np.ndarray:
    """The centre of each of the 360 bins, in cents above 10 Hz."""
    return FIRST_BIN_CENTS + CENTS_PER_BIN * np.arange(PITCH_BINS)


def cents_to_hz(cents: np.ndarray | float) -> np.ndarray:
    return CENTS_REFERENCE_HZ * 2.0 ** (np.asarray(cents, dtype=np.float64) / 1200.0)


def hz_to_cents(hz: np.ndarray | float) -> np.ndarray:
    return 1200.0 * np.log2(np.asarray(hz, dtype=np.float64) / CENTS_REFERENCE_HZ)


def decode_salience(salience: np.ndarray) -> PitchEstimate:
    """The pitch and peak salience of each row of a ``(frames, 360)`` salience map."""
    scores = np.asarray(salience, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != PITCH_BINS:
        raise ValueError(f"a salience map is shaped (frames, {PITCH_BINS}); got {scores.shape}")
    frames = np.arange(len(scores))
    peak = np.argmax(scores, axis=1)  # the first of equal maxima, as numpy and RVC take it
    offsets = np.arange(-LOCAL_AVERAGE_RADIUS, LOCAL_AVERAGE_RADIUS + 1)
    neighbours = peak[:, None] + offsets[None, :]
    inside = (neighbours >= 0) & (neighbours < PITCH_BINS)
    clipped = np.clip(neighbours, 0, PITCH_BINS - 1)
    weights = np.where(inside, scores[frames[:, None], clipped], 0.0)
    centres = bin_cents()[clipped]
    total = weights.sum(axis=1)
    # Scores are sigmoids, never all zero in practice; an all-zero row (digital zeros
    # from a half-precision underflow) falls back on the peak bin's centre.
    safe_total = np.where(total > 0, total, 1.0)
    cents = np.where(total > 0, (weights * centres).sum(axis=1) / safe_total, bin_cents()[peak])
    return PitchEstimate(cents, scores[frames, peak])
