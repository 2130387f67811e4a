"""Voice conversion end to end: real speech and tones through real models the tests build.

The voice models are random-weight networks in the community format (no weights can be
downloaded here), so the tests assert what such a model must still do: the right
length and rate, finite output, pitch that follows the requested shift (the NSF source
carries the pitch through any weights), chunked == unchunked, settings that act.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from urvc_core.audio import load_audio, resample, save_audio
from urvc_core.backends import Audio
from urvc_core.errors import UrvcError
from urvc_core.registry import get_backend
from urvc_core.rvc import conversion
from urvc_core.rvc.conversion import VoiceConverter, convert_voice, plan_chunks
from urvc_core.rvc.finishing import mix_loudness_envelope
from urvc_core.rvc.settings import CONVERSION_SETTINGS, ConversionSettings
from urvc_core.testing import harmonic_tone, speech
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.voice_models import build_voice_model_file

# Slow (whole conversions through the engine): `pytest -m "not slow"` leaves these out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def embedder_768(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random HuBERT as wide as ContentVec's layer 12 (v2 models need 768 dims)."""
    return build_hf_hubert_folder(tmp_path_factory.mktemp("hubert") / "h768", hidden_size=768)


@pytest.fixture(scope="session")
def embedder_256(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small random HuBERT with a final projection to 256 dims (v1 models)."""
    return build_hf_hubert_folder(tmp_path_factory.mktemp("hubert") / "h64", hidden_size=64)


@pytest.fixture(scope="session")
def v2_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_voice_model_file(tmp_path_factory.mktemp("voices") / "Tiny v2.pth")


def _f0_hz(audio: Audio, method: str = "harvest") -> np.ndarray:
    mono = audio.to_mono()
    return get_backend("f0", method).extract_f0(  # type: ignore[attr-defined,no-any-return]
        mono.samples[0], mono.sample_rate, hop_length=mono.sample_rate // 100
    )


def _median_voiced(f0: np.ndarray) -> float:
    voiced = f0[f0 > 0]
    assert len(voiced) > 10, "no voiced frames to measure"
    return float(np.median(voiced))


def _cents(a: float, b: float) -> float:
    return float(1200 * np.log2(a / b))


def test_settings_table_and_dataclass_agree() -> None:
    defaults = ConversionSettings()
    for setting in CONVERSION_SETTINGS:
        assert getattr(defaults, setting.name) == setting.default, setting.name
    assert {s.name for s in CONVERSION_SETTINGS} == set(defaults.as_dict())


def test_defaults_are_ultimate_rvcs() -> None:
    defaults = ConversionSettings()
    assert (defaults.index_rate, defaults.rms_mix_rate, defaults.protect) == (0.3, 1.0, 0.33)
    assert (defaults.clean_strength, defaults.autotune_strength) == (0.7, 1.0)
    assert not (defaults.split_audio or defaults.autotune or defaults.clean)


def test_converting_speech_gives_the_models_rate_and_the_inputs_length(
    v2_model: Path, embedder_768: Path
) -> None:
    voice = speech()
    result = convert_voice(voice, v2_model, embedder=str(embedder_768), f0_method="harvest")
    assert result.audio.sample_rate == 40000
    assert result.audio.channels == 1
    assert abs(result.audio.duration - voice.duration) < 0.011  # the last partial 10 ms frame
    assert np.all(np.isfinite(result.audio.samples))
    assert float(np.abs(result.audio.samples).max()) > 1e-3
    assert set(result.timings) >= {"f0", "embedder", "synthesizer", "post"}
    assert result.f0_methods == ["harvest"]


@pytest.mark.parametrize("shift", [0, 12, -5])
def test_output_pitch_follows_the_requested_shift(
    v2_model: Path, embedder_768: Path, shift: int
) -> None:
    tone = harmonic_tone(200.0, 2.0, 16000)
    result = convert_voice(
        tone, v2_model, embedder=str(embedder_768), f0_method="harvest", pitch=shift
    )
    measured = _median_voiced(_f0_hz(result.audio))
    assert abs(_cents(measured, 200.0 * 2 ** (shift / 12))) < 50


def test_an_f0_curve_file_replaces_extraction(
    v2_model: Path, embedder_768: Path, tmp_path: Path
) -> None:
    curve = tmp_path / "melody.csv"
    times = np.arange(0, 2.0, 0.01)
    curve.write_text("time_s,f0_hz\n" + "".join(f"{t:.2f},{300.0}\n" for t in times))
    tone = harmonic_tone(200.0, 2.0, 16000)
    result = convert_voice(tone, v2_model, embedder=str(embedder_768), f0_file=str(curve))
    assert abs(_cents(_median_voiced(_f0_hz(result.audio)), 300.0)) < 50
    assert result.f0_methods == []


def test_chunked_and_unchunked_conversion_agree(
    v2_model: Path, embedder_768: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    voice = speech()
    whole = convert_voice(voice, v2_model, embedder=str(embedder_768), f0_method="harvest")
    monkeypatch.setattr(conversion, "CHUNK_SECONDS", 1.2)
    monkeypatch.setattr(conversion, "CUT_SEARCH_SECONDS", 0.3)
    chunked = convert_voice(voice, v2_model, embedder=str(embedder_768), f0_method="harvest")
    a, b = whole.audio.samples[0], chunked.audio.samples[0]
    assert a.shape == b.shape
    # The same noise and source phase reach every chunk, but the embedder and the
    # attention see less context: the two agree closely, not exactly.
    snr = 10 * np.log10(np.sum(a**2) / np.sum((a - b) ** 2))
    assert snr > 15, f"chunked vs whole SNR {snr:.1f} dB"
    # No clicks at the joins: the largest sample-to-sample step is no larger than in
    # the unchunked output.
    assert np.max(np.abs(np.diff(b))) < 1.5 * np.max(np.abs(np.diff(a))) + 1e-3


def test_chunks_are_cut_at_quiet_frames() -> None:
    energy = np.full(3000, -20.0, dtype=np.float32)
    energy[1100:1110] = -80.0  # a pause near the nominal 1000-frame boundary
    chunks = plan_chunks(energy, chunk_frames=1000, search_frames=200)
    assert chunks[0].start == 0 and chunks[-1].end == 3000
    assert 1100 <= chunks[0].end <= 1110
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))


def test_split_audio_leaves_silences_silent(v2_model: Path, embedder_768: Path) -> None:
    tone = harmonic_tone(220.0, 1.0, 16000).samples[0]
    gap = np.zeros(16000, dtype=np.float32)
    with_gap = Audio(np.concatenate([tone, gap, tone]), 16000)
    result = convert_voice(
        with_gap, v2_model, embedder=str(embedder_768), f0_method="harvest", split_audio=True
    )
    out = result.audio.samples[0]
    rate = result.audio.sample_rate
    middle = out[int(1.3 * rate) : int(1.7 * rate)]
    assert float(np.abs(middle).max()) == 0.0
    assert float(np.abs(out[: rate // 2]).max()) > 1e-3


def test_index_rate_blends_retrieved_features_into_what_the_synthesizer_gets(
    v2_model: Path, embedder_768: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urvc_core.rvc.feature_index import FeatureIndex
    from urvc_core.rvc.voice_model import VoiceModel
    from urvc_core.testing.feature_indexes import build_index_file

    folder = tmp_path / "withindex"
    folder.mkdir()
    model = folder / "voice.pth"
    model.write_bytes(v2_model.read_bytes())
    index_path = build_index_file(folder / "added_IVF8_Flat_nprobe_1_voice_v2.index", dim=768)
    seen: list[np.ndarray] = []
    original_synthesize = VoiceModel.synthesize

    def spy(self: VoiceModel, features: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(np.asarray(features).copy())
        return original_synthesize(self, features, *args, **kwargs)

    monkeypatch.setattr(VoiceModel, "synthesize", spy)
    voice = speech()
    converter = VoiceConverter(model, embedder=str(embedder_768))
    assert converter.index is not None and converter.request.voice.index_path == index_path
    converter.convert(voice, ConversionSettings(f0_method="pm", index_rate=0.0, protect=0.5))
    converter.convert(voice, ConversionSettings(f0_method="pm", index_rate=1.0, protect=0.5))
    converter.convert(voice, ConversionSettings(f0_method="pm", index_rate=0.3, protect=0.5))
    plain, retrieved, blended = seen
    # Every frame given the synthesizer at index_rate 1 is a blend of stored vectors.
    index = FeatureIndex.load(index_path)
    frames_50 = plain[::2]
    np.testing.assert_allclose(retrieved[::2], index.retrieve(frames_50), atol=1e-4)
    np.testing.assert_allclose(blended, 0.3 * retrieved + 0.7 * plain, atol=1e-4)


def test_protect_keeps_unvoiced_frames_closer_to_the_input(
    v2_model: Path, embedder_768: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urvc_core.rvc.voice_model import VoiceModel
    from urvc_core.testing.feature_indexes import build_index_file

    folder = tmp_path / "protect"
    folder.mkdir()
    model = folder / "voice.pth"
    model.write_bytes(v2_model.read_bytes())
    build_index_file(folder / "voice.index", dim=768)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    original_synthesize = VoiceModel.synthesize

    def spy(self: VoiceModel, features: Any, pitch_hz: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((np.asarray(features).copy(), np.asarray(pitch_hz).copy()))
        return original_synthesize(self, features, pitch_hz, *args, **kwargs)

    monkeypatch.setattr(VoiceModel, "synthesize", spy)
    converter = VoiceConverter(model, embedder=str(embedder_768))
    for protect in (0.5, 0.0):
        converter.convert(speech(), ConversionSettings(f0_method="pm", index_rate=1.0, protect=protect))
    (unprotected, pitch), (protected, _) = seen
    converter.convert(speech(), ConversionSettings(f0_method="pm", index_rate=0.0))
    plain = seen[-1][0]
    unvoiced, voiced = pitch == 0, pitch > 0
    assert unvoiced.sum() > 20 and voiced.sum() > 20
    # protect 0: unvoiced frames keep the input's own features; voiced ones are untouched.
    np.testing.assert_allclose(protected[unvoiced], plain[unvoiced], atol=1e-5)
    np.testing.assert_allclose(protected[voiced], unprotected[voiced], atol=1e-5)


def test_formant_shift_moves_the_spectrum_and_keeps_the_pitch(
    v2_model: Path, embedder_768: Path
) -> None:
    voice = speech()

    def centroid(audio: Audio) -> float:
        spectrum = np.abs(np.fft.rfft(audio.samples[0]))
        freqs = np.fft.rfftfreq(audio.num_samples, 1 / audio.sample_rate)
        band = freqs < 5000
        return float(np.sum(freqs[band] * spectrum[band]) / np.sum(spectrum[band]))

    plain = convert_voice(voice, v2_model, embedder=str(embedder_768), f0_method="harvest")
    raised = convert_voice(
        voice, v2_model, embedder=str(embedder_768), f0_method="harvest", formant=4
    )
    ratio = centroid(raised.audio) / centroid(plain.audio)
    assert ratio > 1.08, f"formant shift +4 moved the spectral centroid by x{ratio:.3f} only"
    pitch_change = _cents(_median_voiced(_f0_hz(raised.audio)), _median_voiced(_f0_hz(plain.audio)))
    # Praat's resynthesis keeps the pitch to within about half a semitone.
    assert abs(pitch_change) < 60


def test_auto_pitch_moves_a_low_voice_toward_the_target(v2_model: Path, embedder_768: Path) -> None:
    tone = harmonic_tone(110.0, 2.0, 16000)
    result = convert_voice(
        tone,
        v2_model,
        embedder=str(embedder_768),
        f0_method="harvest",
        auto_pitch="octaves",
        auto_pitch_target=220.0,
    )
    assert result.pitch_shift == 12
    assert abs(_cents(_median_voiced(_f0_hz(result.audio)), 220.0)) < 50


def test_rms_mix_rate_zero_imposes_the_inputs_envelope() -> None:
    # RVC measures both envelopes over 1 s windows every 0.5 s: away from the step, the
    # converted voice takes the input's level exactly.
    rate = 16000
    t = np.arange(4 * rate) / rate
    source = (np.sin(2 * np.pi * 200 * t) * np.where(t < 2, 0.5, 0.05)).astype(np.float32)
    converted = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    mixed = mix_loudness_envelope(source, rate, converted, rate, 0.0)
    loud, quiet = mixed[int(0.6 * rate) : int(1.4 * rate)], mixed[int(2.6 * rate) : int(3.4 * rate)]
    level_ratio_db = 20 * np.log10(np.sqrt(np.mean(loud**2)) / np.sqrt(np.mean(quiet**2)))
    assert abs(level_ratio_db - 20.0) < 1.0  # the input's 0.5 vs 0.05 is 20 dB
    assert mix_loudness_envelope(source, rate, converted, rate, 1.0) is converted


def test_model_without_pitch_guidance_converts(tmp_path: Path, embedder_768: Path) -> None:
    model = build_voice_model_file(tmp_path / "nof0.pth", pitch_guidance=False, sample_rate=32000)
    result = convert_voice(speech(), model, embedder=str(embedder_768), f0_method="pm")
    assert result.audio.sample_rate == 32000
    assert np.all(np.isfinite(result.audio.samples))


def test_v1_model_uses_projected_layer_9_features(tmp_path: Path, embedder_256: Path) -> None:
    model = build_voice_model_file(tmp_path / "v1.pth", version="v1", sample_rate=48000)
    result = convert_voice(
        speech(), model, embedder=str(embedder_256), f0_method="pm", output_sr=44100
    )
    assert result.audio.sample_rate == 44100


def test_bad_settings_are_clear_errors(v2_model: Path) -> None:
    with pytest.raises(UrvcError, match=r"index_rate=2\.0 is out of range; use a value from 0 to 1"):
        convert_voice(speech(), v2_model, index_rate=2)
    with pytest.raises(UrvcError, match="no conversion setting 'index'"):
        convert_voice(speech(), v2_model, index=0.5)
    with pytest.raises(UrvcError, match=r"f0_min .* must be below f0_max"):
        convert_voice(speech(), v2_model, f0_min=500, f0_max=400)


def test_unknown_f0_method_names_the_installed_ones(v2_model: Path, embedder_768: Path) -> None:
    with pytest.raises(UrvcError, match="There is no f0 extractor named 'harvset'"):
        convert_voice(speech(), v2_model, embedder=str(embedder_768), f0_method="harvset")


def test_speaker_id_out_of_range(v2_model: Path, embedder_768: Path) -> None:
    with pytest.raises(UrvcError, match="speaker id from 0 to 0"):
        convert_voice(speech(), v2_model, embedder=str(embedder_768), speaker_id=3)


def test_config_file_changes_the_defaults(
    v2_model: Path, embedder_768: Path, urvc_home: Path
) -> None:
    (urvc_home / "config.toml").write_text('[convert]\npitch = 12\nf0_method = "harvest"\n')
    result = convert_voice(harmonic_tone(200.0, 1.5, 16000), v2_model, embedder=str(embedder_768))
    assert result.settings.pitch == 12 and result.f0_methods == ["harvest"]
    assert abs(_cents(_median_voiced(_f0_hz(result.audio)), 400.0)) < 50


def test_converter_is_reused_across_inputs(v2_model: Path, embedder_768: Path) -> None:
    converter = VoiceConverter(v2_model, embedder=str(embedder_768))
    settings = ConversionSettings(f0_method="pm")
    first = converter.convert(speech(), settings)
    second = converter.convert(speech(), settings)
    np.testing.assert_array_equal(first.audio.samples, second.audio.samples)


# -- the command line ----------------------------------------------------------


def test_cli_convert_one_file(
    run_urvc: Any, v2_model: Path, embedder_768: Path, tmp_path: Path
) -> None:
    source = tmp_path / "speech.wav"
    save_audio(speech(), source)
    out = tmp_path / "out" / "converted.flac"
    result = run_urvc(
        "convert",
        str(source),
        "-m",
        str(v2_model),
        "-o",
        str(out),
        "--embedder",
        str(embedder_768),
        "--f0-method",
        "pm",
        "--pitch",
        "3",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    (record,) = json.loads(result.stdout)
    assert record["output"] == str(out)
    assert record["settings"]["pitch"] == 3.0
    converted = load_audio(out)
    assert converted.sample_rate == 40000
    assert abs(converted.duration - 4.0) < 0.05


def test_cli_convert_a_folder_in_one_call(
    run_urvc: Any, v2_model: Path, embedder_768: Path, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name in ("a", "b"):
        save_audio(harmonic_tone(220.0, 0.8, 16000), inputs / f"{name}.wav")
    out = tmp_path / "converted"
    result = run_urvc(
        "convert",
        str(inputs),
        "-m",
        str(v2_model),
        "-o",
        str(out),
        "--embedder",
        str(embedder_768),
        "--f0-method",
        "pm",
        "--format",
        "flac",
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a (Tiny v2 Ver).flac", "b (Tiny v2 Ver).flac"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--index-rate", "1.5"], "index_rate=1.5 is out of range"),
        (["--f0-method", "nope"], "There is no f0 extractor named 'nope'"),
        (["-m", "no-such-voice"], "no-such-voice"),
    ],
)
def test_cli_convert_errors_are_one_line_and_write_nothing(
    run_urvc: Any,
    v2_model: Path,
    embedder_768: Path,
    tmp_path: Path,
    arguments: list[str],
    message: str,
) -> None:
    source = tmp_path / "speech.wav"
    save_audio(speech(), source)
    out = tmp_path / "out.wav"
    base = ["convert", str(source), "-o", str(out), "--embedder", str(embedder_768)]
    if "-m" not in arguments:
        base += ["-m", str(v2_model)]
    result = run_urvc(*base, *arguments)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_f0_extract_writes_a_curve_that_convert_reads(
    run_urvc: Any, v2_model: Path, embedder_768: Path, tmp_path: Path
) -> None:
    source = tmp_path / "tone.wav"
    save_audio(harmonic_tone(250.0, 1.5, 16000), source)
    curve_file = tmp_path / "tone.csv"
    extracted = run_urvc("f0", "extract", str(source), "--f0-method", "pm,harvest", "-o", str(curve_file))
    assert extracted.exit_code == 0, extracted.stderr
    lines = curve_file.read_text().splitlines()
    assert lines[0] == "time_s,f0_hz"
    values = np.array([float(line.split(",")[1]) for line in lines[1:]])
    assert abs(_cents(float(np.median(values[values > 0])), 250.0)) < 25
    out = tmp_path / "out.wav"
    converted = run_urvc(
        "convert", str(source), "-m", str(v2_model), "-o", str(out),
        "--embedder", str(embedder_768), "--f0-file", str(curve_file), "--pitch", "12",
    )
    assert converted.exit_code == 0, converted.stderr
    assert abs(_cents(_median_voiced(_f0_hz(load_audio(out))), 500.0)) < 50


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_embedder_computes_in_the_conversions_precision(
    v2_model: Path, embedder_768: Path, precision: str
) -> None:
    import torch

    converter = VoiceConverter(
        v2_model, embedder=str(embedder_768), precision=precision, device="cpu"
    )
    expected = torch.float32 if precision == "fp32" else torch.bfloat16
    assert converter.embedder.feature_model().dtype == expected
    settings = ConversionSettings(f0_method="fcpe", embedder=str(embedder_768), seed=3)
    output = converter.convert(Audio(speech().samples[:, :32000], 16000), settings).audio
    assert output.samples.dtype == np.float32
    assert output.num_samples == 32000 // 160 * converter.model.hop_length


def test_a_conversion_written_to_its_file_is_the_one_made_in_memory(
    tmp_path: Path, v2_model: Path, embedder_768: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Several chunks, the loudness envelope mixed and a resampled output: every step
    # the file path does a block at a time.
    monkeypatch.setattr(conversion, "CHUNK_SECONDS", 1.2)
    monkeypatch.setattr(conversion, "CUT_SEARCH_SECONDS", 0.3)
    stereo = Audio(np.stack([speech().samples[0], 0.5 * speech().samples[0]]), 16000)
    source = save_audio(resample(stereo, 44100), tmp_path / "take.flac")
    settings = {"f0_method": "harvest", "rms_mix_rate": 0.5, "output_sr": 48000}
    converter = VoiceConverter(v2_model, embedder=str(embedder_768))
    in_memory = converter.convert(load_audio(source), ConversionSettings(**settings))

    result = convert_voice(
        source, v2_model, output=tmp_path / "take.wav", converter=converter, **settings
    )

    assert result.output_path == tmp_path / "take.wav"
    assert (result.sample_rate, result.duration) == (48000, in_memory.audio.duration)
    written = load_audio(tmp_path / "take.wav")
    assert written.sample_rate == 48000
    assert written.num_samples == in_memory.audio.num_samples
    # 24-bit PCM is the only difference: half a step of 2**-23.
    np.testing.assert_allclose(written.samples, in_memory.audio.samples, rtol=0, atol=2**-23)
    assert result.audio.num_samples == written.num_samples  # read back when asked for


def test_a_conversion_that_fails_midway_leaves_the_old_file_and_no_other(
    tmp_path: Path, v2_model: Path, embedder_768: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversion, "CHUNK_SECONDS", 1.2)
    monkeypatch.setattr(conversion, "CUT_SEARCH_SECONDS", 0.3)
    target = save_audio(harmonic_tone(220.0, 1.0, 16000), tmp_path / "out.wav")
    before = target.read_bytes()
    calls = []

    def stop_after_the_first_chunk(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert_voice(
            speech(),
            v2_model,
            output=target,
            embedder=str(embedder_768),
            f0_method="harvest",
            progress=stop_after_the_first_chunk,
        )
    assert len(calls) == 2
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
