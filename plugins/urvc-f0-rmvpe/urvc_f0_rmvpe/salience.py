"""Running RMVPE over a recording of any length, in segments of bounded memory.

The network's memory grows with the number of frames it sees at once: about 110 kB
per 10 ms frame on a CPU in float32 (the U-Net keeps five full-size feature maps for
its skip connections), so three minutes in one pass take 2 GB. Long recordings are
therefore cut into segments of ``segment_frames``. Each segment is run with
``context_frames`` of the real spectrogram on each side (the U-Net's convolutions and
the GRU see across the cut), and only its own frames are kept. Segments start on
multiples of 32 frames, so the U-Net's pooling grid is the one a single pass over the
whole recording would use, and the last segment is padded at the recording's end
exactly as a single pass is. What remains of a cut is the context the network no
longer sees beyond ``context_frames``; the tests measure it.

A recording short enough for one segment and its context is run in one pass, which
is exactly the reference implementation's computation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from urvc_f0_rmvpe.decoding import PitchEstimate, decode_salience
from urvc_f0_rmvpe.mel import MelFrontEnd, frame_count, pad_for_frames
from urvc_f0_rmvpe.network import TIME_MULTIPLE

#: What runs the network: an :class:`~urvc_f0_rmvpe.network.RmvpeNetwork`, or the ONNX
#: Runtime session that stands in for it. Log-mel ``(1, 128, frames)`` in, salience
#: ``(1, frames, 360)`` out.
Network = Callable[[torch.Tensor], torch.Tensor]

#: Real spectrogram run on each side of a segment and then dropped: 2.56 s. With random
#: weights a cut's effect on the salience falls to float32 rounding within 128 frames
#: of context (largest difference from a single pass: 2e-4 with 32 frames, 3e-6 with
#: 64, 2e-7 with 128); trained weights may look further, hence twice that.
DEFAULT_CONTEXT_FRAMES = 256


@dataclass(frozen=True)
class SegmentPlan:
    """Which frames each network pass sees (``window``) and which of them it keeps (``core``)."""

    core: tuple[int, int]
    window: tuple[int, int]


def plan_segments(
    total_frames: int, segment_frames: int | None, context_frames: int = DEFAULT_CONTEXT_FRAMES
) -> list[SegmentPlan]:
    """Cut ``total_frames`` into segments; ``None`` (or a long enough segment) is one pass.

    ``segment_frames`` and ``context_frames`` are rounded up to multiples of 32 so that
    every window starts on the single pass's pooling grid.
    """
    if total_frames <= 0:
        return []
    if segment_frames is None:
        return [SegmentPlan((0, total_frames), (0, total_frames))]
    segment = _round_up(max(1, segment_frames), TIME_MULTIPLE)
    context = _round_up(max(0, context_frames), TIME_MULTIPLE)
    if total_frames <= segment + context:
        return [SegmentPlan((0, total_frames), (0, total_frames))]
    plans = []
    for start in range(0, total_frames, segment):
        stop = min(start + segment, total_frames)
        window = (max(0, start - context), min(total_frames, stop + context))
        plans.append(SegmentPlan((start, stop), window))
    return plans


def pad_frames_to_multiple(log_mel: torch.Tensor, multiple: int = TIME_MULTIPLE) -> torch.Tensor:
    """``(..., frames)`` padded at the end to a multiple of ``multiple`` by reflection.

    RMVPE's reference pads this way. A clip too short to reflect once (fewer frames
    than the padding needs) is reflected back and forth, as numpy's ``reflect`` does.
    """
    frames = log_mel.shape[-1]
    missing = -frames % multiple
    if missing == 0:
        return log_mel
    if frames == 1:
        return log_mel.expand(*log_mel.shape[:-1], frames + missing)
    period = 2 * (frames - 1)
    positions = np.arange(frames, frames + missing) % period
    mirrored = np.where(positions < frames, positions, period - positions)
    index = torch.as_tensor(mirrored, device=log_mel.device)
    return torch.cat((log_mel, log_mel.index_select(-1, index)), dim=-1)


def iter_salience(
    network: Network,
    samples_16k: np.ndarray,
    *,
    segment_frames: int | None,
    context_frames: int = DEFAULT_CONTEXT_FRAMES,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(first frame, float32 salience (frames, 360))`` for each segment, in order.

    ``network`` must already be on ``device`` in ``dtype``. The log-mel is computed in
    float32 and cast to ``dtype`` only for the network.
    """
    total = frame_count(len(samples_16k))
    padded = pad_for_frames(samples_16k)
    front_end = MelFrontEnd(device)
    with torch.inference_mode():
        for plan in plan_segments(total, segment_frames, context_frames):
            first, stop = plan.window
            log_mel = front_end.log_mel(padded, first, stop)
            network_input = pad_frames_to_multiple(log_mel[None]).to(dtype)
            salience = network(network_input)[0].float()
            keep_from = plan.core[0] - first
            keep_to = plan.core[1] - first
            yield plan.core[0], salience[keep_from:keep_to].cpu().numpy()


def estimate_pitch(
    network: Network,
    samples_16k: np.ndarray,
    *,
    segment_frames: int | None,
    context_frames: int = DEFAULT_CONTEXT_FRAMES,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> PitchEstimate:
    """Pitch and peak salience for every 10 ms frame of 16 kHz audio.

    Each segment's salience map is decoded as soon as it is computed, so the
    ``(frames, 360)`` map of a long recording is never held whole.
    """
    parts = [
        decode_salience(salience)
        for _, salience in iter_salience(
            network,
            samples_16k,
            segment_frames=segment_frames,
            context_frames=context_frames,
            device=device,
            dtype=dtype,
        )
    ]
    return PitchEstimate.concatenate(parts)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
