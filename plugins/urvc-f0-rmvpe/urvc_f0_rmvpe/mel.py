"""RMVPE's front end: the 128-band log-mel spectrogram it was trained on.

RMVPE reads 16 kHz audio as the magnitude (not power) of a 1024-point STFT with a
periodic Hann window of 1024 samples, every 160 samples (10 ms), frames centred on
their sample by reflecting the audio at both ends. The magnitudes go through 128 mel
filters from 30 Hz to 8 kHz and the result through ``log(max(x, 1e-5))``.

The filters are librosa's ``filters.mel(..., htk=True)`` with its default
normalisation, which is what the reference implementation builds: band edges spaced
evenly on the HTK mel scale (``2595 log10(1 + f / 700)``), triangles over the FFT
bins' frequencies, each scaled by ``2 / (upper edge - lower edge)`` so that it has the
same area (Slaney's normalisation). They are computed here with numpy, so librosa (and
numba behind it) is not needed at run time; the tests compare them with librosa's.

Frame ``i`` is centred on sample ``i * 160``: ``len(samples) // 160 + 1`` frames, the
f0 contract's own grid at 16 kHz.
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16000
HOP_LENGTH = 160
WINDOW_LENGTH = 1024
FFT_SIZE = 1024
MEL_BANDS = 128
MEL_FMIN = 30.0
MEL_FMAX = 8000.0
#: Magnitudes below this are floored before the log: log(1e-5) = -11.5 is silence.
LOG_FLOOR = 1e-5


def frame_count(num_samples: int) -> int:
    """How many mel frames ``num_samples`` of 16 kHz audio give."""
    return num_samples // HOP_LENGTH + 1


def hz_to_htk_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def htk_mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int = SAMPLE_RATE,
    fft_size: int = FFT_SIZE,
    bands: int = MEL_BANDS,
    fmin: float = MEL_FMIN,
    fmax: float = MEL_FMAX,
) -> np.ndarray:
    """Area-normalised triangular filters on the HTK mel scale, ``(bands, fft_size // 2 + 1)``.

    Computed in float64 and returned as float32, as librosa does.
    """
    bin_hz = np.linspace(0.0, sample_rate / 2, fft_size // 2 + 1)
    edges_hz = htk_mel_to_hz(np.linspace(hz_to_htk_mel(fmin), hz_to_htk_mel(fmax), bands + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    area_scale = 2.0 / (upper - lower)
    return (triangles * area_scale).astype(np.float32)


def pad_for_frames(samples: np.ndarray) -> np.ndarray:
    """16 kHz float32 samples reflected by half a window at each end, ready for :func:`log_mel`.

    Reflection beyond the audio's own length continues back and forth (numpy's rule),
    so even a clip shorter than half a window gets frames; RMVPE's reference code
    cannot read those at all.
    """
    signal = np.asarray(samples, dtype=np.float32)
    half = FFT_SIZE // 2
    if len(signal) == 0:
        return np.zeros(2 * half, dtype=np.float32)
    return np.pad(signal, (half, half), mode="reflect")


class MelFrontEnd:
    """The log-mel of frames ``[first, stop)`` of audio prepared by :func:`pad_for_frames`.

    Holds the filters and the window on the device the network runs on, so that one
    segment of a long recording at a time is moved there and transformed.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.filters = torch.from_numpy(mel_filterbank()).to(self.device)
        self.window = torch.hann_window(WINDOW_LENGTH, periodic=True, device=self.device)

    def log_mel(self, padded: np.ndarray, first: int, stop: int) -> torch.Tensor:
        """Float32 log-mel ``(128, stop - first)``; frame ``i`` centred on sample ``i * 160``."""
        start = first * HOP_LENGTH
        end = (stop - 1) * HOP_LENGTH + FFT_SIZE
        audio = torch.from_numpy(np.ascontiguousarray(padded[start:end])).to(self.device)
        spectrum = torch.stft(
            audio,
            n_fft=FFT_SIZE,
            hop_length=HOP_LENGTH,
            win_length=WINDOW_LENGTH,
            window=self.window,
            center=False,
            return_complex=True,
        )
        magnitude = spectrum.abs()
        return torch.log(torch.clamp(self.filters @ magnitude, min=LOG_FLOOR))
