"""Which torch device a model runs on: the one place that decides.

A model asks :func:`resolve_device` with its backend's ``device`` setting. A setting
other than ``auto`` is followed as given. ``auto`` defers, in order, to the device a
command or library call asked for (``urvc convert --device cuda:1``, or
``convert_voice(..., device="cuda:1")``, both entering :func:`use_device`), then to
``device`` in config.toml, and where that is ``auto`` too, picks CUDA, then Apple's MPS,
then the CPU (:func:`auto_device`). A GPU that torch can't see is an error that says
so, rather than a silent CPU run.

The asked-for device is a context variable, so each thread has its own: the threads of
a batch spread over several GPUs (:func:`~urvc_core.rvc.conversion.convert_voices`)
each enter their own device. A thread pool that runs models for the caller must hand
it the caller's context (``pool.submit(contextvars.copy_context().run, work)``), or
its threads fall back to config.toml.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from urvc_core.backends import DeviceSetting
from urvc_core.errors import UrvcError

__all__ = [
    "DEVICE_SETTING",
    "auto_device",
    "parse_devices",
    "precision_dtype",
    "resolve_device",
    "spread_over_devices",
    "use_device",
]

Item = TypeVar("Item")
Worker = TypeVar("Worker")
Outcome = TypeVar("Outcome")

#: The device a command runs its models on: ``--device`` of every command that runs a
#: model, and the ``device`` keyword of the library functions behind them.
DEVICE_SETTING = DeviceSetting(
    "device",
    str,
    None,
    "Where models run: auto (a CUDA GPU torch sees, else Apple's MPS, else the CPU), "
    "cpu, cuda, cuda:N or mps; default: device in config.toml (auto). `urvc convert` "
    "also takes several, comma-separated (cuda:0,cuda:1), and spreads its files over them.",
)

_asked_device: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "urvc_asked_device", default=None
)


@contextmanager
def use_device(device: str | None) -> Iterator[str | None]:
    """Inside the block, models whose ``device`` setting is ``auto`` run on ``device``.

    ``device`` is ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; ``auto`` here
    means torch's choice, over config.toml's. ``None`` changes nothing, so a caller can
    pass an optional keyword straight on. A device torch can't see is refused on entry,
    before any work. Yields the checked device name (or None).
    """
    if device is None:
        yield None
        return
    name = str(DEVICE_SETTING.check(device, "urvc"))
    if name != "auto":
        _check_available(name)
    token = _asked_device.set(name)
    try:
        yield name
    finally:
        _asked_device.reset(token)


def resolve_device(choice: str = "auto", *, owner: str | None = None) -> str:
    """The torch device for a ``device`` setting; UrvcError if that device is not there.

    ``auto`` defers to the device of :func:`use_device`, then to config.toml; see the
    module's docstring. ``owner`` (a backend's name) starts the error message, so the
    user knows which setting asked for the device.
    """
    choice = str(DEVICE_SETTING.check(choice, owner or "urvc"))
    if choice == "auto":
        choice = _asked_device.get() or _configured_device()
    if choice == "auto":
        return auto_device()
    _check_available(choice, owner)
    return choice


def precision_dtype(precision: str, device: str, what: str) -> Any:
    """The torch dtype a ``precision`` setting (fp32, bf16, fp16) computes in on
    ``device``; UrvcError naming ``what`` for fp16 where no GPU runs it."""
    import torch

    if precision == "fp16" and torch.device(device).type == "cpu":
        raise UrvcError(
            f"Precision fp16 needs a GPU, and {what} runs on {device} here: use bf16 "
            f"(or fp32) there."
        )
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def auto_device() -> str:
    """What ``auto`` picks from what torch sees: ``cuda``, else ``mps``, else ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "mps" if _mps_available(torch) else "cpu"


def parse_devices(devices: str | Sequence[str]) -> list[str]:
    """The devices of a comma list (``"cuda:0,cuda:1"``) or a sequence of names, checked.

    The same device may come twice (``cpu,cpu``: two model copies on it). Each must be
    there (:func:`resolve_device`); ``auto`` becomes the device it picks.
    """
    names = devices.split(",") if isinstance(devices, str) else list(devices)
    names = [name.strip() for name in names if name.strip()]
    if not names:
        raise UrvcError(
            f"No device is named in {devices!r}; name one (cpu, cuda, cuda:N, mps) or "
            f"several, comma-separated (cuda:0,cuda:1)."
        )
    checked = [str(DEVICE_SETTING.check(name, "urvc")) for name in names]
    return [auto_device() if name == "auto" else resolve_device(name) for name in checked]


def _configured_device() -> str:
    from urvc_core.home import load_config

    return str(load_config()["device"])


def _mps_available(torch: Any) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _check_available(device: str, owner: str | None = None) -> None:
    """Raise a UrvcError that says what torch sees when ``device`` is not among it."""
    import torch

    prefix = f"{owner}: " if owner else ""
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            if torch.version.cuda is None:
                seen = f"this torch ({torch.__version__}) is a CPU build, which sees no CUDA GPU"
                remedy = "install torch's CUDA build"
            else:
                seen = (
                    f"this torch ({torch.__version__}, CUDA {torch.version.cuda}) sees no CUDA GPU"
                )
                remedy = "check the NVIDIA driver (nvidia-smi) and CUDA_VISIBLE_DEVICES"
            raise UrvcError(
                f"{prefix}device={device} is asked for, but {seen}; use device=cpu or "
                f"auto, or {remedy} (`urvc doctor` shows what torch sees)."
            )
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            visible = ", ".join(f"cuda:{number}" for number in range(count))
            raise UrvcError(
                f"{prefix}device={device} is asked for, but torch sees {count} CUDA "
                f"GPU{'s' if count > 1 else ''} ({visible}); use one of those (`urvc "
                f"doctor` lists them), or check CUDA_VISIBLE_DEVICES."
            )
    elif device == "mps" and not _mps_available(torch):
        raise UrvcError(
            f"{prefix}device=mps is asked for, but torch sees no Apple GPU; use device=cpu or auto."
        )


def spread_over_devices(
    items: Sequence[Item],
    devices: Sequence[str | None],
    load: Callable[[str | None], Worker],
    work: Callable[[Worker, int, Item], Outcome],
) -> list[Outcome | UrvcError]:
    """Do ``work(loaded, number, item)`` for every item, spread over ``devices``.

    Each device gets what ``load(device)`` returns (a model copy: the same device named
    twice loads two), and a thread of its own that takes the next item from a queue
    shared by all, so a faster device does more. Everything on a device runs inside
    :func:`use_device` (``None``: as configured). Devices beyond the number of items
    load nothing. With one device, it all runs in the calling thread.

    Returns each item's outcome in input order: its result, or the
    :class:`~urvc_core.errors.UrvcError` its work raised (the others go on). Anything
    else raised (a bug, Ctrl-C) stops the devices taking more items and is raised once
    the items being worked on are done: a thread can't be stopped part-way.
    """
    devices = list(devices[: max(1, len(items))])
    outcomes: list[Outcome | UrvcError | None] = [None] * len(items)
    if len(devices) == 1:
        with use_device(devices[0]):
            loaded = load(devices[0])
            for number, item in enumerate(items):
                try:
                    outcomes[number] = work(loaded, number, item)
                except UrvcError as exc:
                    outcomes[number] = exc
        return cast("list[Outcome | UrvcError]", outcomes)

    # Loaded one after another here, so a device that can't take the model fails the
    # batch before any item is worked on.
    copies = []
    for device in devices:
        with use_device(device):
            copies.append(load(device))
    queue: Iterator[tuple[int, Item]] = iter(enumerate(items))
    queue_lock = threading.Lock()
    stop = threading.Event()
    crashes: list[BaseException] = []

    def run(device: str | None, loaded: Worker) -> None:
        with use_device(device):
            while not stop.is_set():
                with queue_lock:
                    taken = next(queue, None)
                if taken is None:
                    return
                number, item = taken
                try:
                    outcomes[number] = work(loaded, number, item)
                except UrvcError as exc:
                    outcomes[number] = exc
                except BaseException as exc:
                    crashes.append(exc)
                    stop.set()

    threads = [
        threading.Thread(target=run, args=(device, loaded), name=f"urvc-{device or 'auto'}-{n}")
        for n, (device, loaded) in enumerate(zip(devices, copies, strict=True))
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        stop.set()
        for thread in threads:
            thread.join()
        raise
    if crashes:
        raise crashes[0]
    return cast("list[Outcome | UrvcError]", outcomes)
