"""Reading and writing audio files, resampling, and changing the channel count.

Everything here speaks :class:`~urvc_core.backends.Audio`: float32 samples shaped
``(channels, samples)`` with their sample rate. Files go through soundfile (libsndfile)
for the formats it handles on its own, WAV, FLAC, Ogg and MP3 among them, and through the
``ffmpeg`` program for anything else (m4a, aac, webm, the audio track of a video) when it
is installed. Every failure a user can fix is an :class:`~urvc_core.errors.AudioFileError`
whose one-line message names the file and says what to do.

What a file holds is checked as it is read:

* samples that are NaN or infinite (a damaged float file) are refused, naming the time
  of the first, before any work is done with them;
* a file that holds less than its header says (a download or copy cut short) is read
  as far as it goes, with a :class:`~urvc_core.errors.UrvcWarning` that gives both
  lengths; so is one the decoder had to repair (a damaged mp3), whose decoder messages
  never reach the terminal;
* more than two channels are mixed down to stereo by ITU-R BS.775 (see
  :func:`convert_channels`), with a warning that says so: everything urvc does works in
  mono or stereo, so the rule is the same for every command.

soundfile and soxr are imported inside the functions that use them, so that importing
this module (which the CLI does to answer ``--help``) costs no more than numpy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.atomic_files import atomic_destination
from urvc_core.backends import Audio
from urvc_core.errors import AudioFileError, UrvcError, UrvcWarning

__all__ = [
    "DOWNMIX_LAYOUTS",
    "READ_FORMATS",
    "RESAMPLE_QUALITIES",
    "WRITE_FORMATS",
    "AudioInfo",
    "AudioWriter",
    "StreamResampler",
    "audio_info",
    "check_output_is_not_an_input",
    "convert_channels",
    "load_audio",
    "open_audio_writer",
    "resample",
    "save_audio",
]

#: File suffixes read through soundfile, with no other program needed. Any other file is
#: handed to ``ffmpeg`` when it is on ``PATH``.
READ_FORMATS: tuple[str, ...] = (
    "wav",
    "flac",
    "ogg",
    "oga",
    "opus",
    "mp3",
    "aif",
    "aiff",
    "aifc",
    "au",
    "caf",
    "w64",
    "rf64",
)

#: Formats :func:`save_audio` writes, named as their file suffixes.
WRITE_FORMATS: tuple[str, ...] = ("wav", "flac", "ogg", "mp3")

#: soxr's quality recipes, best first. "VHQ" keeps speech resampled there and back at
#: well over 40 dB SNR; the lower ones trade that for speed.
RESAMPLE_QUALITIES: tuple[str, ...] = ("VHQ", "HQ", "MQ", "LQ", "QQ")

# libsndfile's (format, subtype) for each written format. WAV and FLAC are 24-bit:
# 16-bit would add audible dither-level noise to quiet vocals after several processing
# steps, and 32-bit float WAVs are refused by some players and editors; 24-bit PCM is
# about 144 dB of range, far below anything a voice model produces, and plays everywhere.
_WRITE_SUBTYPES: dict[str, tuple[str, str]] = {
    "wav": ("WAV", "PCM_24"),
    "flac": ("FLAC", "PCM_24"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}

# Integer formats wrap around instead of saturating when a sample exceeds full scale, so
# a loud peak would become a loud click. Lossy codecs take floats and handle it themselves.
_INTEGER_FORMATS = frozenset({"wav", "flac"})

# MPEG audio exists at these rates only; libsndfile refuses any other.
_MP3_SAMPLE_RATES: tuple[int, ...] = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

# The speakers of a multichannel file, by channel count: the default order of WAVE
# (WAVEFORMATEXTENSIBLE), FLAC and Vorbis for that count, which libsndfile and ffmpeg
# write. Named as in ITU-R BS.775: L/R front, C centre, LFE low-frequency effects, Ls/Rs
# a left or right surround (side or back), Cs back centre.
DOWNMIX_LAYOUTS: dict[int, tuple[str, tuple[str, ...]]] = {
    3: ("3.0", ("L", "R", "C")),
    4: ("quad", ("L", "R", "Ls", "Rs")),
    5: ("5.0", ("L", "R", "C", "Ls", "Rs")),
    6: ("5.1", ("L", "R", "C", "LFE", "Ls", "Rs")),
    7: ("6.1", ("L", "R", "C", "LFE", "Cs", "Ls", "Rs")),
    8: ("7.1", ("L", "R", "C", "LFE", "Ls", "Rs", "Ls", "Rs")),
}

# BS.775's stereo downmix: a front channel to its own side at full level, the centre and
# the surrounds at -3 dB (0.7071), the LFE left out (BS.775 drops it: it carries only
# what the main channels already hold below 120 Hz, and adding it makes the bass boom).
_MINUS_3_DB = 0.7071
_SPEAKER_GAINS: dict[str, tuple[float, float]] = {
    "L": (1.0, 0.0),
    "R": (0.0, 1.0),
    "C": (_MINUS_3_DB, _MINUS_3_DB),
    "LFE": (0.0, 0.0),
    "Ls": (_MINUS_3_DB, 0.0),
    "Rs": (0.0, _MINUS_3_DB),
    "Cs": (_MINUS_3_DB, _MINUS_3_DB),
}

# LAME's own default (when no bitrate is set) is a low-quality VBR setting, around 40 kbps
# for 44.1 kHz audio, which smears a singing voice. 192 kbps is transparent for most
# listeners; it is capped at the highest bitrate the MPEG version allows for low rates.
_DEFAULT_MP3_BITRATE_KBPS = 192


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header; float samples are also scanned for NaN."""

    sample_rate: int
    channels: int
    frames: int
    #: Length in seconds.
    duration: float
    #: Container format as a short lowercase name: "wav", "flac", "ogg", "mp3", "m4a"...
    format: str
    #: Samples that are NaN or infinite (a damaged float file); always 0 for integer
    #: and compressed formats, which can't hold them.
    nonfinite_samples: int = 0
    #: When the first of those comes, in seconds; None when there are none.
    first_nonfinite_seconds: float | None = None
    #: The frames the header promises, where it promises more than the file holds (a
    #: WAV cut short); None otherwise. ``frames`` is what the file holds.
    header_frames: int | None = None


def load_audio(
    path: str | Path, *, sample_rate: int | None = None, channels: int | None = None
) -> Audio:
    """Read an audio file into float32 samples, optionally resampled and re-channelled.

    Formats libsndfile knows (see :data:`READ_FORMATS`) are read directly; anything else,
    including the audio track of a video, is decoded by ``ffmpeg`` if it is on ``PATH``.

    A file that holds less than its header promises, or that its decoder had to repair,
    is read as far as it goes, with a :class:`~urvc_core.errors.UrvcWarning` naming it.

    Args:
        path: the file to read.
        sample_rate: resample to this rate (Hz); ``None`` keeps the file's rate.
        channels: ``1`` mixes the channels into one, ``2`` copies a mono file into both;
            ``None`` keeps mono and stereo as they are. More than two channels are mixed
            down to stereo (or mono) by :func:`convert_channels`' rule, with a
            :class:`~urvc_core.errors.UrvcWarning` that names the file.

    Raises:
        AudioFileError: the file is missing, empty, corrupt, holds no samples or NaN or
            infinite samples, or needs ffmpeg and ffmpeg is not installed.
    """
    path = Path(path)
    _check_arguments(path, sample_rate=sample_rate, channels=channels)
    _check_readable_file(path)
    shaper = _SampleShaper(path, sample_rate, channels)
    audio = _decode(path, shaper)
    mixed_to = shaper.wanted_channels
    if shaper.file_channels > 2 and mixed_to is not None and mixed_to != shaper.file_channels:
        warnings.warn(
            _downmix_note(path, shaper.file_channels, mixed_to),
            UrvcWarning,
            stacklevel=2,
        )
    return audio


def save_audio(
    audio: Audio,
    path: str | Path,
    *,
    format: str | None = None,
    bitrate_kbps: int | None = None,
) -> Path:
    """Write ``audio`` to ``path`` and return the path written.

    The file appears all at once: the samples go to a temporary file in the same folder,
    which then replaces ``path`` in one rename. An interrupted or failed save never leaves
    a half-written file, and an existing file is replaced only once the new one is whole.
    Missing parent folders are created.

    Formats (see :data:`WRITE_FORMATS`): ``wav`` and ``flac`` as 24-bit PCM, samples
    beyond [-1, 1] clipped; ``ogg`` as Vorbis; ``mp3`` as MPEG layer III at
    ``bitrate_kbps`` (default 192, constant bitrate). MPEG exists only at 8 to 48 kHz
    standard rates, so other rates (RVC's 40 kHz) are resampled to the nearest one
    above (or to 48 kHz from a higher rate). NaN or infinite samples are written as
    silence (or full scale, for infinities).

    Args:
        audio: what to write.
        path: where to write it.
        format: one of :data:`WRITE_FORMATS`; ``None`` takes it from the suffix of ``path``.
        bitrate_kbps: MP3 bitrate; only meaningful for mp3.

    Raises:
        AudioFileError: unknown format, nothing to write, a bitrate for a format that has
            none, or the file could not be written (permissions, a full disk...).
    """
    path = Path(path)
    if audio.num_samples == 0:
        write_format_for(path, format)
        raise AudioFileError(f"Nothing to write to {path}: the audio has no samples.")
    with open_audio_writer(
        path, audio.sample_rate, audio.channels, format=format, bitrate_kbps=bitrate_kbps
    ) as writer:
        writer.write(audio.samples)
    return path


class AudioWriter:
    """An audio file being written a block at a time; see :func:`open_audio_writer`."""

    def __init__(
        self,
        path: Path,
        opened: Any,
        sample_rate: int,
        channels: int,
        file_format: str,
        file_rate: int,
    ) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        #: Frames given to :meth:`write` so far, at ``sample_rate``.
        self.frames = 0
        self._file = opened
        self._clip = file_format in _INTEGER_FORMATS
        self._resampler = (
            StreamResampler(sample_rate, file_rate, channels) if file_rate != sample_rate else None
        )

    def write(self, samples: np.ndarray) -> None:
        """Append ``samples``, shaped ``(channels, frames)`` like :class:`Audio`'s."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 2 or samples.shape[0] != self.channels:
            raise UrvcError(
                f"Writing {self.path}: blocks must be shaped ({self.channels}, frames); "
                f"got {samples.shape}."
            )
        self.frames += samples.shape[1]
        if not np.isfinite(samples).all():
            # A NaN or infinity would turn into garbage or an encoder error; silence is
            # the least harmful stand-in for a sample that holds no number.
            samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
        if self._clip:
            samples = np.clip(samples, -1.0, 1.0)
        if self._resampler is not None:
            samples = self._resampler.resample(samples)
        self._put(samples)

    def _finish(self) -> None:
        if self.frames == 0:
            raise AudioFileError(f"Nothing to write to {self.path}: the audio has no samples.")
        if self._resampler is not None:
            self._put(self._resampler.finish())

    def _put(self, samples: np.ndarray) -> None:
        if not samples.shape[1]:
            return
        try:
            self._file.write(np.ascontiguousarray(samples.T))
        except _SOUNDFILE_ERRORS as exc:
            # A full disk or a lost folder: the caller's block stops here with one line.
            raise _write_error(self.path, exc) from exc


@contextlib.contextmanager
def open_audio_writer(
    path: str | Path,
    sample_rate: int,
    channels: int,
    *,
    format: str | None = None,
    bitrate_kbps: int | None = None,
) -> Iterator[AudioWriter]:
    """Write an audio file a block at a time: ``writer.write(samples)`` in the block.

    What :func:`save_audio` writes, the same formats and rules, for audio that is made
    piece by piece (a long conversion) and need never be whole in memory. The file
    appears at ``path`` when the block ends, whole; when the block raises (Ctrl-C
    included), or nothing was written, no file appears and an existing one is left as
    it was.

    Raises:
        AudioFileError: as :func:`save_audio`.
    """
    import soundfile

    path = Path(path)
    file_format = write_format_for(path, format)
    if bitrate_kbps is not None and file_format != "mp3":
        raise AudioFileError(
            f"Can't write {path} at {bitrate_kbps} kbps: a bitrate applies to mp3 only; "
            f"leave it out for {file_format}."
        )
    file_rate = sample_rate
    encoder_options: dict[str, Any] = {}
    if file_format == "mp3":
        if channels > 2:
            raise AudioFileError(
                f"Can't write {path}: mp3 holds at most 2 channels and the audio has "
                f"{channels}; save it as wav or flac, or convert it to stereo first."
            )
        file_rate = _mp3_sample_rate(sample_rate)
        encoder_options = _mp3_encoder_options(path, file_rate, bitrate_kbps)
    container, subtype = _WRITE_SUBTYPES[file_format]
    _prepare_destination(path)
    # What the caller's block raises is its own, passed on as it is; what writing,
    # flushing or renaming raises becomes one line that names the file.
    raised_by_caller = False
    try:
        with atomic_destination(path) as temporary:
            opened = soundfile.SoundFile(
                str(temporary),
                "w",
                samplerate=file_rate,
                channels=channels,
                subtype=subtype,
                format=container,
                **encoder_options,
            )
            with opened:
                writer = AudioWriter(path, opened, sample_rate, channels, file_format, file_rate)
                try:
                    yield writer
                except BaseException:
                    raised_by_caller = True
                    raise
                writer._finish()
    except UrvcError:
        raise
    except _SOUNDFILE_ERRORS as exc:
        if raised_by_caller:
            raise
        raise _write_error(path, exc) from exc


def resample(audio: Audio, sample_rate: int, *, quality: str = "VHQ") -> Audio:
    """``audio`` at ``sample_rate``, through soxr; the same object when the rate already matches.

    The result holds exactly ``round(samples * sample_rate / audio.sample_rate)`` samples,
    so lengths computed by callers from the ratio line up.
    """
    if not _is_whole_number(sample_rate, minimum=1):
        raise UrvcError(f"Sample rate must be a positive whole number of Hz; got {sample_rate!r}.")
    sample_rate = int(sample_rate)
    if quality not in RESAMPLE_QUALITIES:
        raise UrvcError(
            f"Unknown resampling quality {quality!r}; use one of {', '.join(RESAMPLE_QUALITIES)}."
        )
    if sample_rate == audio.sample_rate:
        return audio

    resampler = StreamResampler(audio.sample_rate, sample_rate, audio.channels, quality)
    resampled = np.concatenate([resampler.resample(audio.samples), resampler.finish()], axis=1)
    return Audio(np.ascontiguousarray(resampled, dtype=np.float32), sample_rate)


def convert_channels(audio: Audio, channels: int) -> Audio:
    """``audio`` with ``channels`` channels: mono copied into each, or mixed down.

    Stereo becomes mono as the average of its two channels. More than two channels are
    first mixed down to stereo by ITU-R BS.775, in the speaker order WAVE, FLAC and
    Vorbis files use for their count (:data:`DOWNMIX_LAYOUTS`: 3.0, quad, 5.0, 5.1,
    6.1, 7.1): ``L' = L + 0.7071 C + 0.7071 Ls``, ``R' = R + 0.7071 C + 0.7071 Rs``,
    a back centre to both sides at 0.7071, the LFE left out. A count with no standard
    layout (9 or more) is read as 7.1 extended: L, R, C, LFE, then further channels
    taken in left/right pairs at 0.7071 (a last odd one to both sides at 0.7071).
    Other changes between counts above two need a layout urvc does not guess at, and
    are refused.
    """
    if not _is_whole_number(channels, minimum=1):
        raise UrvcError(f"Channel count must be a whole number, 1 or more; got {channels!r}.")
    channels = int(channels)
    if channels == audio.channels:
        return audio
    if audio.channels == 1:
        return Audio(np.repeat(audio.samples, channels, axis=0), audio.sample_rate)
    if channels > 2:
        raise UrvcError(
            f"Can't turn {audio.channels} channels into {channels}: urvc mixes down to "
            f"stereo or mono only; ask for 1 or 2 channels."
        )
    if audio.channels > 2:
        audio = _downmix_to_stereo(audio)
    return audio if channels == 2 else audio.to_mono()


def _downmix_layout(channels: int) -> tuple[str, tuple[str, ...]]:
    """The layout name and speakers :func:`convert_channels` reads ``channels`` as."""
    if channels in DOWNMIX_LAYOUTS:
        return DOWNMIX_LAYOUTS[channels]
    extra = channels - 4
    speakers = ["L", "R", "C", "LFE"] + ["Ls", "Rs"] * (extra // 2) + ["Cs"] * (extra % 2)
    return f"{channels}-channel", tuple(speakers)


def _downmix_to_stereo(audio: Audio) -> Audio:
    _, speakers = _downmix_layout(audio.channels)
    matrix = np.array([_SPEAKER_GAINS[speaker] for speaker in speakers], dtype=np.float32).T
    return Audio(matrix @ audio.samples, audio.sample_rate)


def _downmix_note(path: Path, channels: int, target: int) -> str:
    layout, speakers = _downmix_layout(channels)
    dropped = ", LFE left out" if "LFE" in speakers else ""
    result = "stereo" if target == 2 else "stereo, then mono"
    return (
        f"{path} has {channels} channels ({layout}); mixed down to {result} by ITU-R BS.775 "
        f"(centre and surrounds at -3 dB{dropped})."
    )


def check_output_is_not_an_input(output: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """Refuse to write ``output`` over one of ``inputs``: an input is never lost.

    Commands that read files and write a result call it before any work. The same file
    is recognised however it is spelled (relative, through a symlink or a hard link, in
    another case on a case-insensitive file system); inputs that are not files (URLs)
    are passed over.

    Raises:
        AudioFileError: ``output`` is one of ``inputs``.
    """
    destination = Path(output).expanduser()
    if not destination.is_file():
        return  # a file that doesn't exist yet can't be an input
    for given in inputs:
        if given is None:
            continue
        source = Path(given).expanduser()
        with contextlib.suppress(OSError):
            if source.is_file() and os.path.samefile(source, destination):
                raise AudioFileError(
                    f"Can't write {output}: it is the input file {given}, which would be "
                    f"lost; choose another output name."
                )


def convert_audio_file(
    source: str | Path,
    destination: str | Path,
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    bitrate_kbps: int | None = None,
) -> Path:
    """Read ``source`` and write it to ``destination`` in the format its suffix names.

    The destination appears only when it is complete (see :func:`save_audio`); it may
    not be ``source`` itself.
    """
    write_format_for(destination)
    check_output_is_not_an_input(destination, [source])
    audio = load_audio(source, sample_rate=sample_rate, channels=channels)
    return save_audio(audio, destination, bitrate_kbps=bitrate_kbps)


def audio_info(path: str | Path) -> AudioInfo:
    """Sample rate, channels, length and format of a file, read from its header.

    Formats ffmpeg handles are probed with ``ffprobe``; only when ffprobe is missing but
    ffmpeg is present is the file decoded in full to measure it.

    Samples are decoded only where they could be NaN or infinite (float formats), to
    count those; ``header_frames`` tells a WAV cut short.

    Raises:
        AudioFileError: as :func:`load_audio` (except that NaN samples are counted, not
            refused).
    """
    path = Path(path)
    _check_readable_file(path)
    try:
        info = _soundfile_info(path)
    except _SoundfileFailure as failure:
        soundfile_error = failure.cause
    else:
        if info.frames == 0:
            raise _no_samples_error(path)
        return info

    ffmpeg = _ffmpeg_for(path, soundfile_error)
    ffprobe = shutil.which("ffprobe")
    if ffprobe is not None:
        probed, codec = _ffprobe_info(path, ffprobe, soundfile_error)
        if not codec.startswith("pcm_f"):
            return probed  # only float PCM can hold NaN or infinities
    else:
        probed = None
    audio = _decode_with_ffmpeg(path, ffmpeg, soundfile_error)
    count, first = _nonfinite(audio.samples, audio.sample_rate)
    if probed is not None:
        return dataclasses.replace(probed, nonfinite_samples=count, first_nonfinite_seconds=first)
    return AudioInfo(
        sample_rate=audio.sample_rate,
        channels=audio.channels,
        frames=audio.num_samples,
        duration=audio.duration,
        format=_suffix(path) or "unknown",
        nonfinite_samples=count,
        first_nonfinite_seconds=first,
    )


# --- reading -----------------------------------------------------------------------------


class _SoundfileFailure(Exception):
    """soundfile could not read a file; ``cause`` is its exception, kept for the message."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


# What soundfile raises for a file it can't handle: LibsndfileError is a RuntimeError,
# and unusual paths or headers surface as OSError, ValueError or TypeError.
_SOUNDFILE_ERRORS = (RuntimeError, OSError, ValueError, TypeError)


def _check_arguments(path: Path, *, sample_rate: int | None, channels: int | None) -> None:
    if sample_rate is not None and not _is_whole_number(sample_rate, minimum=1):
        raise AudioFileError(
            f"Can't load {path} at sample_rate={sample_rate!r}; use a positive number of Hz."
        )
    if channels is not None and not _is_whole_number(channels, minimum=1):
        raise AudioFileError(f"Can't load {path} with channels={channels!r}; use 1 or 2.")


def _is_whole_number(value: object, *, minimum: int) -> bool:
    # numpy integers count (a rate read from an array is one); bools and floats don't,
    # so 44100.5 or True is an error rather than a silent truncation.
    return (
        isinstance(value, (int, np.integer))
        and not isinstance(value, bool)
        and int(value) >= minimum
    )


def _check_readable_file(path: Path) -> None:
    """Turn the usual reasons a path can't be read into messages that say which one."""
    try:
        status = path.stat()
    except FileNotFoundError:
        raise AudioFileError(f"{path} does not exist; check the path and its spelling.") from None
    except OSError as exc:
        raise AudioFileError(f"Can't open {path}: {exc.strerror or exc}.") from exc
    if stat.S_ISDIR(status.st_mode):
        raise AudioFileError(f"{path} is a folder, not an audio file; name a file inside it.")
    if status.st_size == 0:
        raise AudioFileError(f"{path} is empty (0 bytes); re-export or re-download it.")
    if not os.access(path, os.R_OK):
        raise AudioFileError(f"Can't read {path}: permission denied; check the file's permissions.")


def _decode(path: Path, shaper: _SampleShaper) -> Audio:
    """Read with soundfile, falling back to ffmpeg for what libsndfile doesn't know."""
    try:
        return _read_with_soundfile(path, shaper, check_whole=True)
    except _SoundfileFailure as failure:
        soundfile_error = failure.cause
    ffmpeg = _ffmpeg_for(path, soundfile_error)
    return _decode_with_ffmpeg(path, ffmpeg, soundfile_error, shaper)


class _SampleShaper:
    """The channels and rate :func:`load_audio` was asked for, made a block at a time as
    the file is decoded, with the NaN check on the way.

    So a long song is never whole in memory at the file's rate and channels beside its
    converted copy: ten minutes of 44.1 kHz stereo is 212 MB as float32, its 16 kHz mono
    copy 38 MB. The numbers are those of :func:`convert_channels` and :func:`resample`
    on the whole file (soxr streams internally; its blocks give the same samples).
    """

    #: Frames decoded at a time when there is something to change.
    BLOCK_FRAMES = 1 << 16

    def __init__(self, path: Path, sample_rate: int | None, channels: int | None) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        self.file_rate = 0
        self.file_channels = 0
        #: The channel count the result gets: as asked, or stereo for a file of more
        #: than two channels when none was asked.
        self.wanted_channels: int | None = channels
        self.frames_read = 0
        self._nonfinite = 0
        self._first_nonfinite: float | None = None
        self._blocks: list[np.ndarray] = []
        self._resampler: StreamResampler | None = None

    def start(self, file_rate: int, file_channels: int) -> int:
        """Set up for a file of this rate and channel count; returns the frames to
        decode at a time (-1: all at once, when nothing is to change)."""
        self.file_rate, self.file_channels = file_rate, file_channels
        if file_channels > 2 and (self.channels is None or self.channels <= 2):
            self.wanted_channels = self.channels or 2
        changes_channels = self.wanted_channels not in (None, file_channels)
        if self.sample_rate is not None and self.sample_rate != file_rate:
            self._resampler = StreamResampler(
                file_rate, self.sample_rate, self.wanted_channels or file_channels
            )
        return self.BLOCK_FRAMES if changes_channels or self._resampler else -1

    def add(self, frames: np.ndarray) -> None:
        """Take decoded ``frames``, shaped ``(frames, channels)`` as soundfile reads them."""
        samples = frames.T
        count, first = _nonfinite(samples, self.file_rate, self.frames_read)
        self.frames_read += samples.shape[1]
        if count or self._nonfinite:
            # The file will be refused; only the count and the first are still wanted.
            self._nonfinite += count
            if self._first_nonfinite is None:
                self._first_nonfinite = first
            return
        if self.wanted_channels not in (None, self.file_channels):
            try:
                mixed = convert_channels(Audio(samples, self.file_rate), self.wanted_channels)
                samples = mixed.samples
            except UrvcError as exc:
                raise AudioFileError(f"{self.path}: {exc}") from exc
        if self._resampler is not None:
            samples = self._resampler.resample(samples)
        self._blocks.append(samples)

    def finish(self) -> Audio:
        """The samples as asked, or AudioFileError for a file with none or with NaNs."""
        if self.frames_read == 0:
            raise _no_samples_error(self.path)
        if self._nonfinite:
            raise AudioFileError(
                f"{self.path} holds {self._nonfinite} NaN or infinite sample(s), the first "
                f"at {self._first_nonfinite:.3f} s; the file is damaged: export it again "
                f"from the program that made it."
            )
        rate = self.file_rate
        if self._resampler is not None:
            self._blocks.append(self._resampler.finish())
            rate = self._resampler.rate_out
        blocks, self._blocks = self._blocks, []
        samples = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)
        return Audio(np.ascontiguousarray(samples, dtype=np.float32), rate)


class StreamResampler:
    """Resampling a block at a time: the samples :func:`resample` gives for the whole
    (soxr streams internally), and once finished its length, ``round(frames *
    rate_out / rate_in)``. Blocks are shaped ``(channels, frames)``."""

    def __init__(self, rate_in: int, rate_out: int, channels: int, quality: str = "VHQ") -> None:
        import soxr

        self.rate_in, self.rate_out = rate_in, rate_out
        self.frames_in = 0
        self.frames_out = 0
        self._channels = channels
        self._stream = soxr.ResampleStream(
            rate_in, rate_out, channels, dtype="float32", quality=quality
        )

    def resample(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` shaped ``(channels, frames)``; returns what soxr has ready."""
        self.frames_in += samples.shape[1]
        # soxr wants (samples, channels), C-contiguous with canonical strides: numpy 1.26
        # can call a one-sample transpose contiguous while soxr rejects its strides, so copy.
        frames = samples.T.astype(np.float32, order="C", copy=True)
        return self._keep(self._stream.resample_chunk(frames))

    def finish(self) -> np.ndarray:
        """What soxr still holds, padded or cut so the whole has its exact length."""
        empty = np.zeros((0, self._channels), dtype=np.float32)
        rest = self._keep(self._stream.resample_chunk(empty, last=True))
        # soxr rounds the length itself; pin it so it never depends on its version.
        missing = round(self.frames_in * self.rate_out / self.rate_in) - self.frames_out
        if missing > 0:
            rest = np.pad(rest, ((0, 0), (0, missing)))
        elif missing < 0:
            rest = rest[:, : max(0, rest.shape[1] + missing)]
        self.frames_out += missing
        return rest

    def _keep(self, frames: np.ndarray) -> np.ndarray:
        samples = np.asarray(frames, dtype=np.float32).T
        self.frames_out += samples.shape[1]
        return samples


# A file that holds less than its header promises is read as far as it goes, with a
# warning, rather than refused. The samples that are there are good ones, and a header
# that promises more than the file holds is not always damage: programs that write a
# WAV as a stream (ffmpeg or sox into a pipe, a recorder that was killed) put a
# placeholder length there. A refusal would leave the user no way through but another
# tool; the warning gives both lengths, so a song cut short by a failed download is
# noticed at once, and the result is still whatever that audio gives.
# MPEG decoders may drop up to a frame (1152 samples) of the length a header gives
# for the encoder's padding, so mp3 lengths compare with that slack.
_MPEG_FRAME = 1152


def _read_with_soundfile(
    path: Path, shaper: _SampleShaper | None = None, *, check_whole: bool = False
) -> Audio:
    """Decode ``path`` with libsndfile into ``shaper`` (the file as it is without one);
    with ``check_whole``, warn when the file holds less than its header promises or the
    decoder had to repair it."""
    import soundfile

    if shaper is None:
        shaper = _SampleShaper(path, None, None)
    with _decoder_messages() as notes:
        try:
            with soundfile.SoundFile(str(path)) as opened:
                header_frames = int(opened.frames)
                compressed = str(opened.subtype).startswith("MPEG")
                file_rate = int(opened.samplerate)
                block_frames = shaper.start(file_rate, int(opened.channels))
                while True:
                    frames = opened.read(block_frames, dtype="float32", always_2d=True)
                    if not len(frames):
                        break
                    shaper.add(frames)
        except _SOUNDFILE_ERRORS as exc:
            raise _SoundfileFailure(exc) from exc
    if check_whole:
        read = shaper.frames_read
        promised = max(header_frames, _wav_header_frames(path) or 0)
        slack = 2 * _MPEG_FRAME if compressed else 0
        short = read and promised - read > slack
        if short or notes:
            warnings.warn(
                _damage_note(path, file_rate, promised if short else None, read, notes),
                UrvcWarning,
                stacklevel=4,
            )
    return shaper.finish()


def _damage_note(
    path: Path, rate: int, promised: int | None, frames_read: int, notes: list[str]
) -> str:
    seconds = frames_read / rate
    problems = []
    if promised is not None:
        problems.append(f"it holds {seconds:.3f} s of the {promised / rate:.3f} s its header gives")
    if notes:
        problems.append(f"the decoder reported {len(notes)} problem(s), the first: {notes[0]}")
    what = "is cut short" if promised is not None and not notes else "is damaged"
    return (
        f"{path} {what}: {'; '.join(problems)}. Using the {seconds:.3f} s that "
        f"could be read; download or export it again for a whole copy."
    )


def _soundfile_info(path: Path) -> AudioInfo:
    import soundfile

    with _decoder_messages():
        try:
            info = soundfile.info(str(path))
        except _SOUNDFILE_ERRORS as exc:
            raise _SoundfileFailure(exc) from exc
    rate, frames = int(info.samplerate), int(info.frames)
    header_frames = _wav_header_frames(path)
    count, first = 0, None
    if info.subtype in ("FLOAT", "DOUBLE"):
        count, first = _nonfinite_in_file(path, rate)
    return AudioInfo(
        sample_rate=rate,
        channels=int(info.channels),
        frames=frames,
        duration=frames / rate,
        format=str(info.format).lower(),
        nonfinite_samples=count,
        first_nonfinite_seconds=first,
        header_frames=header_frames if header_frames and header_frames > frames else None,
    )


# --- what a file holds -------------------------------------------------------------------


def _nonfinite(samples: np.ndarray, rate: int, offset: int = 0) -> tuple[int, float | None]:
    """How many samples are NaN or infinite, and when the first comes (seconds)."""
    bad = ~np.isfinite(samples)
    count = int(np.count_nonzero(bad))
    if not count:
        return 0, None
    first_frame = int(np.argmax(bad.any(axis=0)))
    return count, (offset + first_frame) / rate


def _nonfinite_in_file(path: Path, rate: int) -> tuple[int, float | None]:
    """:func:`_nonfinite` over a float file, a block at a time, so memory stays flat."""
    import soundfile

    count, first, offset = 0, None, 0
    try:
        for block in soundfile.blocks(
            str(path), blocksize=1 << 16, dtype="float32", always_2d=True
        ):
            found, when = _nonfinite(block.T, rate, offset)
            count += found
            first = when if first is None else first
            offset += block.shape[0]
    except _SOUNDFILE_ERRORS as exc:
        raise _unreadable_error(path, _soundfile_message(exc)) from exc
    return count, first


# WAVE format tags whose block align is the size of one frame (PCM, IEEE float, A-law,
# mu-law, extensible); compressed tags (ADPCM, GSM) pack several frames in a block.
_FRAME_ALIGNED_WAVE_FORMATS = frozenset({0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE})
# Data sizes a stream writer leaves when it can't go back to fill in the real one.
_UNKNOWN_WAVE_SIZES = frozenset({0, 0x7FFFFFFF, 0xFFFFFFFF})


def _wav_header_frames(path: Path) -> int | None:
    """The frames a WAV (RIFF, RIFX, RF64) header says its data chunk holds.

    libsndfile shortens the length it reports to what the file holds, so a file cut
    short would go unnoticed; the header's own number is read here. None for anything
    that is not a WAV, a compressed WAV, or a header that leaves the length open.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(12)
            if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in _RIFF_ORDERS:
                return None
            order = _RIFF_ORDERS[head[:4]]
            block_align, rf64_data_size = 0, None
            for _ in range(64):  # a WAV has a handful of chunks before its data
                chunk = file.read(8)
                if len(chunk) < 8:
                    return None
                size = struct.unpack(f"{order}I", chunk[4:])[0]
                body = file.read(min(size, 28)) if chunk[:4] in (b"fmt ", b"ds64") else b""
                if chunk[:4] == b"fmt " and len(body) >= 14:
                    tag, block_align = struct.unpack(f"{order}H", body[:2])[0], 0
                    if tag in _FRAME_ALIGNED_WAVE_FORMATS:
                        block_align = struct.unpack(f"{order}H", body[12:14])[0]
                elif chunk[:4] == b"ds64" and len(body) >= 16:
                    rf64_data_size = struct.unpack("<Q", body[8:16])[0]
                elif chunk[:4] == b"data":
                    if head[:4] == b"RF64" and size == 0xFFFFFFFF:
                        size = rf64_data_size or 0
                    if size in _UNKNOWN_WAVE_SIZES or not block_align:
                        return None
                    return int(size // block_align)
                file.seek(size + (size & 1) - len(body), os.SEEK_CUR)
    except (OSError, struct.error):
        return None
    return None


_RIFF_ORDERS = {b"RIFF": "<", b"RIFX": ">", b"RF64": "<"}


# libsndfile decodes mp3 with libmpg123, which prints its notes and errors straight to
# the process's stderr ("[src/libmpg123/layer3.c:...] error: dequantization failed!",
# "Note: Trying to resync..."), a screen of them for one damaged file. They are held
# while libsndfile works and come back as one warning (or the error's one line).
_DECODER_LINE = re.compile(r"^(\[[^\]]*libmpg123[^\]]*\]|Note:|Warning:|Error:)\s*", re.IGNORECASE)
_DECODER_LEVEL = re.compile(r"^(error|warning|note):\s*", re.IGNORECASE)
_STDERR_HELD = threading.Lock()


@contextlib.contextmanager
def _decoder_messages() -> Iterator[list[str]]:
    """Hold what native code writes to file descriptor 2 during the block.

    Yields a list that, after the block, holds the decoder's messages, one per line,
    without their source tags. Anything else written meanwhile (another thread's
    output) is passed on to stderr afterwards. Where descriptor 2 can't be redirected
    (no console), messages are left alone.
    """
    notes: list[str] = []
    with _STDERR_HELD, tempfile.TemporaryFile() as held:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:
            yield notes
            return
        os.dup2(held.fileno(), 2)
        try:
            yield notes
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            others = []
            for line in held.read().decode("utf-8", "replace").splitlines():
                if not line.strip():
                    continue
                tag = _DECODER_LINE.match(line)
                if tag:
                    said = _DECODER_LEVEL.sub("", line[tag.end() :]).strip().rstrip("!.")
                    notes.append(said or line.strip())
                else:
                    others.append(line)
            if others:
                with contextlib.suppress(AttributeError, OSError, ValueError):
                    sys.stderr.write("\n".join(others) + "\n")


def _ffmpeg_for(path: Path, soundfile_error: Exception) -> str:
    """The ffmpeg executable to decode ``path`` with, or the error to show instead."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is not None:
        return ffmpeg
    suffix = _suffix(path)
    if suffix in READ_FORMATS or not suffix:
        # A format libsndfile reads itself failed to open: the file is damaged, and
        # pointing the user at ffmpeg would send them the wrong way.
        raise _unreadable_error(path, _soundfile_message(soundfile_error)) from soundfile_error
    raise AudioFileError(
        f"Can't read {path}: .{suffix} files need ffmpeg. Install ffmpeg to read .{suffix} "
        f"files, or convert it to one of {', '.join(WRITE_FORMATS)}."
    ) from soundfile_error


def _decode_with_ffmpeg(
    path: Path, ffmpeg: str, soundfile_error: Exception, shaper: _SampleShaper | None = None
) -> Audio:
    """Decode the first audio stream of ``path`` to a float32 WAV, then read that."""
    with tempfile.TemporaryDirectory(prefix="urvc-decode-") as folder:
        decoded = Path(folder) / "decoded.wav"
        command = [
            ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            # "file:" stops ffmpeg reading a name with a colon in it as a protocol
            # ("http:", "pipe:"), and a name starting with "-" as an option.
            "-i",
            f"file:{path.resolve()}",
            "-map",
            "0:a:0",
            "-c:a",
            "pcm_f32le",
            # RF64 once the data passes WAV's 4 GiB limit (hours of multichannel audio).
            "-rf64",
            "auto",
            "-f",
            "wav",
            str(decoded),
        ]
        result = _run_tool(command, path)
        if b"matches no streams" in result.stderr:
            raise _no_audio_track_error(path)
        if result.returncode != 0 or not decoded.is_file():
            raise _unreadable_error(path, _decoding_detail(path, soundfile_error, result.stderr))
        try:
            audio = _read_with_soundfile(decoded, shaper)
        except _SoundfileFailure as failure:
            raise _unreadable_error(path, _soundfile_message(failure.cause)) from failure.cause
    if result.stderr.strip():
        # At -loglevel error, ffmpeg says nothing about a whole file: what it said is
        # damage it decoded around (a cut-short or corrupt stream).
        warnings.warn(
            f"{path} is damaged: ffmpeg reported {_ffmpeg_message(result.stderr, path)!r}. "
            f"Using the {audio.duration:.3f} s it could decode; download or export it "
            f"again for a whole copy.",
            UrvcWarning,
            stacklevel=4,
        )
    return audio


def _ffprobe_info(path: Path, ffprobe: str, soundfile_error: Exception) -> tuple[AudioInfo, str]:
    """What ffprobe says of the first audio stream, and its codec's name."""
    command = [
        ffprobe,
        "-v",
        "error",
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=codec_name,sample_rate,channels,duration:format=duration,format_name",
        "-of",
        "json",
        f"file:{path.resolve()}",
    ]
    result = _run_tool(command, path)
    if result.returncode != 0:
        raise _unreadable_error(path, _decoding_detail(path, soundfile_error, result.stderr))
    try:
        probe = json.loads(result.stdout)
        streams = probe.get("streams") or []
        if not streams:
            raise _no_audio_track_error(path)
        stream = streams[0]
        container = probe.get("format", {})
        sample_rate = int(stream["sample_rate"])
        channels = int(stream["channels"])
        # A stream's own duration is exact; containers like Matroska only have one overall.
        duration = float(stream.get("duration") or container["duration"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _unreadable_error(path, "ffprobe could not tell its length and format") from exc
    frames = round(duration * sample_rate)
    if frames == 0:
        raise _no_samples_error(path)
    format_names = str(container.get("format_name", "")).split(",")
    suffix = _suffix(path)
    info = AudioInfo(
        sample_rate=sample_rate,
        channels=channels,
        frames=frames,
        duration=frames / sample_rate,
        format=suffix if suffix in format_names else (format_names[0] or suffix or "unknown"),
    )
    return info, str(stream.get("codec_name") or "")


def _run_tool(command: list[str], path: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(command, capture_output=True, check=False)
    except OSError as exc:
        raise AudioFileError(
            f"Can't run {command[0]} to read {path}: {exc.strerror or exc}; "
            f"check that ffmpeg is installed properly."
        ) from exc


def _unreadable_error(path: Path, detail: str) -> AudioFileError:
    return AudioFileError(
        f"Can't read {path}: {detail}. The file is damaged or not audio; "
        f"check that it plays in a media player, or export it again."
    )


def _no_samples_error(path: Path) -> AudioFileError:
    return AudioFileError(f"{path} holds no audio samples; choose a file with sound in it.")


def _no_audio_track_error(path: Path) -> AudioFileError:
    return AudioFileError(f"{path} has no audio track; choose a file with sound in it.")


def _decoding_detail(path: Path, soundfile_error: Exception, ffmpeg_stderr: bytes) -> str:
    """Why neither soundfile nor ffmpeg could read ``path``, in the words of the one that
    should have: libsndfile for its own formats, ffmpeg for the rest."""
    if _suffix(path) in READ_FORMATS:
        return _soundfile_message(soundfile_error)
    return _ffmpeg_message(ffmpeg_stderr, path)


def _soundfile_message(error: Exception) -> str:
    # LibsndfileError carries libsndfile's own sentence without the "Error opening
    # '<path>':" prefix, which would repeat the path already in the message.
    message = str(getattr(error, "error_string", "") or error).strip().rstrip(".")
    if message.startswith("File does not exist or is not a regular file"):
        # What libsndfile says when its mp3 decoder finds no frame it can sync to; the
        # file exists (that was checked first), so the words would mislead.
        return "no audio frame in it could be decoded"
    return message or type(error).__name__


def _ffmpeg_message(stderr: bytes, path: Path) -> str:
    text = stderr.decode("utf-8", "replace")
    # ffmpeg states the cause first and generic follow-ups ("Error opening input files")
    # after it. Its "[mov,mp4 @ 0x55d1...]" source tags and the repeated file name mean
    # nothing to a user, and the path is already in the message.
    for line in text.splitlines():
        line = _FFMPEG_SOURCE_TAG.sub("", line).replace(f"file:{path.resolve()}: ", "").strip()
        if line:
            return line.rstrip(".")
    return "ffmpeg could not decode it"


_FFMPEG_SOURCE_TAG = re.compile(r"^\[[^\]]*\]\s*")


def _suffix(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


# --- writing -----------------------------------------------------------------------------


def write_format_for(path: str | Path, format: str | None = None) -> str:
    """The format a file will be written in (from ``format`` or the suffix), or AudioFileError.

    Call it before long work, so a bad output name fails before anything is computed.
    """
    path = Path(path)
    chosen = format if format is not None else _suffix(path)
    normalised = chosen.lower().lstrip(".")
    if normalised not in WRITE_FORMATS:
        shown = f"'{chosen}'" if chosen else "no format (the name has no suffix)"
        raise AudioFileError(
            f"Can't write {path}: {shown} is not a format urvc writes; "
            f"use one of {', '.join(WRITE_FORMATS)}."
        )
    return normalised


def _mp3_sample_rate(sample_rate: int) -> int:
    """The rate MPEG audio will be written at: ``sample_rate`` or the next one it allows."""
    for allowed in _MP3_SAMPLE_RATES:
        if allowed >= sample_rate:
            return allowed
    return _MP3_SAMPLE_RATES[-1]


def _mp3_bitrate_range(sample_rate: int) -> tuple[int, int]:
    """The bitrates (kbps) LAME accepts for MPEG-1, MPEG-2 and MPEG-2.5 rates."""
    if sample_rate >= 32000:
        return 32, 320
    if sample_rate >= 16000:
        return 8, 160
    return 8, 64


def _mp3_encoder_options(path: Path, sample_rate: int, bitrate_kbps: int | None) -> dict[str, Any]:
    """soundfile keywords that make LAME encode at a constant ``bitrate_kbps``."""
    import soundfile

    lowest, highest = _mp3_bitrate_range(sample_rate)
    if bitrate_kbps is not None and not lowest <= bitrate_kbps <= highest:
        raise AudioFileError(
            f"Can't write {path} at {bitrate_kbps} kbps: mp3 at {sample_rate} Hz takes "
            f"{lowest} to {highest} kbps."
        )
    # compression_level and bitrate_mode arrived in soundfile 0.13.
    if "compression_level" not in inspect.signature(soundfile.write).parameters:
        if bitrate_kbps is not None:
            raise AudioFileError(
                f"Can't write {path} at {bitrate_kbps} kbps: choosing an mp3 bitrate needs "
                f"soundfile 0.13 or newer; upgrade it (pip install -U soundfile)."
            )
        return {}
    bitrate = bitrate_kbps if bitrate_kbps is not None else min(_DEFAULT_MP3_BITRATE_KBPS, highest)
    # libsndfile maps a compression level c in [0, 1] to int(highest - c * (highest -
    # lowest)) kbps. Aiming half a kbps above the target keeps the float error of that
    # product from truncating to the bitrate below; LAME then snaps to a legal bitrate.
    level = (highest - bitrate - 0.5) / (highest - lowest)
    return {"compression_level": min(max(level, 0.0), 1.0), "bitrate_mode": "CONSTANT"}


def _prepare_destination(path: Path) -> None:
    """The folder for ``path`` exists and ``path`` is no folder, or AudioFileError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioFileError(
            f"Can't create the folder {path.parent} for {path}: {exc.strerror or exc}; "
            f"choose a folder you can write to."
        ) from exc
    if path.is_dir():
        raise AudioFileError(f"Can't write {path}: it is a folder; name a file instead.")


def _write_error(path: Path, exc: BaseException) -> AudioFileError:
    if isinstance(exc, PermissionError):
        return AudioFileError(
            f"Can't write {path}: permission denied; choose a folder you can write to, "
            f"or close the program that has the file open."
        )
    if isinstance(exc, OSError) and exc.strerror:
        return AudioFileError(
            f"Can't write {path}: {exc.strerror}; check the folder and the free disk space."
        )
    detail = _soundfile_message(exc) if isinstance(exc, Exception) else type(exc).__name__
    return AudioFileError(f"Can't write {path}: {detail}.")
