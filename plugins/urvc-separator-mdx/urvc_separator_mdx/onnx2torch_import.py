"""Living beside a torchvision that can't be imported.

audio-separator requires onnx2torch, which requires torchvision, so installing this
plugin installs a torchvision: the one built for the installed torch release. On Linux,
PyPI's torchvision builds are CUDA builds; beside a CPU build of torch (pytorch.org's CPU
index, or this project's machines) its compiled extension can't load, and
``import torchvision`` fails ("operator torchvision::nms does not exist"). Two libraries
urvc runs would go down with it:

* transformers imports torchvision at its own import wherever one is installed, so
  urvc's HuBERT embedders, and with them every conversion, would fail.
  :func:`check_torchvision_before_transformers` runs when the plugin is loaded, before
  any model is: just before transformers is first imported, :func:`hide_broken_torchvision`
  tries torchvision once and, where it fails, marks it as not installed
  (``sys.modules["torchvision"] = None``). transformers then finds no torchvision and
  goes on without it (urvc needs nothing from it), and ``import torchvision`` raises
  ModuleNotFoundError instead of a RuntimeError from deep inside torch.
* onnx2torch imports torchvision at its top, for two converters (NMS and RoiAlign), and
  audio-separator's MDX-Net module imports onnx2torch. No UVR model contains either
  operator, and onnx2torch only runs when the segment size differs from the model's own.
  :func:`import_onnx2torch` imports it against a stand-in that exists only for the
  duration of that import: onnx2torch keeps a reference to it (its NMS and RoiAlign
  converters raise a clear error if a model ever needs them), and ``sys.modules`` is
  left as it was, so no other library ever sees it.

A torchvision that imports is left alone, and so is an installation without one.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Sequence
from typing import Any

from urvc_core.errors import UrvcError

_TORCHVISION = "torchvision"

#: Why the installed torchvision was hidden, once :func:`hide_broken_torchvision` has.
_hidden_because: str | None = None


def hide_broken_torchvision() -> None:
    """Try torchvision once; if it is installed but fails to import, mark it not installed.

    Costs an import of torch and torchvision the first time, where torchvision is
    installed; nothing where it is not, or once torchvision is imported or hidden.
    """
    global _hidden_because
    if _TORCHVISION in sys.modules or importlib.util.find_spec(_TORCHVISION) is None:
        return
    try:
        importlib.import_module(_TORCHVISION)
    except Exception as exc:  # the RuntimeError of a build for another torch, or worse
        # The failed import leaves its submodules behind (torchvision.extension, ...).
        for name in [name for name in sys.modules if name.startswith(f"{_TORCHVISION}.")]:
            del sys.modules[name]
        sys.modules[_TORCHVISION] = None  # type: ignore[assignment]
        _hidden_because = f"{type(exc).__name__}: {exc}"


def check_torchvision_before_transformers() -> None:
    """Have :func:`hide_broken_torchvision` run just before transformers is imported.

    Only where a torchvision is installed and transformers is not imported yet (after
    that it is too late: transformers decides at its import whether it has torchvision).
    Finding out whether that torchvision imports means importing torch, seconds that
    urvc's start-up must not pay, so it is done at the last moment: when the import
    system first looks for a module inside the transformers package, which is while
    ``import transformers`` runs and before transformers asks for torchvision. Looking
    for the package itself (``find_spec("transformers")``, as urvc's backend listings
    do) triggers nothing.
    """
    if "transformers" in sys.modules or _TORCHVISION in sys.modules:
        return
    if any(isinstance(finder, _TorchvisionCheck) for finder in sys.meta_path):
        return
    if importlib.util.find_spec(_TORCHVISION) is None:
        return
    sys.meta_path.insert(0, _TorchvisionCheck())


class _TorchvisionCheck(importlib.abc.MetaPathFinder):
    """Runs :func:`hide_broken_torchvision` when transformers' first submodule is looked up.

    It finds nothing itself: the import goes on through the usual finders. It stays in
    ``sys.meta_path`` after its one check, answering None, because removing a finder
    while the import system walks the list would skip the next one.
    """

    def __init__(self) -> None:
        self.done = False

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.done and fullname.startswith("transformers."):
            self.done = True
            hide_broken_torchvision()
        return None


def import_onnx2torch() -> None:
    """Import onnx2torch, against a torchvision stand-in if the real one won't import."""
    if "onnx2torch" in sys.modules:
        return
    hide_broken_torchvision()
    try:
        importlib.import_module(_TORCHVISION)
    except ImportError as exc:  # not installed, or hidden as broken
        reason = _hidden_because or f"{type(exc).__name__}: {exc}"
    else:
        importlib.import_module("onnx2torch")
        return
    stand_in, ops = _torchvision_stand_in(reason)
    absent = object()
    saved = {name: sys.modules.get(name, absent) for name in (_TORCHVISION, "torchvision.ops")}
    sys.modules[_TORCHVISION] = stand_in
    sys.modules["torchvision.ops"] = ops
    try:
        importlib.import_module("onnx2torch")
    finally:
        for name, module in saved.items():
            if module is absent:
                sys.modules.pop(name, None)
            else:
                # A hidden torchvision stays hidden (its entry is None).
                sys.modules[name] = module  # type: ignore[assignment]


def _torchvision_stand_in(reason: str) -> tuple[types.ModuleType, types.ModuleType]:
    def needs_torchvision(operator: str) -> Any:
        def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise UrvcError(
                f"This ONNX model uses the {operator} operator, which needs torchvision, and "
                f"torchvision can't be imported here ({reason}); install the torchvision "
                f"build that matches your torch, or run the model at its own segment size."
            )

        return unavailable

    ops = types.ModuleType("torchvision.ops")
    ops.__spec__ = importlib.machinery.ModuleSpec("torchvision.ops", loader=None)
    ops.nms = needs_torchvision("NonMaxSuppression")  # type: ignore[attr-defined]
    ops.box_convert = needs_torchvision("NonMaxSuppression")  # type: ignore[attr-defined]
    ops.roi_align = needs_torchvision("RoiAlign")  # type: ignore[attr-defined]
    torchvision = types.ModuleType("torchvision")
    torchvision.__spec__ = importlib.machinery.ModuleSpec("torchvision", loader=None)
    torchvision.__path__ = []
    torchvision.ops = ops  # type: ignore[attr-defined]
    return torchvision, ops
