"""Training step 2 (``urvc train extract``): pitch and content features of every clip.

Each 16 kHz clip of the workspace (``1_16k_wavs``, written by
:mod:`~urvc_core.training.preprocess`) gets its pitch — through the same f0 backends a
conversion uses, 100 frames a second — stored fine (Hz, what the synthesizer's sine
source follows) and coarse (RVC's 1..255 mel bins, what its text encoder embeds,
computed by the synthesizer's own :func:`~urvc_core.rvc.synthesizer.coarse_pitch`), and
its content features from the embedder — layer 9 projected to 256 dimensions for a v1
model, layer 12's 768 for v2, as RVC trains them.

Each hyper-parameter lives in its own folder, so changing one redoes only what it
touches: ``f0/<method>/{fine,coarse}/`` depends on the f0 method alone,
``features/<embedder>-<version>/`` on the embedder and the version. A clip whose files
are there is not computed again (an interrupted run goes on where it stopped). Each
combination gets a file list, ``filelists/<method>_<embedder>_<version>_<rate>.txt``,
in RVC's layout: ``clip|features|coarse f0|fine f0|speaker`` per line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.errors import UrvcError
from urvc_core.training.preprocess import CLIPS_16K_FOLDER, CLIPS_FOLDER, RECORD_FILE

__all__ = ["ExtractResult", "extract_features", "feature_layer"]

#: Samples of 16 kHz audio per pitch frame (10 ms) and per feature frame (20 ms).
PITCH_HOP = 160


def feature_layer(version: str) -> tuple[int, bool]:
    """The embedder layer a model version trains on, and whether it is projected."""
    if version == "v1":
        return 9, True
    if version == "v2":
        return 12, False
    raise UrvcError(f"A voice model's version is v1 or v2; got {version!r}.")


@dataclass
class ExtractResult:
    """What extraction left in the workspace, and what it computed this time."""

    name: str
    workspace: Path
    f0_method: str
    embedder: str
    version: str
    clips: int
    #: Clips whose pitch or features were computed now (the rest were there).
    pitch_computed: int
    features_computed: int
    filelist: Path

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workspace": str(self.workspace),
            "f0_method": self.f0_method,
            "embedder": self.embedder,
            "version": self.version,
            "clips": self.clips,
            "pitch_computed": self.pitch_computed,
            "features_computed": self.features_computed,
            "filelist": str(self.filelist),
        }


def extract_features(
    name: str,
    *,
    f0_method: str = "fcpe",
    embedder: str = "contentvec",
    version: str = "v2",
    speaker: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ExtractResult:
    """Pitch and content features of every clip of the workspace ``name``.

    Raises:
        UrvcError: no preprocessed clips (run preprocess first), an unknown f0 method or
            embedder, a bad version.
    """
    import json

    from urvc_core.audio import load_audio
    from urvc_core.devices import resolve_device
    from urvc_core.registry import get_backend
    from urvc_core.rvc.conversion import load_embedder
    from urvc_core.rvc.request import resolve_embedder
    from urvc_core.rvc.voice_model import EMBEDDER_DIMS
    from urvc_core.training.preprocess import training_workspace

    layer, project = feature_layer(version)
    workspace = training_workspace(name)
    clips = sorted((workspace / CLIPS_16K_FOLDER).glob("*.wav"))
    if not clips:
        raise UrvcError(
            f"The model '{name}' has no training clips yet; run `urvc train preprocess "
            f"DATASET --name {name}` first."
        )
    rate = json.loads((workspace / RECORD_FILE).read_text())["settings"]["sample_rate"]
    get_backend("f0", f0_method)  # an unknown method fails before any work
    resolved = resolve_embedder(embedder, "contentvec")
    embedder_id = _embedder_id(resolved)
    fine_folder = workspace / "f0" / f0_method / "fine"
    coarse_folder = workspace / "f0" / f0_method / "coarse"
    feature_folder = workspace / "features" / f"{embedder_id}-{version}"
    loaded: Any = None
    pitch_computed = features_computed = 0
    for number, clip in enumerate(clips):
        if progress is not None:
            progress(number, len(clips))
        stem = clip.stem
        need_pitch = (
            not (fine_folder / f"{stem}.npy").is_file()
            or not (coarse_folder / f"{stem}.npy").is_file()
        )
        need_features = not (feature_folder / f"{stem}.npy").is_file()
        if not (need_pitch or need_features):
            continue
        samples = load_audio(clip, sample_rate=16000, channels=1).samples[0]
        if need_pitch:
            fine, coarse = _pitch(samples, f0_method)
            _save(fine_folder / f"{stem}.npy", fine)
            _save(coarse_folder / f"{stem}.npy", coarse)
            pitch_computed += 1
        if need_features:
            if loaded is None:
                loaded = load_embedder(resolved, resolve_device("auto"), "fp32")
            features = np.asarray(loaded.embed(samples, layer=layer, project=project))
            if features.shape[1] != EMBEDDER_DIMS[version]:
                raise UrvcError(
                    f"The embedder {embedder} gives {features.shape[1]}-dim features where a "
                    f"{version} model trains on {EMBEDDER_DIMS[version]}; use a HuBERT-base "
                    f"sized embedder (contentvec, hubert-base...)."
                )
            _save(feature_folder / f"{stem}.npy", features.astype(np.float32))
            features_computed += 1
    if progress is not None:
        progress(len(clips), len(clips))
    filelist = workspace / "filelists" / f"{f0_method}_{embedder_id}_{version}_{rate}.txt"
    lines = [
        "|".join(
            [
                str(workspace / CLIPS_FOLDER / clip.name),
                str(feature_folder / f"{clip.stem}.npy"),
                str(coarse_folder / f"{clip.stem}.npy"),
                str(fine_folder / f"{clip.stem}.npy"),
                str(speaker),
            ]
        )
        for clip in clips
    ]
    from urvc_core.atomic_files import write_text_atomically

    filelist.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(filelist, "\n".join(lines) + "\n")
    return ExtractResult(
        name,
        workspace,
        f0_method,
        embedder_id,
        version,
        len(clips),
        pitch_computed,
        features_computed,
        filelist,
    )


def _pitch(samples: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    import torch

    from urvc_core.rvc.pitch import extract_pitch
    from urvc_core.rvc.synthesizer import coarse_pitch

    fine = extract_pitch(samples, 16000, methods=[method], hop_length=PITCH_HOP)
    coarse = coarse_pitch(torch.from_numpy(np.asarray(fine))).numpy().astype(np.int64)
    return np.asarray(fine, dtype=np.float32), coarse


def _embedder_id(resolved: Any) -> str:
    """A folder name for the embedder: its name, or for a model given by path its folder's
    name and a digest of what identifies its files."""
    if resolved.path is None:
        return str(resolved.name)
    digest = hashlib.sha256(repr(sorted(resolved.identity.items())).encode()).hexdigest()[:8]
    return f"{Path(resolved.path).name}-{digest}"


def _save(path: Path, array: np.ndarray) -> None:
    """An array as .npy, whole or not at all (an interrupted run leaves no half file)."""
    from urvc_core.atomic_files import atomic_destination

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_destination(path) as temporary, open(temporary, "wb") as file:
        np.save(file, array, allow_pickle=False)
