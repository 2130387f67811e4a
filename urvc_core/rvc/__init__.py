"""The RVC engine: voice models, pitch, index retrieval, conversion.

The networks of the built-in pitch extractors and embedders (CREPE, FCPE, HuBERT) are
not part of it: they live beside their backends in :mod:`urvc_core.builtin`, and the
engine reaches them, like any plugin's, through the backend registry.
"""
