"""Backends that ship with urvc-core.

They are plugins like any other: each module below implements the same hooks an
installed plugin would, and the kernel registers them through the same path. Nothing
in the kernel imports a backend class directly; it asks the registry by name.
"""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "urvc_core.builtin.classic_f0",
    "urvc_core.builtin.neural_f0",
    "urvc_core.builtin.hubert_embedders",
    "urvc_core.builtin.dsp_separator",
    "urvc_core.builtin.loudness_effects",
    "urvc_core.builtin.weighted_fusion",
)
