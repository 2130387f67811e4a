"""The ``asteroid`` separator as urvc's environment sees it: a proxy to a worker.

Its settings are checked here, and the model is found here: a published one through
the asset store (so ``[asset_paths]``, offline mode and the download progress work as
for any asset), or a file by its path, read here once (as data only) for its number of
sources, so the stems are known before anything runs. The separation runs in the
worker environment (:mod:`urvc_separator_asteroid.torch_side`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from urvc_core.backends import Audio, Separator, Setting
from urvc_core.worker import WorkerBackend
from urvc_separator_asteroid.models import (
    DEFAULT_MODEL,
    PUBLISHED_MODELS,
    published_model,
    read_model_package,
    source_count,
    stem_names,
)

SETTINGS = (
    Setting(
        "model",
        str,
        DEFAULT_MODEL,
        f"A published model ({', '.join(m.asset for m in PUBLISHED_MODELS)}), or the "
        f"path of a .pth file saved with torch.save(model.serialize(), path)",
    ),
    Setting(
        "stem_names",
        str,
        "",
        "The model's sources by name in its order, separated by '/' (Vocals/Instrumental); "
        "one name more names the residual (the mixture minus the sources). Empty: a "
        "published model's own names, else Source 1, Source 2... (and Residual for a "
        "model of one source)",
    ),
    Setting(
        "segment_seconds",
        float,
        10.0,
        "A longer song is separated this much at a time, in half-overlapping windows "
        "joined by asteroid's overlap-add (which keeps each source in its place across "
        "windows), so memory stays flat",
        unit="s",
        minimum=1.0,
        maximum=600.0,
    ),
)


class AsteroidSeparator(WorkerBackend, Separator):
    """asteroid's waveform separators (ConvTasNet, DPRNN-TasNet...), at any rate."""

    name = "asteroid"
    description = (
        "asteroid's ConvTasNet, DPRNN...: published models or your own "
        "(torch 2.11, in its own environment)"
    )
    settings = SETTINGS
    stems: tuple[str, ...] = ("Vocals", "Instrumental")
    worker_target = "urvc_separator_asteroid.torch_side:AsteroidInWorker"
    worker_environment = "urvc-separator-asteroid"
    # asteroid imports torchaudio (through its STOI loss), and torchaudio's compiled part
    # loads only into the torch it was built with: 2.11.0 for both. requests is imported
    # by asteroid's hub code but not declared; soxr resamples to the model's rate.
    worker_requirements: ClassVar[tuple[str, ...]] = (
        "asteroid==0.7.0",
        "torch==2.11.0",
        "torchaudio==2.11.0",
        "requests",
        "soxr>=0.3.7",
    )
    worker_report_packages: ClassVar[tuple[str, ...]] = ("torch", "asteroid")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._published = published_model(self.options["model"])
        if self._published is not None:
            self._file: Path | None = None
            given = self.options["stem_names"] or "/".join(self._published.stems)
            self.stems = stem_names(self._published.sources, given)
        else:
            self._file = Path(self.options["model"]).expanduser().resolve()
            package = read_model_package(self._file)
            self.stems = stem_names(source_count(package), self.options["stem_names"])

    def separate(self, audio: Audio) -> dict[str, Audio]:
        from urvc_core.catalogue import fetch_asset

        if self._published is not None:
            path, rate = fetch_asset(self._published.asset), self._published.sample_rate
        else:
            assert self._file is not None
            path, rate = self._file, 0
        stems: dict[str, Audio] = self._call(
            "separate_with_model", (audio, str(path), rate, list(self.stems)), {}
        )
        return stems
