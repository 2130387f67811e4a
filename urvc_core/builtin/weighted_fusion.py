"""Fusion methods: ``weighted-sum`` and ``add-difference``, tensor by tensor.

Models fine-tuned from the same pretrained base keep their weights close enough that a
weighted average of them is itself a working model whose voice lies between theirs;
this is the fusion RVC's own "ckpt merge" tab performs (``weighted-sum``, its weights
scaled to sum to 1). ``add-difference`` is model-merging tools' A + (B − C) × w: what
fine-tuning C into B changed, added to A.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from urvc_core.backends import FusionMethod
from urvc_core.errors import UrvcError
from urvc_core.hookspecs import Register, hookimpl


def normalised_weights(weights: Sequence[float], model_count: int) -> list[float]:
    """The weights scaled to sum to 1, checked: one per model, none negative, not all zero."""
    if model_count == 0:
        raise UrvcError("Fusion needs at least one model; none was given.")
    if len(weights) != model_count:
        raise UrvcError(
            f"Fusion needs one weight per model: got {len(weights)} weights "
            f"for {model_count} models."
        )
    values = [float(w) for w in weights]
    if any(not math.isfinite(w) or w < 0 for w in values):
        raise UrvcError(
            f"Fusion weights must be finite and zero or more; got {values}. "
            "Give each model its share, for example 0.3 and 0.7."
        )
    total = math.fsum(values)
    if total <= 0:
        raise UrvcError(
            f"Fusion weights add up to {total}; give at least one model a weight above 0."
        )
    return [w / total for w in values]


def check_same_layout(models: Sequence[Mapping[str, Any]]) -> None:
    """Raise UrvcError naming the first tensor whose name or shape differs between models."""
    first = models[0]
    for index, model in enumerate(models[1:], start=2):
        for name in first:
            if name not in model:
                raise UrvcError(
                    f"Model {index} has no tensor '{name}', which model 1 has: the models "
                    "are of different architectures and can't be fused."
                )
            first_shape = tuple(getattr(first[name], "shape", ()))
            other_shape = tuple(getattr(model[name], "shape", ()))
            if first_shape != other_shape:
                raise UrvcError(
                    f"Tensor '{name}' is shaped {list(first_shape)} in model 1 but "
                    f"{list(other_shape)} in model {index}: the models can't be fused "
                    "(different architecture, sample rate or version?)."
                )
        for name in model:
            if name not in first:
                raise UrvcError(
                    f"Model {index} has a tensor '{name}' that model 1 lacks: the models "
                    "are of different architectures and can't be fused."
                )


class WeightedSumFusion(FusionMethod):
    """Each floating-point tensor becomes the weighted mean of the models' tensors.

    Weights are normalised to sum to 1. The sum is computed in float32 (float64 for
    float64 tensors) and cast back, so half-precision models stay half-precision
    without losing precision on the way. Tensors that are not floating point (integer
    buffers, step counters) and values that are not tensors are taken from the first
    model: there is no meaningful average of a counter.
    """

    name = "weighted-sum"
    description = "Weighted mean of the models' weights (RVC's checkpoint merge)"
    requires_modules = ("torch",)

    def fuse(self, models: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> dict[str, Any]:
        import torch

        shares = normalised_weights(weights, len(models))
        check_same_layout(models)
        fused: dict[str, Any] = {}
        for name, first_value in models[0].items():
            if not isinstance(first_value, torch.Tensor) or not first_value.is_floating_point():
                fused[name] = (
                    first_value.detach().clone()
                    if isinstance(first_value, torch.Tensor)
                    else first_value
                )
                continue
            compute_dtype = torch.promote_types(first_value.dtype, torch.float32)
            total = torch.zeros(first_value.shape, dtype=compute_dtype, device=first_value.device)
            for index, (model, share) in enumerate(zip(models, shares, strict=True), start=1):
                if share == 0:
                    # Skipping keeps a model that is merely listed from putting a NaN
                    # or an inf of its own into the result (0 * inf is NaN).
                    continue
                value = model[name]
                if not isinstance(value, torch.Tensor):
                    raise UrvcError(
                        f"'{name}' is a tensor in model 1 but a {type(value).__name__} "
                        f"in model {index}: the models can't be fused."
                    )
                total += share * value.detach().to(device=first_value.device, dtype=compute_dtype)
            fused[name] = total.to(first_value.dtype)
        return fused


class AddDifferenceFusion(FusionMethod):
    """A + (B − C) × w: three models and one multiplier ``w`` (``weights=(w,)``).

    Floating-point tensors are computed in float32 (float64 for float64) and cast back
    to A's dtype; other values are A's. With w = 0 the result is A; with B = C it is A.
    """

    name = "add-difference"
    description = "A + (B - C) x w: add what separates B from C to A"
    requires_modules = ("torch",)

    def default_weights(self, model_count: int) -> list[float]:
        return [1.0]

    def fuse(self, models: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> dict[str, Any]:
        import torch

        if len(models) != 3:
            raise UrvcError(
                f"add-difference takes three models, A + (B - C) x w; got {len(models)}."
            )
        if len(weights) != 1 or not math.isfinite(float(weights[0])):
            raise UrvcError(
                f"add-difference takes one multiplier w, as in A + (B - C) x w; got "
                f"{list(weights)}."
            )
        multiplier = float(weights[0])
        check_same_layout(models)
        base, added, taken = models
        fused: dict[str, Any] = {}
        for name, value in base.items():
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                fused[name] = value.detach().clone() if isinstance(value, torch.Tensor) else value
                continue
            dtype = torch.promote_types(value.dtype, torch.float32)
            difference = added[name].detach().to(dtype) - taken[name].detach().to(dtype)
            fused[name] = (value.detach().to(dtype) + multiplier * difference).to(value.dtype)
        return fused


@hookimpl
def register_fusion_methods(register: Register) -> None:
    register(WeightedSumFusion)
    register(AddDifferenceFusion)
