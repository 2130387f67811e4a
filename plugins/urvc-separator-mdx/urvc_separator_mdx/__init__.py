"""urvc-separator-mdx: the UVR model families (MDX-Net, MDX23C/Roformer, VR, Demucs) for urvc.

This module only registers what the plugin provides; audio-separator, torch and the
models are loaded when a separator first runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from urvc_core import hookimpl

if TYPE_CHECKING:
    import click

    from urvc_core.assets import Asset
    from urvc_core.hookspecs import Register


@hookimpl
def register_separators(register: Register) -> None:
    from urvc_separator_mdx.separators import SEPARATORS

    for separator in SEPARATORS.values():
        register(separator)


@hookimpl
def register_assets(register: Callable[[Asset], None]) -> None:
    from urvc_separator_mdx.model_catalogue import declared_assets

    for asset in declared_assets():
        register(asset)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from urvc_separator_mdx.commands import add_separators_group

    add_separators_group(cli)


@hookimpl
def register_presets(register: Callable[[Any], None]) -> None:
    from urvc_separator_mdx.cover_presets import SEPARATION_PRESETS

    for preset in SEPARATION_PRESETS:
        register(preset)
