"""Random HuBERT-family embedders for tests, in both layouts users download.

Tests of anything that needs content features (embedders, voice conversion) build one
of these instead of downloading ContentVec's 360 MB:

* :func:`build_hf_hubert_folder`, :func:`full_size_contentvec_folder`: Hugging Face
  folders as Applio ships its embedders; ``urvc demo`` makes its embedder with them, so
  they live in :mod:`urvc_core.builtin.random_hubert_models` and are re-exported here;
* :func:`build_fairseq_hubert_checkpoint`: the same weights as a fairseq checkpoint
  (``hubert_base.pt``'s key names and a pickled configuration object whose class
  lives in a throwaway module, so a test can check that loading never imports it).

The same ``seed`` and sizes give the same weights in both layouts.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from urvc_core.builtin.random_hubert_models import (
    PROJECTION_SIZE,
    REAL_HIDDEN_SIZE,
    TINY_HIDDEN_SIZE,
    build_hf_hubert_folder,
    full_size_contentvec_folder,
    hubert_config,
    random_hubert_weights,
)

if TYPE_CHECKING:
    from transformers import HubertConfig

__all__ = [
    "CFG_STANDIN_MODULE",
    "PROJECTION_SIZE",
    "REAL_HIDDEN_SIZE",
    "TINY_HIDDEN_SIZE",
    "build_fairseq_hubert_checkpoint",
    "build_hf_hubert_folder",
    "full_size_contentvec_folder",
    "hubert_config",
    "random_hubert_weights",
]

#: The module holding the fairseq configuration stand-in; it is written beside the
#: checkpoint and taken out of ``sys.modules`` once the checkpoint is saved.
CFG_STANDIN_MODULE = "urvc_fairseq_cfg_standin"

ConfigStyle = Literal["cfg", "args", "none"]

# Imitates how fairseq pickles its configuration: an omegaconf DictConfig keeps its
# entries under ``_content``, each wrapped in a node that keeps the value under ``_val``.
_CFG_STANDIN_SOURCE = textwrap.dedent(
    '''
    """Stand-ins for omegaconf's DictConfig and value node, pickled the way fairseq does."""


    class DictConfig:
        def __init__(self, content):
            self._metadata = {"object_type": "dict"}
            self._parent = None
            self._content = content


    class AnyNode:
        def __init__(self, value):
            self._metadata = {"optional": True}
            self._parent = None
            self._val = value
    '''
)


def build_fairseq_hubert_checkpoint(
    path: Path,
    *,
    with_final_proj: bool = True,
    hidden_size: int = TINY_HIDDEN_SIZE,
    layers: int = 12,
    seed: int = 0,
    config_style: ConfigStyle = "cfg",
    normalize: bool = False,
    half: bool = False,
    full_size: bool = False,
    extra_entries: dict[str, Any] | None = None,
) -> Path:
    """Save the weights :func:`build_hf_hubert_folder` makes as a fairseq HuBERT checkpoint.

    The file holds ``{"cfg" or "args", "model": state dict}`` with fairseq's names
    (``feature_extractor.conv_layers.0.0.weight``, ``post_extract_proj``,
    ``encoder.pos_conv.0.weight_g``, ``encoder.layers.N.self_attn.*``, ``final_proj``,
    ``label_embs_concat``, ``mask_emb``...). ``config_style`` picks the configuration:
    ``"cfg"``, a DictConfig stand-in whose class lives in the module
    :data:`CFG_STANDIN_MODULE` (written beside the checkpoint); ``"args"``, an
    ``argparse.Namespace`` as older checkpoints carry; ``"none"``, no configuration.
    ``half`` stores float16 tensors, as RVC's ``hubert_base.pt`` does; ``full_size`` gives
    HuBERT base's dimensions, as :func:`full_size_contentvec_folder`. ``extra_entries``
    are added to the top level (a test's hostile object, say). Returns the file.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = hubert_config(hidden_size=hidden_size, layers=layers, full_size=full_size)
    weights = random_hubert_weights(config, with_final_proj=with_final_proj, seed=seed)
    state = {_fairseq_name(name): tensor for name, tensor in weights.items()}
    # Cluster label embeddings: training state every real HuBERT checkpoint carries.
    state["label_embs_concat"] = torch.randn(504, PROJECTION_SIZE)
    if half:
        state = {name: tensor.half() for name, tensor in state.items()}

    model_settings: dict[str, Any] = {
        "_name": "hubert",
        "extractor_mode": "default",
        "encoder_layers": config.num_hidden_layers,
        "encoder_embed_dim": config.hidden_size,
        "encoder_ffn_embed_dim": config.intermediate_size,
        "encoder_attention_heads": config.num_attention_heads,
        "activation_fn": "gelu",
        "layer_norm_first": False,
        "conv_feature_layers": _conv_feature_layers_spec(config),
        "conv_bias": False,
        "conv_pos": config.num_conv_pos_embeddings,
        "conv_pos_groups": config.num_conv_pos_embedding_groups,
        "final_dim": PROJECTION_SIZE,
    }
    task_settings: dict[str, Any] = {
        "_name": "hubert_pretraining",
        "normalize": normalize,
        "sample_rate": 16000,
        "labels": ["km"],
    }
    checkpoint: dict[str, Any] = {"model": state, "optimizer_history": [{"num_updates": 0}]}
    if config_style == "args":
        # Pre-Hydra fairseq kept one flat namespace for model and task alike.
        checkpoint["args"] = argparse.Namespace(**{**task_settings, **model_settings})
        checkpoint["cfg"] = None
        torch.save({**checkpoint, **(extra_entries or {})}, path)
    elif config_style == "cfg":
        with _cfg_standin_module(path.parent) as standin:

            def section(settings: dict[str, Any]) -> Any:
                return standin.DictConfig(
                    {key: standin.AnyNode(value) for key, value in settings.items()}
                )

            checkpoint["cfg"] = standin.DictConfig(
                {"model": section(model_settings), "task": section(task_settings)}
            )
            torch.save({**checkpoint, **(extra_entries or {})}, path)
    else:
        torch.save({**checkpoint, **(extra_entries or {})}, path)
    return path


@contextmanager
def _cfg_standin_module(folder: Path) -> Iterator[Any]:
    """The stand-in module, importable while the checkpoint is pickled, forgotten after."""
    source = folder / f"{CFG_STANDIN_MODULE}.py"
    source.write_text(_CFG_STANDIN_SOURCE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(CFG_STANDIN_MODULE, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # pickle finds a class through sys.modules by its module's name.
    sys.modules[CFG_STANDIN_MODULE] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(CFG_STANDIN_MODULE, None)


def _conv_feature_layers_spec(config: HubertConfig) -> str:
    """fairseq's way of writing the convolution stack: ``"[(dim, kernel, stride)] * n + ..."``."""
    layers = list(zip(config.conv_dim, config.conv_kernel, config.conv_stride, strict=True))
    parts: list[str] = []
    index = 0
    while index < len(layers):
        run = 1
        while index + run < len(layers) and layers[index + run] == layers[index]:
            run += 1
        dim, kernel, stride = layers[index]
        parts.append(f"[({dim}, {kernel}, {stride})]" + (f" * {run}" if run > 1 else ""))
        index += run
    return " + ".join(parts)


def _fairseq_name(name: str) -> str:
    """fairseq's name for a transformers HuBERT weight, written from fairseq's module tree.

    This is deliberately a separate table from the loader's translation, so that a
    test comparing the two layouts checks the loader against fairseq's layout rather
    than against itself.
    """
    parts = name.split(".")
    if name == "masked_spec_embed":
        return "mask_emb"
    if name.startswith("final_proj."):
        return name
    if parts[0] == "feature_extractor":
        # conv_layers.{i}.conv -> conv_layers.{i}.0 ; the group norm of block 0 -> .2
        index, module, leaf = parts[2], parts[3], parts[4]
        position = {"conv": "0", "layer_norm": "2"}[module]
        return f"feature_extractor.conv_layers.{index}.{position}.{leaf}"
    if parts[0] == "feature_projection":
        module = {"layer_norm": "layer_norm", "projection": "post_extract_proj"}[parts[1]]
        return f"{module}.{parts[2]}"
    if name.startswith("encoder.pos_conv_embed.conv."):
        leaf = {
            "bias": "bias",
            "parametrizations.weight.original0": "weight_g",
            "parametrizations.weight.original1": "weight_v",
            "weight_g": "weight_g",
            "weight_v": "weight_v",
        }[name.removeprefix("encoder.pos_conv_embed.conv.")]
        return f"encoder.pos_conv.0.{leaf}"
    if name.startswith("encoder.layer_norm."):
        return name
    if parts[:2] == ["encoder", "layers"]:
        index, rest = parts[2], ".".join(parts[3:])
        for ours, theirs in (
            ("attention.", "self_attn."),
            ("layer_norm.", "self_attn_layer_norm."),
            ("feed_forward.intermediate_dense.", "fc1."),
            ("feed_forward.output_dense.", "fc2."),
            ("final_layer_norm.", "final_layer_norm."),
        ):
            if rest.startswith(ours):
                return f"encoder.layers.{index}.{theirs}{rest.removeprefix(ours)}"
    raise ValueError(f"no fairseq name known for {name}")
