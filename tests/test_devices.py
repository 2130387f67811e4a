"""Where models run: --device on every command that runs one, the order in which
``auto`` is decided, several devices for a batch, and what ``urvc doctor`` shows.

This machine may have no GPU. What only a GPU can show (a CUDA device count, a GPU's
name and memory) is faked by patching ``torch.cuda``'s functions, and only that; what
a CPU build of torch shows (the one-line refusal of ``--device cuda``, "CPU build" in
the doctor) is tested for real where torch sees no GPU. The conversions on a real GPU
are in test_cuda.py.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from urvc_core.audio import save_audio
from urvc_core.backends import Audio
from urvc_core.cache import StepCache
from urvc_core.cli import cli
from urvc_core.cover import make_cover
from urvc_core.cover_options import COVER_SETTINGS, CoverOptions
from urvc_core.devices import (
    DEVICE_SETTING,
    parse_devices,
    resolve_device,
    spread_over_devices,
    use_device,
)
from urvc_core.errors import BatchError, InvalidSettingError, UrvcError
from urvc_core.home import load_config, set_config_value
from urvc_core.rvc import conversion
from urvc_core.rvc.conversion import convert_voices
from urvc_core.rvc.pitch import extract_pitch
from urvc_core.testing import centre_panned_speech_mix, speech
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.voice_models import build_voice_model_file

SPEECH = (
    Path(__file__).resolve().parent.parent / "urvc_core" / "testing" / "data" / "arctic_a0007.wav"
)
no_gpu = pytest.mark.skipif(
    torch.cuda.is_available(), reason="torch sees a CUDA GPU here; this is about a CPU build"
)


def _snr_db(expected: np.ndarray, actual: np.ndarray) -> float:
    error = np.sum((expected.astype(np.float64) - actual) ** 2)
    return float(10 * np.log10(np.sum(expected.astype(np.float64) ** 2) / max(error, 1e-30)))


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch as it is on a machine with two CUDA GPUs (nothing runs on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


# --- deciding ----------------------------------------------------------------------------


def test_auto_follows_the_asked_device_then_the_configuration_then_torch(
    two_gpus: None, urvc_home: Path
) -> None:
    assert resolve_device("auto") == "cuda"  # torch's choice: a GPU it sees
    set_config_value("device", "cpu")
    assert resolve_device("auto") == "cpu"
    with use_device("cuda:1"):
        assert resolve_device("auto") == "cuda:1"
        # An explicit backend setting wins over the command's device.
        assert resolve_device("cpu") == "cpu"
        with use_device("auto"):  # asked for: torch's choice, over config.toml's
            assert resolve_device("auto") == "cuda"
        assert resolve_device("auto") == "cuda:1"
    assert resolve_device("auto") == "cpu"
    with use_device(None):  # not asked: nothing changes
        assert resolve_device("auto") == "cpu"


def test_a_gpu_beyond_those_torch_sees_is_named_with_the_count(two_gpus: None) -> None:
    with pytest.raises(UrvcError) as raised:
        resolve_device("cuda:3")
    assert str(raised.value) == (
        "device=cuda:3 is asked for, but torch sees 2 CUDA GPUs (cuda:0, cuda:1); use one "
        "of those (`urvc doctor` lists them), or check CUDA_VISIBLE_DEVICES."
    )
    with pytest.raises(UrvcError, match=r"^device=cuda:2 is asked for"):
        parse_devices("cuda:0,cuda:2")
    assert parse_devices("cuda:0, cuda:1,cpu") == ["cuda:0", "cuda:1", "cpu"]
    assert parse_devices(["cpu", "cpu"]) == ["cpu", "cpu"]


@no_gpu
def test_asking_for_a_gpu_on_a_cpu_build_says_so_in_one_line() -> None:
    with pytest.raises(UrvcError) as raised, use_device("cuda"):
        pass
    message = str(raised.value)
    assert message.startswith(
        f"device=cuda is asked for, but this torch ({torch.__version__}) is a CPU build, "
        f"which sees no CUDA GPU; use device=cpu or auto"
    )
    assert "\n" not in message
    assert resolve_device("cpu") == "cpu"


def test_device_names_are_checked_when_given(urvc_home: Path) -> None:
    assert DEVICE_SETTING.check("CUDA:1", "test") == "cuda:1"
    for bad in ("tpu", "cuda:x", "cuda:-1", "gpu0"):
        with pytest.raises(InvalidSettingError, match="is not a device; use auto, cpu, cuda"):
            DEVICE_SETTING.check(bad, "test")
    with pytest.raises(InvalidSettingError, match="names several devices; give one here"):
        CoverOptions.from_settings({"device": "cuda:0,cuda:1"})
    # config.toml takes a GPU's number too, and refuses what is not a device.
    set_config_value("device", "cuda:1")
    assert load_config()["device"] == "cuda:1"
    with pytest.raises(UrvcError, match="'gpu' is not a device"):
        set_config_value("device", "gpu")


def test_the_device_is_one_setting_of_a_cover_and_no_conversion_setting() -> None:
    assert DEVICE_SETTING in COVER_SETTINGS  # the one definition --device comes from
    options = CoverOptions.from_settings({"device": "cpu", "pitch": 3})
    assert options.device == "cpu"
    assert dict(options.conversion) == {"pitch": 3}


def test_threads_that_extract_pitch_for_the_caller_run_on_its_device(urvc_home: Path) -> None:
    """harvest and crepe-tiny run side by side in pool threads: crepe-tiny must run on
    the caller's device, not on config.toml's (a GPU this machine lacks)."""
    samples = speech(16000).samples[0][:16000]
    methods = ["harvest", "crepe-tiny"]
    reference = extract_pitch(samples, 16000, methods=methods)
    set_config_value("device", "cuda:7")
    with use_device("cpu"):
        on_the_callers_device = extract_pitch(samples, 16000, methods=methods)
    assert len(on_the_callers_device) == 101
    assert np.count_nonzero(on_the_callers_device) > 30
    np.testing.assert_allclose(on_the_callers_device, reference, rtol=1e-5)


# --- spreading a batch -------------------------------------------------------------------


def test_items_are_spread_over_the_devices_and_come_back_in_order() -> None:
    started = threading.Barrier(2, timeout=10)  # both copies are working at once

    def load(device: str | None) -> dict[str, Any]:
        return {"device": device, "asked": None}

    def work(copy: dict[str, Any], number: int, item: int) -> tuple[int, int, str]:
        if number < 2:
            started.wait()
        if item == 13:
            raise UrvcError("thirteen fails")
        return item * item, id(copy), resolve_device("auto")

    outcomes = spread_over_devices(list(range(10, 20)), ["cpu", "cpu"], load, work)
    assert [o[0] if isinstance(o, tuple) else str(o) for o in outcomes] == [
        100,
        121,
        144,
        "thirteen fails",
        196,
        225,
        256,
        289,
        324,
        361,
    ]
    copies = {o[1] for o in outcomes if isinstance(o, tuple)}
    assert len(copies) == 2
    assert {o[2] for o in outcomes if isinstance(o, tuple)} == {"cpu"}


def test_a_bug_in_one_thread_stops_the_batch_and_is_raised() -> None:
    def work(copy: None, number: int, item: int) -> int:
        if item == 2:
            raise ZeroDivisionError("a bug")
        return item

    with pytest.raises(ZeroDivisionError, match="a bug"):
        spread_over_devices([1, 2, 3, 4, 5], ["cpu", "cpu"], lambda device: None, work)


@pytest.fixture(scope="module")
def tiny_voice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny-voice")
    model = build_voice_model_file(folder / "Tiny v1.pth", version="v1")
    embedder = build_hf_hubert_folder(folder / "hubert", hidden_size=64)
    return model, embedder


@pytest.mark.slow
def test_two_model_copies_convert_a_batch_as_one_does(
    tiny_voice: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, embedder = tiny_voice
    voice = speech(16000)
    half = voice.samples.shape[1] // 2
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    files = [
        save_audio(Audio(voice.samples[:, :half], 16000), inputs / "a first half.wav"),
        save_audio(Audio(voice.samples[:, half:], 16000), inputs / "b second half.wav"),
        inputs / "c damaged.wav",
        save_audio(Audio(voice.samples[:, half::-1].copy(), 16000), inputs / "d reversed.flac"),
    ]
    files[2].write_bytes(b"RIFF not really a wave file")
    settings: dict[str, Any] = {"embedder": str(embedder), "f0_method": "pm", "seed": 7}

    with pytest.raises(BatchError) as one_device:
        convert_voices(files, model, output_dir=tmp_path / "one", device="cpu", **settings)

    converters_used: dict[str, int] = {}
    convert = conversion.VoiceConverter._convert  # behind convert and convert_to_file

    def recording_convert(self: Any, *args: Any, **kwargs: Any) -> Any:
        converters_used[threading.current_thread().name] = id(self)
        return convert(self, *args, **kwargs)

    monkeypatch.setattr(conversion.VoiceConverter, "_convert", recording_convert)
    with pytest.raises(BatchError) as two_copies:
        convert_voices(
            files, model, output_dir=tmp_path / "two", devices=["cpu", "cpu"], **settings
        )

    # Both copies worked, each in a thread of its own.
    assert len(set(converters_used.values())) == 2, converters_used
    # The same failure either way, the rest in input order.
    for failed in (one_device.value, two_copies.value):
        assert [source for source, _ in failed.failures] == [str(files[2])]
        assert [r.source for r in failed.results] == [str(f) for i, f in enumerate(files) if i != 2]
    for single, spread in zip(one_device.value.results, two_copies.value.results, strict=True):
        assert single.device == spread.device == "cpu"
        assert spread.as_dict()["device"] == "cpu"
        assert spread.output_path is not None and spread.output_path.parent == tmp_path / "two"
        assert spread.audio.sample_rate == single.audio.sample_rate == 40000
        assert spread.audio.samples.shape == single.audio.samples.shape
        assert _snr_db(single.audio.samples, spread.audio.samples) >= 100.0


@pytest.mark.slow
def test_a_cover_runs_on_its_device_which_is_in_no_cache_key(
    tiny_voice: tuple[Path, Path], tmp_path: Path, urvc_home: Path
) -> None:
    model, embedder = tiny_voice
    song = save_audio(centre_panned_speech_mix(44100).mixture, tmp_path / "Song.wav")
    cache = StepCache(urvc_home / "cache" / "steps")
    options: dict[str, Any] = {
        "separation": "center",
        "embedder": str(embedder),
        "f0_method": "pm",
        "output": tmp_path / "covers",
    }
    # config.toml asks for a GPU this machine may lack; the cover's device wins.
    set_config_value("device", "cuda:7")
    first = make_cover(song, model, cache=cache, device="cpu", **options)
    assert "convert" in first.computed
    set_config_value("device", "cpu")
    again = make_cover(song, model, cache=cache, **options)
    assert again.computed == []
    assert len(again.cache_hits) == len(first.computed)


# --- the command line --------------------------------------------------------------------


@no_gpu
@pytest.mark.parametrize(
    "command",
    [
        ["convert", str(SPEECH), "-m", "Nobody", "-o", "{out}/x.wav"],
        ["convert", str(SPEECH), str(SPEECH), "-m", "Nobody", "-o", "{out}"],
        ["cover", str(SPEECH), "-m", "Nobody", "-o", "{out}"],
        ["separate", str(SPEECH), "-o", "{out}"],
        ["f0", "extract", str(SPEECH), "-o", "{out}/x.csv"],
        ["demo", "--folder", "{out}"],
    ],
    ids=["convert", "convert-batch", "cover", "separate", "f0-extract", "demo"],
)
def test_every_command_that_runs_a_model_refuses_a_gpu_torch_cannot_see(
    command: list[str], tmp_path: Path
) -> None:
    arguments = [part.format(out=tmp_path) for part in command] + ["--device", "cuda"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: device=cuda is asked for, but this torch")
    assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # refused before any work


@no_gpu
def test_device_cuda_is_one_line_exit_1_no_traceback(run_urvc: Any, tmp_path: Path) -> None:
    result = run_urvc(
        "convert", str(SPEECH), "-m", "Nobody", "-o", str(tmp_path / "x.wav"), "--device", "cuda"
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: device=cuda is asked for")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    bad = run_urvc("convert", str(SPEECH), "-m", "Nobody", "--device", "tpu")
    assert bad.exit_code == 1
    assert bad.stderr == (
        "Error: urvc: device='tpu' is not a device; use auto, cpu, cuda, cuda:N or mps "
        "(N counts GPUs from 0).\n"
    )


# --- urvc doctor -------------------------------------------------------------------------


@no_gpu
def test_doctor_shows_a_cpu_build_and_the_cpu(urvc_home: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["torch"]["build"] == "CPU"
    assert report["torch"]["cuda_version"] is None and report["torch"]["gpus"] == []
    assert (report["device"], report["auto_device"], report["device_setting"]) == (
        "cpu",
        "cpu",
        "auto",
    )
    text = CliRunner().invoke(cli, ["doctor"]).stdout
    assert f"torch: {torch.__version__} (CPU build), " in text
    assert "device: cpu (config.toml's device: auto; auto picks cpu)" in text
    assert "GPU cuda" not in text

    set_config_value("device", "cuda")
    broken = CliRunner().invoke(cli, ["doctor"])
    assert broken.exit_code == 1
    assert "  - config.toml: device=cuda is asked for, but this torch" in broken.stdout


def test_doctor_lists_each_gpu_with_its_memory_and_compute_capability(
    two_gpus: None, monkeypatch: pytest.MonkeyPatch, urvc_home: Path
) -> None:
    gpus = [
        SimpleNamespace(
            name="NVIDIA H100 80GB HBM3", total_memory=85_045_215_232, major=9, minor=0
        ),
        SimpleNamespace(name="NVIDIA A10", total_memory=23_836_098_560, major=8, minor=6),
    ]
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: gpus[index])
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90100)
    set_config_value("device", "cuda:1")

    text = CliRunner().invoke(cli, ["doctor"]).stdout
    assert f"torch: {torch.__version__} (CUDA 12.4 build, cuDNN 9.1.0), " in text
    assert "GPU cuda:0: NVIDIA H100 80GB HBM3, 79.2 GiB, compute capability 9.0\n" in text
    assert "GPU cuda:1: NVIDIA A10, 22.2 GiB, compute capability 8.6\n" in text
    assert "device: cuda:1 (config.toml's device: cuda:1; auto picks cuda)" in text

    report = json.loads(CliRunner().invoke(cli, ["doctor", "--json"]).stdout)
    assert report["torch"]["gpu"] == "NVIDIA H100 80GB HBM3"
    assert report["torch"]["gpus"][1] == {
        "device": "cuda:1",
        "name": "NVIDIA A10",
        "memory_gib": 22.2,
        "compute_capability": "8.6",
    }
    assert report["torch"]["cudnn_version"] == "9.1.0"
    assert (report["device"], report["auto_device"]) == ("cuda:1", "cuda")
