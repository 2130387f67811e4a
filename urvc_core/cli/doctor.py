"""``urvc doctor``: a thin layer over :func:`urvc_core.doctor.run_doctor`."""

from __future__ import annotations

import sys
from typing import Any

import click

from urvc_core.console import echo_json, json_option


@click.command()
@json_option
def doctor(as_json: bool) -> None:
    """Check the installation: torch, its GPUs and device, home folder, assets, plugins.

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
            click.echo(torch_line(torch_facts))
            for gpu in torch_facts["gpus"]:
                click.echo(gpu_line(gpu))
        else:
            click.echo("torch: not installed")
        click.echo(
            f"device: {facts['device']} (config.toml's device: {facts['device_setting']}; "
            f"auto picks {facts['auto_device'] or '-'})"
        )
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
        for name, environment in facts.get("worker_environments", {}).items():
            state = (
                f"Python {environment.get('python')}, "
                + ", ".join(
                    f"{package} {version or 'missing'}"
                    for package, version in environment.items()
                    if package not in ("path", "backends", "built", "python", "state")
                )
                if environment["built"]
                else f"{environment['state']}, run `urvc install {name}`"
            )
            click.echo(f"worker environment {name}: {state} ({environment['path']})")
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


def torch_line(torch_facts: dict[str, Any]) -> str:
    """``torch: 2.5.1+cu124 (CUDA 12.4 build, cuDNN 9.1.0), 16 threads``, or a CPU build."""
    build = f"{torch_facts['build']} build"
    if torch_facts["cudnn_version"]:
        build += f", cuDNN {torch_facts['cudnn_version']}"
    if torch_facts["cuda_version"] and not torch_facts["cuda_available"]:
        build += ", but it sees no CUDA GPU"
    if torch_facts["mps_available"]:
        build += ", Apple GPU (mps)"
    return f"torch: {torch_facts['version']} ({build}), {torch_facts['threads']} threads"


def gpu_line(gpu: dict[str, Any]) -> str:
    """``GPU cuda:0: NVIDIA H100 80GB HBM3, 79.2 GiB, compute capability 9.0``."""
    return (
        f"GPU {gpu['device']}: {gpu['name']}, {gpu['memory_gib']:.1f} GiB, "
        f"compute capability {gpu['compute_capability']}"
    )
