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
- :mod:`~urvc_core.cli.speech`: ``urvc speak``, ``urvc tts``
- :mod:`~urvc_core.cli.mix`: ``urvc mix``
- :mod:`~urvc_core.cli.train`: ``urvc train``
- :mod:`~urvc_core.cli.cache`: ``urvc cache``
- :mod:`~urvc_core.cli.demo`: ``urvc demo``

The modules import the library inside their commands, so ``urvc --help`` stays quick.
A :class:`~urvc_core.errors.UrvcError` becomes ``Error: <message>`` on stderr and exit
code 1, without a traceback; ``URVC_RAISE_ERRORS=1`` lets it through for debugging.
A :class:`~urvc_core.errors.UrvcWarning` becomes one ``Warning: <message>`` line.
Ctrl-C prints ``Interrupted.`` and exits with 130, SIGTERM ``Terminated.`` and 143 (the
shell's 128 + signal number); both unwind the running command first, so no staging
folder, lock file or half-written output is left behind.
Plugins add commands through the ``register_commands(cli)`` hook.
"""

from __future__ import annotations

import contextlib
import os
import signal
import warnings
from collections.abc import Iterator
from types import FrameType
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
    speech,
    train,
)
from urvc_core.errors import UrvcError, print_warnings_as_lines
from urvc_core.version import __version__

__all__ = ["Terminated", "UrvcGroup", "cli", "main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C is, so every ``finally`` and every
    cleanup that handles Ctrl-C runs before the process ends."""


#: Exit codes of a command stopped by a signal, as a shell reports them: 128 + signal.
_INTERRUPTED_EXIT = 130
_TERMINATED_EXIT = 143


def _raise_errors() -> bool:
    return os.environ.get("URVC_RAISE_ERRORS") == "1"


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Each :class:`UrvcWarning` as one ``Warning:`` line while a command runs."""
    with warnings.catch_warnings():
        print_warnings_as_lines()
        yield


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
            with _warnings_as_lines():
                return super().invoke(ctx)
        except UrvcError as exc:
            if _raise_errors():
                raise
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt as exc:
            raise _stopped(exc) from exc

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        # Parsing runs plugin loading too (for --help): a Ctrl-C there is handled alike.
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise _stopped(exc) from exc


def _stopped(interrupt: KeyboardInterrupt) -> click.exceptions.Exit:
    """Say why the command stopped; the exit that click then makes.

    Caught before click's own handler, which would print "Aborted!" and exit with 1.
    """
    terminated = isinstance(interrupt, Terminated)
    click.echo("Terminated." if terminated else "Interrupted.", err=True)
    return click.exceptions.Exit(_TERMINATED_EXIT if terminated else _INTERRUPTED_EXIT)


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
    speech.speak,
    speech.tts,
    mix.mix,
    train.train,
    cache.cache,
    demo.demo,
):
    cli.add_command(_command)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM while the first is unwinding ends the process at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated()


def main() -> None:
    """Entry point of the ``urvc`` script."""
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="urvc")
