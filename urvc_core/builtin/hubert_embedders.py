"""The content embedders RVC voice models are trained with: ContentVec, HuBERT and relatives.

Each backend turns 16 kHz speech into the features a voice model was trained on, so a
voice model must be converted with the embedder it was trained with (Applio records it
as ``embedder_model`` in the ``.pth``; classic RVC models all used ``contentvec``, which
RVC ships as ``hubert_base.pt``).

==========================  =================================================  =======
name                        what it is                                         format
==========================  =================================================  =======
``contentvec``              ContentVec (HuBERT base trained to drop speaker)   HF
``hubert-base``             RVC WebUI's ``hubert_base.pt``, in half precision  fairseq
                            (known as ContentVec's "legacy" checkpoint)
``spin``, ``spin-v2``       SPIN: HuBERT fine-tuned for speaker invariance     HF
``chinese-hubert-base``     TencentGameMate's Chinese HuBERT base              HF
``japanese-hubert-base``    rinna's Japanese HuBERT base                       HF
``korean-hubert-base``      team-lucid's Korean HuBERT base                    HF
``custom``                  any HuBERT-family folder or fairseq ``.pt``        either
==========================  =================================================  =======

The HF-format weights are Applio's copies (``IAHispano/Applio``, ``Resources/embedders``)
so that a model trained in Applio meets exactly the weights it was trained with. Each
is declared as two assets, ``<name>`` (the weights) and ``<name>-config`` (its
config.json), stored under ``<home>/assets/embedders/<name>/``. ``[asset_paths]`` may
point ``<name>`` at a folder, a weight file, or a fairseq ``.pt`` file.

Nothing here imports torch or transformers until a backend embeds: the kernel imports
this module at start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from urvc_core.assets import Asset
from urvc_core.backends import DeviceSetting, Embedder, Setting
from urvc_core.devices import precision_dtype, resolve_device
from urvc_core.errors import InvalidSettingError, UrvcError
from urvc_core.hookspecs import Register, hookimpl

if TYPE_CHECKING:
    from urvc_core.builtin.hubert_network import HubertFeatureModel

_APPLIO_EMBEDDERS = "https://huggingface.co/IAHispano/Applio/resolve/main/Resources/embedders"

DEVICE_SETTING = DeviceSetting(
    "device",
    str,
    "auto",
    "Where the model runs; auto: the command's --device, else the configured device, else "
    "a GPU when torch sees one.",
)

PRECISION_SETTING = Setting(
    "precision",
    str,
    "fp32",
    "Arithmetic of the network: fp32, bf16 (44 % less time on a CPU with bf16, features "
    "at 37 dB SNR against fp32), fp16 (GPU only). A conversion sets it to its own.",
    choices=("fp32", "bf16", "fp16"),
)


def _applio_assets(
    name: str,
    folder: str,
    description: str,
    *,
    weights_sha256: str | None = None,
    weights_size: int | None = None,
    config_sha256: str | None = None,
    config_size: int | None = None,
) -> tuple[Asset, Asset]:
    """The weights and config.json of one of Applio's embedder folders."""
    weights = Asset(
        name=name,
        url=f"{_APPLIO_EMBEDDERS}/{folder}/pytorch_model.bin",
        filename=f"embedders/{name}/pytorch_model.bin",
        sha256=weights_sha256,
        size=weights_size,
        description=f"{description} (weights)",
    )
    config = Asset(
        name=f"{name}-config",
        url=f"{_APPLIO_EMBEDDERS}/{folder}/config.json",
        filename=f"embedders/{name}/config.json",
        sha256=config_sha256,
        size=config_size,
        description=f"{description} (config.json)",
    )
    return weights, config


# Hashes and sizes: ContentVec's and hubert_base.pt's are the values several unrelated
# projects pin these very files to; the other folders' are published nowhere we could
# check, so those downloads go unverified rather than trusting a guess.
CONTENTVEC_ASSETS = _applio_assets(
    "contentvec",
    "contentvec",
    "ContentVec embedder",
    weights_sha256="d8dd400e054ddf4e6be75dab5a2549db748cc99e756a097c496c099f65a4854e",
    weights_size=378342945,
    config_sha256="2ddde063b795d38d9051a7215a092fecf4cfe148b54251e38de51d88d356898b",
    config_size=1388,
)
SPIN_ASSETS = _applio_assets("spin", "spin", "SPIN embedder")
SPIN_V2_ASSETS = _applio_assets("spin-v2", "spin-v2", "SPIN v2 embedder")
CHINESE_HUBERT_ASSETS = _applio_assets(
    "chinese-hubert-base", "chinese_hubert_base", "Chinese HuBERT base embedder"
)
JAPANESE_HUBERT_ASSETS = _applio_assets(
    "japanese-hubert-base", "japanese_hubert_base", "Japanese HuBERT base embedder"
)
KOREAN_HUBERT_ASSETS = _applio_assets(
    "korean-hubert-base", "korean_hubert_base", "Korean HuBERT base embedder"
)
HUBERT_BASE_ASSET = Asset(
    name="hubert-base",
    url="https://huggingface.co/lj1995/VoiceConversionWebUI/resolve/main/hubert_base.pt",
    filename="embedders/hubert-base/hubert_base.pt",
    sha256="f54b40fd2802423a5643779c4861af1e9ee9c1564dc9d32f54f20b5ffba7db96",
    size=189507909,
    description="RVC WebUI's hubert_base.pt embedder (fairseq checkpoint)",
)

EMBEDDER_ASSETS: tuple[Asset, ...] = (
    *CONTENTVEC_ASSETS,
    HUBERT_BASE_ASSET,
    *SPIN_ASSETS,
    *SPIN_V2_ASSETS,
    *CHINESE_HUBERT_ASSETS,
    *JAPANESE_HUBERT_ASSETS,
    *KOREAN_HUBERT_ASSETS,
)


class HubertFamilyEmbedder(Embedder):
    """What every HuBERT-family backend shares: lazy loading, caching, the embed call.

    The model is loaded on the first :meth:`embed` (or :meth:`feature_model`) and kept
    for the life of the instance. Subclasses say where the model comes from in
    :meth:`load_model`.
    """

    requires_modules: ClassVar[tuple[str, ...]] = ("torch", "transformers")
    settings: ClassVar[tuple[Setting, ...]] = (DEVICE_SETTING, PRECISION_SETTING)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._model: HubertFeatureModel | None = None
        self._load_lock = threading.Lock()

    def embed(self, samples: np.ndarray, *, layer: int = 12, project: bool = False) -> np.ndarray:
        import torch

        array = np.asarray(samples)
        if array.ndim == 2 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 1:
            raise UrvcError(
                f"The embedder needs mono 16 kHz samples shaped (samples,); got shape "
                f"{array.shape}. Mix the audio down to one channel first."
            )
        waveform = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        features = self.feature_model().features(waveform, layer=layer, project=project)
        return np.ascontiguousarray(features.cpu().numpy(), dtype=np.float32)

    def feature_model(self) -> HubertFeatureModel:
        """The loaded model, for callers that keep features on the GPU (loads it once)."""
        with self._load_lock:
            if self._model is None:
                device = resolve_device(self.options["device"], owner=self.name)
                what = f"embedder '{self.name}'"
                dtype = precision_dtype(self.options["precision"], device, what)
                self._model = self.load_model(device).to(dtype=dtype)
            return self._model

    def load_model(self, device: str) -> HubertFeatureModel:
        """Find the model's files (downloading them if need be) and load them onto ``device``."""
        raise NotImplementedError


class _CatalogueEmbedder(HubertFamilyEmbedder):
    """A named embedder whose files are declared assets, fetched on first use."""

    weights_asset: ClassVar[Asset]
    config_asset: ClassVar[Asset | None] = None

    def load_model(self, device: str) -> HubertFeatureModel:
        from urvc_core.builtin.hubert_network import HF_WEIGHT_FILES, load_hubert, load_hubert_files
        from urvc_core.catalogue import fetch_asset

        weights = fetch_asset(self.weights_asset.name)
        # [asset_paths] may point the weights at a whole folder or at a fairseq file.
        if weights.is_dir() or self.config_asset is None:
            return load_hubert(weights, device=device)
        if weights.name not in HF_WEIGHT_FILES and weights.suffix not in (".bin", ".safetensors"):
            return load_hubert(weights, device=device)
        beside = weights.parent / "config.json"
        config = beside if beside.is_file() else fetch_asset(self.config_asset.name)
        return load_hubert_files(config, weights, device=device)


class ContentVecEmbedder(_CatalogueEmbedder):
    name = "contentvec"
    description = "ContentVec (HuBERT base, speaker-free): the RVC default; 768 dims, 256 projected"
    weights_asset = CONTENTVEC_ASSETS[0]
    config_asset = CONTENTVEC_ASSETS[1]


class HubertBaseEmbedder(_CatalogueEmbedder):
    name = "hubert-base"
    description = "RVC WebUI's hubert_base.pt (fairseq): what classic RVC models were trained with"
    weights_asset = HUBERT_BASE_ASSET


class SpinEmbedder(_CatalogueEmbedder):
    name = "spin"
    description = "SPIN: HuBERT fine-tuned for speaker invariance (Applio)"
    weights_asset = SPIN_ASSETS[0]
    config_asset = SPIN_ASSETS[1]


class SpinV2Embedder(_CatalogueEmbedder):
    name = "spin-v2"
    description = "SPIN v2: HuBERT fine-tuned for speaker invariance, second release (Applio)"
    weights_asset = SPIN_V2_ASSETS[0]
    config_asset = SPIN_V2_ASSETS[1]


class ChineseHubertEmbedder(_CatalogueEmbedder):
    name = "chinese-hubert-base"
    description = "HuBERT base trained on Chinese speech (TencentGameMate, via Applio)"
    weights_asset = CHINESE_HUBERT_ASSETS[0]
    config_asset = CHINESE_HUBERT_ASSETS[1]


class JapaneseHubertEmbedder(_CatalogueEmbedder):
    name = "japanese-hubert-base"
    description = "HuBERT base trained on Japanese speech (rinna, via Applio)"
    weights_asset = JAPANESE_HUBERT_ASSETS[0]
    config_asset = JAPANESE_HUBERT_ASSETS[1]


class KoreanHubertEmbedder(_CatalogueEmbedder):
    name = "korean-hubert-base"
    description = "HuBERT base trained on Korean speech (team-lucid, via Applio)"
    weights_asset = KOREAN_HUBERT_ASSETS[0]
    config_asset = KOREAN_HUBERT_ASSETS[1]


class CustomEmbedder(HubertFamilyEmbedder):
    """Any HuBERT-family model on disk: a Hugging Face folder or a fairseq ``.pt`` file."""

    name = "custom"
    description = (
        "A HuBERT-family model you have: a folder (config.json + weights) or a fairseq .pt"
    )
    settings = (
        Setting(
            "path",
            str,
            None,
            "The model: a folder holding config.json and pytorch_model.bin (or "
            "model.safetensors), or a fairseq .pt checkpoint. Required.",
        ),
        DEVICE_SETTING,
        PRECISION_SETTING,
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.options["path"]:
            raise InvalidSettingError(
                "embedder 'custom' needs its path setting: a folder holding config.json "
                "and pytorch_model.bin, or a fairseq .pt file."
            )

    def load_model(self, device: str) -> HubertFeatureModel:
        from urvc_core.builtin.hubert_network import load_hubert

        return load_hubert(Path(self.options["path"]).expanduser(), device=device)


EMBEDDER_CLASSES: tuple[type[HubertFamilyEmbedder], ...] = (
    ContentVecEmbedder,
    HubertBaseEmbedder,
    SpinEmbedder,
    SpinV2Embedder,
    ChineseHubertEmbedder,
    JapaneseHubertEmbedder,
    KoreanHubertEmbedder,
    CustomEmbedder,
)


@hookimpl
def register_embedders(register: Register) -> None:
    for embedder_class in EMBEDDER_CLASSES:
        register(embedder_class)


@hookimpl
def register_assets(register: Callable[[Asset], None]) -> None:
    for asset in EMBEDDER_ASSETS:
        register(asset)
