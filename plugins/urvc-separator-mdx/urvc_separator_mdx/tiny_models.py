"""Models in each UVR family's real file format: tiny ones for tests, full-size ones for
benchmarks.

No separation weights can be downloaded in CI, yet the code worth testing is
audio-separator's own: how it finds a model's parameters, loads the file, cuts the song
into overlapping segments and puts it back together. These builders write small models
that audio-separator takes for real ones, together with the catalogue entries it looks
them up in:

* :func:`build_centre_mdx_model`: an MDX-Net ONNX network with the MDX input layout
  ``[batch, 4, dim_f, dim_t]`` (left real, left imaginary, right real, right imaginary).
  Its weights are not random: it computes a centre-channel mask, the same idea as the
  built-in ``dsp-center`` separator, so that its output can be scored. Its parameters
  go into ``mdx_model_data.json`` under the MD5 audio-separator computes for the file.
* :func:`build_tiny_roformer`: a BS-Roformer checkpoint (random weights) and its YAML
  config, listed in ``download_checks.json``'s Roformer list.
* :func:`build_mdx_net_model` and :func:`build_full_size_roformer`: random-weight models
  of the sizes users download, for benchmarks: an MDX-Net TFC-TDF U-Net in ONNX of a
  shape in :data:`MDX_NET_SHAPES` (``voc-ft``, ``UVR-MDX-NET-Voc_FT``'s: 16.7 M
  parameters, 63.6 MiB; ``kara-2``; ``tiny`` for tests) and viperx's BS-Roformer
  (``model_bs_roformer_ep_317_sdr_12.9755``: 159.8 M parameters, 639 MB), through the
  same code as the tiny ones. They compute nothing useful, with the real models'
  arithmetic.
* :func:`build_tiny_vr_model`: a VR 5.1 ``CascadedNet`` state dict (random weights)
  with its entry in ``vr_model_data.json``.
* :func:`build_tiny_demucs`: a Demucs v4 package of a small HTDemucs (random weights)
  and the YAML bag that names it, listed in ``download_checks.json``'s Demucs list.

Every builder adds its model to ``download_checks.json`` in the folder, because
audio-separator refuses a model file its catalogue doesn't list. torch (and onnx for
the MDX model) are imported inside the functions.
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urvc_separator_mdx.model_catalogue import (
    DOWNLOAD_CHECKS_FILE,
    MDX_MODEL_DATA_FILE,
    VR_MODEL_DATA_FILE,
    audio_separator_hash,
)

#: The catalogue lists a fresh folder starts with: empty, as UVR's files would be for a
#: model they don't know.
_EMPTY_DOWNLOAD_CHECKS: dict[str, dict[str, Any]] = {
    "vr_download_list": {},
    "mdx_download_list": {},
    "demucs_download_list": {},
    "mdx_download_vip_list": {},
    "mdx23c_download_list": {},
    "mdx23c_download_vip_list": {},
    "roformer_download_list": {},
}


def build_centre_mdx_model(
    folder: Path,
    filename: str = "tiny_centre_mdx.onnx",
    *,
    primary_stem: str = "Vocals",
    is_karaoke: bool = False,
    n_fft: int = 2048,
    dim_f: int = 1024,
    dim_t_power: int = 6,
    mask_exponent: int = 2,
) -> Path:
    """Write an MDX-Net ONNX model that keeps what is identical in both channels.

    ``dim_t_power`` is UVR's ``mdx_dim_t_set``: the network takes ``2 ** dim_t_power``
    STFT frames at a time, which is also the segment size audio-separator runs it with by
    default (the ONNX Runtime path; any other segment size goes through onnx2torch).
    The model is listed in the folder's ``download_checks.json`` and its parameters are
    added to ``mdx_model_data.json``.
    """
    return _save_mdx_model(
        folder,
        filename,
        _centre_mask_onnx(dim_f, 2**dim_t_power, mask_exponent),
        {
            "compensate": 1.0,
            "mdx_dim_f_set": dim_f,
            "mdx_dim_t_set": dim_t_power,
            "mdx_n_fft_scale_set": n_fft,
            "primary_stem": primary_stem,
        },
        is_karaoke=is_karaoke,
    )


def _save_mdx_model(
    folder: Path, filename: str, network: bytes, entry: dict[str, Any], *, is_karaoke: bool
) -> Path:
    """Write an MDX-Net ONNX file with its ``mdx_model_data.json`` entry and its listing."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    model = onnx.load_from_string(network)
    # Two models built alike must still differ, since audio-separator tells models apart
    # by their bytes alone.
    model.doc_string = f"urvc test MDX-Net model {filename}"
    onnx.save(model, str(path))
    if is_karaoke:
        entry = {**entry, "is_karaoke": True}
    _update_json(folder / MDX_MODEL_DATA_FILE, {audio_separator_hash(path): entry})
    _list_model(folder, "mdx_download_list", f"MDX-Net Model: {path.stem}", filename)
    return path


def _onnx_bytes(network: Any, input_shape: tuple[int, ...]) -> bytes:
    """``network`` exported as UVR's MDX-Net files are: opset 13, a dynamic batch axis."""
    import tempfile

    import torch

    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of one that needs onnxscript;
        # it still writes the same kind of graph as UVR's files.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network.eval(),
            (torch.zeros(*input_shape),),
            f"{scratch}/model.onnx",
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            # UVR's MDX-Net files are opset 11 to 13, which onnx2torch converts; it has
            # no converter for some newer opsets' operators.
            opset_version=13,
            dynamo=False,
        )
        return Path(scratch, "model.onnx").read_bytes()


@functools.lru_cache(maxsize=4)
def _centre_mask_onnx(dim_f: int, dim_t: int, mask_exponent: int) -> bytes:
    """The centre-mask network as ONNX bytes (exported once per shape: export is slow)."""
    import torch

    class CentreMask(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # A real (if fixed) parameter, so the graph has an initializer like any model.
            self.gain = torch.nn.Parameter(torch.ones(1))

        def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
            left_re, left_im, right_re, right_im = spectrum.unbind(dim=1)
            cross = left_re * right_re + left_im * right_im
            power = left_re**2 + left_im**2 + right_re**2 + right_im**2
            similarity = torch.clamp(2.0 * cross / (power + 1e-12), 0.0, 1.0)
            mask = similarity**mask_exponent * self.gain
            mid_re = 0.5 * (left_re + right_re) * mask
            mid_im = 0.5 * (left_im + right_im) * mask
            return torch.stack([mid_re, mid_im, mid_re, mid_im], dim=1)

    return _onnx_bytes(CentreMask(), (1, 4, dim_f, dim_t))


@dataclass(frozen=True)
class MdxNetShape:
    """The hyper-parameters of an MDX-Net file: the STFT it reads (``n_fft``, its first
    ``dim_f`` bins, ``2 ** dim_t_power`` frames) and the size of its TFC-TDF U-Net
    (kuielab's ``ConvTDFNet``, which UVR trained its MDX-Net models with): ``blocks``
    TFC-TDF blocks (encoder, bottleneck, decoder), ``layers`` 3x3 convolutions in each,
    ``growth`` channels added at each scale, the TDF's frequency ``bottleneck`` factor."""

    n_fft: int
    dim_f: int
    dim_t_power: int
    blocks: int
    layers: int
    growth: int
    bottleneck: int
    compensate: float


#: MDX-Net shapes by name. UVR publishes each model's STFT parameters (its
#: ``mdx_model_data.json``) but not its network's; these are the ones whose parameter
#: count gives the published file's size.
MDX_NET_SHAPES: dict[str, MdxNetShape] = {
    # UVR-MDX-NET-Voc_FT, and Kim_Vocal_2 and Inst_HQ_3 alike: 63.6 MiB.
    "voc-ft": MdxNetShape(7680, 3072, 8, 11, 3, 48, 8, compensate=1.021),
    # UVR_MDXNET_KARA_2: 28.3 MiB.
    "kara-2": MdxNetShape(5120, 2048, 8, 11, 3, 32, 8, compensate=1.065),
    # The same layout, small enough for a test.
    "tiny": MdxNetShape(2048, 1024, 6, 3, 1, 4, 8, compensate=1.0),
}


def build_mdx_net_model(
    folder: Path,
    filename: str,
    *,
    shape: str = "voc-ft",
    primary_stem: str = "Vocals",
    is_karaoke: bool = False,
    seed: int = 0,
) -> Path:
    """Write an MDX-Net ONNX model of a published shape (:data:`MDX_NET_SHAPES`), random
    weights, with its ``mdx_model_data.json`` entry: the arithmetic and file size of the
    real model, for benchmarks. Exporting the full-size network takes about 30 s."""
    import torch

    chosen = MDX_NET_SHAPES[shape]
    torch.manual_seed(seed)
    network = conv_tdf_net(chosen)
    dim_t = 2**chosen.dim_t_power
    return _save_mdx_model(
        folder,
        filename,
        _onnx_bytes(network, (1, 4, chosen.dim_f, dim_t)),
        {
            "compensate": chosen.compensate,
            "mdx_dim_f_set": chosen.dim_f,
            "mdx_dim_t_set": chosen.dim_t_power,
            "mdx_n_fft_scale_set": chosen.n_fft,
            "primary_stem": primary_stem,
        },
        is_karaoke=is_karaoke,
    )


def conv_tdf_net(shape: MdxNetShape) -> Any:
    """kuielab's ``ConvTDFNet`` (audio-separator's ``uvr_lib_v5.mdxnet``, which needs
    PyTorch Lightning to import), built from audio-separator's own TFC-TDF blocks, with
    batch normalisation as UVR's models have."""
    import torch
    from audio_separator.separator.uvr_lib_v5.modules import TFC_TDF
    from torch import nn

    def block(channels: int, bins: int) -> nn.Module:
        return TFC_TDF(
            channels, shape.layers, bins, 3, shape.bottleneck, bias=False, norm=nn.BatchNorm2d
        )

    def scale(kind: type[nn.Module], channels_in: int, channels_out: int) -> nn.Module:
        return nn.Sequential(
            kind(channels_in, channels_out, kernel_size=2, stride=2),
            nn.BatchNorm2d(channels_out),
            nn.ReLU(),
        )

    class ConvTDFNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            growth, scales = shape.growth, shape.blocks // 2
            self.first_conv = nn.Sequential(
                nn.Conv2d(4, growth, kernel_size=1), nn.BatchNorm2d(growth), nn.ReLU()
            )
            self.encoding_blocks, self.ds = nn.ModuleList(), nn.ModuleList()
            self.decoding_blocks, self.us = nn.ModuleList(), nn.ModuleList()
            bins, channels = shape.dim_f, growth
            for _ in range(scales):
                self.encoding_blocks.append(block(channels, bins))
                self.ds.append(scale(nn.Conv2d, channels, channels + growth))
                bins, channels = bins // 2, channels + growth
            self.bottleneck_block = block(channels, bins)
            for _ in range(scales):
                self.us.append(scale(nn.ConvTranspose2d, channels, channels - growth))
                bins, channels = bins * 2, channels - growth
                self.decoding_blocks.append(block(channels, bins))
            self.final_conv = nn.Conv2d(channels, 4, kernel_size=1)

        def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
            x = self.first_conv(spectrum).transpose(-1, -2)
            skips = []
            for encode, down in zip(self.encoding_blocks, self.ds, strict=True):
                x = encode(x)
                skips.append(x)
                x = down(x)
            x = self.bottleneck_block(x)
            for up, decode, skip in zip(
                self.us, self.decoding_blocks, reversed(skips), strict=True
            ):
                x = decode(up(x) * skip)
            return self.final_conv(x.transpose(-1, -2))

    return ConvTDFNet()


def build_tiny_roformer(
    folder: Path,
    filename: str = "tiny_bs_roformer.ckpt",
    *,
    instruments: tuple[str, str] = ("Vocals", "Instrumental"),
    target_instrument: str | None = "Vocals",
    dim_t: int = 64,
    num_overlap: int = 2,
    seed: int = 0,
) -> Path:
    """Write a BS-Roformer checkpoint with random weights and its YAML config beside it.

    The config follows UVR's Roformer YAML files (``audio``, ``model``, ``training``,
    ``inference`` sections); audio-separator chunks the song into ``hop * (dim_t - 1)``
    samples with ``num_overlap`` windows overlapping.
    """
    # 1025 bins in 8 bands: coarse, but shaped like the real models' band split.
    model = {
        "dim": 16,
        "depth": 1,
        "freqs_per_bands": [16, 16, 32, 64, 128, 256, 256, 257],
        "dim_head": 8,
        "heads": 2,
        "attn_dropout": 0.0,
        "ff_dropout": 0.0,
        "flash_attn": False,
    }
    inference = {"batch_size": 1, "dim_t": dim_t, "num_overlap": num_overlap}
    training = {"instruments": list(instruments), "target_instrument": target_instrument}
    return _build_bs_roformer(folder, filename, model, training, inference, seed)


def build_full_size_roformer(
    folder: Path, filename: str = "model_bs_roformer_ep_317_sdr_12.9755.ckpt", *, seed: int = 0
) -> Path:
    """Write viperx's BS-Roformer (``model_bs_roformer_ep_317_sdr_12.9755``) with random
    weights: its published config (dim 512, depth 12, 62 bands; 159.8 M parameters, a
    639 MB checkpoint), for benchmarks."""
    # ZFTurbo's configs/viperx/model_bs_roformer_ep_317_sdr_12.9755.yaml.
    bands = [2] * 24 + [4] * 12 + [12] * 8 + [24] * 8 + [48] * 8 + [128, 129]
    model = {
        "dim": 512,
        "depth": 12,
        "linear_transformer_depth": 0,
        "freqs_per_bands": bands,
        "dim_head": 64,
        "heads": 8,
        "attn_dropout": 0.1,
        "ff_dropout": 0.1,
        "flash_attn": True,
    }
    inference = {"batch_size": 4, "dim_t": 801, "num_overlap": 2}
    training = {"instruments": ["vocals", "other"], "target_instrument": "vocals"}
    return _build_bs_roformer(folder, filename, model, training, inference, seed)


def _build_bs_roformer(
    folder: Path,
    filename: str,
    model: dict[str, Any],
    training: dict[str, Any],
    inference: dict[str, Any],
    seed: int,
) -> Path:
    """A BS-Roformer of ``model``'s size at 44.1 kHz (n_fft 2048, hop 441, stereo, one
    stem), its checkpoint and its YAML, listed in ``download_checks.json``."""
    import torch
    import yaml
    from audio_separator.separator.uvr_lib_v5.roformer.bs_roformer import BSRoformer

    hop, n_fft, bins = 441, 2048, 1025
    assert sum(model["freqs_per_bands"]) == bins
    model_config = {
        **model,
        "stereo": True,
        "num_stems": 1,
        "time_transformer_depth": 1,
        "freq_transformer_depth": 1,
        "dim_freqs_in": bins,
        "stft_n_fft": n_fft,
        "stft_hop_length": hop,
        "stft_win_length": n_fft,
        "stft_normalized": False,
        "mask_estimator_depth": 2,
    }
    config = {
        "audio": {
            "chunk_size": hop * (inference["dim_t"] - 1),
            "dim_f": 1024,
            "dim_t": inference["dim_t"],
            "hop_length": hop,
            "n_fft": n_fft,
            "num_channels": 2,
            "sample_rate": 44100,
            "min_mean_abs": 0.0,
        },
        "model": model_config,
        "training": training,
        "inference": inference,
    }

    torch.manual_seed(seed)
    arguments = {k: v for k, v in model_config.items() if k != "dim_freqs_in"}
    arguments["freqs_per_bands"] = tuple(model["freqs_per_bands"])
    network = BSRoformer(**arguments)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    torch.save(network.state_dict(), path)
    config_name = f"{path.stem}.yaml"
    (folder / config_name).write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    _list_model(
        folder, "roformer_download_list", f"Roformer Model: {path.stem}", {filename: config_name}
    )
    return path


def build_tiny_vr_model(
    folder: Path,
    filename: str = "tiny_vr.pth",
    *,
    primary_stem: str = "Vocals",
    seed: int = 0,
) -> Path:
    """Write a VR Arch 5.1 ``CascadedNet`` state dict with random weights.

    Its ``vr_model_data.json`` entry names a one-band parameter set that ships with
    audio-separator (``1band_sr44100_hl512``) and a small capacity (``nout``,
    ``nout_lstm``), which is how UVR describes its 5.1 models.
    """
    import torch
    from audio_separator.separator.uvr_lib_v5.vr_network import nets_new

    torch.manual_seed(seed)
    nout, nout_lstm = 8, 8
    # 31191 is the architecture size audio-separator picks for a file this small.
    network = nets_new.CascadedNet(2048, 31191, nout=nout, nout_lstm=nout_lstm)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    torch.save(network.state_dict(), path)
    entry = {
        "vr_model_param": "1band_sr44100_hl512",
        "primary_stem": primary_stem,
        "nout": nout,
        "nout_lstm": nout_lstm,
    }
    _update_json(folder / VR_MODEL_DATA_FILE, {audio_separator_hash(path): entry})
    _list_model(folder, "vr_download_list", f"VR Arch Single Model v5: {path.stem}", filename)
    return path


#: The keyword arguments of the tiny HTDemucs: the published model's layout, a few
#: channels wide, one transformer layer, a one-second segment.
TINY_HTDEMUCS_ARGUMENTS: dict[str, Any] = {
    "sources": ["drums", "bass", "other", "vocals"],
    "audio_channels": 2,
    "channels": 4,
    "nfft": 512,
    "depth": 2,
    "t_layers": 1,
    "t_heads": 1,
    "bottom_channels": 0,
    "segment": 1,
    "samplerate": 44100,
    "dconv_comp": 1,
    "t_hidden_scale": 1.0,
}


def build_tiny_demucs(
    folder: Path,
    filename: str = "tiny_htdemucs.yaml",
    *,
    signature: str = "0d0e0f01",
    seed: int = 0,
) -> Path:
    """Write a Demucs v4 bag of one tiny HTDemucs (random weights): its ``.th`` and YAML.

    The ``.th`` is a Demucs package (the model class, its arguments and its state, as
    Demucs saves them) named ``<signature>-<sha256 prefix>.th``, which is how Demucs
    names its files and what audio-separator checks before loading one; the YAML lists
    the signature, as UVR's ``htdemucs_ft.yaml`` lists four.
    """
    import hashlib

    import torch
    import yaml
    from audio_separator.separator.uvr_lib_v5.demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    arguments = dict(TINY_HTDEMUCS_ARGUMENTS)
    network = HTDemucs(**arguments)
    folder.mkdir(parents=True, exist_ok=True)
    unnamed = folder / f"{signature}.th.tmp"
    package = {"klass": HTDemucs, "args": (), "kwargs": arguments, "state": network.state_dict()}
    torch.save(package, unnamed)
    checksum = hashlib.sha256(unnamed.read_bytes()).hexdigest()[:8]
    weights = unnamed.rename(folder / f"{signature}-{checksum}.th")
    path = folder / filename
    path.write_text(yaml.safe_dump({"models": [signature]}), encoding="utf-8")
    _list_model(
        folder,
        "demucs_download_list",
        f"Demucs v4: {path.stem}",
        {
            weights.name: f"https://example.invalid/{weights.name}",
            filename: f"https://example.invalid/{filename}",
        },
    )
    return path


def _list_model(folder: Path, list_name: str, friendly_name: str, files: Any) -> None:
    checks = folder / DOWNLOAD_CHECKS_FILE
    current = (
        json.loads(checks.read_text(encoding="utf-8"))
        if checks.is_file()
        else json.loads(json.dumps(_EMPTY_DOWNLOAD_CHECKS))
    )
    current.setdefault(list_name, {})[friendly_name] = files
    checks.write_text(json.dumps(current, indent=1), encoding="utf-8")
    # audio-separator reads both model data files for any MDX or VR model.
    for name in (MDX_MODEL_DATA_FILE, VR_MODEL_DATA_FILE):
        if not (folder / name).is_file():
            (folder / name).write_text("{}", encoding="utf-8")


def _update_json(path: Path, entries: dict[str, Any]) -> None:
    current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    current.update(entries)
    path.write_text(json.dumps(current, indent=1), encoding="utf-8")
