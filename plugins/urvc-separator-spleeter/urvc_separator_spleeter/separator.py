"""The ``spleeter`` separator as urvc's environment sees it: a proxy to a worker.

Its settings are checked here; the model is fetched here through the asset store (so
``[asset_paths]``, offline mode and the download progress work as for any asset); the
separation runs in the worker environment (:mod:`urvc_separator_spleeter.tensorflow_side`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from urvc_core.backends import Audio, Separator, Setting
from urvc_core.worker import WorkerBackend
from urvc_separator_spleeter.models import INSTRUMENTS, asset_name, stems_of

SETTINGS = (
    Setting(
        "stems",
        int,
        2,
        "2: Vocals, Instrumental; 4: Vocals, Drums, Bass, Other; 5: Vocals, Piano, "
        "Drums, Bass, Other",
        choices=tuple(INSTRUMENTS),
    ),
    Setting(
        "segment_seconds",
        float,
        60.0,
        "A long song is separated this much at a time (with 2 s of context each side), "
        "so memory stays flat",
        unit="s",
        minimum=10.0,
        maximum=600.0,
    ),
)


class SpleeterSeparator(WorkerBackend, Separator):
    """Deezer's spleeter U-Net: 2, 4 or 5 stems, at any rate (it works at 44.1 kHz)."""

    name = "spleeter"
    description = "Deezer's spleeter: 2, 4 or 5 stems (TensorFlow, in its own environment)"
    settings = SETTINGS
    stems: tuple[str, ...] = stems_of(2)
    worker_target = "urvc_separator_spleeter.tensorflow_side:SpleeterInWorker"
    worker_environment = "urvc-separator-spleeter"
    # spleeter 2.4.2 brings TensorFlow 2.12 and numpy<2; soxr resamples to its 44.1 kHz.
    worker_requirements: ClassVar[tuple[str, ...]] = ("spleeter==2.4.2", "soxr>=0.3.7")
    worker_report_packages: ClassVar[tuple[str, ...]] = ("tensorflow", "spleeter")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.stems = stems_of(self.options["stems"])

    def separate(self, audio: Audio) -> dict[str, Audio]:
        from urvc_core.catalogue import fetch_asset

        folder = fetch_asset(asset_name(self.options["stems"]))
        stems: dict[str, Audio] = self._call("separate_with_model", (audio, str(folder)), {})
        return stems
