"""Coqui TTS models: the published ones, and how a model folder is found and read.

Coqui saves a model as a folder: ``config.json`` (the model's configuration) beside a
checkpoint (``model_file.pth``, ``model.pth``, ``best_model.pth``... the dict its
trainer writes through ``torch.save``, the weights under ``"model"``) and, for a model of
several speakers or languages, files the config names (``speaker_ids.json``,
``speakers.pth``, ``language_ids.json``). The published models below are such folders
zipped on Coqui's GitHub releases; they come through urvc's asset store, so
``[asset_paths]`` in config.toml can point one at a copy on disk. Any other folder (or
its checkpoint file) is used by its path.

This module is imported on both sides of the worker: it needs no more than urvc-core.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urvc_core.assets import Asset
from urvc_core.errors import UrvcError

#: Checkpoint names, in the order they are looked for (Coqui's own, then its trainer's).
CHECKPOINT_NAMES: tuple[str, ...] = (
    "model_file.pth",
    "model_file.pth.tar",
    "model.pth",
    "checkpoint.pth",
    "best_model.pth",
)
#: Files a config may name by a path from the machine it was trained on, and the names
#: they are looked for by in the model's folder instead: (field, default names).
CONFIG_FILE_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("speakers_file", ("speaker_ids.json", "speaker_ids.pth")),
    ("d_vector_file", ("speakers.json", "speakers.pth")),
    ("language_ids_file", ("language_ids.json",)),
    ("speaker_encoder_model_path", ("model_se.pth", "model_se.pth.tar")),
    ("speaker_encoder_config_path", ("config_se.json",)),
)


@dataclass(frozen=True)
class PublishedModel:
    """A model Coqui published, as an asset: a zip of its folder."""

    asset: str
    url: str
    #: The language it speaks, as a BCP 47 tag.
    locale: str
    description: str

    def as_asset(self) -> Asset:
        return Asset(
            self.asset,
            self.url,
            f"coqui/{self.asset}",
            # No sha256: Coqui publishes none. The store unpacks the zip whole or not at
            # all, and the folder is checked for its config and checkpoint when used.
            description=f"Coqui TTS {self.description}",
            extract=True,
        )


_RELEASES = "https://github.com/coqui-ai/TTS/releases/download"

PUBLISHED_MODELS: tuple[PublishedModel, ...] = (
    PublishedModel(
        "coqui-en-ljspeech-vits",
        f"{_RELEASES}/v0.6.1_models/tts_models--en--ljspeech--vits.zip",
        "en-US",
        "VITS, English, one female voice (LJSpeech), 22.05 kHz",
    ),
    PublishedModel(
        "coqui-en-vctk-vits",
        f"{_RELEASES}/v0.6.1_models/tts_models--en--vctk--vits.zip",
        "en-GB",
        "VITS, English, 109 voices (VCTK: p225 to p376), 22.05 kHz",
    ),
    PublishedModel(
        "coqui-de-thorsten-vits",
        f"{_RELEASES}/v0.7.0_models/tts_models--de--thorsten--vits.zip",
        "de-DE",
        "VITS, German, one male voice (Thorsten), 22.05 kHz",
    ),
    PublishedModel(
        "coqui-es-css10-vits",
        f"{_RELEASES}/v0.8.0_models/tts_models--es--css10--vits.zip",
        "es-ES",
        "VITS, Spanish, one voice (CSS10), 22.05 kHz",
    ),
    PublishedModel(
        "coqui-fr-css10-vits",
        f"{_RELEASES}/v0.8.0_models/tts_models--fr--css10--vits.zip",
        "fr-FR",
        "VITS, French, one voice (CSS10), 22.05 kHz",
    ),
)
DEFAULT_MODEL = "coqui-en-vctk-vits"


def published_model(name: str) -> PublishedModel | None:
    return next((m for m in PUBLISHED_MODELS if m.asset == name), None)


def model_assets() -> list[Asset]:
    return [model.as_asset() for model in PUBLISHED_MODELS]


@dataclass(frozen=True)
class ModelFolder:
    """A Coqui model on disk: its folder, config and checkpoint."""

    folder: Path
    config: Path
    checkpoint: Path

    def read_config(self) -> dict[str, Any]:
        try:
            document = json.loads(self.config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UrvcError(
                f"{self.config} is not a readable Coqui config ({exc}); give the model's "
                f"folder as Coqui saved it."
            ) from None
        if not isinstance(document, dict) or "model" not in document:
            raise UrvcError(
                f"{self.config} is not a Coqui TTS config (it names no model); give the "
                f"folder of a Coqui TTS model."
            )
        return document

    def local_config(self) -> dict[str, Any]:
        """The config with the files it names found in this folder (a published config
        names them by paths on the machine it was trained on)."""
        config = self.read_config()
        for field, defaults in CONFIG_FILE_FIELDS:
            for table in (config, config.get("model_args") or {}):
                if not isinstance(table, dict) or field not in table:
                    continue
                named = table[field]
                named = named[0] if isinstance(named, list) and named else named
                candidates = [Path(str(named)).name] if named else []
                found = next(
                    (
                        self.folder / name
                        for name in [*candidates, *defaults]
                        if name and (self.folder / name).is_file()
                    ),
                    None,
                )
                if found is not None:
                    table[field] = [str(found)] if isinstance(table[field], list) else str(found)
                elif named:
                    # A file the model doesn't ship: left out rather than looked for on a
                    # path that exists only on the trainer's machine.
                    table[field] = [] if isinstance(table[field], list) else None
        return config


def find_model_folder(path: Path) -> ModelFolder:
    """The model at ``path``: a folder holding config.json and a checkpoint (or one
    level down, as a published zip unpacks), or a checkpoint with config.json beside it.

    Raises:
        UrvcError: the path is missing, or not a Coqui model, saying what is missing.
    """
    path = Path(path).expanduser()
    if path.is_file():
        folder, checkpoint = path.parent, path
        if not (folder / "config.json").is_file():
            raise UrvcError(
                f"{path} has no config.json beside it; a Coqui model is a folder with its "
                f"config.json and checkpoint: give that folder."
            )
        return ModelFolder(folder, folder / "config.json", checkpoint)
    if not path.is_dir():
        raise UrvcError(
            f"The Coqui model {path} does not exist; give a published model (`urvc assets "
            f"list`) or a model folder (config.json and a checkpoint .pth)."
        )
    candidates = [path, *sorted(p for p in path.iterdir() if p.is_dir())]
    for folder in candidates:
        if not (folder / "config.json").is_file():
            continue
        for name in CHECKPOINT_NAMES:
            if (folder / name).is_file():
                return ModelFolder(folder, folder / "config.json", folder / name)
        others = sorted(
            p
            for p in folder.glob("*.pth")
            if not p.name.startswith(("speaker", "model_se", "language"))
        )
        if len(others) == 1:
            return ModelFolder(folder, folder / "config.json", others[0])
        raise UrvcError(
            f"{folder} has a config.json but "
            + (
                f"several checkpoints ({', '.join(p.name for p in others)}); give the one "
                f"to use by its path."
                if others
                else f"no checkpoint ({', '.join(CHECKPOINT_NAMES[:3])}...)."
            )
        )
    raise UrvcError(
        f"{path} holds no Coqui model (no config.json); give the folder Coqui saved the model in."
    )
