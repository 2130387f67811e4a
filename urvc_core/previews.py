"""A voice model's preview (``urvc models preview``): a short spoken sentence shipped
with urvc, converted with the model, so a voice can be heard before it is used.

The conversion is a cached step like a cover's (same key for the same model, sentence
and settings), and the preview is written beside the model — ``preview.wav`` in its
library folder, ``<model> preview.wav`` beside a ``.pth`` used where it lies — whole
or not at all. ``urvc models info`` shows its path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PreviewResult", "preview_voice_model"]


@dataclass(frozen=True)
class PreviewResult:
    """A preview written: where, from which model, and whether it came from the cache."""

    voice: str
    path: Path
    duration: float
    cached: bool
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "voice": self.voice,
            "path": str(self.path),
            "duration": round(self.duration, 4),
            "cached": self.cached,
            "seconds": round(self.seconds, 4),
        }


def preview_voice_model(
    model: str | Path,
    *,
    cache: Any = None,
    refresh: bool = False,
    **settings: Any,
) -> PreviewResult:
    """Convert urvc's speech sample with ``model`` (a library name or a ``.pth`` path)
    and write it beside the model; keyword arguments are conversion settings
    (``pitch=12``, ``f0_method=...``), config.toml's ``[convert]`` table filling the rest.
    """
    from urvc_core.atomic_files import copy_file_atomically
    from urvc_core.audio import load_audio
    from urvc_core.demo import SPEECH_SAMPLE_FILE
    from urvc_core.home import load_config
    from urvc_core.rvc.conversion import VoiceConverter
    from urvc_core.rvc.request import resolve_conversion
    from urvc_core.steps import StemRef, StepRunner, conversion_step
    from urvc_core.voices import resolve_voice_model

    started = time.perf_counter()
    entry = resolve_voice_model(model)
    voice = entry.name if entry.in_library else entry.model_path
    request = resolve_conversion(voice, settings, defaults=load_config().convert)
    runner = StepRunner(cache, refresh=refresh)
    sample = StemRef.of_audio(load_audio(SPEECH_SAMPLE_FILE, channels=1))
    converted = conversion_step(runner, sample, lambda: VoiceConverter(request), request)
    copy_file_atomically(converted.path("vocals"), entry.preview_path)
    report = runner.reports[-1]
    return PreviewResult(
        voice=entry.name,
        path=entry.preview_path,
        duration=StemRef.of_entry(converted, "vocals").seconds,
        cached=report.cached,
        seconds=time.perf_counter() - started,
    )
