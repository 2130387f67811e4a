"""Voice models fused into a new one (``urvc models fuse``), and compared (``urvc models
compare``).

:func:`fuse_models` reads the models (data only, as every voice model is read), checks
that they can be fused — one version, sample rate and pitch guidance, the same tensors —
blends their stored weights with a fusion method from the registry (``weighted-sum``,
``add-difference``, or a plugin's), and imports the result into the library as a model
in the community's own layout (``weight``, ``config``, ``info``, ``sr``, ``f0``,
``version``), so it loads in urvc and in RVC's and Applio's loaders. Weight-normed
layers are blended as stored, ``weight_g`` with ``weight_g`` and ``weight_v`` with
``weight_v``, as RVC's own checkpoint merge does.

:func:`compare_models` says how alike two models' weights are: the cosine similarity of
all their weights, of each part of the network, and of their speaker embeddings.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urvc_core.backends import FusionMethod
from urvc_core.errors import UrvcError

__all__ = ["ModelComparison", "compare_models", "fuse_models"]

#: The parts of an RVC synthesizer, by the prefix of their tensors' names.
NETWORK_PARTS: dict[str, str] = {
    "enc_p": "encoder",
    "flow": "flow",
    "dec": "decoder",
    "emb_g": "speaker embedding",
}


@dataclass(frozen=True)
class _LoadedModel:
    label: str
    path: Path
    info: Any
    weights: dict[str, Any]


def _load(model: str | Path) -> _LoadedModel:
    from urvc_core.rvc.synthesizer import unfold_weight_norm
    from urvc_core.rvc.voice_model import read_voice_model
    from urvc_core.voices import resolve_voice_model

    entry = resolve_voice_model(model)
    info, weights = read_voice_model(entry.model_path)
    # One naming for every model: RVC's and Applio's weight_g/weight_v.
    return _LoadedModel(entry.name, entry.model_path, info, unfold_weight_norm(weights))


def _check_compatible(models: Sequence[_LoadedModel], doing: str) -> None:
    first = models[0]
    for other in models[1:]:
        for what, value in (
            ("version", lambda m: m.info.version),
            ("sample rate", lambda m: m.info.sample_rate),
            ("pitch guidance", lambda m: m.info.pitch_guidance),
        ):
            if value(first) != value(other):
                raise UrvcError(
                    f"Can't {doing} {first.label} and {other.label}: {first.label} has "
                    f"{what} {value(first)}, {other.label} {value(other)}; {doing} needs "
                    f"models of one version, sample rate and pitch guidance."
                )


def fuse_models(
    models: Sequence[str | Path],
    *,
    name: str,
    weights: Sequence[float] | None = None,
    method: str = "weighted-sum",
    overwrite: bool = False,
) -> Any:
    """Fuse voice models into a new library model ``name``; returns its
    :class:`~urvc_core.voices.VoiceEntry`.

    ``models`` are library names or ``.pth`` paths. ``weights``: for ``weighted-sum``
    one per model (default: equal), scaled to sum to 1; for ``add-difference`` (A + (B −
    C) × w) three models and one multiplier ``w`` (default 1). Another method reads them
    as its documentation says.

    Raises:
        UrvcError: a name that can't be a library name or is taken (without
            ``overwrite``), a model that can't be read, models that differ in version,
            sample rate, pitch guidance or any tensor (named), weights the method
            refuses. Nothing is written to the library then.
    """
    from urvc_core.registry import get_backend
    from urvc_core.rvc.voice_model import save_voice_model
    from urvc_core.voices import check_new_voice_name, import_voice_model

    check_new_voice_name(name, overwrite=overwrite)
    if len(models) < 2:
        raise UrvcError(f"Fusing needs two or more models; got {len(models)}.")
    loaded = [_load(model) for model in models]
    _check_compatible(loaded, "fuse")
    fusion = get_backend("fusion", method)
    assert isinstance(fusion, FusionMethod)
    chosen = list(weights) if weights is not None else None
    blended = fusion.fuse(
        [model.weights for model in loaded],
        chosen if chosen is not None else fusion.default_weights(len(loaded)),
    )
    first = loaded[0]
    shares = ", ".join(model.label for model in loaded)
    given = f" with weights {', '.join(f'{w:g}' for w in chosen)}" if chosen else ""
    metadata: dict[str, Any] = {
        "info": f"urvc fusion of {shares} by {method}{given}",
        "embedder_model": first.info.embedder,
        "vocoder": first.info.vocoder,
    }
    with tempfile.TemporaryDirectory(prefix="urvc-fusion-") as folder:
        written = save_voice_model(
            Path(folder) / f"{name}.pth",
            blended,
            first.info.config,
            first.info.version,
            first.info.pitch_guidance,
            fp16=first.info.dtype == "float16",
            metadata=metadata,
        )
        return import_voice_model(written, name=name, overwrite=overwrite)


@dataclass(frozen=True)
class ModelComparison:
    """How alike two voice models' weights are (cosine similarities, -1 to 1)."""

    first: str
    second: str
    #: Over every weight of the network.
    overall: float
    #: By part of the network (:data:`NETWORK_PARTS`).
    parts: dict[str, float] = field(default_factory=dict)
    #: Of the speaker embeddings (speaker 0's rows, or each model's only speaker).
    speaker: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "overall": round(self.overall, 6),
            "parts": {part: round(value, 6) for part, value in self.parts.items()},
            "speaker": round(self.speaker, 6),
        }


def compare_models(first: str | Path, second: str | Path) -> ModelComparison:
    """The cosine similarity of two voice models' weights, overall, by part and of their
    speaker embeddings. Models of different versions, rates or layouts can't be compared.

    What it says: how far fine-tuning moved two models apart, or where a fusion lies
    between its sources. Models fine-tuned from the same pretrained base score close to
    1 overall (the base dominates) and differ most in the speaker embedding and the
    encoder; it is not a measure of how alike the voices sound.
    """
    import torch

    from urvc_core.builtin.weighted_fusion import check_same_layout

    one, other = _load(first), _load(second)
    _check_compatible([one, other], "compare")
    check_same_layout([one.weights, other.weights])

    def cosine(names: Sequence[str]) -> float:
        a = torch.cat([one.weights[n].detach().double().flatten() for n in names])
        b = torch.cat([other.weights[n].detach().double().flatten() for n in names])
        norms = float(a.norm() * b.norm())
        return float(a @ b) / norms if norms > 0 else 0.0

    floating = [
        name
        for name, tensor in one.weights.items()
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point()
    ]
    parts = {}
    for prefix, part in NETWORK_PARTS.items():
        names = [n for n in floating if n.split(".")[0] == prefix]
        if names:
            parts[part] = cosine(names)
    speaker = 0.0
    if "emb_g.weight" in one.weights:
        a = one.weights["emb_g.weight"][0].double()
        b = other.weights["emb_g.weight"][0].double()
        norms = float(a.norm() * b.norm())
        speaker = float(a @ b) / norms if norms > 0 else 0.0
    return ModelComparison(one.label, other.label, cosine(floating), parts, speaker)
