"""Which torch device a model runs on: the one place that reads the ``device`` settings."""

from __future__ import annotations

from urvc_core.errors import UrvcError


def resolve_device(choice: str = "auto") -> str:
    """The torch device for a ``device`` setting; UrvcError if that device is not there.

    ``auto`` defers to ``device`` in config.toml, and where that is ``auto`` too, picks
    CUDA, then Apple's MPS, then the CPU. A GPU that torch can't see is an error that
    says so, rather than a silent CPU run.
    """
    import torch

    if choice == "auto":
        from urvc_core.home import load_config

        choice = str(load_config()["device"])
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if choice == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if choice == "cuda" and not cuda:
        raise UrvcError(
            "device=cuda is asked for, but torch sees no CUDA GPU; use device=cpu, or "
            "install a CUDA build of torch (`urvc doctor` shows what torch sees)."
        )
    if choice == "mps" and not mps:
        raise UrvcError("device=mps is asked for, but torch sees no Apple GPU; use device=cpu.")
    return choice
