"""What urvc's commands print: JSON, tables and progress bars.

The ``urvc`` commands and the commands plugins add (``register_commands``) print with
these, so every command looks alike. A plugin imports them from here, not from
:mod:`urvc_core.cli`: this module imports click and nothing of urvc, so importing it
neither builds the CLI nor loads the library (tqdm is imported when a bar starts).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

__all__ = ["echo_json", "echo_table", "json_option", "progress_bar"]


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON: what every ``--json`` option prints."""
    click.echo(json.dumps(data, indent=2, default=str))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to their widest cell, the last one left ragged."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths[:-1], strict=True)]
        click.echo("  ".join([*padded, row[-1]]).rstrip())


#: The ``--json`` flag of every listing; the command receives it as ``as_json``.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[float], None]]:
    """A tqdm bar on stderr driven by fractions 0..1; silent when stderr is not a terminal."""
    from tqdm import tqdm

    with tqdm(total=1000, desc=label, unit="‰", disable=None, leave=False) as bar:

        def update(fraction: float) -> None:
            bar.update(max(0, int(fraction * 1000) - bar.n))

        yield update
