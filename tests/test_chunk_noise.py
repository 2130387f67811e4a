"""The synthesizer's noise, handed out a chunk's window at a time, is the noise of one draw."""

from __future__ import annotations

import pytest
import torch

from urvc_core.rvc.chunk_noise import ChunkNoise


def test_torch_fills_a_stream_in_groups_of_16() -> None:
    # What ChunkNoise relies on: consecutive draws of multiples of 16 values give the
    # numbers of one draw of them all.
    whole = torch.randn(192 * 1003, generator=torch.Generator().manual_seed(3))
    generator = torch.Generator().manual_seed(3)
    pieces = [torch.randn(size, generator=generator) for size in (16, 4096, 160, 192 * 1003 - 4272)]
    assert torch.equal(torch.cat(pieces), whole)


@pytest.mark.parametrize(
    ("channels", "frames", "windows"),
    [
        (192, 2300, [(0, 900), (700, 1700), (1500, 2300)]),  # overlapping, as chunks are
        (192, 1000, [(5, 300), (600, 1000)]),  # a gap between windows (split at silence)
        (192, 50, [(0, 50)]),
        (7, 9, [(0, 4), (2, 9)]),  # a size torch fills differently: drawn whole
    ],
)
def test_windows_are_slices_of_one_draw(
    channels: int, frames: int, windows: list[tuple[int, int]]
) -> None:
    whole = torch.randn(channels, frames, generator=torch.Generator().manual_seed(11))
    noise = ChunkNoise(channels, frames, 11, [first for first, _ in windows])
    for first, stop in windows:
        assert torch.equal(noise.window(first, stop), whole[:, first:stop])


def test_windows_must_come_as_announced() -> None:
    noise = ChunkNoise(192, 100, 0, [0, 50])
    with pytest.raises(ValueError, match="not announced"):
        noise.window(50, 100)
