"""Reading model files without ever running code from them.

A ``.pth`` or ``.pt`` file is a pickle, and unpickling can call any function the file
names. Voice models are shared by strangers, so urvc never unpickles one freely:

1. :func:`load_checkpoint` first uses torch's own ``weights_only=True`` loader, which
   accepts tensors, containers and plain values only. Community RVC voice models and
   RMVPE weights load this way.
2. Some files also pickle configuration *objects*: fairseq checkpoints such as
   ``hubert_base.pt`` carry an omegaconf ``DictConfig`` or an ``argparse.Namespace``.
   The weights-only loader refuses those, so the fallback unpickler below replaces every
   class it does not know with an inert stand-in that records what it was given and
   does nothing else. Functions outside a short list of tensor-rebuilding helpers are
   never looked up, let alone called. The weights come out exactly as saved; the
   configuration objects come out as :class:`InertObject` records.
"""

from __future__ import annotations

import builtins
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from urvc_core.errors import UrvcError

#: The globals a checkpoint may name that are called to rebuild what it holds. All of
#: them only construct tensors, storages or containers from the data given.
_SAFE_CALLABLES: dict[tuple[str, str], Any] = {}


def _safe_callables() -> dict[tuple[str, str], Any]:
    if _SAFE_CALLABLES:
        return _SAFE_CALLABLES
    import numpy
    import torch
    import torch._utils

    for name in (
        "_rebuild_tensor",
        "_rebuild_tensor_v2",
        "_rebuild_tensor_v3",
        "_rebuild_parameter",
        "_rebuild_parameter_with_state",
        "_rebuild_qtensor",
        "_rebuild_sparse_tensor",
    ):
        if hasattr(torch._utils, name):
            _SAFE_CALLABLES[("torch._utils", name)] = getattr(torch._utils, name)
    _SAFE_CALLABLES[("collections", "OrderedDict")] = OrderedDict
    _SAFE_CALLABLES[("torch", "Size")] = torch.Size
    _SAFE_CALLABLES[("torch", "device")] = torch.device
    for name in ("set", "frozenset", "slice", "complex"):
        _SAFE_CALLABLES[("builtins", name)] = getattr(builtins, name)
    # numpy arrays and scalars, as fairseq stores some statistics.
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        _SAFE_CALLABLES[(module, "_reconstruct")] = numpy.ndarray.__new__
        _SAFE_CALLABLES[(module, "scalar")] = _numpy_scalar
    _SAFE_CALLABLES[("numpy", "ndarray")] = numpy.ndarray
    _SAFE_CALLABLES[("numpy", "dtype")] = numpy.dtype
    return _SAFE_CALLABLES


def _numpy_scalar(dtype: Any, data: bytes | None = None) -> Any:
    import numpy

    return numpy.frombuffer(data or b"", dtype=dtype)[0] if data else dtype.type()


class InertObject:
    """What a class the loader does not trust becomes: a record of its name and state.

    Constructing one runs nothing; its ``args`` and ``state`` are what the file held,
    so configuration values (fairseq's ``cfg``) can still be read from it.
    """

    qualified_name = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:  # dict subclasses in pickles
        if not isinstance(self.state, dict):
            self.state = {}
        self.state[key] = value

    def append(self, item: Any) -> None:  # list subclasses in pickles
        if not isinstance(self.state, list):
            self.state = []
        self.state.append(item)

    def __repr__(self) -> str:
        return f"<inert {self.qualified_name}>"


def _inert_class(module: str, name: str) -> type[InertObject]:
    return type(name, (InertObject,), {"qualified_name": f"{module}.{name}"})


class _InertUnpickler(pickle.Unpickler):
    """An unpickler that hands out inert stand-ins for every class it does not trust."""

    def find_class(self, module: str, name: str) -> Any:
        import torch

        trusted = _safe_callables().get((module, name))
        if trusted is not None:
            return trusted
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        return _inert_class(module, name)


class _InertPickleModule:
    """The ``pickle_module`` handed to ``torch.load`` for the fallback."""

    Unpickler = _InertUnpickler
    load = staticmethod(lambda file, **kwargs: _InertUnpickler(file, **kwargs).load())
    __name__ = "urvc_inert_pickle"


def load_checkpoint(path: Path, *, what: str = "model file") -> Any:
    """The contents of a torch checkpoint, read without running code from it.

    Raises UrvcError naming ``path`` when the file is missing, truncated or not a torch
    checkpoint at all. ``what`` names the file in messages ("voice model", "embedder").
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise UrvcError(f"The {what} {path} does not exist.")
    if path.stat().st_size == 0:
        raise UrvcError(f"The {what} {path} is empty; download it again.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" not in str(exc) and "Unsupported global" not in str(exc):
            raise _unreadable(path, what, exc) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable(path, what, exc) from exc
    try:
        return torch.load(
            path,
            map_location="cpu",
            weights_only=False,
            pickle_module=_InertPickleModule,
        )
    except Exception as exc:
        raise _unreadable(path, what, exc) from exc


def _unreadable(path: Path, what: str, exc: BaseException) -> UrvcError:
    # torch's messages run on for several sentences; the first says what broke.
    detail = str(exc).split(". ")[0].splitlines()[0] if str(exc) else type(exc).__name__
    return UrvcError(
        f"The {what} {path} can't be read as a torch checkpoint ({detail}); it may be "
        f"truncated or not a model file: download it again."
    )
