"""Training data: recordings to clips (`urvc train preprocess`), then each clip's pitch
and content features (`urvc train extract`), on real speech.

The dataset is the ARCTIC sentence shipped with urvc, with silences and rumble added
where a test needs them; clips are checked by their count, lengths, rates, levels and
where the cuts fall.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from urvc_core.audio import audio_info, load_audio, save_audio
from urvc_core.backends import Audio
from urvc_core.errors import UrvcError, UrvcWarning
from urvc_core.testing import speech
from urvc_core.training import preprocess_dataset
from urvc_core.training.preprocess import CLIPS_16K_FOLDER, CLIPS_FOLDER

if TYPE_CHECKING:
    from conftest import CommandResult

RATE = 40000


def _clips(workspace: Path, folder: str = CLIPS_FOLDER) -> dict[str, Audio]:
    return {p.name: load_audio(p) for p in sorted((workspace / folder).glob("*.wav"))}


def _sentence(rate: int = RATE) -> np.ndarray:
    return speech(rate).samples[0]


def test_automatic_split_cuts_in_silences_and_writes_both_rates(tmp_path: Path) -> None:
    words = _sentence()
    gap = np.zeros(RATE)  # a second of silence between two readings
    save_audio(Audio(np.concatenate([words, gap, words]), RATE), tmp_path / "data" / "two.wav")
    result = preprocess_dataset(tmp_path / "data", "Voice", sample_rate=RATE, normalise="none")

    clips, clips_16k = _clips(result.workspace), _clips(result.workspace, CLIPS_16K_FOLDER)
    assert list(clips) == list(clips_16k) and result.clips == len(clips)
    assert {a.sample_rate for a in clips.values()} == {RATE}
    assert {a.sample_rate for a in clips_16k.values()} == {16000}
    for name, clip in clips.items():
        assert clip.duration <= 3.0 + 1e-6
        assert clips_16k[name].duration == pytest.approx(clip.duration, abs=1e-3)
    # Cut in the silence: each reading gives the clips it gives alone.
    save_audio(Audio(words, RATE), tmp_path / "alone" / "one.wav")
    alone = preprocess_dataset(tmp_path / "alone", "Alone", sample_rate=RATE, normalise="none")
    assert result.clips == 2 * alone.clips
    assert result.seconds == pytest.approx(2 * alone.seconds, abs=0.02)
    assert result.seconds == pytest.approx(sum(c.duration for c in clips.values()), abs=1e-3)
    # At most 0.25 s of the second of silence stays at each end of a reading.
    assert alone.seconds < len(words) / RATE + 0.5 + 0.3 * alone.clips


def test_simple_split_chunks_with_overlap_and_drops_a_short_rest(tmp_path: Path) -> None:
    long = np.tile(_sentence(), 4)[: 10 * RATE]  # 10 s of speech, no silence to cut at
    save_audio(Audio(long, RATE), tmp_path / "data" / "long.flac")
    result = preprocess_dataset(
        tmp_path / "data", "Chunks", sample_rate=RATE, split="simple", normalise="none"
    )
    durations = [clip.duration for clip in _clips(result.workspace).values()]
    # Starts at 0, 2.7, 5.4: 3 s each; the rest from 8.1 s is 1.9 s (kept: over 1 s).
    assert sorted(durations) == pytest.approx([1.9, 3.0, 3.0, 3.0], abs=1e-3)


def test_post_normalising_is_rvc_s_blend_toward_a_0_9_peak(tmp_path: Path) -> None:
    quiet = 0.1 * _sentence() / np.max(np.abs(_sentence()))
    save_audio(Audio(quiet, RATE), tmp_path / "data" / "quiet.wav")
    result = preprocess_dataset(tmp_path / "data", "Level", sample_rate=RATE, split="skip")
    [clip] = _clips(result.workspace).values()
    peak = float(np.max(np.abs(clip.samples)))
    # 0.9 x 0.75 plus a quarter of the clip's own (high-passed) peak of about 0.1.
    assert peak == pytest.approx(0.675 + 0.25 * 0.1, abs=0.01)


def test_rumble_below_48_hz_is_filtered_out(tmp_path: Path) -> None:
    words = _sentence()
    t = np.arange(len(words)) / RATE
    rumble = 0.3 * np.sin(2 * np.pi * 20 * t) + 0.1  # 20 Hz and a DC offset
    save_audio(Audio(0.5 * words + rumble, RATE), tmp_path / "data" / "rumble.wav")
    result = preprocess_dataset(
        tmp_path / "data", "Rumble", sample_rate=RATE, split="skip", normalise="none"
    )
    [clip] = _clips(result.workspace).values()
    spectrum = np.abs(np.fft.rfft(clip.samples[0]))
    frequencies = np.fft.rfftfreq(clip.num_samples, 1 / RATE)
    source = np.abs(np.fft.rfft(0.5 * words + rumble))
    at_20 = np.argmin(np.abs(frequencies - 20))
    assert 20 * np.log10(spectrum[at_20] / source[at_20]) < -25
    assert abs(float(np.mean(clip.samples))) < 1e-3


def test_a_second_run_reuses_what_is_done_and_new_files_alone_are_processed(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    save_audio(Audio(_sentence(), RATE), data / "one.wav")
    first = preprocess_dataset(data, "Resume", sample_rate=RATE, split="skip")
    written = {p: p.stat().st_mtime_ns for p in (first.workspace / CLIPS_FOLDER).iterdir()}

    save_audio(Audio(_sentence()[::-1].copy(), RATE), data / "sub" / "two.wav")
    second = preprocess_dataset(data, "Resume", sample_rate=RATE, split="skip")
    assert (second.processed, second.reused, second.clips) == (1, 1, 2)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in written.items())

    (data / "one.wav").unlink()
    third = preprocess_dataset(data, "Resume", sample_rate=RATE, split="skip")
    assert (third.processed, third.reused, third.clips) == (0, 1, 1)
    assert len(list((third.workspace / CLIPS_16K_FOLDER).iterdir())) == 1

    changed = preprocess_dataset(data, "Resume", sample_rate=48000, split="skip")
    assert changed.processed == 1 and "settings changed" in changed.notes[0]
    assert {a.sample_rate for a in _clips(changed.workspace).values()} == {48000}


def test_a_file_that_can_t_be_read_is_reported_and_the_rest_go_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    save_audio(Audio(_sentence(), RATE), data / "good.wav")
    (data / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.warns(UrvcWarning, match="broken.wav was skipped"):
        result = preprocess_dataset(data, "Partial", sample_rate=RATE, split="skip")
    assert result.clips == 1 and [file for file, _ in result.failed] == ["broken.wav"]
    record = json.loads((result.workspace / "preprocess.json").read_text())
    assert list(record["files"]) == ["good.wav"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda data: data.mkdir(parents=True), "holds no audio files"),
        (lambda data: None, "does not exist"),
        (
            lambda data: save_audio(Audio(_sentence()[: int(0.2 * RATE)], RATE), data / "x.wav"),
            "gives no training clip",
        ),
        (
            lambda data: save_audio(Audio(np.zeros(5 * RATE), RATE), data / "silent.wav"),
            "gives no training clip",
        ),
    ],
)
def test_a_dataset_that_gives_nothing_is_one_line(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    data = tmp_path / "data"
    make(data)
    with pytest.raises(UrvcError, match=message) as raised:
        preprocess_dataset(data, "Nothing", sample_rate=RATE)
    assert "\n" not in str(raised.value)


def test_bad_settings_and_names_are_refused_before_anything_is_read(tmp_path: Path) -> None:
    for settings, message in [
        ({"sample_rate": 44100}, "32000, 40000, 48000"),
        ({"split": "smart"}, "split must be one of"),
        ({"overlap_seconds": 2.0}, "overlap must be"),
    ]:
        with pytest.raises(UrvcError, match=message):
            preprocess_dataset(tmp_path, "Name", **settings)
    with pytest.raises(UrvcError, match="can't be a voice model name"):
        preprocess_dataset(tmp_path, "../escape")


def test_urvc_train_preprocess(tmp_path: Path, run_urvc: Callable[..., CommandResult]) -> None:
    data = tmp_path / "data"
    save_audio(Audio(np.tile(_sentence(), 3), RATE), data / "speech.wav")
    (data / "notes.txt").write_text("not audio")
    result = run_urvc(
        "train", "preprocess", str(data), "--name", "Cli", "--sample-rate", "32000", "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["clips"] >= 3 and report["settings"]["sample_rate"] == 32000
    clip = next((Path(report["workspace"]) / CLIPS_FOLDER).iterdir())
    assert audio_info(clip).sample_rate == 32000
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = run_urvc("train", "preprocess", str(empty), "--name", "Cli")
    assert failed.exit_code == 1 and "holds no audio files" in failed.stderr
    assert os.path.isdir(report["workspace"])

    from urvc_core.testing.embedder_models import build_hf_hubert_folder

    small = build_hf_hubert_folder(tmp_path / "small", hidden_size=64)
    arguments = ["--f0-method", "pm", "--embedder", str(small), "--version", "v1", "--json"]
    extracted = run_urvc("train", "extract", "Cli", *arguments)
    assert extracted.exit_code == 0, extracted.stderr
    assert json.loads(extracted.stdout)["features_computed"] == report["clips"]
    missing = run_urvc("train", "extract", "Nobody")
    assert missing.exit_code == 1 and "run `urvc train preprocess" in missing.stderr


# -- step 2: extract ------------------------------------------------------------------------


def test_extract_stores_pitch_and_features_per_setting_and_redoes_only_what_changed(
    tmp_path: Path,
) -> None:
    import torch

    from urvc_core.rvc.synthesizer import coarse_pitch
    from urvc_core.testing.embedder_models import build_hf_hubert_folder
    from urvc_core.training import extract_features

    save_audio(Audio(np.tile(_sentence(), 2), RATE), tmp_path / "data" / "speech.wav")
    prepared = preprocess_dataset(tmp_path / "data", "Extract", sample_rate=RATE)
    small = build_hf_hubert_folder(tmp_path / "small", hidden_size=64)
    other = build_hf_hubert_folder(tmp_path / "other", hidden_size=64)

    first = extract_features("Extract", f0_method="pm", embedder=str(small), version="v1")
    assert (first.clips, first.pitch_computed, first.features_computed) == (prepared.clips,) * 3
    rows = first.filelist.read_text().splitlines()
    assert len(rows) == prepared.clips
    clip, features, coarse, fine, speaker = rows[0].split("|")
    assert speaker == "0" and Path(clip).parent.name == CLIPS_FOLDER
    samples = load_audio(Path(clip).parent.parent / CLIPS_16K_FOLDER / Path(clip).name)
    length = samples.num_samples
    fine_f0, coarse_f0 = np.load(fine), np.load(coarse)
    assert fine_f0.shape == coarse_f0.shape == (length // 160 + 1,)
    voiced = fine_f0 > 0
    assert voiced.mean() > 0.3
    assert 80 < float(np.median(fine_f0[voiced])) < 300  # a speaking voice
    assert np.array_equal(coarse_f0, coarse_pitch(torch.from_numpy(fine_f0)).numpy())
    assert np.all(coarse_f0[~voiced] == 1) and coarse_f0.max() <= 255
    content = np.load(features)
    assert content.shape[1] == 256 and abs(content.shape[0] - length // 320) <= 1

    stamps = {p: p.stat().st_mtime_ns for p in (first.workspace / "f0").rglob("*.npy")}
    second = extract_features("Extract", f0_method="pm", embedder=str(other), version="v1")
    assert (second.pitch_computed, second.features_computed) == (0, prepared.clips)
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert second.filelist != first.filelist and len(list(first.filelist.parent.iterdir())) == 2
    again = extract_features("Extract", f0_method="pm", embedder=str(other), version="v1")
    assert (again.pitch_computed, again.features_computed) == (0, 0)
    # A v2 model trains on 768-dim features: this small embedder gives 64.
    with pytest.raises(UrvcError, match="gives 64-dim features where a v2 model trains on 768"):
        extract_features("Extract", f0_method="pm", embedder=str(other), version="v2")


def test_extract_before_preprocess_or_with_a_bad_setting_is_one_line(tmp_path: Path) -> None:
    from urvc_core.training import extract_features

    with pytest.raises(UrvcError, match="run `urvc train preprocess DATASET --name Empty` first"):
        extract_features("Empty")
    save_audio(Audio(_sentence(), RATE), tmp_path / "data" / "speech.wav")
    preprocess_dataset(tmp_path / "data", "Bad", sample_rate=RATE, split="skip")
    for settings, message in [
        ({"f0_method": "no-such-f0"}, "no-such-f0"),
        ({"version": "v3"}, "v1 or v2"),
        ({"embedder": str(tmp_path / "missing")}, "does not exist"),
    ]:
        with pytest.raises(UrvcError, match=message):
            extract_features("Bad", **settings)


def test_clips_made_again_are_extracted_again(tmp_path: Path) -> None:
    """A recording that changed, or new settings, make clips of the same names: what
    was extracted from the old ones must go with them, or extraction would keep it."""
    from urvc_core.testing.embedder_models import build_hf_hubert_folder
    from urvc_core.training import extract_features

    data = tmp_path / "data"
    save_audio(Audio(_sentence(), RATE), data / "one.wav")
    preprocess_dataset(data, "Again", sample_rate=RATE, split="skip")
    embedder = str(build_hf_hubert_folder(tmp_path / "small", hidden_size=64))
    first = extract_features("Again", f0_method="pm", embedder=embedder, version="v1")
    [features] = (first.workspace / "features").rglob("*.npy")
    before = np.load(features)

    quieter_and_later = np.concatenate([np.zeros(RATE // 2), 0.5 * _sentence()])
    save_audio(Audio(quieter_and_later, RATE), data / "one.wav")
    preprocess_dataset(data, "Again", sample_rate=RATE, split="skip")
    again = extract_features("Again", f0_method="pm", embedder=embedder, version="v1")
    assert (again.pitch_computed, again.features_computed) == (1, 1)
    assert np.load(features).shape[0] > before.shape[0]  # the new clip's, half a second longer

    preprocess_dataset(data, "Again", sample_rate=48000, split="skip")
    assert not (again.workspace / "features").exists() and not (again.workspace / "f0").exists()
