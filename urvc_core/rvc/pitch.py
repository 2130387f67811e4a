"""Pitch curves for the conversion engine: extract, combine, shift, tune, read and write.

A pitch curve here is what an :class:`~urvc_core.backends.F0Extractor` returns: Hz, one
value per hop, ``0`` where a frame is unvoiced. Every function below keeps unvoiced
frames at ``0`` and works on voiced frames only.

Pitch arithmetic is done in log-frequency (cents), because that is how pitch is heard:
the mean of 100 Hz and 400 Hz is 200 Hz (an octave from each), a blend halfway between
two notes lands a quarter-tone from each, and an interpolated glide moves at an even
musical rate.

Quantising pitch to RVC's 255 coarse steps is the synthesizer's business, not this
module's.
"""

from __future__ import annotations

import contextvars
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from urvc_core.atomic_files import write_text_atomically
from urvc_core.errors import UrvcError

if TYPE_CHECKING:
    from urvc_core.backends import F0Extractor

#: Header line of the pitch curve files urvc writes.
F0_CURVE_HEADER = "time_s,f0_hz"
COMBINE_METHODS = ("median", "mean", "min", "max")
AUTO_PITCH_MODES = ("semitones", "octaves")
#: Concert pitch: autotune's notes are tuned to A4 = 440 Hz.
A4_HZ = 440.0


@dataclass(frozen=True)
class F0Curve:
    """A pitch curve on its own time axis: ``times`` in seconds, ``f0_hz`` (0 = unvoiced).

    ``times`` rise strictly; both arrays are float64 and of equal length. The
    constructor checks all of that and raises UrvcError otherwise.
    """

    times: np.ndarray
    f0_hz: np.ndarray

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        f0_hz = np.asarray(self.f0_hz, dtype=np.float64).reshape(-1)
        if times.shape != f0_hz.shape:
            raise UrvcError(
                f"A pitch curve needs one f0 per time; got {len(times)} times and "
                f"{len(f0_hz)} f0 values."
            )
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(f0_hz))):
            raise UrvcError("A pitch curve's times and f0 values must be finite numbers.")
        if len(times) > 1 and not np.all(np.diff(times) > 0):
            first = int(np.argmax(np.diff(times) <= 0)) + 1
            raise UrvcError(
                f"A pitch curve's times must rise; time {times[first]:g} s (point {first + 1}) "
                f"does not come after {times[first - 1]:g} s."
            )
        if np.any(f0_hz < 0):
            first = int(np.argmax(f0_hz < 0))
            raise UrvcError(
                f"A pitch curve's f0 can't be negative; point {first + 1} has "
                f"{f0_hz[first]:g} Hz (use 0 for unvoiced)."
            )
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "f0_hz", f0_hz)

    @classmethod
    def from_frames(cls, f0_hz: np.ndarray, hop_seconds: float) -> F0Curve:
        """The curve of an extractor's output: frame ``i`` at ``i * hop_seconds``."""
        f0 = np.asarray(f0_hz, dtype=np.float64).reshape(-1)
        return cls(np.arange(len(f0)) * float(hop_seconds), f0)

    def __len__(self) -> int:
        return len(self.times)

    def resample_to(self, frame_count: int, hop_seconds: float) -> np.ndarray:
        """The curve on a frame grid (frame ``i`` at ``i * hop_seconds``), float32 Hz.

        Between two voiced points the pitch is interpolated linearly in log-frequency;
        next to an unvoiced point a frame takes the nearer point's value, so unvoiced
        stretches stay unvoiced. Frames further than half a point-spacing beyond either
        end of the curve are unvoiced: the curve says nothing about them.
        """
        if frame_count < 0 or hop_seconds <= 0:
            raise UrvcError(
                f"Frame grid needs a frame count >= 0 and a positive hop; got "
                f"{frame_count} frames of {hop_seconds} s."
            )
        target_times = np.arange(frame_count) * float(hop_seconds)
        return interpolate_f0(self.times, self.f0_hz, target_times).astype(np.float32)


def interpolate_f0(
    source_times: np.ndarray,
    source_f0_hz: np.ndarray,
    target_times: np.ndarray,
    *,
    reach: float | None = None,
) -> np.ndarray:
    """A pitch track moved onto other times, float64 Hz with 0 for unvoiced.

    Linear in log-frequency between two voiced neighbours, the nearer neighbour's value
    otherwise (so voicing edges move by at most half a source step). Targets more than
    ``reach`` seconds before the first or after the last source time are unvoiced;
    ``reach`` defaults to half the median source step, ``math.inf`` holds the ends.
    """
    times = np.asarray(source_times, dtype=np.float64)
    f0 = np.asarray(source_f0_hz, dtype=np.float64)
    targets = np.asarray(target_times, dtype=np.float64)
    if len(times) == 0:
        return np.zeros(len(targets))
    if reach is None:
        reach = float(np.median(np.diff(times))) / 2 if len(times) > 1 else 0.0
    left = np.clip(np.searchsorted(times, targets, side="right") - 1, 0, len(times) - 1)
    right = np.minimum(left + 1, len(times) - 1)
    span = times[right] - times[left]
    fraction = np.divide(
        targets - times[left], span, out=np.zeros_like(targets), where=span > 0
    ).clip(0.0, 1.0)
    nearest = np.where(fraction < 0.5, left, right)
    result = f0[nearest].copy()
    both_voiced = (f0[left] > 0) & (f0[right] > 0)
    log_left = np.log2(np.where(both_voiced, f0[left], 1.0))
    log_right = np.log2(np.where(both_voiced, f0[right], 1.0))
    glide = np.exp2(log_left + fraction * (log_right - log_left))
    result = np.where(both_voiced, glide, result)
    outside = (targets < times[0] - reach) | (targets > times[-1] + reach)
    result[outside] = 0.0
    return result


def _voiced_float(f0: np.ndarray | Sequence[float]) -> np.ndarray:
    """Float Hz (float32 stays float32), non-finite and negative values made unvoiced."""
    array = np.asarray(f0)
    dtype = array.dtype if array.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    values = array.astype(dtype, copy=True)
    values[~np.isfinite(values) | (values < 0)] = 0
    return values


def combine_f0(curves: Sequence[np.ndarray], how: str = "median") -> np.ndarray:
    """Several extractors' curves combined frame by frame, over those voiced in each frame.

    ``how`` is ``median``, ``mean``, ``min`` or ``max`` of the voiced values (the
    median and the mean taken in log-frequency: the median of 100 and 400 Hz is
    200 Hz). A frame no curve voices stays unvoiced. The curves must have one length:
    extractors called with the same audio and hop give that.
    """
    if how not in COMBINE_METHODS:
        raise UrvcError(
            f"Pitch curves combine by {', '.join(COMBINE_METHODS)}; there is no {how!r}."
        )
    if not curves:
        raise UrvcError("combine_f0 needs at least one pitch curve.")
    arrays = [_voiced_float(curve).reshape(-1) for curve in curves]
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise UrvcError(
            f"Pitch curves to combine must have one length; got {sorted(lengths)} frames. "
            "Extract them from the same audio with the same hop."
        )
    dtype = np.result_type(*arrays)
    stacked = np.stack(arrays).astype(np.float64)
    voiced = stacked > 0
    any_voiced = voiced.any(axis=0)
    log_f0 = np.where(voiced, np.log2(np.where(voiced, stacked, 1.0)), np.nan)
    # All-NaN columns are the unvoiced frames: skip them rather than warn about them.
    combined_log = np.full(stacked.shape[1], np.nan)
    if any_voiced.any():
        voiced_columns = log_f0[:, any_voiced]
        if how == "median":
            combined_log[any_voiced] = np.nanmedian(voiced_columns, axis=0)
        elif how == "mean":
            combined_log[any_voiced] = np.nanmean(voiced_columns, axis=0)
        elif how == "min":
            combined_log[any_voiced] = np.nanmin(voiced_columns, axis=0)
        else:
            combined_log[any_voiced] = np.nanmax(voiced_columns, axis=0)
    combined = np.where(any_voiced, np.exp2(np.nan_to_num(combined_log)), 0.0)
    return combined.astype(dtype)


def shift_f0(f0: np.ndarray, semitones: float) -> np.ndarray:
    """The curve moved by ``semitones`` (12 doubles it); unvoiced frames stay 0."""
    values = _voiced_float(f0)
    return (values * 2.0 ** (float(semitones) / 12.0)).astype(values.dtype)


def _round_half_away(value: float) -> int:
    """Round to the nearest whole number, halves away from zero (not to even)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def auto_pitch_shift(f0: np.ndarray, *, target_hz: float = 155.0, mode: str = "semitones") -> float:
    """Semitones that move the voice's median pitch toward ``target_hz``.

    The distance from the median of the voiced frames to the target is rounded to whole
    semitones (halves away from zero), as Applio's "proposed pitch" rounds it. In
    ``octaves`` mode that shift is then rounded to whole octaves, again halves away from
    zero: a voice six semitones (a tritone) or more from the target moves an octave, so
    that a 110 Hz voice aimed at 155 Hz (5.94 semitones, rounded to 6) goes up 12.
    Octave mode keeps the melody in its key, so it suits singing; semitone mode suits
    speech. A curve with no voiced frame needs no shift: 0.
    """
    if mode not in AUTO_PITCH_MODES:
        raise UrvcError(
            f"Auto pitch works in {' or '.join(AUTO_PITCH_MODES)}; there is no {mode!r}."
        )
    if not (math.isfinite(target_hz) and target_hz > 0):
        raise UrvcError(f"Auto pitch needs a positive target pitch in Hz; got {target_hz}.")
    values = _voiced_float(f0)
    voiced = values[values > 0].astype(np.float64)
    if len(voiced) == 0:
        return 0.0
    median_hz = float(np.exp2(np.median(np.log2(voiced))))
    semitones = _round_half_away(12.0 * math.log2(target_hz / median_hz))
    if mode == "octaves":
        return 12.0 * _round_half_away(semitones / 12.0)
    return float(semitones)


def autotune_f0(f0: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Voiced frames pulled toward the nearest equal-tempered note (A4 = 440 Hz).

    ``strength`` 1 lands every voiced frame on its note, 0 changes nothing, and values
    between move that share of the way in cents (Applio blends in Hz, which is
    slightly uneven between notes; in cents half strength is always halfway).
    """
    if not (math.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise UrvcError(f"Autotune strength must be from 0 to 1; got {strength}.")
    values = _voiced_float(f0)
    voiced = values > 0
    semitones = 12.0 * np.log2(np.where(voiced, values, A4_HZ).astype(np.float64) / A4_HZ)
    tuned = semitones + strength * (np.round(semitones) - semitones)
    result = np.where(voiced, A4_HZ * np.exp2(tuned / 12.0), 0.0)
    return result.astype(values.dtype)


_SEPARATOR = re.compile(r"[,;\t ]+")


def read_f0_curve(path: str | Path) -> F0Curve:
    """Read a pitch curve file: two columns, time in seconds and f0 in Hz.

    Reads what urvc writes (CSV with the header ``time_s,f0_hz``) and the two-column
    text other tools write: comma, semicolon, tab or space separated, with or without a
    header line, ``#`` comment lines and blank lines ignored. ``0`` Hz is unvoiced, and
    so is ``nan`` (librosa's pyin writes unvoiced frames that way). A malformed line,
    times that do not rise or a negative pitch raise UrvcError naming the line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UrvcError(f"The pitch curve file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UrvcError(f"Can't read the pitch curve file {path}: {exc}.") from None
    times: list[float] = []
    f0_values: list[float] = []
    line_numbers: list[int] = []
    seen_data_or_header = False
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field for field in _SEPARATOR.split(line) if field]
        numbers = _parse_numbers(fields)
        if numbers is None:
            if not seen_data_or_header and not any(_is_number(field) for field in fields):
                # A first line of words ("time_s,f0_hz", "time frequency") is a header;
                # a first line with one number in it is a broken data line.
                seen_data_or_header = True
                continue
            raise UrvcError(
                f"{path}, line {number}: {line[:60]!r} is not two numbers "
                f"(time in seconds, f0 in Hz)."
            )
        seen_data_or_header = True
        if len(numbers) != 2:
            raise UrvcError(
                f"{path}, line {number}: expected two columns (time in seconds, f0 in Hz), "
                f"found {len(numbers)}."
            )
        time, f0 = numbers
        if math.isnan(f0):
            f0 = 0.0
        if not (math.isfinite(time) and math.isfinite(f0)):
            raise UrvcError(f"{path}, line {number}: time and f0 must be finite numbers.")
        if f0 < 0:
            raise UrvcError(f"{path}, line {number}: f0 {f0:g} Hz is negative; use 0 for unvoiced.")
        if times and time <= times[-1]:
            raise UrvcError(
                f"{path}, line {number}: time {time:g} s does not come after "
                f"{times[-1]:g} s (line {line_numbers[-1]}); times must rise."
            )
        times.append(time)
        f0_values.append(f0)
        line_numbers.append(number)
    if not times:
        raise UrvcError(
            f"The pitch curve file {path} has no data: expected lines of "
            f"'time_s,f0_hz' (seconds, Hz)."
        )
    return F0Curve(np.array(times), np.array(f0_values))


def _parse_numbers(fields: Sequence[str]) -> list[float] | None:
    try:
        return [float(field) for field in fields]
    except ValueError:
        return None


def _is_number(field: str) -> bool:
    return _parse_numbers([field]) is not None


def write_f0_curve(path: str | Path, curve: F0Curve) -> Path:
    """Write a pitch curve as CSV (header ``time_s,f0_hz``), atomically; returns the path.

    Times are written to the microsecond and pitch to a ten-thousandth of a hertz
    (under 0.01 cent at 20 Hz), so reading the file back gives the same curve.
    """
    path = Path(path)
    lines = [F0_CURVE_HEADER]
    lines.extend(f"{time:.6f},{f0:.4f}" for time, f0 in zip(curve.times, curve.f0_hz, strict=True))
    try:
        write_text_atomically(path, "\n".join(lines) + "\n")
    except OSError as exc:
        raise UrvcError(
            f"Can't write the pitch curve file {path}: {exc.strerror or exc}; choose a "
            f"folder you can write to, with free space."
        ) from exc
    return path


def steer_f0(
    extracted_hz: np.ndarray, guide_hz: np.ndarray, *, tolerance_cents: float = 100.0
) -> np.ndarray:
    """An extracted curve corrected by a guide curve on the same frames.

    What a guide means: it says which note is sung; the extraction says everything
    finer (vibrato, slides, and where the voice is voiced at all). So, frame by frame:

    * guide voiced, extraction voiced: the extracted pitch is first moved by whole
      octaves to the octave nearest the guide (octave errors are what trackers make);
      if it is then within ``tolerance_cents`` of the guide it is kept, otherwise the
      extraction followed something else (a backing voice, a wrong harmonic) and the
      guide's value is used;
    * guide voiced, extraction unvoiced: unvoiced, since breaths and consonants have no
      pitch even where the guide's note goes on;
    * guide unvoiced: the extraction as it is, since the guide has no opinion there.
    """
    extracted = _voiced_float(extracted_hz).astype(np.float64)
    guide = _voiced_float(guide_hz).astype(np.float64)
    if extracted.shape != guide.shape:
        raise UrvcError(
            f"The guide curve has {len(guide)} frames and the extracted one {len(extracted)}."
        )
    both = (extracted > 0) & (guide > 0)
    safe_extracted = np.where(both, extracted, 1.0)
    safe_guide = np.where(both, guide, 1.0)
    octaves = np.round(np.log2(safe_guide / safe_extracted))
    corrected = safe_extracted * np.exp2(octaves)
    distance = np.abs(1200.0 * np.log2(corrected / safe_guide))
    steered = np.where(distance <= tolerance_cents, corrected, safe_guide)
    return np.where(both, steered, extracted)


def _f0_extractor(
    name: str, backend_settings: Mapping[str, Mapping[str, Any]] | None
) -> F0Extractor:
    """The named f0 backend from the registry, with its settings checked."""
    from urvc_core.backends import F0Extractor
    from urvc_core.registry import get_backend

    backend = get_backend("f0", name, **dict((backend_settings or {}).get(name, {})))
    if not isinstance(backend, F0Extractor):
        raise UrvcError(f"The backend '{name}' is not an f0 extractor.")
    return backend


@dataclass(frozen=True)
class _ExtractionPlan:
    """Where each extractor of one call runs, by its position in ``methods``.

    A backend class that sets :attr:`~urvc_core.backends.F0Extractor.releases_gil`
    promises that it spends its time in code that lets other Python threads run (torch,
    WORLD's C++), so a worker thread can run it beside others. Each group runs its
    extractors in ``methods`` order, and the groups run at the same time.
    benchmarks/f0_methods.py ``--study`` has the measurements behind each choice.
    """

    #: Backends that keep the GIL (the default) run where they always did: in threads
    #: they would only take turns, and a worker process takes longer to start than
    #: Praat takes on two minutes of audio.
    calling_thread: tuple[int, ...]
    #: One worker thread for all GIL-releasing torch backends, one after another: each
    #: spreads its work over torch's intra-op threads already, and two at once only
    #: fight for the cores, even with the threads split between them. One worker thread
    #: for every other GIL-releasing backend: WORLD's trackers use one core each.
    worker_threads: tuple[tuple[int, ...], ...]

    @classmethod
    def for_extractors(cls, extractors: Sequence[F0Extractor]) -> _ExtractionPlan:
        calling_thread: list[int] = []
        torch_thread: list[int] = []
        worker_threads: list[tuple[int, ...]] = []
        for index, extractor in enumerate(extractors):
            backend_class = type(extractor)
            if not backend_class.releases_gil:
                calling_thread.append(index)
            elif "torch" in backend_class.requires_modules:
                torch_thread.append(index)
            else:
                worker_threads.append((index,))
        if torch_thread:
            worker_threads.append(tuple(torch_thread))
        return cls(tuple(calling_thread), tuple(worker_threads))

    @property
    def group_count(self) -> int:
        return bool(self.calling_thread) + len(self.worker_threads)


class _ConcurrentExtraction:
    """Extractors running in several threads, failing as they would one after another.

    Run in order, an extractor would not start once an earlier one had failed, and the
    earliest failure is what the caller saw. So here an extractor starts only while no
    extractor before it has failed, and :meth:`curves` raises the earliest failure. A
    thread can't be stopped part-way, so extractors already running are waited for.
    """

    def __init__(self, extract: Callable[[int], np.ndarray], count: int) -> None:
        self._extract = extract
        self._curves: list[np.ndarray | None] = [None] * count
        self._failures: dict[int, Exception] = {}
        self._stopped = False
        self._lock = threading.Lock()

    def run_in_order(self, indices: Sequence[int]) -> None:
        for index in indices:
            with self._lock:
                if self._stopped or any(failed < index for failed in self._failures):
                    return
            try:
                self._curves[index] = self._extract(index)
            except Exception as exc:
                with self._lock:
                    self._failures[index] = exc
                return

    def stop(self) -> None:
        """Start no more extractors (the caller was interrupted)."""
        with self._lock:
            self._stopped = True

    def curves(self) -> list[np.ndarray]:
        """Every curve in order, or the earliest failure raised."""
        if self._failures:
            raise self._failures[min(self._failures)]
        return [curve for curve in self._curves if curve is not None]


def _extract_each(
    extractors: Sequence[F0Extractor],
    samples: np.ndarray,
    sample_rate: int,
    *,
    hop_length: int,
    f0_min: float,
    f0_max: float,
) -> list[np.ndarray]:
    """Every extractor's curve, in order: at the same time where that pays.

    See :class:`_ExtractionPlan` for which run together. With one group there is nothing
    to overlap, and the extractors run one after another in the calling thread.

    torch keeps its thread count, although a WORLD tracker beside it takes a core: on two
    cores, one thread fewer saved at most 10% beside harvest, which outlasts the small
    networks, but took 55 to 75% longer beside dio, which is done in a moment; and a
    network that outlasts the tracker would run on fewer threads to its end.
    """

    def extract(index: int) -> np.ndarray:
        return extractors[index].extract_f0(
            samples, sample_rate, hop_length=hop_length, f0_min=f0_min, f0_max=f0_max
        )

    plan = _ExtractionPlan.for_extractors(extractors)
    if plan.group_count < 2:
        return [extract(index) for index in range(len(extractors))]
    extraction = _ConcurrentExtraction(extract, len(extractors))
    with ThreadPoolExecutor(len(plan.worker_threads), thread_name_prefix="urvc-f0") as pool:
        # Each worker runs in a copy of the caller's context, so a network in it runs on
        # the device the caller asked for (urvc_core.devices.use_device).
        futures = [
            pool.submit(contextvars.copy_context().run, extraction.run_in_order, group)
            for group in plan.worker_threads
        ]
        try:
            extraction.run_in_order(plan.calling_thread)
            for future in futures:
                future.result()
        except BaseException:
            extraction.stop()
            raise
    return extraction.curves()


def extract_pitch(
    samples: np.ndarray,
    sample_rate: int,
    *,
    methods: Sequence[str],
    combine: str = "median",
    hop_length: int = 160,
    f0_min: float = 50.0,
    f0_max: float = 1100.0,
    guide: F0Curve | None = None,
    guide_tolerance_cents: float = 100.0,
    backend_settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> np.ndarray:
    """The pitch of mono ``samples``: float32 Hz, ``len // hop_length + 1`` frames.

    Each name in ``methods`` is an f0 backend asked for through the registry
    (``backend_settings`` maps a name to its settings, ``{"crepe": {"hop_length":
    128}}``); their curves are combined frame by frame with :func:`combine_f0`.

    Several methods run at the same time where their backends allow it (a backend
    class with ``releases_gil = True``): WORLD's trackers each in a thread, torch's
    networks one after another in another thread, the rest in the calling thread.
    The curves are those of running them one after another, and so are the errors: the
    earliest method that fails raises, and the methods after it don't start (those
    already running are waited for).

    ``guide`` is a pitch curve, usually read with :func:`read_f0_curve`. Without
    methods it *is* the pitch: resampled onto the frame grid, used as given. With
    methods it steers the extraction as :func:`steer_f0` describes, within
    ``guide_tolerance_cents``.
    """
    if hop_length <= 0 or sample_rate <= 0:
        raise UrvcError(
            f"Pitch extraction needs a positive hop and sample rate; got hop {hop_length} "
            f"at {sample_rate} Hz."
        )
    if not guide_tolerance_cents >= 0:
        raise UrvcError(
            f"The guide tolerance is a number of cents, 0 or more; got {guide_tolerance_cents}."
        )
    shape = np.shape(samples)
    if len(shape) == 2 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) != 1:
        raise UrvcError(
            f"Pitch extraction needs mono samples shaped (samples,); got shape {shape}. "
            "Mix the audio down to one channel first."
        )
    frame_count = shape[0] // hop_length + 1
    guide_frames = (
        guide.resample_to(frame_count, hop_length / sample_rate) if guide is not None else None
    )
    if not methods:
        if guide_frames is None:
            raise UrvcError(
                "Name at least one pitch extraction method (rmvpe, fcpe, crepe, pm, ...) "
                "or give a pitch curve file to use instead."
            )
        return guide_frames
    # All asked for before any runs: a misspelt third method fails at once, not after
    # the first two have run for a minute.
    extractors = [_f0_extractor(name, backend_settings) for name in methods]
    curves = _extract_each(
        extractors, samples, sample_rate, hop_length=hop_length, f0_min=f0_min, f0_max=f0_max
    )
    combined = combine_f0(curves, combine) if len(curves) > 1 else _voiced_float(curves[0])
    if guide_frames is not None:
        combined = steer_f0(combined, guide_frames, tolerance_cents=guide_tolerance_cents)
    return np.asarray(combined, dtype=np.float32)


def extract_f0_curve(
    source: str | Path,
    *,
    methods: Sequence[str],
    combine: str = "median",
    f0_min: float = 50.0,
    f0_max: float = 1100.0,
    hop_seconds: float = 0.01,
) -> F0Curve:
    """The pitch curve of an audio file, as ``urvc f0 extract`` writes it.

    The file is read at 16 kHz mono (as the engine reads its input), analysed every
    ``hop_seconds`` by ``methods`` (combined with ``combine``), and returned on its own
    time axis, ready for :func:`write_f0_curve` and for ``--f0-file`` later.
    """
    from urvc_core.audio import load_audio

    rate = 16000
    audio = load_audio(source, sample_rate=rate, channels=1)
    hop_length = max(1, round(hop_seconds * rate))
    f0 = extract_pitch(
        audio.samples[0],
        rate,
        methods=methods,
        combine=combine,
        hop_length=hop_length,
        f0_min=f0_min,
        f0_max=f0_max,
    )
    return F0Curve.from_frames(f0, hop_length / rate)
