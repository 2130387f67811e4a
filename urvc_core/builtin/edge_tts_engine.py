"""The ``edge`` TTS engine: Microsoft Edge's online voices, through the edge-tts package.

Hundreds of neural voices in over a hundred languages, free and without an account, and
the engine every RVC tool offers first. It needs the internet: with ``URVC_OFFLINE=1``
it stops with one line before opening any connection.

The voice list is fetched once and kept in ``<home>/cache/tts/edge-voices.json`` for a
week, so ``urvc tts voices`` is instant and a voice name is checked before anything is
sent. A name missing from a list older than an hour fetches the list again before it is
called unknown (a voice added since), which is what makes "voice not in list" errors
vanish instead of recurring; an unknown name gets the closest names in its error.

``URVC_EDGE_TTS_SERVICE`` points the engine at another host speaking the same protocol
(``http://127.0.0.1:8765``: its ``/voices/list`` and ``/edge/v1`` websocket): a mirror,
or :mod:`urvc_core.testing.edge_service`, which the tests run.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from urvc_core.backends import (
    Audio,
    Setting,
    TTSEngine,
    TTSVoice,
    check_speech_request,
    match_voice_name,
)
from urvc_core.errors import OfflineError, UrvcError
from urvc_core.hookspecs import Register, hookimpl

#: Where another host speaking Edge's protocol is (scheme, host and port).
SERVICE_ENV = "URVC_EDGE_TTS_SERVICE"
#: The voice list is fetched again after this long.
VOICE_LIST_MAX_AGE_SECONDS = 7 * 24 * 3600
#: A voice missing from a list older than this fetches the list again before the name
#: is called unknown.
VOICE_LIST_RECHECK_SECONDS = 3600
#: Edge's synthesis speaks at rates from half to three times the voice's pace.
_SPEED_RANGE = (0.5, 3.0)
_SAMPLE_RATE = 24000
_T = TypeVar("_T")
# edge-tts reads its service addresses from module globals; one speech at a time
# swaps them (see _service_urls).
_SERVICE_LOCK = threading.Lock()


class EdgeTTS(TTSEngine):
    """Microsoft Edge's neural voices (online; edge-tts)."""

    name = "edge"
    description = "Microsoft Edge's online neural voices, 100+ languages (edge-tts; needs internet)"
    requires_modules = ("edge_tts",)
    sample_rate = _SAMPLE_RATE
    default_voice = "en-US-EmmaMultilingualNeural"
    settings = (
        Setting(
            "pitch",
            int,
            0,
            "Raise or lower the voice's pitch before conversion",
            unit="Hz",
            minimum=-200,
            maximum=200,
        ),
        Setting(
            "volume",
            int,
            0,
            "Louder or softer than the voice's own level",
            unit="%",
            minimum=-100,
            maximum=100,
        ),
        Setting(
            "timeout",
            float,
            30.0,
            "How long the service may stay silent before the speech fails",
            unit="s",
            minimum=1,
            maximum=600,
        ),
    )

    # -- voices -------------------------------------------------------------------------

    def voices(self) -> list[str]:
        return [voice.name for voice in self.voice_details()]

    def voice_details(self) -> list[TTSVoice]:
        return [_as_voice(entry) for entry in _voice_list().entries]

    def check_voice(self, voice: str) -> str:
        listing = _voice_list()
        try:
            return _match_voice(voice, listing.entries)
        except UrvcError:
            if listing.age_seconds < VOICE_LIST_RECHECK_SECONDS or _offline():
                raise
        return _match_voice(voice, _voice_list(refresh=True).entries)

    # -- speech -------------------------------------------------------------------------

    def synthesize(self, text: str, *, voice: str | None = None, speed: float = 1.0) -> Audio:
        import edge_tts

        check_speech_request(text, speed, _SPEED_RANGE, self.name)
        if _offline():
            raise OfflineError(
                "URVC_OFFLINE=1 is set, and the edge TTS engine speaks through Microsoft's "
                "online service; unset URVC_OFFLINE, or use a local engine (--tts coqui)."
            )
        voice = self.check_voice(voice or self.default_voice)
        timeout = max(1, round(self.options["timeout"]))
        communicate = edge_tts.Communicate(
            text,
            voice,
            rate=f"{round((speed - 1.0) * 100):+d}%",
            volume=f"{self.options['volume']:+d}%",
            pitch=f"{self.options['pitch']:+d}Hz",
            connect_timeout=timeout,
            receive_timeout=timeout,
        )
        mp3 = _run(lambda: _collect_audio(communicate), service_errors=_service())
        return _decode_mp3(mp3, voice)


async def _collect_audio(communicate: Any) -> bytes:
    chunks: list[bytes] = []
    async for chunk in communicate.stream():
        if chunk["type"] == "audio":
            chunks.append(chunk["data"])
    return b"".join(chunks)


def _decode_mp3(mp3: bytes, voice: str) -> Audio:
    import numpy as np
    import soundfile

    try:
        samples, rate = soundfile.read(io.BytesIO(mp3), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise UrvcError(
            f"The edge service sent audio for voice '{voice}' that can't be decoded ({exc}); "
            f"try again."
        ) from None
    if samples.shape[0] == 0:
        raise UrvcError(f"The edge service sent no audio for voice '{voice}'; try again.")
    return Audio(np.ascontiguousarray(samples.T[:1]), int(rate))


# -- the service ------------------------------------------------------------------------


def _offline() -> bool:
    from urvc_core.catalogue import asset_store

    return asset_store().offline


def _service() -> str:
    """Where the service is, for errors: the override, or Microsoft's host."""
    return os.environ.get(SERVICE_ENV, "").strip() or "speech.platform.bing.com"


def _service_urls() -> tuple[str, str]:
    """The websocket and voice-list URLs: Microsoft's, or those of URVC_EDGE_TTS_SERVICE."""
    from edge_tts import constants

    base = os.environ.get(SERVICE_ENV, "").strip().rstrip("/")
    if not base:
        return constants.WSS_URL, constants.VOICE_LIST
    if not base.startswith(("http://", "https://")):
        raise UrvcError(
            f"{SERVICE_ENV}={base!r} is not an address; give one such as "
            f"http://127.0.0.1:8765, or unset it to use Microsoft's service."
        )
    token = constants.TRUSTED_CLIENT_TOKEN
    socket = "ws" + base.removeprefix("http")
    return (
        f"{socket}/edge/v1?TrustedClientToken={token}",
        f"{base}/voices/list?trustedclienttoken={token}",
    )


def _run(work: Callable[[], Coroutine[Any, Any, _T]], *, service_errors: str) -> _T:
    """Run the coroutine ``work()`` of edge-tts against the chosen service, its failures
    one line.

    In a thread of its own when the caller already runs an event loop (a notebook, a
    web server), where ``asyncio.run`` can't start another.
    """
    import aiohttp
    import edge_tts.communicate
    import edge_tts.exceptions
    import edge_tts.voices

    socket_url, list_url = _service_urls()

    def run() -> _T:
        with _SERVICE_LOCK:
            saved = edge_tts.communicate.WSS_URL, edge_tts.voices.VOICE_LIST
            edge_tts.communicate.WSS_URL, edge_tts.voices.VOICE_LIST = socket_url, list_url
            try:
                return asyncio.run(work())
            finally:
                edge_tts.communicate.WSS_URL, edge_tts.voices.VOICE_LIST = saved

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True
    try:
        if not in_loop:
            return run()
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as thread:
            return thread.submit(run).result()
    except edge_tts.exceptions.NoAudioReceived:
        raise UrvcError(
            f"The edge service ({service_errors}) sent no audio; the voice may not speak "
            f"this text's language, or the service is busy: try again or another voice."
        ) from None
    except (
        aiohttp.ClientError,
        OSError,
        TimeoutError,
        edge_tts.exceptions.EdgeTTSException,
    ) as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise UrvcError(
            f"The edge TTS service ({service_errors}) failed: {detail}; check the internet "
            f"connection and try again."
        ) from None


# -- the voice list -------------------------------------------------------------------


class _VoiceList:
    def __init__(self, entries: list[dict[str, Any]], fetched: float) -> None:
        self.entries = entries
        self.fetched = fetched

    @property
    def age_seconds(self) -> float:
        return time.time() - self.fetched


def _voice_list_file() -> Path:
    from urvc_core.home import urvc_home

    return urvc_home().cache / "tts" / "edge-voices.json"


def _voice_list(*, refresh: bool = False) -> _VoiceList:
    """The voice list: kept from an earlier fetch while fresh, else fetched and kept.

    Offline, or when the fetch fails, a kept list of any age serves.
    """
    kept = _read_kept_list()
    if kept is not None and not refresh and kept.age_seconds < VOICE_LIST_MAX_AGE_SECONDS:
        return kept
    if _offline():
        if kept is not None:
            return kept
        raise OfflineError(
            "URVC_OFFLINE=1 is set and the list of edge voices was never fetched; unset "
            "URVC_OFFLINE once (`urvc tts voices --engine edge` keeps the list for a week)."
        )
    import edge_tts

    try:
        listed: Any = _run(edge_tts.list_voices, service_errors=_service())
    except UrvcError:
        if kept is not None:
            return kept
        raise
    if not isinstance(listed, list) or not all(
        isinstance(e, dict) and isinstance(e.get("ShortName"), str) for e in listed
    ):
        raise UrvcError(f"The edge service ({_service()}) sent a voice list urvc can't read.")
    entries: list[dict[str, Any]] = listed
    fetched = time.time()
    _keep_list(entries, fetched)
    return _VoiceList(entries, fetched)


def _read_kept_list() -> _VoiceList | None:
    path = _voice_list_file()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        entries, fetched = document["voices"], float(document["fetched"])
        if document.get("service") != _service() or not isinstance(entries, list):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return _VoiceList(entries, fetched)


def _keep_list(entries: list[dict[str, Any]], fetched: float) -> None:
    from urvc_core.atomic_files import write_text_atomically

    path = _voice_list_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"service": _service(), "fetched": fetched, "voices": entries}
        write_text_atomically(path, json.dumps(document))
    except OSError:
        # The list is a convenience: a read-only cache folder fetches it each time.
        pass


def _as_voice(entry: dict[str, Any]) -> TTSVoice:
    tags = entry.get("VoiceTag") or {}
    traits = [*tags.get("ContentCategories", []), *tags.get("VoicePersonalities", [])]
    return TTSVoice(
        name=str(entry["ShortName"]),
        locale=str(entry.get("Locale", "")),
        gender=str(entry.get("Gender", "")),
        description=", ".join(str(t) for t in traits),
    )


def _match_voice(voice: str, entries: list[dict[str, Any]]) -> str:
    """The short name of ``voice``, given as a short name or Edge's long Name."""
    for entry in entries:
        if voice.strip() == entry.get("Name"):
            return str(entry["ShortName"])
    return match_voice_name(voice, [str(e["ShortName"]) for e in entries], EdgeTTS.name)


@hookimpl
def register_tts_engines(register: Register) -> None:
    register(EdgeTTS)
