"""A conversion request, resolved once: which voice, embedder and pitch extractors, with
what settings.

What a user asks for is loose: a voice by library name, path or URL; the embedder
``auto`` (the one the voice was trained with); the f0 method ``auto`` (rmvpe where its
plugin is installed, else fcpe); settings partly given, the rest from config.toml's
``[convert]`` table and the table's defaults. :func:`resolve_conversion` turns that into
a :class:`ConversionRequest`, a plain value that names everything: the voice's files and
their content hashes, the embedder, the f0 methods and the backends' plugin versions,
and every setting.

Everything downstream takes that value: :class:`~urvc_core.rvc.conversion.VoiceConverter`
loads what it names and converts with its settings and f0 methods, and the cover
pipeline's cache key is :meth:`ConversionRequest.cache_parameters`. So the key always
describes what the conversion did: nothing re-decides ``auto`` along the way.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from urvc_core.errors import UrvcError
from urvc_core.rvc.settings import ConversionSettings

__all__ = [
    "AUTO_F0_PREFERENCE",
    "ConversionRequest",
    "ResolvedEmbedder",
    "ResolvedVoice",
    "resolve_conversion",
    "resolve_f0_methods",
]

#: What f0 method ``auto`` means: the first of these that is installed.
AUTO_F0_PREFERENCE: tuple[str, ...] = ("rmvpe", "fcpe")
#: The embedder of a voice model that records none (every model before Applio's).
DEFAULT_EMBEDDER = "contentvec"


@dataclass(frozen=True)
class ResolvedVoice:
    """A voice model's files, identified by content."""

    #: How the converter finds it again: the library name, or the ``.pth`` path.
    reference: str
    name: str
    model_path: Path
    index_path: Path | None
    model_sha256: str
    index_sha256: str | None
    #: The embedder the model was trained with (its metadata), or ``contentvec``.
    trained_with: str


@dataclass(frozen=True)
class ResolvedEmbedder:
    """The content embedder: a registered backend by name, or a model given by path."""

    name: str
    path: Path | None
    #: What identifies it for the cache: the backend's plugin and version, or the
    #: path's files (names, sizes, modification times).
    identity: Mapping[str, Any]


@dataclass(frozen=True)
class ConversionRequest:
    """Everything one conversion will use, decided; see the module's docstring."""

    voice: ResolvedVoice
    embedder: ResolvedEmbedder
    #: The pitch extractors, in the order they are combined; empty when an f0 file
    #: alone gives the pitch, or the voice has no pitch guidance.
    f0_methods: tuple[str, ...]
    #: Each f0 method's plugin and version.
    f0_backends: Mapping[str, str]
    settings: ConversionSettings
    f0_file_sha256: str | None = None
    #: What ``auto`` chose, for the user ("f0 method: fcpe (auto: ...)").
    notes: tuple[str, ...] = ()

    def with_settings(self, **changes: Any) -> ConversionRequest:
        """The same request with some settings changed (and f0 methods re-resolved)."""
        settings = ConversionSettings.resolve(changes, self.settings.as_dict())
        methods, notes = resolve_f0_methods(settings)
        return replace(
            self,
            settings=settings,
            f0_methods=tuple(methods),
            f0_backends=_f0_backends(methods),
            notes=tuple(notes),
        )

    def cache_parameters(self) -> dict[str, Any]:
        """What the conversion step's cache key is made of: every setting, and the
        voice, index, embedder, f0 backends and f0 file by content, not by location."""
        return {
            "settings": {
                **self.settings.as_dict(),
                "f0_file": None,
                "f0_method": None,
                "embedder": self.embedder.name if self.embedder.path is None else None,
            },
            "model_sha256": self.voice.model_sha256,
            "index_sha256": self.voice.index_sha256,
            "embedder": dict(self.embedder.identity),
            "f0_methods": list(self.f0_methods),
            "f0_backends": dict(self.f0_backends),
            "f0_file_sha256": self.f0_file_sha256,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "voice": self.voice.name,
            "model_path": str(self.voice.model_path),
            "index_path": str(self.voice.index_path) if self.voice.index_path else None,
            "embedder": self.embedder.name,
            "f0_methods": list(self.f0_methods),
            "settings": self.settings.as_dict(),
            "notes": list(self.notes),
        }


def resolve_f0_methods(settings: ConversionSettings) -> tuple[list[str], list[str]]:
    """The pitch extractors ``settings`` ask for, and a note where ``auto`` chose.

    ``auto`` is the first of :data:`AUTO_F0_PREFERENCE` that is installed; with an f0
    file and ``auto``, the file alone gives the pitch (no extractor). Each name is
    checked against the registry, so a typo fails before any work.
    """
    from urvc_core.plugin_directory import providing_plugin
    from urvc_core.registry import backend_registry

    registry = backend_registry()
    names = registry.names("f0")
    if settings.f0_method == "auto":
        if settings.f0_file:
            return [], []
        for method in AUTO_F0_PREFERENCE:
            if method in names:
                skipped = AUTO_F0_PREFERENCE[: AUTO_F0_PREFERENCE.index(method)]
                if not skipped:
                    return [method], []
                plugins = [
                    f"{plugin} gives {name}"
                    for name in skipped
                    if (plugin := providing_plugin("f0", name)) is not None
                ]
                why = f"{', '.join(skipped)} not installed" + (
                    f"; {', '.join(plugins)}" if plugins else ""
                )
                return [method], [f"f0 method: {method} (auto: {why})."]
        raise UrvcError(
            f"f0 method auto needs one of {', '.join(AUTO_F0_PREFERENCE)}, and none is "
            f"installed; name an installed one with --f0-method ({', '.join(names)})."
        )
    methods = [name.strip() for name in settings.f0_method.split(",") if name.strip()]
    for method in methods:
        registry.info("f0", method)  # an unknown name lists the installed ones
    return methods, []


def _f0_backends(methods: Sequence[str]) -> dict[str, str]:
    from urvc_core.plugins import backend_version

    backends = {}
    for method in methods:
        plugin, version = backend_version("f0", method)
        backends[method] = f"{plugin} {version}"
    return backends


def resolve_voice(model: str | Path) -> ResolvedVoice:
    """A voice model by library name, ``.pth`` path, or URL (downloaded into the
    library on first use), with its files' content hashes."""
    from urvc_core.cache import file_digest
    from urvc_core.sources import is_url
    from urvc_core.voices import download_voice_model, list_voice_models, resolve_voice_model

    if is_url(model):
        known = [entry for entry in list_voice_models() if entry.source == str(model)]
        entry = known[0] if known else download_voice_model(str(model), progress=False)
    else:
        entry = resolve_voice_model(model)
    return ResolvedVoice(
        reference=str(entry.name) if entry.in_library else str(entry.model_path),
        name=str(entry.name),
        model_path=entry.model_path,
        index_path=entry.index_path,
        model_sha256=file_digest(entry.model_path),
        index_sha256=file_digest(entry.index_path) if entry.index_path else None,
        trained_with=entry.info.embedder or DEFAULT_EMBEDDER,
    )


def _looks_like_a_path(text: str) -> bool:
    """Whether ``text`` was meant as a path: no embedder name has a separator in it or
    starts with ``.`` or ``~``."""
    separators = {"/", os.sep, os.altsep or "/"}
    return text.startswith((".", "~")) or any(separator in text for separator in separators)


def resolve_embedder(requested: str, trained_with: str) -> ResolvedEmbedder:
    """The embedder ``requested`` names: a path, a registered name, or for ``auto`` the
    one the voice was trained with."""
    from urvc_core.plugins import backend_version
    from urvc_core.registry import backend_registry

    if requested not in ("auto", "") and Path(requested).expanduser().exists():
        path = Path(requested).expanduser()
        return ResolvedEmbedder(str(requested), path, {"path": _fingerprint(path)})
    name = requested if requested not in ("auto", "") else trained_with
    registry = backend_registry()
    if _looks_like_a_path(requested):
        raise UrvcError(
            f"The embedder path {requested} does not exist; check the path, or give an "
            f"embedder name: {', '.join(registry.names('embedder'))}."
        )
    if name not in registry.names("embedder"):
        if requested in ("auto", ""):
            raise UrvcError(
                f"The voice model was trained with the embedder '{name}', which urvc doesn't "
                f"know; pass --embedder with one of {', '.join(registry.names('embedder'))} "
                f"or a path to the model."
            )
        registry.info("embedder", name)  # the registry's message lists the installed ones
    plugin, version = backend_version("embedder", name)
    return ResolvedEmbedder(name, None, {"name": name, "plugin": f"{plugin} {version}"})


def resolve_conversion(
    model: str | Path,
    settings: Mapping[str, Any] | ConversionSettings | None = None,
    *,
    defaults: Mapping[str, Any] | None = None,
) -> ConversionRequest:
    """Resolve a voice and conversion settings into a :class:`ConversionRequest`.

    ``settings`` are given settings (``None`` values mean "not given") or already
    checked :class:`ConversionSettings`; the rest come from ``defaults`` (by default,
    config.toml's ``[convert]`` table) and then the settings table.

    Raises:
        UrvcError: an unknown voice, embedder or f0 method, a bad setting.
    """
    from urvc_core.cache import file_digest

    if isinstance(settings, ConversionSettings):
        checked = settings
    else:
        if defaults is None:
            from urvc_core.home import load_config

            defaults = load_config().convert
        checked = ConversionSettings.resolve(dict(settings or {}), defaults)
    voice = resolve_voice(model)
    embedder = resolve_embedder(checked.embedder, voice.trained_with)
    methods, notes = resolve_f0_methods(checked)
    f0_file = Path(checked.f0_file).expanduser() if checked.f0_file else None
    return ConversionRequest(
        voice=voice,
        embedder=embedder,
        f0_methods=tuple(methods),
        f0_backends=_f0_backends(methods),
        settings=checked,
        f0_file_sha256=file_digest(f0_file) if f0_file is not None else None,
        notes=tuple(notes),
    )


def _fingerprint(path: Path) -> str:
    """What identifies a model given by path without reading all of it: every file's
    relative name, size and modification time."""
    hasher = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        status = file.stat()
        relative = file.relative_to(path) if path.is_dir() else Path(file.name)
        hasher.update(f"{relative}:{status.st_size}:{status.st_mtime_ns}\n".encode())
    return hasher.hexdigest()
