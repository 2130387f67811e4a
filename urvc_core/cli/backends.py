"""``urvc backends``: the installed backends of every kind, and one backend's settings."""

from __future__ import annotations

import click

from urvc_core.console import echo_json, echo_table, json_option


@click.command()
@click.argument("kind", required=False)
@click.argument("name", required=False)
@json_option
def backends(kind: str | None, name: str | None, as_json: bool) -> None:
    """List backends, of every KIND or of one (separator, f0, embedder, tts, effect, fusion).

    With a NAME, show that backend and its settings.
    """
    from urvc_core.registry import backend_registry, list_backends

    if name is not None:
        assert kind is not None
        info = backend_registry().info(kind, name)
        if as_json:
            echo_json(info.as_dict())
            return
        details = info.as_dict()
        click.echo(f"{details['kind']} {details['name']} (plugin {details['plugin']})")
        if details["description"]:
            click.echo(f"  {details['description']}")
        if details["missing_modules"]:
            click.echo(f"  not available: needs {', '.join(details['missing_modules'])}")
        for setting in info.backend_class.settings:
            unit = f" {setting.unit}" if setting.unit else ""
            allowed = (
                ", ".join(str(c) for c in setting.choices)
                if setting.choices is not None
                else setting.describe_range()
            )
            click.echo(
                f"  --{setting.name.replace('_', '-')}: {setting.help} "
                f"[{setting.type.__name__}, {allowed}, default {setting.default}{unit}]"
            )
        return
    infos = list_backends(kind)
    if as_json:
        echo_json([info.as_dict() for info in infos])
        return
    echo_table(
        ["kind", "name", "plugin", "description"],
        [
            [
                info.kind.value,
                info.name,
                info.plugin,
                info.backend_class.description
                + (
                    " (not available: missing modules)"
                    if info.backend_class.missing_modules()
                    else ""
                ),
            ]
            for info in infos
        ],
    )
