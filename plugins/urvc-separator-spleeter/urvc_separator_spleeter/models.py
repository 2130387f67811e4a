"""Spleeter's published models: what each holds, where it comes from, the stem names.

Deezer publishes three models as ``.tar.gz`` archives of a TensorFlow checkpoint
(``checkpoint``, ``model.index``, ``model.data-00000-of-00001``, ``model.meta``) on
spleeter's GitHub release v1.4.0. They come through urvc's asset store, so
``[asset_paths]`` in config.toml can point at a copy on disk instead. This module is
imported on both sides of the worker, so it needs no more than urvc-core.
"""

from __future__ import annotations

from urvc_core.assets import Asset
from urvc_core.presets import SeparationPreset, SeparationStep

RELEASE_URL = "https://github.com/deezer/spleeter/releases/download/v1.4.0"

#: spleeter's instrument names, per stem count, as its configurations list them.
INSTRUMENTS: dict[int, tuple[str, ...]] = {
    2: ("vocals", "accompaniment"),
    4: ("vocals", "drums", "bass", "other"),
    5: ("vocals", "piano", "drums", "bass", "other"),
}
#: The stems as urvc names them: by what they are.
STEM_NAMES: dict[str, str] = {
    "vocals": "Vocals",
    "accompaniment": "Instrumental",
    "drums": "Drums",
    "bass": "Bass",
    "piano": "Piano",
    "other": "Other",
}
#: The files a model folder must hold (the data shard's name is the one spleeter saves).
CHECKPOINT_FILES: tuple[str, ...] = ("checkpoint", "model.index", "model.data-00000-of-00001")


def stems_of(count: int) -> tuple[str, ...]:
    return tuple(STEM_NAMES[instrument] for instrument in INSTRUMENTS[count])


def asset_name(count: int) -> str:
    return f"spleeter-{count}stems"


def model_assets() -> list[Asset]:
    return [
        Asset(
            asset_name(count),
            f"{RELEASE_URL}/{count}stems.tar.gz",
            f"spleeter/{count}stems",
            # Deezer lists the archives' digests in the release's checksum.json, which
            # is fetched with them rather than copied here.
            description=f"spleeter {count}-stem model ({', '.join(stems_of(count))})",
            extract=True,
        )
        for count in INSTRUMENTS
    ]


SEPARATION_PRESETS: tuple[SeparationPreset, ...] = (
    SeparationPreset(
        "spleeter",
        "Vocals/instrumental with Deezer's spleeter (2 stems, TensorFlow, its own environment)",
        (SeparationStep("vocals", "spleeter", {"stems": 2}),),
        # Never `auto`'s pick: that must work on a plain install, and this one needs its
        # worker environment built first.
        rank=-1,
        assets=(asset_name(2),),
    ),
)
