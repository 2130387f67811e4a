"""Ensembles of UVR models, named by their file names: each model separates the input
and every stem they share is combined across them.

The methods (``mean``, ``median``, ``min``, ``max``, ``min_mag``, ``max_mag``: UVR's
Average, Min/Max Wave and Min/Max Spec) and the combining itself are the kernel's
(:mod:`urvc_core.ensembles`), so a cover's separation step may also mix these models
with any other plugin's separators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from urvc_core.backends import Audio
from urvc_core.ensembles import ENSEMBLE_METHODS, SAMPLE_METHODS, SPECTRAL_METHODS, combine_stems
from urvc_core.errors import UrvcError

__all__ = [
    "ENSEMBLE_METHODS",
    "SAMPLE_METHODS",
    "SPECTRAL_METHODS",
    "combine_stems",
    "separate_with_ensemble",
]


def separate_with_ensemble(
    audio: Audio,
    models: Sequence[str],
    method: str = "median",
    *,
    weights: Sequence[float] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Audio]:
    """Separate ``audio`` with each model and combine the stems they share.

    ``models`` are file names of any family (an ensemble may mix MDX-Net and Roformer
    models); ``settings`` maps a model's file name to the settings of its separator.
    The result has the stems every model gives; a stem that only some give is left out,
    and none in common is an error.
    """
    from urvc_separator_mdx.cover_steps import separator_for

    if method not in ENSEMBLE_METHODS:
        raise UrvcError(
            f"Unknown ensemble method {method!r}; use one of {', '.join(ENSEMBLE_METHODS)}."
        )
    if len(models) < 2:
        raise UrvcError(f"An ensemble needs at least two models; got {list(models)}.")
    if weights is not None and len(weights) != len(models):
        raise UrvcError(f"Give one weight per model: {len(models)} models, {len(weights)} weights.")
    results = []
    for model in models:
        separator = separator_for(model, **dict((settings or {}).get(model, {})))
        results.append(separator.separate(audio))
    shared = [name for name in results[0] if all(name in result for result in results[1:])]
    if not shared:
        described = "; ".join(
            f"{model}: {', '.join(result)}" for model, result in zip(models, results, strict=True)
        )
        raise UrvcError(
            f"The models give no stem in common, so nothing can be combined ({described})."
        )
    return {
        name: combine_stems([result[name] for result in results], method, weights=weights)
        for name in shared
    }
