"""Finding, loading and asking plugins.

Plugins are Python packages that declare an entry point in the ``urvc`` group::

    [project.entry-points.urvc]
    my_plugin = "urvc_my_plugin"

The built-in backends in :mod:`urvc_core.builtin` are loaded the same way, minus the
entry point. Loading is forgiving, as in kedro: a plugin that fails to import, or whose
hooks are malformed or fail, is recorded in :attr:`PluginHost.failures` and the rest keep
working; the CLI warns about it on stderr and ``urvc plugins list`` shows the error.
Only two plugins claiming the same backend name stop start-up, naming both, because
silently picking one would make results depend on install order.

Environment variables, as in llm and datasette:

* ``URVC_LOAD_PLUGINS``: a comma-separated list of plugin distributions to load
  (``urvc-f0-rmvpe,urvc-effects-pedalboard``); set and empty loads none. Built-in
  backends always load. The way out when a broken plugin stops urvc from starting.
* ``URVC_TRACE_PLUGINS=1``: print every hook call and what it registered, on stderr.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from urvc_core import hookspecs
from urvc_core.assets import Asset
from urvc_core.backends import BackendKind
from urvc_core.builtin import BUILTIN_PLUGINS
from urvc_core.errors import PluginConflictError, PluginError
from urvc_core.presets import PresetRegistry
from urvc_core.registration import Registry

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME

#: The hook that fills the registry with each kind of backend.
REGISTER_HOOKS: dict[BackendKind, str] = {
    BackendKind.SEPARATOR: "register_separators",
    BackendKind.F0_EXTRACTOR: "register_f0_extractors",
    BackendKind.EMBEDDER: "register_embedders",
    BackendKind.TTS_ENGINE: "register_tts_engines",
    BackendKind.EFFECT: "register_effects",
    BackendKind.FUSION_METHOD: "register_fusion_methods",
}


@dataclass
class PluginRecord:
    """A plugin urvc found: loaded, or failed with the error it gave."""

    name: str
    version: str | None
    module: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "module": self.module,
            "builtin": self.builtin,
            "hooks": self.hooks,
            "error": self.error,
        }


def _trace(message: str) -> None:
    print(f"urvc trace: {message}", file=sys.stderr)


class PluginHost:
    """The plugin manager, the plugins it found, and the registry they filled."""

    def __init__(self, load_setting: str | None = None, *, trace: bool | None = None) -> None:
        self.trace = os.environ.get("URVC_TRACE_PLUGINS") == "1" if trace is None else trace
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        # Specs first, so that a hookimpl with a wrong argument name fails at register().
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.registry = Registry()
        self.assets: dict[str, tuple[Asset, str]] = {}
        self.presets = PresetRegistry()
        for module_name in BUILTIN_PLUGINS:
            self._load_module(module_name, module_name, version=None, builtin=True)
        if load_setting is None:
            load_setting = os.environ.get("URVC_LOAD_PLUGINS")
        self._load_entry_points(load_setting)
        for record in list(self.records.values()):
            if record.error is None:
                self._collect(record)

    # -- loading -----------------------------------------------------------------

    def _load_entry_points(self, load_setting: str | None) -> None:
        wanted: set[str] | None = None
        if load_setting is not None:
            wanted = {n.strip().lower() for n in load_setting.split(",") if n.strip()}
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            distribution = entry_point.dist.name if entry_point.dist else entry_point.name
            version = entry_point.dist.version if entry_point.dist else None
            if wanted is not None and distribution.lower() not in wanted:
                continue
            if distribution in self.records:
                continue  # one distribution listed twice on sys.path
            self._load_module(distribution, entry_point.value, version, builtin=False)

    def _load_module(self, name: str, target: str, version: str | None, builtin: bool) -> None:
        record = PluginRecord(name=name, version=version, module=target, builtin=builtin)
        self.records[name] = record
        try:
            module: Any = importlib.import_module(target.split(":")[0])
            if ":" in target:
                for attribute in target.split(":")[1].split("."):
                    module = getattr(module, attribute)
            unknown = [
                attr
                for attr in dir(module)
                if self._looks_like_hookimpl(module, attr) and not hasattr(hookspecs, attr)
            ]
            if unknown:
                raise PluginError(
                    f"implements unknown hook(s) {', '.join(unknown)}; "
                    f"see docs/hooks.md for the hook names"
                )
            self.pm.register(module, name=name)
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            if self.trace:
                _trace(f"plugin {name} failed to load: {record.error}")
            return
        record.hooks = sorted(impl.name for impl in self.pm.get_hookcallers(module) or [])
        if self.trace:
            _trace(f"loaded plugin {name} ({target}) with hooks {record.hooks}")

    @staticmethod
    def _looks_like_hookimpl(module: ModuleType | Any, attribute: str) -> bool:
        marker = f"{hookspecs.PROJECT_NAME}_impl"
        return hasattr(getattr(module, attribute, None), marker)

    def _collect(self, record: PluginRecord) -> None:
        """Ask one plugin for its backends and assets, keeping its failure to itself."""
        plugin = self.pm.get_plugin(record.name)
        if plugin is None:
            return
        try:
            for kind, hook_name in REGISTER_HOOKS.items():
                for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                    if impl.plugin is plugin:
                        if self.trace:
                            _trace(f"calling {hook_name} on {record.name}")
                        impl.function(
                            register=self._traced(
                                self.registry.register_callback(kind, record.name),
                                f"{record.name} registered {kind.label}",
                            )
                        )
            for impl in self.pm.hook.register_assets.get_hookimpls():
                if impl.plugin is plugin:
                    if self.trace:
                        _trace(f"calling register_assets on {record.name}")
                    impl.function(
                        register=self._traced(
                            lambda asset: self._add_asset(asset, record.name),
                            f"{record.name} registered asset",
                        )
                    )
            for impl in self.pm.hook.register_presets.get_hookimpls():
                if impl.plugin is plugin:
                    if self.trace:
                        _trace(f"calling register_presets on {record.name}")
                    impl.function(
                        register=self._traced(
                            self.presets.register_callback(record.name),
                            f"{record.name} registered preset",
                        )
                    )
        except PluginConflictError:
            raise  # a name clash stops start-up: results must not depend on install order
        except PluginError as exc:
            record.error = f"PluginError: {exc}"
        except Exception as exc:
            record.error = f"{type(exc).__name__} in its hooks: {exc}"
        if record.error is not None:
            self.pm.unregister(plugin)
            self.registry.remove_plugin(record.name)
            self.presets.remove_plugin(record.name)
            for asset_name in [n for n, (_, p) in self.assets.items() if p == record.name]:
                del self.assets[asset_name]

    def _traced(self, register: Any, what: str) -> Any:
        if not self.trace:
            return register

        def traced(item: Any) -> None:
            _trace(f"{what} {getattr(item, 'name', item)!r}")
            register(item)

        return traced

    def _add_asset(self, asset: Any, plugin: str) -> None:
        if not isinstance(asset, Asset):
            raise PluginError(f"Plugin {plugin} registered {asset!r}, which is not a urvc Asset.")
        existing = self.assets.get(asset.name)
        if existing is not None and existing[0] != asset:
            raise PluginConflictError(
                f"Two plugins register a different asset named '{asset.name}': "
                f"{existing[1]} and {plugin}. Uninstall one of them, or choose which to load "
                f"with URVC_LOAD_PLUGINS."
            )
        self.assets[asset.name] = (asset, plugin)

    # -- asking ----------------------------------------------------------------

    @property
    def failures(self) -> list[PluginRecord]:
        return [record for record in self.records.values() if record.error is not None]

    def plugins(self, include_builtin: bool = False) -> list[PluginRecord]:
        return [record for record in self.records.values() if include_builtin or not record.builtin]

    def add_commands(self, cli: Any) -> None:
        """Let plugins add CLI commands; a failing one is recorded, the CLI still starts."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            if self.trace:
                _trace(f"calling register_commands on {impl.plugin_name}")
            try:
                impl.function(cli=cli)
            except Exception as exc:
                record = self.records.get(impl.plugin_name)
                if record is not None:
                    record.error = f"{type(exc).__name__} in register_commands: {exc}"


_host: PluginHost | None = None


def plugin_host() -> PluginHost:
    """The plugins of this process, loaded on first use."""
    global _host
    if _host is None:
        _host = PluginHost()
    return _host


def backend_version(kind: str, name: str) -> tuple[str, str]:
    """The plugin that provides a backend, and its version (urvc's for built-ins): what
    a cached result names so that a new plugin version misses the cache."""
    from urvc_core.version import __version__

    host = plugin_host()
    plugin = host.registry.info(kind, name).plugin
    record = host.records.get(plugin)
    version = record.version if record is not None and record.version else __version__
    return plugin, version


def preset_registry() -> PresetRegistry:
    """The effect and separation presets the loaded plugins registered."""
    return plugin_host().presets


def reset_plugin_host() -> None:
    """Forget the loaded plugins, so the next use loads them again (for tests)."""
    global _host
    _host = None


def list_plugins(include_builtin: bool = False) -> list[PluginRecord]:
    """The plugins urvc found, with their hooks, versions and load errors.

    Built-in backend modules are left out unless ``include_builtin`` is true.
    """
    return plugin_host().plugins(include_builtin)
