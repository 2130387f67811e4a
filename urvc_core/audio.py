"""Reading and writing audio files, resampling, and changing the channel count.

Everything here speaks :class:`~urvc_core.backends.Audio`: float32 samples shaped
``(channels, samples)`` with their sample rate. Files go through soundfile (libsndfile)
for the formats it handles on its own, WAV, FLAC, Ogg and MP3 among them, and through the
``ffmpeg`` program for anything else (m4a, aac, webm, the audio track of a video) when it
is installed. Every failure a user can fix is an :class:`~urvc_core.errors.AudioFileError`
whose one-line message names the file and says what to do.

soundfile and soxr are imported inside the functions that use them, so that importing
this module (which the CLI does to answer ``--help``) costs no more than numpy.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.atomic_files import atomic_destination
from urvc_core.backends import Audio
from urvc_core.errors import AudioFileError, UrvcError

__all__ = [
    "READ_FORMATS",
    "RESAMPLE_QUALITIES",
    "WRITE_FORMATS",
    "AudioInfo",
    "audio_info",
    "convert_channels",
    "load_audio",
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

# LAME's own default (when no bitrate is set) is a low-quality VBR setting, around 40 kbps
# for 44.1 kHz audio, which smears a singing voice. 192 kbps is transparent for most
# listeners; it is capped at the highest bitrate the MPEG version allows for low rates.
_DEFAULT_MP3_BITRATE_KBPS = 192


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding the samples."""

    sample_rate: int
    channels: int
    frames: int
    #: Length in seconds.
    duration: float
    #: Container format as a short lowercase name: "wav", "flac", "ogg", "mp3", "m4a"...
    format: str


def load_audio(
    path: str | Path, *, sample_rate: int | None = None, channels: int | None = None
) -> Audio:
    """Read an audio file into float32 samples, optionally resampled and re-channelled.

    Formats libsndfile knows (see :data:`READ_FORMATS`) are read directly; anything else,
    including the audio track of a video, is decoded by ``ffmpeg`` if it is on ``PATH``.

    Args:
        path: the file to read.
        sample_rate: resample to this rate (Hz); ``None`` keeps the file's rate.
        channels: ``1`` averages the channels into one, ``2`` copies a mono file into
            both; ``None`` keeps the file's channels.

    Raises:
        AudioFileError: the file is missing, empty, corrupt, holds no samples, or needs
            ffmpeg and ffmpeg is not installed.
    """
    path = Path(path)
    _check_arguments(path, sample_rate=sample_rate, channels=channels)
    _check_readable_file(path)
    audio = _decode(path)
    if audio.num_samples == 0:
        raise _no_samples_error(path)
    if channels is not None:
        try:
            audio = convert_channels(audio, channels)
        except UrvcError as exc:
            raise AudioFileError(f"{path}: {exc}") from exc
    if sample_rate is not None:
        audio = resample(audio, sample_rate)
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
    above (or to 48 kHz from a higher rate).

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
    file_format = write_format_for(path, format)
    if audio.num_samples == 0:
        raise AudioFileError(f"Nothing to write to {path}: the audio has no samples.")
    if bitrate_kbps is not None and file_format != "mp3":
        raise AudioFileError(
            f"Can't write {path} at {bitrate_kbps} kbps: a bitrate applies to mp3 only; "
            f"leave it out for {file_format}."
        )

    samples = audio.samples
    if not np.isfinite(samples).all():
        # A NaN or infinity would turn into garbage or an encoder error; silence is the
        # least harmful stand-in for a sample that holds no number.
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    if file_format in _INTEGER_FORMATS:
        samples = np.clip(samples, -1.0, 1.0)
    sample_rate = audio.sample_rate
    encoder_options: dict[str, Any] = {}
    if file_format == "mp3":
        if audio.channels > 2:
            raise AudioFileError(
                f"Can't write {path}: mp3 holds at most 2 channels and the audio has "
                f"{audio.channels}; save it as wav or flac, or convert it to stereo first."
            )
        sample_rate = _mp3_sample_rate(sample_rate)
        if sample_rate != audio.sample_rate:
            samples = resample(Audio(samples, audio.sample_rate), sample_rate).samples
        encoder_options = _mp3_encoder_options(path, sample_rate, bitrate_kbps)

    container, subtype = _WRITE_SUBTYPES[file_format]
    _write_atomically(
        path,
        lambda temporary: _write_with_soundfile(
            temporary, samples, sample_rate, container, subtype, encoder_options
        ),
    )
    return path


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

    import soxr

    expected_length = round(audio.num_samples * sample_rate / audio.sample_rate)
    # soxr wants (samples, channels), C-contiguous with canonical strides: numpy 1.26 can
    # call a one-sample transpose contiguous while soxr rejects its strides, so copy.
    frames = audio.samples.T.copy(order="C")
    resampled = np.asarray(soxr.resample(frames, audio.sample_rate, sample_rate, quality))
    resampled = resampled.T
    # soxr already rounds, but pin the length so it never depends on its version.
    length = resampled.shape[1]
    if length > expected_length:
        resampled = resampled[:, :expected_length]
    elif length < expected_length:
        resampled = np.pad(resampled, ((0, 0), (0, expected_length - length)))
    return Audio(np.ascontiguousarray(resampled, dtype=np.float32), sample_rate)


def convert_channels(audio: Audio, channels: int) -> Audio:
    """``audio`` with ``channels`` channels: averaged into mono, or mono copied into each.

    Mixing more than two channels down to two needs a speaker layout this module does not
    know, so it is refused; ask for ``channels=1`` instead.
    """
    if not _is_whole_number(channels, minimum=1):
        raise UrvcError(f"Channel count must be a whole number, 1 or more; got {channels!r}.")
    channels = int(channels)
    if channels == audio.channels:
        return audio
    if channels == 1:
        return audio.to_mono()
    if audio.channels == 1:
        return Audio(np.repeat(audio.samples, channels, axis=0), audio.sample_rate)
    raise UrvcError(
        f"Can't turn {audio.channels} channels into {channels}; convert to 1 channel instead."
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

    The destination appears only when it is complete (see :func:`save_audio`).
    """
    audio = load_audio(source, sample_rate=sample_rate, channels=channels)
    return save_audio(audio, destination, bitrate_kbps=bitrate_kbps)


def audio_info(path: str | Path) -> AudioInfo:
    """Sample rate, channels, length and format of a file, read from its header.

    Formats ffmpeg handles are probed with ``ffprobe``; only when ffprobe is missing but
    ffmpeg is present is the file decoded in full to measure it.

    Raises:
        AudioFileError: as :func:`load_audio`.
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
        return _ffprobe_info(path, ffprobe, soundfile_error)
    audio = _decode_with_ffmpeg(path, ffmpeg, soundfile_error)
    return AudioInfo(
        sample_rate=audio.sample_rate,
        channels=audio.channels,
        frames=audio.num_samples,
        duration=audio.duration,
        format=_suffix(path) or "unknown",
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


def _decode(path: Path) -> Audio:
    """Read with soundfile, falling back to ffmpeg for what libsndfile doesn't know."""
    try:
        return _read_with_soundfile(path)
    except _SoundfileFailure as failure:
        soundfile_error = failure.cause
    ffmpeg = _ffmpeg_for(path, soundfile_error)
    return _decode_with_ffmpeg(path, ffmpeg, soundfile_error)


def _read_with_soundfile(path: Path) -> Audio:
    import soundfile

    try:
        frames, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except _SOUNDFILE_ERRORS as exc:
        raise _SoundfileFailure(exc) from exc
    return Audio(np.ascontiguousarray(frames.T), int(file_rate))


def _soundfile_info(path: Path) -> AudioInfo:
    import soundfile

    try:
        info = soundfile.info(str(path))
    except _SOUNDFILE_ERRORS as exc:
        raise _SoundfileFailure(exc) from exc
    return AudioInfo(
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        duration=float(info.frames) / float(info.samplerate),
        format=str(info.format).lower(),
    )


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


def _decode_with_ffmpeg(path: Path, ffmpeg: str, soundfile_error: Exception) -> Audio:
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
            return _read_with_soundfile(decoded)
        except _SoundfileFailure as failure:
            raise _unreadable_error(path, _soundfile_message(failure.cause)) from failure.cause


def _ffprobe_info(path: Path, ffprobe: str, soundfile_error: Exception) -> AudioInfo:
    command = [
        ffprobe,
        "-v",
        "error",
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=sample_rate,channels,duration:format=duration,format_name",
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
    return AudioInfo(
        sample_rate=sample_rate,
        channels=channels,
        frames=frames,
        duration=frames / sample_rate,
        format=suffix if suffix in format_names else (format_names[0] or suffix or "unknown"),
    )


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


def _write_with_soundfile(
    path: Path,
    samples: np.ndarray,
    sample_rate: int,
    container: str,
    subtype: str,
    encoder_options: dict[str, Any],
) -> None:
    import soundfile

    soundfile.write(
        str(path),
        np.ascontiguousarray(samples.T),
        sample_rate,
        subtype=subtype,
        format=container,
        **encoder_options,
    )


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)``, then move the result onto ``path`` in one rename.

    The mechanics are :func:`~urvc_core.atomic_files.atomic_destination`'s; what is
    audio's own is saying what went wrong in a way that names the file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioFileError(
            f"Can't create the folder {path.parent} for {path}: {exc.strerror or exc}; "
            f"choose a folder you can write to."
        ) from exc
    if path.is_dir():
        raise AudioFileError(f"Can't write {path}: it is a folder; name a file instead.")
    try:
        with atomic_destination(path) as temporary:
            write(temporary)
    except UrvcError:
        raise
    except _SOUNDFILE_ERRORS as exc:
        raise _write_error(path, exc) from exc


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
