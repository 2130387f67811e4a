"""RVC voice model files: reading what they say, loading them, writing them.

A voice model is the small ``.pth`` that RVC WebUI (``extract_small_model``, ``savee``)
and Applio (``extract_model``) write for inference. It is a pickled dict::

    {"weight": {name: tensor, ...},   # the synthesizer's weights, without enc_q.*
     "config": [...],                 # 18 hyperparameters, see SynthesizerConfig
     "info": "300epoch", "sr": "40k", "f0": 1, "version": "v2",
     ...}                             # Applio adds epoch, step, vocoder, author, ...

Files from before RVC v2 have no ``version`` (they are v1). Weight-normed layers are
stored as ``weight_g``/``weight_v`` or, from trainers on newer torch, as
``parametrizations.weight.original0``/``original1``; both load, and the norm is folded
into plain weights on loading. Files are read with
:func:`~urvc_core.rvc.checkpoints.load_checkpoint`, which never runs code from them.
"""

from __future__ import annotations

import math
import re
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from urvc_core.atomic_files import atomic_destination
from urvc_core.devices import precision_dtype
from urvc_core.errors import UrvcError
from urvc_core.rvc.checkpoints import load_checkpoint
from urvc_core.rvc.synthesizer import (
    SAMPLE_RATE_NAMES,
    Synthesizer,
    SynthesizerConfig,
    fold_weight_norm,
    folded_weight_shapes,
    frame_start_phases,
    parameter_shapes,
    unfold_weight_norm,
)

__all__ = [
    "SynthesizerConfig",
    "VoiceModel",
    "VoiceModelInfo",
    "read_voice_model_info",
    "save_voice_model",
]

#: Content-feature width per model version: v1 was trained on HuBERT's 256-dim final
#: projection, v2 on the 768-dim output of layer 12.
EMBEDDER_DIMS = {"v1": 256, "v2": 768}
#: Feature frames per second the synthesizer expects (10 ms, twice the embedder's rate).
FRAMES_PER_SECOND = 100
#: The vocoders Applio can train. Only HiFi-GAN has RVC's layout.
SUPPORTED_VOCODERS = ("HiFi-GAN",)
#: Top-level keys that become VoiceModelInfo fields rather than metadata.
_INFO_KEYS = frozenset(
    {"weight", "config", "sr", "f0", "version", "vocoder", "embedder_model", "epoch", "step"}
)
#: Keys save_voice_model writes itself; metadata can't override them.
_LAYOUT_KEYS = ("weight", "config", "sr", "f0", "version")
_TRAINING_CHECKPOINT_KEYS = frozenset({"model", "optimizer", "learning_rate", "iteration"})
_PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class VoiceModelInfo:
    """What a voice model file says about itself, checked against its weights."""

    #: "v1" (256-dim features) or "v2" (768-dim).
    version: str
    #: Output sample rate in Hz: 32000, 40000 or 48000.
    sample_rate: int
    #: Whether the model follows a pitch curve (the file's ``f0``).
    pitch_guidance: bool
    #: Rows of the speaker embedding; valid speaker ids are ``0..speakers - 1``.
    speakers: int
    #: The content embedder the model was trained on (Applio's ``embedder_model``).
    embedder: str
    #: Width of the features the model takes: 256 for v1, 768 for v2.
    embedder_dim: int
    epochs: int | None
    steps: int | None
    vocoder: str
    #: How the weights are stored: "float16" (RVC's export) or "float32".
    dtype: str
    config: SynthesizerConfig
    #: The file's other plain values: info, author, model_hash, creation_date...
    metadata: dict[str, Any] = field(default_factory=dict)
    file_size: int = 0
    #: The network's weights, counted as it runs them (a weight-normed layer's g and v
    #: as the one weight they make).
    parameters: int = 0
    #: The mean L2 norm of the speaker embedding's rows: how far from the pretrained
    #: base's small initial embedding training moved the speaker.
    speaker_embedding_norm: float = 0.0

    @property
    def hop_length(self) -> int:
        """Output samples per feature frame."""
        return self.config.hop_length

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description, for ``--json`` listings."""
        described = asdict(self)
        described["config"] = self.config.to_list()
        return described


def read_voice_model_info(path: Path) -> VoiceModelInfo:
    """What the voice model at ``path`` is, checked, without building its network.

    Raises UrvcError naming the file when it is missing, unreadable, a training
    checkpoint, not an RVC voice model, or inconsistent with itself.
    """
    path = Path(path)
    contents = load_checkpoint(path, what="voice model")
    info, _ = _parse_voice_model(path, contents)
    return info


def read_voice_model(path: Path) -> tuple[VoiceModelInfo, dict[str, torch.Tensor]]:
    """The voice model at ``path``: its info and its weights as stored (``enc_q``
    dropped), checked, without building its network. Raises as
    :func:`read_voice_model_info` does."""
    path = Path(path)
    return _parse_voice_model(path, load_checkpoint(path, what="voice model"))


def _parse_voice_model(path: Path, contents: Any) -> tuple[VoiceModelInfo, dict[str, torch.Tensor]]:
    """The file's info and its weights as stored, ``enc_q`` dropped, all checked."""
    if isinstance(contents, Mapping) and set(contents) >= _TRAINING_CHECKPOINT_KEYS:
        raise UrvcError(
            f"{path} is a training checkpoint (model, optimizer and iteration "
            f"{contents.get('iteration')!r}), not a voice model: use the small inference "
            f"model your trainer writes to its weights folder (RVC: assets/weights/NAME.pth; "
            f"Applio: logs/NAME/NAME_<epochs>e_<steps>s.pth), or export one from this checkpoint."
        )
    if (
        not isinstance(contents, Mapping)
        or not isinstance(contents.get("weight"), Mapping)
        or "config" not in contents
    ):
        raise UrvcError(
            f"{path} is not an RVC voice model (it has no 'weight' and 'config' entries): "
            f"use the .pth file an RVC trainer exports for inference."
        )
    vocoder = str(contents.get("vocoder") or "HiFi-GAN")
    if vocoder not in SUPPORTED_VOCODERS:
        raise UrvcError(
            f"The voice model {path} uses the {vocoder} vocoder, which urvc does not support "
            f"yet: use a model trained with the HiFi-GAN vocoder."
        )
    try:
        config = SynthesizerConfig.from_list(contents["config"])
    except ValueError as exc:
        raise UrvcError(
            f"The voice model {path} has a config list that {exc}: the file is damaged or "
            f"from an unknown trainer; export it again."
        ) from None
    raw_weights = contents["weight"]
    bad = [name for name, value in raw_weights.items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise _mismatch(path, f"'{bad[0]}' is not a tensor")
    weights = {
        name: tensor for name, tensor in raw_weights.items() if not name.startswith("enc_q.")
    }
    try:
        folded = folded_weight_shapes(weights)
    except ValueError as exc:
        raise _mismatch(path, str(exc)) from None

    # The weights decide what the network is. RVC's merge and change-info tools write
    # sr, f0 and version from what the user picked in a form, so files in the wild can
    # disagree with their own weights there; RVC then builds the wrong network
    # without a word, urvc builds the right one.
    embedder_dim = _shape_of(path, folded, "enc_p.emb_phone.weight")[1]
    version = next((v for v, dim in EMBEDDER_DIMS.items() if dim == embedder_dim), None)
    if version is None:
        raise UrvcError(
            f"The voice model {path} takes {embedder_dim}-dim features; RVC v1 models take "
            f"256 and v2 models 768, and urvc knows no others: use an RVC v1 or v2 model."
        )
    pitch_guidance = "enc_p.emb_pitch.weight" in folded
    speakers, speaker_channels = _shape_of(path, folded, "emb_g.weight")
    # RVC and Applio both size the speaker table from the weights, not the config.
    config = replace(config, spk_embed_dim=speakers)
    if speaker_channels != config.gin_channels:
        raise _mismatch(
            path,
            f"{speaker_channels}-channel speaker embeddings where gin_channels is "
            f"{config.gin_channels}",
        )
    sample_rate = config.sr
    if sample_rate != config.hop_length * FRAMES_PER_SECOND:
        raise _mismatch(
            path,
            f"{sample_rate} Hz output from {config.hop_length} samples a frame, "
            f"not {FRAMES_PER_SECOND} frames a second",
        )
    _check_shapes(path, folded, config, embedder_dim, pitch_guidance)

    info = VoiceModelInfo(
        version=version,
        sample_rate=sample_rate,
        pitch_guidance=pitch_guidance,
        speakers=speakers,
        embedder=str(contents.get("embedder_model") or "contentvec"),
        embedder_dim=embedder_dim,
        epochs=_epochs(contents),
        steps=_whole_or_none(contents.get("step")),
        vocoder=vocoder,
        dtype=_storage_dtype(weights),
        config=config,
        metadata={
            str(key): value
            for key, value in contents.items()
            if key not in _INFO_KEYS and _is_plain_value(value)
        },
        file_size=path.stat().st_size,
        parameters=sum(math.prod(shape) for shape in folded.values()),
        speaker_embedding_norm=float(
            weights["emb_g.weight"].detach().float().norm(dim=1).mean()
        ),
    )
    return info, weights


def _mismatch(path: Path, detail: str) -> UrvcError:
    return UrvcError(
        f"The voice model {path} has weights that don't match its config ({detail}): the "
        f"file is damaged or was edited by hand; export it again from its trainer."
    )


def _shape_of(path: Path, shapes: Mapping[str, tuple[int, ...]], name: str) -> tuple[int, ...]:
    shape = shapes.get(name)
    if shape is None or len(shape) != 2:
        raise _mismatch(path, f"no {name}")
    return shape


def _check_shapes(
    path: Path,
    shapes: Mapping[str, tuple[int, ...]],
    config: SynthesizerConfig,
    embedder_dim: int,
    pitch_guidance: bool,
) -> None:
    try:
        expected = parameter_shapes(
            config, embedder_dim=embedder_dim, pitch_guidance=pitch_guidance
        )
    except (ValueError, RuntimeError) as exc:
        raise _mismatch(path, f"a config no network can be built from: {exc}") from None
    missing = [name for name in expected if name not in shapes]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise _mismatch(path, f"{missing[0]} is missing{more}")
    unexpected = [name for name in shapes if name not in expected]
    if unexpected:
        more = f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""
        raise _mismatch(path, f"{unexpected[0]} is not part of this network{more}")
    for name, shape in expected.items():
        if shapes[name] != shape:
            raise _mismatch(path, f"{name} is {shapes[name]} where the config makes it {shape}")


def _epochs(contents: Mapping[str, Any]) -> int | None:
    epochs = _whole_or_none(contents.get("epoch"))
    if epochs is None:
        # RVC WebUI's savee writes the epoch count only as info "300epoch".
        match = re.fullmatch(r"\s*(\d+)\s*epochs?\s*", str(contents.get("info", "")))
        epochs = int(match.group(1)) if match else None
    return epochs


def _whole_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _storage_dtype(weights: Mapping[str, torch.Tensor]) -> str:
    counts = Counter(t.dtype for t in weights.values() if t.is_floating_point())
    if not counts:
        return "unknown"
    return str(counts.most_common(1)[0][0]).removeprefix("torch.")


def _is_plain_value(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


class VoiceModel:
    """A voice model loaded for synthesis.

    ``VoiceModel.load(path)`` reads and checks the file, folds its weight norm and
    builds the network on ``device``. ``precision`` "fp32" computes in float32; "bf16"
    runs the generator (nearly all of the arithmetic) in bfloat16, several times faster
    on CPUs with AMX or AVX-512 BF16 (slower on CPUs without them) and on GPUs, within
    30 dB SNR of fp32; "fp16" does the same in float16, as RVC's "half" mode, and needs a
    GPU. The text encoder, the flow and the sine source stay float32 in every mode.
    """

    def __init__(
        self,
        path: Path,
        info: VoiceModelInfo,
        network: Synthesizer,
        *,
        device: torch.device,
        precision: str,
    ) -> None:
        self.path = path
        self.info = info
        self.network = network
        self.device = device
        self.precision = precision

    @classmethod
    def load(cls, path: Path, *, device: str = "cpu", precision: str = "fp32") -> VoiceModel:
        path = Path(path)
        if precision not in _PRECISIONS:
            raise UrvcError(
                f"Precision {precision!r} is not one of {', '.join(_PRECISIONS)}: use fp32, or "
                f"bf16 for speed."
            )
        try:
            torch_device = torch.device(device)
        except (RuntimeError, ValueError):
            raise UrvcError(f"Device {device!r} is not a torch device: use cpu or cuda.") from None
        dtype = precision_dtype(precision, device, f"the voice model {path}")
        contents = load_checkpoint(path, what="voice model")
        info, weights = _parse_voice_model(path, contents)
        del contents
        # Built on the meta device and given the file's tensors, so no memory is spent
        # on random initial weights that would be overwritten at once.
        with torch.device("meta"):
            network = Synthesizer(
                info.config, embedder_dim=info.embedder_dim, pitch_guidance=info.pitch_guidance
            )
        folded = fold_weight_norm({name: t.to(torch.float32) for name, t in weights.items()})
        del weights
        network.load_state_dict(folded, strict=True, assign=True)
        network.requires_grad_(False)
        network.eval()
        network.to(torch_device)
        if dtype != torch.float32:
            network.set_generator_dtype(dtype)
        network.use_channels_last_weights()
        return cls(path, info, network, device=torch_device, precision=precision)

    @property
    def hop_length(self) -> int:
        """Output samples per feature frame (400 at 40 kHz)."""
        return self.info.config.hop_length

    @property
    def inter_channels(self) -> int:
        """Rows of the noise tensor :meth:`synthesize` takes."""
        return self.info.config.inter_channels

    def synthesize(
        self,
        features: torch.Tensor,
        pitch_hz: torch.Tensor | None,
        *,
        speaker_id: int = 0,
        noise: torch.Tensor | None = None,
        seed: int = 0,
        start_phase: float = 0.0,
    ) -> torch.Tensor:
        """Audio at ``info.sample_rate``, ``(frames * hop_length,)`` float32 on the CPU.

        ``features`` is ``(frames, embedder_dim)`` at 100 frames a second (the
        embedder's 50 doubled); ``pitch_hz`` is ``(frames,)`` Hz with 0 where unvoiced,
        required exactly when the model has pitch guidance (the coarse pitch bins the
        model embeds are computed here). ``noise`` is ``(inter_channels, frames)``
        standard normal and all the randomness there is; without it one is drawn from
        ``seed``. A caller that synthesizes a long input in chunks slices one noise
        tensor, and passes as ``start_phase`` the sine source's phase where each chunk
        begins (:meth:`source_phases` of the whole pitch curve), to get the unchunked
        result away from the joins.
        """
        features, pitch_hz, noise = self._checked_inputs(features, pitch_hz, noise, speaker_id)
        frames = features.shape[0]
        if frames == 0:
            return torch.zeros(0)
        if noise is None:
            generator = torch.Generator().manual_seed(seed)
            noise = torch.randn(self.inter_channels, frames, generator=generator)
        with torch.inference_mode():
            audio = self.network.infer(
                features, pitch_hz, speaker_id=speaker_id, noise=noise, start_phase=start_phase
            )
            return audio.to(device="cpu", dtype=torch.float32)

    def source_phases(self, pitch_hz: torch.Tensor) -> torch.Tensor:
        """The NSF sine source's phase (cycles, float64) at the start of every frame of
        ``pitch_hz``, and one past the end: ``start_phase`` for a chunk beginning there."""
        pitch = torch.as_tensor(pitch_hz, dtype=torch.float32).reshape(-1)
        return frame_start_phases(pitch, self.info.sample_rate, self.hop_length)

    def _checked_inputs(
        self,
        features: torch.Tensor,
        pitch_hz: torch.Tensor | None,
        noise: torch.Tensor | None,
        speaker_id: int,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        info = self.info
        if not 0 <= speaker_id < info.speakers:
            raise UrvcError(
                f"Speaker {speaker_id} is out of range for the voice model {self.path}: "
                f"use a speaker id from 0 to {info.speakers - 1}."
            )
        features = torch.as_tensor(features)
        if features.dim() != 2 or features.shape[1] != info.embedder_dim:
            raise UrvcError(
                f"The voice model {self.path} ({info.version}) takes features shaped "
                f"(frames, {info.embedder_dim}); got {tuple(features.shape)}: use the "
                f"embedder output its version expects."
            )
        frames = features.shape[0]
        if info.pitch_guidance:
            if pitch_hz is None:
                raise UrvcError(
                    f"The voice model {self.path} follows a pitch curve: extract f0 and "
                    f"pass it with the features."
                )
            pitch_hz = torch.as_tensor(pitch_hz, dtype=torch.float32).reshape(-1)
            if pitch_hz.shape[0] != frames:
                raise UrvcError(
                    f"Pitch has {pitch_hz.shape[0]} frames but the features have {frames}: "
                    f"give one pitch value per feature frame (100 a second)."
                )
            if not bool(torch.isfinite(pitch_hz).all()):
                raise UrvcError("Pitch has NaN or infinite values: use 0 for unvoiced frames.")
        else:
            pitch_hz = None  # a model without pitch guidance ignores any pitch given
        if noise is not None and tuple(noise.shape) != (self.inter_channels, frames):
            raise UrvcError(
                f"Noise must be shaped ({self.inter_channels}, {frames}) for this voice "
                f"model and these features; got {tuple(noise.shape)}."
            )
        return features, pitch_hz, noise


def save_voice_model(
    path: Path,
    weights: Mapping[str, torch.Tensor],
    config: SynthesizerConfig,
    version: str,
    pitch_guidance: bool,
    *,
    fp16: bool = True,
    weight_norm: str = "legacy",
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a voice model in exactly the community's inference layout, atomically.

    ``weights`` may hold plain weights or weight-norm pairs in either naming; ``enc_q.*``
    is dropped. The weight-normed layers are written as ``weight_g``/``weight_v``
    (``weight_norm="legacy"``, what RVC and Applio write and every loader reads) or as
    ``parametrizations.weight.original0``/``original1``. ``fp16`` stores float16, as
    RVC's export does. ``metadata`` adds keys after the layout's own (``info``,
    ``epoch``, ``step``, ``author``, ``vocoder``, ``embedder_model``...). Raises
    ValueError when the weights don't fit ``config``, UrvcError when the file can't be
    written.
    """
    path = Path(path)
    if version not in EMBEDDER_DIMS:
        raise ValueError(f"version must be 'v1' or 'v2', not {version!r}")
    metadata = dict(metadata or {})
    clashing = [key for key in _LAYOUT_KEYS if key in metadata]
    if clashing:
        raise ValueError(f"metadata can't set {', '.join(clashing)}: they are arguments")
    kept = {name: tensor for name, tensor in weights.items() if not name.startswith("enc_q.")}
    expected = parameter_shapes(
        config, embedder_dim=EMBEDDER_DIMS[version], pitch_guidance=pitch_guidance
    )
    folded_shapes = folded_weight_shapes(kept)
    if folded_shapes != expected:
        wrong = sorted(set(folded_shapes) ^ set(expected)) or [
            name for name in expected if folded_shapes[name] != expected[name]
        ]
        raise ValueError(f"the weights don't fit the config: first difference at {wrong[0]}")

    dtype = torch.float16 if fp16 else torch.float32
    stored = unfold_weight_norm(kept, style=weight_norm)
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for name, tensor in stored.items():
        # A copy of its own: torch.save writes a view's whole storage otherwise.
        state[name] = tensor.detach().to(device="cpu", dtype=dtype, copy=True).contiguous()
    sample_rate_name = next(
        (name for name, rate in SAMPLE_RATE_NAMES.items() if rate == config.sr), str(config.sr)
    )
    contents: dict[str, Any] = {
        "weight": state,
        "config": config.to_list(),
        "info": str(metadata.pop("info", "")),
        "sr": sample_rate_name,
        "f0": int(pitch_guidance),
        "version": version,
        **metadata,
    }
    # Atomic, so a crash or a full disk never leaves a file that looks like a finished
    # model.
    try:
        with atomic_destination(path) as temporary:
            torch.save(contents, temporary)
    except OSError as exc:
        raise UrvcError(
            f"Can't write the voice model {path}: {exc.strerror or exc}; choose a folder "
            f"you can write to, with free space."
        ) from exc
    return path
