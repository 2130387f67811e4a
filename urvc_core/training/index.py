"""Training step (``urvc train index``): the feature index that goes with the model.

The content features :mod:`~urvc_core.training.extract` stored for every clip of the
workspace are put together (one extraction setting: an embedder and a model version)
and built into the faiss index RVC builds (see
:func:`~urvc_core.rvc.feature_index.build_feature_index`: IVF with
``min(16 * sqrt(n), n // 39)`` lists, flat storage, ``nprobe = 1``, above 200,000
vectors first reduced to 10,000 MiniBatchKMeans centres). It is written where RVC writes
it and as RVC names it, ``<workspace>/added_IVF<n>_Flat_nprobe_1_<NAME>_<version>.index``,
so the voice library pairs it with the model ``NAME.pth`` by its name, and the WebUI and
its forks read it. Below 39 vectors no IVF layout is possible; the flat index written
then is ``added_Flat_<NAME>_<version>.index``.

As in RVC, the workspace holds one index per model version: building one replaces the
index built before for that version (its list count, and so its name, changes as clips
are added). Only the features of the clips in the workspace now are used, so features
left from clips that are gone do not reach the index.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.errors import UrvcError
from urvc_core.training.preprocess import CLIPS_16K_FOLDER

__all__ = ["IndexResult", "build_training_index", "training_index_name"]

FEATURES_FOLDER = "features"


@dataclass
class IndexResult:
    """The index a workspace's features gave, and what it was built from."""

    name: str
    workspace: Path
    path: Path
    #: The extraction setting the features came from: the embedder's folder name (its
    #: name, or for a model given by path its folder's name and a digest) and v1/v2.
    embedder: str
    version: str
    clips: int
    #: Feature frames gathered, and vectors stored (fewer when k-means reduced them).
    frames: int
    vectors: int
    dim: int
    #: IVF lists; 0 for a flat index.
    lists: int
    seconds: float
    #: An index of the same version built before, removed (its name differed).
    replaced: Path | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workspace": str(self.workspace),
            "path": str(self.path),
            "embedder": self.embedder,
            "version": self.version,
            "clips": self.clips,
            "frames": self.frames,
            "vectors": self.vectors,
            "dim": self.dim,
            "lists": self.lists,
            "seconds": round(self.seconds, 3),
            "replaced": str(self.replaced) if self.replaced is not None else None,
            "notes": self.notes,
        }


def training_index_name(name: str, version: str, lists: int) -> str:
    """RVC's file name for the index of model ``name``: ``added_IVF<lists>_Flat_nprobe_1_
    <name>_<version>.index``, or ``added_Flat_<name>_<version>.index`` when flat."""
    layout = f"IVF{lists}_Flat_nprobe_1" if lists > 0 else "Flat"
    return f"added_{layout}_{name}_{version}.index"


def build_training_index(
    name: str,
    *,
    embedder: str | None = None,
    version: str | None = None,
    seed: int = 0,
) -> IndexResult:
    """Build the feature index of the model ``name`` from its extracted features.

    ``embedder`` (a name, a model's path, or the folder name extraction reported) and
    ``version`` ("v1", "v2") choose the extraction setting when the workspace has
    several; left out, the setting extracted last is used and a note says so. ``seed``
    makes the shuffle and k-means repeatable.

    Raises:
        UrvcError: no workspace or no features (run preprocess and extract first), no
            features for the setting asked for, clips without features, or a bad version.
    """
    from urvc_core.rvc.feature_index import (
        build_feature_index,
        ivf_list_count,
        read_feature_index_info,
    )
    from urvc_core.training.preprocess import training_workspace

    if version is not None and version not in ("v1", "v2"):
        raise UrvcError(f"A voice model's version is v1 or v2; got {version!r}.")
    workspace = training_workspace(name)
    if not workspace.is_dir():
        raise UrvcError(
            f"There is no training workspace for '{name}'; run `urvc train preprocess "
            f"DATASET --name {name}`, then `urvc train extract {name}`, first."
        )
    folder, notes = _feature_folder(workspace, name, embedder, version)
    embedder_id, _, folder_version = folder.name.rpartition("-")
    clips = sorted((workspace / CLIPS_16K_FOLDER).glob("*.wav"))
    missing = [clip.name for clip in clips if not (folder / f"{clip.stem}.npy").is_file()]
    if not clips:
        raise UrvcError(
            f"The model '{name}' has no training clips; run `urvc train preprocess DATASET "
            f"--name {name}`, then `urvc train extract {name}`, first."
        )
    if missing:
        raise UrvcError(
            f"{len(missing)} of the {len(clips)} clips of '{name}' have no {embedder_id} "
            f"{folder_version} features (the first: {missing[0]}); run `urvc train extract "
            f"{name} --version {folder_version}` with that embedder first."
        )

    started = time.perf_counter()
    features = [_load_features(folder / f"{clip.stem}.npy") for clip in clips]
    widths = {f.shape[1] for f in features}
    if len(widths) > 1:
        raise UrvcError(
            f"The features in {folder} are of different widths ({sorted(widths)}); run "
            f"`urvc train extract {name}` again after deleting that folder."
        )
    # RVC concatenates the clips' features; build_feature_index shuffles them.
    stacked = np.concatenate(features)
    lists = ivf_list_count(len(stacked))
    path = workspace / training_index_name(name, folder_version, lists)
    build_feature_index(stacked, path, seed=seed)
    info = read_feature_index_info(path)
    replaced = _remove_older_indexes(workspace, name, folder_version, keep=path)
    return IndexResult(
        name=name,
        workspace=workspace,
        path=path,
        embedder=embedder_id,
        version=folder_version,
        clips=len(clips),
        frames=len(stacked),
        vectors=info.size,
        dim=info.dim,
        lists=lists,
        seconds=time.perf_counter() - started,
        replaced=replaced,
        notes=notes,
    )


def _feature_settings(workspace: Path) -> list[Path]:
    """The workspace's feature folders (``<embedder>-<version>``) that hold features."""
    root = workspace / FEATURES_FOLDER
    if not root.is_dir():
        return []
    return sorted(
        folder
        for folder in root.iterdir()
        if folder.is_dir()
        and folder.name.rpartition("-")[2] in ("v1", "v2")
        and any(folder.glob("*.npy"))
    )


def _feature_folder(
    workspace: Path, name: str, embedder: str | None, version: str | None
) -> tuple[Path, list[str]]:
    """The feature folder of the setting asked for, or of the one extracted last."""
    settings = _feature_settings(workspace)
    if not settings:
        raise UrvcError(
            f"The model '{name}' has no content features yet; run `urvc train extract "
            f"{name}` first."
        )
    candidates = [f for f in settings if version is None or f.name.endswith(f"-{version}")]
    if embedder is not None:
        ids = {embedder, _embedder_id(embedder)}
        candidates = [f for f in candidates if f.name.rpartition("-")[0] in ids]
    if not candidates:
        asked = " ".join(filter(None, [embedder, version]))
        found = ", ".join(f.name for f in settings)
        raise UrvcError(
            f"The model '{name}' has no {asked} features (it has {found}); run `urvc train "
            f"extract {name}` with that setting first, or choose one of those."
        )
    if len(candidates) == 1:
        return candidates[0], []
    chosen = _extracted_last(workspace, candidates)
    others = ", ".join(f.name for f in candidates if f != chosen)
    return chosen, [
        f"The workspace has features of several settings; the index is built from "
        f"{chosen.name}, extracted last (not {others}); choose with --embedder and --version."
    ]


def _extracted_last(workspace: Path, candidates: list[Path]) -> Path:
    """Of several feature folders, the one the most recently written file list names
    (or, with no file list, the one written to last)."""
    by_name = {folder.name: folder for folder in candidates}
    filelists = sorted(
        (workspace / "filelists").glob("*.txt"), key=lambda p: p.stat().st_mtime_ns, reverse=True
    )
    for filelist in filelists:
        first = filelist.read_text(encoding="utf-8").partition("\n")[0].split("|")
        if len(first) >= 2 and Path(first[1]).parent.name in by_name:
            return by_name[Path(first[1]).parent.name]
    return max(candidates, key=lambda f: max(p.stat().st_mtime_ns for p in f.glob("*.npy")))


def _embedder_id(embedder: str) -> str:
    """The feature folder's name for an embedder given by name or by path, as
    extraction names it."""
    if not Path(embedder).expanduser().exists():
        return embedder
    from urvc_core.rvc.request import resolve_embedder
    from urvc_core.training.extract import _embedder_id as folder_name

    return folder_name(resolve_embedder(embedder, "contentvec"))


def _load_features(path: Path) -> np.ndarray:
    try:
        features = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UrvcError(
            f"Can't read the features {path} ({exc}); delete it and run `urvc train extract` again."
        ) from exc
    if features.ndim != 2 or features.shape[0] == 0:
        raise UrvcError(
            f"The features {path} are not frames × dim (shape {features.shape}); delete "
            f"it and run `urvc train extract` again."
        )
    return np.asarray(features, dtype=np.float32)


def _remove_older_indexes(workspace: Path, name: str, version: str, *, keep: Path) -> Path | None:
    """Remove the indexes of this version built before ``keep``; the last one removed."""
    pattern = re.compile(rf"added_(?:IVF\d+_Flat_nprobe_1|Flat)_{re.escape(name)}_{version}\.index")
    removed = None
    for path in sorted(workspace.glob("added_*.index")):
        if path != keep and pattern.fullmatch(path.name):
            path.unlink(missing_ok=True)
            removed = path
    return removed
