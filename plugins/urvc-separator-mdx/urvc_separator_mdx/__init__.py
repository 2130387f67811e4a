"""urvc-separator-mdx: the UVR model families (MDX-Net, MDX23C/Roformer, VR, Demucs) for urvc.

This module only registers what the plugin provides; audio-separator, torch and the
models are loaded when a separator first runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from urvc_core import hookimpl
from urvc_separator_mdx.onnx2torch_import import check_torchvision_before_transformers

if TYPE_CHECKING:
    import click

    from urvc_core.assets import Asset
    from urvc_core.hookspecs import Register

# Installing this plugin installs a torchvision (audio-separator needs onnx2torch, which
# needs it), and on Linux beside a CPU build of torch that torchvision fails on import
# and would take transformers, and urvc's embedders, down with it. urvc loads its plugins
# before any model, so this is in time to keep such a torchvision out of transformers'
# sight; it costs nothing where there is no torchvision.
check_torchvision_before_transformers()


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
