"""The hooks a urvc plugin can implement.

Every backend hook hands the plugin a ``register`` callback, as llm does: the plugin calls
``register(BackendClass)`` once per backend, and the kernel (not pluggy) checks the class,
records which plugin gave it and refuses a name that two plugins claim.

A plugin module implements any of these with the ``urvc_core.hookimpl`` marker::

    from urvc_core import hookimpl

    @hookimpl
    def register_f0_extractors(register):
        register(MyPitchTracker)

``docs/hooks.md`` documents each hook with an example; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from urvc_core.assets import Asset

#: The one project name: hook markers, the plugin manager and the entry-point group.
PROJECT_NAME = "urvc"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[type], None]


@hookspec
def register_separators(register: Register) -> None:
    """Register separator backends: call ``register(cls)`` with each Separator subclass."""


@hookspec
def register_f0_extractors(register: Register) -> None:
    """Register pitch extractors: call ``register(cls)`` with each F0Extractor subclass."""


@hookspec
def register_embedders(register: Register) -> None:
    """Register content embedders: call ``register(cls)`` with each Embedder subclass."""


@hookspec
def register_tts_engines(register: Register) -> None:
    """Register text-to-speech engines: call ``register(cls)`` with each TTSEngine subclass."""


@hookspec
def register_effects(register: Register) -> None:
    """Register audio effects: call ``register(cls)`` with each Effect subclass."""


@hookspec
def register_fusion_methods(register: Register) -> None:
    """Register voice-fusion methods: call ``register(cls)`` with each FusionMethod subclass."""


@hookspec
def register_assets(register: Callable[[Asset], None]) -> None:
    """Declare downloadable files (weights, catalogues): call ``register(Asset(...))``.

    Declared assets are fetched through the asset store on first use, listed by
    ``urvc assets list`` and checked by ``urvc doctor``.
    """


@hookspec
def register_presets(register: Callable[[Any], None]) -> None:
    """Register named presets: call ``register(preset)`` with each
    :class:`~urvc_core.presets.EffectPreset` (a named effects chain) or
    :class:`~urvc_core.presets.SeparationPreset` (a named vocal-extraction chain).

    They are listed by ``urvc effects presets`` and ``urvc separate --list-presets`` with
    the plugin that gave each, and used by name (``--effects-preset``, ``--separation``).
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``urvc`` command-line tool: decorate them with ``@cli.command()``."""
