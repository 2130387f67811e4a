"""Training step 1 (``urvc train preprocess``): a folder of recordings to training clips.

Every audio file under the dataset folder is read as mono at the model's rate,
high-passed at 48 Hz (fifth-order Butterworth, as RVC does: rumble and DC teach the
model nothing), optionally denoised (noisereduce) and normalised, split, and cut into
clips of ``chunk_seconds`` overlapping by ``overlap_seconds``. Each clip is written at
the model's rate to ``0_gt_wavs/`` and at 16 kHz (what the embedder and the pitch
extractors read) to ``1_16k_wavs/``, under the same name.

Splitting: ``skip`` takes each file whole (a dataset already cut into clips);
``simple`` cuts it into chunks; ``automatic`` first splits it at silences (0.4 s or
longer below -42 dBFS, as RVC's slicer does), keeping at most 0.25 s of silence at a
piece's ends, then cuts long pieces into chunks. Normalising: ``none``; ``pre``, the
whole file before it is split; ``post``, each clip: RVC's blend of the clip with itself
scaled to a 0.9 peak (three quarters of the way), which evens levels without flattening
them. Clips under a second are left out, and so are clips whose peak passes 2.5 after
filtering (broken audio RVC leaves out too).

Resumable: ``preprocess.json`` in the workspace records the settings and, per source
file (by its size and time), the clips it gave; a run skips the files recorded, so an
interrupted run goes on where it stopped and a run after adding files processes only
those. Changed settings start the clips afresh. A file that can't be read is reported
(a :class:`~urvc_core.errors.UrvcWarning`) and skipped; the others go on.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.errors import AudioFileError, UrvcError, UrvcWarning

__all__ = [
    "MODEL_SAMPLE_RATES",
    "NORMALISE_MODES",
    "SPLIT_MODES",
    "PreprocessResult",
    "PreprocessSettings",
    "preprocess_dataset",
    "training_workspace",
]

MODEL_SAMPLE_RATES: tuple[int, ...] = (32000, 40000, 48000)
SPLIT_MODES: tuple[str, ...] = ("skip", "simple", "automatic")
NORMALISE_MODES: tuple[str, ...] = ("none", "pre", "post")
#: The workspace's folders, named as RVC names them.
CLIPS_FOLDER = "0_gt_wavs"
CLIPS_16K_FOLDER = "1_16k_wavs"
RECORD_FILE = "preprocess.json"
#: What extraction (:mod:`~urvc_core.training.extract`) computes from the clips: gone
#: with the clips when they are made again.
DERIVED_FOLDERS = ("f0", "features", "filelists")
EMBEDDER_RATE = 16000

_HIGHPASS_HZ = 48.0
_HIGHPASS_ORDER = 5
_SILENCE_DB = -42.0
_SILENCE_MIN_SECONDS = 0.4
_SILENCE_KEPT_SECONDS = 0.25
_FRAME_SECONDS = 0.01
_MIN_CLIP_SECONDS = 1.0
_BROKEN_PEAK = 2.5
_PEAK_TARGET = 0.9
_PEAK_SHARE = 0.75


@dataclass(frozen=True)
class PreprocessSettings:
    """How recordings become clips; see the module's docstring."""

    sample_rate: int = 40000
    split: str = "automatic"
    chunk_seconds: float = 3.0
    overlap_seconds: float = 0.3
    normalise: str = "post"
    noise_reduction: bool = False

    def __post_init__(self) -> None:
        if self.sample_rate not in MODEL_SAMPLE_RATES:
            raise UrvcError(
                f"A voice model's sample rate is one of "
                f"{', '.join(str(r) for r in MODEL_SAMPLE_RATES)} Hz; got {self.sample_rate}."
            )
        for value, choices, what in (
            (self.split, SPLIT_MODES, "split"),
            (self.normalise, NORMALISE_MODES, "normalise"),
        ):
            if value not in choices:
                raise UrvcError(f"{what} must be one of {', '.join(choices)}; got {value!r}.")
        if not 1.0 <= self.chunk_seconds <= 30.0:
            raise UrvcError(f"Clips must be 1 to 30 s long; got {self.chunk_seconds:g} s.")
        if not 0.0 <= self.overlap_seconds < self.chunk_seconds / 2:
            raise UrvcError(
                f"The overlap must be from 0 to half a clip ({self.chunk_seconds / 2:g} s); "
                f"got {self.overlap_seconds:g} s."
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PreprocessResult:
    """What preprocessing left in the workspace, and what it did this time."""

    name: str
    workspace: Path
    settings: PreprocessSettings
    #: Clips in the workspace now, and their length in seconds.
    clips: int
    seconds: float
    #: Files processed this time, and files whose clips an earlier run made.
    processed: int
    reused: int
    #: Files that could not be read: (file, why).
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workspace": str(self.workspace),
            "settings": self.settings.as_dict(),
            "clips": self.clips,
            "seconds": round(self.seconds, 3),
            "processed": self.processed,
            "reused": self.reused,
            "failed": [{"file": file, "error": error} for file, error in self.failed],
            "notes": self.notes,
        }


def training_workspace(name: str) -> Path:
    """The workspace of the model ``name``: ``<home>/training/<name>`` (a library name)."""
    from urvc_core.home import urvc_home
    from urvc_core.voices import check_new_voice_name

    check_new_voice_name(name, overwrite=True)  # the spelling; the library may have it
    return urvc_home().training / name


def preprocess_dataset(
    dataset: str | Path,
    name: str,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    **settings: Any,
) -> PreprocessResult:
    """Turn the recordings under ``dataset`` into the training clips of model ``name``.

    Keyword arguments are :class:`PreprocessSettings`. ``progress(done, total, file)``
    is called as each file starts.

    Raises:
        UrvcError: bad settings, a dataset folder that is missing or holds no audio
            files, or a dataset that gives no clip at all (too short, or all silence).
    """
    from urvc_core.sources import AUDIO_SUFFIXES

    chosen = PreprocessSettings(**settings)
    workspace = training_workspace(name)
    root = Path(dataset).expanduser()
    if not root.is_dir():
        raise UrvcError(
            f"The dataset {root} {'is a file' if root.exists() else 'does not exist'}; give "
            f"a folder of recordings of the voice."
        )
    files = sorted(
        (
            path
            for path in root.rglob("*")
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(root).parts)
            and path.suffix.lower().lstrip(".") in AUDIO_SUFFIXES
        ),
        key=lambda path: str(path.relative_to(root)).casefold(),
    )
    if not files:
        raise UrvcError(
            f"The dataset {root} holds no audio files ({', '.join(AUDIO_SUFFIXES[:6])}...); "
            f"put recordings of the voice in it."
        )
    record, notes = _record_for(workspace, chosen)
    result = PreprocessResult(name, workspace, chosen, 0, 0.0, 0, 0, notes=notes)
    done_files: dict[str, Any] = record["files"]
    for number, path in enumerate(files):
        key = str(path.relative_to(root).as_posix())
        if progress is not None:
            progress(number, len(files), key)
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        earlier = done_files.get(key)
        if earlier is not None and earlier.get("stamp") == stamp:
            result.reused += 1
            continue
        if earlier is not None:
            _remove_clips(workspace, earlier.get("clips", []))
        try:
            clips = _process_file(path, key, workspace, chosen)
        except AudioFileError as exc:
            done_files.pop(key, None)
            result.failed.append((key, str(exc)))
            warnings.warn(f"{path} was skipped: {exc}", UrvcWarning, stacklevel=2)
            continue
        done_files[key] = {"stamp": stamp, "clips": clips}
        result.processed += 1
        _write_record(workspace, record)
    if progress is not None:
        progress(len(files), len(files), "")
    present = {str(path.relative_to(root).as_posix()) for path in files}
    gone = [key for key in done_files if key not in present]
    for key in gone:  # a recording taken out of the dataset takes its clips with it
        _remove_clips(workspace, done_files.pop(key).get("clips", []))
    if gone:
        _write_record(workspace, record)
    names = [clip for entry in done_files.values() for clip, _ in entry["clips"]]
    result.clips = len(names)
    result.seconds = sum(seconds for entry in done_files.values() for _, seconds in entry["clips"])
    if not names:
        raise UrvcError(
            f"The dataset {root} gives no training clip: every recording is under "
            f"{_MIN_CLIP_SECONDS:g} s of sound or silent; give recordings of at least a "
            f"few seconds (a few minutes in all trains a usable voice)."
        )
    return result


def _record_for(workspace: Path, settings: PreprocessSettings) -> tuple[dict[str, Any], list[str]]:
    """The workspace's record: kept when made with these settings, else a new one (and
    the clips of the old one removed)."""
    path = workspace / RECORD_FILE
    notes: list[str] = []
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if (
        isinstance(record, dict)
        and record.get("settings") == settings.as_dict()
        and isinstance(record.get("files"), dict)
    ):
        return record, notes
    if record is not None or (workspace / CLIPS_FOLDER).exists():
        notes.append("the settings changed since the last run: every file is processed again")
    for folder in (CLIPS_FOLDER, CLIPS_16K_FOLDER, *DERIVED_FOLDERS):
        shutil.rmtree(workspace / folder, ignore_errors=True)
    return {"settings": settings.as_dict(), "files": {}}, notes


def _write_record(workspace: Path, record: dict[str, Any]) -> None:
    from urvc_core.atomic_files import write_text_atomically

    workspace.mkdir(parents=True, exist_ok=True)
    write_text_atomically(workspace / RECORD_FILE, json.dumps(record, indent=1))


def _remove_clips(workspace: Path, clips: list[Any]) -> None:
    """Remove clips and what extraction computed from them: the next clips may take
    their names, and extraction skips a clip whose files are there."""
    for clip, _ in clips:
        for folder in (CLIPS_FOLDER, CLIPS_16K_FOLDER):
            (workspace / folder / clip).unlink(missing_ok=True)
        stem = Path(clip).stem
        for derived in (
            *workspace.glob(f"f0/*/*/{stem}.npy"),
            *workspace.glob(f"features/*/{stem}.npy"),
        ):
            derived.unlink(missing_ok=True)


def _process_file(
    path: Path, key: str, workspace: Path, settings: PreprocessSettings
) -> list[tuple[str, float]]:
    """Write the clips of one recording; returns (clip file name, seconds) of each."""
    from urvc_core.audio import load_audio, resample, save_audio
    from urvc_core.backends import Audio

    rate = settings.sample_rate
    samples = load_audio(path, sample_rate=rate, channels=1).samples[0].astype(np.float64)
    samples = _high_pass(samples, rate)
    if settings.normalise == "pre":
        samples = _normalised(samples)
    if settings.noise_reduction:
        import noisereduce

        samples = np.asarray(noisereduce.reduce_noise(y=samples, sr=rate), dtype=np.float64)
    pieces = [samples] if settings.split != "automatic" else _split_at_silences(samples, rate)
    stem = hashlib.sha256(key.encode()).hexdigest()[:10]
    written: list[tuple[str, float]] = []
    for piece in pieces:
        chunks = [piece] if settings.split == "skip" else _chunks(piece, rate, settings)
        for chunk in chunks:
            if len(chunk) < _MIN_CLIP_SECONDS * rate or np.max(np.abs(chunk)) > _BROKEN_PEAK:
                continue
            if not np.any(chunk):
                continue
            if settings.normalise == "post":
                chunk = _normalised(chunk)
            clip = f"{stem}_{len(written)}.wav"
            audio = Audio(chunk.astype(np.float32), rate)
            save_audio(audio, workspace / CLIPS_FOLDER / clip)
            save_audio(resample(audio, EMBEDDER_RATE), workspace / CLIPS_16K_FOLDER / clip)
            written.append((clip, len(chunk) / rate))
    return written


def _high_pass(samples: np.ndarray, rate: int) -> np.ndarray:
    from scipy import signal

    b, a = signal.butter(_HIGHPASS_ORDER, _HIGHPASS_HZ, btype="high", fs=rate)
    return np.asarray(signal.lfilter(b, a, samples))


def _normalised(samples: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0:
        return samples
    return samples / peak * (_PEAK_TARGET * _PEAK_SHARE) + (1 - _PEAK_SHARE) * samples


def _split_at_silences(samples: np.ndarray, rate: int) -> list[np.ndarray]:
    """The recording cut at the middle of its silences of 0.4 s or more; each piece keeps
    at most 0.25 s of silence at its ends; all-silent pieces are left out."""
    hop = max(1, round(_FRAME_SECONDS * rate))
    frames = len(samples) // hop
    if frames == 0:
        return [samples]
    framed = samples[: frames * hop].reshape(frames, hop)
    level = 10 * np.log10(np.mean(framed**2, axis=1) + 1e-12)
    sound = level > _SILENCE_DB
    if not sound.any():
        return []
    kept = round(_SILENCE_KEPT_SECONDS / _FRAME_SECONDS)
    shortest_gap = round(_SILENCE_MIN_SECONDS / _FRAME_SECONDS)
    voiced = np.flatnonzero(sound)
    # Runs of sound, joined across gaps shorter than the shortest silence that splits.
    breaks = np.flatnonzero(np.diff(voiced) > shortest_gap)
    starts = np.concatenate([[voiced[0]], voiced[breaks + 1]])
    ends = np.concatenate([voiced[breaks], [voiced[-1]]]) + 1
    pieces = []
    for start, end in zip(starts, ends, strict=True):
        first = max(0, start - kept) * hop
        last = min(frames, end + kept) * hop
        pieces.append(samples[first:last])
    return pieces


def _chunks(piece: np.ndarray, rate: int, settings: PreprocessSettings) -> list[np.ndarray]:
    """Clips of ``chunk_seconds`` every ``chunk - overlap`` seconds; the last one is the
    rest of the piece (left out by the caller when under a second)."""
    length = round(settings.chunk_seconds * rate)
    step = length - round(settings.overlap_seconds * rate)
    if len(piece) <= length:
        return [piece]
    chunks = []
    start = 0
    while start + length < len(piece):
        chunks.append(piece[start : start + length])
        start += step
    chunks.append(piece[start:])
    return chunks
