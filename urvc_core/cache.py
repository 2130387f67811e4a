"""Intermediate results of the cover pipeline, cached by what produced them.

Every step of a cover (a separation, a conversion, an effects chain, a pitch shift, the
mix, a download) is stored under a key that says exactly what produced it::

    key = sha256(step name, backend name, backend's plugin and version,
                 the step's parameters, the content hash of every input)

so the same song given twice (by any path or URL) finds its steps again, a changed mix
gain misses only the mix, and a changed pitch misses the conversion and everything
after it (their inputs' content changed). A new plugin version misses too.

One entry is one folder, ``<cache>/steps/<key[:2]>/<key>/``, holding the step's audio
(32-bit float WAV, so a cached result is bit-identical to a recomputed one and plays in
any editor) or files (the encoded mix, a downloaded song), and ``record.json``: step,
backend, version, parameters, inputs, outputs (file, sha256, rate, channels, frames),
extra facts (the pitch shift a conversion applied...) and the creation time.
``urvc cache list/show/clear`` read those records.

Why not joblib.Memory: it caches a *function's return value* by hashing its arguments
and the function's code, pickled. Here the results are audio files that users open and
keep (the isolated vocals, the converted voice), the key must name the backend's plugin
version (which joblib cannot see), a human-readable record must sit beside each result,
and two processes working on one song must wait for each other instead of computing
the same step twice (joblib only makes its writes atomic; it has no lock). What is left
is small: a sha256 over canonical JSON, a folder per key, filelock, and a rename.

Safety:

* A step is computed into a staging folder (``<cache>/steps/.staging/<key>.<random>``);
  only when every file and the record are written and flushed is the folder renamed
  to its key, in one atomic ``rename``. An error or Ctrl-C (and SIGTERM, which the CLI
  turns into one) removes the staging folder on the way out; a crash or SIGKILL leaves
  either no entry or a staging folder, which no lookup ever reads, and which the next
  run removes (see Leftovers).
* One inter-process lock per key (``filelock``): a second run that needs the same step
  waits for the first and then reads its result. Its file, ``.locks/<key>.lock``, is
  removed by the holder before it lets go; whoever was waiting on that file then finds
  it gone and takes the lock again on the new one (see :meth:`StepCache.lock`).
* An entry whose record or files are missing or damaged (a disk error, a hand edit) is
  a miss, and is replaced.

A hit touches the entry's folder, so ``clear --older-than DAYS`` removes what has not
been *used* for that long.

Leftovers: the first step a :class:`StepCache` computes in a process first removes the
staging folders and lock files that dead runs left, those older than
:data:`LEFTOVER_SECONDS` whose key's lock is free. A free lock alone proves the run
gone where locks work; the age also covers file systems where they may not (some
network shares), where a live run on another machine must not lose its staging folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.backends import Audio
from urvc_core.errors import UrvcError

__all__ = [
    "CacheEntry",
    "ClearReport",
    "StepCache",
    "StepResult",
    "audio_digest",
    "file_digest",
    "step_key",
]

#: Bumped when the layout of entries changes; part of every key.
CACHE_FORMAT = 1
RECORD_FILE = "record.json"
_STAGING = ".staging"
_LOCKS = ".locks"
_TRASH = ".trash"
_KEY = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_FILE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
#: How old a staging folder or lock file whose key's lock is free must be before the next
#: run removes it. The free lock is the proof; the age only guards file systems where
#: locks may not work, so it is generous.
LEFTOVER_SECONDS = 3600


def audio_digest(audio: Audio) -> str:
    """The content hash of audio: its sample rate, shape and float32 samples."""
    hasher = hashlib.sha256()
    hasher.update(f"audio:{audio.sample_rate}:{audio.channels}:{audio.num_samples}:".encode())
    hasher.update(np.ascontiguousarray(audio.samples, dtype=np.float32).tobytes())
    return hasher.hexdigest()


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes."""
    from urvc_core.assets import sha256_of

    try:
        return sha256_of(Path(path))
    except UrvcError as exc:
        raise UrvcError(f"Can't read {path} to identify it: {exc}.") from exc


def _canonical(value: Any) -> Any:
    """JSON-ready values that hash the same however they were spelled (Path, tuple...)."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def step_key(
    step: str,
    backend: str,
    version: str,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, str | None],
) -> str:
    """The cache key of one step: sha256 over canonical JSON of what produced it.

    ``inputs`` maps each input's role (``"audio"``, ``"song"``) to its content hash.
    """
    document = {
        "format": CACHE_FORMAT,
        "step": step,
        "backend": backend,
        "version": version,
        "parameters": _canonical(parameters),
        "inputs": _canonical(inputs),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class StepResult:
    """What a step's ``compute`` returns: audio to store, files it wrote, and facts."""

    audio: dict[str, Audio] = field(default_factory=dict)
    #: Files already written (inside the staging folder given to compute, or elsewhere:
    #: those are copied in).
    files: dict[str, Path] = field(default_factory=dict)
    #: JSON-ready facts about the result (a conversion's applied pitch shift...).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CacheEntry:
    """One finished step in the cache: its folder and its record."""

    key: str
    folder: Path
    record: dict[str, Any]
    #: Audio kept from the computation that made the entry, so the run that computed it
    #: need not read it back.
    _loaded: dict[str, Audio] = field(default_factory=dict, repr=False)

    @property
    def step(self) -> str:
        return str(self.record.get("step", ""))

    @property
    def backend(self) -> str:
        return str(self.record.get("backend", ""))

    @property
    def created(self) -> str:
        return str(self.record.get("created", ""))

    @property
    def extra(self) -> dict[str, Any]:
        extra = self.record.get("extra") or {}
        return dict(extra) if isinstance(extra, dict) else {}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        outputs = self.record.get("outputs") or {}
        return dict(outputs) if isinstance(outputs, dict) else {}

    def path(self, name: str) -> Path:
        """The file of output ``name``."""
        try:
            return self.folder / str(self.outputs[name]["file"])
        except KeyError:
            raise UrvcError(
                f"The cached {self.step} result {self.key[:12]} has no output '{name}'; "
                f"it has: {', '.join(self.outputs) or 'none'}."
            ) from None

    def digest(self, name: str) -> str:
        """The content hash of output ``name`` (of its samples for audio)."""
        return str(self.outputs[name]["sha256"])

    def audio(self, name: str) -> Audio:
        """Output ``name`` as audio, read from its file (or kept from the computation)."""
        if name in self._loaded:
            return self._loaded[name]
        import soundfile

        path = self.path(name)
        try:
            frames, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
            raise UrvcError(
                f"The cached file {path} can't be read ({exc}); remove it with "
                f"`urvc cache clear --all` and run again."
            ) from exc
        return Audio(np.ascontiguousarray(frames.T), int(rate))

    def size_bytes(self) -> int:
        return sum(int(output.get("size", 0)) for output in self.outputs.values())

    def last_used(self) -> float:
        """When the entry was last made or read (the folder's modification time)."""
        try:
            return self.folder.stat().st_mtime
        except OSError:
            return 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "folder": str(self.folder),
            **self.record,
            "files": {name: str(self.path(name)) for name in self.outputs},
            "size": self.size_bytes(),
            "last_used": dt.datetime.fromtimestamp(self.last_used(), dt.UTC).isoformat(
                timespec="seconds"
            ),
        }


@dataclass(frozen=True)
class ClearReport:
    removed: int
    freed_bytes: int
    kept: int

    def as_dict(self) -> dict[str, int]:
        return {"removed": self.removed, "freed_bytes": self.freed_bytes, "kept": self.kept}


class StepCache:
    """The step cache under one folder (default: ``<urvc home>/cache/steps``)."""

    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            from urvc_core.home import urvc_home

            root = urvc_home().cache / "steps"
        self.root = Path(root)
        self._leftovers_removed = False

    # -- reading ---------------------------------------------------------------------

    def folder_for(self, key: str) -> Path:
        return self.root / key[:2] / key

    def lookup(self, key: str) -> CacheEntry | None:
        """The finished entry for ``key``, or None (absent, or damaged: then a miss)."""
        folder = self.folder_for(key)
        entry = _read_entry(key, folder)
        if entry is None:
            return None
        with contextlib.suppress(OSError):
            os.utime(folder)
        return entry

    def entries(self) -> list[CacheEntry]:
        """Every finished entry, newest first."""
        found: list[CacheEntry] = []
        if not self.root.is_dir():
            return found
        for shard in sorted(self.root.iterdir()):
            if not shard.is_dir() or shard.name.startswith("."):
                continue
            for folder in sorted(shard.iterdir()):
                if _KEY.match(folder.name):
                    entry = _read_entry(folder.name, folder)
                    if entry is not None:
                        found.append(entry)
        found.sort(key=lambda e: e.created, reverse=True)
        return found

    def find(self, key_prefix: str) -> CacheEntry:
        """The entry whose key starts with ``key_prefix`` (at least 4 characters)."""
        prefix = key_prefix.strip().lower()
        if len(prefix) < 4 or not re.fullmatch(r"[0-9a-f]+", prefix):
            raise UrvcError(
                f"'{key_prefix}' is not a cache key; give at least 4 of its first hex "
                f"characters (`urvc cache list` shows them)."
            )
        matches = [e for e in self.entries() if e.key.startswith(prefix)]
        if not matches:
            raise UrvcError(
                f"No cached result has a key starting with '{prefix}'; `urvc cache list` "
                f"shows them."
            )
        if len(matches) > 1:
            raise UrvcError(
                f"{len(matches)} cached results have keys starting with '{prefix}'; give "
                f"more characters."
            )
        return matches[0]

    # -- writing ---------------------------------------------------------------------

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[Path], StepResult],
        *,
        step: str,
        backend: str,
        version: str,
        parameters: Mapping[str, Any],
        inputs: Mapping[str, str | None],
        refresh: bool = False,
    ) -> tuple[CacheEntry, bool]:
        """The entry for ``key``, computing it with ``compute(staging_folder)`` if absent.

        Returns the entry and whether it was a hit. With ``refresh`` the step is
        computed again and replaces the entry. ``compute`` runs while this process
        holds the key's lock, so no other process computes the same key meanwhile.
        """
        if not refresh:
            found = self.lookup(key)
            if found is not None:
                return found, True
        if not self._leftovers_removed:
            self._leftovers_removed = True
            self.remove_leftovers()
        with self.lock(key):
            if not refresh:
                found = self.lookup(key)  # another process may have made it meanwhile
                if found is not None:
                    return found, True
            self._remove_staging_of(key)
            staging = self._new_staging(key)
            try:
                result = compute(staging)
                record = self._write_outputs(
                    staging,
                    result,
                    step=step,
                    backend=backend,
                    version=version,
                    parameters=parameters,
                    inputs=inputs,
                )
                folder = self.folder_for(key)
                folder.parent.mkdir(parents=True, exist_ok=True)
                if folder.exists():  # refresh, or a damaged entry: out of the way first
                    self._discard(folder)
                try:
                    os.rename(staging, folder)
                except OSError:
                    # Only a process that ignored the lock can have put an entry there
                    # meanwhile; a whole entry is a whole entry: keep that one.
                    found = _read_entry(key, folder)
                    if found is None:
                        raise
                    shutil.rmtree(staging, ignore_errors=True)
                    return found, False
            except BaseException:
                # Ctrl-C included: nothing under the key's name, no staging left behind.
                shutil.rmtree(staging, ignore_errors=True)
                raise
            _fsync_directory(folder.parent)
        return CacheEntry(key, folder, record, dict(result.audio)), False

    @contextlib.contextmanager
    def lock(self, key: str, *, wait: bool = True) -> Iterator[bool]:
        """The inter-process lock of one key; yields True once held.

        With ``wait=False`` it yields False at once when another process holds it. The
        lock file is removed before the lock is let go, so none is left behind.
        """
        locks = self.root / _LOCKS
        try:
            locks.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UrvcError(
                f"Can't create the cache folder {locks}: {exc.strerror or exc}; check that "
                f"the urvc home is writable (URVC_HOME moves it)."
            ) from exc
        with _file_lock(locks / f"{key}.lock", wait=wait) as held:
            yield held

    def remove(self, key: str) -> bool:
        """Remove one entry (under its lock); returns whether there was one."""
        with self.lock(key):
            folder = self.folder_for(key)
            if not folder.exists():
                return False
            self._discard(folder)
            return True

    def clear(self, *, older_than_days: float | None = None) -> ClearReport:
        """Remove every entry, or those not used for ``older_than_days`` days."""
        cutoff = None if older_than_days is None else time.time() - older_than_days * 86400
        removed = freed = kept = 0
        for entry in self.entries():
            if cutoff is not None and entry.last_used() >= cutoff:
                kept += 1
                continue
            size = entry.size_bytes()
            if self.remove(entry.key):
                removed += 1
                freed += size
        if older_than_days is None:
            # Leftovers of killed runs and of removals, which no lookup reads anyway, and
            # the lock files no run holds.
            shutil.rmtree(self.root / _TRASH, ignore_errors=True)
            self.remove_leftovers(older_than_seconds=0)
        return ClearReport(removed, freed, kept)

    def remove_leftovers(self, *, older_than_seconds: float = LEFTOVER_SECONDS) -> int:
        """Remove the staging folders and lock files of dead runs; returns how many.

        A leftover goes when it is older than ``older_than_seconds`` and its key's lock
        is free: a run that holds the lock is alive and may be using it.
        """
        cutoff = time.time() - older_than_seconds
        removed = 0
        for leftover in [*_children(self.root / _STAGING), *_children(self.root / _LOCKS)]:
            key = leftover.name.split(".")[0]
            try:
                if not _KEY.match(key) or leftover.stat().st_mtime > cutoff:
                    continue
            except OSError:
                continue  # gone meanwhile
            with self.lock(key, wait=False) as free:
                if not free:
                    continue
                if leftover.suffix != ".lock":
                    shutil.rmtree(leftover, ignore_errors=True)
                # A lock file goes with the lock just held (see _file_lock).
                removed += 1
        return removed

    # -- internals -------------------------------------------------------------------

    def _new_staging(self, key: str) -> Path:
        staging = self.root / _STAGING / f"{key}.{secrets.token_hex(4)}"
        try:
            staging.mkdir(parents=True)
        except OSError as exc:
            raise UrvcError(
                f"Can't write to the cache folder {self.root}: {exc.strerror or exc}; free "
                f"some disk space or check its permissions."
            ) from exc
        return staging

    def _remove_staging_of(self, key: str) -> None:
        """Staging folders of this key left by a killed run (we hold the key's lock)."""
        folder = self.root / _STAGING
        if not folder.is_dir():
            return
        for leftover in folder.glob(f"{key}.*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def _discard(self, folder: Path) -> None:
        """Move a folder out of the way at once, then delete it."""
        trash = self.root / _TRASH
        trash.mkdir(parents=True, exist_ok=True)
        doomed = trash / f"{folder.name}.{secrets.token_hex(4)}"
        os.rename(folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def _write_outputs(
        self,
        staging: Path,
        result: StepResult,
        *,
        step: str,
        backend: str,
        version: str,
        parameters: Mapping[str, Any],
        inputs: Mapping[str, str | None],
    ) -> dict[str, Any]:
        import soundfile

        outputs: dict[str, dict[str, Any]] = {}
        used_names: set[str] = {RECORD_FILE}
        for name, audio in result.audio.items():
            file_name = _unique(f"{_file_stem(name)}.wav", used_names)
            path = staging / file_name
            soundfile.write(
                str(path),
                np.ascontiguousarray(audio.samples.T),
                audio.sample_rate,
                subtype="FLOAT",
                format="WAV",
            )
            _fsync(path)
            outputs[name] = {
                "file": file_name,
                "sha256": audio_digest(audio),
                "sample_rate": audio.sample_rate,
                "channels": audio.channels,
                "frames": audio.num_samples,
                "size": path.stat().st_size,
            }
        for name, given in result.files.items():
            given = Path(given)
            if given.parent.resolve() == staging.resolve():
                file_name = given.name
                used_names.add(file_name)
            else:
                file_name = _unique(f"{_file_stem(name)}{given.suffix}", used_names)
                shutil.copyfile(given, staging / file_name)
            path = staging / file_name
            _fsync(path)
            outputs[name] = {
                "file": file_name,
                "sha256": file_digest(path),
                "size": path.stat().st_size,
            }
        record = {
            "format": CACHE_FORMAT,
            "step": step,
            "backend": backend,
            "version": version,
            "parameters": _canonical(parameters),
            "inputs": _canonical(inputs),
            "outputs": outputs,
            "extra": _canonical(result.extra),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        record_path = staging / RECORD_FILE
        record_path.write_text(json.dumps(record, indent=2, allow_nan=True), encoding="utf-8")
        _fsync(record_path)
        return record


@contextlib.contextmanager
def _file_lock(path: Path, *, wait: bool) -> Iterator[bool]:
    """Hold the filelock at ``path``; yields False if ``wait`` is off and it is taken.

    The holder removes the file before letting go, so no lock file outlives its run.
    That is safe because whoever takes a lock checks that the file it locked is still
    the one at ``path``: a waiter that opened the file before the holder removed it
    holds a lock on a file no one else can find, and tries again on the new one.
    filelock 4 checks that itself; the 3.x versions urvc also accepts don't.
    """
    from filelock import FileLock, Timeout

    while True:
        lock = FileLock(str(path))
        try:
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout:
            yield False
            return
        if _locked_file_is_at(lock, path):
            break
        lock.release()
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):  # Windows removes it on release itself
            path.unlink()
        lock.release()


def _locked_file_is_at(lock: Any, path: Path) -> bool:
    """Whether the file ``lock`` holds is the one now at ``path``."""
    # filelock keeps the descriptor there from 3.12 to 4.x; should that change, filelock
    # 4's own check is what is left.
    descriptor = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
    if descriptor is None:
        return True
    try:
        return os.path.samestat(os.fstat(descriptor), os.stat(path))
    except OSError:
        return False


def _children(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _read_entry(key: str, folder: Path) -> CacheEntry | None:
    """The entry in ``folder`` if its record parses and every file it lists is whole."""
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("outputs"), dict):
        return None
    for output in record["outputs"].values():
        try:
            if (folder / str(output["file"])).stat().st_size != int(output["size"]):
                return None
        except (OSError, KeyError, TypeError, ValueError):
            return None
    return CacheEntry(key, folder, record)


def _file_stem(name: str) -> str:
    return _UNSAFE_FILE_CHARACTERS.sub("-", name.strip().lower()).strip("-") or "output"


def _unique(file_name: str, used: set[str]) -> str:
    stem, dot, suffix = file_name.partition(".")
    candidate = file_name
    number = 2
    while candidate in used:
        candidate = f"{stem}-{number}{dot}{suffix}"
        number += 1
    used.add(candidate)
    return candidate


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_directory(folder: Path) -> None:
    # The rename itself reaches the disk only when its folder is flushed.
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
