"""Ensembles: several separators on the same input, each stem combined across them.

What UVR users call an ensemble. Each separator separates the input; each stem is then
combined across them by one of these methods:

============  ===========================================================================
method        each output value is
============  ===========================================================================
``mean``      the (weighted) mean of the separators' samples (UVR's "Average")
``median``    the median of the separators' samples
``min``       the sample of least magnitude, with its sign (UVR's "Min Wave")
``max``       the sample of greatest magnitude, with its sign (UVR's "Max Wave")
``min_mag``   per STFT bin: the bin of least magnitude, with its own phase
              (UVR's "Min Spec": keeps only what every separator agrees is there)
``max_mag``   per STFT bin: the bin of greatest magnitude, with its own phase
              (UVR's "Max Spec": keeps anything any separator found)
============  ===========================================================================

The spectral methods use a 2048-point Hann STFT with a 512-sample hop (75 % overlap, so
the overlap-add reconstructs exactly what was selected) and work through the song in
blocks of about 30 seconds, so their memory does not grow with the song's length.

A separation step with an ensemble (``urvc separate --separator-step`` given twice for
one step) runs through :func:`combine_stems`; any separators may be combined, of any
plugin, as long as they give stems of the same names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from urvc_core.backends import Audio
from urvc_core.errors import UrvcError
from urvc_core.presets import ENSEMBLE_METHODS

__all__ = ["ENSEMBLE_METHODS", "SAMPLE_METHODS", "SPECTRAL_METHODS", "combine_stems"]

SAMPLE_METHODS = ("mean", "median", "min", "max")
SPECTRAL_METHODS = ("min_mag", "max_mag")

_N_FFT = 2048
_HOP = 512
_BLOCK_HOPS = 2600  # about 30 s at 44.1 kHz


def combine_stems(
    stems: Sequence[Audio], method: str, *, weights: Sequence[float] | None = None
) -> Audio:
    """Combine one stem as several models gave it into one (see the module's table).

    All stems must share their sample rate, channel count and length, as every urvc
    separator's output for one input does. ``weights`` apply to ``mean`` only.
    """
    if method not in ENSEMBLE_METHODS:
        raise UrvcError(
            f"Unknown ensemble method {method!r}; use one of {', '.join(ENSEMBLE_METHODS)}."
        )
    if not stems:
        raise UrvcError("An ensemble needs at least one stem to combine.")
    first = stems[0]
    for stem in stems[1:]:
        if (stem.sample_rate, stem.channels, stem.num_samples) != (
            first.sample_rate,
            first.channels,
            first.num_samples,
        ):
            raise UrvcError(
                f"Can't combine stems of different shapes: {first.channels} channels x "
                f"{first.num_samples} samples at {first.sample_rate} Hz and "
                f"{stem.channels} x {stem.num_samples} at {stem.sample_rate} Hz."
            )
    if weights is not None:
        if method != "mean":
            raise UrvcError(f"Weights apply to the 'mean' method only, not {method!r}.")
        if len(weights) != len(stems) or not all(np.isfinite(w) and w >= 0 for w in weights):
            raise UrvcError(
                f"Give one weight of 0 or more per model: {len(stems)} models, "
                f"weights {list(weights)}."
            )
        if sum(weights) <= 0:
            raise UrvcError("The ensemble weights add up to 0; give at least one a weight.")
    if len(stems) == 1:
        return first
    if method in SPECTRAL_METHODS:
        combined = np.stack(
            [
                _select_bins([stem.samples[channel] for stem in stems], method)
                for channel in range(first.channels)
            ]
        )
    else:
        combined = _combine_samples([stem.samples for stem in stems], method, weights)
    return Audio(combined.astype(np.float32), first.sample_rate)


def _combine_samples(
    arrays: Sequence[np.ndarray], method: str, weights: Sequence[float] | None
) -> np.ndarray:
    stack = np.stack(arrays)
    if method == "mean":
        w = np.ones(len(arrays)) if weights is None else np.asarray(weights, dtype=np.float64)
        return np.tensordot(w / w.sum(), stack, axes=1)
    if method == "median":
        return np.median(stack, axis=0)
    magnitude = np.abs(stack)
    pick = magnitude.argmin(axis=0) if method == "min" else magnitude.argmax(axis=0)
    return np.take_along_axis(stack, pick[np.newaxis], axis=0)[0]


def _select_bins(signals: Sequence[np.ndarray], method: str) -> np.ndarray:
    """One channel: per STFT bin, the signals' value of least or greatest magnitude."""
    length = len(signals[0])
    out = np.zeros(length, dtype=np.float32)
    block = _BLOCK_HOPS * _HOP
    # Blocks start on the hop grid and reach one frame beyond their core on each side,
    # so every frame that touches the core is whole and matches a whole-signal STFT.
    margin = _N_FFT
    for core_start in range(0, length, block):
        core_end = min(core_start + block, length)
        start = max(0, core_start - margin)
        end = min(length, core_end + margin)
        selected = _select_bins_block([s[start:end] for s in signals], method)
        out[core_start:core_end] = selected[core_start - start : core_end - start]
    return out


def _select_bins_block(signals: Sequence[np.ndarray], method: str) -> np.ndarray:
    from scipy.signal import istft, stft

    length = len(signals[0])
    padding = max(0, _N_FFT - length)
    spectra = np.stack(
        [
            stft(
                np.pad(signal.astype(np.float64), (0, padding)),
                window="hann",
                nperseg=_N_FFT,
                noverlap=_N_FFT - _HOP,
            )[2]
            for signal in signals
        ]
    )
    magnitude = np.abs(spectra)
    pick = magnitude.argmin(axis=0) if method == "min_mag" else magnitude.argmax(axis=0)
    chosen = np.take_along_axis(spectra, pick[np.newaxis], axis=0)[0]
    _, samples = istft(chosen, window="hann", nperseg=_N_FFT, noverlap=_N_FFT - _HOP)
    return np.asarray(samples[:length], dtype=np.float32)
