"""Voice conversion: a recording in, the same performance in the voice of an RVC model out.

The steps, as RVC does them:

1. the input is read at 16 kHz mono and high-passed at 48 Hz (rumble only confuses
   the embedder and the pitch extractor);
2. pitch (f0) is extracted over the whole input, every 10 ms, by one or several
   extractors; then auto pitch, the user's shift, median filtering and autotune apply;
3. content features come from the embedder (HuBERT/ContentVec layer 12, or 9 projected
   to 256 dims for v1 models), 50 per second; the voice's index pulls them toward the
   training voice (``index_rate``); they are doubled to 100 per second to meet the pitch;
   ``protect`` keeps unvoiced frames (breaths, consonants) closer to the input's features;
4. the synthesizer turns features and pitch into audio at the model's rate;
5. the loudness envelope is mixed back toward the input's (``rms_mix_rate``), formants
   shifted, noise reduced, and the result resampled to the requested rate.

Long inputs are processed in chunks of about :data:`CHUNK_SECONDS`, cut at the quietest
point near each boundary, each with :data:`CONTEXT_SECONDS` of real neighbouring audio
on both sides that is converted and then dropped, and joined with a short crossfade: so
memory stays flat in the input's length and the joins don't click. The synthesizer's
noise is drawn once for the whole input, so chunking changes as little as possible.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from urvc_core.allocator import release_freed_memory, return_large_blocks_to_the_system
from urvc_core.backends import Audio
from urvc_core.errors import UrvcError
from urvc_core.rvc.finishing import SongFinisher, SongInMemory
from urvc_core.rvc.request import ConversionRequest, ResolvedEmbedder, resolve_conversion
from urvc_core.rvc.settings import ConversionSettings

if TYPE_CHECKING:
    from urvc_core.rvc.chunk_noise import ChunkNoise

#: Every sample rate inside the engine up to the synthesizer.
ENGINE_RATE = 16000
#: Pitch and synthesizer frames: 10 ms at 16 kHz.
FRAME_HOP = 160
#: Embedder frames: 20 ms at 16 kHz; they are doubled to meet the pitch frames.
EMBEDDER_HOP = 320
#: About how long each chunk of a long input is.
CHUNK_SECONDS = 20.0
#: How far from the nominal boundary the cut may move to find a quiet point.
CUT_SEARCH_SECONDS = 3.0
#: Real audio converted on each side of a chunk and then dropped.
CONTEXT_SECONDS = 1.0
#: Length of the crossfade at each join, in frames (10 ms each).
CROSSFADE_FRAMES = 4
#: Whole-song arrays are worked through this many frames or samples at a time, so
#: their float64 temporaries stay small.
_FRAMES_PER_BLOCK = 1 << 14
_SAMPLES_PER_BLOCK = 1 << 20
#: Silence, for split_audio: quieter than this for at least MIN_SILENCE_SECONDS.
SILENCE_DB = -45.0
MIN_SILENCE_SECONDS = 0.3


@dataclass
class ConversionResult:
    """A converted recording and how it was made."""

    model: str
    settings: ConversionSettings
    f0_methods: list[str]
    embedder: str
    #: The pitch shift applied, auto pitch included, in semitones.
    pitch_shift: float
    #: Seconds spent per stage: f0, embedder, index, synthesizer, post.
    timings: dict[str, float] = field(default_factory=dict)
    output_path: Path | None = None
    source: str | None = None
    notes: list[str] = field(default_factory=list)
    #: The torch device the voice model ran on (cpu, cuda, cuda:1...).
    device: str | None = None
    #: The converted audio's rate and length (an mp3 file may hold another rate).
    sample_rate: int = 0
    duration: float = 0.0
    #: The converted samples, where the conversion kept them (see :attr:`audio`).
    samples_in_memory: Audio | None = field(default=None, repr=False)

    @property
    def audio(self) -> Audio:
        """The converted audio. A conversion written straight to its file
        (:meth:`VoiceConverter.convert_to_file`, ``convert_voice`` with an output) keeps
        none in memory: the file is read back when this is first asked for."""
        if self.samples_in_memory is None:
            if self.output_path is None:
                raise UrvcError("This conversion kept no audio and wrote no file.")
            from urvc_core.audio import load_audio

            self.samples_in_memory = load_audio(self.output_path)
        return self.samples_in_memory

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "output": str(self.output_path) if self.output_path else None,
            "model": self.model,
            "device": self.device,
            "sample_rate": self.sample_rate,
            "duration": self.duration,
            "f0_methods": self.f0_methods,
            "embedder": self.embedder,
            "pitch_shift": self.pitch_shift,
            "settings": self.settings.as_dict(),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Chunk:
    """Frames ``[start, end)`` of the input to keep, converted with ``context`` around."""

    start: int
    end: int


def plan_chunks(
    frame_energy_db: np.ndarray,
    *,
    chunk_frames: int,
    search_frames: int,
    split_at_silence: bool = False,
) -> list[Chunk]:
    """Cut ``len(frame_energy_db)`` frames into chunks at quiet frames.

    With ``split_at_silence``, every stretch of silence also separates chunks, and the
    silent stretches themselves are left out (they come out silent).
    """
    total = len(frame_energy_db)
    if total == 0:
        return []
    spans = _voiced_spans(frame_energy_db) if split_at_silence else [(0, total)]
    chunks: list[Chunk] = []
    smoothed = np.convolve(frame_energy_db, np.ones(9) / 9, mode="same")
    for span_start, span_end in spans:
        start = span_start
        while span_end - start > chunk_frames + search_frames:
            nominal = start + chunk_frames
            low = max(start + chunk_frames // 2, nominal - search_frames)
            high = min(span_end - chunk_frames // 4, nominal + search_frames)
            cut = low + int(np.argmin(smoothed[low:high])) if high > low else nominal
            chunks.append(Chunk(start, cut))
            start = cut
        chunks.append(Chunk(start, span_end))
    return chunks


def _voiced_spans(frame_energy_db: np.ndarray) -> list[tuple[int, int]]:
    """The stretches between silences of at least MIN_SILENCE_SECONDS."""
    min_silence = int(MIN_SILENCE_SECONDS * ENGINE_RATE / FRAME_HOP)
    loud = frame_energy_db > SILENCE_DB
    spans: list[tuple[int, int]] = []
    start: int | None = None
    quiet_run = 0
    for index, is_loud in enumerate(loud):
        if is_loud:
            if start is None:
                start = index
            quiet_run = 0
        elif start is not None:
            quiet_run += 1
            if quiet_run >= min_silence:
                spans.append((start, index - quiet_run + 1))
                start = None
                quiet_run = 0
    if start is not None:
        spans.append((start, len(loud) - quiet_run))
    return [(a, b) for a, b in spans if b > a]


def frame_energy_db(samples: np.ndarray) -> np.ndarray:
    """RMS level of each 10 ms frame, in dBFS."""
    frames = len(samples) // FRAME_HOP
    power = np.empty(frames, dtype=np.float64)
    # A block of frames at a time: float64 squares of a whole song would be 8 bytes a sample.
    for first in range(0, frames, _FRAMES_PER_BLOCK):
        stop = min(frames, first + _FRAMES_PER_BLOCK)
        block = samples[first * FRAME_HOP : stop * FRAME_HOP].astype(np.float64)
        power[first:stop] = (block**2).reshape(stop - first, -1).mean(1)
    return (10 * np.log10(power + 1e-12)).astype(np.float32)


def highpass_48hz(samples: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """RVC's input filter: a 5th-order Butterworth high-pass at 48 Hz, zero phase.

    The numbers of ``scipy.signal.sosfiltfilt`` (odd extension at both ends, the
    filter's steady state as its start), computed a block at a time: the whole-song
    float64 copies it makes would be the largest arrays of a long conversion. The
    result goes to ``out`` (float32, as long as ``samples``; it may be ``samples``
    itself: the forward pass has read all of it before anything is written) or a new
    array.
    """
    from scipy import signal

    sos = _highpass_sections()
    if len(samples) <= 30:  # too short for filtfilt's padding; nothing to remove anyway
        return samples.astype(np.float32)
    # scipy's default padding: three times the filter's taps, less the first-order
    # section's missing ones.
    taps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    pad = 3 * taps
    x = samples.astype(np.float32, copy=False)
    # As scipy's odd_ext computes it, in the input's own precision.
    before = 2 * x[0] - x[pad:0:-1]
    after = 2 * x[-1] - x[-2 : -(pad + 2) : -1]
    steady = signal.sosfilt_zi(sos)

    forward = np.empty(len(x) + 2 * pad, dtype=np.float64)
    state = steady * before[0]
    position = 0
    pieces = [
        before,
        *(x[i : i + _SAMPLES_PER_BLOCK] for i in range(0, len(x), _SAMPLES_PER_BLOCK)),
    ]
    for piece in [*pieces, after]:
        filtered, state = signal.sosfilt(sos, piece, zi=state)
        forward[position : position + len(piece)] = filtered
        position += len(piece)

    result = np.empty(len(x), dtype=np.float32) if out is None else out
    state = steady * forward[-1]
    for stop in range(len(forward), 0, -_SAMPLES_PER_BLOCK):
        start = max(0, stop - _SAMPLES_PER_BLOCK)
        filtered, state = signal.sosfilt(sos, forward[start:stop][::-1], zi=state)
        # filtered[k] is the backward pass at forward index stop - 1 - k.
        low, high = max(start, pad), min(stop, pad + len(x))
        if high > low:
            result[low - pad : high - pad] = filtered[stop - high : stop - low][::-1]
    return result


@functools.cache
def _highpass_sections() -> np.ndarray:
    from scipy import signal

    return np.asarray(signal.butter(5, 48, btype="highpass", fs=ENGINE_RATE, output="sos"))


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


class VoiceConverter:
    """A voice model with its index and embedder loaded, ready to convert many recordings.

    Loading is the slow part; a batch keeps one converter and calls :meth:`convert` for
    each input.
    """

    def __init__(
        self,
        model: str | Path | ConversionRequest,
        *,
        embedder: str = "auto",
        precision: str = "fp32",
        device: str | None = None,
    ) -> None:
        """Load what ``model`` names: a :class:`ConversionRequest` (from
        :func:`~urvc_core.rvc.request.resolve_conversion`), or a library name or
        ``.pth`` path with the embedder and precision to load it with, onto ``device``
        (default: auto, see :func:`~urvc_core.devices.resolve_device`)."""
        from urvc_core.devices import resolve_device
        from urvc_core.rvc.feature_index import FeatureIndex
        from urvc_core.rvc.voice_model import VoiceModel

        if not isinstance(model, ConversionRequest):
            model = resolve_conversion(model, {"embedder": embedder, "precision": precision})
        # Chunks of every length would otherwise each leave their activations' heap
        # blocks behind, and memory would grow with the song.
        return_large_blocks_to_the_system()
        self.request = model
        voice = model.voice
        self.device = resolve_device(device or "auto")
        self.model = VoiceModel.load(
            voice.model_path, device=self.device, precision=model.settings.precision
        )
        self.info = self.model.info
        self.index = FeatureIndex.load(voice.index_path) if voice.index_path else None
        if self.index is not None and self.index.dim != self.info.embedder_dim:
            raise UrvcError(
                f"The index {voice.index_path} holds {self.index.dim}-dim features but "
                f"the voice model {voice.name} ({self.info.version}) needs "
                f"{self.info.embedder_dim}; import the index that was trained with it."
            )
        self.embedder_name = model.embedder.name
        self.embedder = load_embedder(model.embedder, self.device, model.settings.precision)

    @property
    def name(self) -> str:
        return self.request.voice.name

    def convert(
        self,
        audio: Audio | str | Path,
        request: ConversionRequest | ConversionSettings | None = None,
        *,
        progress: Callable[[float], None] | None = None,
    ) -> ConversionResult:
        """Convert ``audio`` (any rate, any channels; or a file, read at 16 kHz mono a
        block at a time) as ``request`` says: its settings and f0 methods (by default the
        request the converter was loaded with). Plain :class:`ConversionSettings` are
        resolved the same way first."""

        def in_memory(frames: int, rate: int) -> Any:
            return nullcontext(SongInMemory(frames))

        result, song = self._convert(audio, request, progress, in_memory)
        result.samples_in_memory = Audio(song.samples, result.sample_rate)
        return result

    def convert_to_file(
        self,
        audio: Audio | str | Path,
        output: str | Path,
        request: ConversionRequest | ConversionSettings | None = None,
        *,
        progress: Callable[[float], None] | None = None,
        output_format: str | None = None,
        bitrate_kbps: int | None = None,
    ) -> ConversionResult:
        """:meth:`convert`, written to ``output`` as the song is converted, never whole
        in memory: a ten-minute song takes no more memory than a short one. The file
        appears whole when the conversion ends, and not at all when it fails.
        ``output_format`` and ``bitrate_kbps`` are as for
        :func:`~urvc_core.audio.save_audio`; the result's :attr:`~ConversionResult.audio`
        reads the file back when asked for."""
        from urvc_core.audio import open_audio_writer, write_format_for

        path = Path(output)
        write_format_for(path, output_format)

        def to_file(frames: int, rate: int) -> Any:
            return open_audio_writer(path, rate, 1, format=output_format, bitrate_kbps=bitrate_kbps)

        result, _ = self._convert(audio, request, progress, to_file)
        result.output_path = path
        return result

    def _convert(
        self,
        audio: Audio | str | Path,
        request: ConversionRequest | ConversionSettings | None,
        progress: Callable[[float], None] | None,
        open_sink: Callable[[int, int], Any],
    ) -> tuple[ConversionResult, Any]:
        """The conversion, its finished song going to ``open_sink(frames, rate)``'s
        context: what it enters is the sink (a :class:`~urvc_core.rvc.finishing.SongSink`),
        returned beside the result."""
        import soxr
        import torch

        from urvc_core.rvc import pitch as pitch_tools
        from urvc_core.rvc.chunk_noise import ChunkNoise

        if request is None:
            request = self.request
        elif isinstance(request, ConversionSettings):
            request = self.request.with_settings(**request.as_dict())
        settings = request.settings
        timings: dict[str, float] = {}
        notes: list[str] = list(request.notes)
        if self.info.pitch_guidance is False and settings.pitch != 0:
            notes.append("The voice model has no pitch guidance: pitch settings have no effect.")
        if settings.speaker_id >= self.info.speakers:
            raise UrvcError(
                f"The voice model {self.name} has {self.info.speakers} speaker(s): use a "
                f"speaker id from 0 to {self.info.speakers - 1}."
            )
        if isinstance(audio, Audio):
            mono = audio.to_mono().samples[0]
            samples = (
                mono
                if audio.sample_rate == ENGINE_RATE
                else soxr.resample(mono, audio.sample_rate, ENGINE_RATE, "VHQ").astype(np.float32)
            )
            own_samples = samples is not mono
        else:
            from urvc_core.audio import load_audio

            samples = load_audio(audio, sample_rate=ENGINE_RATE, channels=1).samples[0]
            own_samples = True
        if len(samples) == 0:
            raise UrvcError("The input has no samples to convert.")
        # The 16 kHz input is filtered in place where it is the converter's own copy, so
        # a long song is held once; a caller's array is left as it was.
        samples = highpass_48hz(samples, out=samples if own_samples else None)
        frame_count = len(samples) // FRAME_HOP

        methods: list[str] = []
        pitch_shift = settings.pitch
        f0 = np.zeros(frame_count, dtype=np.float32)
        if self.info.pitch_guidance:
            with _timed(timings, "f0"):
                methods = list(request.f0_methods)
                f0 = self._extract_f0(samples, settings, methods)
                f0 = f0[:frame_count]
                if settings.auto_pitch != "off":
                    target = settings.auto_pitch_target or _model_median_f0(self.info) or 155.0
                    automatic = pitch_tools.auto_pitch_shift(
                        f0, target_hz=target, mode=settings.auto_pitch
                    )
                    pitch_shift += automatic
                    notes.append(f"Auto pitch: {automatic:+g} semitones toward {target:g} Hz.")
                f0 = pitch_tools.shift_f0(f0, pitch_shift)
                if settings.filter_radius >= 3:
                    f0 = _median_filter_voiced(f0, settings.filter_radius)
                if settings.autotune:
                    f0 = pitch_tools.autotune_f0(f0, settings.autotune_strength)
                f0 = f0.astype(np.float32)

        # Whole-file pitch tracking leaves freed buffers the allocator would otherwise
        # keep, under everything the chunks allocate next.
        release_freed_memory()
        energy = frame_energy_db(samples)
        chunks = plan_chunks(
            energy,
            chunk_frames=int(CHUNK_SECONDS * 100),
            search_frames=int(CUT_SEARCH_SECONDS * 100),
            split_at_silence=settings.split_audio,
        )
        hop_out = self.model.hop_length
        total = frame_count * hop_out
        rate = self.info.sample_rate
        output_rate = settings.output_sr or rate
        context = int(CONTEXT_SECONDS * 100)
        kept = [_kept_frames(chunks, position) for position in range(len(chunks))]
        # Noise and the sine source's phase are drawn and accumulated once over the whole
        # input (padded by the context at both ends), and each chunk takes its slice: so a
        # chunk continues exactly where the previous one left off. The noise is handed
        # out a chunk's window at a time (indexed from the start of the padded input).
        noise = ChunkNoise(
            self.model.inter_channels,
            frame_count + 2 * context,
            settings.seed,
            [keep_start for keep_start, _ in kept],
        )
        phases = None
        if self.info.pitch_guidance:
            padded_f0 = _slice_with_edges(f0, -context, frame_count + context, frame_count)
            phases = self.model.source_phases(torch.from_numpy(padded_f0.astype(np.float32)))
        done = 0
        frames_out = SongFinisher.output_frames(total, rate, output_rate)
        with open_sink(frames_out, output_rate) as sink:
            finisher = SongFinisher(
                sink,
                total=total,
                rate=rate,
                source=samples,
                source_rate=ENGINE_RATE,
                rms_mix_rate=settings.rms_mix_rate,
                formant=settings.formant,
                clean_strength=settings.clean_strength if settings.clean else 0.0,
                output_rate=output_rate,
            )
            for position, chunk in enumerate(chunks):
                previous_joined = position > 0 and chunks[position - 1].end == chunk.start
                next_joined = position + 1 < len(chunks) and chunks[position + 1].start == chunk.end
                keep_start, keep_end = kept[position]
                converted = self._convert_frames(
                    samples, f0, noise, phases, keep_start, keep_end, context, settings, timings
                )
                if previous_joined:
                    fade = np.linspace(0, 1, CROSSFADE_FRAMES * hop_out, dtype=np.float32)
                    converted[: len(fade)] *= fade
                if next_joined:
                    fade = np.linspace(1, 0, CROSSFADE_FRAMES * hop_out, dtype=np.float32)
                    converted[-len(fade) :] *= fade
                with _timed(timings, "post"):
                    finisher.add(keep_start * hop_out, converted)
                    # What comes before the next chunk's share can change no more.
                    following = kept[position + 1][0] if position + 1 < len(chunks) else None
                    finisher.final_before(total if following is None else following * hop_out)
                # A chunk's activations are freed; without this their heap pages stay
                # resident under the next chunk's embedder (about 80 MB, full-size model).
                release_freed_memory()
                done += chunk.end - chunk.start
                if progress is not None:
                    progress(done / max(frame_count, 1))
            with _timed(timings, "post"):
                finisher.close()
        result = ConversionResult(
            model=self.name,
            settings=settings,
            f0_methods=methods,
            embedder=self.embedder_name,
            pitch_shift=pitch_shift,
            timings=timings,
            notes=notes,
            sample_rate=output_rate,
            duration=frames_out / output_rate,
        )
        return result, sink

    def _extract_f0(
        self, samples: np.ndarray, settings: ConversionSettings, methods: Sequence[str]
    ) -> np.ndarray:
        from urvc_core.rvc import pitch as pitch_tools

        guide = pitch_tools.read_f0_curve(Path(settings.f0_file)) if settings.f0_file else None
        f0 = pitch_tools.extract_pitch(
            samples,
            ENGINE_RATE,
            methods=methods,
            combine=settings.f0_combine,
            hop_length=FRAME_HOP,
            f0_min=settings.f0_min,
            f0_max=settings.f0_max,
            guide=guide,
            # hop_length is crepe's analysis hop, as in Ultimate RVC and Applio.
            backend_settings={
                name: {"hop_length": settings.hop_length} for name in ("crepe", "crepe-tiny")
            },
        )
        return np.asarray(f0, dtype=np.float32)

    def _convert_frames(
        self,
        samples: np.ndarray,
        f0: np.ndarray,
        noise: ChunkNoise,
        phases: Any,
        start: int,
        end: int,
        context: int,
        settings: ConversionSettings,
        timings: dict[str, float],
    ) -> np.ndarray:
        """Output samples for frames ``[start, end)``, converted with context around them."""
        import torch

        total = len(f0)
        # Context comes from the real neighbours where there are some, and is mirrored at
        # the edges of the input (as RVC pads), so every chunk sees the same surroundings.
        before, after = context, context
        window = _frames_with_context(samples, start, end, before, after)
        frames = end - start + before + after
        with _timed(timings, "embedder"):
            layer, project = (9, True) if self.info.version == "v1" else (12, False)
            features = self.embedder.embed(window, layer=layer, project=project)
        original = features
        if self.index is not None and settings.index_rate > 0:
            with _timed(timings, "index"):
                features = self.index.blend(features, settings.index_rate)
        with _timed(timings, "synthesizer"):
            doubled = _double_frames(features, frames)
            pitch_hz = None
            if self.info.pitch_guidance:
                pitch_window = _slice_with_edges(f0, start - before, end + after, total)
                if settings.protect < 0.5:
                    doubled_original = _double_frames(original, frames)
                    weight = np.where(pitch_window > 0, 1.0, settings.protect)[:, None]
                    doubled = doubled * weight + doubled_original * (1 - weight)
                pitch_hz = torch.from_numpy(pitch_window.astype(np.float32))
            # noise and phases are indexed from the start of the padded input.
            first = start - before + context
            noise_window = noise.window(first, first + frames)
            audio = self.model.synthesize(
                torch.from_numpy(doubled.astype(np.float32)),
                pitch_hz,
                speaker_id=settings.speaker_id,
                noise=noise_window,
                start_phase=float(phases[first]) if phases is not None else 0.0,
            )
            converted = audio.detach().float().cpu().numpy()
        hop_out = self.model.hop_length
        return converted[before * hop_out : (before + end - start) * hop_out].copy()


def _kept_frames(chunks: Sequence[Chunk], position: int) -> tuple[int, int]:
    """The frames chunk ``position`` converts and keeps: its own, and half the crossfade
    into each neighbour it is joined to."""
    chunk = chunks[position]
    previous_joined = position > 0 and chunks[position - 1].end == chunk.start
    next_joined = position + 1 < len(chunks) and chunks[position + 1].start == chunk.end
    return (
        chunk.start - (CROSSFADE_FRAMES // 2 if previous_joined else 0),
        chunk.end + (CROSSFADE_FRAMES // 2 if next_joined else 0),
    )


def _frames_with_context(
    samples: np.ndarray, start: int, end: int, before: int, after: int
) -> np.ndarray:
    """Samples of frames ``[start - before, end + after)``, mirrored past the edges."""
    first = (start - before) * FRAME_HOP
    last = (end + after) * FRAME_HOP
    left_pad = max(0, -first)
    right_pad = max(0, last - len(samples))
    window = samples[max(0, first) : min(len(samples), last)]
    if left_pad or right_pad:
        if len(window) > max(left_pad, right_pad):
            window = np.pad(window, (left_pad, right_pad), mode="reflect")
        else:  # too short to mirror: silence around it
            window = np.pad(window, (left_pad, right_pad))
    return window.astype(np.float32)


def _slice_with_edges(values: np.ndarray, first: int, last: int, total: int) -> np.ndarray:
    """``values[first:last]``, repeating the edge values where the range runs outside."""
    indices = np.clip(np.arange(first, last), 0, total - 1)
    return values[indices]


def _double_frames(features: np.ndarray, frames: int) -> np.ndarray:
    """Embedder frames (50/s) repeated to pitch frames (100/s), trimmed or padded to ``frames``.

    RVC doubles with nearest-neighbour interpolation, which is a repeat.
    """
    doubled = np.repeat(features, 2, axis=0)
    if len(doubled) >= frames:
        return doubled[:frames]
    return np.pad(doubled, ((0, frames - len(doubled)), (0, 0)), mode="edge")


def _median_filter_voiced(f0: np.ndarray, radius: int) -> np.ndarray:
    from scipy import signal

    size = radius if radius % 2 == 1 else radius + 1
    filtered = signal.medfilt(f0.astype(np.float64), size)
    # Keep voicing decisions as extracted: the filter only smooths voiced values.
    return np.where(f0 > 0, np.where(filtered > 0, filtered, f0), 0.0).astype(np.float32)


def _model_median_f0(info: Any) -> float | None:
    for key in ("f0_median", "f0_mean", "median_f0"):
        value = info.metadata.get(key)
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return None


def load_embedder(embedder: ResolvedEmbedder, device: str, precision: str) -> Any:
    """The embedder backend a request names, from the registry, computing in the
    conversion's precision where it has a precision setting. In bf16 that takes 44 % off
    the embedder's time (full-size ContentVec, 2 cores) and the output stays as close to
    fp32's as with an fp32 embedder (49.9 dB either way): the synthesizer's bf16 decides."""
    from urvc_core.registry import backend_registry

    name = "custom" if embedder.path is not None else embedder.name
    options: dict[str, Any] = {"device": device}
    if embedder.path is not None:
        options["path"] = str(embedder.path)
    backend_class = backend_registry().info("embedder", name).backend_class
    if precision != "fp32" and any(s.name == "precision" for s in backend_class.settings):
        options["precision"] = precision
    return backend_class(**options)


def convert_voice(
    source: str | Path | Audio,
    model: str | Path,
    *,
    output: str | Path | None = None,
    output_format: str | None = None,
    converter: VoiceConverter | None = None,
    progress: Callable[[float], None] | None = None,
    device: str | None = None,
    **settings: Any,
) -> ConversionResult:
    """Convert a recording (a file path or :class:`Audio`) with a voice model.

    ``model`` is a library name (``urvc models list``) or a path to a ``.pth``.
    ``settings`` are those of :data:`~urvc_core.rvc.settings.CONVERSION_SETTINGS`, over
    the ``[convert]`` defaults of config.toml. With ``output`` the result is written
    there (wav/flac/ogg/mp3, from ``output_format`` or the suffix) as it is converted,
    never whole in memory (:meth:`VoiceConverter.convert_to_file`), and its path
    recorded; an output that is the source itself is refused before any work. A file
    source is read at the engine's 16 kHz mono a block at a time.
    ``device`` is where the models run: ``cpu``, ``cuda``, ``cuda:1``, ``mps`` or
    ``auto`` (default: config.toml's device; see :mod:`urvc_core.devices`).
    Pass a :class:`VoiceConverter` to reuse loaded models across calls; it runs on the
    device it was loaded on.
    """
    from urvc_core.audio import audio_info, check_output_is_not_an_input, write_format_for
    from urvc_core.devices import parse_devices, use_device

    if output is not None and output_format is not None:
        output = Path(output).with_suffix(f".{output_format}")
    if output is not None:
        write_format_for(output)
        check_output_is_not_an_input(output, [None if isinstance(source, Audio) else source])
    asked = None if device is None else parse_devices([device])[0]
    if converter is not None and asked is not None and asked != converter.device:
        raise UrvcError(
            f"The converter given to convert_voice is loaded on {converter.device}, not on "
            f"device={device}; leave device out, or load a VoiceConverter on {device}."
        )
    # The pitch extractors follow the converter's device where theirs is auto.
    with use_device(asked if converter is None else converter.device):
        if converter is None:
            request = resolve_conversion(model, settings)
        else:
            request = converter.request.with_settings(**settings)
        if converter is None:
            if not isinstance(source, Audio):
                # A file that can't be read fails before the models load; the converter
                # reads it itself, a block at a time.
                audio_info(source)
            converter = VoiceConverter(request)
        if output is None:
            result = converter.convert(source, request, progress=progress)
        else:
            result = converter.convert_to_file(source, output, request, progress=progress)
    result.device = converter.device
    result.source = None if isinstance(source, Audio) else str(source)
    return result


def default_output_name(source: Path, model_name: str, output_format: str) -> str:
    """``<input stem> (<voice> Ver).<format>``, as Ultimate RVC names its results."""
    return f"{source.stem} ({model_name} Ver).{output_format}"


def convert_voices(
    sources: Sequence[str | Path],
    model: str | Path,
    *,
    output_dir: str | Path,
    output_format: str = "wav",
    progress: Callable[[int, int, float], None] | None = None,
    device: str | None = None,
    devices: Sequence[str] | None = None,
    **settings: Any,
) -> list[ConversionResult]:
    """Convert several files (or every audio file in folders) with one loaded model.

    ``device`` is where the models run, as for :func:`convert_voice`. ``devices``
    (``["cuda:0", "cuda:1"]``) spreads the files over several: a model copy on each, and
    a thread per copy that takes the next file as it finishes one. The same device may
    come twice (``["cpu", "cpu"]``: two copies sharing it). Each result records its
    ``device``; the results are in the order of the files either way.

    A file that fails (damaged, or named so that its result would replace an input) does
    not stop the others: once all are done, :class:`~urvc_core.errors.BatchError` names
    each that failed and carries the results of the rest. ``progress(number, total,
    fraction)`` tells how far file ``number`` is; with several devices it is called
    from their threads, one call at a time.
    """
    import threading

    from urvc_core.audio import READ_FORMATS, check_output_is_not_an_input, write_format_for
    from urvc_core.devices import parse_devices, spread_over_devices
    from urvc_core.errors import raise_batch_failures

    if device is not None and devices is not None:
        raise UrvcError(
            f"convert_voices takes device (one) or devices (several), not both; got "
            f"device={device!r} and devices={list(devices)!r}."
        )
    # A device torch can't see fails here, before any work.
    chosen: list[str | None] = [None]
    if devices is not None:
        chosen = list(parse_devices(devices))
    elif device is not None:
        chosen = list(parse_devices([device]))
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix.lower().lstrip(".") in READ_FORMATS
            )
            if not found:
                raise UrvcError(
                    f"The folder {path} holds no audio files ({', '.join(READ_FORMATS)})."
                )
            files.extend(found)
        else:
            files.append(path)
    request = resolve_conversion(model, settings)
    write_format_for(Path(output_dir) / "check", output_format)
    progress_lock = threading.Lock()

    def convert_file(converter: VoiceConverter, number: int, path: Path) -> ConversionResult:
        destination = Path(output_dir) / default_output_name(path, converter.name, output_format)

        def report(fraction: float) -> None:
            if progress is not None:
                with progress_lock:
                    progress(number, len(files), fraction)

        # Any input of the batch, not only this one: another may be named like this
        # one's result.
        check_output_is_not_an_input(destination, files)
        return convert_voice(
            path, model, output=destination, converter=converter, progress=report, **settings
        )

    outcomes = spread_over_devices(
        files, chosen, lambda _device: VoiceConverter(request), convert_file
    )
    results = [outcome for outcome in outcomes if isinstance(outcome, ConversionResult)]
    failures = [
        (str(path), outcome)
        for path, outcome in zip(files, outcomes, strict=True)
        if isinstance(outcome, UrvcError)
    ]
    raise_batch_failures(results, failures)
    return results
