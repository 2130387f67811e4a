"""RVC voice model files and the synthesizer: reading, checking, loading, synthesizing.

Models are real files in the community layout with random weights
(:mod:`urvc_core.testing.voice_models`): tiny ones for the many combinations of version,
pitch guidance, sample rate, storage dtype and weight-norm naming, and one full-size
v2 40 kHz model for the exact parameter layout and the bf16 precision check.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from urvc_core.errors import UrvcError
from urvc_core.rvc import synthesizer
from urvc_core.rvc.synthesizer import (
    NSFHiFiGANGenerator,
    Synthesizer,
    coarse_pitch,
    fold_weight_norm,
    sine_source,
)
from urvc_core.rvc.voice_model import (
    SynthesizerConfig,
    VoiceModel,
    read_voice_model_info,
    save_voice_model,
)
from urvc_core.testing.voice_models import (
    build_voice_model_file,
    full_size_config,
    random_synthesizer,
    tiny_config,
)

HOPS = {32000: 320, 40000: 400, 48000: 480}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models are too small to share among threads, and on a busy two-core machine
    the hand-offs between threads cost more than the work: these tests run on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def speech_like_inputs(
    frames: int, embedder_dim: int, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random features and a gliding pitch with an unvoiced gap, at 100 frames a second."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(frames, embedder_dim, generator=generator)
    pitch = 140 + 60 * torch.sin(torch.arange(frames, dtype=torch.float32) / 15)
    pitch[frames // 3 : frames // 3 + 10] = 0
    return features, pitch


def snr_db(reference: torch.Tensor, test: torch.Tensor) -> float:
    error = (reference - test).pow(2).sum()
    return float(10 * torch.log10(reference.pow(2).sum() / error))


def rewrite(path: Path, change: Any) -> Path:
    """Load a voice model file as plain data, let ``change`` edit the dict, save it back."""
    contents = torch.load(path, weights_only=True)
    change(contents)
    torch.save(contents, path)
    return path


# --- every kind of file round-trips ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("version", "pitch_guidance", "sample_rate", "fp16", "weight_norm"),
    list(
        itertools.product(
            ("v1", "v2"),
            (True, False),
            (32000, 40000, 48000),
            (True, False),
            ("legacy", "parametrizations"),
        )
    ),
)
def test_saved_model_reads_loads_and_synthesizes(
    tmp_path: Path,
    version: str,
    pitch_guidance: bool,
    sample_rate: int,
    fp16: bool,
    weight_norm: str,
) -> None:
    path = build_voice_model_file(
        tmp_path / "voice.pth",
        version=version,
        sample_rate=sample_rate,
        pitch_guidance=pitch_guidance,
        fp16=fp16,
        weight_norm=weight_norm,
        speakers=3,
        metadata={"author": "urvc tests", "epoch": 120, "step": 4800},
    )
    stored = torch.load(path, weights_only=True)["weight"]
    suffix = ".weight_g" if weight_norm == "legacy" else ".parametrizations.weight.original0"
    assert f"dec.ups.0{suffix}" in stored

    info = read_voice_model_info(path)
    embedder_dim = 256 if version == "v1" else 768
    assert (info.version, info.sample_rate, info.pitch_guidance) == (
        version,
        sample_rate,
        pitch_guidance,
    )
    assert (info.speakers, info.embedder, info.embedder_dim) == (3, "contentvec", embedder_dim)
    assert (info.epochs, info.steps, info.vocoder) == (120, 4800, "HiFi-GAN")
    assert info.dtype == ("float16" if fp16 else "float32")
    assert info.config == dataclass_with_speakers(tiny_config(version, sample_rate), 3)
    assert info.metadata["author"] == "urvc tests"
    assert info.metadata["info"].startswith("urvc random-weight model")
    assert info.file_size == path.stat().st_size
    assert info.hop_length == HOPS[sample_rate]
    json.dumps(info.as_dict())

    model = VoiceModel.load(path)
    assert model.hop_length == HOPS[sample_rate]
    frames = 60
    features, pitch = speech_like_inputs(frames, embedder_dim)
    audio = model.synthesize(features, pitch if pitch_guidance else None, speaker_id=2)
    assert audio.dtype == torch.float32
    assert audio.shape == (frames * HOPS[sample_rate],)
    assert bool(torch.isfinite(audio).all())
    rms_db = 20 * math.log10(float(audio.pow(2).mean().sqrt()))
    assert -40 < rms_db < -3


def dataclass_with_speakers(config: SynthesizerConfig, speakers: int) -> SynthesizerConfig:
    import dataclasses

    return dataclasses.replace(config, spk_embed_dim=speakers)


def test_info_of_an_old_rvc_v1_file(tmp_path: Path) -> None:
    """RVC WebUI's early files: no version key, epochs only in ``info``, ``f0`` as 1."""
    path = build_voice_model_file(tmp_path / "old.pth", version="v1", fp16=True)

    def make_old(contents: dict[str, Any]) -> None:
        del contents["version"]
        contents["info"] = "300epoch"

    info = read_voice_model_info(rewrite(path, make_old))
    assert info.version == "v1"
    assert info.epochs == 300
    assert info.steps is None


def test_info_of_an_applio_file(tmp_path: Path) -> None:
    """Applio's extra keys: its sample rate as a number, its embedder, vocoder, author."""
    metadata = {
        "epoch": 50,
        "step": 1200,
        "model_name": "Singer",
        "author": "someone",
        "embedder_model": "spin",
        "vocoder": "HiFi-GAN",
        "speakers_id": 1,
        "dataset_length": None,
    }
    path = build_voice_model_file(tmp_path / "applio.pth", metadata=metadata)
    info = read_voice_model_info(rewrite(path, lambda contents: contents.update(sr=40000)))
    assert (info.embedder, info.epochs, info.steps) == ("spin", 50, 1200)
    assert info.metadata["model_name"] == "Singer"
    assert "embedder_model" not in info.metadata  # it is a field
    assert info.sample_rate == 40000


def test_config_list_round_trips() -> None:
    rvc_v2_40k = [
        1025, 32, 192, 192, 768, 2, 6, 3, 0, "1", [3, 7, 11],
        [[1, 3, 5], [1, 3, 5], [1, 3, 5]], [10, 10, 2, 2], 512, [16, 16, 4, 4], 109, 256, 40000,
    ]  # fmt: skip
    config = SynthesizerConfig.from_list(rvc_v2_40k)
    assert config == full_size_config("v2", 40000)
    assert config.to_list() == rvc_v2_40k
    assert SynthesizerConfig.from_list([*rvc_v2_40k[:-1], "40k"]).sr == 40000


# --- the exact community layout -------------------------------------------------------


@pytest.fixture(scope="module")
def full_size_v2_40k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("full") / "full-v2-40k.pth"
    return build_voice_model_file(path, size="full", fp16=True, speakers=109, seed=3)


@pytest.mark.slow
def test_full_size_file_has_the_community_layout(full_size_v2_40k: Path) -> None:
    """Names and shapes as RVC WebUI's SynthesizerTrnMs768NSFsid (infer/lib/infer_pack)
    has them, with enc_q dropped as its extract_small_model drops it. A wrong name or
    shape here means community files would not load."""
    contents = torch.load(full_size_v2_40k, weights_only=True)
    assert list(contents)[:6] == ["weight", "config", "info", "sr", "f0", "version"]
    assert (contents["sr"], contents["f0"], contents["version"]) == ("40k", 1, "v2")
    assert contents["config"] == [
        1025, 32, 192, 192, 768, 2, 6, 3, 0, "1", [3, 7, 11],
        [[1, 3, 5], [1, 3, 5], [1, 3, 5]], [10, 10, 2, 2], 512, [16, 16, 4, 4], 109, 256, 40000,
    ]  # fmt: skip
    shapes = {name: tuple(tensor.shape) for name, tensor in contents["weight"].items()}
    expected = {
        "enc_p.emb_phone.weight": (192, 768),
        "enc_p.emb_phone.bias": (192,),
        "enc_p.emb_pitch.weight": (256, 192),
        "enc_p.encoder.attn_layers.0.emb_rel_k": (1, 21, 96),
        "enc_p.encoder.attn_layers.5.emb_rel_v": (1, 21, 96),
        "enc_p.encoder.attn_layers.5.conv_o.weight": (192, 192, 1),
        "enc_p.encoder.norm_layers_1.0.gamma": (192,),
        "enc_p.encoder.norm_layers_2.5.beta": (192,),
        "enc_p.encoder.ffn_layers.0.conv_1.weight": (768, 192, 3),
        "enc_p.encoder.ffn_layers.0.conv_2.weight": (192, 768, 3),
        "enc_p.proj.weight": (384, 192, 1),
        "dec.conv_pre.weight": (512, 192, 7),
        # weight_norm(dim=0) of a ConvTranspose1d: g runs over its *input* channels.
        "dec.ups.0.weight_g": (512, 1, 1),
        "dec.ups.0.weight_v": (512, 256, 16),
        "dec.ups.3.weight_v": (64, 32, 4),
        "dec.ups.3.bias": (32,),
        "dec.noise_convs.0.weight": (256, 1, 80),
        "dec.noise_convs.1.weight": (128, 1, 8),
        "dec.noise_convs.3.weight": (32, 1, 1),
        "dec.resblocks.0.convs1.0.weight_v": (256, 256, 3),
        "dec.resblocks.2.convs1.2.weight_v": (256, 256, 11),
        "dec.resblocks.11.convs2.2.weight_g": (32, 1, 1),
        "dec.m_source.l_linear.weight": (1, 1),
        "dec.conv_post.weight": (1, 32, 7),
        "dec.cond.weight": (512, 256, 1),
        "flow.flows.0.pre.weight": (192, 96, 1),
        "flow.flows.0.enc.in_layers.0.weight_g": (384, 1, 1),
        "flow.flows.0.enc.in_layers.0.weight_v": (384, 192, 5),
        "flow.flows.0.enc.res_skip_layers.0.weight_v": (384, 192, 1),
        "flow.flows.0.enc.res_skip_layers.2.weight_v": (192, 192, 1),
        "flow.flows.0.enc.cond_layer.weight_v": (1152, 256, 1),
        "flow.flows.6.post.weight": (96, 192, 1),
        "emb_g.weight": (109, 256),
    }
    assert {name: shapes.get(name) for name in expected} == expected
    # RVC's own v2 f0 network has 457 tensors once enc_q is gone.
    assert len(shapes) == 457
    assert not [name for name in shapes if name.startswith("enc_q.")]
    assert "dec.conv_post.bias" not in shapes
    assert not [name for name in shapes if name.startswith(("flow.flows.1.", "flow.flows.7."))]
    assert all(tensor.dtype == torch.float16 for tensor in contents["weight"].values())


# --- weight norm folding --------------------------------------------------------------


@pytest.mark.parametrize("pitch_guidance", [True, False])
def test_folded_weights_reproduce_torch_weight_norm(tmp_path: Path, pitch_guidance: bool) -> None:
    """The network under torch's own weight_norm and the file loaded with the norm folded
    give the same audio: including the transposed convs, whose norm is per input channel."""
    config = tiny_config("v2", 48000)
    normed = random_synthesizer(config, pitch_guidance=pitch_guidance, seed=7)
    assert any("parametrizations" in name for name in normed.state_dict())
    frames = 80
    features, pitch = speech_like_inputs(frames, 768, seed=1)
    noise = torch.randn(config.inter_channels, frames, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = normed.infer(
            features, pitch if pitch_guidance else None, speaker_id=0, noise=noise
        )

    plain = Synthesizer(config, embedder_dim=768, pitch_guidance=pitch_guidance).eval()
    plain.load_state_dict(fold_weight_norm(normed.state_dict()), strict=True)
    with torch.inference_mode():
        folded = plain.infer(features, pitch if pitch_guidance else None, speaker_id=0, noise=noise)
    assert float((folded - expected).abs().max()) < 1e-5

    for style in ("legacy", "parametrizations"):
        path = save_voice_model(
            tmp_path / f"{style}.pth", normed.state_dict(), config, "v2", pitch_guidance,
            fp16=False, weight_norm=style,
        )  # fmt: skip
        loaded = VoiceModel.load(path).synthesize(
            features, pitch if pitch_guidance else None, noise=noise
        )
        assert float((loaded - expected).abs().max()) < 1e-5


# --- noise, seeds and chunks ----------------------------------------------------------


def test_same_noise_same_audio_and_seed_draws_the_noise(tmp_path: Path) -> None:
    model = VoiceModel.load(build_voice_model_file(tmp_path / "voice.pth"))
    features, pitch = speech_like_inputs(50, 768)
    noise = torch.randn(model.inter_channels, 50, generator=torch.Generator().manual_seed(11))
    first = model.synthesize(features, pitch, noise=noise)
    assert torch.equal(first, model.synthesize(features, pitch, noise=noise))
    assert torch.equal(first, model.synthesize(features, pitch, seed=11))
    assert not torch.equal(first, model.synthesize(features, pitch, seed=12))


@pytest.mark.parametrize("pitch_guidance", [True, False])
def test_chunked_synthesis_matches_whole_synthesis(tmp_path: Path, pitch_guidance: bool) -> None:
    """Chunks given slices of one noise tensor and the sine's phase where they start, with
    context either side that is thrown away, put together the unchunked audio.

    The model attends locally (as trained models mostly do): with the global attention of
    random weights, no chunk could see what the whole input sees.
    """
    path = build_voice_model_file(
        tmp_path / "voice.pth", pitch_guidance=pitch_guidance, local_attention=True
    )
    model = VoiceModel.load(path)
    hop = model.hop_length
    frames, chunk, context = 420, 140, 60
    features, pitch = speech_like_inputs(frames, 768, seed=4)
    pitch_hz = pitch if pitch_guidance else None
    noise = torch.randn(model.inter_channels, frames, generator=torch.Generator().manual_seed(5))
    whole = model.synthesize(features, pitch_hz, noise=noise)

    phases = model.source_phases(pitch)
    pieces = []
    for start in range(0, frames, chunk):
        first, last = max(0, start - context), min(frames, start + chunk + context)
        audio = model.synthesize(
            features[first:last],
            None if pitch_hz is None else pitch_hz[first:last],
            noise=noise[:, first:last],
            start_phase=float(phases[first]),
        )
        pieces.append(audio[(start - first) * hop : (start - first + chunk) * hop])
    chunked = torch.cat(pieces)
    assert chunked.shape == whole.shape
    assert float((chunked - whole).abs().max()) < 1e-4 * float(whole.abs().max())


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        # 7 query rows at a time: the band of relative positions crosses block edges.
        ("_ATTENTION_SCORES_PER_BLOCK", 100 * 7),
        # Residual blocks over tiles of 512 samples of 8 channels, each with its halo.
        ("TILE_ELEMENTS", 8 * 512),
    ],
)
def test_computing_in_pieces_matches_computing_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, value: int
) -> None:
    """Long inputs compute attention a block of query rows at a time, and the
    generator's residual blocks a tile of samples at a time, so memory stays flat; the
    pieces must put together exactly what one piece computes."""
    model = VoiceModel.load(build_voice_model_file(tmp_path / "voice.pth"))
    features, pitch = speech_like_inputs(100, 768)
    at_once = model.synthesize(features, pitch)
    monkeypatch.setattr(synthesizer, setting, value)
    in_pieces = model.synthesize(features, pitch)
    assert float((in_pieces - at_once).abs().max()) < 1e-5


# --- pitch ----------------------------------------------------------------------------


def dominant_frequency(audio: torch.Tensor, sample_rate: int) -> float:
    spectrum = torch.fft.rfft((audio - audio.mean()) * torch.hann_window(len(audio)))
    return float(spectrum.abs().argmax()) * sample_rate / len(audio)


@pytest.mark.parametrize("sample_rate", [32000, 48000])
def test_sine_source_is_at_the_pitch(sample_rate: int) -> None:
    hop = HOPS[sample_rate]
    for hz in (110.0, 220.0, 440.0):
        sine = sine_source(torch.full((200,), hz), sample_rate, hop)
        assert dominant_frequency(sine, sample_rate) == pytest.approx(hz, abs=1.0)
    assert float(sine_source(torch.zeros(10), sample_rate, hop).abs().max()) == 0.0


@pytest.mark.slow
def test_sine_source_phase_holds_over_an_hour_of_frames() -> None:
    """float64 where it counts: an hour at 40 kHz is 360 000 frames and 100 million
    cycles of phase, and the last frame must be as clean a sine as the first."""
    frames, hop, rate = 360_000, 400, 40000
    pitch = torch.full((frames,), 277.0)
    sine = sine_source(pitch, rate, hop)
    exact_cycles = torch.arange(frames * hop - hop, frames * hop, dtype=torch.float64) + 1
    exact = 0.1 * torch.sin(2 * math.pi * torch.remainder(exact_cycles * 277.0 / rate, 1.0))
    assert float((sine[-hop:].double() - exact).abs().max()) < 1e-5


def test_model_output_follows_the_pitch(tmp_path: Path) -> None:
    """A model whose generator passes the NSF excitation straight through: the output's
    dominant frequency is the pitch given, and doubles when the pitch doubles."""
    model = VoiceModel.load(build_voice_model_file(tmp_path / "voice.pth", sample_rate=40000))
    decoder = model.network.dec
    assert isinstance(decoder, NSFHiFiGANGenerator)
    noise_convs = list(decoder.noise_convs.children())
    with torch.no_grad():
        for parameter in itertools.chain(decoder.ups.parameters(), decoder.resblocks.parameters()):
            parameter.zero_()  # no path from the latent; resblocks become identities
        for index, noise_conv in enumerate(noise_convs):
            assert isinstance(noise_conv, torch.nn.Conv1d) and noise_conv.bias is not None
            is_last = index == len(noise_convs) - 1
            noise_conv.weight.fill_(1.0 if is_last else 0.0)
            noise_conv.bias.fill_(1.0 if is_last else 0.0)  # keeps the leaky ReLU linear
        decoder.m_source.l_linear.weight.fill_(1.0)
        decoder.m_source.l_linear.bias.zero_()
        decoder.conv_post.weight.zero_()
        decoder.conv_post.weight[:, :, 3] = 1.0 / decoder.conv_post.weight.shape[1]
    frames = 100
    features = torch.randn(frames, 768)
    for hz in (150.0, 300.0):
        audio = model.synthesize(features, torch.full((frames,), hz))
        assert dominant_frequency(audio, 40000) == pytest.approx(hz, abs=2.0)


def test_coarse_pitch_matches_rvc_bins() -> None:
    pitch = torch.tensor([0.0, 30.0, 50.0, 100.0, 440.0, 1100.0, 2000.0])
    mel = 1127 * torch.log(1 + pitch.double() / 700)
    mel_min, mel_max = 1127 * math.log(1 + 50 / 700), 1127 * math.log(1 + 1100 / 700)
    expected = torch.where(mel > 0, (mel - mel_min) * 254 / (mel_max - mel_min) + 1, mel)
    expected = torch.round(expected.clamp(1, 255)).long()
    assert coarse_pitch(pitch).tolist() == expected.tolist()
    assert coarse_pitch(pitch).tolist()[:3] == [1, 1, 1]
    assert coarse_pitch(pitch).tolist()[-2:] == [255, 255]


# --- precision ------------------------------------------------------------------------


@pytest.mark.slow
def test_bf16_is_within_30_db_of_fp32_on_a_full_size_model(full_size_v2_40k: Path) -> None:
    features, pitch = speech_like_inputs(100, 768, seed=9)
    fp32 = VoiceModel.load(full_size_v2_40k).synthesize(features, pitch, speaker_id=5)
    bf16 = VoiceModel.load(full_size_v2_40k, precision="bf16").synthesize(
        features, pitch, speaker_id=5
    )
    assert float(fp32.pow(2).mean().sqrt()) > 0.01
    assert snr_db(fp32, bf16) >= 30


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fused_convolutions_compute_what_separate_ones_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, precision: str
) -> None:
    """oneDNN's fused conv + leaky ReLU and conv + residual kernels (used on the CPU when
    this torch has them) against plain convolutions and element-wise operations."""
    model = VoiceModel.load(build_voice_model_file(tmp_path / "voice.pth"), precision=precision)
    features, pitch = speech_like_inputs(60, 768)
    fused = model.synthesize(features, pitch)
    monkeypatch.setattr(synthesizer, "FUSED_CONVOLUTIONS", False)
    separate = model.synthesize(features, pitch)
    if precision == "fp32":
        assert float((fused - separate).abs().max()) < 1e-5
    else:  # bf16 rounds the unfused intermediate results once more
        assert snr_db(separate, fused) > 35


def test_fp16_needs_a_gpu(tmp_path: Path) -> None:
    path = build_voice_model_file(tmp_path / "voice.pth")
    with pytest.raises(UrvcError, match="fp16 needs a GPU"):
        VoiceModel.load(path, precision="fp16")


# --- errors ---------------------------------------------------------------------------


def test_training_checkpoint_is_named_as_such(tmp_path: Path) -> None:
    network = random_synthesizer(tiny_config(), seed=1, weight_norm=False)
    path = tmp_path / "G_2333333.pth"
    torch.save(
        {
            "model": network.state_dict(),
            "iteration": 2333333,
            "optimizer": {"state": {}, "param_groups": []},
            "learning_rate": 0.0001,
        },
        path,
    )
    for read in (read_voice_model_info, VoiceModel.load):
        with pytest.raises(UrvcError, match="training checkpoint") as caught:
            read(path)
        message = str(caught.value)
        assert str(path) in message and "weights folder" in message and "\n" not in message


def test_a_dict_without_weights_is_not_a_voice_model(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"layer.weight": torch.zeros(2)}}, path)
    with pytest.raises(UrvcError, match=f"{path} is not an RVC voice model"):
        read_voice_model_info(path)


def test_config_of_the_wrong_length(tmp_path: Path) -> None:
    path = build_voice_model_file(tmp_path / "voice.pth")
    rewrite(path, lambda contents: contents["config"].pop(1))
    with pytest.raises(UrvcError, match="config list that has 17 entries where RVC writes 18"):
        read_voice_model_info(path)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (lambda c: c["weight"].pop("dec.conv_pre.bias"), "dec.conv_pre.bias is missing"),
        (
            lambda c: c["weight"].update({"dec.conv_pre.weight": torch.zeros(64, 16, 5)}),
            r"dec.conv_pre.weight is \(64, 16, 5\) where the config makes it \(64, 16, 7\)",
        ),
        (
            lambda c: c["weight"].update({"dec.extra.weight": torch.zeros(1)}),
            "dec.extra.weight is not part of this network",
        ),
        (lambda c: c["weight"].pop("dec.ups.0.weight_g"), "dec.ups.0 has weight norm without"),
        (
            lambda c: c["weight"].update({"emb_g.weight": torch.zeros(1, 4)}),
            "4-channel speaker embeddings where gin_channels is 8",
        ),
        (
            lambda c: c["config"].__setitem__(12, [10, 10, 2, 4]),
            "40000 Hz output from 800 samples a frame",
        ),
    ],
)
def test_weights_that_do_not_match_the_config(tmp_path: Path, change: Any, detail: str) -> None:
    path = rewrite(build_voice_model_file(tmp_path / "voice.pth"), change)
    with pytest.raises(
        UrvcError, match=f"{path} has weights that don't match its config .*{detail}"
    ):
        read_voice_model_info(path)


def test_weights_decide_what_form_fields_got_wrong(tmp_path: Path) -> None:
    """RVC's merge and change-info tools write sr, f0 and version from a form; the
    weights and the config list say what the network really is."""
    path = build_voice_model_file(tmp_path / "voice.pth", version="v2", sample_rate=48000)
    info = read_voice_model_info(
        rewrite(path, lambda contents: contents.update(f0=0, version="v1", sr="40k"))
    )
    assert (info.pitch_guidance, info.version, info.sample_rate) == (True, "v2", 48000)


@pytest.mark.parametrize("vocoder", ["RefineGAN", "MRF HiFi-GAN"])
def test_unsupported_vocoder_is_named(tmp_path: Path, vocoder: str) -> None:
    path = build_voice_model_file(tmp_path / "voice.pth", metadata={"vocoder": vocoder})
    with pytest.raises(
        UrvcError, match=f"uses the {vocoder} vocoder, which urvc does not support yet"
    ):
        read_voice_model_info(path)


def test_training_only_weights_are_dropped(tmp_path: Path) -> None:
    """Some exports keep the posterior encoder; inference has no use for it."""
    path = rewrite(
        build_voice_model_file(tmp_path / "voice.pth"),
        lambda contents: contents["weight"].update({"enc_q.pre.weight": torch.zeros(16, 1025, 1)}),
    )
    assert "enc_q.pre.weight" not in VoiceModel.load(path).network.state_dict()


def test_truncated_file(tmp_path: Path) -> None:
    path = build_voice_model_file(tmp_path / "voice.pth")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UrvcError, match="truncated"):
        VoiceModel.load(path)


def test_speaker_out_of_range_names_the_valid_ones(tmp_path: Path) -> None:
    model = VoiceModel.load(build_voice_model_file(tmp_path / "voice.pth", speakers=4))
    features, pitch = speech_like_inputs(20, 768)
    with pytest.raises(UrvcError, match=r"Speaker 4 is out of range .* from 0 to 3"):
        model.synthesize(features, pitch, speaker_id=4)


def test_pitch_is_required_by_a_pitch_model_and_must_fit(tmp_path: Path) -> None:
    model = VoiceModel.load(build_voice_model_file(tmp_path / "voice.pth"))
    features, pitch = speech_like_inputs(20, 768)
    with pytest.raises(UrvcError, match="follows a pitch curve"):
        model.synthesize(features, None)
    with pytest.raises(UrvcError, match="Pitch has 19 frames but the features have 20"):
        model.synthesize(features, pitch[:19])
    with pytest.raises(UrvcError, match=r"features shaped \(frames, 768\)"):
        model.synthesize(features[:, :256], pitch)


class _TouchFile:
    """Unpickling this runs ``os.system("touch <path>")``: the attack a .pth can carry."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.target}",))


def test_code_inside_a_voice_model_file_never_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    inside = rewrite(
        build_voice_model_file(tmp_path / "voice.pth"),
        lambda contents: contents.update(info=_TouchFile(target)),
    )
    assert b"system" in inside.read_bytes()  # the payload really is in the file
    info = read_voice_model_info(inside)
    assert "info" not in info.metadata  # the inert stand-in is not a plain value
    VoiceModel.load(inside)

    alone = tmp_path / "alone.pth"
    with alone.open("wb") as file:
        pickle.dump(_TouchFile(target), file, protocol=2)
    with pytest.raises(UrvcError):
        read_voice_model_info(alone)
    assert not target.exists()
