"""``urvc doctor``: a thin layer over :func:`urvc_core.doctor.run_doctor`."""

from __future__ import annotations

import sys

import click

from urvc_core.console import echo_json, json_option


@click.command()
@json_option
def doctor(as_json: bool) -> None:
    """Check the installation: torch and its device, home folder, assets, plugins.

    Exits with code 1 when it finds a problem.
    """
    from urvc_core.doctor import run_doctor

    report = run_doctor()
    if as_json:
        echo_json(report.as_dict())
    else:
        facts = report.facts
        torch_facts = facts["torch"]
        click.echo(f"urvc {facts['urvc']}, Python {facts['python']}")
        click.echo(f"platform: {facts['platform']}")
        click.echo(f"numpy: {facts['numpy']}")
        if torch_facts["installed"]:
            gpu = f", GPU {torch_facts['gpu']}" if torch_facts["gpu"] else ""
            click.echo(
                f"torch: {torch_facts['version']} ({torch_facts['build']} build{gpu}), "
                f"{torch_facts['threads']} threads"
            )
        else:
            click.echo("torch: not installed")
        click.echo(f"device: {facts['device']}")
        click.echo(f"ffmpeg: {facts['ffmpeg'] or 'not found (mp3/wav/flac/ogg still work)'}")
        click.echo(f"home: {facts['home']}")
        for label, folder in facts["folders"].items():
            state = "" if folder["writable"] else "  (NOT WRITABLE)"
            click.echo(f"  {label}: {folder['path']}{state}")
        plugins_loaded = [p for p in facts["plugins"] if not p["builtin"]]
        click.echo(
            f"plugins: {len(plugins_loaded)} installed"
            + (f" ({', '.join(p['name'] for p in plugins_loaded)})" if plugins_loaded else "")
        )
        click.echo(f"backends: {len(facts['backends'])} ({', '.join(facts['backends'])})")
        assets = facts.get("assets", [])
        present = [a for a in assets if a["present"]]
        click.echo(f"assets: {len(present)} of {len(assets)} present")
        for asset in assets:
            click.echo(
                f"  {asset['name']}: {'present' if asset['present'] else 'missing'} "
                f"({asset['path']})"
            )
        if report.problems:
            click.echo("problems:")
            for problem in report.problems:
                click.echo(f"  - {problem}")
        else:
            click.echo("no problems found")
    if report.problems:
        sys.exit(1)
