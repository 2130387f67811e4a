"""Command-line options generated from the settings tables, so each option is spelled,
defaulted and checked in one place: the table."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import click

from urvc_core.backends import Setting


def conversion_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One option per conversion setting, generated from the settings table.

    Defaults stay None on the command line, so config.toml's [convert] table applies
    where an option is not given; ranges are checked by the table with a clear message.
    """
    from urvc_core.rvc.settings import CONVERSION_SETTINGS

    return setting_options(CONVERSION_SETTINGS)(command)


def device_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--device``, generated from :data:`~urvc_core.devices.DEVICE_SETTING`: where a
    command's models run. Commands whose options come from
    :data:`~urvc_core.cover_options.COVER_SETTINGS` get it from there, the same setting."""
    from urvc_core.devices import DEVICE_SETTING

    return setting_options([DEVICE_SETTING])(command)


def setting_options(
    settings: Sequence[Setting], names: Collection[str] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One option per setting of a table (:data:`~urvc_core.cover_options.COVER_SETTINGS`),
    or of the ``names`` among them.

    Every default stays None on the command line, so "not given" reaches the library,
    which fills in the table's default; the help text shows that default.
    """

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for setting in reversed([s for s in settings if names is None or s.name in names]):
            flags = getattr(setting, "option_flags", ("--" + setting.name.replace("_", "-"),))
            multiple = bool(getattr(setting, "multiple", False))
            unit = f" [{setting.unit}]" if setting.unit else ""
            shown = (
                ""
                if setting.default is None or setting.default is False or multiple
                else f" (default {setting.default})"
            )
            keywords: dict[str, Any] = {
                "default": None,
                "help": f"{setting.help}{unit}{shown}",
                "metavar": getattr(setting, "metavar", None),
            }
            if setting.type is bool:
                if len(flags) == 1 and "/" not in flags[0] and setting.default is False:
                    keywords.update(is_flag=True, default=None, flag_value=True)
                elif not any("/" in flag for flag in flags):
                    flags = (f"{flags[-1]}/--no-{flags[-1][2:]}",)
            elif setting.choices is not None:
                keywords["type"] = click.Choice([str(c) for c in setting.choices])
            else:
                keywords["type"] = setting.type
            if multiple:
                keywords.update(multiple=True, default=())
            command = click.option(*flags, setting.name, **keywords)(command)
        return command

    return decorate
