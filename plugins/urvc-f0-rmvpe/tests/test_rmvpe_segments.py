"""Long recordings in segments: how they are cut, and that the joins leave no trace."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from urvc_f0_rmvpe.salience import (
    DEFAULT_CONTEXT_FRAMES,
    iter_salience,
    pad_frames_to_multiple,
    plan_segments,
)
from urvc_f0_rmvpe.weights import load_rmvpe

from urvc_core.testing import signals


@pytest.mark.parametrize("total", [1, 31, 32, 33, 700, 1000, 4321])
@pytest.mark.parametrize(("segment", "context"), [(64, 32), (100, 0), (256, 256), (3000, 256)])
def test_segments_tile_the_frames_on_the_pooling_grid(
    total: int, segment: int, context: int
) -> None:
    plans = plan_segments(total, segment, context)
    cores = [plan.core for plan in plans]
    assert cores[0][0] == 0
    assert cores[-1][1] == total
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cores)), "gaps or overlaps"
    for plan in plans:
        first, stop = plan.window
        assert first % 32 == 0, "a window off the single pass's pooling grid"
        assert 0 <= first <= plan.core[0] < plan.core[1] <= stop <= total
        if len(plans) > 1:
            context_kept = min(plan.core[0] - first, stop - plan.core[1])
            at_an_end = first == 0 or stop == total
            assert at_an_end or context_kept >= context


def test_short_recordings_are_one_pass() -> None:
    assert [p.window for p in plan_segments(3000, 3008, 256)] == [(0, 3000)]
    assert [p.window for p in plan_segments(3264, 3008, 256)] == [(0, 3264)]
    assert len(plan_segments(3265, 3008, 256)) == 2
    assert [p.window for p in plan_segments(99_999, None)] == [(0, 99_999)]
    assert plan_segments(0, 100) == []


def test_frames_are_padded_by_reflection_as_the_reference_does() -> None:
    log_mel = torch.randn(1, 128, 45)
    padded = pad_frames_to_multiple(log_mel)
    assert padded.shape == (1, 128, 64)
    assert torch.equal(padded, F.pad(log_mel, (0, 19), mode="reflect"))
    assert pad_frames_to_multiple(torch.randn(1, 128, 64)).shape[-1] == 64
    # Too short to reflect once: back and forth, as numpy's reflect does.
    short = torch.arange(3.0).reshape(1, 1, 3)
    expected = np.pad(np.arange(3.0), (0, 29), mode="reflect")
    assert np.array_equal(pad_frames_to_multiple(short)[0, 0].numpy(), expected)
    assert torch.equal(pad_frames_to_multiple(torch.ones(1, 2, 1)), torch.ones(1, 2, 32))


@pytest.mark.slow
def test_segmented_salience_equals_the_single_pass(weights_file: Path) -> None:
    """A cut at 5.12 s with the default 2.56 s of context either side, against one pass."""
    network = load_rmvpe(weights_file)
    speech = signals.speech(16000).samples[0]
    samples = np.concatenate(
        [speech, signals.sweep(90.0, 700.0, 2.0, 16000).audio.samples[0], 0.3 * speech]
    )[: 9 * 16000 + 77]

    def salience(segment_frames: int | None) -> np.ndarray:
        parts = list(iter_salience(network, samples, segment_frames=segment_frames))
        return np.concatenate([part for _, part in parts])

    whole = salience(None)
    segmented = salience(512)
    plans = plan_segments(len(whole), 512, DEFAULT_CONTEXT_FRAMES)
    assert [plan.window for plan in plans] == [(0, 768), (256, 901)]
    assert segmented.shape == whole.shape == (len(samples) // 160 + 1, 360)
    assert np.max(np.abs(segmented - whole)) < 1e-5
