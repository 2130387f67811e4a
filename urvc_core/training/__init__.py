"""Training voice models (``urvc train``): from a folder of recordings to a model.

Each model being trained has a workspace, ``<home>/training/<NAME>/``, laid out as RVC
lays out its ``logs/<NAME>/`` (``0_gt_wavs`` for the clips at the model's rate,
``1_16k_wavs`` for the same clips at 16 kHz), so a user who knows RVC finds their way.
The steps are functions, one module each, that the CLI calls:

- :mod:`~urvc_core.training.preprocess`: recordings to training clips;
- :mod:`~urvc_core.training.extract`: each clip's pitch and content features;
- :mod:`~urvc_core.training.fit`: the GAN training itself, with held-out validation
  (:mod:`~urvc_core.training.networks` holds the networks and losses,
  :mod:`~urvc_core.training.data` the batches, :mod:`~urvc_core.training.checkpoints`
  the checkpoints and RVC's pretrained networks);
- :mod:`~urvc_core.training.graph`: the loss curves as a PNG;
- :mod:`~urvc_core.training.index`: the feature index that goes with the model;
- :mod:`~urvc_core.training.export`: a saved epoch into the voice library.

The training itself needs torch; it is imported when first used, so that ``import
urvc_core.training`` (and the CLI's start) stays light.
"""

from typing import TYPE_CHECKING, Any

from urvc_core.training.export import export_model, saved_epochs
from urvc_core.training.extract import ExtractResult, extract_features
from urvc_core.training.graph import draw_loss_graph
from urvc_core.training.index import IndexResult, build_training_index
from urvc_core.training.preprocess import (
    PreprocessResult,
    PreprocessSettings,
    preprocess_dataset,
    training_workspace,
)

__all__ = [
    "ExtractResult",
    "FitResult",
    "FitSettings",
    "IndexResult",
    "PreprocessResult",
    "PreprocessSettings",
    "StepReport",
    "build_training_index",
    "draw_loss_graph",
    "export_model",
    "extract_features",
    "preprocess_dataset",
    "saved_epochs",
    "train_model",
    "training_workspace",
]

#: Names of :mod:`~urvc_core.training.fit`, which imports torch, loaded on first use.
_FIT_NAMES = ("FitResult", "FitSettings", "StepReport", "train_model")

if TYPE_CHECKING:
    from urvc_core.training.fit import FitResult, FitSettings, StepReport, train_model


def __getattr__(name: str) -> Any:
    if name in _FIT_NAMES:
        from urvc_core.training import fit

        return getattr(fit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
