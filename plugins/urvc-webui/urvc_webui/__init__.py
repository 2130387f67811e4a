"""urvc-webui: urvc in the browser, on Gradio.

The library API, which ``urvc web`` calls::

    from urvc_webui import build_app, serve

    serve(host="127.0.0.1", port=7860)        # blocks until Ctrl-C
    app = build_app()                          # the gr.Blocks, to mount or launch yourself

Importing this package imports neither gradio nor torch: ``urvc --help`` stays quick.
Cover jobs run in worker processes (:mod:`urvc_webui.jobs`) that a Cancel ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from urvc_core.hookspecs import hookimpl

if TYPE_CHECKING:
    import gradio

__all__ = ["build_app", "serve"]


def build_app() -> gradio.Blocks:
    """The web UI as a ``gr.Blocks`` (see :func:`urvc_webui.app.build_app`)."""
    from urvc_webui.app import build_app as build

    return build()


def serve(host: str = "127.0.0.1", port: int = 7860, **options: Any) -> None:
    """Serve the web UI until interrupted (see :func:`urvc_webui.app.serve`)."""
    from urvc_webui.app import serve as run

    run(host, port, **options)


@hookimpl
def register_commands(cli: Any) -> None:
    from urvc_webui.commands import add_commands

    add_commands(cli)
