"""Training's last step (``urvc train export``): an epoch's model into the voice library.

Any epoch ``urvc train fit`` saved a checkpoint of can be exported, not only the last
(RVC's "extract the model of a specific epoch"); ``best`` is the epoch with the lowest
held-out mel loss among them. The inference model is cut from the ``G_<epoch>.pth``
checkpoint (the posterior encoder dropped, float16, the community layout) and imported
with the workspace's feature index, which the library pairs with it by content.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from urvc_core.errors import UrvcError

if TYPE_CHECKING:
    from urvc_core.voices import VoiceEntry

__all__ = ["export_model", "saved_epochs"]


def saved_epochs(workspace: Path) -> list[int]:
    """The epochs with a checkpoint, in order."""
    epochs = []
    for path in (workspace / "checkpoints").glob("G_*.pth"):
        tag = path.stem[2:]
        if tag.isdigit():
            epochs.append(int(tag))
    return sorted(epochs)


def _best_saved_epoch(workspace: Path, epochs: list[int]) -> int:
    from urvc_core.training.fit import LOG_FOLDER, VALIDATION_LOG

    path = workspace / LOG_FOLDER / VALIDATION_LOG
    losses: dict[int, float] = {}
    if path.is_file():
        with open(path, newline="") as file:
            for row in csv.DictReader(file):
                losses[int(row["epoch"])] = float(row["mel_loss"])
    scored = [epoch for epoch in epochs if epoch in losses]
    if not scored:
        raise UrvcError(
            f"'{workspace.name}' has no held-out scores for its saved epochs (trained "
            f"without validation clips?); give --epoch with one of {epochs}."
        )
    return min(scored, key=lambda epoch: (losses[epoch], epoch))


def export_model(
    name: str,
    epoch: int | str = "last",
    *,
    voice_name: str | None = None,
    overwrite: bool = False,
) -> tuple[int, VoiceEntry]:
    """Put epoch ``epoch`` (a number, ``last`` or ``best``) of the training ``name`` into
    the voice library as ``voice_name`` (``name`` by default), with the workspace's
    feature index when it has one. Returns the epoch and the library entry.

    Raises:
        UrvcError: no such workspace or saved epoch (the message lists the saved ones),
            a library name that is taken (without ``overwrite``).
    """
    from urvc_core.rvc.voice_model import EMBEDDER_DIMS
    from urvc_core.training.checkpoints import load_checkpoint
    from urvc_core.training.fit import (
        RUN_RECORD,
        filelist_settings,
        model_config,
        save_trained_model,
    )
    from urvc_core.training.networks import TrainingSynthesizer
    from urvc_core.training.preprocess import training_workspace
    from urvc_core.voices import import_voice_files

    workspace = training_workspace(name)
    epochs = saved_epochs(workspace)
    if not epochs:
        raise UrvcError(
            f"'{name}' has no saved epochs; run `urvc train fit {name}` first (it saves "
            f"every --save-every epochs and at the end)."
        )
    if epoch == "last":
        chosen = epochs[-1]
    elif epoch == "best":
        chosen = _best_saved_epoch(workspace, epochs)
    else:
        chosen = int(epoch)
        if chosen not in epochs:
            raise UrvcError(
                f"'{name}' has no checkpoint of epoch {chosen}; the saved epochs are "
                f"{', '.join(map(str, epochs))}."
            )
    import json

    record = json.loads((workspace / RUN_RECORD).read_text())
    _method, _embedder, version, rate = filelist_settings(Path(record["filelist"]))
    config = model_config(version, rate, record["model_size"])
    checkpoint = load_checkpoint(workspace / "checkpoints" / f"G_{chosen}.pth")
    network = TrainingSynthesizer(
        config, embedder_dim=EMBEDDER_DIMS[version], pitch_guidance=record["pitch_guidance"]
    )
    network.load_state_dict(checkpoint["model"])
    voice_name = voice_name or name
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=workspace))
    try:
        model_path = save_trained_model(
            staging / f"{voice_name}.pth",
            network,
            config,
            version,
            record["pitch_guidance"],
            epoch=chosen,
            step=int(checkpoint["global_step"]),
            model_name=voice_name,
        )
        indexes = sorted(
            workspace.glob(f"added_*_{name}_{version}.index"), key=lambda p: p.stat().st_mtime
        )
        sources: list[Path] = [model_path, *indexes[-1:]]
        [result, *_] = import_voice_files(sources, name=voice_name, overwrite=overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if result.error is not None:
        raise UrvcError(result.error)
    return chosen, result.entries[0]
