"""urvc-separator-asteroid: asteroid's separators (ConvTasNet, DPRNN...) for urvc.

This module only registers what the plugin provides. The separator runs in a worker
process from ``<urvc home>/envs/urvc-separator-asteroid/``: asteroid imports torchaudio,
whose newest release is built for torch 2.11, while urvc runs on a newer torch, so the
two can't share one environment. ``urvc install urvc-separator-asteroid`` builds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from urvc_core import hookimpl

if TYPE_CHECKING:
    from urvc_core.assets import Asset
    from urvc_core.hookspecs import Register


@hookimpl
def register_separators(register: Register) -> None:
    from urvc_separator_asteroid.separator import AsteroidSeparator

    register(AsteroidSeparator)


@hookimpl
def register_assets(register: Callable[[Asset], None]) -> None:
    from urvc_separator_asteroid.models import model_assets

    for asset in model_assets():
        register(asset)


@hookimpl
def register_presets(register: Callable[[Any], None]) -> None:
    from urvc_separator_asteroid.models import SEPARATION_PRESETS

    for preset in SEPARATION_PRESETS:
        register(preset)
