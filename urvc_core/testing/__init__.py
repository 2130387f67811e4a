"""What plugin authors test their backends with: conformance suites and test signals.

``urvc_core.testing`` imports pytest, so import it from tests only::

    from urvc_core.testing import F0ExtractorConformance, signals

See :mod:`urvc_core.testing.conformance` for how a plugin runs a suite on its backend.
"""

import pytest

# The suites' plain ``assert`` statements get pytest's detailed failure messages only if
# pytest rewrites the module, and it must be told so before the module is imported.
pytest.register_assert_rewrite("urvc_core.testing.conformance")

from urvc_core.testing import signals  # noqa: E402
from urvc_core.testing.conformance import (  # noqa: E402
    EffectConformance,
    EmbedderConformance,
    F0ExtractorConformance,
    FusionMethodConformance,
    SeparatorConformance,
    TTSEngineConformance,
)
from urvc_core.testing.signals import (  # noqa: E402
    PitchedSignal,
    StereoMix,
    centre_panned_speech_mix,
    cents_error,
    harmonic_tone,
    integrated_loudness,
    plucked_notes,
    rms_db,
    sdr_db,
    silence,
    speech,
    sweep,
    vibrato,
    voiced_fraction,
    voicing_agreement,
    white_noise,
)

__all__ = [
    "EffectConformance",
    "EmbedderConformance",
    "F0ExtractorConformance",
    "FusionMethodConformance",
    "PitchedSignal",
    "SeparatorConformance",
    "StereoMix",
    "TTSEngineConformance",
    "centre_panned_speech_mix",
    "cents_error",
    "harmonic_tone",
    "integrated_loudness",
    "plucked_notes",
    "rms_db",
    "sdr_db",
    "signals",
    "silence",
    "speech",
    "sweep",
    "vibrato",
    "voiced_fraction",
    "voicing_agreement",
    "white_noise",
]
