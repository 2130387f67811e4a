"""The feature index of a model being trained (`urvc train index`), from the features
extracted from real speech: RVC's layout and name, every training frame in it, paired
with the model by the voice library, and RVC's k-means reduction of large sets.

The workspace (the ARCTIC sentence shipped with urvc, preprocessed, its features
extracted with two small random embedders) is made once and copied into each test's
home.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from urvc_core.audio import save_audio
from urvc_core.backends import Audio
from urvc_core.errors import UrvcError
from urvc_core.rvc import feature_index
from urvc_core.rvc.feature_index import (
    FeatureIndex,
    build_feature_index,
    ivf_list_count,
    read_feature_index_info,
)
from urvc_core.testing import speech
from urvc_core.testing.feature_indexes import build_index_file, synthetic_content_features
from urvc_core.training import build_training_index, training_workspace

if TYPE_CHECKING:
    from conftest import CommandResult

NAME = "Alice"
RATE = 40000


class Extracted:
    """The workspace made once: where it is, and the two embedders it was extracted with."""

    def __init__(self, workspace: Path, first: Path, second: Path) -> None:
        self.workspace = workspace
        self.first = first
        self.second = second


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Extracted]:
    from urvc_core.testing.embedder_models import build_hf_hubert_folder
    from urvc_core.training import extract_features, preprocess_dataset

    root = tmp_path_factory.mktemp("index-workspace")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("URVC_HOME", str(root / "home"))
        sentence = speech(RATE).samples[0]
        save_audio(Audio(np.tile(sentence, 2), RATE), root / "data" / "speech.wav")
        preprocess_dataset(root / "data", NAME, sample_rate=RATE)
        first = build_hf_hubert_folder(root / "first", hidden_size=64)
        second = build_hf_hubert_folder(root / "second", hidden_size=64, seed=1)
        extract_features(NAME, f0_method="pm", embedder=str(first), version="v1")
        # Extracted last: the setting used when none is named.
        extract_features(NAME, f0_method="pm", embedder=str(second), version="v1")
        yield Extracted(training_workspace(NAME), first, second)


@pytest.fixture
def workspace(extracted: Extracted) -> Path:
    """The extracted workspace, copied into this test's home."""
    copy = training_workspace(NAME)
    shutil.copytree(extracted.workspace, copy)
    return copy


def _features(folder: Path) -> np.ndarray:
    return np.concatenate([np.load(path) for path in sorted(folder.glob("*.npy"))])


def _feature_folder(workspace: Path, embedder: Path) -> Path:
    [folder] = (workspace / "features").glob(f"{embedder.name}-*-v1")
    return folder


def test_the_index_holds_every_training_frame_in_rvc_s_layout_and_name(
    workspace: Path, extracted: Extracted
) -> None:
    import faiss

    result = build_training_index(NAME, embedder=str(extracted.first), version="v1")

    frames = _features(_feature_folder(workspace, extracted.first))
    assert (result.frames, result.vectors, result.dim) == (len(frames), len(frames), 256)
    assert result.version == "v1" and result.notes == []
    lists = min(int(16 * np.sqrt(len(frames))), len(frames) // 39)
    assert lists >= 2 and result.lists == lists
    assert result.path == workspace / f"added_IVF{lists}_Flat_nprobe_1_{NAME}_v1.index"
    info = read_feature_index_info(result.path)
    assert (info.size, info.dim, info.version) == (len(frames), 256, "v1")
    assert faiss.extract_index_ivf(faiss.read_index(str(result.path))).nprobe == 1

    index = FeatureIndex.load(result.path)
    # Every training frame is stored: each one's nearest stored vector is itself.
    distances, _ = index._index.search(frames, 1)
    assert float(distances.max()) == pytest.approx(0.0, abs=1e-6)
    assert np.abs(index.retrieve(frames[::25]) - frames[::25]).max() < 1e-5
    assert json.loads(json.dumps(result.as_dict()))["lists"] == lists


def test_the_voice_library_pairs_the_index_with_the_model_of_that_name(
    workspace: Path, extracted: Extracted, tmp_path: Path
) -> None:
    from urvc_core.testing.voice_models import build_voice_model_file
    from urvc_core.voices import import_voice_model

    result = build_training_index(NAME, embedder=str(extracted.first), version="v1")
    folder = tmp_path / "export"
    folder.mkdir()
    model = build_voice_model_file(folder / f"{NAME}.pth", version="v1")
    shutil.copy(result.path, folder)
    # An index of the other width, and a larger one of the same width named for another
    # model: the width rule leaves out the first, the name rule the second.
    build_index_file(folder / "added_IVF50_Flat_nprobe_1_Bob_v2.index", dim=768)
    build_index_file(
        folder / f"added_IVF60_Flat_nprobe_1_{NAME}2_v1.index", dim=256, vectors=result.vectors * 2
    )

    entry = import_voice_model(model)

    assert entry.index_path is not None and entry.index is not None
    assert entry.index_path.read_bytes() == result.path.read_bytes()
    assert entry.index.size == result.vectors
    assert {s.path for s in entry.skipped} >= {
        "added_IVF50_Flat_nprobe_1_Bob_v2.index",
        f"added_IVF60_Flat_nprobe_1_{NAME}2_v1.index",
    }


def test_the_setting_extracted_last_is_used_when_none_is_named(
    workspace: Path, extracted: Extracted
) -> None:
    unnamed = build_training_index(NAME)
    assert unnamed.embedder == _feature_folder(workspace, extracted.second).name[: -len("-v1")]
    assert "extracted last" in unnamed.notes[0]

    named = build_training_index(NAME, embedder=str(extracted.first))
    assert named.embedder == _feature_folder(workspace, extracted.first).name[: -len("-v1")]
    assert named.notes == []
    # by the folder name extraction reported, too
    assert build_training_index(NAME, embedder=named.embedder).path == named.path
    with pytest.raises(UrvcError, match=r"has no v2 features \(it has .*-v1, .*-v1\)"):
        build_training_index(NAME, version="v2")


def test_a_rebuilt_index_replaces_the_one_before_of_its_version_only(workspace: Path) -> None:
    older = workspace / f"added_IVF3_Flat_nprobe_1_{NAME}_v1.index"
    kept = [
        workspace / f"added_IVF3_Flat_nprobe_1_{NAME}_v2.index",
        workspace / f"added_IVF3_Flat_nprobe_1_{NAME}2_v1.index",
    ]
    for path in [older, *kept]:
        path.write_bytes(b"an index built before")

    result = build_training_index(NAME)

    assert result.replaced == older and not older.exists()
    assert all(path.exists() for path in kept) and result.path.exists()
    again = build_training_index(NAME)
    assert again.path == result.path and again.replaced is None


def test_a_large_set_is_reduced_to_minibatch_kmeans_centres(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RVC's 10,000 centres above 200,000 vectors, made small enough to run in a second.
    monkeypatch.setattr(feature_index, "KMEANS_THRESHOLD", 100)
    monkeypatch.setattr(feature_index, "KMEANS_CENTRES", 80)

    result = build_training_index(NAME)

    assert result.frames > 100 and (result.vectors, result.lists) == (80, 2)
    assert result.path.name == f"added_IVF2_Flat_nprobe_1_{NAME}_v1.index"
    assert read_feature_index_info(result.path).size == 80


def test_minibatch_kmeans_centres_sit_among_the_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feature_index, "KMEANS_THRESHOLD", 500)
    monkeypatch.setattr(feature_index, "KMEANS_CENTRES", 60)
    # 40 clusters of scatter 0.35 around unit-normal centres
    features = synthetic_content_features(1200, dim=64, seed=3)

    index = FeatureIndex.load(build_feature_index(features, tmp_path / "reduced.index"))
    again = FeatureIndex.load(build_feature_index(features, tmp_path / "again.index"))

    assert index.size == 60 and ivf_list_count(1200) == 1
    assert np.array_equal(index.big_npy, again.big_npy)  # the seed makes it repeatable
    nearest = np.min(((features[:, None, :] - index.big_npy[None]) ** 2).sum(-1), axis=1)
    # Each vector lies within its cluster's scatter (64 x 0.35² ≈ 7.8) of some centre.
    assert float(np.median(nearest)) < 10.0


def test_no_features_or_workspace_is_one_line(workspace: Path) -> None:
    with pytest.raises(UrvcError, match="no training workspace for 'Nobody'") as raised:
        build_training_index("Nobody")
    assert "\n" not in str(raised.value)
    shutil.rmtree(workspace / "features")
    with pytest.raises(UrvcError, match=f"run `urvc train extract {NAME}` first"):
        build_training_index(NAME)
    with pytest.raises(UrvcError, match="v1 or v2"):
        build_training_index(NAME, version="v3")


def test_clips_without_features_are_named(workspace: Path, extracted: Extracted) -> None:
    folder = _feature_folder(workspace, extracted.second)
    next(folder.glob("*.npy")).unlink()
    with pytest.raises(UrvcError, match=r"1 of the \d+ clips of 'Alice' have no"):
        build_training_index(NAME, embedder=str(extracted.second))


def test_urvc_train_index(workspace: Path, run_urvc: Callable[..., CommandResult]) -> None:
    built = run_urvc("train", "index", NAME, "--version", "v1", "--json")
    assert built.exit_code == 0, built.stderr
    report = json.loads(built.stdout)
    assert Path(report["path"]).is_file() and report["dim"] == 256
    assert "extracted last" in report["notes"][0]

    plain = run_urvc("train", "index", NAME)
    assert plain.exit_code == 0, plain.stderr
    assert f"Index: {report['path']}" in plain.stdout and "extracted last" in plain.stderr

    shutil.rmtree(workspace / "features")
    missing = run_urvc("train", "index", NAME)
    assert missing.exit_code == 1
    assert missing.stderr.strip().count("\n") == 0
    assert f"run `urvc train extract {NAME}` first" in missing.stderr
