"""urvc-f0-rmvpe: the RMVPE pitch extractor for urvc, registered as the f0 method ``rmvpe``.

This module is what urvc imports at start-up, so it holds the hooks and nothing heavy:
torch and the weights are loaded the first time pitch is extracted.
"""

from collections.abc import Callable

from urvc_core import Asset, hookimpl
from urvc_core.hookspecs import Register
from urvc_f0_rmvpe.extractor import RmvpePitch
from urvc_f0_rmvpe.weights import RMVPE_WEIGHTS

__all__ = ["RMVPE_WEIGHTS", "RmvpePitch"]


@hookimpl
def register_f0_extractors(register: Register) -> None:
    register(RmvpePitch)


@hookimpl
def register_assets(register: Callable[[Asset], None]) -> None:
    register(RMVPE_WEIGHTS)
