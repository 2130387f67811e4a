"""The backends of this process: the registry the installed plugins filled, and the
functions everything else asks it through (:func:`get_backend`, :func:`list_backends`).

The :class:`Registry` table itself is in :mod:`urvc_core.registration`; plugins are
loaded (:mod:`urvc_core.plugins`) the first time one of these is called.
"""

from __future__ import annotations

from typing import Any

from urvc_core.backends import Backend, BackendInfo, BackendKind
from urvc_core.plugins import plugin_host
from urvc_core.registration import Registry, parse_kind

__all__ = ["Registry", "backend_registry", "get_backend", "list_backends", "parse_kind"]


def backend_registry() -> Registry:
    """The registry of this process, filled by the installed plugins on first use."""
    return plugin_host().registry


def list_backends(kind: BackendKind | str | None = None) -> list[BackendInfo]:
    """Every installed backend (or those of one kind) with the plugin that provides it."""
    return backend_registry().backends(kind)


def get_backend(kind: BackendKind | str, name: str, **settings: Any) -> Backend:
    """An instance of the named backend, its settings checked.

    Raises BackendNotFoundError (listing what is installed) for an unknown name and
    InvalidSettingError for a bad setting.
    """
    return backend_registry().create(kind, name, **settings)
