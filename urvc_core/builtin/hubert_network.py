"""Content feature models: HuBERT, ContentVec and their relatives, loaded without fairseq.

RVC describes *what* is sung with the hidden states of a HuBERT-family model, one
vector per 20 ms of 16 kHz audio: v1 voice models take layer 9 through the model's
final projection (256 values), v2 models take layer 12 as it is (768 values).

Such models reach users in two layouts, and :func:`load_hubert` reads both into the
same transformers ``HubertModel``:

* a Hugging Face folder, as Applio and Ultimate RVC ship them: ``config.json`` plus
  ``pytorch_model.bin`` or ``model.safetensors``, ContentVec's with a ``final_proj``
  (768 -> 256) next to the HuBERT weights;
* a fairseq checkpoint (``hubert_base.pt``, ``contentvec*.pt``,
  ``chinese-hubert-base.pt``...): ``{"cfg" or "args", "model": state dict}``. fairseq
  is not needed and never imported: the file is read with
  :func:`~urvc_core.rvc.checkpoints.load_checkpoint`, whose configuration objects come
  out inert; the weights' names are translated to transformers' names, and the
  hyper-parameters come from the tensors' shapes where a shape tells them and from
  the configuration record (or HuBERT base's values) where it does not.

The forward pass follows fairseq's ``HubertModel.extract_features(output_layer=N)``,
which is what RVC calls: no attention mask for a single utterance, the waveform
layer-normalised only for models trained that way, and the encoder stopped after
layer N (so v1's layer 9 costs three layers less than v2's layer 12).

This module is the network and its loading; the ``contentvec``, ``hubert-base``, ...
and ``custom`` embedder backends in :mod:`urvc_core.builtin.hubert_embedders` find the
weights and run it.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from urvc_core.errors import UrvcError
from urvc_core.rvc.checkpoints import InertObject, load_checkpoint

if TYPE_CHECKING:
    import torch
    from transformers import HubertConfig, HubertModel

__all__ = ["HubertFeatureModel", "load_hubert", "load_hubert_files"]

#: Weight file names of a Hugging Face folder, in the order they are looked for.
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

#: HuBERT base's convolution strides: a hop of 320 samples, 20 ms at 16 kHz. Strides
#: leave no trace in the weights, so a checkpoint without a configuration gets these.
_BASE_CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)

#: Where the feature network's weights live in a transformers HubertModel. A weight
#: under one of these that the model has no place for means the file holds another
#: architecture; weights elsewhere (CTC heads, cluster embeddings) are not used for
#: features and are left out.
_NETWORK_PREFIXES = ("feature_extractor.", "feature_projection.", "encoder.")

#: Weights a model may lack without harm: the training-time mask vector.
_OPTIONAL_MODEL_KEYS = frozenset({"masked_spec_embed"})

#: fairseq activation names and the transformers names of the same functions.
_FAIRSEQ_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_accurate": "gelu_new",  # fairseq's tanh approximation
    "relu": "relu",
    "tanh": "tanh",
    "linear": "linear",
}

# fairseq name -> transformers name. The feature extractor's layer norm sits at index 2
# of each conv block ("default" mode: a GroupNorm in block 0 only) or at 2.1 ("layer_norm"
# mode: a LayerNorm between two transposes in every block).
_FAIRSEQ_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^feature_extractor\.conv_layers\.(\d+)\.0\.", r"feature_extractor.conv_layers.\1.conv."),
        (
            r"^feature_extractor\.conv_layers\.(\d+)\.2\.(?:1\.)?",
            r"feature_extractor.conv_layers.\1.layer_norm.",
        ),
        (r"^layer_norm\.", "feature_projection.layer_norm."),
        (r"^post_extract_proj\.", "feature_projection.projection."),
        (r"^encoder\.pos_conv\.0\.", "encoder.pos_conv_embed.conv."),
        (r"^encoder\.layer_norm\.", "encoder.layer_norm."),
        (r"^encoder\.layers\.(\d+)\.self_attn\.", r"encoder.layers.\1.attention."),
        (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.", r"encoder.layers.\1.layer_norm."),
        (r"^encoder\.layers\.(\d+)\.fc1\.", r"encoder.layers.\1.feed_forward.intermediate_dense."),
        (r"^encoder\.layers\.(\d+)\.fc2\.", r"encoder.layers.\1.feed_forward.output_dense."),
        (r"^encoder\.layers\.(\d+)\.final_layer_norm\.", r"encoder.layers.\1.final_layer_norm."),
        (r"^mask_emb$", "masked_spec_embed"),
        (r"^final_proj\.", "final_proj."),
    )
)

#: fairseq training state that has no part in features: the cluster label embeddings.
_FAIRSEQ_TRAINING_ONLY = re.compile(r"^label_embs(_concat)?$")

_FAIRSEQ_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.")


class HubertFeatureModel:
    """A loaded HuBERT-family model that turns 16 kHz speech into content features.

    Build one with :func:`load_hubert`. :meth:`features` is the whole interface; the
    transformers model is there as ``model`` for callers that need more.
    """

    def __init__(
        self,
        model: HubertModel,
        final_proj: torch.nn.Linear | None,
        *,
        normalize_audio: bool,
        source: Path,
    ) -> None:
        self.model = model.eval()
        self.final_proj = final_proj.eval() if final_proj is not None else None
        #: Whether the waveform is layer-normalised first, as the model was trained.
        self.normalize_audio = normalize_audio
        #: The folder or file the weights came from, for messages.
        self.source = source

    @property
    def hidden_size(self) -> int:
        """Width of a transformer layer's output (768 for HuBERT base and ContentVec)."""
        return int(self.model.config.hidden_size)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def projection_size(self) -> int | None:
        """Width of the final projection's output (256 for ContentVec), or None without one."""
        return None if self.final_proj is None else int(self.final_proj.out_features)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The arithmetic the model runs in (float32 unless moved with :meth:`to`)."""
        return next(self.model.parameters()).dtype

    def to(
        self, device: str | torch.device | None = None, dtype: torch.dtype | None = None
    ) -> HubertFeatureModel:
        """Move the model (and its projection) to ``device`` and/or ``dtype``; returns self.

        float16 on a GPU or bfloat16 on a CPU that has it run faster; features still
        come out as float32.
        """
        self.model.to(device=device, dtype=dtype)
        if self.final_proj is not None:
            self.final_proj.to(device=device, dtype=dtype)
        return self

    def frame_count(self, num_samples: int) -> int:
        """How many feature frames ``num_samples`` samples give (HuBERT base: (n - 80) // 320)."""
        frames = num_samples
        for kernel, stride in zip(
            self.model.config.conv_kernel, self.model.config.conv_stride, strict=True
        ):
            frames = (frames - kernel) // stride + 1
            if frames <= 0:
                return 0
        return frames

    def features(self, samples16k: torch.Tensor, *, layer: int, project: bool) -> torch.Tensor:
        """Content features of mono 16 kHz samples: float32 ``(frames, dim)`` on the model's device.

        ``layer`` picks the transformer layer whose output is returned, counting from
        1 (RVC v1: 9, v2: 12); ``project=True`` passes it through the final projection.
        Audio shorter than the convolutions' reach (400 samples) gives zero frames.
        """
        import torch

        self._check_request(layer, project)
        samples = samples16k.detach()
        if samples.ndim == 2 and samples.shape[0] == 1:
            samples = samples[0]
        if samples.ndim != 1:
            raise UrvcError(
                f"Content features need mono samples shaped (samples,); got shape "
                f"{tuple(samples.shape)}. Mix the audio down to one channel first."
            )
        width = self.projection_size if project else self.hidden_size
        device = self.device
        if self.frame_count(int(samples.shape[0])) == 0:
            return torch.zeros((0, int(width or 0)), dtype=torch.float32, device=device)
        waveform = samples.to(device=device, dtype=torch.float32).reshape(1, -1)
        if not bool(torch.isfinite(waveform).all()):
            raise UrvcError("The audio contains NaN or infinite samples; fix the input audio.")
        # no_grad rather than inference_mode: callers (the conversion pipeline) may
        # update the features in place, which inference tensors forbid.
        with torch.no_grad():
            if self.normalize_audio:
                waveform = torch.nn.functional.layer_norm(waveform, waveform.shape[-1:])
            hidden = self._hidden_states_at(waveform.to(self.dtype), layer)
            if project:
                assert self.final_proj is not None  # checked above
                hidden = self.final_proj(hidden)
        return hidden[0].float()

    def _check_request(self, layer: int, project: bool) -> None:
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise UrvcError(f"The feature layer must be a whole number; got {layer!r}.")
        if not 1 <= layer <= self.num_layers:
            raise UrvcError(
                f"Layer {layer} is out of range for the embedder {self.source}: it has "
                f"{self.num_layers} transformer layers, so use 1 to {self.num_layers} "
                f"(RVC v1 uses 9, v2 uses 12)."
            )
        if project and self.final_proj is None:
            raise UrvcError(
                f"The embedder {self.source} has no final projection (final_proj), so it "
                f"can't give projected (RVC v1, 256-dim) features; use project=False with "
                f"an RVC v2 voice model, or an embedder that has one, such as contentvec."
            )

    def _hidden_states_at(self, waveform: torch.Tensor, layer: int) -> torch.Tensor:
        """The output of transformer layer ``layer`` for a (1, samples) waveform."""
        model = self.model
        convolved = model.feature_extractor(waveform).transpose(1, 2)
        projected = model.feature_projection(convolved)
        # transformers 4.x returns (hidden, normed) here, 5.x the hidden states alone.
        hidden = projected[0] if isinstance(projected, tuple) else projected
        encoder = model.encoder
        hidden = hidden + encoder.pos_conv_embed(hidden)
        if not model.config.do_stable_layer_norm:
            # Post-norm models (all base models) normalise before the first layer. A
            # pre-norm model's closing layer norm is left out: fairseq skips it too when
            # asked for a given layer, which is how RVC asks.
            hidden = encoder.layer_norm(hidden)
        for block in encoder.layers[:layer]:
            output = block(hidden, attention_mask=None)
            hidden = output[0] if isinstance(output, tuple) else output
        return hidden


def load_hubert(path: Path, *, device: str = "cpu") -> HubertFeatureModel:
    """Load a HuBERT-family model from a Hugging Face folder or a fairseq checkpoint.

    ``path`` is a folder holding ``config.json`` and ``pytorch_model.bin`` or
    ``model.safetensors``; or one of those weight files, with ``config.json`` beside
    it; or a fairseq ``.pt`` file. Raises UrvcError naming the file for anything
    missing, unreadable, or weights that don't fit a HuBERT model.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return _load_folder(path, device)
    if not path.exists():
        raise UrvcError(
            f"The embedder {path} does not exist; give a folder with config.json and "
            f"pytorch_model.bin, or a fairseq .pt file."
        )
    if path.name in HF_WEIGHT_FILES or path.suffix == ".safetensors":
        return load_hubert_files(path.parent / "config.json", path, device=device)
    return _load_fairseq(path, device)


def load_hubert_files(
    config_file: Path, weights_file: Path, *, device: str = "cpu"
) -> HubertFeatureModel:
    """Load a Hugging Face style model from its ``config.json`` and weight file.

    The two may lie in different folders, as when the weights were given by hand in
    ``[asset_paths]`` and the configuration was downloaded.
    """
    config_file = Path(config_file).expanduser()
    weights_file = Path(weights_file).expanduser()
    if not config_file.is_file():
        raise UrvcError(
            f"The embedder weights {weights_file} need the config.json that came with "
            f"them, expected at {config_file}; put it there."
        )
    if not weights_file.is_file():
        raise UrvcError(f"The embedder weights {weights_file} do not exist.")
    raw_config = _read_config_json(config_file)
    state = _read_hf_weights(weights_file)
    return _assemble(
        _hubert_config(raw_config, config_file),
        state,
        source=weights_file,
        normalize_audio=_hf_normalizes_audio(raw_config),
        device=device,
    )


def _load_folder(folder: Path, device: str) -> HubertFeatureModel:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UrvcError(
            f"The embedder folder {folder} has no config.json. A Hugging Face style "
            f"embedder folder holds config.json and pytorch_model.bin (or "
            f"model.safetensors); download the model's config.json into it, or give the "
            f"path of a fairseq .pt file instead."
        )
    for name in HF_WEIGHT_FILES:
        if (folder / name).is_file():
            return load_hubert_files(config_file, folder / name, device=device)
    raise UrvcError(
        f"The embedder folder {folder} has a config.json but no weights: expected "
        f"{' or '.join(HF_WEIGHT_FILES)} in it. Download the weights into that folder."
    )


def _read_config_json(config_file: Path) -> dict[str, Any]:
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UrvcError(
            f"The embedder configuration {config_file} can't be read as JSON ({exc}); "
            f"download it again."
        ) from exc
    if not isinstance(raw, dict):
        raise UrvcError(f"The embedder configuration {config_file} is not a JSON object.")
    model_type = raw.get("model_type", "hubert")
    if model_type != "hubert":
        raise UrvcError(
            f"The embedder configuration {config_file} describes a '{model_type}' model; "
            f"urvc's embedders load HuBERT-family models (HuBERT, ContentVec, SPIN) only."
        )
    return raw


def _hubert_config(raw: Mapping[str, Any], config_file: Path) -> HubertConfig:
    from transformers import HubertConfig

    try:
        return HubertConfig.from_dict(dict(raw))
    except Exception as exc:
        # transformers validates through huggingface_hub's own exception classes, which
        # differ between versions; whatever it raises, the JSON is what is wrong.
        raise UrvcError(
            f"The embedder configuration {config_file} is not a valid HuBERT "
            f"configuration ({_last_line(exc)}); download it again."
        ) from exc


def _hf_normalizes_audio(raw: Mapping[str, Any]) -> bool:
    # fairseq trained its layer-norm feature extractors (HuBERT large and up) on
    # normalised waveforms and its group-norm ones (every base model RVC uses) on raw
    # ones, and transformers' conversion keeps that pairing. Preprocessor files are not
    # consulted: Applio's folders have none, and some published ones disagree with
    # how the model was trained.
    return raw.get("feat_extract_norm", "group") == "layer"


def _read_hf_weights(weights_file: Path) -> dict[str, torch.Tensor]:
    if weights_file.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            loaded: Any = load_file(str(weights_file))
        except (SafetensorError, OSError, ValueError) as exc:
            raise UrvcError(
                f"The embedder weights {weights_file} can't be read as safetensors "
                f"({exc}); download them again."
            ) from exc
    else:
        loaded = load_checkpoint(weights_file, what="embedder weights")
        if isinstance(loaded, Mapping) and isinstance(loaded.get("state_dict"), Mapping):
            loaded = loaded["state_dict"]
    return _tensors_only(loaded, weights_file)


def _tensors_only(loaded: Any, source: Path) -> dict[str, torch.Tensor]:
    import torch

    if not isinstance(loaded, Mapping):
        raise UrvcError(
            f"The embedder weights {source} hold a {type(loaded).__name__}, not a table "
            f"of named tensors; this is not a model file urvc can use."
        )
    return {
        str(name): tensor.float()
        for name, tensor in loaded.items()
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point()
    }


# --- fairseq checkpoints -------------------------------------------------------------


def _load_fairseq(path: Path, device: str) -> HubertFeatureModel:
    checkpoint = load_checkpoint(path, what="embedder")
    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("model"), Mapping):
        state = _tensors_only(checkpoint["model"], path)
    elif isinstance(checkpoint, Mapping):
        # A bare state dict saved with torch.save: no configuration, shapes only.
        state = _tensors_only(checkpoint, path)
    else:
        raise UrvcError(
            f"The embedder {path} is not a fairseq checkpoint: it holds a "
            f"{type(checkpoint).__name__} rather than a 'model' table of weights."
        )
    if "feature_projection.projection.weight" in state or any(
        name.startswith("feature_extractor.conv_layers.0.conv.") for name in state
    ):
        raise UrvcError(
            f"The embedder {path} holds Hugging Face style weights without their "
            f"configuration; put it in a folder as pytorch_model.bin next to its "
            f"config.json and give the folder."
        )
    model_cfg, task_cfg = _fairseq_config_sections(checkpoint)
    renamed, recognised = _rename_fairseq_weights(state)
    if not recognised:
        raise _maps_onto_nothing(path, list(state))
    config = _config_from_fairseq(renamed, model_cfg, path)
    return _assemble(
        config,
        renamed,
        source=path,
        normalize_audio=bool(task_cfg.get("normalize", False)),
        device=device,
    )


def _rename_fairseq_weights(
    state: Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], bool]:
    """fairseq weights under transformers' names, and whether any name was recognised.

    Names no rule knows keep their fairseq name, so that the checks that follow can
    name them in their messages.
    """
    renamed: dict[str, torch.Tensor] = {}
    recognised = False
    for name, tensor in state.items():
        if _FAIRSEQ_TRAINING_ONLY.match(name):
            continue
        new_name = name
        for pattern, replacement in _FAIRSEQ_RENAMES:
            new_name, count = pattern.subn(replacement, name, count=1)
            if count:
                recognised = True
                break
        renamed[new_name] = tensor
    return renamed, recognised


def _fairseq_config_sections(checkpoint: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model and task settings of a fairseq checkpoint, as plain dicts (maybe empty).

    Hydra-era checkpoints keep ``cfg`` (an omegaconf DictConfig, or the plain dict
    fairseq makes of one) with ``model`` and ``task`` sections; older ones keep one
    flat ``argparse.Namespace`` in ``args``. Either arrives here as inert records.
    """
    if not isinstance(checkpoint, Mapping):
        return {}, {}
    cfg = _plain_value(checkpoint.get("cfg"))
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        task = cfg.get("task")
        return cfg["model"], task if isinstance(task, dict) else {}
    args = _plain_value(checkpoint.get("args"))
    if isinstance(args, dict):
        return args, args
    return {}, {}


def _plain_value(value: Any, depth: int = 0) -> Any:
    """Dicts, lists and plain values from inert records of configuration objects.

    An omegaconf DictConfig pickles its entries under ``_content``, each a node whose
    value is under ``_val``; an argparse.Namespace pickles its ``__dict__``; an Enum
    member is rebuilt by calling its class with its value. ``_parent`` links are never
    followed, and depth is bounded, so a hostile file cannot make this loop.
    """
    if depth > 24:
        return None
    if isinstance(value, InertObject):
        state = value.state
        if isinstance(state, dict) and "_content" in state:
            return _plain_value(state["_content"], depth + 1)
        if isinstance(state, dict) and "_val" in state:
            return _plain_value(state["_val"], depth + 1)
        if isinstance(state, dict):
            return _plain_value(state, depth + 1)
        arguments: tuple[Any, ...] = getattr(value, "args", ())
        if state is None and len(arguments) == 1 and isinstance(arguments[0], (str, int, float)):
            return arguments[0]
        return None
    if isinstance(value, Mapping):
        return {
            key: _plain_value(item, depth + 1)
            for key, item in value.items()
            if isinstance(key, str) and key not in ("_parent", "_metadata")
        }
    if isinstance(value, (list, tuple)):
        return [_plain_value(item, depth + 1) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return None


def _config_from_fairseq(
    state: Mapping[str, torch.Tensor], model_cfg: Mapping[str, Any], source: Path
) -> HubertConfig:
    """A HubertConfig for fairseq weights: shapes where they tell, the cfg where not."""
    from transformers import HubertConfig

    def required(name: str) -> torch.Tensor:
        if name not in state:
            raise _missing_weight(source, name)
        return state[name]

    conv_indices = sorted(
        int(match.group(1))
        for name in state
        if (match := re.match(r"^feature_extractor\.conv_layers\.(\d+)\.conv\.weight$", name))
    )
    if not conv_indices:
        raise _missing_weight(source, "feature_extractor.conv_layers.0.conv.weight")
    conv_weights = [
        required(f"feature_extractor.conv_layers.{index}.conv.weight")
        for index in range(max(conv_indices) + 1)
    ]
    conv_dim = [int(weight.shape[0]) for weight in conv_weights]
    conv_kernel = [int(weight.shape[2]) for weight in conv_weights]
    conv_stride = _fairseq_conv_strides(model_cfg, len(conv_weights), source)

    hidden_size = int(required("encoder.layer_norm.weight").shape[0])
    layer_indices = {int(match.group(1)) for name in state if (match := _FAIRSEQ_LAYER.match(name))}
    num_layers = max(layer_indices) + 1 if layer_indices else 0
    if num_layers == 0:
        raise _missing_weight(source, "encoder.layers.0.attention.q_proj.weight")
    intermediate_size = int(
        required("encoder.layers.0.feed_forward.intermediate_dense.weight").shape[0]
    )
    pos_conv_v = state.get("encoder.pos_conv_embed.conv.weight_v")
    if pos_conv_v is None:
        raise _missing_weight(source, "encoder.pos_conv_embed.conv.weight_v")
    pos_kernel = int(pos_conv_v.shape[2])
    pos_groups = hidden_size // int(pos_conv_v.shape[1])

    # Attention heads leave no trace in the weights; base and large models use 64-wide heads.
    heads = _cfg_int(model_cfg, "encoder_attention_heads", max(1, hidden_size // 64))
    activation = str(model_cfg.get("activation_fn", "gelu"))
    if activation not in _FAIRSEQ_ACTIVATIONS:
        raise UrvcError(
            f"The embedder {source} uses the activation '{activation}', which urvc does "
            f"not know; known: {', '.join(_FAIRSEQ_ACTIVATIONS)}."
        )
    final_proj = state.get("final_proj.weight")
    extractor_is_layer_norm = any(
        name.startswith(f"feature_extractor.conv_layers.{len(conv_weights) - 1}.layer_norm.")
        for name in state
    )
    try:
        return HubertConfig(
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=heads,
            intermediate_size=intermediate_size,
            hidden_act=_FAIRSEQ_ACTIVATIONS[activation],
            feat_extract_norm="layer" if extractor_is_layer_norm else "group",
            feat_extract_activation="gelu",
            conv_dim=conv_dim,
            conv_kernel=conv_kernel,
            conv_stride=conv_stride,
            conv_bias="feature_extractor.conv_layers.0.conv.bias" in state,
            num_conv_pos_embeddings=pos_kernel,
            num_conv_pos_embedding_groups=pos_groups,
            do_stable_layer_norm=bool(model_cfg.get("layer_norm_first", False)),
            feat_proj_layer_norm=True,
            layer_norm_eps=1e-5,
            classifier_proj_size=int(final_proj.shape[0]) if final_proj is not None else 256,
        )
    except Exception as exc:  # see _hubert_config
        raise UrvcError(
            f"The embedder {source} describes a model urvc can't build ({_last_line(exc)})."
        ) from exc


def _cfg_int(model_cfg: Mapping[str, Any], name: str, default: int) -> int:
    value = model_cfg.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _fairseq_conv_strides(model_cfg: Mapping[str, Any], conv_count: int, source: Path) -> list[int]:
    spec = model_cfg.get("conv_feature_layers")
    if isinstance(spec, str):
        layers = _parse_conv_feature_layers(spec)
        if layers is not None and len(layers) == conv_count:
            return [stride for _, _, stride in layers]
    if conv_count == len(_BASE_CONV_STRIDES):
        return list(_BASE_CONV_STRIDES)
    raise UrvcError(
        f"The embedder {source} has {conv_count} convolution layers and no readable "
        f"conv_feature_layers setting, so their strides are unknown; use a checkpoint "
        f"that keeps its configuration."
    )


def _parse_conv_feature_layers(spec: str) -> list[tuple[int, int, int]] | None:
    """fairseq's ``"[(512,10,5)] + [(512,3,2)] * 4 + ..."``, read without ``eval``."""
    try:
        tree = ast.parse(spec, mode="eval")
        value = _evaluate_layer_spec(tree.body)
    except (SyntaxError, ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    layers: list[tuple[int, int, int]] = []
    for item in value:
        if not (isinstance(item, tuple) and len(item) == 3 and all(type(v) is int for v in item)):
            return None
        layers.append((item[0], item[1], item[2]))
    return layers


def _evaluate_layer_spec(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_evaluate_layer_spec(element) for element in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.BinOp):
        left = _evaluate_layer_spec(node.left)
        right = _evaluate_layer_spec(node.right)
        if isinstance(node.op, ast.Add) and isinstance(left, list) and isinstance(right, list):
            return left + right
        if isinstance(node.op, ast.Mult) and isinstance(left, list) and type(right) is int:
            if not 0 <= right <= 64:  # a configuration, not a memory bomb
                raise ValueError("repeat count out of range")
            return left * right
    raise ValueError("not a conv layer list")


# --- building the model ----------------------------------------------------------------


@dataclass(frozen=True)
class _WeightPlan:
    """Provided weights sorted against what the model needs."""

    model_weights: dict[str, torch.Tensor]
    final_proj: dict[str, torch.Tensor]


def _assemble(
    config: HubertConfig,
    state: Mapping[str, torch.Tensor],
    *,
    source: Path,
    normalize_audio: bool,
    device: str,
) -> HubertFeatureModel:
    import torch
    from transformers import HubertModel

    try:
        model = HubertModel(config)
    except Exception as exc:  # see _hubert_config
        raise UrvcError(
            f"The embedder {source} describes a model urvc can't build ({_last_line(exc)})."
        ) from exc
    expected = model.state_dict()
    plan = _plan_weights(state, expected, source)
    if "masked_spec_embed" in expected and "masked_spec_embed" not in plan.model_weights:
        plan.model_weights["masked_spec_embed"] = expected["masked_spec_embed"]
    _fill_identity_projection(plan.model_weights, expected)
    _check_weights(plan.model_weights, expected, source)
    model.load_state_dict(plan.model_weights, strict=True)

    final_proj: torch.nn.Linear | None = None
    if plan.final_proj:
        weight = plan.final_proj.get("final_proj.weight")
        if weight is None or weight.ndim != 2 or int(weight.shape[1]) != config.hidden_size:
            raise UrvcError(
                f"The embedder {source} has a final_proj that does not fit its "
                f"{config.hidden_size}-wide layers; the file is damaged or mixed up."
            )
        bias = plan.final_proj.get("final_proj.bias")
        final_proj = torch.nn.Linear(
            int(weight.shape[1]), int(weight.shape[0]), bias=bias is not None
        )
        with torch.no_grad():
            final_proj.weight.copy_(weight)
            if bias is not None:
                final_proj.bias.copy_(bias)
    feature_model = HubertFeatureModel(
        model, final_proj, normalize_audio=normalize_audio, source=source
    )
    return feature_model.to(device)


def _plan_weights(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: Path
) -> _WeightPlan:
    """Provided weights under the model's own names, with the final projection apart."""
    model_weights: dict[str, torch.Tensor] = {}
    final_proj: dict[str, torch.Tensor] = {}
    unplaced: list[str] = []
    for original_name, tensor in state.items():
        name = original_name.removeprefix("hubert.")  # HubertForCTC and friends
        if name.startswith("final_proj."):
            final_proj[name] = tensor
            continue
        name = _weight_norm_name(name, expected)
        if name in expected:
            model_weights[name] = tensor
        else:
            unplaced.append(original_name)
    if not model_weights:
        raise _maps_onto_nothing(source, list(state))
    for name in unplaced:
        if name.removeprefix("hubert.").startswith(_NETWORK_PREFIXES):
            raise UrvcError(
                f"The embedder {source} has a weight '{name}' that a HuBERT model of its "
                f"configuration has no place for: it is another architecture, or its "
                f"configuration does not match its weights."
            )
    return _WeightPlan(model_weights, final_proj)


def _weight_norm_name(name: str, expected: Mapping[str, Any]) -> str:
    """The positional convolution's weight-norm halves under the name the model uses.

    Older files (transformers 4.x, fairseq) say ``weight_g``/``weight_v``; models built
    with ``torch.nn.utils.parametrizations.weight_norm`` say ``original0``/``original1``.
    """
    aliases = (
        (".weight_g", ".parametrizations.weight.original0"),
        (".weight_v", ".parametrizations.weight.original1"),
    )
    for old, new in aliases:
        for given, wanted in ((old, new), (new, old)):
            if name.endswith(given):
                candidate = name[: -len(given)] + wanted
                if name not in expected and candidate in expected:
                    return candidate
    return name


def _fill_identity_projection(
    weights: dict[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> None:
    """fairseq has no post_extract_proj when the convolutions are as wide as the encoder."""
    import torch

    name = "feature_projection.projection.weight"
    shape = expected[name].shape
    if (
        name not in weights
        and shape[0] == shape[1]
        and "feature_projection.layer_norm.weight" in weights
    ):
        weights[name] = torch.eye(int(shape[0]))
        weights["feature_projection.projection.bias"] = torch.zeros(int(shape[0]))


def _check_weights(
    weights: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: Path
) -> None:
    missing = [
        name for name in expected if name not in weights and name not in _OPTIONAL_MODEL_KEYS
    ]
    if missing:
        raise _missing_weight(source, missing[0], more=len(missing) - 1)
    for name, tensor in weights.items():
        wanted = tuple(expected[name].shape)
        if tuple(tensor.shape) != wanted:
            raise UrvcError(
                f"The embedder {source}: the weight '{name}' is shaped {tuple(tensor.shape)} "
                f"but its configuration needs {wanted}; the configuration does not describe "
                f"these weights."
            )


def _last_line(exc: BaseException) -> str:
    """The line of a (possibly multi-line) validation message that says what is wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _missing_weight(source: Path, name: str, *, more: int = 0) -> UrvcError:
    others = f" (and {more} more)" if more else ""
    return UrvcError(
        f"The embedder {source} lacks the weight '{name}'{others} that its model needs; "
        f"the file is incomplete or is not a HuBERT-family model. Download it again."
    )


def _maps_onto_nothing(source: Path, names: Iterable[str]) -> UrvcError:
    listed = list(names)
    first = f"'{listed[0]}'" if listed else "none at all"
    return UrvcError(
        f"The embedder {source} holds no HuBERT or ContentVec weights: none of its "
        f"{len(listed)} tensor names is one urvc knows (the first is {first}). Use a "
        f"Hugging Face folder with config.json, or a fairseq HuBERT .pt file."
    )
