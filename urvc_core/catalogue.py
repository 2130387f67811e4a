"""The assets plugins declare, and the store they are fetched into.

Plugins declare the files their backends need (``register_assets``); the store
(:class:`~urvc_core.assets.AssetStore`) is the one place that downloads and verifies
them. This module joins the two with the user's home folder and configuration:
``URVC_OFFLINE`` or ``offline = true``, ``download_timeout`` and the ``[asset_paths]``
table of files the user already has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urvc_core.assets import Asset, AssetStore
from urvc_core.errors import AssetError
from urvc_core.home import load_config, urvc_home


def asset_store() -> AssetStore:
    """The asset store under the urvc home, configured from config.toml and the environment."""
    home = urvc_home()
    config = load_config(home)
    offline: bool | None = None  # None: the store reads URVC_OFFLINE itself
    if "URVC_OFFLINE" not in os.environ and config["offline"]:
        offline = True
    timeout: float | None = None
    if "URVC_DOWNLOAD_TIMEOUT" not in os.environ:
        timeout = float(config["download_timeout"])
    return AssetStore(home.assets, config.asset_paths, offline=offline, timeout=timeout)


@dataclass(frozen=True)
class AssetStatus:
    """A declared asset, who declared it, where it lives and whether it is there."""

    asset: Asset
    plugin: str
    path: Path
    present: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.asset.as_dict(),
            "plugin": self.plugin,
            "path": str(self.path),
            "present": self.present,
        }


def list_assets() -> list[AssetStatus]:
    """Every asset the installed plugins declare, with where it is and whether it is there."""
    from urvc_core.plugins import plugin_host

    store = asset_store()
    return [
        AssetStatus(asset, plugin, store.path_for(asset), store.is_present(asset))
        for _, (asset, plugin) in sorted(plugin_host().assets.items())
    ]


def fetch_asset(name: str, *, progress: bool = True) -> Path:
    """The local path of a declared asset, downloading it on first use."""
    from urvc_core.plugins import plugin_host

    declared = plugin_host().assets
    if name not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise AssetError(f"There is no asset named '{name}'; declared assets: {known}.")
    return asset_store().fetch(declared[name][0], progress=progress)
