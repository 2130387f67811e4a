"""Backends in a worker process (urvc_core.worker): arrays, settings and errors survive
the trip, and a worker that dies or talks nonsense is a one-line error after which the
next call works. The workers run the test's own interpreter."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from urvc_core import worker
from urvc_core.backends import Audio, Separator
from urvc_core.errors import BackendError, UrvcError
from urvc_core.testing import SeparatorConformance, speech
from urvc_core.testing.worker_backends import CenterSeparatorInWorker, EchoSeparatorInWorker


@pytest.fixture
def echo() -> EchoSeparatorInWorker:
    backend = EchoSeparatorInWorker(gain=0.5)
    yield backend
    backend.close()


def _song(seconds: float) -> Audio:
    voice = np.tile(speech(44100).samples, int(np.ceil(seconds)))[:, : int(seconds * 44100)]
    return Audio(np.concatenate([voice, 0.3 * voice]), 44100)


@pytest.mark.parametrize("seconds", [0.5, 20.0])  # through the pipe, through a file
def test_audio_crosses_to_the_worker_and_back_to_the_bit(
    echo: EchoSeparatorInWorker, seconds: float
) -> None:
    song = _song(seconds)
    assert (song.samples.nbytes >= worker.FILE_ARRAY_BYTES) == (seconds > 1)

    stems = echo.separate(song)

    assert set(stems) == {"Same", "Silent"}
    assert stems["Same"].sample_rate == 44100
    assert np.array_equal(stems["Same"].samples, song.samples * np.float32(0.5))
    assert not stems["Silent"].samples.any()
    assert stems["Same"].samples.flags.writeable  # the caller's own array, not a map
    assert echo.pid() != os.getpid()
    assert echo._worker is not None and os.listdir(echo._worker.folder) == []


def test_one_worker_serves_every_call_of_an_instance(echo: EchoSeparatorInWorker) -> None:
    first = echo.pid()
    echo.separate(_song(0.2))
    assert echo.pid() == first
    process = echo._worker.process if echo._worker else None
    echo.close()
    assert process is not None and process.poll() is not None  # it has ended


def test_a_user_error_in_the_worker_keeps_its_message() -> None:
    backend = EchoSeparatorInWorker(behaviour="refuse")
    with pytest.raises(UrvcError) as error:
        backend.separate(_song(0.2))
    assert type(error.value) is UrvcError
    assert str(error.value) == "The take is too quiet to separate; record it louder."
    backend.close()


def test_a_bug_in_the_worker_names_the_backend_and_the_worker_goes_on() -> None:
    backend = EchoSeparatorInWorker(behaviour="bug")
    pid = backend.pid()
    with pytest.raises(BackendError) as error:
        backend.separate(_song(0.2))
    message = str(error.value)
    assert "separator backend 'echo'" in message and "index 7 is out of bounds" in message
    assert "\n" not in message
    assert "ValueError" in str(error.value.__cause__)  # the worker's traceback
    assert backend.pid() == pid
    backend.close()


def test_a_worker_killed_mid_call_is_an_error_and_the_next_call_starts_a_new_one() -> None:
    backend = EchoSeparatorInWorker(behaviour="die")
    pid = backend.pid()
    with pytest.raises(
        BackendError, match=r"stopped with exit code -9 \(SIGKILL\) during separate"
    ):
        backend.separate(_song(3.0))
    assert backend.pid() != pid  # a fresh worker
    assert list(Path(backend._worker.folder).iterdir()) == [] if backend._worker else True
    backend.close()


def test_what_the_backend_prints_does_not_reach_the_wire(capfd: pytest.CaptureFixture[str]) -> None:
    backend = EchoSeparatorInWorker(behaviour="chatter", gain=2.0)
    stems = backend.separate(_song(0.2))
    assert np.array_equal(stems["Same"].samples, _song(0.2).samples * np.float32(2.0))
    backend.close()
    assert "loading the network... done" in capfd.readouterr().err


def test_garbage_from_the_worker_is_a_one_line_error_and_the_next_call_works(
    tmp_path: Path,
) -> None:
    talker = tmp_path / "python"
    talker.write_text(
        "#!/bin/sh\necho 'Welcome to a shell that is not Python'\nexec cat > /dev/null\n"
    )
    talker.chmod(talker.stat().st_mode | stat.S_IEXEC)

    class Talkative(EchoSeparatorInWorker):
        worker_python = str(talker)

    backend = Talkative()
    with pytest.raises(BackendError) as error:
        backend.separate(_song(0.2))
    assert "sent b'Welcome to a shell that is not Python\\n' instead of a reply" in str(error.value)
    Talkative.worker_python = sys.executable
    assert backend.pid() != os.getpid()
    backend.close()


def test_a_missing_environment_says_which_command_creates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_HOME", str(tmp_path))

    class Installable(EchoSeparatorInWorker):
        worker_python = None
        worker_environment = "urvc-separator-echo"

    with pytest.raises(UrvcError, match=r"run `urvc install urvc-separator-echo`\.$"):
        Installable().separate(_song(0.2))
    assert worker.worker_environment_python("urvc-separator-echo") == (
        tmp_path / "envs" / "urvc-separator-echo" / "bin" / "python"
    )


def test_settings_are_checked_before_any_worker_starts() -> None:
    with pytest.raises(UrvcError, match="gain"):
        EchoSeparatorInWorker(gain=-1.0)


class TestCenterSeparatorInAWorker(SeparatorConformance):
    """The kind's conformance suite, run against the proxy of a built-in separator."""

    @pytest.fixture
    def backend(self) -> Separator:
        backend = CenterSeparatorInWorker()
        yield backend
        backend.close()


def test_a_worker_that_cannot_start_says_to_rebuild_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_HOME", str(tmp_path))
    python = tmp_path / "envs" / "urvc-separator-echo" / "bin" / "python"
    python.parent.mkdir(parents=True)
    # What a broken environment does: its Python stops before urvc_core is imported.
    python.write_text("#!/bin/sh\necho 'No module named urvc_core' >&2\nexit 1\n")
    python.chmod(0o755)

    class Broken(EchoSeparatorInWorker):
        worker_python = None
        worker_environment = "urvc-separator-echo"

    with pytest.raises(BackendError) as error:
        Broken().separate(_song(0.2))
    assert str(error.value) == (
        "The worker of separator 'echo' (plugin tests.test_worker) stopped "
        "with exit code 1 while starting (its error is above); `urvc install "
        "urvc-separator-echo` rebuilds its environment."
    )
