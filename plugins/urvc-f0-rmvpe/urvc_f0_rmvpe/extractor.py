"""The ``rmvpe`` f0 extractor: RMVPE on the F0Extractor contract.

The network works on 16 kHz audio, one frame every 160 samples. Audio at any other
rate is resampled with soxr (``urvc_core.audio.resample``), and when the caller asks
for another grid (another rate or hop) the 10 ms track is interpolated onto it, in
log-frequency between voiced frames (``urvc_core.rvc.pitch.interpolate_f0``).

Voicing and range follow RVC: a frame is voiced when its most salient bin scores more
than ``threshold``, and a voiced frame whose pitch lies outside ``[f0_min, f0_max]`` is
reported unvoiced (RVC's ``infer_from_audio_with_pitch`` does the same), rather than
searched for another pitch inside the range.

torch is imported when pitch is first extracted, never when urvc starts.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from urvc_core.backends import DeviceSetting, F0Extractor, Setting
from urvc_core.devices import resolve_device
from urvc_core.errors import UrvcError
from urvc_f0_rmvpe.decoding import DEFAULT_THRESHOLD
from urvc_f0_rmvpe.weights import RMVPE_WEIGHTS

if TYPE_CHECKING:
    import torch

    from urvc_f0_rmvpe.network import RmvpeNetwork
    from urvc_f0_rmvpe.onnx_runtime import OnnxNetwork
    from urvc_f0_rmvpe.salience import Network

#: RMVPE's own grid: 16 kHz audio, a frame every 160 samples.
NETWORK_RATE = 16000
NETWORK_HOP = 160
#: Loaded networks kept: loading one reads 181 MB and takes a second or two.
_CACHED_NETWORKS = 2


class RmvpePitch(F0Extractor):
    """RMVPE: a U-Net and a GRU on the log-mel spectrogram, RVC's choice for singing."""

    name = "rmvpe"
    description = "RMVPE pitch network (RVC's rmvpe.pt): robust on singing and on vocals with bleed"
    requires_modules = ("torch",)
    releases_gil = True  # torch lets go of the GIL in its kernels
    settings = (
        Setting(
            "threshold",
            float,
            DEFAULT_THRESHOLD,
            "A frame is voiced when its most likely pitch bin scores more than this "
            "(RVC: 0.03). Higher leaves breaths and bleed unvoiced; lower voices more.",
            minimum=0.0,
            maximum=1.0,
        ),
        DeviceSetting(
            "device",
            str,
            "auto",
            "Where the network runs: auto follows the command's --device, then config.toml's "
            "device, and picks a GPU torch sees when that is auto too.",
        ),
        Setting(
            "precision",
            str,
            "fp32",
            "fp16 halves the network's memory and speeds it up on a GPU; GPU only.",
            choices=("fp32", "fp16"),
        ),
        Setting(
            "runtime",
            str,
            "torch",
            "What runs the network: torch, or onnxruntime (CPU only, faster there; needs "
            "pip install 'urvc-f0-rmvpe[onnx]', and exports the network once, about 15 s "
            "and 362 MB under urvc's cache folder).",
            choices=("torch", "onnxruntime"),
        ),
        Setting(
            "segment_seconds",
            float,
            30.0,
            "Longer recordings are analysed in segments of this length, each with 2.56 s "
            "of context on both sides, so memory stays bounded (about 110 MB per 10 s of "
            "segment on a CPU); the joins leave no trace.",
            unit="s",
            minimum=0.32,
            maximum=3600.0,
        ),
    )

    def estimate_f0(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_length: int,
        f0_min: float,
        f0_max: float,
    ) -> np.ndarray:
        from urvc_f0_rmvpe.salience import estimate_pitch

        audio = _at_network_rate(samples, sample_rate)
        network, device, dtype = self._network()
        estimate = estimate_pitch(
            network,
            audio,
            segment_frames=round(self.options["segment_seconds"] * NETWORK_RATE / NETWORK_HOP),
            device=device,
            dtype=dtype,
        )
        f0 = estimate.f0_hz(self.options["threshold"])
        # RVC's rule, applied before interpolating so that no out-of-range frame is
        # blended into its neighbours: out of range is unvoiced, not clamped onto it.
        f0[(f0 < f0_min) | (f0 > f0_max)] = 0.0
        if (sample_rate, hop_length) != (NETWORK_RATE, NETWORK_HOP):
            from urvc_core.rvc.pitch import interpolate_f0

            frame_count = self.frame_count(len(samples), hop_length)
            f0 = interpolate_f0(
                np.arange(len(f0)) * (NETWORK_HOP / NETWORK_RATE),
                f0,
                np.arange(frame_count) * (hop_length / sample_rate),
                reach=math.inf,
            )
        return f0

    def _network(self) -> tuple[Network, torch.device, torch.dtype]:
        """The loaded network for the settings, with the device and dtype it runs in."""
        from urvc_core.catalogue import fetch_asset
        from urvc_core.home import urvc_home

        weights = _file_identity(fetch_asset(RMVPE_WEIGHTS.name))
        precision = self.options["precision"]
        if self.options["runtime"] == "onnxruntime":
            device, dtype = _onnx_device(self.options["device"], precision)
            return _cached_onnx_network(*weights, str(urvc_home().cache)), device, dtype
        import torch

        device = torch.device(resolve_device(self.options["device"], owner=self.name))
        dtype = _dtype(precision, device)
        return _cached_network(*weights, str(device), precision), device, dtype


def _dtype(precision: str, device: torch.device) -> torch.dtype:
    import torch

    if precision == "fp16":
        if device.type == "cpu":
            raise UrvcError(
                "rmvpe: precision fp16 runs on a GPU only, and the network runs on the CPU "
                "here; use precision fp32, or a GPU device."
            )
        return torch.float16
    return torch.float32


def _onnx_device(device: str, precision: str) -> tuple[torch.device, torch.dtype]:
    import torch

    if device not in ("auto", "cpu"):
        raise UrvcError(
            f"rmvpe: runtime 'onnxruntime' runs on the CPU, not on device '{device}'; set the "
            f"device to cpu or auto, or use runtime 'torch' on a GPU."
        )
    if precision != "fp32":
        raise UrvcError("rmvpe: runtime 'onnxruntime' runs in fp32 only; set precision to fp32.")
    return torch.device("cpu"), torch.float32


def _at_network_rate(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    samples = np.asarray(signal, dtype=np.float32)
    if sample_rate == NETWORK_RATE:
        return samples
    from urvc_core.audio import resample
    from urvc_core.backends import Audio

    return resample(Audio(samples, sample_rate), NETWORK_RATE).samples[0]


def _file_identity(path: Path) -> tuple[str, int, int]:
    """The path with its size and modification time, so a replaced file is read afresh."""
    status = Path(path).stat()
    return str(path), status.st_size, status.st_mtime_ns


@functools.lru_cache(maxsize=_CACHED_NETWORKS)
def _cached_network(
    path: str, size: int, mtime_ns: int, device: str, precision: str
) -> RmvpeNetwork:
    from urvc_f0_rmvpe.weights import load_rmvpe

    network = load_rmvpe(Path(path)).to(device)
    return network.half() if precision == "fp16" else network


@functools.lru_cache(maxsize=_CACHED_NETWORKS)
def _cached_onnx_network(path: str, size: int, mtime_ns: int, cache: str) -> OnnxNetwork:
    from urvc_f0_rmvpe.onnx_runtime import load_onnx_network

    return load_onnx_network(Path(path), Path(cache))
