"""Importing onnx2torch where torchvision can't be imported.

audio-separator's MDX-Net module imports onnx2torch at its top, and onnx2torch imports
torchvision for two of its converters (NMS and RoiAlign). No UVR model contains either
operator, and onnx2torch itself only runs when the segment size differs from the
model's own. But torchvision must import, and on a machine with a CPU build of torch the
only torchvision on PyPI is a CUDA build, which fails on import ("operator
torchvision::nms does not exist").

So when the real torchvision can't be imported, onnx2torch is imported against a
stand-in that exists only for the duration of that import: onnx2torch keeps a reference
to it (its NMS and RoiAlign converters raise a clear error if a model ever needs them),
and ``sys.modules`` is left as it was, so no other library (transformers probes for
torchvision) ever sees it.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from typing import Any

from urvc_core.errors import UrvcError


def import_onnx2torch() -> None:
    """Import onnx2torch, against a torchvision stand-in if the real one won't import."""
    if "onnx2torch" in sys.modules:
        return
    try:
        importlib.import_module("torchvision")
    except Exception as exc:  # ImportError, or the RuntimeError of a mismatched build
        reason = f"{type(exc).__name__}: {exc}"
    else:
        importlib.import_module("onnx2torch")
        return
    stand_in, ops = _torchvision_stand_in(reason)
    saved = {name: sys.modules.get(name) for name in ("torchvision", "torchvision.ops")}
    sys.modules["torchvision"] = stand_in
    sys.modules["torchvision.ops"] = ops
    try:
        importlib.import_module("onnx2torch")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


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
