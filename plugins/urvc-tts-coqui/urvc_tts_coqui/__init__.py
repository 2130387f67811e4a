"""urvc-tts-coqui: Coqui TTS models (VITS, XTTS...) as the urvc TTS engine ``coqui``.

This module only registers what the plugin provides. The engine runs in a worker
process from ``<urvc home>/envs/urvc-tts-coqui/``: coqui-tts imports torchaudio, whose
newest release is built for torch 2.11, while urvc runs on a newer torch, so the two
can't share one environment. ``urvc install urvc-tts-coqui`` builds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from urvc_core import hookimpl

if TYPE_CHECKING:
    from urvc_core.assets import Asset
    from urvc_core.hookspecs import Register


@hookimpl
def register_tts_engines(register: Register) -> None:
    from urvc_tts_coqui.engine import CoquiTTS

    register(CoquiTTS)


@hookimpl
def register_assets(register: Callable[[Asset], None]) -> None:
    from urvc_tts_coqui.models import model_assets

    for asset in model_assets():
        register(asset)
