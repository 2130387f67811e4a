"""``urvc separators``: the plugin's commands, thin layers over its library functions."""

from __future__ import annotations

from collections.abc import Mapping

import click

from urvc_core.console import echo_json, echo_table, json_option
from urvc_separator_mdx.model_catalogue import Family


def add_separators_group(cli: click.Group) -> None:
    """Add the ``separators`` group (and its ``models`` command) to the ``urvc`` CLI."""

    @cli.group(name="separators")
    def separators() -> None:
        """Separation models of the UVR families (urvc-separator-mdx)."""

    @separators.command(name="models")
    @click.option(
        "--family",
        type=click.Choice([f.value for f in Family]),
        help="Only the models one separator runs.",
    )
    @click.option("--present", "only_present", is_flag=True, help="Only models on disk.")
    @json_option
    def models(family: str | None, only_present: bool, as_json: bool) -> None:
        """List the models the separators know: family, stems, published SDR, on disk.

        Works offline: the list ships with audio-separator, and UVR's own list is added
        once it has been downloaded (on first use of a separator, or with `urvc assets
        download uvr-download-checks`). SDR is the median over audio-separator's
        evaluation tracks, in dB, for the stem that follows it.
        """
        from urvc_separator_mdx.model_catalogue import list_models

        statuses = [s for s in list_models(family) if s.present or not only_present]
        if as_json:
            echo_json([s.as_dict() for s in statuses])
            return
        if not statuses:
            click.echo("No models match.")
            return
        echo_table(
            ["family", "model", "stems", "SDR (dB)", "on disk"],
            [
                [
                    s.model.family.value,
                    s.model.filename,
                    ", ".join(s.model.stems) or "?",
                    _sdr_summary(s.model.scores),
                    "yes" if s.present else "no",
                ]
                for s in statuses
            ],
        )
        present = sum(1 for s in statuses if s.present)
        click.echo(f"{len(statuses)} models, {present} on disk.")


def _sdr_summary(scores: Mapping[str, Mapping[str, float]]) -> str:
    parts = [f"{stem} {values['SDR']:.2f}" for stem, values in scores.items() if "SDR" in values]
    return ", ".join(parts) or "-"
