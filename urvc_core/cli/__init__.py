"""The ``urvc`` command line: the root group, and where each command group joins it.

Each command is a thin layer over a public function of :mod:`urvc_core`: it parses
options, calls the function and prints the result (a table, or JSON with ``--json``),
with the helpers of :mod:`urvc_core.console`. One module per command group:

- :mod:`~urvc_core.cli.plugins`: ``urvc plugins``, ``install``, ``uninstall``
- :mod:`~urvc_core.cli.backends`: ``urvc backends``
- :mod:`~urvc_core.cli.doctor`: ``urvc doctor``
- :mod:`~urvc_core.cli.config`: ``urvc config``
- :mod:`~urvc_core.cli.assets`: ``urvc assets``
- :mod:`~urvc_core.cli.audio`: ``urvc audio``
- :mod:`~urvc_core.cli.models`: ``urvc models``
- :mod:`~urvc_core.cli.convert`: ``urvc convert``, ``urvc f0``
- :mod:`~urvc_core.cli.cover`: ``urvc cover``, ``urvc separate``
- :mod:`~urvc_core.cli.mix`: ``urvc mix``
- :mod:`~urvc_core.cli.cache`: ``urvc cache``
- :mod:`~urvc_core.cli.demo`: ``urvc demo``

The modules import the library inside their commands, so ``urvc --help`` stays quick.
A :class:`~urvc_core.errors.UrvcError` becomes ``Error: <message>`` on stderr and exit
code 1, without a traceback; ``URVC_RAISE_ERRORS=1`` lets it through for debugging.
Plugins add commands through the ``register_commands(cli)`` hook.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from urvc_core.cli import (
    assets,
    audio,
    backends,
    cache,
    config,
    convert,
    cover,
    demo,
    doctor,
    mix,
    models,
    plugins,
)
from urvc_core.errors import UrvcError
from urvc_core.version import __version__

__all__ = ["UrvcGroup", "cli", "main"]


def _raise_errors() -> bool:
    return os.environ.get("URVC_RAISE_ERRORS") == "1"


class UrvcGroup(click.Group):
    """The top-level group: loads plugin commands lazily and turns UrvcError into exit 1."""

    _plugins_ready = False

    def _load_plugins(self) -> None:
        if self._plugins_ready:
            return
        self._plugins_ready = True
        from urvc_core.plugins import plugin_host

        try:
            host = plugin_host()
            host.add_commands(self)
        except UrvcError as exc:
            if _raise_errors():
                raise
            raise click.ClickException(str(exc)) from exc
        for record in host.failures:
            click.echo(
                f"Warning: plugin {record.name} failed to load ({record.error}); "
                f"`urvc plugins list` shows it, URVC_LOAD_PLUGINS can leave it out.",
                err=True,
            )

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugins()
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UrvcError as exc:
            if _raise_errors():
                raise
            raise click.ClickException(str(exc)) from exc


@click.group(cls=UrvcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="urvc")
def cli() -> None:
    """urvc: retrieval-based voice conversion and AI song covers.

    A small kernel with plugins: `urvc backends` lists what is installed,
    `urvc doctor` checks the installation.
    """


for _command in (
    plugins.plugins,
    plugins.install,
    plugins.uninstall,
    backends.backends,
    doctor.doctor,
    config.config,
    assets.assets,
    audio.audio,
    models.models,
    convert.f0,
    convert.convert,
    cover.cover,
    cover.separate,
    mix.mix,
    cache.cache,
    demo.demo,
):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``urvc`` script."""
    try:
        cli(prog_name="urvc")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
