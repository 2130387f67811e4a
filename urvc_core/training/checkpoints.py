"""Training checkpoints (``G_<epoch>.pth``/``D_<epoch>.pth``) and pretrained networks.

A checkpoint is laid out as RVC WebUI writes its own: ``{"model": state dict,
"iteration": epoch, "optimizer": ..., "learning_rate": ...}``, weight norm stored as
``weight_g``/``weight_v``, so tools that read RVC's checkpoints read urvc's, and
RVC's pretrained ``f0G40k.pth``/``f0D40k.pth`` (the same layout, ``model`` alone) load
here. urvc adds what an exact resume needs: the step, where in the epoch it stopped,
the random state, the gradient scaler's state, and the run's settings.

Files are read with ``torch.load(weights_only=True)``, which builds tensors and plain
values and never runs code from the file, and written atomically: a full disk or a
crash mid-save leaves the previous checkpoints as they were and no partial file.

RVC's published pretrained networks are assets, declared in
:mod:`~urvc_core.training.pretrained`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from urvc_core.errors import UrvcError

__all__ = [
    "load_checkpoint",
    "load_pretrained",
    "save_checkpoint",
    "training_state_dict",
]


def training_state_dict(network: nn.Module) -> dict[str, torch.Tensor]:
    """The network's weights as RVC stores them: weight norm as ``weight_g``/``weight_v``."""
    from urvc_core.rvc.synthesizer import unfold_weight_norm

    return unfold_weight_norm(network.state_dict(), style="legacy")


def _as_parametrized(weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Stored weights renamed to what a network under torch's weight norm calls them."""
    from urvc_core.rvc.synthesizer import weight_norm_parts

    renamed = {}
    for name, tensor in weights.items():
        parts = weight_norm_parts(name)
        if parts is not None:
            layer, part = parts
            suffix = "original0" if part == "g" else "original1"
            name = f"{layer}.parametrizations.weight.{suffix}"
        renamed[name] = tensor
    return renamed


def save_checkpoint(path: Path, contents: Mapping[str, Any]) -> Path:
    """Write a checkpoint atomically; UrvcError (one line) when it can't be written."""
    from urvc_core.atomic_files import atomic_destination

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_destination(path) as temporary:
            torch.save(dict(contents), temporary)
    except OSError as exc:
        raise UrvcError(
            f"Can't write the checkpoint {path}: {exc.strerror or exc}; free some space "
            f"(the earlier checkpoints are intact) and run the same command to resume."
        ) from None
    return path


def _read(path: Path, what: str) -> dict[str, Any]:
    try:
        contents = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UrvcError(f"The {what} {path} does not exist.") from None
    except Exception as exc:  # a damaged zip, a pickle that wants code, ...
        raise UrvcError(
            f"The {what} {path} is not a checkpoint urvc can read safely "
            f"({type(exc).__name__}); give an RVC G_*.pth/D_*.pth or pretrained file."
        ) from None
    if not isinstance(contents, dict):
        raise UrvcError(f"The {what} {path} holds no weights; give an RVC checkpoint.")
    return contents


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint's contents (its ``model`` renamed for a weight-normed network)."""
    contents = _read(path, "checkpoint")
    if not isinstance(contents.get("model"), dict):
        raise UrvcError(f"The checkpoint {path} has no model weights; it is not a G_/D_ file.")
    contents["model"] = _as_parametrized(contents["model"])
    return contents


def load_pretrained(network: nn.Module, path: Path, *, part: str, wanted: str) -> None:
    """Load pretrained weights into ``network`` (a fresh generator or discriminator).

    ``part`` is "G" or "D"; ``wanted`` describes the model being trained ("a v2 model at
    40000 Hz with pitch guidance") for the error. Raises UrvcError, one line, saying
    what the file is for when it does not fit: another version (feature width), rate
    (upsampling), pitch guidance, an inference model where a training one is needed.
    """
    contents = _read(path, f"pretrained {'generator' if part == 'G' else 'discriminator'}")
    weights = contents.get("model", contents if "weight" not in contents else None)
    if not isinstance(weights, dict) or not all(
        isinstance(value, torch.Tensor) for value in weights.values()
    ):
        if "weight" in contents and "config" in contents:
            raise UrvcError(
                f"{path} is a voice model (the inference weights alone), not a pretrained "
                f"network to train from; give RVC's f0G/f0D files or a G_*/D_* checkpoint."
            )
        raise UrvcError(f"{path} holds no network weights; give RVC's pretrained G/D files.")
    weights = _as_parametrized(weights)
    expected = {name: tuple(value.shape) for name, value in network.state_dict().items()}
    problem = _mismatch(weights, expected, part)
    if problem:
        raise UrvcError(
            f"The pretrained {'generator' if part == 'G' else 'discriminator'} {path} "
            f"{problem}, where you train {wanted}; give one made for that model."
        )
    network.load_state_dict(weights, strict=True)


def _upsampling_rate(weights: Mapping[str, Any]) -> int | None:
    """The sample rate whose RVC upsampling kernels the generator's ``dec.ups`` have."""
    from urvc_core.rvc.random_voice_models import upsampling_kernel_sizes

    kernels = []
    for index in range(8):
        name = f"dec.ups.{index}.parametrizations.weight.original1"
        if name not in weights:
            break
        shape = weights[name]
        kernels.append(int((shape if isinstance(shape, tuple) else tuple(shape.shape))[2]))
    return upsampling_kernel_sizes().get(tuple(kernels))


def _mismatch(
    weights: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]], part: str
) -> str | None:
    """What the weights are for, when they don't fit ``expected``; None when they do."""
    if part == "G":
        if "enc_q.pre.weight" not in weights and "enc_p.emb_phone.weight" in weights:
            return "is an inference model (it has no posterior encoder)"
        phone = weights.get("enc_p.emb_phone.weight")
        wanted_phone = expected.get("enc_p.emb_phone.weight")
        if phone is not None and wanted_phone is not None and tuple(phone.shape) != wanted_phone:
            version = {256: "v1", 768: "v2"}.get(int(phone.shape[1]), f"{phone.shape[1]}-dim")
            return f"is for a {version} model ({phone.shape[1]}-dim features)"
        if ("enc_p.emb_pitch.weight" in weights) != ("enc_p.emb_pitch.weight" in expected):
            having = "with" if "enc_p.emb_pitch.weight" in weights else "without"
            return f"is for a model {having} pitch guidance"
        rate = _upsampling_rate(weights)
        if rate is not None and rate != _upsampling_rate(expected):
            return f"is for a {rate} Hz model (its upsampling)"
        if {n for n in weights if n.startswith("dec.")} != {
            n for n in expected if n.startswith("dec.")
        }:
            return "is for another sample rate (its upsampling differs)"
    elif part == "D":
        count = len({name.split(".")[1] for name in weights if name.startswith("discriminators.")})
        wanted = len(
            {name.split(".")[1] for name in expected if name.startswith("discriminators.")}
        )
        if count != wanted:
            version = {7: "v1", 9: "v2"}.get(count, f"{count}-discriminator")
            return f"is a {version} discriminator ({count} discriminators)"
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        return f"has other layers ({'no ' + missing[0] if missing else 'an extra ' + extra[0]})"
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            return f"has {name} shaped {tuple(weights[name].shape)} (this model's is {shape})"
    return None
