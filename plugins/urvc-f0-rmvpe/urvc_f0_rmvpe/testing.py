"""Weights files for tests and benchmarks, where the real ``rmvpe.pt`` can't be fetched.

:func:`write_random_weights` builds the full-size network with random weights and saves
it the way the community ``rmvpe.pt`` is saved: a plain state dict (the
``OrderedDict`` that ``state_dict()`` returns), every floating-point tensor in half
precision, written with ``torch.save``. Such a file has the real one's names, shapes,
dtypes and size (within a few kB of its 181,184,272 bytes), so it goes through exactly
the loading path the real one does; only its pitch estimates are meaningless.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def save_like_rmvpe_pt(state: Mapping[str, Any], path: Path) -> Path:
    """Save ``state`` as ``rmvpe.pt`` is saved: half-precision tensors, ``torch.save``."""
    from collections import OrderedDict

    import torch

    half = OrderedDict(
        (name, tensor.half() if tensor.is_floating_point() else tensor)
        for name, tensor in state.items()
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(half, path)
    return path


def random_state_dict(seed: int = 0) -> dict[str, Any]:
    """The full-size network's state dict with torch's default initialisation from ``seed``."""
    import torch

    from urvc_f0_rmvpe.network import RmvpeNetwork

    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return dict(RmvpeNetwork().state_dict())
    finally:
        torch.random.set_rng_state(generator_state)


def write_random_weights(path: Path, seed: int = 0) -> Path:
    """A random-weights ``rmvpe.pt`` at ``path``; returns the path."""
    return save_like_rmvpe_pt(random_state_dict(seed), path)
