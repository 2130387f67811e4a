"""``urvc plugins list``, ``urvc install`` and ``urvc uninstall``: the installed plugins."""

from __future__ import annotations

import subprocess
import sys

import click

from urvc_core.console import echo_json, echo_table, json_option
from urvc_core.errors import UrvcError


@click.group()
def plugins() -> None:
    """Installed plugins."""


@plugins.command(name="list")
@click.option("--all", "include_builtin", is_flag=True, help="Include the built-in backends.")
@json_option
def plugins_list(include_builtin: bool, as_json: bool) -> None:
    """List installed plugins, their hooks, and any that failed to load."""
    from urvc_core.plugins import list_plugins

    records = list_plugins(include_builtin)
    if as_json:
        echo_json([record.as_dict() for record in records])
        return
    if not records:
        click.echo("No plugins installed. `urvc plugins list --all` shows built-in backends.")
        return
    echo_table(
        ["name", "version", "status", "hooks"],
        [
            [
                r.name,
                r.version or "built-in",
                f"FAILED: {r.error}" if r.error else "ok",
                ", ".join(r.hooks),
            ]
            for r in records
        ],
    )


def _pip(arguments: list[str]) -> None:
    """Run pip of the Python that runs urvc, so plugins land where urvc finds them."""
    completed = subprocess.run([sys.executable, "-m", "pip", *arguments], check=False)
    if completed.returncode != 0:
        raise UrvcError(f"pip {' '.join(arguments)} failed (exit code {completed.returncode}).")


def _installed_torch() -> list[str]:
    """A requirement for the torch urvc runs on, exactly, if one is installed.

    A plugin's requirements would otherwise let pip replace it: for a torchvision, say,
    pip takes the newest, and then the newest torch it asks for, a CUDA build of several
    GB in place of a CPU one.
    """
    import importlib.metadata

    try:
        return [f"torch=={importlib.metadata.version('torch')}"]
    except importlib.metadata.PackageNotFoundError:
        return []


@click.command()
@click.argument("packages", nargs=-1, required=True)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade packages to their newest version.")
@click.option("-e", "--editable", is_flag=True, help="Install a local folder in editable mode.")
def install(packages: tuple[str, ...], upgrade: bool, editable: bool) -> None:
    """Install plugins from PyPI or a local folder into urvc's own environment.

    The torch urvc runs on is kept: pip chooses the plugins' other requirements to suit
    it (upgrade torch itself with pip). A backend of theirs that runs in an environment
    of its own (docs/isolated-backends.md) gets it built under <urvc home>/envs/, or
    repaired; run again, it finds it up to date.
    """
    from urvc_core.plugins import reset_plugin_host
    from urvc_core.worker_environments import (
        build_worker_environment,
        declared_worker_environments,
    )

    arguments = ["install", *(["--upgrade"] if upgrade else [])]
    for package in packages:
        arguments += ["-e", package] if editable else [package]
    _pip([*arguments, *_installed_torch()])
    reset_plugin_host()  # what was just installed registers its backends
    for environment in declared_worker_environments(_distribution_names(packages)):
        build_worker_environment(environment, click.echo)


def _distribution_names(packages: tuple[str, ...]) -> list[str]:
    """The distribution names of what ``urvc install`` was given: requirement strings
    (``urvc-separator-spleeter>=1``) or local folders (their pyproject.toml's name)."""
    import re
    import tomllib
    from pathlib import Path

    names = []
    for package in packages:
        project = Path(package) / "pyproject.toml"
        if project.is_file():
            with project.open("rb") as file:
                names.append(str(tomllib.load(file).get("project", {}).get("name", package)))
        else:
            names.append(re.split(r"[\[<>=!~; ]", package, maxsplit=1)[0])
    return names


@click.command()
@click.argument("packages", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Don't ask for confirmation.")
def uninstall(packages: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugins from urvc's environment, with their worker environments."""
    from urvc_core.worker_environments import remove_worker_environment

    _pip(["uninstall", *packages, *(["-y"] if yes else [])])
    for name in _distribution_names(packages):
        if remove_worker_environment(name):
            click.echo(f"Removed the worker environment {name}.")
