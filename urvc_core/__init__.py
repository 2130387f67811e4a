"""urvc: retrieval-based voice conversion and AI song covers, as a small kernel with plugins.

The library API. Everything the ``urvc`` command does is a call to one of these names,
so a script can do the same. A plugin needs only ``from urvc_core import hookimpl``
and the base class of the backend kind it provides.
"""

from urvc_core.allocator import bound_onednn_primitive_cache
from urvc_core.assets import Asset, AssetStore
from urvc_core.audio import (
    audio_info,
    convert_audio_file,
    convert_channels,
    load_audio,
    open_audio_writer,
    resample,
    save_audio,
)
from urvc_core.backends import (
    Audio,
    Backend,
    BackendInfo,
    BackendKind,
    Effect,
    Embedder,
    F0Extractor,
    FusionMethod,
    Separator,
    Setting,
    TTSEngine,
    TTSVoice,
)
from urvc_core.cache import StepCache
from urvc_core.catalogue import asset_store, fetch_asset, list_assets
from urvc_core.cover import CoverResult, make_cover, make_covers
from urvc_core.cover_options import COVER_SETTINGS, CoverOptions
from urvc_core.devices import use_device
from urvc_core.doctor import DoctorReport, run_doctor
from urvc_core.errors import UrvcError
from urvc_core.fusion import ModelComparison, compare_models, fuse_models
from urvc_core.home import (
    Config,
    UrvcHome,
    load_config,
    set_config_value,
    unset_config_value,
    urvc_home,
)
from urvc_core.hookspecs import hookimpl
from urvc_core.mixing import MixResult, Track, mix_files, mix_tracks
from urvc_core.plugins import PluginRecord, list_plugins
from urvc_core.presets import EffectPreset, SeparationPreset, SeparationStep, SeparatorChoice
from urvc_core.previews import PreviewResult, preview_voice_model
from urvc_core.registry import get_backend, list_backends
from urvc_core.rvc.conversion import ConversionResult, VoiceConverter, convert_voice, convert_voices
from urvc_core.rvc.request import ConversionRequest, resolve_conversion
from urvc_core.rvc.settings import CONVERSION_SETTINGS, ConversionSettings
from urvc_core.separation import separate_files, separate_song
from urvc_core.sources import Source, resolve_sources
from urvc_core.speech import SpeechResult, list_tts_voices, say, speak
from urvc_core.speech_options import SPEECH_SETTINGS, SpeechOptions
from urvc_core.version import __version__
from urvc_core.voice_catalogue import (
    CatalogueEntry,
    VoiceCatalogue,
    load_catalogue,
    search_catalogue,
    update_catalogue,
)
from urvc_core.voices import (
    VoiceDownload,
    VoiceEntry,
    VoiceImportResult,
    delete_voice_model,
    download_catalogue_models,
    download_voice_model,
    download_voice_models,
    download_voices,
    get_voice_model,
    import_voice_files,
    import_voice_model,
    import_voice_models,
    list_voice_models,
    resolve_voice_model,
)

# Before anything can run a convolution: oneDNN reads its cache size once.
bound_onednn_primitive_cache()

__all__ = [
    "CONVERSION_SETTINGS",
    "COVER_SETTINGS",
    "SPEECH_SETTINGS",
    "Asset",
    "AssetStore",
    "Audio",
    "Backend",
    "BackendInfo",
    "BackendKind",
    "CatalogueEntry",
    "Config",
    "ConversionRequest",
    "ConversionResult",
    "ConversionSettings",
    "CoverOptions",
    "CoverResult",
    "DoctorReport",
    "Effect",
    "EffectPreset",
    "Embedder",
    "F0Extractor",
    "FusionMethod",
    "MixResult",
    "ModelComparison",
    "PluginRecord",
    "PreviewResult",
    "SeparationPreset",
    "SeparationStep",
    "Separator",
    "SeparatorChoice",
    "Setting",
    "Source",
    "SpeechOptions",
    "SpeechResult",
    "StepCache",
    "TTSEngine",
    "TTSVoice",
    "Track",
    "UrvcError",
    "UrvcHome",
    "VoiceCatalogue",
    "VoiceConverter",
    "VoiceDownload",
    "VoiceEntry",
    "VoiceImportResult",
    "__version__",
    "asset_store",
    "audio_info",
    "compare_models",
    "convert_audio_file",
    "convert_channels",
    "convert_voice",
    "convert_voices",
    "delete_voice_model",
    "download_catalogue_models",
    "download_voice_model",
    "download_voice_models",
    "download_voices",
    "fetch_asset",
    "fuse_models",
    "get_backend",
    "get_voice_model",
    "hookimpl",
    "import_voice_files",
    "import_voice_model",
    "import_voice_models",
    "list_assets",
    "list_backends",
    "list_plugins",
    "list_tts_voices",
    "list_voice_models",
    "load_audio",
    "load_catalogue",
    "load_config",
    "make_cover",
    "make_covers",
    "mix_files",
    "mix_tracks",
    "open_audio_writer",
    "preview_voice_model",
    "resample",
    "resolve_conversion",
    "resolve_sources",
    "resolve_voice_model",
    "run_doctor",
    "save_audio",
    "say",
    "search_catalogue",
    "separate_files",
    "separate_song",
    "set_config_value",
    "speak",
    "unset_config_value",
    "update_catalogue",
    "urvc_home",
    "use_device",
]
