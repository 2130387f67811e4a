"""The public voice catalogue as an asset (``voice-catalogue``), declared through the
same hook as a backend's files, so ``urvc assets list`` shows it, ``[asset_paths]`` can
point it at a list of your own, and ``urvc models catalogue update`` fetches it through
the store. The catalogue itself is :mod:`urvc_core.voice_catalogue`."""

from __future__ import annotations

from collections.abc import Callable

from urvc_core.assets import Asset
from urvc_core.hookspecs import hookimpl


@hookimpl
def register_assets(register: Callable[[Asset], None]) -> None:
    from urvc_core.voice_catalogue import CATALOGUE_ASSET

    register(CATALOGUE_ASSET)
