"""HuBERT-family embedders with random weights, in the Hugging Face layout Applio ships.

``urvc demo`` needs a content embedder on a machine that may have no internet, and tests
and benchmarks need one without downloading ContentVec's 360 MB:

* :func:`build_hf_hubert_folder`: a Hugging Face folder as Applio ships its embedders,
  ``config.json`` plus ``pytorch_model.bin`` (or ``model.safetensors``), with
  ContentVec's ``final_proj`` to 256 dims, which
  :func:`~urvc_core.builtin.hubert_network.load_hubert` (and so the ``custom`` embedder)
  reads like a downloaded one;
* :func:`full_size_contentvec_folder`: HuBERT base's real dimensions, for benchmarks.

The tiny models keep HuBERT's real convolution kernels and strides (one frame per 320
samples) and twelve transformer layers, so layer 9 and layer 12 both exist, but are
only ``hidden_size`` wide (32 by default). RVC v2 voice models need 768-dim features:
``hidden_size=768`` gives that width with small feed-forward and convolution layers
(33 M parameters, 130 MB on disk, a second or two to build).

Every parameter gets a distinct random value (layer-norm scales and biases included), so
two weights swapped by a wrong name mapping change the features. Tests import these
functions from :mod:`urvc_core.testing.embedder_models`, which also writes the same
weights as a fairseq checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch
    from transformers import HubertConfig

__all__ = [
    "PROJECTION_SIZE",
    "REAL_HIDDEN_SIZE",
    "TINY_HIDDEN_SIZE",
    "build_hf_hubert_folder",
    "full_size_contentvec_folder",
    "hubert_config",
    "random_hubert_weights",
]

TINY_HIDDEN_SIZE = 32
#: HuBERT base's width: what RVC v2 voice models take.
REAL_HIDDEN_SIZE = 768
#: ContentVec's final projection width: what RVC v1 voice models take.
PROJECTION_SIZE = 256

WeightsFormat = Literal["bin", "safetensors"]


def hubert_config(
    *, hidden_size: int = TINY_HIDDEN_SIZE, layers: int = 12, full_size: bool = False
) -> HubertConfig:
    """The configuration of a model built here: HuBERT base's when ``full_size``, else a
    small one with HuBERT's convolution stack."""
    from transformers import HubertConfig

    if full_size:
        return HubertConfig(classifier_proj_size=PROJECTION_SIZE)
    if hidden_size % 4:
        raise ValueError(f"hidden_size must be a multiple of 4, not {hidden_size}")
    wide = hidden_size >= 128
    return HubertConfig(
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        # 64-wide heads as in HuBERT base once the width allows it.
        num_attention_heads=hidden_size // 64 if wide and hidden_size % 64 == 0 else 2,
        intermediate_size=256 if wide else 2 * hidden_size,
        conv_dim=(32,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=16 if wide else 4,
        classifier_proj_size=PROJECTION_SIZE,
    )


def random_hubert_weights(
    config: HubertConfig, *, with_final_proj: bool = True, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Random weights for ``config`` under transformers' names (plus ``final_proj.*``)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    # Built on the meta device: only the names and shapes are wanted, and skipping
    # transformers' own initialisation saves most of the time for a 768-wide model.
    template = _meta_model(config, with_final_proj=with_final_proj)
    return {
        name: _random_like(name, tensor, generator)
        for name, tensor in template.state_dict().items()
    }


def _random_like(name: str, parameter: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    import torch

    noise = torch.randn(parameter.shape, generator=generator)
    if name.endswith("original0") or name.endswith("weight_g"):
        # Weight-norm magnitudes are positive. Kept small: a loud positional convolution
        # drowns the frame's own content, and the layer norm after it then magnifies
        # rounding (bfloat16 runs would be off by half).
        return 0.1 * (0.5 + noise.abs())
    if parameter.ndim >= 2:
        fan_in = parameter[0].numel()
        scaled = noise / fan_in**0.5
        # Untrained attention is nearly uniform, so each layer's attention branch adds
        # the utterance's average to every frame; at full strength twelve layers wash
        # out the input and every sound gives the same features. Quieter residual
        # branches keep features moving with the speech, as a trained model's do.
        if name.endswith("out_proj.weight"):
            return 0.3 * scaled
        if name.endswith("output_dense.weight"):
            return 0.5 * scaled
        return scaled
    if "norm" in name and name.endswith("weight"):
        return 1.0 + 0.1 * noise
    return 0.1 * noise


def build_hf_hubert_folder(
    path: Path,
    *,
    with_final_proj: bool = True,
    hidden_size: int = TINY_HIDDEN_SIZE,
    layers: int = 12,
    seed: int = 0,
    weights_format: WeightsFormat = "bin",
    full_size: bool = False,
) -> Path:
    """Save a random HuBERT (ContentVec-like with ``final_proj``) as a Hugging Face folder.

    The model is written with transformers' ``save_pretrained`` (``config.json`` and
    ``model.safetensors``). ``weights_format="bin"`` then swaps the safetensors file for
    a ``pytorch_model.bin`` with the positional convolution's weight-norm halves named
    ``weight_g``/``weight_v``, as in the files Applio hosts (saved by transformers 4).
    Returns the folder.
    """
    import torch
    from transformers.utils import logging as transformers_logging

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    config = hubert_config(hidden_size=hidden_size, layers=layers, full_size=full_size)
    weights = random_hubert_weights(config, with_final_proj=with_final_proj, seed=seed)
    model = _meta_model(config, with_final_proj=with_final_proj)
    model.load_state_dict(weights, strict=True, assign=True)
    with _quiet_transformers(transformers_logging):
        model.save_pretrained(folder)
    if weights_format == "bin":
        (folder / "model.safetensors").unlink()
        legacy = {_legacy_weight_norm_name(name): tensor for name, tensor in weights.items()}
        torch.save(legacy, folder / "pytorch_model.bin")
    return folder


def full_size_contentvec_folder(
    path: Path, *, seed: int = 0, weights_format: WeightsFormat = "bin"
) -> Path:
    """A folder shaped exactly like ContentVec's (HuBERT base + final_proj), random weights.

    95 M parameters, 378 MB on disk: for benchmarks, not for unit tests.
    """
    return build_hf_hubert_folder(path, seed=seed, weights_format=weights_format, full_size=True)


def _legacy_weight_norm_name(name: str) -> str:
    return name.replace(".parametrizations.weight.original0", ".weight_g").replace(
        ".parametrizations.weight.original1", ".weight_v"
    )


def _meta_model(config: HubertConfig, *, with_final_proj: bool) -> Any:
    """An uninitialised HubertModel (ContentVec's HubertModelWithFinalProj with a projection)."""
    import torch
    from transformers import HubertModel

    class HubertModelWithFinalProj(HubertModel):
        """ContentVec's published class: a HubertModel with a ``final_proj`` Linear on top."""

        def __init__(self, config: HubertConfig) -> None:
            super().__init__(config)
            self.final_proj = torch.nn.Linear(config.hidden_size, config.classifier_proj_size)

    with torch.device("meta"):
        return HubertModelWithFinalProj(config) if with_final_proj else HubertModel(config)


@contextmanager
def _quiet_transformers(transformers_logging: Any) -> Iterator[None]:
    """save_pretrained draws a progress bar per shard: noise on stderr for one small file."""
    were_disabled = transformers_logging.is_progress_bar_enabled() is False
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if not were_disabled:
            transformers_logging.enable_progress_bar()
