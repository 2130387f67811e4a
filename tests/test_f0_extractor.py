"""F0Extractor.extract_f0: the contract a backend gets for free by writing estimate_f0."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from urvc_core.backends import F0Extractor
from urvc_core.errors import BackendError, UrvcError
from urvc_core.testing import signals


class ConstantPitch(F0Extractor):
    """A minimal backend: 200 Hz on a frame grid of its own length, nothing else."""

    name = "constant-pitch"
    plugin_name = "test-plugin"
    frames_returned: ClassVar[int | None] = None  # None: exactly the frame count
    calls: ClassVar[list[np.ndarray]] = []

    def estimate_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int,
        f0_min: float,
        f0_max: float,
    ) -> np.ndarray:
        type(self).calls.append(samples)
        frames = self.frames_returned
        if frames is None:
            frames = self.frame_count(len(samples), hop_length)
        return np.full(frames, 200.0)


@pytest.fixture
def backend() -> ConstantPitch:
    ConstantPitch.calls = []
    ConstantPitch.frames_returned = None
    return ConstantPitch()


def test_it_returns_float32_on_the_contract_grid(backend: ConstantPitch) -> None:
    f0 = backend.extract_f0(np.zeros(16037, dtype=np.float32), 16000)

    assert f0.dtype == np.float32
    assert f0.shape == (16037 // 160 + 1,)
    assert np.all(f0 == 200.0)


def test_it_hands_the_backend_contiguous_float32_mono(backend: ConstantPitch) -> None:
    # float64, shaped (1, n), and a strided view: all normalised before the backend sees them.
    samples = np.zeros((1, 6400), dtype=np.float64)[:, ::2]

    backend.extract_f0(samples, 8000, hop_length=80)

    (handed,) = ConstantPitch.calls
    assert handed.dtype == np.float32 and handed.ndim == 1 and handed.flags.c_contiguous
    assert len(handed) == 3200


@pytest.mark.parametrize(
    ("samples", "arguments", "message"),
    [
        (np.zeros((2, 1600), np.float32), {}, "mono"),
        (np.zeros((1600, 1, 1), np.float32), {}, "mono"),
        (np.zeros(1600, np.int16), {}, "float"),
        (np.zeros(1600, np.float32), {"sample_rate": 0}, "[Ss]ample rate"),
        (np.zeros(1600, np.float32), {"hop_length": 0}, "[Hh]op"),
        (np.zeros(1600, np.float32), {"f0_min": 500.0, "f0_max": 200.0}, "f0_min"),
        (np.zeros(1600, np.float32), {"f0_min": 0.0}, "f0_min"),
    ],
)
def test_bad_arguments_are_refused_before_the_backend_runs(
    backend: ConstantPitch, samples: np.ndarray, arguments: dict[str, float], message: str
) -> None:
    sample_rate = int(arguments.pop("sample_rate", 16000))

    with pytest.raises(UrvcError, match=message) as raised:
        backend.extract_f0(samples, sample_rate, **arguments)  # type: ignore[arg-type]

    assert not isinstance(raised.value, BackendError)
    assert ConstantPitch.calls == []


def test_empty_input_is_one_unvoiced_frame_without_asking_the_backend(
    backend: ConstantPitch,
) -> None:
    f0 = backend.extract_f0(np.zeros(0, dtype=np.float32), 16000)

    assert f0.dtype == np.float32
    assert np.array_equal(f0, np.zeros(1))
    assert ConstantPitch.calls == []


def test_a_short_estimate_is_padded_with_unvoiced_frames(backend: ConstantPitch) -> None:
    ConstantPitch.frames_returned = 5

    f0 = backend.extract_f0(np.zeros(1600, dtype=np.float32), 16000)

    assert f0.shape == (11,)
    assert np.array_equal(f0, [200.0] * 5 + [0.0] * 6)


def test_an_estimate_of_no_frames_is_all_unvoiced(backend: ConstantPitch) -> None:
    # How a backend says that input is too short for it to analyse.
    ConstantPitch.frames_returned = 0

    f0 = backend.extract_f0(np.zeros(100, dtype=np.float32), 16000)

    assert np.array_equal(f0, np.zeros(1))


def test_a_long_estimate_is_trimmed(backend: ConstantPitch) -> None:
    ConstantPitch.frames_returned = 40

    f0 = backend.extract_f0(np.zeros(1600, dtype=np.float32), 16000)

    assert f0.shape == (11,)


class RawTracker(F0Extractor):
    """Returns whatever a tracker might: NaN, negatives, values just past and far past the range."""

    name = "raw-tracker"

    def estimate_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int,
        f0_min: float,
        f0_max: float,
    ) -> np.ndarray:
        return np.array([np.nan, -100.0, np.inf, 99.5, 150.0, 301.0, 400.0, 49.0, 0.0])


def test_voiced_values_are_kept_within_the_range() -> None:
    f0 = RawTracker().extract_f0(np.zeros(1280, np.float32), 16000, f0_min=100.0, f0_max=300.0)

    # A hair outside the range (under a quarter semitone) is clamped onto it; further out,
    # non-finite or negative is unvoiced.
    assert f0.tolist() == [0.0, 0.0, 0.0, 100.0, 150.0, 300.0, 0.0, 0.0, 0.0]


class CrashingTracker(F0Extractor):
    name = "crashing-tracker"
    plugin_name = "urvc-crashing"

    def estimate_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int,
        f0_min: float,
        f0_max: float,
    ) -> np.ndarray:
        raise ValueError("the model file is truncated")


def test_a_crash_in_estimate_f0_names_the_plugin_and_the_backend() -> None:
    with pytest.raises(BackendError) as raised:
        CrashingTracker().extract_f0(signals.harmonic_tone(220.0, 0.1).samples[0], 16000)

    message = str(raised.value)
    assert "crashing-tracker" in message and "urvc-crashing" in message
    assert "the model file is truncated" in message
