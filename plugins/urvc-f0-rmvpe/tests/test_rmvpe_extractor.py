"""The ``rmvpe`` backend: the f0 contract, its weights, its settings, and its place in urvc.

The weights are made by the tests (see conftest.py): the full-size network with random
weights, saved as ``rmvpe.pt`` is saved. Random weights can't track pitch, so the
parts of the conformance suite that measure accuracy are left out. Two kinds of weights stand in:

* random weights, for what does not depend on what the network knows: lengths,
  dtypes, ranges, determinism, where the file comes from;
* a *constant-pitch* network: random weights whose classifier is replaced by one
  that scores one pitch bin high (0.98) and every other bin low, whatever the input.
  Its answer is known exactly, so it checks the whole way from audio to the contract's
  grid: resampling, decoding, threshold, range, interpolation, combination.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from urvc_f0_rmvpe import RmvpePitch, salience
from urvc_f0_rmvpe.decoding import bin_cents, cents_to_hz
from urvc_f0_rmvpe.testing import save_like_rmvpe_pt
from urvc_f0_rmvpe.weights import RMVPE_WEIGHTS

from urvc_core import get_backend, list_assets
from urvc_core.backends import F0Extractor
from urvc_core.errors import AssetError, InvalidSettingError, OfflineError, UrvcError
from urvc_core.registry import backend_registry
from urvc_core.rvc.pitch import combine_f0, extract_pitch
from urvc_core.testing import F0ExtractorConformance, signals

# Slow (RMVPE on real speech): `pytest -m "not slow"` leaves these out.
pytestmark = pytest.mark.slow

#: The bin the constant-pitch network picks: 1997.38 + 20 * 159 cents above 10 Hz, 199.0 Hz.
CONSTANT_BIN = 159
CONSTANT_HZ = float(cents_to_hz(bin_cents()[CONSTANT_BIN]))


def rmvpe(**settings: Any) -> F0Extractor:
    backend = get_backend("f0", "rmvpe", **settings)
    assert isinstance(backend, F0Extractor)
    return backend


# --- the conformance suite ------------------------------------------------------------


class TestRmvpeConformance(F0ExtractorConformance):
    """The suite on the full-size network with random weights: the contract, not accuracy."""

    @pytest.fixture
    def backend(self, rmvpe_weights: Path) -> F0Extractor:
        return rmvpe()

    # The suite's accuracy tests measure what the network has learned; random weights
    # have learned nothing, so they are left out here (None removes an inherited test).
    # The constant-pitch network below checks the whole path from audio to pitch with a
    # known answer instead.
    test_harmonic_tones_are_measured_accurately = None  # type: ignore[assignment]
    test_other_sample_rates_and_hops = None  # type: ignore[assignment]
    test_silence_is_unvoiced = None  # type: ignore[assignment]
    test_real_speech = None  # type: ignore[assignment]


# --- where the weights come from ------------------------------------------------------------


def test_registered_with_its_asset(rmvpe_weights: Path) -> None:
    backend = rmvpe()
    assert isinstance(backend, RmvpePitch)
    info = backend_registry().info("f0", "rmvpe")
    assert info.plugin == "urvc-f0-rmvpe"
    declared = {status.asset.name: status for status in list_assets()}
    assert declared["rmvpe"].asset == RMVPE_WEIGHTS
    assert declared["rmvpe"].plugin == "urvc-f0-rmvpe"
    assert declared["rmvpe"].path == rmvpe_weights, "[asset_paths] rmvpe is where it is read"


def test_reads_the_file_named_in_asset_paths(rmvpe_weights: Path, urvc_home: Path) -> None:
    f0 = rmvpe().extract_f0(signals.harmonic_tone(220.0, 0.3, 16000).samples[0], 16000)
    assert f0.shape == (4800 // 160 + 1,)
    assert not (urvc_home / "assets" / "rmvpe").exists(), "nothing was downloaded"


def test_reads_a_file_placed_in_the_asset_store(
    weights_file: Path, urvc_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_path = urvc_home / "assets" / "rmvpe" / "rmvpe.pt"
    store_path.parent.mkdir(parents=True)
    os.link(weights_file, store_path)
    monkeypatch.setenv("URVC_OFFLINE", "1")  # proves the store never tries to download
    f0 = rmvpe().extract_f0(signals.harmonic_tone(220.0, 0.3, 16000).samples[0], 16000)
    assert f0.shape == (31,)
    store_path.unlink()  # a hard link would keep the session's 181 MB file alive


def test_offline_without_the_file_says_where_to_put_it(
    urvc_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_OFFLINE", "1")
    with pytest.raises(OfflineError) as caught:
        rmvpe().extract_f0(np.zeros(1600, dtype=np.float32), 16000)
    message = str(caught.value)
    assert str(urvc_home / "assets" / "rmvpe" / "rmvpe.pt") in message
    assert RMVPE_WEIGHTS.url in message


def test_a_missing_override_is_an_error_naming_it(
    use_weights: Callable[[Path], Path], tmp_path: Path
) -> None:
    missing = use_weights(tmp_path / "nowhere" / "rmvpe.pt")
    with pytest.raises(AssetError, match=str(missing)):
        rmvpe().extract_f0(np.zeros(1600, dtype=np.float32), 16000)


def test_a_corrupt_file_is_a_user_error_naming_it(
    use_weights: Callable[[Path], Path], tmp_path: Path
) -> None:
    broken = tmp_path / "rmvpe.pt"
    broken.write_bytes(b"\x00" * 1000)
    use_weights(broken)
    with pytest.raises(UrvcError, match="RMVPE weights file"):
        rmvpe().extract_f0(np.zeros(1600, dtype=np.float32), 16000)


# --- the contract with random weights ----------------------------------------------------


def test_the_same_input_gives_the_same_pitch(rmvpe_weights: Path) -> None:
    speech = signals.speech(16000).samples[0][:24000]
    first = rmvpe().extract_f0(speech, 16000)
    second = rmvpe().extract_f0(speech.copy(), 16000)
    assert np.array_equal(first, second)


def test_empty_and_very_short_inputs(rmvpe_weights: Path) -> None:
    backend = rmvpe()
    assert np.array_equal(backend.extract_f0(np.zeros(0, np.float32), 16000), np.zeros(1))
    for length, rate, hop in ((1, 16000, 160), (100, 16000, 160), (700, 44100, 512)):
        f0 = backend.extract_f0(
            signals.harmonic_tone(300.0, length / rate, rate).samples[0], rate, hop_length=hop
        )
        assert f0.shape == (length // hop + 1,)
        assert f0.dtype == np.float32 and np.all(np.isfinite(f0))


def test_stereo_input_is_refused(rmvpe_weights: Path) -> None:
    with pytest.raises(UrvcError, match="mono"):
        rmvpe().extract_f0(np.zeros((2, 1600), dtype=np.float32), 16000)


def test_threshold_decides_voicing_on_silence(rmvpe_weights: Path) -> None:
    """Random weights score silence 0.64 to 0.77 at the peak; the threshold alone decides.

    (The whole range of RMVPE's bins is allowed, as random peaks fall anywhere.)
    """
    quiet = signals.silence(0.5, 16000).samples[0]
    never = rmvpe(threshold=1.0).extract_f0(quiet, 16000, f0_min=31.0, f0_max=2100.0)
    always = rmvpe(threshold=0.0).extract_f0(quiet, 16000, f0_min=31.0, f0_max=2100.0)
    assert np.all(never == 0)
    assert np.all(always > 0)


def test_settings_are_checked() -> None:
    with pytest.raises(InvalidSettingError, match="threshold"):
        rmvpe(threshold=1.5)
    with pytest.raises(InvalidSettingError, match="precision"):
        rmvpe(precision="bf16")
    with pytest.raises(InvalidSettingError, match="device"):
        rmvpe(device="tpu")
    with pytest.raises(InvalidSettingError, match="segment_seconds"):
        rmvpe(segment_seconds=0.1)
    with pytest.raises(InvalidSettingError, match="runtime"):
        rmvpe(runtime="tensorrt")
    assert rmvpe().options == {
        "threshold": 0.03,
        "device": "auto",
        "precision": "fp32",
        "runtime": "torch",
        "segment_seconds": 30.0,
    }


def test_half_precision_is_for_gpus_only(rmvpe_weights: Path) -> None:
    with pytest.raises(UrvcError, match="GPU only"):
        rmvpe(device="cpu", precision="fp16").extract_f0(np.zeros(1600, np.float32), 16000)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_asking_for_a_gpu_torch_cannot_see_is_an_error(rmvpe_weights: Path) -> None:
    with pytest.raises(UrvcError, match=r"^rmvpe: device=cuda is asked for, .* sees no CUDA GPU"):
        rmvpe(device="cuda").extract_f0(np.zeros(1600, np.float32), 16000)
    with pytest.raises(UrvcError, match=r"^rmvpe: device=cuda:1 is asked for"):
        rmvpe(device="cuda:1").extract_f0(np.zeros(1600, np.float32), 16000)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_auto_device_follows_the_commands_device_then_the_configuration(
    rmvpe_weights: Path, urvc_home: Path
) -> None:
    """The kernel's resolve_device decides: --device (use_device) over config.toml over
    torch's choice; an explicit device setting over them all."""
    from urvc_core.devices import use_device

    tone = signals.harmonic_tone(220.0, 0.2, 16000).samples[0]
    config = urvc_home / "config.toml"  # already points at the weights: keep that
    config.write_text('device = "cuda"\n' + config.read_text())
    with pytest.raises(UrvcError, match=r"^rmvpe: device=cuda is asked for"):
        rmvpe().extract_f0(tone, 16000)
    with use_device("cpu"):
        on_the_commands_device = rmvpe().extract_f0(tone, 16000)
    on_its_own_device = rmvpe(device="cpu").extract_f0(tone, 16000)
    assert len(on_the_commands_device) == len(on_its_own_device) == 21
    np.testing.assert_allclose(on_the_commands_device, on_its_own_device, rtol=1e-5)


def test_segment_seconds_sets_the_segment_length(
    rmvpe_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """That segments join without a trace is test_rmvpe_segments.py's; this is the wiring."""
    asked: list[int | None] = []
    planner = salience.plan_segments

    def recording_planner(total: int, segment: int | None, *args: Any) -> Any:
        asked.append(segment)
        return planner(total, segment, *args)

    monkeypatch.setattr(salience, "plan_segments", recording_planner)
    tone = signals.harmonic_tone(220.0, 0.2, 16000).samples[0]
    rmvpe().extract_f0(tone, 16000)
    rmvpe(segment_seconds=3.2).extract_f0(tone, 16000)
    assert asked == [3000, 320]


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = "import sys, urvc_f0_rmvpe; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


# --- a network whose answer is known ----------------------------------------------------------


@pytest.fixture(scope="session")
def constant_pitch_file(
    tmp_path_factory: pytest.TempPathFactory, random_state: dict[str, Any]
) -> Iterator[Path]:
    state = dict(random_state)
    state["fc.1.weight"] = torch.zeros_like(state["fc.1.weight"])
    bias = torch.full_like(state["fc.1.bias"], -10.0)  # sigmoid: 4.5e-5
    bias[CONSTANT_BIN] = 4.0  # sigmoid: 0.982
    state["fc.1.bias"] = bias
    path = save_like_rmvpe_pt(state, tmp_path_factory.mktemp("constant") / "rmvpe.pt")
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def constant_pitch(use_weights: Callable[[Path], Path], constant_pitch_file: Path) -> Path:
    return use_weights(constant_pitch_file)


def test_a_known_salience_map_comes_out_as_its_pitch(constant_pitch: Path) -> None:
    speech = signals.speech(16000).samples[0][:16000]
    f0 = rmvpe().extract_f0(speech, 16000)
    assert f0.shape == (101,)
    # The neighbours of the chosen bin score alike, so the local average is its centre.
    assert np.allclose(f0, CONSTANT_HZ, rtol=1e-6)
    assert pytest.approx(198.97, abs=0.01) == CONSTANT_HZ
    assert np.all(rmvpe(threshold=0.99).extract_f0(speech, 16000) == 0)


def test_voiced_frames_outside_the_range_are_unvoiced(constant_pitch: Path) -> None:
    tone = signals.harmonic_tone(200.0, 0.5, 16000).samples[0]
    backend = rmvpe()
    assert np.all(backend.extract_f0(tone, 16000, f0_min=200.0) == 0)
    assert np.all(backend.extract_f0(tone, 16000, f0_max=198.0) == 0)
    assert np.allclose(backend.extract_f0(tone, 16000, f0_min=198.0, f0_max=200.0), CONSTANT_HZ)


@pytest.mark.parametrize(("rate", "hop"), [(44100, 441), (44100, 512), (22050, 256), (8000, 80)])
def test_other_rates_and_hops_land_on_the_contract_grid(
    constant_pitch: Path, rate: int, hop: int
) -> None:
    samples = signals.speech(rate).samples[0][: round(0.9 * rate) + 13]
    f0 = rmvpe().extract_f0(samples, rate, hop_length=hop)
    assert f0.shape == (len(samples) // hop + 1,)
    assert f0.dtype == np.float32
    assert np.allclose(f0, CONSTANT_HZ, rtol=1e-6)


def test_another_grid_is_the_16k_track_resampled(rmvpe_weights: Path) -> None:
    """At 44.1 kHz with a 10 ms hop the grid is RMVPE's own: the same frames exactly."""
    from urvc_core import Audio, resample

    speech_44k = signals.speech(44100).samples[0][:44100]
    as_16k = resample(Audio(speech_44k, 44100), 16000).samples[0]
    backend = rmvpe()
    at_16k = backend.extract_f0(as_16k, 16000)
    assert np.array_equal(backend.extract_f0(speech_44k, 44100, hop_length=441), at_16k)
    # A hop of 320 at 16 kHz is every other frame of the hop of 160.
    assert np.array_equal(backend.extract_f0(as_16k, 16000, hop_length=320), at_16k[::2])


# --- rmvpe in the engine --------------------------------------------------------------------


def test_takes_part_in_the_kernels_f0_combination(constant_pitch: Path) -> None:
    tone = signals.harmonic_tone(250.0, 1.0, 16000).samples[0]
    pm_backend = get_backend("f0", "pm")
    assert isinstance(pm_backend, F0Extractor)
    pm = pm_backend.extract_f0(tone, 16000)
    ours = rmvpe().extract_f0(tone, 16000)
    for how in ("median", "mean", "min", "max"):
        combined = extract_pitch(tone, 16000, methods=["rmvpe", "pm"], combine=how)
        assert np.allclose(combined, combine_f0([ours, pm], how), rtol=1e-6)
    median = extract_pitch(tone, 16000, methods=["rmvpe", "pm"], combine="median")
    both = pm > 0
    assert both.mean() > 0.8
    # The median of two pitches, taken in log-frequency, is their geometric mean.
    assert np.allclose(median[both], np.sqrt(CONSTANT_HZ * pm[both]), rtol=1e-5)
    assert np.allclose(median[~both], CONSTANT_HZ, rtol=1e-6)
    # Settings reach rmvpe through the engine: at threshold 1 nothing is voiced, so
    # the combination is pm's curve alone.
    silent = extract_pitch(
        tone, 16000, methods=["rmvpe", "pm"], backend_settings={"rmvpe": {"threshold": 1.0}}
    )
    assert np.allclose(silent, pm, rtol=1e-6)


def test_the_engine_picks_rmvpe_by_default(rmvpe_weights: Path) -> None:
    from urvc_core.rvc.request import resolve_f0_methods
    from urvc_core.rvc.settings import ConversionSettings

    methods, notes = resolve_f0_methods(ConversionSettings(f0_method="auto"))
    assert methods == ["rmvpe"] and notes == []
    assert "rmvpe" in backend_registry().names("f0")
