"""RVC voice model files for tests: real files in the community layout, random weights.

``urvc demo`` builds its voice model with the same functions, so they live in
:mod:`urvc_core.rvc.random_voice_models` (see there for sizes and levels); tests find
them here, beside the rest of their toolkit::

    from urvc_core.testing.voice_models import build_voice_model_file

    path = build_voice_model_file(tmp_path / "voice.pth", version="v1", sample_rate=48000)
    model = VoiceModel.load(path)
"""

from urvc_core.rvc.random_voice_models import (
    build_voice_model_file,
    full_size_config,
    make_attention_local,
    random_synthesizer,
    tiny_config,
)

__all__ = [
    "build_voice_model_file",
    "full_size_config",
    "make_attention_local",
    "random_synthesizer",
    "tiny_config",
]
