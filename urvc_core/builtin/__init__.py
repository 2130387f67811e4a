"""Backends that ship with urvc-core.

They are plugins like any other: each module in ``BUILTIN_PLUGINS`` implements the same
hooks an installed plugin would, and the kernel registers them through the same path.
Nothing in the kernel imports a backend class directly; it asks the registry by name.

Beside them are the networks they run, which a backend imports when it first needs
them: ``crepe_network`` and ``fcpe_network`` (for ``neural_f0``), ``hubert_network``
(for ``hubert_embedders``), and ``random_hubert_models``, HuBERT embedders with random
weights for ``urvc demo`` and tests.
"""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "urvc_core.builtin.classic_f0",
    "urvc_core.builtin.neural_f0",
    "urvc_core.builtin.hubert_embedders",
    "urvc_core.builtin.dsp_separator",
    "urvc_core.builtin.loudness_effects",
    "urvc_core.builtin.weighted_fusion",
    "urvc_core.builtin.edge_tts_engine",
    "urvc_core.builtin.voice_catalogue_asset",
    "urvc_core.builtin.pretrained_assets",
)
