"""``urvc web``: a thin layer over :func:`urvc_webui.serve`.

A :class:`~urvc_core.errors.UrvcError` raised here reaches the ``urvc`` group, which
prints it as ``Error: ...`` and exits with code 1.
"""

from __future__ import annotations

import click


@click.command(name="web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--share-none",
    is_flag=True,
    help="Never open a public share link (the default: this version never shares; "
    "the flag is accepted so scripts can say so).",
)
@click.option(
    "--max-file-size",
    default="500mb",
    show_default=True,
    help="Largest upload accepted, e.g. 200mb or 1gb.",
)
def web(host: str, port: int, share_none: bool, max_file_size: str) -> None:
    """Serve urvc in the browser: covers, voice models, the step cache and settings.

    Binds to 127.0.0.1 unless --host says otherwise; open the printed address.
    """
    from urvc_webui.app import serve

    serve(host, port, max_file_size=max_file_size)


def add_commands(cli: click.Group) -> None:
    cli.add_command(web)
