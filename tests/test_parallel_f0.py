"""Several f0 methods at once: the curves and errors of running them one after another.

``extract_pitch`` runs the extractors whose class declares ``releases_gil = True`` in
worker threads. The real-backend tests below use real speech through the built-in
backends; the test backends registered here stand in only for what those can't show on
demand (a failure, a wait for another call, the thread a call ran in).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest

from urvc_core.backends import BackendKind, F0Extractor
from urvc_core.errors import BackendError, UrvcError
from urvc_core.registry import backend_registry
from urvc_core.rvc import pitch
from urvc_core.rvc.pitch import combine_f0, extract_pitch
from urvc_core.testing import signals


@pytest.fixture
def speech() -> np.ndarray:
    return signals.speech(16000).samples[0]


def test_the_builtin_backends_that_let_other_threads_run_say_so() -> None:
    # Measured by benchmarks/f0_methods.py --study: WORLD and torch let a Python thread
    # beside them run at full speed; Praat keeps the GIL most of the time.
    releases = {}
    for name in ("pm", "harvest", "dio", "crepe", "crepe-tiny", "fcpe"):
        backend_class = backend_registry().info("f0", name).backend_class
        assert issubclass(backend_class, F0Extractor)
        releases[name] = backend_class.releases_gil
    assert releases == {
        "pm": False,
        "harvest": True,
        "dio": True,
        "crepe": True,
        "crepe-tiny": True,
        "fcpe": True,
    }


def cents_apart(first: np.ndarray, second: np.ndarray) -> float:
    both = (first > 0) & (second > 0)
    return float(np.max(np.abs(1200.0 * np.log2(first[both] / second[both]))))


def one_after_another(samples: np.ndarray, methods: list[str]) -> list[np.ndarray]:
    """Each method's curve on its own: a single method runs in the calling thread."""
    return [extract_pitch(samples, 16000, methods=[name]) for name in methods]


@pytest.mark.slow  # real backends on real speech
@pytest.mark.parametrize(
    "methods",
    [
        ["harvest", "crepe-tiny"],
        ["fcpe", "crepe-tiny", "harvest"],
        ["pm", "harvest", "dio"],
        ["dio", "fcpe", "pm", "harvest", "crepe-tiny"],
    ],
)
def test_methods_at_once_give_the_curves_of_one_after_another_in_order(
    speech: np.ndarray, methods: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = one_after_another(speech, methods)
    handed_to_combine: list[list[np.ndarray]] = []

    def recording_combine(curves: list[np.ndarray], how: str = "median") -> np.ndarray:
        handed_to_combine.append(list(curves))
        return combine_f0(curves, how)

    monkeypatch.setattr(pitch, "combine_f0", recording_combine)
    combined = extract_pitch(speech, 16000, methods=methods)

    [curves] = handed_to_combine
    assert len(curves) == len(methods)
    for name, curve, alone in zip(methods, curves, expected, strict=True):
        # Equal to the bit on a CPU; a tolerance all the same, since torch on a GPU need
        # not repeat itself to the bit from one call to the next.
        np.testing.assert_array_equal(curve > 0, alone > 0, err_msg=name)
        assert cents_apart(curve, alone) < 0.01, name
    reference = combine_f0(expected)
    np.testing.assert_array_equal(combined > 0, reference > 0)
    assert cents_apart(combined, reference) < 0.01
    assert signals.voiced_fraction(combined) > 0.3  # it is speech: the test has teeth


# --- test backends: what real ones can't do on demand ------------------------------------


class Call:
    """What one extract_f0 call saw: its thread, and when it started and ended."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.thread = threading.current_thread()
        self.started = time.monotonic()
        self.ended = self.started
        self.torch_threads: int | None = None


class _RecordingPitch(F0Extractor):
    """A flat curve at ``hz``; every call is recorded in ``calls``."""

    releases_gil: ClassVar[bool] = True
    hz: ClassVar[float]
    calls: ClassVar[list[Call]] = []

    def estimate_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int,
        f0_min: float,
        f0_max: float,
    ) -> np.ndarray:
        call = Call(self.name)
        self.calls.append(call)
        self.work(call)
        call.ended = time.monotonic()
        return np.full(self.frame_count(len(samples), hop_length), self.hz)

    def work(self, call: Call) -> None:
        pass


#: Both calls must be inside extract_f0 at once to get past it; one after another, the
#: first would wait out the timeout and fail.
_both_inside = threading.Barrier(2, timeout=60)


class MeetingPitchA(_RecordingPitch):
    name = "meeting-a"
    hz = 200.0

    def work(self, call: Call) -> None:
        _both_inside.wait()


class MeetingPitchB(MeetingPitchA):
    name = "meeting-b"
    hz = 300.0


class GilKeepingPitch(_RecordingPitch):
    name = "gil-keeping"
    releases_gil = False
    hz = 250.0


class TorchPitch(_RecordingPitch):
    """Counts as a torch backend: torch backends share one worker thread."""

    name = "torch-like"
    requires_modules = ("torch",)
    hz = 220.0

    def work(self, call: Call) -> None:
        import torch

        call.torch_threads = torch.get_num_threads()


class FailingPitch(_RecordingPitch):
    name = "failing"
    hz = 100.0

    def work(self, call: Call) -> None:
        raise ValueError("the test backend fails on purpose")


class FailingTorchPitch(FailingPitch):
    name = "failing-torch"
    requires_modules = ("torch",)


_late_may_fail = threading.Event()


class FailingLatePitch(_RecordingPitch):
    """Fails, but only after ``failing-early`` has failed."""

    name = "failing-late"
    hz = 110.0

    def work(self, call: Call) -> None:
        _late_may_fail.wait(timeout=60)
        raise UrvcError("failing-late gave up")


class FailingEarlyPitch(_RecordingPitch):
    name = "failing-early"
    hz = 120.0

    def work(self, call: Call) -> None:
        try:
            raise UrvcError("failing-early gave up")
        finally:
            _late_may_fail.set()


TEST_BACKENDS = (
    MeetingPitchA,
    MeetingPitchB,
    GilKeepingPitch,
    TorchPitch,
    FailingPitch,
    FailingTorchPitch,
    FailingLatePitch,
    FailingEarlyPitch,
)


@pytest.fixture
def calls() -> Iterator[list[Call]]:
    """The test backends registered, and the list their calls are recorded in."""
    recorded: list[Call] = []
    registry = backend_registry()
    for backend_class in TEST_BACKENDS:
        registry.add(BackendKind.F0_EXTRACTOR, backend_class, "tests.test_parallel_f0")
    _RecordingPitch.calls = recorded
    _both_inside.reset()
    _late_may_fail.clear()
    yield recorded
    _RecordingPitch.calls = []


def test_gil_releasing_backends_really_run_at_the_same_time(
    speech: np.ndarray, calls: list[Call]
) -> None:
    f0 = extract_pitch(speech, 16000, methods=["meeting-a", "gil-keeping", "meeting-b"])
    np.testing.assert_allclose(f0, 250.0, rtol=1e-6)  # median of 200, 250 and 300
    by_name = {call.name: call for call in calls}
    first, second = by_name["meeting-a"], by_name["meeting-b"]
    assert first.started < second.ended and second.started < first.ended
    assert first.thread is not second.thread
    assert threading.main_thread() not in (first.thread, second.thread)
    # A backend that keeps the GIL runs where it always did.
    assert by_name["gil-keeping"].thread is threading.main_thread()


def test_one_group_runs_in_the_calling_thread(speech: np.ndarray, calls: list[Call]) -> None:
    extract_pitch(speech, 16000, methods=["gil-keeping"])
    extract_pitch(speech, 16000, methods=["torch-like"])
    # Two torch backends share one thread anyway: nothing to run beside them.
    extract_pitch(speech, 16000, methods=["torch-like", "torch-like"])
    assert [call.thread for call in calls] == [threading.main_thread()] * 4


def test_torch_backends_take_turns_in_one_thread_with_all_their_threads(
    speech: np.ndarray, calls: list[Call]
) -> None:
    import torch

    threads_before = torch.get_num_threads()
    extract_pitch(speech, 16000, methods=["torch-like", "gil-keeping", "torch-like"])
    first, second = [call for call in calls if call.name == "torch-like"]
    assert first.thread is second.thread is not threading.main_thread()
    assert first.ended <= second.started
    assert first.torch_threads == second.torch_threads == threads_before
    assert torch.get_num_threads() == threads_before


@pytest.mark.parametrize(
    "methods",
    [
        ["harvest", "failing"],
        ["failing", "harvest"],
        ["gil-keeping", "failing-torch", "dio"],
        ["failing", "pm"],
    ],
)
def test_a_failure_surfaces_as_it_does_one_after_another(
    speech: np.ndarray, calls: list[Call], methods: list[str]
) -> None:
    failing = next(name for name in methods if name.startswith("failing"))
    with pytest.raises(BackendError) as alone:
        extract_pitch(speech, 16000, methods=[failing])
    with pytest.raises(BackendError) as at_once:
        extract_pitch(speech, 16000, methods=methods)
    assert str(at_once.value) == str(alone.value)
    assert "(plugin tests.test_parallel_f0) failed: the test backend fails on purpose" in str(
        at_once.value
    )
    assert isinstance(at_once.value.__cause__, ValueError)


def test_the_earliest_method_to_fail_is_the_one_raised(
    speech: np.ndarray, calls: list[Call]
) -> None:
    # failing-late fails after failing-early, but comes first: one after another, its
    # error is the one the user saw.
    with pytest.raises(UrvcError, match="failing-late gave up"):
        extract_pitch(speech, 16000, methods=["failing-late", "failing-early"])


def test_methods_after_a_failure_do_not_start(speech: np.ndarray, calls: list[Call]) -> None:
    with pytest.raises(BackendError):
        extract_pitch(speech, 16000, methods=["failing-torch", "gil-keeping", "torch-like"])
    # torch-like, after failing-torch in its thread, never starts. (gil-keeping starts
    # unless failing-torch has failed by then: the threads race for that.)
    names = [call.name for call in calls]
    assert "failing-torch" in names and "torch-like" not in names
