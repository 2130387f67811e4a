"""Conversion on a CUDA GPU, against the CPU: the same voice within float tolerance.

Skipped, with the reason shown, where torch sees no CUDA GPU (torch's CPU build, or no
driver). The voice model and embedder are tiny random-weight networks the tests build,
so what is compared is the arithmetic: a GPU's fp32 (cuDNN may use TF32 in its
convolutions, as it does for users) and bf16 against the CPU's fp32. The pitch comes
from harvest, which runs on the CPU either way, so the comparison is of the networks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from urvc_core.audio import save_audio
from urvc_core.backends import Audio
from urvc_core.cli import cli
from urvc_core.rvc.conversion import ConversionResult, VoiceConverter, convert_voice, convert_voices
from urvc_core.testing import speech
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.voice_models import build_voice_model_file

pytestmark = [
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason=f"no CUDA GPU: torch {torch.__version__} sees none"
        + (" (this is torch's CPU build)" if torch.version.cuda is None else ""),
    ),
    pytest.mark.slow,
]

#: The least signal-to-error ratio, in dB, between a GPU's result and the reference.
MIN_SNR_DB = 35.0


def _snr_db(expected: np.ndarray, actual: np.ndarray) -> float:
    error = np.sum((expected.astype(np.float64) - actual) ** 2)
    return float(10 * np.log10(np.sum(expected.astype(np.float64) ** 2) / max(error, 1e-30)))


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny v2 voice model and a random HuBERT as wide as ContentVec (768)."""
    folder = tmp_path_factory.mktemp("cuda-voice")
    model = build_voice_model_file(folder / "Tiny v2.pth")
    embedder = build_hf_hubert_folder(folder / "hubert", hidden_size=768)
    return model, embedder


def _convert(voice: tuple[Path, Path], device: str, precision: str = "fp32") -> ConversionResult:
    model, embedder = voice
    return convert_voice(
        speech(16000),
        model,
        embedder=str(embedder),
        f0_method="harvest",
        precision=precision,
        seed=1,
        device=device,
    )


def _assert_close(reference: ConversionResult, result: ConversionResult) -> float:
    assert result.audio.sample_rate == reference.audio.sample_rate == 40000
    assert result.audio.samples.shape == reference.audio.samples.shape
    assert np.all(np.isfinite(result.audio.samples))
    snr = _snr_db(reference.audio.samples, result.audio.samples)
    assert snr >= MIN_SNR_DB, f"{snr:.1f} dB"
    return snr


def test_fp32_on_the_gpu_matches_the_cpu(voice: tuple[Path, Path]) -> None:
    on_cpu = _convert(voice, "cpu")
    on_gpu = _convert(voice, "cuda")
    assert (on_cpu.device, on_gpu.device) == ("cpu", "cuda")
    assert abs(on_gpu.audio.duration - speech().duration) < 0.011
    _assert_close(on_cpu, on_gpu)


def test_bf16_on_the_gpu_matches_fp32_on_the_gpu(voice: tuple[Path, Path]) -> None:
    _assert_close(_convert(voice, "cuda"), _convert(voice, "cuda", precision="bf16"))


def test_the_converter_loads_its_networks_on_the_gpu(voice: tuple[Path, Path]) -> None:
    model, embedder = voice
    converter = VoiceConverter(model, embedder=str(embedder), device="cuda:0")
    assert converter.device == "cuda:0"
    assert next(converter.model.network.parameters()).device == torch.device("cuda", 0)


def test_a_batch_spread_over_a_gpu_and_the_cpu_matches_the_cpu(
    voice: tuple[Path, Path], tmp_path: Path
) -> None:
    model, embedder = voice
    samples = speech(16000).samples
    quarter = samples.shape[1] // 4
    files = [
        save_audio(Audio(samples[:, i * quarter : (i + 1) * quarter], 16000), tmp_path / f"{i}.wav")
        for i in range(4)
    ]
    settings: dict[str, Any] = {"embedder": str(embedder), "f0_method": "harvest", "seed": 1}
    on_cpu = convert_voices(files, model, output_dir=tmp_path / "cpu", device="cpu", **settings)
    spread = convert_voices(
        files, model, output_dir=tmp_path / "spread", devices=["cuda", "cpu"], **settings
    )
    assert [r.source for r in spread] == [str(f) for f in files]
    assert {r.device for r in spread} == {"cuda", "cpu"}
    for reference, result in zip(on_cpu, spread, strict=True):
        _assert_close(reference, result)


@pytest.mark.skipif(
    torch.cuda.device_count() < 2,
    reason=f"needs two CUDA GPUs; torch sees {torch.cuda.device_count()}",
)
def test_a_batch_spread_over_two_gpus_uses_both(voice: tuple[Path, Path], tmp_path: Path) -> None:
    model, embedder = voice
    files = [save_audio(speech(16000), tmp_path / f"{i}.wav") for i in range(4)]
    results = convert_voices(
        files,
        model,
        output_dir=tmp_path / "out",
        devices=["cuda:0", "cuda:1"],
        embedder=str(embedder),
        f0_method="harvest",
    )
    assert {r.device for r in results} == {"cuda:0", "cuda:1"}
    for result in results[1:]:
        assert _snr_db(results[0].audio.samples, result.audio.samples) >= MIN_SNR_DB


def test_doctor_lists_the_gpus_torch_sees(urvc_home: Path) -> None:
    report = json.loads(CliRunner().invoke(cli, ["doctor", "--json"]).stdout)
    gpus = report["torch"]["gpus"]
    assert len(gpus) == torch.cuda.device_count()
    assert gpus[0]["device"] == "cuda:0" and gpus[0]["name"] == torch.cuda.get_device_name(0)
    assert gpus[0]["memory_gib"] > 1.0
    major, minor = torch.cuda.get_device_capability(0)
    assert gpus[0]["compute_capability"] == f"{major}.{minor}"
    assert report["torch"]["cuda_version"] == torch.version.cuda
    assert report["auto_device"] == "cuda"


def test_a_gpu_number_beyond_those_torch_sees_is_one_line_exit_1(tmp_path: Path) -> None:
    count = torch.cuda.device_count()
    speech_file = save_audio(speech(16000), tmp_path / "speech.wav")
    result = CliRunner().invoke(
        cli, ["convert", str(speech_file), "-m", "Nobody", "--device", f"cuda:{count}"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: device=cuda:{count} is asked for, but torch sees {count} CUDA GPU"
    )
    assert result.stderr.count("\n") == 1
