"""Feature index retrieval against brute-force numpy, on real faiss indexes written to disk."""

from __future__ import annotations

import math
import re
from pathlib import Path

import faiss
import numpy as np
import pytest

from urvc_core.errors import UrvcError
from urvc_core.rvc.feature_index import (
    FeatureIndex,
    build_feature_index,
    read_feature_index_info,
)
from urvc_core.testing.feature_indexes import build_index_file, synthetic_content_features


def _write_flat_index(path: Path, vectors: np.ndarray) -> Path:
    """An exact (Flat) index written by faiss itself, as some tools ship them."""
    index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(path))
    return path


def _brute_force_retrieval(queries: np.ndarray, stored: np.ndarray, k: int) -> np.ndarray:
    """RVC's weighted mean computed in float64 from every distance, no faiss involved."""
    queries64 = queries.astype(np.float64)
    stored64 = stored.astype(np.float64)
    squared = ((queries64[:, None, :] - stored64[None, :, :]) ** 2).sum(axis=2)
    nearest = np.argsort(squared, axis=1)[:, :k]
    scores = np.take_along_axis(squared, nearest, axis=1)
    weights = 1.0 / scores**2
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("fk,fkd->fd", weights, stored64[nearest])


@pytest.fixture(scope="module")
def stored_vectors() -> np.ndarray:
    return synthetic_content_features(600, dim=256, seed=1)


@pytest.fixture
def flat_index(tmp_path: Path, stored_vectors: np.ndarray) -> FeatureIndex:
    return FeatureIndex.load(_write_flat_index(tmp_path / "flat.index", stored_vectors))


@pytest.mark.parametrize("k", [1, 3, 8])
def test_retrieval_equals_brute_force_inverse_square_weighting(
    flat_index: FeatureIndex, stored_vectors: np.ndarray, k: int
) -> None:
    queries = synthetic_content_features(50, dim=256, seed=2)

    retrieved = flat_index.retrieve(queries, k=k)

    expected = _brute_force_retrieval(queries, stored_vectors, k)
    assert retrieved.dtype == np.float32
    assert retrieved.shape == queries.shape
    assert np.abs(retrieved - expected).max() < 1e-5
    if k == 1:
        # one neighbour: the nearest stored vector itself, not a blend
        nearest = np.argmin(((queries[:, None] - stored_vectors[None]) ** 2).sum(2), axis=1)
        assert np.array_equal(retrieved, stored_vectors[nearest])


def test_retrieval_on_an_rvc_ivf_index_uses_the_neighbours_faiss_finds(tmp_path: Path) -> None:
    path = build_index_file(tmp_path / "added_IVF51_Flat_nprobe_1_voice_v2.index", seed=3)
    index = FeatureIndex.load(path)
    queries = synthetic_content_features(120, dim=768, seed=4)

    retrieved = index.retrieve(queries)

    # RVC's pipeline, step by step, on the same file read by faiss itself
    raw = faiss.read_index(str(path))
    big_npy = raw.reconstruct_n(0, raw.ntotal)
    score, ix = raw.search(queries, 8)
    assert (ix >= 0).all()
    weight = np.square(1 / score.astype(np.float64))
    weight /= weight.sum(axis=1, keepdims=True)
    expected = np.sum(big_npy[ix] * weight[:, :, None], axis=1)
    assert np.abs(retrieved - expected).max() < 1e-5
    assert np.array_equal(index.big_npy, big_npy)


def test_a_frame_equal_to_stored_vectors_gets_exactly_those_vectors(
    tmp_path: Path, stored_vectors: np.ndarray
) -> None:
    # vector 7 stored twice, next to a slightly different copy of vector 9
    doubled = np.concatenate([stored_vectors, stored_vectors[[7]], stored_vectors[[9]] + 0.01])
    index = FeatureIndex.load(_write_flat_index(tmp_path / "dup.index", doubled))
    queries = stored_vectors[[7, 9, 20]]

    retrieved = index.retrieve(queries)

    assert np.isfinite(retrieved).all()  # RVC's 1/0 would give NaN here
    assert np.array_equal(retrieved, queries)


def test_frames_with_too_few_or_no_neighbours_in_the_probed_list(tmp_path: Path) -> None:
    dim = 16
    rng = np.random.default_rng(5)
    near_a = rng.standard_normal((5, dim)).astype(np.float32) * 0.1 + 10.0
    near_b = rng.standard_normal((200, dim)).astype(np.float32) * 0.1 - 10.0
    quantizer = faiss.IndexFlatL2(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, 2)
    ivf.train(np.concatenate([near_a, near_b]))
    ivf.nprobe = 1
    ivf.add(near_a)  # cluster B's list stays empty
    path = tmp_path / "partial.index"
    faiss.write_index(ivf, str(path))
    index = FeatureIndex.load(path)
    query_a = near_a[:1] + 0.05
    query_b = near_b[:1]

    retrieved = index.retrieve(np.concatenate([query_a, query_b]))

    # only 5 of the 8 neighbours exist for query A: the mean is over those 5
    assert np.abs(retrieved[0] - _brute_force_retrieval(query_a, near_a, 5)[0]).max() < 1e-5
    # query B probes an empty list: it keeps its own features
    assert np.array_equal(retrieved[1], query_b[0])


def test_blend_at_index_rates_0_1_and_0_3(flat_index: FeatureIndex) -> None:
    features = synthetic_content_features(40, dim=256, seed=6)
    retrieved = flat_index.retrieve(features)

    assert flat_index.blend(features, 0.0) is features
    assert np.array_equal(flat_index.blend(features, 1.0), retrieved)
    blended = flat_index.blend(features, 0.3)
    assert np.abs(blended - (0.3 * retrieved + 0.7 * features)).max() < 1e-6
    half = flat_index.blend(features.astype(np.float16), 0.3)
    assert half.dtype == np.float16
    with pytest.raises(UrvcError, match="between 0 and 1"):
        flat_index.blend(features, 1.5)


def test_index_rate_0_skips_the_search_even_for_a_mismatched_model(
    flat_index: FeatureIndex,
) -> None:
    wrong_width = np.ones((4, 768), dtype=np.float32)
    assert flat_index.blend(wrong_width, 0.0) is wrong_width


def test_dimension_mismatch_names_both_versions(tmp_path: Path) -> None:
    v2_index = FeatureIndex.load(build_index_file(tmp_path / "v2.index", dim=768))
    v1_features = np.zeros((10, 256), dtype=np.float32)

    with pytest.raises(UrvcError) as raised:
        v2_index.blend(v1_features, 0.5)

    message = str(raised.value)
    assert "v2 (768-dim" in message and "v1 (256-dim" in message
    assert str(tmp_path / "v2.index") in message


def test_truncated_and_foreign_files_are_refused_by_name(tmp_path: Path) -> None:
    whole = build_index_file(tmp_path / "whole.index", dim=256, vectors=500)
    truncated = tmp_path / "truncated.index"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    foreign = tmp_path / "notes.index"
    foreign.write_text("these are not vectors\n" * 10)
    empty = tmp_path / "empty.index"
    empty.write_bytes(b"")

    for broken in (truncated, foreign, empty):
        with pytest.raises(UrvcError, match=re.escape(str(broken))):
            FeatureIndex.load(broken)
        with pytest.raises(UrvcError, match=re.escape(str(broken))):
            read_feature_index_info(broken)
    with pytest.raises(UrvcError, match="not a faiss index"):
        FeatureIndex.load(foreign)


def test_an_untrained_leftover_index_says_to_use_the_added_one(tmp_path: Path) -> None:
    index = faiss.index_factory(256, "IVF4,Flat")
    index.train(synthetic_content_features(400, dim=256))
    path = tmp_path / "trained_IVF4_Flat_nprobe_1_voice_v1.index"
    faiss.write_index(index, str(path))

    assert read_feature_index_info(path).size == 0
    with pytest.raises(UrvcError, match="added_"):
        FeatureIndex.load(path)


@pytest.mark.parametrize("vectors", [2000, 5000])
def test_built_index_has_rvc_trainer_layout(tmp_path: Path, vectors: int) -> None:
    features = synthetic_content_features(vectors, dim=256, seed=7)

    path = build_feature_index(features, tmp_path / "built.index")

    raw = faiss.read_index(str(path))
    ivf = faiss.extract_index_ivf(raw)
    assert ivf.nlist == min(int(16 * math.sqrt(vectors)), vectors // 39)
    assert ivf.nprobe == 1
    assert raw.ntotal == vectors and raw.d == 256
    stored = raw.reconstruct_n(0, raw.ntotal)
    # the same vectors, shuffled
    assert np.array_equal(
        stored[np.lexsort(stored.T[::-1])], features[np.lexsort(features.T[::-1])]
    )
    info = read_feature_index_info(path)
    assert (info.dim, info.size, info.version) == (256, vectors, "v1")


def test_too_few_vectors_for_ivf_gives_a_flat_index(tmp_path: Path) -> None:
    features = synthetic_content_features(20, dim=768)

    index = FeatureIndex.load(build_feature_index(features, tmp_path / "tiny.index"))

    assert index.size == 20
    assert np.abs(index.retrieve(features[:3], k=1) - features[:3]).max() == 0
