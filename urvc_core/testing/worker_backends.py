"""Backends for testing :mod:`urvc_core.worker`: the real classes a worker process
creates, and the proxies that stand for them in the main environment.

:class:`EchoSeparator` returns its input scaled, and misbehaves on request (its
``behaviour`` setting) the ways a worker can: a user error, a bug, death by SIGKILL,
printing to stdout. The proxies run the worker with the running interpreter, so the
tests need no second environment.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import ClassVar

import numpy as np

from urvc_core.backends import Audio, Separator, Setting
from urvc_core.builtin.dsp_separator import DspCenterSeparator
from urvc_core.errors import UrvcError
from urvc_core.worker import WorkerBackend

_ECHO_SETTINGS = (
    Setting("gain", float, 1.0, "What the Same stem is multiplied by", minimum=0.0),
    Setting(
        "behaviour",
        str,
        "work",
        "work, refuse (a UrvcError), bug (a ValueError), die (SIGKILL), chatter (prints)",
        choices=("work", "refuse", "bug", "die", "chatter"),
    ),
)


class EchoSeparator(Separator):
    """Stems ``Same`` (the input times ``gain``) and ``Silent``; :meth:`pid` tells which
    process it runs in."""

    name = "echo"
    stems = ("Same", "Silent")
    settings = _ECHO_SETTINGS
    work_methods: ClassVar[tuple[str, ...]] = ("separate", "pid", "versions")

    def separate(self, audio: Audio) -> dict[str, Audio]:
        behaviour = self.options["behaviour"]
        if behaviour == "refuse":
            raise UrvcError("The take is too quiet to separate; record it louder.")
        if behaviour == "bug":
            raise ValueError("index 7 is out of bounds")
        if behaviour == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        if behaviour == "chatter":
            print("loading the network... done")  # what TensorFlow does on stdout
        return {
            "Same": Audio(audio.samples * np.float32(self.options["gain"]), audio.sample_rate),
            "Silent": Audio(np.zeros_like(audio.samples), audio.sample_rate),
        }

    def pid(self) -> int:
        return os.getpid()

    def versions(self) -> dict[str, str]:
        """The environment it runs in: its prefix and numpy."""
        return {"prefix": sys.prefix, "numpy": np.__version__}


class EchoSeparatorInWorker(WorkerBackend, Separator):
    name = "echo"
    stems = ("Same", "Silent")
    settings = _ECHO_SETTINGS
    work_methods: ClassVar[tuple[str, ...]] = ("separate", "pid", "versions")
    worker_target = "urvc_core.testing.worker_backends:EchoSeparator"
    worker_python = sys.executable

    def pid(self) -> int:  # forwarded to the worker; declared for type checkers
        return int(self._call("pid", (), {}))

    def versions(self) -> dict[str, str]:
        return dict(self._call("versions", (), {}))


class CenterSeparatorInWorker(WorkerBackend, Separator):
    """The built-in ``center`` separator, run in a worker process."""

    name = "center"
    stems = DspCenterSeparator.stems
    settings = DspCenterSeparator.settings
    worker_target = "urvc_core.builtin.dsp_separator:DspCenterSeparator"
    worker_python = sys.executable
