"""RMVPE's weights: where they come from, and reading them into the network.

The weights are the file RVC users already have, ``rmvpe.pt`` from the RVC project's
Hugging Face repository ``lj1995/VoiceConversionWebUI``: a plain state dict saved with
``torch.save``, its 90.5 million parameters stored in half precision (181 MB; in
float32 they would take 362 MB). The sha256 below is the one RVC tools and
installers check the file against.

This module imports torch only inside :func:`load_rmvpe`, so declaring the asset costs
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from urvc_core.assets import Asset
from urvc_core.errors import UrvcError

if TYPE_CHECKING:
    from urvc_f0_rmvpe.network import RmvpeNetwork

RMVPE_WEIGHTS = Asset(
    name="rmvpe",
    url="https://huggingface.co/lj1995/VoiceConversionWebUI/resolve/main/rmvpe.pt",
    filename="rmvpe/rmvpe.pt",
    sha256="6d62215f4306e3ca278246188607209f09af3dc77ed4232efdd069798c4ec193",
    size=181184272,
    description="RMVPE pitch network (RVC's rmvpe.pt)",
)

#: Batch norm's count of training steps: it changes nothing at inference, and a state
#: dict saved from an older torch may lack it, which torch itself tolerates.
_TRAINING_COUNTER = "num_batches_tracked"
#: How many names an error message lists before it says "and N more".
_NAMES_SHOWN = 3


def load_rmvpe(path: Path) -> RmvpeNetwork:
    """The network with ``path``'s weights, every name and shape checked (float32, CPU).

    Raises UrvcError naming the file when it can't be read or is not RMVPE's state
    dict: the first missing, unexpected or misshapen names are in the message.
    """
    import torch

    from urvc_core.rvc.checkpoints import load_checkpoint
    from urvc_f0_rmvpe.network import RmvpeNetwork

    path = Path(path)
    state = load_checkpoint(path, what="RMVPE weights file")
    if not isinstance(state, Mapping):
        raise UrvcError(
            f"The RMVPE weights file {path} holds a {type(state).__name__}, not a state dict; "
            f"use RVC's rmvpe.pt."
        )
    network = RmvpeNetwork()
    expected = network.state_dict()
    state = dict(state)
    for name, tensor in expected.items():
        if name.endswith(_TRAINING_COUNTER) and name not in state:
            state[name] = torch.zeros_like(tensor)
    _check_layout(path, state, expected)
    network.load_state_dict(state, strict=True)
    return network.float().eval()


def _check_layout(path: Path, state: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    import torch

    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    misshapen = [
        f"{name} {_shape(state[name])} (expected {tuple(tensor.shape)})"
        for name, tensor in expected.items()
        if name in state
        and (not isinstance(state[name], torch.Tensor) or state[name].shape != tensor.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {_some(missing)}")
    if unexpected:
        problems.append(f"unexpected {_some(unexpected)}")
    if misshapen:
        problems.append(f"wrong shape {_some(misshapen)}")
    if problems:
        raise UrvcError(
            f"The RMVPE weights file {path} does not fit the RMVPE network: "
            f"{'; '.join(problems)}. It is another model, or a damaged file; "
            f"use RVC's rmvpe.pt (urvc assets download rmvpe)."
        )


def _shape(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return str(tuple(shape)) if shape is not None else f"(a {type(value).__name__})"


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown
