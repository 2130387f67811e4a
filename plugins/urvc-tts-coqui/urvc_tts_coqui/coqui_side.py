"""The ``coqui`` engine in its worker environment, where coqui-tts and its torch are.

A model is loaded by Coqui's own ``Synthesizer`` from its folder, with the config's
file paths pointed at the folder's own files (a copy of the config in a private temporary
folder: the model folder itself is never written, it may be shared or read-only).
Coqui reads checkpoints with ``torch.load(weights_only=True)`` (torch 2.4 on), so a
model file can't run code. The loaded model is kept for the next sentence.

The same text gives the same speech every time (the noise VITS samples is seeded).
Speed: VITS and Glow-TTS scale their durations (``length_scale``), XTTS takes a
``speed``; another model's speech is stretched in time by librosa (no pitch change).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from urvc_core.backends import Audio, TTSEngine
from urvc_core.errors import UrvcError
from urvc_tts_coqui.engine import SETTINGS
from urvc_tts_coqui.models import find_model_folder

#: The name of the one voice of a model with a single speaker.
SINGLE_VOICE = "default"


class CoquiInWorker(TTSEngine):
    """What :class:`~urvc_tts_coqui.engine.CoquiTTS` stands for."""

    name = "coqui"
    settings = SETTINGS
    work_methods: ClassVar[tuple[str, ...]] = ("model_voices", "speak_with_model")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._loaded: tuple[str, Any, Any] | None = None

    def model_voices(self, model: str) -> dict[str, Any]:
        """The model's speakers and languages, and its output rate."""
        synthesizer = self._synthesizer(Path(model))
        return {
            "voices": _speakers(synthesizer) or [SINGLE_VOICE],
            "languages": _languages(synthesizer),
            "sample_rate": int(synthesizer.output_sample_rate),
        }

    def speak_with_model(self, text: str, model: str, voice: str | None, speed: float) -> Audio:
        synthesizer = self._synthesizer(Path(model))
        speakers, languages = _speakers(synthesizer), _languages(synthesizer)
        speaker: str | None = None
        if speakers:
            speaker = voice if voice and voice != SINGLE_VOICE else speakers[0]
        language = self.options["language"] or (languages[0] if languages else None)
        if languages and language not in languages:
            raise UrvcError(
                f"TTS engine 'coqui': the model speaks {', '.join(languages)}, not "
                f"'{language}'; set language to one of them."
            )
        reference = self.options["speaker_wav"] or None
        keywords: dict[str, Any] = {}
        tts_model = synthesizer.tts_model
        scale = getattr(tts_model, "length_scale", None)
        stretch = 1.0
        if isinstance(scale, (int, float)):
            tts_model.length_scale = self._base_length_scale(tts_model) / speed
        elif "xtts" in type(tts_model).__name__.lower():
            keywords["speed"] = speed
        else:
            stretch = speed
        import torch

        # VITS samples its durations and voice from noise: a fixed seed makes the same
        # text the same speech on every run, as a cached step promises.
        torch.manual_seed(0)
        samples = synthesizer.tts(
            text,
            speaker_name=speaker if not reference else None,
            language_name=language if languages else None,
            speaker_wav=reference,
            split_sentences=False,
            **keywords,
        )
        waveform = np.asarray(samples, dtype=np.float32)
        if stretch != 1.0:
            import librosa

            waveform = librosa.effects.time_stretch(waveform, rate=stretch)
        peak = float(np.max(np.abs(waveform))) if waveform.size else 0.0
        if peak > 1.0:
            waveform = waveform / peak
        return Audio(waveform, int(synthesizer.output_sample_rate))

    def _base_length_scale(self, tts_model: Any) -> float:
        base = getattr(tts_model, "_urvc_length_scale", None)
        if base is None:
            base = float(tts_model.length_scale)
            tts_model._urvc_length_scale = base
        return float(base)

    def _synthesizer(self, path: Path) -> Any:
        if self._loaded is not None and self._loaded[0] == str(path):
            return self._loaded[1]
        import torch
        from TTS.utils.synthesizer import Synthesizer

        found = find_model_folder(path)
        private = tempfile.TemporaryDirectory(prefix="urvc-coqui-")
        config = Path(private.name) / "config.json"
        config.write_text(json.dumps(found.local_config()), encoding="utf-8")
        # The worker knows no --device or config.toml: auto is a GPU torch sees here.
        device = self.options["device"]
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            synthesizer = Synthesizer(
                tts_checkpoint=found.checkpoint,
                tts_config_path=config,
                use_cuda=device.startswith("cuda"),
            )
        except Exception as exc:
            private.cleanup()
            raise _load_error(found.folder, exc) from None
        self._loaded = (str(path), synthesizer, private)
        return synthesizer


def _speakers(synthesizer: Any) -> list[str]:
    manager = getattr(synthesizer.tts_model, "speaker_manager", None)
    names = getattr(manager, "speaker_names", None) if manager is not None else None
    return [str(name) for name in names] if names else []


def _languages(synthesizer: Any) -> list[str]:
    """The languages to choose from: a multilingual model's (VITS with a language
    embedding, YourTTS, XTTS); none for a model of one language."""
    manager = getattr(synthesizer.tts_model, "language_manager", None)
    names = getattr(manager, "language_names", None) if manager is not None else None
    if names and len(names) > 1:
        return [str(name) for name in names]
    if "xtts" in type(synthesizer.tts_model).__name__.lower():
        return [str(name) for name in synthesizer.tts_config.get("languages") or []]
    return []


def _load_error(folder: Path, exc: Exception) -> UrvcError:
    import pickle

    detail = str(exc).strip() or type(exc).__name__
    if isinstance(exc, pickle.UnpicklingError):
        return UrvcError(
            f"The Coqui model in {folder} holds more than weights (torch refused to load "
            f"it as data only: {detail.splitlines()[0]}); urvc loads no model that could "
            f"run code."
        )
    if "espeak" in detail.lower() or "phonemizer" in detail.lower():
        return UrvcError(
            f"The Coqui model in {folder} speaks in phonemes and needs espeak-ng: install "
            f"it (apt install espeak-ng, brew install espeak-ng) and try again."
        )
    return UrvcError(f"The Coqui model in {folder} can't be loaded: {detail.splitlines()[0]}.")
