"""The voice library: RVC voice models kept under ``urvc_home().models``, one folder each.

::

    <models>/<name>/<name>.pth     the voice model
    <models>/<name>/<name>.index   its feature index, when it has one
    <models>/<name>/voice.json     where it came from, when, the sha256 of each file,
                                   and what the model is (version, sample rate, ...)

Voice models reach users as a bare ``.pth``, a ``.pth`` with an ``.index``, a zip of
either, or a whole training folder. :func:`import_voice_models` takes any of them. It
pairs each model with its index by what the files hold, not by their names (names in
shared zips are often wrong): the index must hold features of the width the model's
embedder makes (256 for v1, 768 for v2). Among indexes that fit, one whose name carries
the model's name wins, then the one with the most vectors. Training leftovers
(``G_*.pth``, ``D_*.pth``, ``total_fea.npy``, an empty ``trained_*.index``) are skipped,
and every skipped file is reported with the reason.

An import is all or nothing: every model is validated before anything is copied, each
is assembled in a hidden folder inside ``<models>`` and renamed into place at the end,
and a failure removes what it had assembled.

Several sources at once (:func:`import_voice_files`, :func:`download_voices`) are
imported each on its own: one that fails doesn't stop the others, and each comes back as
a :class:`VoiceImportResult` holding its voice models or its one-line error. A ``.pth``
and the ``.index`` given with it pair up by the same rule into one voice.

:func:`resolve_voice_model` is what conversion calls: a library name, or a path to a
``.pth`` used where it lies, with an index found beside it by the same pairing rule.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from urvc_core.errors import OfflineError, UrvcError
from urvc_core.home import urvc_home
from urvc_core.rvc.feature_index import FeatureIndexInfo, read_feature_index_info

if TYPE_CHECKING:
    from urvc_core.rvc.voice_model import VoiceModelInfo
    from urvc_core.voice_catalogue import CatalogueEntry

__all__ = [
    "PREVIEW_FILE_NAME",
    "SkippedFile",
    "VoiceDownload",
    "VoiceEntry",
    "VoiceImportResult",
    "check_new_voice_name",
    "delete_voice_model",
    "direct_download_url",
    "download_catalogue_models",
    "download_voice_model",
    "download_voice_models",
    "download_voices",
    "get_voice_model",
    "import_voice_files",
    "import_voice_model",
    "import_voice_models",
    "list_voice_models",
    "read_download_list",
    "resolve_download",
    "resolve_voice_model",
    "voice_library_folder",
]

VOICE_FILE = "voice.json"
#: Bumped when voice.json changes shape, so a later urvc can read older libraries.
VOICE_FILE_FORMAT = 1

_NAME_RULE = "letters, digits, spaces and - _ . ( )"
#: The file name of a voice model's preview (see VoiceEntry.preview_path).
PREVIEW_FILE_NAME = "preview.wav"
_MAX_NAME_LENGTH = 100
# Stems that say nothing about the voice; a model called this takes its zip's or
# folder's name instead.
_GENERIC_STEMS = frozenset({"model", "weights", "voice", "final", "latest", "g_latest"})
# RVC saves intermediate weights as "<name>_e<epoch>_s<step>.pth"; the index is named
# after the bare experiment name.
_EPOCH_SUFFIX = re.compile(r"_e\d+(_s\d+)?$", re.IGNORECASE)
_TRAINING_CHECKPOINT = re.compile(r"^[GD]_.*\.pth$", re.IGNORECASE)
_HIDDEN_PREFIXES = (".", "__MACOSX")


# -- what the library holds ---------------------------------------------------------


@dataclass(frozen=True)
class SkippedFile:
    """A file in an import source that was not imported, and why."""

    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class VoiceEntry:
    """One voice model: in the library (``in_library``), or a ``.pth`` used where it lies.

    ``index`` describes ``index_path`` (its width and number of vectors). ``skipped``
    lists the files of the import source that were left out, and why.
    """

    name: str
    model_path: Path
    index_path: Path | None
    info: VoiceModelInfo
    folder: Path
    index: FeatureIndexInfo | None = None
    in_library: bool = True
    source: str | None = None
    imported_at: str | None = None
    skipped: tuple[SkippedFile, ...] = field(default=())

    @property
    def preview_path(self) -> Path:
        """Where ``urvc models preview`` writes the model's preview: in its library
        folder, or beside a model used where it lies."""
        if self.in_library:
            return self.folder / PREVIEW_FILE_NAME
        return self.model_path.with_name(f"{self.model_path.stem} {PREVIEW_FILE_NAME}")

    def as_dict(self) -> dict[str, Any]:
        """Everything ``urvc models info`` shows, as plain JSON-ready values."""
        info = self.info
        index: dict[str, Any] | None = None
        if self.index_path is not None:
            index = {"path": str(self.index_path)}
            if self.index is not None:
                index.update(
                    {
                        "vectors": self.index.size,
                        "dim": self.index.dim,
                        "kind": self.index.kind,
                        "file_size": self.index.file_size,
                    }
                )
        return {
            "name": self.name,
            "in_library": self.in_library,
            "folder": str(self.folder),
            "model_path": str(self.model_path),
            "version": info.version,
            "sample_rate": info.sample_rate,
            "pitch_guidance": info.pitch_guidance,
            "embedder": info.embedder,
            "embedder_dim": info.embedder_dim,
            "speakers": info.speakers,
            "epochs": info.epochs,
            "steps": info.steps,
            "vocoder": info.vocoder,
            "dtype": info.dtype,
            "parameters": info.parameters,
            "speaker_embedding_norm": round(info.speaker_embedding_norm, 4),
            "model_file_size": info.file_size,
            "index": index,
            "preview": str(self.preview_path) if self.preview_path.is_file() else None,
            "source": self.source,
            "imported_at": self.imported_at,
            # file -> why it was left out: reads as nested lines in `urvc models info`
            "skipped_at_import": {skipped.path: skipped.reason for skipped in self.skipped},
        }


def voice_library_folder() -> Path:
    """The folder the library lives in: ``urvc_home().models``."""
    return urvc_home().models


# -- names --------------------------------------------------------------------------


def _is_name_character(character: str) -> bool:
    return character.isalnum() or character in " -_.()"


def _check_name(name: str) -> str:
    if (
        not name
        or len(name) > _MAX_NAME_LENGTH
        # a leading dot would hide the folder (and makes '.' and '..'); Windows drops
        # trailing dots and spaces, so such a name would not survive a copy there
        or name.startswith((".", " "))
        or name.endswith((".", " "))
        or not all(_is_name_character(c) for c in name)
    ):
        raise UrvcError(
            f"'{name}' can't be a voice model name: use {_NAME_RULE} (up to "
            f"{_MAX_NAME_LENGTH}, not starting or ending with a dot or space)."
        )
    return name


def check_new_voice_name(name: str, *, overwrite: bool = False) -> str:
    """``name`` if a new model can take it: a valid name, and free unless ``overwrite``.
    For work that makes a model (a fusion) to check before it starts."""
    _check_name(name)
    existing = _existing_folder(voice_library_folder(), name)
    if existing is not None and not overwrite:
        raise _name_taken(existing)
    return name


def _name_from_stem(stem: str) -> str:
    """A valid library name made from a file stem: each run of other characters becomes _."""
    cleaned = "".join(c if _is_name_character(c) else "\0" for c in stem)
    cleaned = re.sub("\0+", "_", cleaned).strip(" ._")[:_MAX_NAME_LENGTH].strip(" ._")
    return cleaned or "voice"


def _close_names(name: str, names: Sequence[str]) -> list[str]:
    folded = {candidate.casefold(): candidate for candidate in names}
    close = difflib.get_close_matches(name.casefold(), list(folded), n=4, cutoff=0.6)
    close += [key for key in folded if name.casefold() in key and key not in close]
    return [folded[key] for key in close[:4]]


# -- finding models and indexes in a source -------------------------------------------


@dataclass(frozen=True)
class _ModelFile:
    path: Path
    info: VoiceModelInfo


@dataclass
class _SourceContents:
    """What an import source holds, every file sorted into one of three lists."""

    models: list[_ModelFile] = field(default_factory=list)
    indexes: list[FeatureIndexInfo] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    #: Why each .pth that is not a voice model was refused, to show when nothing is left.
    model_errors: list[UrvcError] = field(default_factory=list)

    def no_model_error(self, shown_source: str) -> UrvcError:
        if len(self.model_errors) == 1 and len(self.skipped) == 1:
            # One file, and it is not a voice model: its own error says it best.
            return self.model_errors[0]
        details = "; ".join(str(s) for s in self.skipped[:6]) or "it is empty"
        return UrvcError(f"{shown_source} holds no RVC voice model (.pth) to import ({details}).")


def _walk_files(root: Path) -> Iterator[Path]:
    """Every file under ``root``, sorted, leaving out hidden files and macOS zip litter."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(_HIDDEN_PREFIXES))
        for file_name in sorted(files):
            if not file_name.startswith("."):
                yield Path(folder) / file_name


def _shown(path: Path, root: Path) -> str:
    """A path as the user knows it: relative to the source they gave."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _read_model(path: Path) -> VoiceModelInfo:
    from urvc_core.rvc.voice_model import read_voice_model_info

    return read_voice_model_info(path)


def _sort_files(files: Sequence[Path], root: Path) -> _SourceContents:
    """Read every candidate file and sort it into models, indexes and skipped files."""
    contents = _SourceContents()
    names = {path.name.lower() for path in files}
    has_added_index = any(n.startswith("added_") and n.endswith(".index") for n in names)
    for path in files:
        shown = _shown(path, root)
        lower = path.name.lower()
        if _TRAINING_CHECKPOINT.match(path.name):
            contents.skipped.append(
                SkippedFile(shown, "a training checkpoint (G_/D_), not a voice model")
            )
        elif lower == "total_fea.npy":
            contents.skipped.append(
                SkippedFile(shown, "training leftover: the features the index was built from")
            )
        elif lower.endswith(".pth"):
            try:
                contents.models.append(_ModelFile(path, _read_model(path)))
            except UrvcError as exc:
                contents.skipped.append(SkippedFile(shown, str(exc)))
                contents.model_errors.append(exc)
        elif lower.endswith(".index"):
            if lower.startswith("trained_") and has_added_index:
                contents.skipped.append(
                    SkippedFile(shown, "training leftover: the added_ index holds the vectors")
                )
                continue
            try:
                index = read_feature_index_info(path)
            except UrvcError as exc:
                contents.skipped.append(SkippedFile(shown, str(exc)))
                continue
            if index.size == 0:
                contents.skipped.append(
                    SkippedFile(shown, "an empty index (a trained_ index holds no vectors)")
                )
            else:
                contents.indexes.append(index)
        else:
            contents.skipped.append(SkippedFile(shown, "not a voice model or a feature index"))
    return contents


def _model_stem(path: Path) -> str:
    return _EPOCH_SUFFIX.sub("", path.stem).casefold()


def _names_model(index_path: Path, model_path: Path) -> bool:
    """Whether the index's file name carries the model's name as a whole word.

    RVC names indexes ``added_IVF<n>_Flat_nprobe_1_<experiment>_v2.index`` and weights
    ``<experiment>.pth``; "Alice" must match "..._Alice_v2" but not "..._Alice2_v2".
    """
    stem = _model_stem(model_path)
    if not stem:
        return False
    pattern = rf"(?<![^\W_]){re.escape(stem)}(?![^\W_])"
    return re.search(pattern, index_path.stem.casefold()) is not None


def _largest(indexes: Sequence[FeatureIndexInfo]) -> FeatureIndexInfo:
    return max(indexes, key=lambda index: (index.size, index.file_size, str(index.path)))


def _describe_width(dim: int) -> str:
    version = {256: "v1", 768: "v2"}.get(dim)
    return f"{dim}-dim ({version})" if version else f"{dim}-dim"


def _pair_indexes(
    models: Sequence[_ModelFile], indexes: Sequence[FeatureIndexInfo], root: Path
) -> tuple[dict[Path, FeatureIndexInfo | None], list[SkippedFile]]:
    """Choose an index for each model by content; say why each other index was left out.

    An index must hold features of the model's width. A name match wins, then the most
    vectors. An index without a name match goes to a model only when nothing else could
    claim it: the model is the only one in the source, or the only one in its folder.
    """
    named: dict[Path, list[FeatureIndexInfo]] = {}
    claimed_by_name: set[Path] = set()
    for model in models:
        fitting = [i for i in indexes if i.dim == model.info.embedder_dim]
        named[model.path] = [i for i in fitting if _names_model(i.path, model.path)]
        claimed_by_name.update(i.path for i in named[model.path])

    chosen: dict[Path, FeatureIndexInfo | None] = {}
    for model in models:
        fitting = [i for i in indexes if i.dim == model.info.embedder_dim]
        if named[model.path]:
            chosen[model.path] = _largest(named[model.path])
            continue
        alone_in_folder = sum(m.path.parent == model.path.parent for m in models) == 1
        unclaimed = [
            i
            for i in fitting
            if i.path not in claimed_by_name
            and (len(models) == 1 or (alone_in_folder and i.path.parent == model.path.parent))
        ]
        chosen[model.path] = _largest(unclaimed) if unclaimed else None

    used = {index.path for index in chosen.values() if index is not None}
    widths = {m.info.embedder_dim for m in models}
    skipped: list[SkippedFile] = []
    for index in indexes:
        if index.path in used:
            continue
        if index.dim not in widths:
            model_widths = " or ".join(_describe_width(w) for w in sorted(widths))
            reason = (
                f"holds {_describe_width(index.dim)} features, the voice model needs {model_widths}"
            )
        elif len(models) == 1:
            reason = "another index fits the model better (its name, or more vectors)"
        else:
            reason = "no voice model's name is in its file name, so it is not paired"
        skipped.append(SkippedFile(_shown(index.path, root), reason))
    return chosen, skipped


# -- importing ------------------------------------------------------------------------


@dataclass(frozen=True)
class _PlannedVoice:
    name: str
    model: _ModelFile
    index: FeatureIndexInfo | None


def _plan_names(
    contents: _SourceContents,
    name: str | None,
    source: Path,
    shown_source: str,
    container_name: str | None,
) -> list[tuple[str, _ModelFile]]:
    models = contents.models
    if name is not None:
        if len(models) > 1:
            listed = ", ".join(_shown(m.path, source) for m in models)
            raise UrvcError(
                f"{shown_source} holds {len(models)} voice models ({listed}), so one name "
                f"can't be given to it; leave out the name to import each under its own "
                f"name, or import the files one by one."
            )
        return [(_check_name(name), models[0])]
    planned: list[tuple[str, _ModelFile]] = []
    for model in models:
        stem = model.path.stem
        if len(models) == 1 and stem.casefold() in _GENERIC_STEMS and container_name:
            stem = container_name
        planned.append((_name_from_stem(stem), model))
    seen: dict[str, Path] = {}
    for planned_name, model in planned:
        other = seen.setdefault(planned_name.casefold(), model.path)
        if other != model.path:
            raise UrvcError(
                f"{shown_source} holds two voice models that would both be named "
                f"'{planned_name}' ({_shown(other, source)} and {_shown(model.path, source)}); "
                f"import them one by one, each with its own name."
            )
    return planned


def _existing_folder(library: Path, name: str) -> Path | None:
    """The library folder already holding ``name``, ignoring case (as macOS and Windows do)."""
    if not library.is_dir():
        return None
    for folder in library.iterdir():
        if folder.is_dir() and folder.name.casefold() == name.casefold():
            return folder
    return None


def _write_voice_folder(
    staging: Path,
    plan: _PlannedVoice,
    *,
    move_files: bool,
    source_label: str,
    skipped: Sequence[SkippedFile],
) -> None:
    """Fill ``staging`` with the model, its index and voice.json."""
    from urvc_core.assets import sha256_of

    transfer = shutil.move if move_files else shutil.copyfile
    model_file = f"{plan.name}.pth"
    transfer(plan.model.path, staging / model_file)
    files: dict[str, dict[str, Any]] = {
        "model": {
            "file": model_file,
            "original_name": plan.model.path.name,
            "sha256": sha256_of(staging / model_file),
            "size": (staging / model_file).stat().st_size,
        }
    }
    index_details: dict[str, Any] | None = None
    if plan.index is not None:
        index_file = f"{plan.name}.index"
        transfer(plan.index.path, staging / index_file)
        files["index"] = {
            "file": index_file,
            "original_name": plan.index.path.name,
            "sha256": sha256_of(staging / index_file),
            "size": (staging / index_file).stat().st_size,
        }
        index_details = {
            "dim": plan.index.dim,
            "vectors": plan.index.size,
            "kind": plan.index.kind,
        }
    record = {
        "format": VOICE_FILE_FORMAT,
        "name": plan.name,
        "source": source_label,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": files,
        "model": plan.model.info.as_dict(),
        "index": index_details,
        "skipped": [s.as_dict() for s in skipped],
    }
    (staging / VOICE_FILE).write_text(
        json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )


@contextmanager
def _library_lock(library: Path) -> Iterator[None]:
    """One import or delete at a time, so two processes never claim the same name."""
    from filelock import FileLock

    with FileLock(str(library / ".library.lock")):
        yield


def _name_taken(existing: Path) -> UrvcError:
    return UrvcError(
        f"The library already has a voice model named '{existing.name}' ({existing}); "
        f"choose another name, or pass overwrite=True (--overwrite) to replace it."
    )


def _commit(staged: Sequence[tuple[Path, str]], library: Path, work: Path, overwrite: bool) -> None:
    """Rename every staged folder into place, or none: a failure restores what was there."""
    # (new folder, the folder it replaced, where that one waits meanwhile)
    done: list[tuple[Path, Path | None, Path | None]] = []
    try:
        for number, (staging, name) in enumerate(staged):
            existing = _existing_folder(library, name)
            backup: Path | None = None
            if existing is not None:
                if not overwrite:
                    raise _name_taken(existing)
                backup = work / f"replaced-{number}"
                os.replace(existing, backup)
            target = library / name
            done.append((target, existing, backup))
            os.replace(staging, target)
    except BaseException:
        for target, existing, backup in reversed(done):
            shutil.rmtree(target, ignore_errors=True)
            if existing is not None and backup is not None and backup.exists():
                os.replace(backup, existing)
        raise


def _import(
    source: Path,
    *,
    name: str | None,
    overwrite: bool,
    source_label: str | None,
    single: bool,
    given_indexes: Sequence[Path] | None = None,
) -> list[VoiceEntry]:
    """Import what ``source`` holds. ``given_indexes``, for a ``.pth`` source, are the
    indexes the user gave with it (none, or its pair), used instead of those beside it."""
    source = Path(source).expanduser()
    if not source.exists():
        raise UrvcError(f"There is no file or folder {source} to import.")
    shown_source = str(source)
    if name is not None:
        _check_name(name)
    library = voice_library_folder()
    library.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=library))
    try:
        if source.is_dir():
            root = source
            files = list(_walk_files(source))
            move_files = False
            container_name: str | None = source.name
        elif source.suffix.lower() == ".zip" or (
            source.suffix.lower() != ".pth"
            and zipfile.is_zipfile(source)
            and not _is_torch_archive(source)
        ):
            from urvc_core.assets import safe_extract_zip

            root = work / "unpacked"
            files = safe_extract_zip(source, root)
            files = [f for f in files if not _hidden_in(f, root)]
            move_files = True  # already a private copy inside the library's folder
            container_name = source.stem
        else:
            root = source.parent
            if given_indexes is None:
                given_indexes = _named_indexes_beside(source)
            files = [source, *given_indexes]
            move_files = False
            container_name = None

        contents = _sort_files(files, root)
        if not contents.models:
            raise contents.no_model_error(shown_source)
        if single and len(contents.models) > 1:
            listed = ", ".join(_shown(m.path, root) for m in contents.models)
            raise UrvcError(
                f"{shown_source} holds {len(contents.models)} voice models ({listed}); "
                f"import them all with `urvc models import` (import_voice_models)."
            )
        pairs, unpaired = _pair_indexes(contents.models, contents.indexes, root)
        skipped = [*contents.skipped, *unpaired]
        plans = [
            _PlannedVoice(planned_name, model, pairs[model.path])
            for planned_name, model in _plan_names(
                contents, name, root, shown_source, container_name
            )
        ]
        if not overwrite:
            # Checked before copying anything; _commit checks again under the lock.
            for plan in plans:
                existing = _existing_folder(library, plan.name)
                if existing is not None:
                    raise _name_taken(existing)

        staged: list[tuple[Path, str]] = []
        for number, plan in enumerate(plans):
            staging = work / f"staged-{number}"
            staging.mkdir()
            _write_voice_folder(
                staging,
                plan,
                move_files=move_files,
                source_label=source_label or str(source.resolve()),
                skipped=skipped,
            )
            staged.append((staging, plan.name))
        with _library_lock(library):
            _commit(staged, library, work, overwrite)
        return [_load_entry(library / plan.name) for plan in plans]
    except OSError as exc:
        raise UrvcError(
            f"Could not import {shown_source} into {library}: {exc.strerror or exc}; "
            f"nothing was added to the library."
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _hidden_in(path: Path, root: Path) -> bool:
    return any(part.startswith(_HIDDEN_PREFIXES) for part in path.relative_to(root).parts)


def _is_torch_archive(path: Path) -> bool:
    """Whether a zip file is a torch checkpoint (torch saves ``<name>/data.pkl`` in a zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith("/data.pkl") or n == "data.pkl" for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def import_voice_models(
    source: Path, *, name: str | None = None, overwrite: bool = False
) -> list[VoiceEntry]:
    """Import every voice model in ``source`` into the library; returns their entries.

    ``source`` is a ``.pth`` (with an index found beside it by the pairing rule), a
    ``.zip``, or a folder (searched through, subfolders included). Each model takes its
    file's stem as its name, or ``name`` when the source holds exactly one. An existing
    name is an error unless ``overwrite``. Files left out are listed in each entry's
    ``skipped``.
    """
    return _import(source, name=name, overwrite=overwrite, source_label=None, single=False)


def import_voice_model(
    source: Path, *, name: str | None = None, overwrite: bool = False
) -> VoiceEntry:
    """Import the one voice model in ``source``; several in it is an error listing them.

    The same as :func:`import_voice_models` otherwise; use that for a pack of models.
    """
    return _import(source, name=name, overwrite=overwrite, source_label=None, single=True)[0]


# -- several sources at once ---------------------------------------------------------


@dataclass(frozen=True)
class VoiceImportResult:
    """What one item of a batch import or download became: voice models, or why not."""

    #: The item as the user gave it: a file, a folder, a URL, or a row of a list file.
    source: str
    entries: tuple[VoiceEntry, ...] = ()
    #: The one-line message of the error that stopped this item; None when it worked.
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "error": self.error,
            "voices": [entry.as_dict() for entry in self.entries],
        }


def _attempt(source: str, work: Callable[[], Sequence[VoiceEntry]]) -> VoiceImportResult:
    """Run one item of a batch; its UrvcError becomes its result, so the rest go on."""
    try:
        return VoiceImportResult(source, tuple(work()))
    except UrvcError as exc:
        return VoiceImportResult(source, error=str(exc))


def import_voice_files(
    sources: Sequence[str | Path], *, name: str | None = None, overwrite: bool = False
) -> list[VoiceImportResult]:
    """Import several sources, each on its own: one that fails doesn't stop the others.

    ``.pth`` and ``.index`` files given together are paired by the import rule (an
    index goes to a model of its feature width and, among several models, to the one
    whose name it carries), so ``Singer.pth Singer.index`` is one voice and ``a.pth
    b.pth`` two. When no index is given, each ``.pth`` takes the one beside it, as
    :func:`import_voice_models` does; folders and zips are searched as it does. An
    index that no given model takes is a failed item. ``name`` is for a batch that makes
    one voice.

    Returns one result per model file, index file left over, folder or zip, in the
    order given; each holds the imported entries or the one-line error.
    """
    paths = [Path(source).expanduser() for source in sources]
    models = [p for p in paths if p.is_file() and p.suffix.lower() == ".pth"]
    indexes = [p for p in paths if p.is_file() and p.suffix.lower() == ".index"]
    if name is not None and len(paths) > 1 and (len(models), len(indexes)) != (1, len(paths) - 1):
        raise UrvcError(
            f"A name is for one voice model, and {len(paths)} files or folders were given "
            f"({', '.join(str(p) for p in paths)}); leave the name out, or import them "
            f"one by one."
        )
    index_for, failed_indexes = _pair_given_indexes(models, indexes) if indexes else ({}, {})

    results: list[VoiceImportResult] = []
    # A .pth's name, and the file that took it: a second file of this import with the
    # same name would replace the first (with overwrite) or fail late, so it fails now.
    named: dict[str, Path] = {}
    for path in paths:
        if path in indexes:
            if path in failed_indexes:
                results.append(VoiceImportResult(str(path), error=failed_indexes[path]))
            continue  # a paired index shows in its model's result
        index = index_for.get(path)
        if path in models:
            planned = name or _name_from_stem(path.stem)
            first = named.setdefault(planned.casefold(), path)
            if first is not path:
                results.append(
                    VoiceImportResult(
                        str(path),
                        error=(
                            f"{path} would be named '{planned}', as {first} of the same "
                            f"import is; import it on its own, with another name."
                        ),
                    )
                )
                continue

        def import_one(path: Path = path, index: Path | None = index) -> list[VoiceEntry]:
            return _import(
                path,
                name=name,
                overwrite=overwrite,
                source_label=None,
                single=False,
                # Indexes given by hand are the ones meant: none beside the model is
                # taken instead of one that didn't fit.
                given_indexes=None if not indexes else [index] if index else [],
            )

        shown = f"{path} + {index.name}" if index is not None else str(path)
        results.append(_attempt(shown, import_one))
    return results


def _pair_given_indexes(
    models: Sequence[Path], indexes: Sequence[Path]
) -> tuple[dict[Path, Path], dict[Path, str]]:
    """Pair the ``.index`` files a user gave with the ``.pth`` files given with them.

    Returns model -> its index, and index -> why it can't be imported.
    """
    readable: list[_ModelFile] = []
    for path in models:
        try:
            readable.append(_ModelFile(path, _read_model(path)))
        except UrvcError:
            continue  # the model's own import says what is wrong with it
    infos: list[FeatureIndexInfo] = []
    failed: dict[Path, str] = {}
    for path in indexes:
        try:
            info = read_feature_index_info(path)
        except UrvcError as exc:
            failed[path] = str(exc)
            continue
        if info.size == 0:
            failed[path] = (
                f"{path} is an empty index (a trained_ index holds no vectors); give the "
                f"added_ index that came with it."
            )
        elif not readable:
            given = "no voice model given with it could be read"
            if not models:
                given = "no voice model (.pth) was given with it"
            failed[path] = (
                f"{path} is a feature index, and {given}; import it together with its "
                f"model: urvc models import MODEL.pth {path.name}"
            )
        else:
            infos.append(info)
    pairs, unpaired = _pair_indexes(readable, infos, Path(indexes[0]).parent)
    used = {index.path for index in pairs.values() if index is not None}
    # _pair_indexes gives its reasons in the order of the indexes it left out.
    left_out = [info.path for info in infos if info.path not in used]
    for path, skipped in zip(left_out, unpaired, strict=True):
        failed[path] = f"{path} was not paired with a voice model: {skipped.reason}."
    chosen = {model: index.path for model, index in pairs.items() if index is not None}
    return chosen, failed


# -- downloading ----------------------------------------------------------------------

_GOOGLE_DRIVE_HOSTS = frozenset(
    {"drive.google.com", "docs.google.com", "drive.usercontent.google.com"}
)
_MEGA_HOSTS = frozenset({"mega.nz", "mega.co.nz", "mega.io"})
_HUGGING_FACE_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
_PIXELDRAIN_HOSTS = frozenset({"pixeldrain.com", "www.pixeldrain.com"})


def direct_download_url(url: str) -> str:
    """The URL that serves the file itself: Hugging Face ``/blob/`` pages become ``/resolve/``.

    Pixeldrain's ``/u/ID`` pages become its ``/api/file/ID`` file links. Google Drive
    and Mega serve a web page (and Mega encrypts in the browser), so for those this
    raises a UrvcError saying to download in a browser and import the file.
    """
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in _GOOGLE_DRIVE_HOSTS or host in _MEGA_HOSTS:
        site = "Google Drive" if host in _GOOGLE_DRIVE_HOSTS else "Mega"
        raise UrvcError(
            f"urvc can't download from {site} ({url}): it serves a web page, not the file. "
            f"Download it in a browser, then run: urvc models import FILE"
        )
    if host in _PIXELDRAIN_HOSTS:
        segments = parts.path.split("/")
        if len(segments) == 3 and segments[1] == "u" and segments[2]:
            return f"https://pixeldrain.com/api/file/{segments[2]}?download"
    if host in _HUGGING_FACE_HOSTS:
        segments = parts.path.split("/")
        # /<owner>/<repo>/blob/<revision>/<file>, or /datasets/... and /spaces/... with
        # one more segment in front
        position = 4 if len(segments) > 1 and segments[1] in ("datasets", "spaces") else 3
        if len(segments) > position + 1 and segments[position] == "blob":
            segments[position] = "resolve"
            return urllib.parse.urlunsplit(parts._replace(path="/".join(segments)))
    return url


def _download_file_name(url: str) -> str:
    last = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    stem, dot, suffix = last.rpartition(".")
    if not dot:
        stem, suffix = last, ""
    safe_stem = _name_from_stem(stem) if stem else "download"
    return f"{safe_stem}.{suffix.lower()}" if suffix.isalnum() else safe_stem


def _give_downloaded_file_its_kind(path: Path, url: str) -> Path:
    """Name the download ``.pth`` or ``.zip`` after what it holds, when its URL didn't say."""
    with path.open("rb") as file:
        head = file.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise UrvcError(
            f"{url} gave a web page, not a voice model; open it in a browser, download "
            f"the file, then run: urvc models import FILE"
        )
    suffix = path.suffix.lower()
    if suffix in (".pth", ".zip"):
        return path
    if suffix == ".index":
        raise UrvcError(
            f"{url} is a feature index alone; download the voice model (.pth) it belongs "
            f"to, or a zip of both."
        )
    is_archive = zipfile.is_zipfile(path) and not _is_torch_archive(path)
    renamed = path.with_name(path.name + (".zip" if is_archive else ".pth"))
    os.replace(path, renamed)
    return renamed


def download_voice_models(
    url: str, *, name: str | None = None, overwrite: bool = False, progress: bool = True
) -> list[VoiceEntry]:
    """Download a ``.pth`` or ``.zip`` through the asset store and import what it holds.

    The file goes to ``<home>/cache/downloads`` first (a cut download resumes there on
    the next try) and is removed once imported. ``URVC_OFFLINE=1`` is the store's error.
    """
    return _download(url, name=name, overwrite=overwrite, progress=progress, single=False)


def download_voice_model(
    url: str, *, name: str | None = None, overwrite: bool = False, progress: bool = True
) -> VoiceEntry:
    """Download one voice model (a ``.pth``, or a ``.zip`` of one model and its index)."""
    return _download(url, name=name, overwrite=overwrite, progress=progress, single=True)[0]


@dataclass(frozen=True)
class VoiceDownload:
    """One voice model to download: its URL and, if given, its name in the library.

    A row of a list file (:func:`read_download_list`) also says where it came from
    (``origin``: ``list.csv line 4``) and, when it can't be used, why (``problem``, a
    one-line message naming the file and line).
    """

    url: str
    name: str | None = None
    origin: str | None = None
    problem: str | None = None


#: The columns of a download list: ``url`` is needed, ``name`` may be left out.
DOWNLOAD_LIST_COLUMNS = ("url", "name")


def read_download_list(path: str | Path) -> list[VoiceDownload]:
    """The voice models a CSV file lists: a header row ``url,name``, then one a row.

    A row that can't be used (no URL, not an http(s) URL, a bad name, a name an earlier
    row took, more cells than columns) comes back with its ``problem`` set, so that the
    other rows can still be downloaded. Blank rows are skipped. A file that can't be
    read, has no header row or lists nothing is a UrvcError.
    """
    import csv

    path = Path(path).expanduser()
    try:
        # utf-8-sig: spreadsheets save CSV with a byte-order mark in front.
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            rows = [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise UrvcError(f"There is no download list {path}; check the path.") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UrvcError(
            f"Can't read the download list {path} ({reason}); save it as UTF-8 CSV text."
        ) from None
    rows = [(line, row) for line, row in rows if any(cell.strip() for cell in row)]
    expected = ",".join(DOWNLOAD_LIST_COLUMNS)
    if not rows:
        raise UrvcError(f"The download list {path} is empty; its first line must be {expected}.")
    header_line, header = rows[0]
    columns = [cell.strip().lower() for cell in header]
    unknown = [c for c in columns if c not in DOWNLOAD_LIST_COLUMNS]
    if "url" not in columns or unknown or len(set(columns)) != len(columns):
        raise UrvcError(
            f"{path} line {header_line} must be the header row {expected} (name may be "
            f"left out), not {','.join(header)!r}."
        )
    downloads: list[VoiceDownload] = []
    names: dict[str, int] = {}
    for line, row in rows[1:]:
        cells = dict(zip(columns, (cell.strip() for cell in row), strict=False))
        url, name = cells.get("url", ""), cells.get("name") or None
        problem: str | None = None
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if len(row) > len(columns) and any(cell.strip() for cell in row[len(columns) :]):
            problem = f"has {len(row)} cells, but the header names {len(columns)} columns"
        elif not url:
            problem = "has no URL"
        elif scheme not in ("http", "https"):
            problem = f"has {url!r}, which is not an http:// or https:// URL"
        elif name is not None:
            try:
                _check_name(name)
            except UrvcError as exc:
                problem = f"has a bad name: {str(exc).rstrip('.')}"
            else:
                first = names.setdefault(name.casefold(), line)
                if first != line:
                    problem = f"has the name '{name}', which line {first} gives too"
        downloads.append(
            VoiceDownload(
                url,
                name,
                origin=f"{path} line {line}",
                problem=f"{path} line {line} {problem}; fix the row or remove it."
                if problem
                else None,
            )
        )
    if not downloads:
        raise UrvcError(f"The download list {path} lists no voice models under its header row.")
    return downloads


def download_voices(
    downloads: Sequence[str | VoiceDownload], *, overwrite: bool = False, progress: bool = True
) -> list[VoiceImportResult]:
    """Download and import several voice models, one after another.

    Each is what :func:`download_voice_models` does for one URL (a progress bar; a cut
    download resumes from its partial file on the next try), and one that fails doesn't
    stop the rest. Returns one result per download, in order: the voice models it
    brought into the library, or its one-line error (a list row's ``problem`` too).
    """
    items = [d if isinstance(d, VoiceDownload) else resolve_download(d) for d in downloads]
    results: list[VoiceImportResult] = []
    for number, item in enumerate(items, start=1):
        if item.problem is not None:
            results.append(VoiceImportResult(item.url, error=item.problem))
            continue

        def download_one(item: VoiceDownload = item, number: int = number) -> list[VoiceEntry]:
            return _download(
                item.url,
                name=item.name,
                overwrite=overwrite,
                progress=progress,
                single=False,
                label=f"[{number}/{len(items)}]" if len(items) > 1 else None,
            )

        results.append(_attempt(item.url, download_one))
    return results


def resolve_download(text: str, name: str | None = None) -> VoiceDownload:
    """What to download for ``text``: a URL as it is; anything else, the model of the
    voice catalogue by that name (named after it in the library, unless ``name``). A
    name the catalogue lacks comes back with its ``problem`` set, as a bad list row does.
    """
    from urvc_core.voice_catalogue import find_catalogue_entry

    if urllib.parse.urlsplit(text.strip()).scheme.lower() in ("http", "https"):
        return VoiceDownload(text, name)
    try:
        entry = find_catalogue_entry(text)
    except UrvcError as exc:
        return VoiceDownload(text, name, origin=text, problem=str(exc))
    return _catalogue_download(entry, name)


def _catalogue_download(entry: CatalogueEntry, name: str | None = None) -> VoiceDownload:
    chosen = name or _name_from_stem(entry.name)
    return VoiceDownload(entry.url, chosen, origin=f"catalogue: {entry.name}")


def download_catalogue_models(
    entries: Sequence[CatalogueEntry], *, overwrite: bool = False, progress: bool = True
) -> list[VoiceImportResult]:
    """Download models of the voice catalogue (``search_catalogue``'s results), each
    named after its entry: :func:`download_voices` for them."""
    downloads = [_catalogue_download(entry) for entry in entries]
    return download_voices(downloads, overwrite=overwrite, progress=progress)


def _download(
    url: str,
    *,
    name: str | None,
    overwrite: bool,
    progress: bool,
    single: bool,
    label: str | None = None,
) -> list[VoiceEntry]:
    from urvc_core.catalogue import asset_store

    if name is not None:
        _check_name(name)
    direct = direct_download_url(url)
    folder = urvc_home().cache / "downloads" / hashlib.sha256(direct.encode()).hexdigest()[:16]
    destination = folder / _download_file_name(direct)
    try:
        try:
            asset_store().download(
                direct,
                destination,
                progress=progress,
                description=f"{label} {destination.name}" if label else destination.name,
            )
        except OfflineError as exc:
            # The store's advice, to save the file under the cache by hand, leads nowhere
            # for a voice model: importing the file is what the user should do instead.
            raise OfflineError(
                f"urvc is offline (URVC_OFFLINE=1 or offline = true in config.toml), so it "
                f"will not download {direct}; download it yourself, then run: urvc models "
                f"import FILE"
            ) from exc
        local = _give_downloaded_file_its_kind(destination, url)
        return _import(local, name=name, overwrite=overwrite, source_label=url, single=single)
    finally:
        # The .part of a cut download stays for resuming; a finished file is either in
        # the library now or was not wanted there, so it is not kept twice.
        for leftover in folder.glob("*") if folder.is_dir() else ():
            if not leftover.name.endswith(".part"):
                leftover.unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


# -- reading the library ------------------------------------------------------------


def _entry_from_record(folder: Path, record: dict[str, Any]) -> VoiceEntry:
    """An entry from voice.json, without opening the model or index files."""
    files = record["files"]
    model_path = folder / files["model"]["file"]
    index_path = folder / files["index"]["file"] if "index" in files else None
    index: FeatureIndexInfo | None = None
    if index_path is not None:
        details = record.get("index") or {}
        index = FeatureIndexInfo(
            path=index_path,
            dim=int(details["dim"]),
            size=int(details["vectors"]),
            kind=str(details.get("kind", "")),
            file_size=int(files["index"].get("size", 0)),
        )
    return VoiceEntry(
        name=folder.name,
        model_path=model_path,
        index_path=index_path,
        info=_model_info_from_record(model_path, record.get("model")),
        folder=folder,
        index=index,
        in_library=True,
        source=record.get("source"),
        imported_at=record.get("imported_at"),
        skipped=tuple(SkippedFile(s["path"], s["reason"]) for s in record.get("skipped", [])),
    )


def _model_info_from_record(model_path: Path, recorded: Any) -> VoiceModelInfo:
    """The VoiceModelInfo kept in voice.json, or read again from the model if it won't do."""
    from urvc_core.rvc.voice_model import SynthesizerConfig, VoiceModelInfo

    if isinstance(recorded, dict) and {f.name for f in fields(VoiceModelInfo)} == set(recorded):
        try:
            return VoiceModelInfo(
                **{**recorded, "config": SynthesizerConfig.from_list(recorded["config"])}
            )
        except (TypeError, ValueError):
            pass
    # Written by another urvc version, or damaged: the model file itself is the truth.
    return _read_model(model_path)


def _load_entry(folder: Path) -> VoiceEntry:
    """The entry for one library folder: from voice.json, or from its files when absent."""
    record_path = folder / VOICE_FILE
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            entry = _entry_from_record(folder, record)
        except (ValueError, KeyError, TypeError, OSError):
            pass  # damaged voice.json: fall back to the files
        else:
            if entry.model_path.is_file():
                return entry
    # A folder a user put here by hand: its one voice model, and an index paired with it.
    models = [
        path
        for path in sorted(folder.glob("*.pth"))
        if not _TRAINING_CHECKPOINT.match(path.name) and not path.name.startswith(".")
    ]
    if not models:
        raise UrvcError(
            f"The library folder {folder} holds no voice model (.pth); delete the folder "
            f"or put the model in it."
        )
    if len(models) > 1:
        raise UrvcError(
            f"The library folder {folder} holds {len(models)} .pth files; keep one voice "
            f"model per folder, or import the folder with `urvc models import`."
        )
    entry = _entry_in_place(models[0])
    return VoiceEntry(
        name=folder.name,
        model_path=entry.model_path,
        index_path=entry.index_path,
        info=entry.info,
        folder=folder,
        index=entry.index,
        in_library=True,
        skipped=entry.skipped,
    )


def _library_folders() -> list[Path]:
    library = voice_library_folder()
    if not library.is_dir():
        return []
    return sorted(
        (f for f in library.iterdir() if f.is_dir() and not f.name.startswith(".")),
        key=lambda f: f.name.casefold(),
    )


def list_voice_models() -> list[VoiceEntry]:
    """Every voice model in the library, by name.

    A folder that holds no usable voice model is left out here; asking for it by name
    (:func:`get_voice_model`) says what is wrong with it.
    """
    entries: list[VoiceEntry] = []
    for folder in _library_folders():
        try:
            entries.append(_load_entry(folder))
        except UrvcError:
            continue
    return entries


def _unknown_name(name: str) -> UrvcError:
    library = voice_library_folder()
    names = [folder.name for folder in _library_folders()]
    close = _close_names(name, names)
    hint = f" Did you mean {', '.join(repr(n) for n in close)}?" if close else ""
    count = f"{len(names)} voice model(s)" if names else "no voice models"
    return UrvcError(
        f"There is no voice model named '{name}' in the library ({library}, {count}).{hint} "
        f"`urvc models list` shows them; `urvc models import FILE` adds one."
    )


def _library_folder_for(name: str) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise _unknown_name(name)
    folder = voice_library_folder() / name
    if folder.is_dir():
        return folder
    existing = _existing_folder(voice_library_folder(), name)
    if existing is not None:
        return existing
    raise _unknown_name(name)


def get_voice_model(name: str) -> VoiceEntry:
    """The library's voice model called ``name`` (case ignored when unambiguous)."""
    return _load_entry(_library_folder_for(name))


def delete_voice_model(name: str) -> None:
    """Remove a voice model and its folder from the library."""
    folder = _library_folder_for(name)
    library = voice_library_folder()
    with _library_lock(library):
        # Renamed first, so that the model is gone at once even if removing the files
        # is slow or stops half way.
        doomed = Path(tempfile.mkdtemp(prefix=".deleting-", dir=library))
        os.replace(folder, doomed / folder.name)
    shutil.rmtree(doomed, ignore_errors=True)


# -- models used where they lie ---------------------------------------------------------


def _named_indexes_beside(model_path: Path) -> list[Path]:
    """The ``.index`` files next to a model that could be its index.

    All of them when the model is the only voice model in its folder; otherwise only
    those carrying its name, so that a folder of many models and indexes (a Downloads
    folder) is not read through for one model.
    """
    folder = model_path.parent
    indexes = sorted(p for p in folder.glob("*.index") if not p.name.startswith("."))
    other_models = [
        p
        for p in folder.glob("*.pth")
        if p != model_path and not _TRAINING_CHECKPOINT.match(p.name)
    ]
    if other_models:
        return [p for p in indexes if _names_model(p, model_path)]
    return indexes


def _entry_in_place(model_path: Path) -> VoiceEntry:
    folder = model_path.parent
    contents = _sort_files([model_path, *_named_indexes_beside(model_path)], folder)
    if not contents.models:
        raise contents.no_model_error(str(model_path))
    model = contents.models[0]
    pairs, unpaired = _pair_indexes([model], contents.indexes, folder)
    index = pairs[model.path]
    return VoiceEntry(
        name=model_path.stem,
        model_path=model_path,
        index_path=index.path if index is not None else None,
        info=model.info,
        folder=folder,
        index=index,
        in_library=False,
        skipped=(*contents.skipped, *unpaired),
    )


def resolve_voice_model(name_or_path: str | Path) -> VoiceEntry:
    """A library name, or the path of a ``.pth`` (or a folder holding one) used in place.

    A bare word is looked up in the library first; a path (it has a separator or a
    ``.pth`` suffix, or it exists while no library model has that name) is used where
    it lies, with an index beside it paired by the import rule.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = (
        isinstance(name_or_path, Path)
        or os.sep in text
        or "/" in text
        or path.suffix.lower() == ".pth"
    )
    if not looks_like_path:
        try:
            return get_voice_model(text)
        except UrvcError:
            if not path.exists():
                raise
    if path.is_file():
        return _entry_in_place(path.resolve())
    if path.is_dir():
        models = [
            p
            for p in sorted(path.glob("*.pth"))
            if not _TRAINING_CHECKPOINT.match(p.name) and not p.name.startswith(".")
        ]
        if len(models) == 1:
            return _entry_in_place(models[0].resolve())
        found = ", ".join(p.name for p in models) or "none"
        raise UrvcError(
            f"The folder {path} must hold exactly one voice model (.pth) to be used as "
            f"one; it holds: {found}. Give the .pth file's path instead."
        )
    raise UrvcError(
        f"There is no voice model file {path}, and no library model by that name; "
        f"check the path, or `urvc models list` for the library's names."
    )
