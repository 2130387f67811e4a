"""The table of backends by kind and name that plugins fill: :class:`Registry`.

It is filled once, when plugins are loaded (:mod:`urvc_core.plugins`), by
calling every ``register_<kind>s`` hook with a ``register`` callback bound to the plugin
being asked. That binding is why the kernel, not pluggy, checks what it is given: it
knows which plugin handed over a class, so it can refuse a class of the wrong kind with
that plugin's name, and report two plugins that claim one name by naming both.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any

from urvc_core.backends import BASE_CLASSES, Backend, BackendInfo, BackendKind
from urvc_core.errors import BackendNotFoundError, PluginConflictError, PluginError

_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class Registry:
    """Backends by kind and name, each remembered with the plugin that registered it."""

    def __init__(self) -> None:
        self._backends: dict[BackendKind, dict[str, BackendInfo]] = {
            kind: {} for kind in BackendKind
        }

    def register_callback(self, kind: BackendKind, plugin: str) -> Callable[[Any], None]:
        """The ``register`` function handed to one plugin's ``register_<kind>s`` hook."""

        def register(backend_class: Any) -> None:
            self.add(kind, backend_class, plugin)

        return register

    def add(self, kind: BackendKind, backend_class: Any, plugin: str) -> None:
        """Record a backend class; raises PluginError for a bad class or a name clash."""
        base = BASE_CLASSES[kind]
        if not (isinstance(backend_class, type) and issubclass(backend_class, base)):
            raise PluginError(
                f"Plugin {plugin} registered {backend_class!r} as a {kind.label}, "
                f"but it is not a subclass of urvc_core.{base.__name__}."
            )
        name = getattr(backend_class, "name", None)
        if not isinstance(name, str) or not _VALID_NAME.match(name):
            raise PluginError(
                f"Plugin {plugin} registered the {kind.label} {backend_class.__name__} with "
                f"the name {name!r}; a name is lowercase letters, digits, '.', '_' and '-'."
            )
        existing = self._backends[kind].get(name)
        if existing is not None:
            raise PluginConflictError(
                f"Two plugins register a {kind.label} named '{name}': {existing.plugin} and "
                f"{plugin}. Uninstall one of them, or choose which to load with "
                f"URVC_LOAD_PLUGINS."
            )
        backend_class.plugin_name = plugin
        self._backends[kind][name] = BackendInfo(kind, name, backend_class, plugin)

    def remove_plugin(self, plugin: str) -> None:
        """Forget every backend one plugin registered (its registration failed half-way)."""
        for by_name in self._backends.values():
            for name in [n for n, info in by_name.items() if info.plugin == plugin]:
                del by_name[name]

    def info(self, kind: BackendKind | str, name: str) -> BackendInfo:
        """The registered backend, or BackendNotFoundError listing what is installed."""
        kind = parse_kind(kind)
        found = self._backends[kind].get(name)
        if found is not None:
            return found
        available = sorted(self._backends[kind])
        message = f"There is no {kind.label} named '{name}'."
        close = difflib.get_close_matches(name, available, n=1)
        if close:
            message += f" Did you mean '{close[0]}'?"
        if available:
            message += f" Installed: {', '.join(available)}."
        else:
            message += f" No installed plugin provides a {kind.label}."
        message += " `urvc backends` lists them all; `urvc plugins list --all` shows plugins."
        raise BackendNotFoundError(message)

    def create(self, kind: BackendKind | str, name: str, **settings: Any) -> Backend:
        """An instance of the named backend with checked settings."""
        return self.info(kind, name).backend_class(**settings)

    def backends(self, kind: BackendKind | str | None = None) -> list[BackendInfo]:
        """Every registered backend, or those of one kind, sorted by kind then name."""
        kinds = list(BackendKind) if kind is None else [parse_kind(kind)]
        return [info for k in kinds for _, info in sorted(self._backends[k].items())]

    def names(self, kind: BackendKind | str) -> list[str]:
        return sorted(self._backends[parse_kind(kind)])


def parse_kind(kind: BackendKind | str) -> BackendKind:
    """A BackendKind from its value (``"f0"``) or name, with a clear error otherwise."""
    if isinstance(kind, BackendKind):
        return kind
    for candidate in BackendKind:
        if kind in (candidate.value, candidate.name.lower(), candidate.name.lower() + "s"):
            return candidate
    choices = ", ".join(k.value for k in BackendKind)
    raise BackendNotFoundError(f"There is no backend kind '{kind}'; kinds: {choices}.")
