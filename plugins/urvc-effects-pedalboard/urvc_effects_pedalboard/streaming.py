"""Running a pedalboard plugin over a track block by block, tail included.

A pedalboard plugin keeps its state (filter memories, a reverb's comb filters, a
compressor's envelope) between calls made with ``reset=False``, so feeding it a track in
fixed-size blocks gives what one call over the whole track gives, while only one block
of pedalboard's own buffers exists at a time. The output goes straight into one array
allocated up front: a track sits in memory twice (in and out), never more.

Plugins with latency (resampling, the codecs, the limiter's look-ahead) hand back fewer
samples than they were given at first; pedalboard already strips that leading delay, so
the output stays aligned with the input and feeding silence after the end brings out
the rest. Effects that ring on (reverb, delay) are fed silence past the end of the input
until what comes out has stayed below :data:`TAIL_FLOOR_DB` for a while, or until the
effect's longest allowed tail: the output is longer than the input by that tail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from urvc_core.backends import Audio

#: Samples per block handed to a plugin: pedalboard's own default buffer size.
BLOCK_SIZE = 8192
#: Silence fed after the input to bring out what a plugin's latency holds back; far more
#: than any pedalboard plugin's latency, so reaching it means the plugin is stuck.
MAX_LATENCY_SECONDS = 10.0
#: A tail has ended once the output stays below this level (dBFS): 24-bit files resolve
#: to about -144 dBFS, but nobody hears a tail 80 dB below full scale under a mix.
TAIL_FLOOR_DB = -80.0

Progress = Callable[[float], None]


@dataclass(frozen=True)
class RingOut:
    """How long to keep feeding silence after the input ends, for an effect with a tail.

    ``quiet_seconds`` is how long the output must stay below the floor before the tail
    counts as over: at least the longest gap the effect can leave between the input and
    the next sound it makes (a delay's echo time, an impulse response's length).
    """

    max_seconds: float
    quiet_seconds: float = 0.25


def stream_through_plugin(
    plugin: Any,
    audio: Audio,
    *,
    ring_out: RingOut | None = None,
    progress: Progress | None = None,
    block_size: int = BLOCK_SIZE,
) -> Audio:
    """``audio`` processed by the pedalboard ``plugin`` in blocks of ``block_size`` samples.

    Without ``ring_out`` the output has the input's length exactly; with it, the output
    goes on for as long as the effect rings above :data:`TAIL_FLOOR_DB` dBFS, at most
    ``ring_out.max_seconds``. ``progress`` is called with the fraction of the input done.
    """
    samples = audio.samples
    channels, length = samples.shape
    if length == 0:
        return Audio(samples.copy(), audio.sample_rate)
    rate = audio.sample_rate
    floor = np.float32(10.0 ** (TAIL_FLOOR_DB / 20.0))
    max_tail = round(ring_out.max_seconds * rate) if ring_out else 0
    quiet_needed = max(1, round(ring_out.quiet_seconds * rate)) if ring_out else 0

    # Room for the longest tail is set aside at once and the unused end sliced off, so a
    # ringing effect never copies the whole track to append its tail.
    capacity = length + max_tail
    output = np.empty((channels, capacity), dtype=np.float32)
    # Every block has the full size, the last one padded with silence: pedalboard tells
    # the channel axis from the shorter dimension, so a 2-channel block of one sample
    # would be read as one channel of two samples.
    padded = np.zeros((channels, block_size), dtype=np.float32)
    plugin.reset()
    consumed = 0  # input samples handed over (the padding not counted)
    produced = 0  # output samples received, aligned with the input sample for sample
    last_loud = length - 1  # the last sample above the floor, once past the input
    flushed = 0  # silence fed after the input
    while True:
        if consumed < length:
            count = min(block_size, length - consumed)
            block = samples[:, consumed : consumed + count]
            if count < block_size:
                padded[:] = 0.0
                padded[:, :count] = block
                block = padded
            consumed += count
        else:
            if produced < length and flushed > MAX_LATENCY_SECONDS * rate:
                raise RuntimeError(
                    f"pedalboard's {type(plugin).__name__} gave back {produced} of {length} "
                    f"samples and no more after {MAX_LATENCY_SECONDS:g} s of silence"
                )
            padded[:] = 0.0
            block = padded
            flushed += block_size
        processed = plugin.process(block, rate, buffer_size=block_size, reset=False)
        if processed.ndim == 1:
            processed = processed[np.newaxis, :]
        kept = min(processed.shape[1], capacity - produced)
        output[:, produced : produced + kept] = processed[:, :kept]
        if produced + kept > length:
            first = max(produced, length)
            beyond = output[:, first : produced + kept]
            loud = np.flatnonzero(np.max(np.abs(beyond), axis=0) > floor)
            if loud.size:
                last_loud = first + int(loud[-1])
        produced += processed.shape[1]
        if progress is not None:
            progress(min(consumed, produced, length) / length)
        if produced < length:
            continue
        if ring_out is None or produced >= capacity:
            break
        if produced - (last_loud + 1) >= quiet_needed:
            break

    return Audio(output[:, : last_loud + 1], rate)
