"""Pitch shifting whole tracks: the instrumental and backing vocals of a cover follow the
pitch shift given to the lead vocal.

The shift goes through pedalboard's ``time_stretch`` (Rubber Band's high-quality
engine) rather than its ``PitchShift`` plugin, on measurement (``benchmarks/effects.py``):
a harmonic tone shifted by +3 or -5 semitones keeps about 45 dB of harmonic-to-noise
ratio with ``time_stretch`` and 0-3 dB with ``PitchShift``, which smears energy between
the harmonics and mistunes them by a few hertz; on the ARCTIC voice the median f0 error
is 13-19 cents against 20-26.

A track is shifted in one call, not in blocks: ``PitchShift`` outputs silence when
streamed (pedalboard issue #415), and shifting blocks separately with ``time_stretch``
gives each block's partials phases of their own, so every join dips by almost 4 dB for
some milliseconds however the blocks are cross-faded. The price is memory:
``time_stretch`` needs three to four times the track on top of it while it works.

Several files are shifted in parallel in worker processes, because Rubber Band holds
the GIL: threads would take turns.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from urvc_core.audio import (
    WRITE_FORMATS,
    check_output_is_not_an_input,
    load_audio,
    save_audio,
)
from urvc_core.backends import Audio, Setting
from urvc_core.errors import UrvcError, print_warnings_as_lines

#: The shift range offered. Rubber Band takes up to six octaves either way, but past two
#: octaves a voice or an instrument is no longer recognisable.
SEMITONES = Setting(
    "semitones",
    float,
    0.0,
    "How far to move the pitch: 12 is an octave up, -12 an octave down",
    unit="semitones",
    minimum=-24.0,
    maximum=24.0,
)
PRESERVE_FORMANTS = Setting(
    "preserve_formants",
    bool,
    False,
    "Keep the spectral envelope where it was, so a shifted voice sounds less like a "
    "chipmunk or a giant; off for instruments, whose tone then moves with the pitch",
)

# time_stretch returns nothing for a handful of samples; shorter input is padded to this.
_MIN_SAMPLES = 4096

Progress = Callable[[float], None]


def pitch_shift_audio(audio: Audio, semitones: float, *, preserve_formants: bool = False) -> Audio:
    """``audio`` moved by ``semitones``, its length and timing unchanged.

    Raises:
        InvalidSettingError: ``semitones`` is outside -24 to 24.
    """
    semitones = SEMITONES.check(semitones, "pitch shift")
    if semitones == 0:
        return Audio(audio.samples.copy(), audio.sample_rate)
    import pedalboard

    length = audio.num_samples
    samples = audio.samples
    if length < _MIN_SAMPLES:
        samples = np.pad(samples, ((0, 0), (0, _MIN_SAMPLES - length)))
    shifted = pedalboard.time_stretch(
        samples,
        audio.sample_rate,
        stretch_factor=1.0,
        pitch_shift_in_semitones=float(semitones),
        high_quality=True,
        preserve_formants=bool(preserve_formants),
    )
    if shifted.shape[1] < length:  # never seen; keeps the length promise regardless
        shifted = np.pad(shifted, ((0, 0), (0, length - shifted.shape[1])))
    return Audio(shifted[:, :length], audio.sample_rate)


def pitch_shift_files(
    inputs: Sequence[str | Path],
    semitones: float,
    output_dir: str | Path | None = None,
    *,
    outputs: Sequence[str | Path] | None = None,
    workers: int | None = None,
    preserve_formants: bool = False,
    progress: Progress | None = None,
) -> list[Path]:
    """Shift every file in ``inputs`` by ``semitones``; returns the files written.

    Each result goes to ``outputs[i]`` when ``outputs`` is given, otherwise into
    ``output_dir`` (default: the urvc outputs folder) as ``<name>_pitch+3.<suffix>``,
    in the input's format where urvc writes it (wav, flac, ogg, mp3), else as wav. Each
    file is written whole or not at all. ``workers`` files are shifted at once, in
    separate processes (default: one per CPU, at most one per file); ``progress`` is
    called with the fraction of files done.

    Raises:
        InvalidSettingError: ``semitones`` is outside -24 to 24.
        UrvcError: no inputs, a missing input, outputs that don't pair up with the
            inputs, two inputs that would be written to one file, an output that is an
            input, or a file that fails.
    """
    semitones = SEMITONES.check(semitones, "pitch shift")
    sources = [Path(path) for path in inputs]
    if not sources:
        raise UrvcError("No files to pitch-shift; name at least one audio file.")
    for source in sources:
        if not source.is_file():
            raise UrvcError(f"{source} does not exist or is not a file; check the path.")
    destinations = _destinations(sources, semitones, output_dir, outputs)
    for destination in destinations:
        check_output_is_not_an_input(destination, sources)
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise UrvcError(f"The number of workers must be 1 or more; got {workers}.")
    workers = min(workers, len(sources))

    if workers == 1:
        for number, (source, destination) in enumerate(zip(sources, destinations, strict=True)):
            shift_file(source, destination, semitones, preserve_formants)
            if progress is not None:
                progress((number + 1) / len(sources))
        return destinations

    # spawn, not fork: the parent may hold torch's or BLAS's threads, which a fork
    # copies in whatever state they were in.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=print_warnings_as_lines
    ) as pool:
        pending: set[Future[Path]] = {
            pool.submit(shift_file, source, destination, semitones, preserve_formants)
            for source, destination in zip(sources, destinations, strict=True)
        }
        done_count = 0
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    if isinstance(error, BrokenProcessPool):
                        raise UrvcError(
                            f"A pitch-shift worker process died ({error}); it may have run "
                            f"out of memory: try fewer jobs at once (--jobs 1)."
                        ) from error
                    raise error
                done_count += 1
            if progress is not None:
                progress(done_count / len(sources))
    return destinations


def shift_file(source: Path, destination: Path, semitones: float, preserve_formants: bool) -> Path:
    """Read, shift and write one file (what each worker process runs)."""
    audio = load_audio(source)
    try:
        shifted = pitch_shift_audio(audio, semitones, preserve_formants=preserve_formants)
    except UrvcError:
        raise
    except Exception as exc:  # pedalboard's own errors, named with the file
        raise UrvcError(
            f"Pitch-shifting {source} failed in pedalboard: {exc or type(exc).__name__}. "
            f"If the file plays fine, report this to urvc-effects-pedalboard's authors."
        ) from exc
    del audio
    return save_audio(shifted, destination)


def shifted_name(source: Path, semitones: float) -> str:
    """``song.wav`` shifted by 3 semitones is ``song_pitch+3.wav``; m4a and such become wav."""
    suffix = source.suffix.lower()
    if suffix.lstrip(".") not in WRITE_FORMATS:
        suffix = ".wav"
    return f"{source.stem}_pitch{semitones:+g}{suffix}"


def _destinations(
    sources: list[Path],
    semitones: float,
    output_dir: str | Path | None,
    outputs: Sequence[str | Path] | None,
) -> list[Path]:
    if outputs is not None:
        if output_dir is not None:
            raise UrvcError("Give either an output folder or one output file per input, not both.")
        destinations = [Path(path) for path in outputs]
        if len(destinations) != len(sources):
            raise UrvcError(
                f"{len(sources)} input file(s) but {len(destinations)} output file(s); "
                f"give one output per input, or an output folder."
            )
    else:
        if output_dir is None:
            from urvc_core.home import urvc_home

            output_dir = urvc_home().outputs
        folder = Path(output_dir)
        if folder.exists() and not folder.is_dir():
            raise UrvcError(f"{folder} is a file; the output must be a folder for its results.")
        destinations = [folder / shifted_name(source, semitones) for source in sources]
    seen: dict[Path, Path] = {}
    for source, destination in zip(sources, destinations, strict=True):
        key = destination.resolve()
        if key in seen:
            raise UrvcError(
                f"{seen[key]} and {source} would both be written to {destination}; "
                f"rename one of them or give one output file per input."
            )
        seen[key] = source
    return destinations
