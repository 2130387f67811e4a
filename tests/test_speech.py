"""Speech: the edge TTS engine against a local service, text files, and `urvc speak`.

The edge engine runs its real client (edge-tts) against
:class:`urvc_core.testing.edge_service.EdgeService` on 127.0.0.1, which speaks Edge's
protocol and answers with real speech (never the real service). The conversion runs
the hand-set voice model, which sings the melody it is given, so the pitch of what
`speak` writes can be measured against the speech it converted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from urvc_core.audio import load_audio
from urvc_core.backends import Audio, TTSEngine
from urvc_core.cache import StepCache
from urvc_core.errors import OfflineError, UrvcError
from urvc_core.registry import get_backend
from urvc_core.rvc.hand_set_voice_models import build_hand_set_voice_file
from urvc_core.speech import join_speech, list_tts_voices, say, speak, split_sentences
from urvc_core.testing import TTSEngineConformance, integrated_loudness, speech
from urvc_core.testing.edge_service import SAMPLE_RATE, EdgeService
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.signals import praat_pitch_hz
from urvc_core.text_files import read_text_file

if TYPE_CHECKING:
    from conftest import CommandResult

SECONDS_PER_CHARACTER = 0.06


@pytest.fixture(scope="module")
def service() -> Iterator[EdgeService]:
    with EdgeService(seconds_per_character=SECONDS_PER_CHARACTER) as running:
        yield running


@pytest.fixture
def edge(service: EdgeService, monkeypatch: pytest.MonkeyPatch) -> EdgeService:
    """The local service, which the edge engine of this test talks to."""
    monkeypatch.setenv("URVC_EDGE_TTS_SERVICE", service.url)
    service.requests.clear()
    service.voice_list_requests = 0
    service.fail_from_request = None
    return service


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The hand-set voice model and a small embedder: the conversion settings of speak."""
    folder = tmp_path_factory.mktemp("voice")
    return {
        "model": build_hand_set_voice_file(folder / "Hummer.pth"),
        "embedder": str(build_hf_hubert_folder(folder / "embedder", hidden_size=64)),
        "f0_method": "fcpe",
    }


def _speak(text: str | None, voice: dict[str, Any], **settings: Any) -> Any:
    conversion = {k: v for k, v in voice.items() if k != "model"}
    return speak(text, voice["model"], **conversion, **settings)


# -- the edge engine ----------------------------------------------------------------------


class TestEdgeConformance(TTSEngineConformance):
    @pytest.fixture
    def backend(self, edge: EdgeService) -> TTSEngine:
        engine = get_backend("tts", "edge")
        assert isinstance(engine, TTSEngine)
        return engine


def test_edge_sends_voice_speed_pitch_and_volume_and_speaks_at_24_khz(edge: EdgeService) -> None:
    engine = get_backend("tts", "edge", pitch=20, volume=-10)
    assert isinstance(engine, TTSEngine)
    text = "Hello there, how are you today?"
    audio = engine.synthesize(text, voice="en-gb-sonianeural", speed=1.5)

    request = edge.requests[-1]
    assert request.voice == "Microsoft Server Speech Text to Speech Voice (en-GB, SoniaNeural)"
    assert (request.rate, request.pitch, request.volume) == ("+50%", "+20Hz", "-10%")
    assert request.text == text
    assert request.output_format == "audio-24khz-48kbitrate-mono-mp3"
    assert audio.sample_rate == SAMPLE_RATE == 24000
    assert audio.channels == 1
    # The service speaks 60 ms per character at the requested rate; MP3 keeps the length.
    expected = len(text) * SECONDS_PER_CHARACTER / 1.5
    assert audio.duration == pytest.approx(expected, abs=0.03)
    # What it sent is the service's speech, decoded: real speech at its level.
    reference = np.resize(speech(SAMPLE_RATE).samples[0], audio.num_samples) * 0.9
    assert float(np.corrcoef(reference, audio.samples[0])[0, 1]) > 0.95


def test_the_voice_list_is_fetched_once_and_kept_with_locale_and_gender(
    edge: EdgeService,
) -> None:
    voices = list_tts_voices("edge")
    again = get_backend("tts", "edge").voices()  # type: ignore[attr-defined]
    assert edge.voice_list_requests == 1
    assert again == [v.name for v in voices]
    sonia = next(v for v in voices if v.name == "en-GB-SoniaNeural")
    assert (sonia.locale, sonia.gender) == ("en-GB", "Female")
    assert "Friendly" in sonia.description


def test_a_misspelt_voice_gets_a_did_you_mean_and_nothing_is_sent(edge: EdgeService) -> None:
    engine = get_backend("tts", "edge")
    assert isinstance(engine, TTSEngine)
    with pytest.raises(UrvcError) as raised:
        engine.synthesize("Hello.", voice="en-US-JenyNeural")
    message = str(raised.value)
    assert "has no voice 'en-US-JenyNeural' (did you mean 'en-US-JennyNeural'?)" in message
    assert "urvc tts voices --engine edge" in message
    assert "\n" not in message
    assert edge.requests == []


def test_a_voice_missing_from_an_old_list_fetches_the_list_again(
    edge: EdgeService, urvc_home: Path
) -> None:
    engine = get_backend("tts", "edge")
    assert isinstance(engine, TTSEngine)
    engine.voices()
    kept = urvc_home / "cache" / "tts" / "edge-voices.json"
    document = json.loads(kept.read_text())
    # Two hours ago, before the service added a voice.
    document["fetched"] = time.time() - 7200
    document["voices"] = [v for v in document["voices"] if v["ShortName"] != "ja-JP-KeitaNeural"]
    kept.write_text(json.dumps(document))

    audio = engine.synthesize("Konnichiwa.", voice="ja-JP-KeitaNeural")
    assert audio.num_samples > 0
    assert edge.voice_list_requests == 2


def test_offline_edge_is_one_clear_line_and_opens_no_connection(
    edge: EdgeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_OFFLINE", "1")
    engine = get_backend("tts", "edge")
    assert isinstance(engine, TTSEngine)
    with pytest.raises(OfflineError, match="URVC_OFFLINE=1 is set") as raised:
        engine.synthesize("Hello.")
    assert "\n" not in str(raised.value)
    with pytest.raises(OfflineError, match="never fetched"):
        engine.voices()
    assert edge.requests == [] and edge.voice_list_requests == 0


def test_a_service_that_sends_no_audio_is_an_error(edge: EdgeService) -> None:
    edge.fail_from_request = 1
    engine = get_backend("tts", "edge")
    assert isinstance(engine, TTSEngine)
    with pytest.raises(UrvcError, match="sent no audio"):
        engine.synthesize("Hello.")


def test_a_service_that_cannot_be_reached_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A port nothing listens on.
    monkeypatch.setenv("URVC_EDGE_TTS_SERVICE", "http://127.0.0.1:9")
    engine = get_backend("tts", "edge")
    assert isinstance(engine, TTSEngine)
    with pytest.raises(UrvcError, match=r"The edge TTS service \(http://127.0.0.1:9\) failed"):
        engine.voices()


# -- sentences and joins ------------------------------------------------------------------


def test_text_splits_at_sentences_not_at_abbreviations_and_pauses_at_paragraphs() -> None:
    text = "Dr. Smith met Mr. J. Doe at 5 p.m. today. Was it raining?  Yes!\n\nNew   paragraph."
    sentences = split_sentences(text, paragraph_pause=0.4)
    assert [s.text for s in sentences] == [
        "Dr. Smith met Mr. J. Doe at 5 p.m. today.",
        "Was it raining?",
        "Yes!",
        "New paragraph.",
    ]
    assert [s.pause_after for s in sentences] == [0.0, 0.0, 0.4, 0.0]


def test_a_very_long_sentence_is_split_at_commas_then_spaces() -> None:
    clause = "and then the story went on for a while"
    text = ", ".join([clause] * 30) + "."
    pieces = split_sentences(text, max_characters=100)
    assert all(len(p.text) <= 100 for p in pieces)
    assert " ".join(p.text for p in pieces) == text
    assert all(p.text.endswith(",") for p in pieces[:-1])


def test_joined_speech_has_no_click_and_keeps_every_sample_and_pause() -> None:
    words = speech(SAMPLE_RATE).samples[0]
    # Cut in the middle of words, where the waveform is far from zero.
    loud = np.flatnonzero(np.abs(words) > 0.2)
    cuts = [int(loud[len(loud) // 3]), int(loud[2 * len(loud) // 3])]
    pieces = [Audio(part, SAMPLE_RATE) for part in np.split(words, cuts)]
    assert all(abs(p.samples[0, -1]) > 0.05 for p in pieces[:-1])

    joined = join_speech(pieces, [0.0, 0.25])
    assert joined.sample_rate == SAMPLE_RATE
    assert joined.num_samples == words.size + round(0.25 * SAMPLE_RATE)
    steps = np.abs(np.diff(joined.samples[0]))
    largest_within_speech = float(np.max(np.abs(np.diff(words))))
    for cut in (cuts[0], cuts[1]):
        around = steps[cut - 5 : cut + 5]
        assert float(np.max(around)) < 0.5 * largest_within_speech
    # Naively glued, the same cut jumps: the fades are what removes the click.
    glued = np.abs(np.diff(np.concatenate([p.samples[0] for p in pieces])))
    assert float(np.max(glued[cuts[0] - 1 : cuts[0] + 1])) > float(
        np.max(steps[cuts[0] - 5 : cuts[0] + 5])
    )


# -- text files -----------------------------------------------------------------------------


def _minimal_pdf(text: str) -> bytes:
    """A one-page PDF whose text layer says ``text`` (Helvetica), xref offsets exact."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_text_files_of_every_kind_read_as_their_words(tmp_path: Path) -> None:
    import docx

    files = {
        "notes.md": "# Title\n\nSome *bold* words and a [link](http://x).\n\n```\nskip()\n```\n\n- item\n",
        "film.srt": "1\n00:00:01,000 --> 00:00:02,000\n<i>Hello</i> there.\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nSecond\nline.\n",
        "film.vtt": "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Bob>Hello</v> from vtt.\n",
        "plain.txt": "\ufeffA line with a byte order mark.\r\nAnd Windows line ends.\r\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    document = docx.Document()
    document.add_paragraph("First paragraph of Word.")
    document.add_paragraph("Second one.")
    document.save(str(tmp_path / "letter.docx"))
    (tmp_path / "page.pdf").write_bytes(_minimal_pdf("Words in a PDF."))

    assert read_text_file(tmp_path / "notes.md") == "Title\n\nSome bold words and a link.\n\nitem"
    assert read_text_file(tmp_path / "film.srt") == "Hello there.\n\nSecond line."
    assert read_text_file(tmp_path / "film.vtt") == "Hello from vtt."
    assert read_text_file(tmp_path / "plain.txt") == (
        "A line with a byte order mark.\nAnd Windows line ends.\n"
    )
    assert read_text_file(tmp_path / "letter.docx") == "First paragraph of Word.\n\nSecond one."
    assert read_text_file(tmp_path / "page.pdf") == "Words in a PDF."


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.txt", b"caf\xe9 au lait", "is not UTF-8 text (byte 3"),
        ("empty.txt", b"  \n\n ", "holds no text to speak"),
        ("binary.txt", b"\x00\x01\x02", "not a text file"),
        ("broken.docx", b"not a zip", "is not a readable Word document"),
        ("broken.pdf", b"%PDF-1.4 nothing", "is not a readable PDF"),
        ("old.doc", b"\xd0\xcf\x11\xe0", "old Word (.doc) file"),
    ],
)
def test_unreadable_text_files_are_one_line_naming_the_file(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UrvcError) as raised:
        read_text_file(path)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


# -- speak -------------------------------------------------------------------------------------


def test_spoken_length_grows_with_the_text_at_the_engine_s_rate(
    edge: EdgeService, tmp_path: Path
) -> None:
    short = say("Hello.", output=str(tmp_path / "short.wav"))
    text = "Hello. This sentence is a good deal longer.\n\nAnd a paragraph follows."
    long = say(text, output=str(tmp_path / "long.wav"), paragraph_pause=0.5)
    assert short.sample_rate == long.sample_rate == SAMPLE_RATE
    assert load_audio(long.output).sample_rate == SAMPLE_RATE
    sentences = split_sentences(text)
    expected = sum(len(s.text) for s in sentences) * SECONDS_PER_CHARACTER + 0.5
    assert long.sentences == 3
    assert long.duration == pytest.approx(expected, abs=0.05)
    assert short.duration == pytest.approx(6 * SECONDS_PER_CHARACTER, abs=0.03)


@pytest.mark.slow
def test_speak_follows_pitch_in_cents_and_reaches_the_requested_loudness(
    edge: EdgeService, voice: dict[str, Any], tmp_path: Path
) -> None:
    text = "The quick brown fox jumps over the lazy dog. It was a bright cold day in April."
    cache = StepCache(tmp_path / "cache")
    plain = _speak(text, voice, output=str(tmp_path / "plain.wav"), cache=cache)
    raised = _speak(
        text,
        voice,
        output=str(tmp_path / "raised.wav"),
        pitch=7,
        effects=["loudness-normalize:target_lufs=-26"],
        cache=cache,
    )
    # The second run speaks nothing again: only the conversion and effects are new.
    assert [(s.name, s.cached) for s in raised.steps] == [
        ("tts", True),
        ("tts", True),
        ("convert", False),
        ("effects", False),
        ("save", False),
    ]
    assert len(edge.requests) == 2
    assert plain.sample_rate == raised.sample_rate == 40000  # the voice model's rate
    assert plain.duration == pytest.approx(plain.speech_seconds, abs=0.02)

    low, high = praat_pitch_hz(load_audio(plain.output)), praat_pitch_hz(load_audio(raised.output))
    frames = min(len(low), len(high))
    both = (low[:frames] > 0) & (high[:frames] > 0)
    assert both.sum() > 50
    cents = 1200 * np.log2(high[:frames][both] / low[:frames][both])
    assert float(np.median(cents)) == pytest.approx(700, abs=40)
    assert integrated_loudness(load_audio(raised.output)) == pytest.approx(-26, abs=0.5)


@pytest.mark.slow
def test_a_changed_sentence_is_the_only_one_spoken_again(
    edge: EdgeService, voice: dict[str, Any], tmp_path: Path
) -> None:
    cache = StepCache(tmp_path / "cache")
    _speak(
        "One sentence here. Another one there.", voice, cache=cache, output=str(tmp_path / "a.wav")
    )
    again = _speak(
        "One sentence here. A changed one there.",
        voice,
        cache=cache,
        output=str(tmp_path / "b.wav"),
    )
    assert [(s.name, s.cached) for s in again.steps if s.name == "tts"] == [
        ("tts", True),
        ("tts", False),
    ]
    assert [r.text for r in edge.requests] == [
        "One sentence here.",
        "Another one there.",
        "A changed one there.",
    ]


def test_bad_speech_input_fails_before_any_request(edge: EdgeService, tmp_path: Path) -> None:
    for text, settings, message in [
        ("", {}, "There is no text to speak"),
        ("Hi.", {"tts": "no-such-engine"}, "no-such-engine"),
        ("Hi.", {"tts_voice": "en-US-GuyNeurall"}, "did you mean 'en-US-GuyNeural'"),
        ("Hi.", {"tts_settings": ("pitch=900",)}, "pitch=900 is out of range"),
        ("Hi.", {"tts_settings": ("pitch",)}, "is not NAME=VALUE"),
        ("Hi.", {"tts_speed": 9}, "tts_speed=9"),
        ("Hi.", {"pitch": 3}, "converts nothing"),
    ]:
        with pytest.raises(UrvcError, match=message):
            say(text, output=str(tmp_path / "out.wav"), **settings)
    assert edge.requests == []
    assert not (tmp_path / "out.wav").exists()


# -- the command line ---------------------------------------------------------------------------


def test_urvc_speak_writes_the_file_and_tts_voices_lists_them(
    edge: EdgeService,
    voice: dict[str, Any],
    tmp_path: Path,
    run_urvc: Callable[..., CommandResult],
) -> None:
    env = {"URVC_EDGE_TTS_SERVICE": edge.url}
    (tmp_path / "story.md").write_text("# A story\n\nOnce upon a time, there was a voice.\n")
    output = tmp_path / "story.flac"
    result = run_urvc(
        "speak",
        "--text-file",
        str(tmp_path / "story.md"),
        "-m",
        str(voice["model"]),
        "--embedder",
        voice["embedder"],
        "--f0-method",
        "fcpe",
        "--tts-voice",
        "en-GB-SoniaNeural",
        "--tts-speed",
        "1.25",
        "-o",
        str(output),
        "--json",
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["output"] == str(output)
    assert report["tts_voice"] == "en-GB-SoniaNeural"
    assert report["sentences"] == 2
    written = load_audio(output)
    assert written.sample_rate == 40000
    assert written.duration == pytest.approx(report["speech_seconds"], abs=0.02)
    assert [r.rate for r in edge.requests] == ["+25%", "+25%"]

    listed = run_urvc("tts", "voices", "--locale", "en-GB", "--json", env=env)
    assert listed.exit_code == 0, listed.stderr
    assert [v["name"] for v in json.loads(listed.stdout)] == ["en-GB-SoniaNeural"]


def test_urvc_speak_with_bad_input_is_one_line_and_writes_nothing(
    edge: EdgeService,
    voice: dict[str, Any],
    tmp_path: Path,
    run_urvc: Callable[..., CommandResult],
) -> None:
    env = {"URVC_EDGE_TTS_SERVICE": edge.url}
    output = tmp_path / "out.wav"
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    model = ["-m", str(voice["model"]), "--embedder", voice["embedder"], "-o", str(output)]
    cases = [
        (["speak", "", *model], "There is no text to speak"),
        (["speak", "Hi.", "--tts", "nope", *model], "nope"),
        (["speak", "Hi.", "--tts-voice", "en-US-GuyNeurall", *model], "did you mean"),
        (["speak", "--text-file", str(tmp_path / "latin1.txt"), *model], "is not UTF-8 text"),
        (["tts", "say", "Hi.", "-o", str(output)], "URVC_OFFLINE=1 is set"),
    ]
    for arguments, message in cases:
        offline = {"URVC_OFFLINE": "1"} if arguments[0] == "tts" else {}
        result = run_urvc(*arguments, env={**env, **offline})
        assert result.exit_code == 1, (arguments, result.stderr)
        assert message in result.stderr, (arguments, result.stderr)
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not output.exists()


@pytest.mark.slow
def test_an_engine_failing_midway_leaves_no_file(
    edge: EdgeService,
    voice: dict[str, Any],
    tmp_path: Path,
    run_urvc: Callable[..., CommandResult],
) -> None:
    edge.fail_from_request = 3
    output = tmp_path / "out.wav"
    result = run_urvc(
        "speak",
        "One. Two. Three. Four.",
        "-m",
        str(voice["model"]),
        "--embedder",
        voice["embedder"],
        "-o",
        str(output),
        env={"URVC_EDGE_TTS_SERVICE": edge.url},
    )
    assert result.exit_code == 1
    assert "sent no audio" in result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []
    assert len(edge.requests) == 3


@pytest.mark.slow
def test_the_readme_s_speech_example_runs(
    edge: EdgeService,
    voice: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import re

    from urvc_core.home import set_config_value
    from urvc_core.voices import import_voice_model

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Speech", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    # The README's voice "Singer" is the hand-set model here, with the small embedder
    # and FCPE as the conversion defaults (no ContentVec or RMVPE download).
    import_voice_model(voice["model"], name="Singer")
    set_config_value("convert.embedder", voice["embedder"])
    set_config_value("convert.f0_method", "fcpe")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    assert printed[0] == "hi.wav" and printed[1] == "1"
    assert load_audio(tmp_path / "hi.wav").duration == pytest.approx(float(printed[2]), abs=0.02)
    assert edge.requests[-1].voice.endswith("(en-US, GuyNeural)")


def test_a_run_whose_sentences_are_all_cached_asks_the_engine_nothing(
    edge: EdgeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urvc_core.builtin.edge_tts_engine import EdgeTTS

    cache = StepCache(tmp_path / "cache")
    settings: dict[str, Any] = {"tts_voice": "en-US-GuyNeural", "cache": cache}
    say("Hello there.", output=str(tmp_path / "first.wav"), **settings)
    checked: list[str] = []
    check = EdgeTTS.check_voice

    def counted(self: EdgeTTS, voice: str) -> str:
        checked.append(voice)
        return check(self, voice)

    monkeypatch.setattr(EdgeTTS, "check_voice", counted)
    again = say("Hello there.", output=str(tmp_path / "again.wav"), **settings)
    assert checked == [] and [s.cached for s in again.steps if s.name == "tts"] == [True]
    say("Hello there. Something new.", output=str(tmp_path / "new.wav"), **settings)
    # Checked before anything is spoken (and by the engine as it speaks).
    assert checked and set(checked) == {"en-US-GuyNeural"}
    assert [r.text for r in edge.requests] == ["Hello there.", "Something new."]
