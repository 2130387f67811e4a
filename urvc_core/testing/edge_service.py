"""A local stand-in for Microsoft's Edge speech service, for tests and benchmarks.

It speaks the protocol the edge-tts client speaks — the voice list over HTTP, and
speech over a websocket: a ``speech.config`` message, an SSML request, then
``turn.start``, binary MP3 ``audio`` frames, ``audio.metadata`` and ``turn.end`` — on
127.0.0.1, so the ``edge`` engine runs its real client code without the internet::

    with EdgeService() as service:
        monkeypatch.setenv("URVC_EDGE_TTS_SERVICE", service.url)
        ...
        service.requests[-1].rate  # "+50%"

What it says is real speech (:func:`urvc_core.testing.signals.speech`), as long as the
text asks for (``seconds_per_character``, divided by the requested rate) and as loud as
the requested volume, encoded the way the service encodes it: 24 kHz mono MP3 at
48 kbit/s. Every request is kept in :attr:`EdgeService.requests`.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: A few voices as the service lists them (the fields edge-tts and urvc read).
DEFAULT_VOICES: tuple[dict[str, Any], ...] = tuple(
    {
        "Name": f"Microsoft Server Speech Text to Speech Voice ({locale}, {short})",
        "ShortName": f"{locale}-{short}",
        "Gender": gender,
        "Locale": locale,
        "SuggestedCodec": "audio-24khz-48kbitrate-mono-mp3",
        "FriendlyName": f"Microsoft {short[:-6]} Online (Natural) - {locale}",
        "Status": "GA",
        "VoiceTag": {"ContentCategories": ["General"], "VoicePersonalities": ["Friendly"]},
    }
    for locale, short, gender in (
        ("en-US", "EmmaMultilingualNeural", "Female"),
        ("en-US", "JennyNeural", "Female"),
        ("en-US", "GuyNeural", "Male"),
        ("en-GB", "SoniaNeural", "Female"),
        ("de-DE", "KatjaNeural", "Female"),
        ("ja-JP", "KeitaNeural", "Male"),
    )
)
SAMPLE_RATE = 24000
_CHUNK_BYTES = 4096


@dataclass
class SpeechRequest:
    """One SSML request, as the service read it."""

    voice: str
    rate: str
    pitch: str
    volume: str
    text: str
    output_format: str = ""


@dataclass
class EdgeService:
    """The stand-in service, running in a thread while the ``with`` block lasts."""

    voices: tuple[dict[str, Any], ...] = DEFAULT_VOICES
    seconds_per_character: float = 0.06
    #: From this speech request on (1 is the first), close the socket without audio.
    fail_from_request: int | None = None
    requests: list[SpeechRequest] = field(default_factory=list)
    voice_list_requests: int = 0
    url: str = ""
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def __enter__(self) -> EdgeService:
        started = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, args=(started,), name="edge-service", daemon=True
        )
        self._thread.start()
        if not started.wait(30):
            raise RuntimeError("The local edge service did not start within 30 s.")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    # -- the server -----------------------------------------------------------------------

    def _serve(self, started: threading.Event) -> None:
        from aiohttp import web

        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/voices/list", self._voice_list)
        app.router.add_get("/edge/v1", self._speech)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    async def _voice_list(self, request: Any) -> Any:
        from aiohttp import web

        self.voice_list_requests += 1
        return web.json_response(list(self.voices))

    async def _speech(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        socket = web.WebSocketResponse()
        await socket.prepare(request)
        output_format = ""
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            headers, body = _split_message(message.data)
            if headers.get("Path") == "speech.config":
                output_format = json.loads(body)["context"]["synthesis"]["audio"]["outputFormat"]
                continue
            if headers.get("Path") != "ssml":
                continue
            speech = _read_ssml(body, output_format)
            self.requests.append(speech)
            if self.fail_from_request is not None and len(self.requests) >= self.fail_from_request:
                await socket.close()
                break
            await self._answer(socket, headers.get("X-RequestId", uuid.uuid4().hex), speech)
        return socket

    async def _answer(self, socket: Any, request_id: str, speech: SpeechRequest) -> None:
        known = {voice["Name"] for voice in self.voices}
        await socket.send_str(_text_message(request_id, "turn.start", {"context": {}}))
        if speech.voice in known:
            mp3 = self.speak(speech)
            for start in range(0, len(mp3), _CHUNK_BYTES):
                await socket.send_bytes(
                    _audio_message(request_id, mp3[start : start + _CHUNK_BYTES])
                )
            boundary = {
                "Type": "SentenceBoundary",
                "Data": {
                    "Offset": 1_000_000,
                    "Duration": 10_000_000,
                    "text": {"Text": speech.text, "Length": len(speech.text)},
                },
            }
            await socket.send_str(
                _text_message(request_id, "audio.metadata", {"Metadata": [boundary]})
            )
        # The real service answers an unknown voice with no audio at all.
        await socket.send_str(_text_message(request_id, "turn.end", {"context": {}}))

    def speak(self, speech: SpeechRequest) -> bytes:
        """The MP3 the service sends for ``speech``: real speech as long as the text asks."""
        import soundfile

        from urvc_core.testing.signals import speech as recorded_speech

        words = recorded_speech(SAMPLE_RATE).samples[0]
        rate = 1.0 + _percent(speech.rate) / 100.0
        length = max(1, round(len(speech.text) * self.seconds_per_character / rate * SAMPLE_RATE))
        samples = np.resize(words, length) * (1.0 + _percent(speech.volume) / 100.0)
        buffer = io.BytesIO()
        soundfile.write(
            buffer,
            np.clip(samples, -1, 1).astype(np.float32),
            SAMPLE_RATE,
            format="MP3",
            bitrate_mode="CONSTANT",
        )
        return buffer.getvalue()


def _split_message(text: str) -> tuple[dict[str, str], str]:
    head, _, body = text.partition("\r\n\r\n")
    headers = dict(line.split(":", 1) for line in head.split("\r\n") if ":" in line)
    return headers, body


def _read_ssml(ssml: str, output_format: str) -> SpeechRequest:
    root = ElementTree.fromstring(ssml)
    namespace = {"s": "http://www.w3.org/2001/10/synthesis"}
    voice = root.find("s:voice", namespace)
    prosody = root.find("s:voice/s:prosody", namespace)
    if voice is None or prosody is None:
        raise ValueError(f"SSML without a voice and its prosody: {ssml!r}")
    return SpeechRequest(
        voice=voice.get("name", ""),
        rate=prosody.get("rate", "+0%"),
        pitch=prosody.get("pitch", "+0Hz"),
        volume=prosody.get("volume", "+0%"),
        text="".join(prosody.itertext()),
        output_format=output_format,
    )


def _percent(value: str) -> float:
    match = re.fullmatch(r"([+-]\d+)%", value)
    return float(match.group(1)) if match else 0.0


def _text_message(request_id: str, path: str, body: dict[str, Any]) -> str:
    return (
        f"X-RequestId:{request_id}\r\nContent-Type:application/json; charset=utf-8\r\n"
        f"Path:{path}\r\n\r\n{json.dumps(body)}"
    )


def _audio_message(request_id: str, data: bytes) -> bytes:
    # A binary frame: the headers' length in two bytes, the headers, the audio.
    headers = f"X-RequestId:{request_id}\r\nContent-Type:audio/mpeg\r\nPath:audio\r\n".encode()
    return len(headers).to_bytes(2, "big") + headers + data
