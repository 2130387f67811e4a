"""How the process's freed memory goes back to the operating system (glibc's malloc).

glibc serves large requests with their own memory mappings, returned on free, but it
raises that threshold each time such a block is freed, up to 32 MiB. After a few
convolutions, the buffers of a model's activations all come from the heap instead,
where blocks of one size can't be reused for another: every new input length (each
chunk of a song has its own) left about 17 MB more resident with a full-size voice
model, so a long song's peak grew with its length. :func:`return_large_blocks_to_the_system`
fixes the threshold at 8 MiB. Not lower: at 1 MiB every mid-sized activation became a
fresh mapping, and the page faults of touching it made a conversion 27 % slower (RTF
0.72 against 0.57 at 30 s, full-size v2 model, fp32, 2 cores); at 8 MiB the speed is
glibc's own (0.54 against 0.57; 180 s: 0.51 against 0.50) with most of the memory saved
(180 s peak 1704 MiB against 1825 MiB; 1 MiB: 1609 MiB). Nothing is computed differently:
only where the bytes live.
Both functions do nothing where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

#: Blocks at least this large get their own mapping, given back when freed.
LARGE_BLOCK_BYTES = 8 << 20
#: glibc's mallopt parameter number for the mapping threshold (malloc.h).
_M_MMAP_THRESHOLD = -3


def return_large_blocks_to_the_system(threshold: int = LARGE_BLOCK_BYTES) -> None:
    """Have blocks of ``threshold`` bytes or more mapped on their own and unmapped when
    freed, for the rest of the process (this turns off glibc's moving threshold)."""
    library = _c_library()
    if library is not None and hasattr(library, "mallopt"):
        library.mallopt(_M_MMAP_THRESHOLD, threshold)


def release_freed_memory() -> None:
    """Hand freed heap pages back to the operating system (glibc's ``malloc_trim``).

    After a stage that allocated much and freed it all, the pages would otherwise stay
    in the resident set under every later stage.
    """
    library = _c_library()
    if library is not None and hasattr(library, "malloc_trim"):
        library.malloc_trim(0)


@functools.cache
def _c_library() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None
