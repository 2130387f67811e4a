"""The synthesizer's noise for a long input, a chunk's window at a time.

A conversion draws its noise as one ``torch.randn(channels, frames)`` from the seed,
so that every chunk of a long input takes its slice of the same noise and continues
exactly where the one before left off. Held whole, that is 192 floats for every 10 ms
of the song (46 MB for ten minutes). :class:`ChunkNoise` hands out the same numbers a
window of frames at a time, holding only the generator's state at the start of the next
window in every row.

It relies on how torch's CPU generator fills a float tensor of 16 values or more: 16
consecutive draws at a time, each group turned into normals on its own. So drawing a
stream in consecutive pieces whose lengths are multiples of 16 gives exactly the numbers
of one draw of the whole (``tests/test_chunk_noise.py`` holds torch to it). Row ``c`` of
the noise is values ``c * frames`` to ``(c + 1) * frames`` of that stream.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: torch's CPU normal fill works in groups of this many draws.
_GROUP = 16
#: Values drawn at once when the stream is skipped through.
_SKIP_PIECE = _GROUP * 65536


class ChunkNoise:
    """``torch.randn(channels, frames, generator=Generator().manual_seed(seed))``, a window
    at a time: ``window(first, stop)`` is that tensor's ``[:, first:stop]``.

    ``window_starts`` are the first frames of the windows that will be asked for, in the
    order they will be asked for (increasing); a window must start at the next of them.
    """

    def __init__(self, channels: int, frames: int, seed: int, window_starts: Sequence[int]):
        self.channels = channels
        self.frames = frames
        self._generator = torch.Generator().manual_seed(seed)
        self._starts = list(window_starts)
        if sorted(self._starts) != self._starts:
            raise ValueError("windows must be asked for in increasing order")
        self._whole: torch.Tensor | None = None
        if (channels * frames) % _GROUP or not self._starts:
            # The fill treats a last group of fewer than 16 values differently; such a
            # size (never a voice model's 192 channels) is drawn whole.
            self._whole = torch.randn(channels, frames, generator=self._generator)
            return
        # One pass over the stream to each row's first window start.
        self._states: list[torch.Tensor] = []
        position = 0
        for row in range(channels):
            target = _group_start(row * frames + self._starts[0])
            _skip(self._generator, target - position)
            position = target
            self._states.append(self._generator.get_state())
        self._next = 0

    def window(self, first: int, stop: int) -> torch.Tensor:
        """Frames ``[first, stop)`` of every row, ``(channels, stop - first)``."""
        if self._whole is not None:
            return self._whole[:, first:stop]
        if self._next >= len(self._starts) or first != self._starts[self._next]:
            raise ValueError(f"window at {first} was not announced next")
        self._next += 1
        following = self._starts[self._next] if self._next < len(self._starts) else None
        rows = torch.empty(self.channels, stop - first)
        for row in range(self.channels):
            offset = row * self.frames
            position = _group_start(offset + first)
            end = -(-(offset + stop) // _GROUP) * _GROUP
            self._generator.set_state(self._states[row])
            pieces = []
            if following is not None:
                # Where the next window of this row starts: keep the state there.
                resume = _group_start(offset + following)
                pieces.append(torch.randn(resume - position, generator=self._generator))
                self._states[row] = self._generator.get_state()
                if end > resume:
                    pieces.append(torch.randn(end - resume, generator=self._generator))
            else:
                pieces.append(torch.randn(end - position, generator=self._generator))
            drawn = torch.cat(pieces) if len(pieces) > 1 else pieces[0]
            rows[row] = drawn[offset + first - position : offset + stop - position]
        return rows


def _group_start(position: int) -> int:
    return position // _GROUP * _GROUP


def _skip(generator: torch.Generator, count: int) -> None:
    """Draw and drop ``count`` values (a multiple of 16), a piece at a time."""
    while count > 0:
        piece = min(count, _SKIP_PIECE)
        torch.randn(piece, generator=generator)
        count -= piece
