"""asteroid models: the published ones, how a model file is read, what its stems are called.

asteroid saves a model as the dict its ``serialize()`` returns (``model_name``,
``model_args``, ``state_dict``, ``infos``) through ``torch.save``. The published models
below are such files on Zenodo; they come through urvc's asset store, so
``[asset_paths]`` in config.toml can point one at a copy on disk. Any other file saved
that way is used by its path. This module is imported on both sides of the worker, so
it needs no more than urvc-core (and torch, imported only to read a file).
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urvc_core.assets import Asset
from urvc_core.errors import UrvcError
from urvc_core.presets import SeparationPreset, SeparationStep

#: The keys asteroid's ``BaseModel.from_pretrained`` needs in a model file.
PACKAGE_KEYS: tuple[str, ...] = ("model_name", "model_args", "state_dict")


@dataclass(frozen=True)
class PublishedModel:
    """A model asteroid's authors published, with what its file doesn't say itself."""

    asset: str
    url: str
    description: str
    #: The rate it was trained at: files saved before asteroid 0.4 don't record it.
    sample_rate: int
    #: How many sources it gives.
    sources: int
    #: Its sources in the order it gives them, then (for a model of one source) the
    #: name of the residual: the mixture minus that source.
    stems: tuple[str, ...]

    def as_asset(self) -> Asset:
        return Asset(
            self.asset,
            self.url,
            f"asteroid/{self.asset}.pth",
            # No sha256: Zenodo lists MD5 digests only. The store still writes the file
            # whole or not at all, and the loader checks what it holds.
            description=f"asteroid {self.description}",
        )


_ZENODO = "https://zenodo.org/record/{record}/files/model.pth?download=1"

PUBLISHED_MODELS: tuple[PublishedModel, ...] = (
    PublishedModel(
        "asteroid-convtasnet-damp-vsep",
        _ZENODO.format(record=3994193),
        "ConvTasNet trained on DAMP-VSEP (karaoke performances): singing voice and "
        "accompaniment, 16 kHz",
        16000,
        2,
        ("Vocals", "Instrumental"),
    ),
    PublishedModel(
        "asteroid-convtasnet-libri1mix-enhsingle",
        _ZENODO.format(record=3970768),
        "ConvTasNet trained on Libri1Mix: one voice out of background noise (the rest "
        "as Instrumental), 8 kHz",
        8000,
        1,
        ("Vocals", "Instrumental"),
    ),
    PublishedModel(
        "asteroid-dprnn-wham-sepclean",
        _ZENODO.format(record=3873670),
        "DPRNN-TasNet trained on WHAM! clean: two speakers apart, 8 kHz",
        8000,
        2,
        ("Speaker 1", "Speaker 2"),
    ),
)
DEFAULT_MODEL = PUBLISHED_MODELS[0].asset


def published_model(name: str) -> PublishedModel | None:
    return next((model for model in PUBLISHED_MODELS if model.asset == name), None)


def model_assets() -> list[Asset]:
    return [model.as_asset() for model in PUBLISHED_MODELS]


def stem_names(sources: int, names: str) -> tuple[str, ...]:
    """The stems of a model of ``sources`` sources: ``names`` (separated by ``/``, as a
    ``--separator-step`` spec takes them: its settings are separated by commas; one per
    source and optionally one more for the residual), or ``Source 1``... and, for a
    model of one source, ``Residual``."""
    given = tuple(name.strip() for name in names.split("/")) if names.strip() else ()
    if not given:
        numbered = tuple(f"Source {n}" for n in range(1, sources + 1))
        return numbered + (("Residual",) if sources == 1 else ())
    if len(given) not in (sources, sources + 1) or not all(given) or len(set(given)) < len(given):
        raise UrvcError(
            f"separator 'asteroid': stem_names={names!r} does not fit a model of {sources} "
            f"source{'s' if sources > 1 else ''}: give {sources} distinct names separated by "
            f"'/', or {sources + 1} to name the residual too (the mixture minus the sources)."
        )
    return given


def read_model_package(path: Path) -> dict[str, Any]:
    """The dict asteroid's ``serialize()`` saved in ``path``, read as data only.

    Model files are untrusted: torch reads them with ``weights_only``, which builds
    tensors and plain containers and runs no code; the few other types asteroid's own
    files hold (torch's version string, numpy numbers among the published models'
    metrics) are allowed by name. Anything else is refused with one line.
    """
    import numpy as np
    import torch
    from torch.torch_version import TorchVersion

    if not path.is_file():
        raise UrvcError(
            f"There is no asteroid model file {path}: give the path of a file saved with "
            f"torch.save(model.serialize(), path), or one of: "
            f"{', '.join(m.asset for m in PUBLISHED_MODELS)}."
        )
    try:  # numpy 2 (numpy 1 has it under numpy.core)
        from numpy._core.multiarray import scalar as numpy_scalar
    except ImportError:
        from numpy.core.multiarray import scalar as numpy_scalar  # type: ignore[no-redef]

    allowed: list[Any] = [
        TorchVersion,
        numpy_scalar,
        (numpy_scalar, "numpy.core.multiarray.scalar"),
        np.dtype,
        np.dtypes.Float64DType,
        np.dtypes.Float32DType,
        np.dtypes.Int64DType,
        np.dtypes.Int32DType,
    ]
    try:
        with torch.serialization.safe_globals(allowed):
            package = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        wanted = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if wanted is None:
            raise UrvcError(
                f"{path} is not a model file torch can read: it is damaged or not a "
                f".pth; download or save it again."
            ) from exc
        raise UrvcError(
            f"{path} holds more than an asteroid model's weights and settings (it asks "
            f"for {wanted.group(1)}); urvc reads model files as data and never runs code "
            f"from them: save the model again with torch.save(model.serialize(), path)."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UrvcError(
            f"{path} is not a model file torch can read ({_first_line(exc)}): it is "
            f"damaged or not a .pth; download or save it again."
        ) from exc
    missing = [key for key in PACKAGE_KEYS if not isinstance(package, dict) or key not in package]
    if missing:
        raise UrvcError(
            f"{path} is not an asteroid model: it lacks {', '.join(missing)}; save one "
            f"with torch.save(model.serialize(), path)."
        )
    return package


def source_count(package: dict[str, Any]) -> int:
    """How many sources the model gives (asteroid's separators default to 2)."""
    return int(package["model_args"].get("n_src", 2))


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0].rstrip(".") if text else type(error).__name__


SEPARATION_PRESETS: tuple[SeparationPreset, ...] = (
    SeparationPreset(
        "asteroid",
        "Vocals/instrumental with asteroid's ConvTasNet trained on DAMP-VSEP (torch 2.11, "
        "its own environment)",
        (SeparationStep("vocals", "asteroid", {"model": DEFAULT_MODEL}),),
        # Never `auto`'s pick: that must work on a plain install, and this one needs its
        # worker environment built first.
        rank=-1,
        assets=(DEFAULT_MODEL,),
    ),
)
