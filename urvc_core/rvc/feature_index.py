"""Feature index retrieval: pulling content features toward the voice a model was trained on.

An RVC voice model usually comes with a ``.index`` file: a faiss index of the content
features (HuBERT or ContentVec vectors, 256 numbers per frame for v1 models and 768 for
v2) of the training voice. At conversion time each frame's features are replaced, by a
share the user chooses (``index_rate``), with a weighted mean of the stored vectors
nearest to them. That carries the timbre of the training data into the result and cuts
the "leak" of the source singer's accent.

The maths is RVC's own (its ``pipeline.py``), so a model sounds the same here as in the
RVC WebUI: the ``k = 8`` nearest stored vectors by squared L2 distance ``s``, weighted by
``1 / s**2`` normalised to sum to one. Where RVC divides by zero (a frame equal to a
stored vector gives NaN features and a click), this module takes the limit instead:
the exactly matching vectors get all the weight.

:func:`build_feature_index` builds the index the way RVC's trainer does (IVF with
``min(16 * sqrt(n), n // 39)`` lists, flat storage, ``nprobe = 1``), so an index built
here is one the WebUI and every fork can use, and the reverse.

faiss is imported when an index is first read or built, so importing this module is
cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.atomic_files import write_bytes_atomically
from urvc_core.errors import UrvcError

__all__ = [
    "FeatureIndex",
    "FeatureIndexInfo",
    "build_feature_index",
    "ivf_list_count",
    "read_feature_index_info",
]

#: The content-feature width of each RVC model version, as RVC itself names them.
FEATURE_DIMS_BY_VERSION: dict[str, int] = {"v1": 256, "v2": 768}

#: Neighbours per frame, as in RVC's pipeline.
DEFAULT_NEIGHBOURS = 8

# RVC's trainer: above this many feature vectors it first reduces them to 10,000 k-means
# centres (scikit-learn's MiniBatchKMeans), which keeps the index, and the memory it
# takes at conversion, bounded.
KMEANS_THRESHOLD = 200_000
KMEANS_CENTRES = 10_000
# RVC adds vectors in batches of this size, which bounds faiss's scratch memory.
_ADD_BATCH = 8192
# Frames retrieved per block: the gathered neighbours of one block, frames × k × dim
# float32, stay near 50 MB for v2 features however long the song is.
_RETRIEVE_BLOCK_FRAMES = 2048


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise UrvcError(
            "Feature indexes need faiss, which is not installed; install it with "
            "'pip install faiss-cpu' (or faiss-gpu) in urvc's environment."
        ) from exc
    return faiss


def _version_for_dim(dim: int) -> str:
    for version, version_dim in FEATURE_DIMS_BY_VERSION.items():
        if version_dim == dim:
            return f"{version} ({dim}-dim features)"
    return f"{dim}-dim features"


@dataclass(frozen=True)
class FeatureIndexInfo:
    """What a ``.index`` file is, without its vectors: enough to pair it with a model."""

    path: Path
    dim: int
    size: int
    kind: str
    file_size: int

    @property
    def version(self) -> str | None:
        """The RVC model version whose features the index holds ("v1", "v2"), if either."""
        for version, version_dim in FEATURE_DIMS_BY_VERSION.items():
            if version_dim == self.dim:
                return version
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "dim": self.dim,
            "size": self.size,
            "kind": self.kind,
            "version": self.version,
            "file_size": self.file_size,
        }


def _describe(faiss: Any, index: Any) -> str:
    """A short description of the index layout, like ``IndexIVFFlat (nlist 51, nprobe 1)``."""
    try:
        ivf = faiss.extract_index_ivf(index)
    except (RuntimeError, AttributeError):
        return type(index).__name__
    return f"{type(index).__name__} (nlist {ivf.nlist}, nprobe {ivf.nprobe})"


def _read_index(path: Path) -> tuple[Any, Any, int]:
    """The faiss module, the index read from ``path``, and the file's size in bytes."""
    faiss = _faiss()
    path = Path(path)
    if not path.is_file():
        raise UrvcError(f"The feature index {path} does not exist.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UrvcError(f"Could not read the feature index {path}: {exc.strerror or exc}.") from exc
    if not data:
        raise UrvcError(f"The feature index {path} is empty; download it again.")
    # Read from bytes rather than faiss.read_index(str(path)): faiss opens files with
    # fopen, which on Windows cannot open paths outside the ANSI code page, and voice
    # model folders are often named in Chinese or Japanese.
    try:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except (RuntimeError, MemoryError, ValueError) as exc:
        # faiss's messages name a C++ function and line; the reason is the last clause.
        reason = str(exc).rsplit("Error: ", 1)[-1].strip() or type(exc).__name__
        if "not recognized" in reason:
            reason = "it is not a faiss index"
        raise UrvcError(
            f"The feature index {path} can't be read ({reason}); it may be truncated or "
            f"not an .index file: download it again, or use the voice model without it."
        ) from exc
    return faiss, index, len(data)


def read_feature_index_info(path: Path) -> FeatureIndexInfo:
    """Read a ``.index`` file through and describe it; UrvcError if it is not a usable index.

    The whole file is read, so a truncated download is caught here, but the vectors are
    not copied out of it, which keeps this cheap enough to run on every candidate file
    when pairing indexes with voice models.
    """
    faiss, index, file_size = _read_index(path)
    if index.metric_type != faiss.METRIC_L2:
        raise UrvcError(
            f"The feature index {path} measures inner products, not L2 distances; RVC "
            f"indexes use L2, so this file was not made for voice conversion."
        )
    return FeatureIndexInfo(
        path=Path(path),
        dim=int(index.d),
        size=int(index.ntotal),
        kind=_describe(faiss, index),
        file_size=file_size,
    )


class FeatureIndex:
    """A voice model's feature index, loaded and ready to retrieve from.

    ``big_npy`` holds every stored vector (float32, ``size × dim``), reconstructed from
    the index once at load as RVC does, so that retrieval can average whole vectors
    rather than asking faiss for each neighbour.
    """

    def __init__(self, index: Any, big_npy: np.ndarray, info: FeatureIndexInfo) -> None:
        self._index = index
        self.big_npy = big_npy
        self.info = info

    @classmethod
    def load(cls, path: Path) -> FeatureIndex:
        """Read any faiss L2 index a user has (IVF Flat as RVC builds it, ``added_*``, Flat)."""
        path = Path(path)
        faiss, index, file_size = _read_index(path)
        if index.metric_type != faiss.METRIC_L2:
            raise UrvcError(
                f"The feature index {path} measures inner products, not L2 distances; "
                f"RVC indexes use L2, so this file was not made for voice conversion."
            )
        if index.ntotal == 0:
            raise UrvcError(
                f"The feature index {path} holds no vectors: it is a trained_*.index left "
                f"over from training; use the added_*.index beside it instead."
            )
        try:
            vectors = index.reconstruct_n(0, index.ntotal)
        except RuntimeError as exc:
            raise UrvcError(
                f"The feature index {path} is a {type(index).__name__}, which can't give "
                f"its vectors back; rebuild the index with RVC's trainer (IVF, Flat)."
            ) from exc
        info = FeatureIndexInfo(
            path=path,
            dim=int(index.d),
            size=int(index.ntotal),
            kind=_describe(faiss, index),
            file_size=file_size,
        )
        return cls(index, np.ascontiguousarray(vectors, dtype=np.float32), info)

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def dim(self) -> int:
        """The width of the feature vectors: 256 for v1 models, 768 for v2."""
        return self.info.dim

    @property
    def size(self) -> int:
        """How many vectors the index holds."""
        return self.info.size

    def _checked_features(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features)
        if features.ndim != 2:
            raise UrvcError(
                f"Features for the index {self.path} must be frames × {self.dim}, "
                f"not an array of shape {features.shape}."
            )
        if features.shape[1] != self.dim:
            raise UrvcError(
                f"The feature index {self.path} was built for {_version_for_dim(self.dim)} "
                f"models, but this voice model is {_version_for_dim(features.shape[1])}; "
                f"use the index that came with this model, or convert without an index."
            )
        return features

    def retrieve(self, features: np.ndarray, *, k: int = DEFAULT_NEIGHBOURS) -> np.ndarray:
        """For each frame, the mean of its ``k`` nearest stored vectors, weighted as RVC does.

        ``features`` is frames × dim. The weights are ``1 / s**2`` of the squared L2
        distances ``s`` that faiss reports, normalised per frame. A frame at distance 0
        from some stored vectors gets the mean of exactly those. A frame for which the
        index finds no neighbour at all (an IVF index probes one list, which can be
        empty) keeps its own features. Returns float32, frames × dim.
        """
        features = self._checked_features(features)
        if k < 1:
            raise UrvcError(f"Feature retrieval needs at least one neighbour, not k={k}.")
        queries = np.ascontiguousarray(features, dtype=np.float32)
        retrieved = np.empty_like(queries)
        for start in range(0, len(queries), _RETRIEVE_BLOCK_FRAMES):
            block = queries[start : start + _RETRIEVE_BLOCK_FRAMES]
            retrieved[start : start + len(block)] = self._retrieve_block(block, k)
        return retrieved

    def _retrieve_block(self, queries: np.ndarray, k: int) -> np.ndarray:
        squared_distances, labels = self._index.search(queries, k)
        found = labels >= 0
        # float64: 1 / s**2 overflows float32 once s < 1e-19, and a near-duplicate frame
        # can come that close.
        distances = squared_distances.astype(np.float64)
        with np.errstate(divide="ignore"):
            weights = 1.0 / np.square(distances)
        exact = found & (distances <= 0.0)
        has_exact = exact.any(axis=1)
        weights[has_exact] = exact[has_exact]
        weights[~found] = 0.0
        totals = weights.sum(axis=1, keepdims=True)
        nothing_found = totals[:, 0] == 0.0
        weights /= np.where(nothing_found[:, None], 1.0, totals)
        neighbours = self.big_npy[np.where(found, labels, 0)]
        block = np.einsum("fk,fkd->fd", weights.astype(np.float32), neighbours)
        block[nothing_found] = queries[nothing_found]
        return block

    def blend(
        self, features: np.ndarray, index_rate: float, *, k: int = DEFAULT_NEIGHBOURS
    ) -> np.ndarray:
        """``index_rate * retrieve(features) + (1 - index_rate) * features``.

        ``index_rate`` 0 returns ``features`` itself without searching; 1 replaces them
        with the retrieved features. The result has the dtype of ``features`` (RVC runs
        half precision on GPUs).
        """
        if not 0.0 <= index_rate <= 1.0 or math.isnan(index_rate):
            raise UrvcError(f"index_rate must be between 0 and 1, not {index_rate}.")
        if index_rate == 0.0:
            # Checked before the features: 0 is how a user switches off an index that
            # does not fit the model, which must then not stop the conversion.
            return features
        features = self._checked_features(features)
        retrieved = self.retrieve(features, k=k)
        blended = index_rate * retrieved + (1.0 - index_rate) * features.astype(np.float32)
        dtype = features.dtype if np.issubdtype(features.dtype, np.floating) else np.float32
        return blended.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"FeatureIndex({str(self.path)!r}, dim={self.dim}, size={self.size})"


def ivf_list_count(vectors: int) -> int:
    """The IVF lists :func:`build_feature_index` gives ``vectors`` training vectors.

    RVC names its index files by this number (``added_IVF<n>_Flat_...``). 0 means too
    few vectors for an IVF layout: the index is flat.
    """
    return _ivf_lists(KMEANS_CENTRES if vectors > KMEANS_THRESHOLD else vectors)


def _ivf_lists(stored: int) -> int:
    return max(0, min(int(16 * math.sqrt(stored)), stored // 39))


def _kmeans_centres(vectors: np.ndarray, seed: int) -> np.ndarray:
    """RVC's reduction of a large feature set: MiniBatchKMeans centres, as its trainer
    computes them (batches of 256 per CPU, random initial centres, no labels)."""
    import os

    try:
        from sklearn.cluster import MiniBatchKMeans
    except ImportError as exc:
        raise UrvcError(
            f"An index of more than {KMEANS_THRESHOLD} feature vectors is built from their "
            f"k-means centres, which needs scikit-learn; install it with "
            f"'pip install scikit-learn' in urvc's environment."
        ) from exc
    batch_size = 256 * (os.cpu_count() or 1)
    kmeans = MiniBatchKMeans(
        n_clusters=KMEANS_CENTRES,
        batch_size=batch_size,
        compute_labels=False,
        init="random",
        # RVC's scikit-learn ran 3 initialisations by default; newer ones do for "random"
        # too ("auto"), and 1.3 warns unless it is given.
        n_init=3,
        random_state=seed,
    )
    centres = kmeans.fit(vectors).cluster_centers_
    return np.ascontiguousarray(centres, dtype=np.float32)


def build_feature_index(features: np.ndarray, path: Path, *, seed: int = 0) -> Path:
    """Build an RVC feature index from training features (n × dim) and write it to ``path``.

    The layout is the one RVC's trainer writes as ``added_IVF<n>_Flat_nprobe_1_*.index``:
    the vectors shuffled, reduced to 10,000 k-means centres (scikit-learn's
    MiniBatchKMeans, as RVC computes them) above 200,000 of them,
    ``IVF<n_ivf>,Flat`` with ``n_ivf = min(int(16 * sqrt(n)), n // 39)`` (so every list
    gets the 39 training points faiss asks for), ``nprobe = 1``. Below 39 vectors no
    IVF layout is possible (RVC's trainer fails there); a flat index is written instead.
    ``seed`` makes the shuffle and k-means repeatable. The file is written atomically.
    """
    faiss = _faiss()
    path = Path(path)
    vectors = np.asarray(features)
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise UrvcError(
            f"A feature index is built from frames × dim features, not an array of "
            f"shape {vectors.shape}."
        )
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if not np.isfinite(vectors).all():
        raise UrvcError(
            f"The features for the index {path} hold NaN or infinite values; the "
            f"feature extraction went wrong, so no index was written."
        )
    rng = np.random.default_rng(seed)
    vectors = vectors[rng.permutation(len(vectors))]
    dim = vectors.shape[1]
    if len(vectors) > KMEANS_THRESHOLD:
        vectors = _kmeans_centres(vectors, seed)

    n_ivf = _ivf_lists(len(vectors))
    if n_ivf >= 1:
        index = faiss.index_factory(dim, f"IVF{n_ivf},Flat")
        faiss.extract_index_ivf(index).nprobe = 1
        index.train(vectors)
    else:
        index = faiss.IndexFlatL2(dim)
    for start in range(0, len(vectors), _ADD_BATCH):
        index.add(vectors[start : start + _ADD_BATCH])

    serialized = faiss.serialize_index(index)
    try:
        write_bytes_atomically(path, serialized.tobytes())
    except OSError as exc:
        raise UrvcError(
            f"Can't write the feature index {path}: {exc.strerror or exc}; choose a folder "
            f"you can write to, with free space."
        ) from exc
    return path
