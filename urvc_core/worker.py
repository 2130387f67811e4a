"""Backends that run in a worker process, from a virtual environment of their own.

A backend whose dependencies clash with the rest of urvc (spleeter's TensorFlow and
``numpy<2``) is registered in the main environment as a *proxy*: a class of the same
kind, name and settings that mixes in :class:`WorkerBackend`. Its work methods start
(once, then reuse) ``<environment>/bin/python -m urvc_core.worker MODULE:CLASS`` and
pass each call there; the registry, the pipeline and the CLI can't tell the
difference. ``docs/isolated-backends.md`` tells the whole design.

The wire, both ways, over the worker's stdin and stdout:

* a message is one header line, ``urvc-worker 1 <json>\\n``, then as many ``.npy``
  frames (``numpy.lib.format``, never pickled) as the header's ``"arrays"`` says;
* in the JSON, :class:`~urvc_core.backends.Audio` is ``{"$audio": [rate, i]}`` and an
  array ``{"$array": i}``, ``i`` indexing the frames; arrays of
  :data:`FILE_ARRAY_BYTES` or more travel as a temporary ``.npy`` file instead,
  ``{"$file": path}``, which the receiver memory-maps (a song is not copied through a
  pipe);
* a reply is ``{"result": ...}`` or ``{"error": {"type", "message", "traceback"}}``.

The worker keeps its real stdout for the wire and points file descriptor 1 at stderr,
so what a library prints (TensorFlow does) goes to the terminal, not into a reply.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np

from urvc_core.backends import Audio, Backend
from urvc_core.errors import BackendError, UrvcError

__all__ = ["FILE_ARRAY_BYTES", "WorkerBackend", "worker_environment_python"]

#: Arrays this large or larger go through a temporary file rather than the pipe.
FILE_ARRAY_BYTES = 1 << 20

_MAGIC = b"urvc-worker 1 "


# --- the wire ----------------------------------------------------------------------------


def _encode(value: Any, arrays: list[np.ndarray], folder: Path) -> Any:
    """``value`` as JSON-ready data; its arrays appended to ``arrays`` (big ones as files)."""
    if isinstance(value, Audio):
        return {"$audio": [value.sample_rate, _array_reference(value.samples, arrays, folder)]}
    if isinstance(value, np.ndarray):
        return _array_reference(value, arrays, folder)
    if isinstance(value, dict):
        return {str(key): _encode(item, arrays, folder) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item, arrays, folder) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} can't cross to a worker process")


def _array_reference(array: np.ndarray, arrays: list[np.ndarray], folder: Path) -> Any:
    if array.dtype.hasobject:
        raise TypeError("arrays of Python objects can't cross to a worker process")
    if array.nbytes >= FILE_ARRAY_BYTES:
        handle, name = tempfile.mkstemp(suffix=".npy", dir=folder)
        with os.fdopen(handle, "wb") as file:
            np.lib.format.write_array(file, np.ascontiguousarray(array), allow_pickle=False)
        return {"$file": name}
    arrays.append(np.ascontiguousarray(array))
    return {"$array": len(arrays) - 1}


def _decode(value: Any, arrays: list[np.ndarray], files: list[Path], *, memory_map: bool) -> Any:
    """The value :func:`_encode` made; the files it names are listed in ``files``. With
    ``memory_map`` they are mapped read-only (the worker reads a song where it lies),
    else read into memory (the caller gets arrays that outlive the files)."""
    if isinstance(value, dict):
        if set(value) == {"$audio"}:
            rate, reference = value["$audio"]
            return Audio(_decode(reference, arrays, files, memory_map=memory_map), int(rate))
        if set(value) == {"$array"}:
            return arrays[int(value["$array"])]
        if set(value) == {"$file"}:
            path = Path(value["$file"])
            files.append(path)
            return np.load(path, mmap_mode="r" if memory_map else None, allow_pickle=False)
        return {
            key: _decode(item, arrays, files, memory_map=memory_map) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_decode(item, arrays, files, memory_map=memory_map) for item in value]
    return value


def _write_message(stream: IO[bytes], header: dict[str, Any], arrays: list[np.ndarray]) -> None:
    header = {**header, "arrays": len(arrays)}
    stream.write(_MAGIC + json.dumps(header).encode() + b"\n")
    for array in arrays:
        # Through memory: numpy writes straight to a file object with tofile(), which a
        # pipe refuses. Only arrays under FILE_ARRAY_BYTES take this way.
        frame = io.BytesIO()
        np.lib.format.write_array(frame, array, allow_pickle=False)
        stream.write(frame.getbuffer())
    stream.flush()


class _NotAMessage(Exception):
    """What came down the wire is not a message: ``received`` holds its start."""

    def __init__(self, received: bytes) -> None:
        super().__init__(received)
        self.received = received


def _read_message(stream: IO[bytes]) -> tuple[dict[str, Any], list[np.ndarray]] | None:
    """The next message, or None at the end of the stream."""
    line = stream.readline(1 << 24)
    if not line:
        return None
    if not line.startswith(_MAGIC) or not line.endswith(b"\n"):
        raise _NotAMessage(line[:80])
    try:
        header = json.loads(line[len(_MAGIC) :])
        arrays = [_read_array(stream) for _ in range(int(header["arrays"]))]
    except (ValueError, KeyError, TypeError, EOFError) as exc:
        raise _NotAMessage(line[:80]) from exc
    return header, arrays


def _read_array(stream: IO[bytes]) -> np.ndarray:
    """One ``.npy`` frame from a pipe (``numpy.lib.format.read_array`` wants a file it can
    seek in for anything but pickles)."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f".npy version {version} is not one the worker writes")
    if dtype.hasobject:
        raise ValueError("an array of Python objects, which is never sent")
    count = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = bytearray(count)
    view, filled = memoryview(buffer), 0
    while filled < count:
        got = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not got:
            raise EOFError("the stream ended inside an array")
        filled += got
    array = np.frombuffer(buffer, dtype=dtype)
    return array.reshape(shape, order="F" if fortran_order else "C")


# --- the worker's side -------------------------------------------------------------------


def serve(target: str, folder: Path, wire_in: IO[bytes], wire_out: IO[bytes]) -> None:
    """Answer calls for the backend class ``target`` (``module:Class``) until stdin ends.

    The first message creates the backend from its settings; each next one calls a work
    method. Every exception becomes an error reply; the loop goes on.
    """
    backend: Backend | None = None
    while True:
        try:
            message = _read_message(wire_in)
        except _NotAMessage as bad:
            _reply_error(wire_out, UrvcError(f"the worker got {bad.received!r}, no request"))
            continue
        if message is None:
            return
        header, arrays = message
        opened: list[Path] = []
        arguments: Any = None
        keywords: Any = None
        try:
            arguments = _decode(header.get("args", []), arrays, opened, memory_map=True)
            keywords = _decode(header.get("kwargs", {}), arrays, opened, memory_map=True)
            if header["method"] == "__init__":
                backend = _backend_class(target)(**keywords)
                result: Any = None
            elif backend is None:
                raise UrvcError("the worker was asked to work before its backend was created")
            else:
                if header["method"] not in type(backend).work_methods:
                    raise UrvcError(f"{header['method']!r} is not one of the backend's methods")
                result = getattr(backend, header["method"])(*arguments, **keywords)
            reply: list[np.ndarray] = []
            encoded = _encode(result, reply, folder)
            _write_message(wire_out, {"result": encoded}, reply)
        except Exception as exc:
            _reply_error(wire_out, exc)
        finally:
            arguments = keywords = None  # the memory maps go before their files
            for path in opened:
                with contextlib.suppress(OSError):
                    path.unlink()


def _reply_error(wire_out: IO[bytes], exc: BaseException) -> None:
    cause = exc.__cause__
    if isinstance(exc, BackendError) and cause is not None and not isinstance(cause, UrvcError):
        # The backend's own bug, which the kernel wrapped here under the worker's idea of
        # the plugin: the proxy names it in the main environment's words instead.
        exc = cause
    error = {
        "type": type(exc).__name__,
        "urvc": isinstance(exc, UrvcError),
        "message": str(exc) or type(exc).__name__,
        "traceback": "".join(traceback.format_exception(exc)),
    }
    _write_message(wire_out, {"error": error}, [])


def _backend_class(target: str) -> type[Backend]:
    module_name, _, class_name = target.partition(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(backend_class, type) and issubclass(backend_class, Backend)):
        raise UrvcError(f"{target} is not a urvc backend class")
    return backend_class


def main(argv: list[str] | None = None) -> None:
    """``python -m urvc_core.worker MODULE:CLASS FOLDER``: serve over stdin and stdout."""
    target, folder = (argv if argv is not None else sys.argv[1:])[:2]
    # The wire keeps the real stdout; anything printed goes to stderr instead.
    wire_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(target, Path(folder), sys.stdin.buffer, wire_out)


# --- the main environment's side ---------------------------------------------------------


def worker_environment_python(environment: str) -> Path:
    """The interpreter of the worker environment named ``environment`` (a plugin's
    distribution name), under ``<urvc home>/envs/``."""
    from urvc_core.home import urvc_home

    folder = urvc_home().envs / environment
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


class _Worker:
    """One running worker process and its temporary folder."""

    def __init__(self, python: Path, target: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="urvc-worker-"))
        self.process = subprocess.Popen(
            [str(python), "-m", "urvc_core.worker", target, str(self.folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.wire_in: IO[bytes] = self.process.stdout
        self.wire_out: IO[bytes] = self.process.stdin

    def stop(self) -> None:
        _stop(self.process, self.folder)


def _stop(process: subprocess.Popen[bytes], folder: Path) -> None:
    """End a worker: stdin closed asks it to leave; one that doesn't within a few
    seconds is killed. Its temporary folder goes too."""
    with contextlib.suppress(OSError, ValueError):
        if process.stdin is not None:
            process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(OSError, ValueError):
        if process.stdout is not None:
            process.stdout.close()
    shutil.rmtree(folder, ignore_errors=True)


class WorkerBackend(Backend):
    """Mix in before the kind's base class to run the backend in a worker process.

    The class declares what the user sees (``name``, ``settings``, ``stems``...) and
    where the real class lives: ``worker_target`` (``module:Class``, importable in the
    worker environment) and ``worker_environment`` (the environment's name under
    ``<urvc home>/envs/``, the plugin's distribution name) with its
    ``worker_requirements``. ``worker_python`` names an
    interpreter directly instead (tests use the running one). The kind's work methods
    are passed to the worker; one worker serves an instance for as long as it lives.
    """

    worker_target: ClassVar[str]
    worker_environment: ClassVar[str] = ""
    #: What the environment holds (with their dependencies), built by ``urvc install``
    #: (see :mod:`urvc_core.worker_environments`).
    worker_requirements: ClassVar[tuple[str, ...]] = ()
    #: Packages whose versions ``urvc doctor`` shows for the environment.
    worker_report_packages: ClassVar[tuple[str, ...]] = ()
    worker_python: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        for method_name in cls.work_methods:
            if method_name not in cls.__dict__:
                setattr(cls, method_name, _forwarded(method_name))
        super().__init_subclass__(**kwargs)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._worker: _Worker | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the worker now (it would stop with the instance anyway)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            worker = self._started()
            arrays: list[np.ndarray] = []
            header = {
                "method": method,
                "args": _encode(list(args), arrays, worker.folder),
                "kwargs": _encode(kwargs, arrays, worker.folder),
            }
            try:
                return self._exchange(worker, method, header, arrays)
            finally:
                for name in os.listdir(worker.folder) if worker.folder.exists() else ():
                    with contextlib.suppress(OSError):
                        (worker.folder / name).unlink()

    def _started(self) -> _Worker:
        if self._worker is not None and self._worker.process.poll() is None:
            return self._worker
        if self._worker is not None:
            self._worker.stop()
        python = Path(self.worker_python) if self.worker_python else None
        if python is None:
            python = worker_environment_python(self.worker_environment)
            if not python.exists():
                raise UrvcError(
                    f"The {self.kind.label} '{self.name}' runs in an environment of its own, "
                    f"which is not installed: run `urvc install {self.worker_environment}`."
                )
        worker = _Worker(python, self.worker_target)
        self._worker = worker
        weakref.finalize(self, _stop, worker.process, worker.folder)
        init = {"method": "__init__", "kwargs": _encode(self.options, [], worker.folder)}
        self._exchange(worker, "__init__", init, [])
        return worker

    def _exchange(
        self, worker: _Worker, method: str, header: dict[str, Any], arrays: list[np.ndarray]
    ) -> Any:
        received = None  # what a worker wrote that was no reply
        try:
            _write_message(worker.wire_out, header, arrays)
            message = _read_message(worker.wire_in)
        except BrokenPipeError:
            message = None
        except _NotAMessage as bad:
            message, received = None, bad.received
        if message is None:  # it died, or talked nonsense
            self._worker = None
            worker.stop()
            raise self._failure(method, worker, received)
        reply, reply_arrays = message
        if "error" in reply:
            error = reply["error"]
            if error.get("urvc"):
                raise _urvc_error_class(error.get("type", ""))(error["message"])
            raise BackendError(
                f"{self.kind.label} backend '{self.name}' (plugin {self._plugin}) failed in "
                f"its worker: {error['message']}. If the input is fine, report this to the "
                f"plugin's authors."
            ) from _WorkerTraceback(error.get("traceback", ""))
        # Files in the reply are read into memory: they are removed with this call.
        return _decode(reply.get("result"), reply_arrays, [], memory_map=False)

    @property
    def _plugin(self) -> str:
        return self.plugin_name or type(self).__module__

    def _failure(self, method: str, worker: _Worker, received: bytes | None) -> BackendError:
        where = f"The worker of {self.kind.label} '{self.name}' (plugin {self._plugin})"
        if received is not None:
            return BackendError(
                f"{where} sent {received!r} instead of a reply to {method}; it was stopped, "
                f"and the next call starts a new one."
            )
        code = worker.process.poll()
        if code is None:
            code = worker.process.wait()
        how = f"exit code {code}"
        if code < 0:
            with contextlib.suppress(ValueError):
                how += f" ({signal.Signals(-code).name})"
        if method == "__init__":
            # It never got as far as its backend: the environment is what to look at.
            repair = (
                f"`urvc install {self.worker_environment}` rebuilds its environment"
                if self.worker_environment
                else f"check the interpreter {self.worker_python}"
            )
            return BackendError(
                f"{where} stopped with {how} while starting (its error is above); {repair}."
            )
        return BackendError(
            f"{where} stopped with {how} during {method}; the next call starts a new one."
        )


def _urvc_error_class(name: str) -> type[UrvcError]:
    """The urvc error class of that name (AudioFileError...), or UrvcError itself."""
    from urvc_core import errors

    found = getattr(errors, name, None)
    return found if isinstance(found, type) and issubclass(found, UrvcError) else UrvcError


class _WorkerTraceback(Exception):
    """The worker's traceback, kept as the cause of the error raised here."""


def _forwarded(method_name: str) -> Callable[..., Any]:
    def call(self: WorkerBackend, *args: Any, **kwargs: Any) -> Any:
        return self._call(method_name, args, kwargs)

    call.__name__ = method_name
    call.__doc__ = f"``{method_name}``, run in the backend's worker process."
    return call


if __name__ == "__main__":
    main()
