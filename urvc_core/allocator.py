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

oneDNN, which runs torch's convolutions on the CPU, keeps up to 1024 compiled
primitives, and each primitive created for a new input shape holds its own buffers:
about 75 MB more resident for every chunk length a song brings (a full-size 40 kHz
model), kept until the process ends. :func:`bound_onednn_primitive_cache` keeps 16.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from typing import Any

#: Blocks at least this large get their own mapping, given back when freed.
LARGE_BLOCK_BYTES = 8 << 20
#: Compiled oneDNN primitives kept. Measured on a 100 s input (five chunks, three
#: lengths), full-size 40 kHz model, fp32, 2 cores, the freed heap released after each
#: chunk: 1024 (oneDNN's default) 91 s and peak RSS 1787 MiB; 64: 93 s, 1530 MiB; 16:
#: 85 s, 1489 MiB; 0 (none kept): 115 s, 1473 MiB. Recompiling what 16 can't hold costs
#: nothing measurable beside a chunk's arithmetic; recompiling everything does.
ONEDNN_PRIMITIVES_KEPT = 16
#: glibc's mallopt parameter number for the mapping threshold (malloc.h).
_M_MMAP_THRESHOLD = -3


def return_large_blocks_to_the_system(threshold: int = LARGE_BLOCK_BYTES) -> None:
    """Have blocks of ``threshold`` bytes or more mapped on their own and unmapped when
    freed, for the rest of the process (this turns off glibc's moving threshold)."""
    library = _c_library()
    if library is not None and hasattr(library, "mallopt"):
        library.mallopt(_M_MMAP_THRESHOLD, threshold)


def bound_onednn_primitive_cache(capacity: int = ONEDNN_PRIMITIVES_KEPT) -> None:
    """Have oneDNN keep at most ``capacity`` compiled primitives, unless the user chose.

    oneDNN reads its setting when it creates its first primitive, so this must run
    before the process's first convolution: ``urvc_core`` calls it when imported. A
    value already in the environment (``ONEDNN_`` or the older ``DNNL_`` name) stays.
    """
    names = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")
    if not any(name in os.environ for name in names):
        os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = str(capacity)


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
