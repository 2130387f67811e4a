"""urvc-separator-spleeter: Deezer's spleeter for urvc, in a worker environment.

This module only registers what the plugin provides. The separator itself runs in a
worker process from ``<urvc home>/envs/urvc-separator-spleeter/`` (spleeter needs
TensorFlow and ``numpy<2``, which urvc's own environment can't hold beside
audio-separator); ``urvc install urvc-separator-spleeter`` builds it.
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
    from urvc_separator_spleeter.separator import SpleeterSeparator

    register(SpleeterSeparator)


@hookimpl
def register_assets(register: Callable[[Asset], None]) -> None:
    from urvc_separator_spleeter.models import model_assets

    for asset in model_assets():
        register(asset)


@hookimpl
def register_presets(register: Callable[[Any], None]) -> None:
    from urvc_separator_spleeter.models import SEPARATION_PRESETS

    for preset in SEPARATION_PRESETS:
        register(preset)
