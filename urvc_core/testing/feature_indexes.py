"""Real faiss feature indexes for tests, built the way RVC's trainer builds them.

The vectors are synthetic content features: a few dozen "phone" centres with scatter
around each, which gives the index the clustered shape HuBERT features have, so IVF
lists fill unevenly as they do for real voices::

    from urvc_core.testing.feature_indexes import build_index_file

    index_path = build_index_file(tmp_path / "voice.index", dim=256)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from urvc_core.rvc.feature_index import build_feature_index

__all__ = ["build_index_file", "synthetic_content_features"]

_PHONE_CENTRES = 40


def synthetic_content_features(frames: int, *, dim: int = 768, seed: int = 0) -> np.ndarray:
    """``frames × dim`` float32 vectors clustered around a few dozen centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((_PHONE_CENTRES, dim)).astype(np.float32)
    phones = rng.integers(0, _PHONE_CENTRES, size=frames)
    scatter = 0.35 * rng.standard_normal((frames, dim)).astype(np.float32)
    return np.ascontiguousarray(centres[phones] + scatter, dtype=np.float32)


def build_index_file(path: Path, *, dim: int = 768, vectors: int = 2000, seed: int = 0) -> Path:
    """Write an RVC-layout (IVF, Flat, nprobe 1) index of ``vectors`` synthetic features."""
    features = synthetic_content_features(vectors, dim=dim, seed=seed)
    return build_feature_index(features, Path(path), seed=seed)
