"""The family separators run audio-separator's own code on tiny models of each format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from urvc_separator_mdx.cover_steps import separator_for

from urvc_core.backends import Audio, Separator
from urvc_core.testing import SeparatorConformance, signals
from urvc_core.testing.conformance import assert_audio_like, stereo_test_input

# Slow (every UVR family's network): `pytest -m "not slow"` leaves these out.
pytestmark = pytest.mark.slow

CENTRE_MDX = "tiny_centre_mdx.onnx"
ROFORMER = "tiny_bs_roformer.ckpt"
VR = "tiny_vr.pth"


class TestTinyMdxNet(SeparatorConformance):
    """An MDX-Net ONNX model, run by ONNX Runtime at its own segment size (64 frames)."""

    duration: ClassVar[float] = 1.0

    @pytest.fixture
    def backend(self, mdx: Separator) -> Separator:
        return mdx


class TestTinyRoformer(SeparatorConformance):
    """A BS-Roformer checkpoint with its YAML, in 64-frame segments, 2 windows overlapping."""

    duration: ClassVar[float] = 1.0

    @pytest.fixture
    def backend(self, roformer: Separator) -> Separator:
        return roformer


@pytest.fixture(scope="module")
def mdx(shared_separator: Callable[..., Separator]) -> Separator:
    return shared_separator("mdx", model=CENTRE_MDX)


@pytest.fixture(scope="module")
def roformer(shared_separator: Callable[..., Separator]) -> Separator:
    return shared_separator("mdxc", model=ROFORMER, segment_size=64)


def test_stems_are_read_from_the_model_before_it_runs() -> None:
    for model in (CENTRE_MDX, ROFORMER, VR):
        assert separator_for(model).stems == ("Vocals", "Instrumental"), model
    assert separator_for("tiny_karaoke_mdx.onnx").stems == ("Main", "Backup")
    assert separator_for("tiny_dereverb_mdx.onnx").stems == ("No Reverb", "Reverb")
    # A model known only from the published list: its stems come from there.
    assert separator_for("UVR_MDXNET_KARA_2.onnx").stems == ("Backup", "Main")


def test_stereo_is_preserved_channel_by_channel(mdx: Separator) -> None:
    # Left and right differ (the accompaniment is panned hard left and right), so a
    # handoff that swapped, dropped or averaged channels would show in the Instrumental.
    mix = signals.centre_panned_speech_mix(44100)
    stems = mdx.separate(mix.mixture)
    for stem in stems.values():
        assert_audio_like(stem, mix.mixture, "stem")
    residual = stems["Instrumental"].samples
    for channel in (0, 1):
        correlation = np.corrcoef(residual[channel], mix.accompaniment.samples[channel])[0, 1]
        other = np.corrcoef(residual[channel], mix.accompaniment.samples[1 - channel])[0, 1]
        assert correlation > 0.8, f"channel {channel}: Instrumental vs its side {correlation:.2f}"
        assert correlation > other + 0.5, f"channel {channel}: sides mixed up ({other:.2f})"


def test_stems_add_up_to_the_mixture_at_its_level(mdx: Separator) -> None:
    # MDX-Net's second stem is the mixture minus the first: any gain error in the file
    # handoff (audio-separator's peak handling) breaks the sum. 44.1 kHz, the models'
    # own rate, so that no resampling blurs the top octave.
    quiet = Audio(signals.centre_panned_speech_mix(44100).mixture.samples * 0.1, 44100)
    stems = mdx.separate(quiet)
    total = stems["Vocals"].samples + stems["Instrumental"].samples
    assert signals.sdr_db(quiet.samples, total) > 60


def test_audio_goes_through_audio_separators_own_segmenting(
    mdx: Separator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audio_separator.separator.architectures.mdx_separator import MDXSeparator

    calls: list[tuple[int, ...]] = []
    run_model = MDXSeparator.run_model

    def counting(self: MDXSeparator, mix: object, is_match_mix: bool = False) -> object:
        calls.append(tuple(getattr(mix, "shape", ())))
        return run_model(self, mix, is_match_mix=is_match_mix)

    monkeypatch.setattr(MDXSeparator, "run_model", counting)
    mixture = stereo_test_input(44100, 2, 4.0)
    mdx.separate(mixture)
    # 64 frames of hop 1024 make 64512-sample segments, a quarter overlapping: 4 s of
    # audio take several segments per pass, each shaped (batch, 2 channels, segment).
    assert len(calls) >= 6
    assert all(shape[1:] == (2, 64512) for shape in calls)


def test_other_segment_sizes_run_through_onnx2torch(
    shared_separator: Callable[..., Separator],
) -> None:
    # Not the model's own 64 frames, so audio-separator converts the ONNX graph to torch
    # (onnx2torch, imported even where torchvision can't be).
    backend = shared_separator("mdx", model=CENTRE_MDX, segment_size=32, overlap=0.5)
    mix = signals.centre_panned_speech_mix(44100)
    stems = backend.separate(mix.mixture)
    assert_audio_like(stems["Vocals"], mix.mixture, "Vocals")
    assert signals.sdr_db(mix.vocals.samples, stems["Vocals"].samples) > 6.0


def test_vr_model_keeps_the_input_shape(shared_separator: Callable[..., Separator]) -> None:
    # VR runs whole analysis windows whatever the input's length, so one call (mono, at
    # another rate) is all the time allows; stereo at 44.1 kHz runs in test_mdx_quality.
    backend = shared_separator("vr", model=VR, window_size=320)
    mixture = stereo_test_input(16000, 1, 1.0)
    stems = backend.separate(mixture)
    assert set(stems) == {"Vocals", "Instrumental"}
    for name, stem in stems.items():
        assert_audio_like(stem, mixture, f"VR {name}")


def test_demucs_bag_keeps_the_input_shape() -> None:
    # audio-separator builds a full-size HDemucs and throws it away on every Demucs call
    # (seconds of CPU), so one call is all the time allows.
    backend = separator_for("tiny_htdemucs.yaml", shifts=0)
    assert backend.stems == ("Bass", "Drums", "Other", "Vocals")
    mixture = stereo_test_input(44100, 2, 1.0)
    stems = backend.separate(mixture)
    assert set(stems) == set(backend.stems)
    for name, stem in stems.items():
        assert_audio_like(stem, mixture, f"Demucs {name}")


def test_separation_leaves_no_files_behind(mdx: Separator, urvc_home: Path) -> None:
    mdx.separate(stereo_test_input(44100, 2, 1.0))
    leftovers = [p for p in (urvc_home / "cache").rglob("*") if p.is_file()]
    assert leftovers == []
