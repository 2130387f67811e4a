"""Training voice models (``urvc train``): from a folder of recordings to a model.

Each model being trained has a workspace, ``<home>/training/<NAME>/``, laid out as RVC
lays out its ``logs/<NAME>/`` (``0_gt_wavs`` for the clips at the model's rate,
``1_16k_wavs`` for the same clips at 16 kHz), so a user who knows RVC finds their way.
The steps are functions, one module each, that the CLI calls:

- :mod:`~urvc_core.training.preprocess`: recordings to training clips;
- :mod:`~urvc_core.training.extract`: each clip's pitch and content features.
"""

from urvc_core.training.extract import ExtractResult, extract_features
from urvc_core.training.preprocess import (
    PreprocessResult,
    PreprocessSettings,
    preprocess_dataset,
    training_workspace,
)

__all__ = [
    "ExtractResult",
    "PreprocessResult",
    "PreprocessSettings",
    "extract_features",
    "preprocess_dataset",
    "training_workspace",
]
