"""RVC's pretrained generators and discriminators as assets (``rvc-pretrained-*``),
declared through the same hook as a backend's files, so ``urvc assets list`` shows them
and ``[asset_paths]`` can point them at files you have. ``urvc train fit`` fetches the
pair its model needs (:mod:`urvc_core.training.pretrained`)."""

from __future__ import annotations

from collections.abc import Callable

from urvc_core.assets import Asset
from urvc_core.hookspecs import hookimpl


@hookimpl
def register_assets(register: Callable[[Asset], None]) -> None:
    from urvc_core.training.pretrained import PRETRAINED_ASSETS

    for asset in PRETRAINED_ASSETS.values():
        register(asset)
