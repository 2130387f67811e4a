"""The ``coqui`` TTS engine as urvc's environment sees it: a proxy to a worker.

Its settings are checked here, and the model is found here: a published one through the
asset store (so ``[asset_paths]``, offline mode and the download progress work as for
any asset), or a folder by its path, checked here for its config and checkpoint before
anything starts. The speech is made in the worker environment
(:mod:`urvc_tts_coqui.coqui_side`), which keeps the model loaded between sentences.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from urvc_core.backends import (
    Audio,
    DeviceSetting,
    Setting,
    TTSEngine,
    TTSVoice,
    check_speech_request,
    match_voice_name,
)
from urvc_core.errors import UrvcError
from urvc_core.worker import WorkerBackend
from urvc_tts_coqui.models import (
    DEFAULT_MODEL,
    PUBLISHED_MODELS,
    find_model_folder,
    published_model,
)

SETTINGS = (
    Setting(
        "model",
        str,
        DEFAULT_MODEL,
        f"A published model ({', '.join(m.asset for m in PUBLISHED_MODELS)}), or the "
        f"folder of a Coqui model (config.json and a checkpoint .pth)",
    ),
    Setting(
        "language",
        str,
        "",
        "The language of a model that speaks several (XTTS, YourTTS: en, de, fr...); "
        "empty: the model's first",
    ),
    Setting(
        "speaker_wav",
        str,
        "",
        "A recording of the voice to speak in, for models that clone a voice from one "
        "(XTTS, YourTTS); empty: the model's own speakers",
    ),
    DeviceSetting(
        "device",
        str,
        "auto",
        "Where the model runs: auto (a GPU torch sees, else the CPU), cpu, cuda, cuda:N",
    ),
)
#: Coqui's models speak at a quarter to four times their own pace.
_SPEED_RANGE = (0.25, 4.0)


class CoquiTTS(WorkerBackend, TTSEngine):
    """Coqui TTS models (VITS, XTTS...), local and offline once downloaded."""

    name = "coqui"
    description = "Coqui TTS models: VITS, XTTS... local, offline (torch 2.11, own environment)"
    settings = SETTINGS
    default_voice = None
    worker_target = "urvc_tts_coqui.coqui_side:CoquiInWorker"
    worker_environment = "urvc-tts-coqui"
    # coqui-tts imports torchaudio (VITS loads audio with it), and torchaudio's compiled
    # part loads only into the torch it was built with: 2.11.0 for both. From torch 2.9
    # coqui-tts also asks for torchcodec (0.11 is the one built for torch 2.11), and it
    # imports six without declaring it.
    worker_requirements: ClassVar[tuple[str, ...]] = (
        "coqui-tts==0.28.0",
        "torch==2.11.0",
        "torchaudio==2.11.0",
        "torchcodec==0.11.*",
        "six",
    )
    worker_report_packages: ClassVar[tuple[str, ...]] = ("torch", "coqui-tts")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._published = published_model(self.options["model"])
        self._folder: Path | None = None
        if self._published is None:
            self._folder = find_model_folder(Path(self.options["model"])).folder
        reference = self.options["speaker_wav"]
        if reference and not Path(reference).expanduser().is_file():
            raise UrvcError(
                f"TTS engine 'coqui': the speaker recording {reference} does not exist."
            )
        self._details: dict[str, Any] | None = None

    def voices(self) -> list[str]:
        return list(self._model_details()["voices"])

    def voice_details(self) -> list[TTSVoice]:
        details = self._model_details()
        languages = details["languages"]
        locale = self._published.locale if self._published else ""
        return [
            TTSVoice(name, locale=locale, description=", ".join(languages))
            for name in details["voices"]
        ]

    def check_voice(self, voice: str) -> str:
        # Here, not in the worker: the voices are known once listed.
        return match_voice_name(voice, self.voices(), self.name)

    def synthesize(self, text: str, *, voice: str | None = None, speed: float = 1.0) -> Audio:
        check_speech_request(text, speed, _SPEED_RANGE, self.name)
        if voice is not None:
            voice = self.check_voice(voice)
        spoken: Audio = self._call(
            "speak_with_model", (text, str(self._model_path()), voice, float(speed)), {}
        )
        return spoken

    def _model_details(self) -> dict[str, Any]:
        if self._details is None:
            self._details = self._call("model_voices", (str(self._model_path()),), {})
        return self._details

    def _model_path(self) -> Path:
        if self._published is None:
            assert self._folder is not None
            return self._folder
        from urvc_core.catalogue import fetch_asset

        return find_model_folder(fetch_asset(self._published.asset)).folder
