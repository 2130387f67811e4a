"""The vocal-extraction chains of a song cover, registered as separation presets.

The models are those Ultimate RVC uses for the same steps: MDX-Net Voc FT for the
vocals, MDX-Net Karaoke 2 for main/backup vocals, FoxJoy's Reverb HQ for de-reverb.
``lead-clean`` is Ultimate RVC's three steps and what ``auto`` picks where this plugin is
installed and its models are on disk or may be downloaded.
"""

from __future__ import annotations

from urvc_core.presets import SeparationPreset, SeparationStep
from urvc_separator_mdx.cover_steps import (
    DEFAULT_DEREVERB_MODEL,
    DEFAULT_KARAOKE_MODEL,
    DEFAULT_VOCALS_MODEL,
)

_VOCALS = SeparationStep("vocals", "mdx", {"model": DEFAULT_VOCALS_MODEL})
_KARAOKE = SeparationStep("karaoke", "mdx", {"model": DEFAULT_KARAOKE_MODEL})
_DEREVERB = SeparationStep("dereverb", "mdx", {"model": DEFAULT_DEREVERB_MODEL})

SEPARATION_PRESETS: tuple[SeparationPreset, ...] = (
    SeparationPreset(
        "vocals",
        "Vocals/instrumental with UVR-MDX-NET Voc FT",
        (_VOCALS,),
        assets=(DEFAULT_VOCALS_MODEL,),
    ),
    SeparationPreset(
        "karaoke",
        "Vocals/instrumental, then main/backup vocals (UVR MDX-NET Karaoke 2)",
        (_VOCALS, _KARAOKE),
        assets=(DEFAULT_VOCALS_MODEL, DEFAULT_KARAOKE_MODEL),
    ),
    SeparationPreset(
        "dereverb",
        "Vocals/instrumental, then the vocals' reverb removed (Reverb HQ by FoxJoy)",
        (_VOCALS, _DEREVERB),
        assets=(DEFAULT_VOCALS_MODEL, DEFAULT_DEREVERB_MODEL),
    ),
    SeparationPreset(
        "lead-clean",
        "Vocals/instrumental, main/backup, then the main vocals' reverb removed "
        "(Ultimate RVC's three steps)",
        (_VOCALS, _KARAOKE, _DEREVERB),
        rank=10,
        assets=(DEFAULT_VOCALS_MODEL, DEFAULT_KARAOKE_MODEL, DEFAULT_DEREVERB_MODEL),
    ),
)
