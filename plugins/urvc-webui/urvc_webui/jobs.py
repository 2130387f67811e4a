"""Cover jobs in worker processes, so that Cancel really stops one.

A job is one :func:`urvc_core.cover.make_cover` call in a process of its own (the
``spawn`` start method: no copy of the server's threads), leading a process group of its
own, so that whatever it starts ends with it. It reports over a one-way pipe: ``step``
messages while it works, then one ``done`` (the cover's facts) or ``error`` (a
one-line message). A pipe per job, not a shared queue: a worker killed mid-write can
damage only its own pipe.

Cancel sends SIGTERM to the group. The worker turns it into
:class:`urvc_core.cli.Terminated` (as ``urvc cover`` does), which unwinds the step in
progress: its staging folder and lock file go, so the step cache holds only finished
entries. A worker still alive :data:`GRACE_SECONDS` later is killed; a cache step it
leaves half-made stays in a staging folder that no lookup reads and the next run
removes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

__all__ = [
    "GPU_CONCURRENCY_VARIABLE",
    "GRACE_SECONDS",
    "CoverJob",
    "CoverRequest",
    "JobMessage",
    "job_slots",
]

#: How long a cancelled worker gets to unwind before it is killed.
GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class CoverRequest:
    """What :func:`urvc_core.cover.make_cover` is called with."""

    song: str
    voice: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobMessage:
    """What a worker said: ``step`` (``text`` names it), ``done`` (``facts`` of the
    cover), ``error`` (``text``: one line for the user) or ``cancelled``."""

    kind: str
    text: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


class CoverJob:
    """One cover in a worker process: :meth:`start`, read :meth:`messages`, :meth:`cancel`."""

    def __init__(self, request: CoverRequest) -> None:
        context = multiprocessing.get_context("spawn")
        self._receiver, sender = context.Pipe(duplex=False)
        self._sender: Connection | None = sender
        self.process = context.Process(
            target=_cover_in_worker, args=(request, sender), name="urvc-webui-cover"
        )
        self.cancelled = False

    def start(self) -> None:
        self.process.start()
        # Only the worker writes now; closing ours lets a dead worker read as end of file.
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def messages(self, timeout: float) -> list[JobMessage]:
        """What the worker said within ``timeout`` seconds; ``[]`` if nothing.

        A worker that ended without a last word (killed) reads as ``cancelled`` if it was
        cancelled, else as an ``error``.
        """
        received: list[JobMessage] = []
        try:
            if not self._receiver.poll(timeout):
                return received
            while self._receiver.poll(0):
                received.append(self._receiver.recv())
        except (EOFError, OSError):
            if any(message.kind != "step" for message in received):
                return received  # its last word came before the end of the pipe
            self.process.join(GRACE_SECONDS)
            if self.cancelled:
                received.append(JobMessage("cancelled", "The job was cancelled."))
            else:
                code = self.process.exitcode
                received.append(
                    JobMessage(
                        "error",
                        f"The cover's worker process ended unexpectedly (exit code {code}).",
                    )
                )
        return received

    def cancel(self) -> bool:
        """End the worker and everything it started; True if it was still running."""
        self.cancelled = True
        pid = self.process.pid
        if pid is None or not self.process.is_alive():
            self.process.join(0)
            return False
        _signal_group(pid, signal.SIGTERM)
        self.process.join(GRACE_SECONDS)
        if self.process.is_alive():
            _signal_group(pid, signal.SIGKILL)
            self.process.join(GRACE_SECONDS)
        else:
            # Helpers the worker started and left behind go with it.
            _signal_group(pid, signal.SIGKILL)
        return True

    @property
    def running(self) -> bool:
        return self.process.is_alive()


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


#: How many covers may run at once on a GPU, as the ``URVC_GPU_CONCURRENCY`` environment
#: variable sets it (Ultimate RVC's ``GPU_CONCURRENCY_LIMIT``); on the CPU there is no limit.
GPU_CONCURRENCY_VARIABLE = "URVC_GPU_CONCURRENCY"


def job_slots() -> int | None:
    """How many covers run at once: no limit where urvc runs on the CPU (each job is a
    process of its own, and the operating system shares the cores), and on a GPU
    ``URVC_GPU_CONCURRENCY`` of them (default 1: a second cover would compete for the
    same GPU memory)."""
    from urvc_core.devices import resolve_device
    from urvc_core.errors import UrvcError
    from urvc_core.home import load_config

    if resolve_device(str(load_config()["device"])) in ("cpu", "mps"):
        return None
    configured = os.environ.get(GPU_CONCURRENCY_VARIABLE, "1")
    try:
        slots = int(configured)
    except ValueError:
        slots = 0
    if slots < 1:
        raise UrvcError(
            f"{GPU_CONCURRENCY_VARIABLE} is {configured!r}; set it to how many covers may "
            f"run on the GPU at once (1 or more)."
        )
    return slots


# -- in the worker ---------------------------------------------------------------------


class _PipeProgress:
    """A :class:`urvc_core.steps.StepProgress` that tells the server each step."""

    def __init__(self, sender: Connection) -> None:
        self.sender = sender
        self.steps = 0
        self.done = 0

    def plan(self, steps: int) -> None:
        self.steps = steps

    def step(self, name: str) -> None:
        counted = f" ({self.done + 1}/{self.steps})" if self.steps else ""
        self.sender.send(JobMessage("step", f"{name}{counted}"))

    def fraction(self, value: float) -> None:
        pass

    def step_done(self, report: Any) -> None:
        self.done += 1


def _terminate(signum: int, frame: FrameType | None) -> None:
    from urvc_core.cli import Terminated

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
    raise Terminated()


def _cover_in_worker(request: CoverRequest, sender: Connection) -> None:
    os.setpgrp()
    signal.signal(signal.SIGTERM, _terminate)
    from urvc_core.cli import Terminated
    from urvc_core.errors import UrvcError

    try:
        from urvc_core.cover import make_cover

        result = make_cover(
            request.song, request.voice, progress=_PipeProgress(sender), **request.settings
        )
        facts = {
            "output": str(result.output),
            "duration": result.duration,
            "seconds": result.seconds,
            "intermediates": dict(result.intermediates),
            "cache_hits": result.cache_hits,
            "notes": list(result.notes),
        }
        sender.send(JobMessage("done", facts=facts))
    except Terminated:
        sender.send(JobMessage("cancelled", "The job was cancelled."))
    except UrvcError as exc:
        sender.send(JobMessage("error", str(exc)))
    except Exception as exc:  # the page shows one line; the server's log has the rest
        import traceback

        traceback.print_exc()
        sender.send(JobMessage("error", f"Unexpected {type(exc).__name__}: {exc}"))
    finally:
        sender.close()
