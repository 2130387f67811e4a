"""The converted song's last steps, done a block at a time as the chunks come.

The synthesizer's chunks come out in order, each overlapping the next by the crossfade;
what lies before the next chunk's start is final. :class:`SongFinisher` takes the song
from there to its destination, an array (:class:`SongInMemory`) or a file
(:func:`~urvc_core.audio.open_audio_writer`):

1. the chunks are added up where they overlap;
2. the loudness envelope is mixed toward the input's (RVC's RMS mix,
   :func:`mix_loudness_envelope`), which needs about a second of what follows;
3. formant shift and noise reduction, when asked for, work on the whole song (Praat and
   noisereduce take it whole), so then the song is gathered first;
4. the samples are clipped to [-1, 1] and resampled to the output rate.

Only a chunk and a second or two around it are held at a time, so a song converted
straight to a file takes no more memory for ten minutes than for thirty seconds. The
numbers are those of the same steps on the whole array, to the bit.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from urvc_core.audio import StreamResampler

#: Whole-song arrays are worked through this many samples at a time, so their float64
#: temporaries stay small.
_SAMPLES_PER_BLOCK = 1 << 20


class SongSink(Protocol):
    """Where finished samples go: ``write`` takes them shaped ``(1, frames)``."""

    def write(self, samples: np.ndarray) -> None: ...


class SongInMemory:
    """A :class:`SongSink` that keeps the finished song as one array of known length."""

    def __init__(self, frames: int) -> None:
        self.samples = np.zeros((1, frames), dtype=np.float32)
        self.filled = 0

    def write(self, samples: np.ndarray) -> None:
        count = min(samples.shape[1], self.samples.shape[1] - self.filled)
        self.samples[:, self.filled : self.filled + count] = samples[:, :count]
        self.filled += samples.shape[1]


class LoudnessEnvelopeMix:
    """RVC's RMS mix for a converted song that arrives in order, a block at a time.

    ``rate`` 1 keeps the converted voice's envelope, 0 imposes the input's. Both
    envelopes are RMS over windows of a second centred every half second, linearly
    stretched over the song; a converted sample is mixed once the two envelope points
    around it are known, which takes up to a second of the samples after it.
    """

    def __init__(
        self,
        source: np.ndarray,
        source_rate: int,
        total: int,
        converted_rate: int,
        rate: float,
    ) -> None:
        self.rate = rate
        self.total = total
        self.passes_through = rate >= 1.0 or total == 0
        self._hop = converted_rate // 2
        self._window = converted_rate // 2 * 2
        self._source_rms = (
            np.zeros(0) if self.passes_through else _half_second_rms(source, source_rate)
        )
        self._converted_rms = np.zeros(1 + total // self._hop)
        self._step = (len(self._converted_rms) - 1) / (total - 1) if total > 1 else 0.0
        self._known = 0  # converted envelope points computed
        self._held = np.zeros(0, dtype=np.float32)  # samples from _held_start on
        self._held_start = 0
        self._mixed = 0  # samples handed back

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Take the next ``samples`` of the song; returns those now mixed (maybe none)."""
        if self.passes_through:
            return samples
        self._held = np.concatenate([self._held, samples.astype(np.float32, copy=False)])
        arrived = self._held_start + len(self._held)
        hop, window = self._hop, self._window
        while self._known < len(self._converted_rms):
            index = self._known
            low, high = max(0, index * hop - hop), min(self.total, index * hop + hop)
            if high > arrived:
                break
            held = self._held[low - self._held_start : high - self._held_start]
            squares = held.astype(np.float64) ** 2
            self._converted_rms[index] = np.sqrt(np.sum(squares) / window)
            self._known += 1
        if self._known == len(self._converted_rms):
            ready = arrived
        else:
            # Sample s sits between envelope points floor(s * step) and the next: both
            # must be known.
            positions = np.arange(self._mixed, arrived, dtype=np.float64) * self._step
            ready = self._mixed + int(np.searchsorted(positions, self._known - 1, side="left"))
        mixed = np.empty(ready - self._mixed, dtype=np.float32)
        for first in range(self._mixed, ready, _SAMPLES_PER_BLOCK):
            stop = min(ready, first + _SAMPLES_PER_BLOCK)
            source_envelope = _stretched(self._source_rms, first, stop, self.total)
            converted_envelope = np.maximum(
                _stretched(self._converted_rms, first, stop, self.total), 1e-6
            )
            gain = (source_envelope ** (1 - self.rate)) * (converted_envelope ** (self.rate - 1))
            held = self._held[first - self._held_start : stop - self._held_start]
            mixed[first - self._mixed : stop - self._mixed] = held * gain
        self._mixed = ready
        # Keep what is not mixed yet and what the next envelope window still reads.
        keep_from = min(self._mixed, max(0, self._known * hop - hop))
        self._held = self._held[keep_from - self._held_start :].copy()
        self._held_start = keep_from
        return mixed


def mix_loudness_envelope(
    source: np.ndarray,
    source_rate: int,
    converted: np.ndarray,
    converted_rate: int,
    rate: float,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """RVC's RMS mix on a whole array: scale ``converted`` toward the input's loudness
    envelope (see :class:`LoudnessEnvelopeMix`). The result goes to ``out`` (which may
    be ``converted`` itself) or a new array."""
    if rate >= 1.0 or len(converted) == 0:
        if out is None or out is converted:
            return converted
        out[:] = converted
        return out
    if out is None:
        out = np.empty_like(converted, dtype=np.float32)
    mix = LoudnessEnvelopeMix(source, source_rate, len(converted), converted_rate, rate)
    written = 0
    for first in range(0, len(converted), _SAMPLES_PER_BLOCK):
        # The mix copies what it holds, so writing over ``converted`` behind it is safe.
        mixed = mix.push(converted[first : first + _SAMPLES_PER_BLOCK])
        out[written : written + len(mixed)] = mixed
        written += len(mixed)
    return out


def _half_second_rms(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS of windows of a second (zeros beyond the ends), centred every half second."""
    window = sample_rate // 2 * 2
    hop = sample_rate // 2
    count = 1 + len(samples) // hop
    rms = np.empty(count, dtype=np.float64)
    for index in range(count):
        low = max(0, index * hop - window // 2)
        high = max(low, min(len(samples), index * hop + window // 2))
        squares = samples[low:high].astype(np.float64) ** 2
        rms[index] = np.sqrt(np.sum(squares) / window)
    return rms


def _stretched(values: np.ndarray, first: int, stop: int, count: int) -> np.ndarray:
    """Samples ``[first, stop)`` of ``values`` linearly stretched to ``count`` samples:
    ``np.interp`` at ``np.linspace(0, len(values) - 1, count)``, a block of it."""
    last = len(values) - 1
    step = last / (count - 1) if count > 1 else 0.0
    positions = np.arange(first, stop, dtype=np.float64) * step
    if stop == count and count > 1:
        positions[-1] = last
    return np.interp(positions, np.arange(len(values)), values)


def shift_formants(audio: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Move the formants by ``semitones`` and keep the pitch (Praat's "Change gender")."""
    if semitones == 0 or len(audio) == 0:
        return audio
    import parselmouth

    sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sample_rate)
    ratio = 2 ** (semitones / 12)
    # Arguments: pitch floor, ceiling (Hz), formant shift ratio, new pitch median (0 keeps
    # it), pitch range factor, duration factor.
    shifted = parselmouth.praat.call(sound, "Change gender", 75, 600, ratio, 0, 1, 1)
    values = np.asarray(shifted.values[0], dtype=np.float32)
    if len(values) >= len(audio):
        return values[: len(audio)]
    return np.pad(values, (0, len(audio) - len(values)))


def reduce_noise(audio: np.ndarray, sample_rate: int, strength: float) -> np.ndarray:
    """Spectral-gating noise reduction (noisereduce), ``strength`` 0..1."""
    if strength <= 0 or len(audio) == 0:
        return audio
    import noisereduce

    cleaned = noisereduce.reduce_noise(
        y=audio, sr=sample_rate, prop_decrease=strength, stationary=False
    )
    return np.asarray(cleaned, dtype=np.float32)


class SongFinisher:
    """The converted song, from its overlapping chunks to ``sink``, finished on the way.

    ``total`` samples at ``rate`` (the model's); ``source`` is the 16 kHz input whose
    loudness envelope is mixed in at ``rms_mix_rate``; ``formant`` (semitones) and
    ``clean_strength`` (0 for none) are the whole-song steps; ``output_rate`` is what
    the sink gets. Call :meth:`add` for each chunk and :meth:`final_before` once what
    lies before a point can change no more; :meth:`close` at the end.
    """

    def __init__(
        self,
        sink: SongSink,
        *,
        total: int,
        rate: int,
        source: np.ndarray,
        source_rate: int,
        rms_mix_rate: float,
        formant: float = 0.0,
        clean_strength: float = 0.0,
        output_rate: int | None = None,
    ) -> None:
        self.total = total
        self.rate = rate
        self.output_rate = output_rate or rate
        self._sink = sink
        self._mix = LoudnessEnvelopeMix(source, source_rate, total, rate, rms_mix_rate)
        self._formant = formant
        self._clean_strength = clean_strength
        self._whole_song: np.ndarray | None = None
        if formant != 0 or clean_strength > 0:
            self._whole_song = np.zeros(total, dtype=np.float32)
        self._gathered = 0
        self._resampler = (
            StreamResampler(rate, self.output_rate, 1) if self.output_rate != rate else None
        )
        self._pending = np.zeros(0, dtype=np.float32)  # samples from _pending_start on
        self._pending_start = 0

    @staticmethod
    def output_frames(total: int, rate: int, output_rate: int | None) -> int:
        """How many samples the sink gets for a song of ``total`` samples at ``rate``."""
        if not output_rate or output_rate == rate:
            return total
        return round(total * output_rate / rate)

    def add(self, position: int, samples: np.ndarray) -> None:
        """Add a chunk's ``samples`` starting at sample ``position`` of the song."""
        if position < self._pending_start:
            raise ValueError(f"a chunk at {position} comes after {self._pending_start} was final")
        end = position + len(samples)
        if end > self._pending_start + len(self._pending):
            grown = np.zeros(end - self._pending_start, dtype=np.float32)
            grown[: len(self._pending)] = self._pending
            self._pending = grown
        start = position - self._pending_start
        self._pending[start : start + len(samples)] += samples

    def final_before(self, position: int) -> None:
        """Samples before ``position`` are final: send them on their way."""
        count = position - self._pending_start
        if count <= 0:
            return
        if count > len(self._pending):  # a gap no chunk covers (a silence left out)
            self._pending = np.pad(self._pending, (0, count - len(self._pending)))
        final, self._pending = self._pending[:count], self._pending[count:].copy()
        self._pending_start = position
        self._mixed(self._mix.push(final))

    def close(self) -> None:
        """Finish the song: everything is final, the whole-song steps run, the sink has it all."""
        self.final_before(self.total)
        if self._whole_song is not None:
            song = shift_formants(self._whole_song, self.rate, self._formant)
            if self._clean_strength > 0:
                song = reduce_noise(song, self.rate, self._clean_strength)
            self._whole_song = None
            self._send(song)
        if self._resampler is not None:
            self._sink.write(self._resampler.finish())

    def _mixed(self, samples: np.ndarray) -> None:
        if self._whole_song is not None:
            self._whole_song[self._gathered : self._gathered + len(samples)] = samples
            self._gathered += len(samples)
        else:
            self._send(samples)

    def _send(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        block = np.clip(samples, -1.0, 1.0)[np.newaxis, :]
        if self._resampler is not None:
            block = self._resampler.resample(block)
        self._sink.write(block)
