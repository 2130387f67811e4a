"""Separation chains: a song into the stems a cover needs, step by step.

Three steps, in this order, each run by a separator backend from the registry:

=============  ==================  ==========================================
step           input               stems it gives
=============  ==================  ==========================================
``vocals``     the song            ``vocals``, ``instrumental``
``karaoke``    the vocals          ``main`` (the lead voice), ``backup``
``dereverb``   the main vocals     ``dry`` (the lead without its reverb), ``reverb``
=============  ==================  ==========================================

The voice that is converted, ``lead``, is the last of ``dry``, ``main`` and ``vocals``
the chain produced. Any step can be skipped: without ``vocals`` the song itself is the
vocals (an a cappella), without ``karaoke`` the vocals are the main vocals.

Chains come as named presets that list each step's separator, model and settings
(:data:`PRESETS`); ``urvc separate --list-presets`` prints them. The UVR models need the
``urvc-separator-mdx`` plugin; the built-in ``dsp-center`` separator needs no weights
and does the vocals step only, so the ``center`` preset runs on any machine, offline.
The default, ``auto``, is ``lead-clean`` (Ultimate RVC's three steps) where the mdx
plugin is installed and urvc may download (or the models are on disk), else ``center``.

Every step is cached by its input's content hash, separator, plugin version and
settings (:mod:`urvc_core.cache`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from urvc_core.backends import Audio
from urvc_core.errors import InvalidSettingError, UrvcError

if TYPE_CHECKING:
    from urvc_core.cache import CacheEntry, StepCache

__all__ = [
    "AUTO_PRESET",
    "PRESETS",
    "STEP_NAMES",
    "SeparationPreset",
    "SeparationRun",
    "SeparationStep",
    "StemRef",
    "backend_version",
    "list_presets",
    "parse_step_spec",
    "plan_separation",
    "run_separation",
    "separate_song",
]

STEP_NAMES: tuple[str, ...] = ("vocals", "karaoke", "dereverb")
AUTO_PRESET = "auto"
MDX_PLUGIN = "urvc-separator-mdx"
#: The separators the mdx plugin provides, so an error can name the plugin to install.
MDX_SEPARATORS = frozenset({"mdx", "mdxc", "vr", "demucs"})

#: The stems each step gives, and the backend stem names each is taken from, in order of
#: preference: the mdx plugin names a karaoke model's stems Main/Backup and a de-reverb
#: model's No Reverb/Reverb; any separator's Vocals/Instrumental stand in for them.
_STEP_STEMS: dict[str, tuple[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]]]] = {
    "vocals": (("vocals", ("Vocals",)), ("instrumental", ("Instrumental",))),
    "karaoke": (("main", ("Main", "Vocals")), ("backup", ("Backup", "Instrumental"))),
    "dereverb": (
        ("dry", ("No Reverb", "No Echo", "Vocals")),
        ("reverb", ("Reverb", "Echo", "Instrumental")),
    ),
}


@dataclass(frozen=True)
class SeparationStep:
    """One step of a chain: which step, the separator backend, and its settings."""

    step: str
    separator: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def spec(self) -> str:
        """``vocals=mdx:model=UVR-MDX-NET-Voc_FT.onnx``, as ``--separator-step`` takes it."""
        values = ",".join(f"{k}={v}" for k, v in self.settings.items())
        return f"{self.step}={self.separator}" + (f":{values}" if values else "")

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "separator": self.separator, "settings": dict(self.settings)}


@dataclass(frozen=True)
class SeparationPreset:
    name: str
    description: str
    steps: tuple[SeparationStep, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "steps": [step.as_dict() for step in self.steps],
        }


_VOCALS_MDX = SeparationStep("vocals", "mdx", {"model": "UVR-MDX-NET-Voc_FT.onnx"})
_KARAOKE_MDX = SeparationStep("karaoke", "mdx", {"model": "UVR_MDXNET_KARA_2.onnx"})
_DEREVERB_MDX = SeparationStep("dereverb", "mdx", {"model": "Reverb_HQ_By_FoxJoy.onnx"})

#: The named chains. The models are those Ultimate RVC uses for the same steps.
PRESETS: dict[str, SeparationPreset] = {
    preset.name: preset
    for preset in (
        SeparationPreset(
            "center",
            "Built-in DSP centre-channel extraction: vocals/instrumental, no weights, offline",
            (SeparationStep("vocals", "dsp-center", {}),),
        ),
        SeparationPreset("vocals", "Vocals/instrumental with UVR-MDX-NET Voc FT", (_VOCALS_MDX,)),
        SeparationPreset(
            "karaoke",
            "Vocals/instrumental, then main/backup vocals (UVR MDX-NET Karaoke 2)",
            (_VOCALS_MDX, _KARAOKE_MDX),
        ),
        SeparationPreset(
            "dereverb",
            "Vocals/instrumental, then the vocals' reverb removed (Reverb HQ by FoxJoy)",
            (_VOCALS_MDX, SeparationStep("dereverb", "mdx", dict(_DEREVERB_MDX.settings))),
        ),
        SeparationPreset(
            "lead-clean",
            "Vocals/instrumental, main/backup, then the main vocals' reverb removed "
            "(Ultimate RVC's three steps)",
            (_VOCALS_MDX, _KARAOKE_MDX, _DEREVERB_MDX),
        ),
    )
}


def list_presets() -> list[SeparationPreset]:
    return list(PRESETS.values())


def resolve_auto_preset() -> tuple[str, str]:
    """The preset ``auto`` stands for here, and why."""
    from urvc_core.registry import backend_registry

    if "mdx" not in backend_registry().names("separator"):
        return "center", f"the {MDX_PLUGIN} plugin is not installed"
    from urvc_core.catalogue import asset_store
    from urvc_core.plugins import plugin_host

    store = asset_store()
    declared = plugin_host().assets
    models = [str(step.settings["model"]) for step in PRESETS["lead-clean"].steps]
    present = all(name in declared and store.is_present(declared[name][0]) for name in models)
    if store.offline and not present:
        return "center", "urvc is offline and the UVR models are not on disk"
    return "lead-clean", f"the {MDX_PLUGIN} plugin is installed"


def parse_step_spec(spec: str) -> SeparationStep:
    """``karaoke=mdx:model=UVR_MDXNET_KARA_2.onnx,overlap=0.5`` -> a SeparationStep."""
    step, equals, rest = spec.partition("=")
    step = step.strip()
    if not equals or step not in STEP_NAMES or not rest.strip():
        raise UrvcError(
            f"Malformed separation step {spec!r}: write STEP=SEPARATOR[:SETTING=VALUE,...] "
            f"with STEP one of {', '.join(STEP_NAMES)} "
            f"(e.g. karaoke=mdx:model=UVR_MDXNET_KARA_2.onnx)."
        )
    separator, _, values = rest.partition(":")
    settings: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in values.split(","))):
        key, equals, value = pair.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise UrvcError(
                f"Malformed setting {pair!r} in separation step {spec!r}: write SETTING=VALUE."
            )
        settings[key.strip().replace("-", "_")] = value.strip()
    return SeparationStep(step, separator.strip(), settings)


def plan_separation(
    preset: str | None = None,
    steps: Sequence[SeparationStep | str] = (),
    skip: Collection[str] = (),
) -> tuple[list[SeparationStep], list[str]]:
    """The checked chain for a preset, per-step overrides and skipped steps, and notes.

    Every separator is looked up and its settings checked (nothing is loaded), so a
    missing plugin or a bad setting fails before any work.

    Raises:
        UrvcError: an unknown preset or step, a separator nobody installed (naming the
            plugin that provides it), a bad setting.
    """
    notes: list[str] = []
    name = preset or AUTO_PRESET
    if name == AUTO_PRESET:
        name, why = resolve_auto_preset()
        notes.append(f"Separation preset: {name} ({why}).")
    if name not in PRESETS:
        raise UrvcError(
            f"There is no separation preset named '{name}'; presets: "
            f"{', '.join([AUTO_PRESET, *PRESETS])}."
        )
    for skipped in skip:
        if skipped not in STEP_NAMES:
            raise UrvcError(
                f"There is no separation step '{skipped}' to skip; steps: {', '.join(STEP_NAMES)}."
            )
    chosen = {step.step: step for step in PRESETS[name].steps}
    for given in steps:
        step = parse_step_spec(given) if isinstance(given, str) else given
        if step.step not in STEP_NAMES:
            raise UrvcError(
                f"There is no separation step '{step.step}'; steps: {', '.join(STEP_NAMES)}."
            )
        chosen[step.step] = step
    plan = [chosen[s] for s in STEP_NAMES if s in chosen and s not in skip]
    return [_checked(step) for step in plan], notes


def _checked(step: SeparationStep) -> SeparationStep:
    from urvc_core.errors import BackendNotFoundError
    from urvc_core.registry import backend_registry

    registry = backend_registry()
    if step.separator in MDX_SEPARATORS and step.separator not in registry.names("separator"):
        raise UrvcError(
            f"The {step.step} step needs the separator '{step.separator}', which the "
            f"{MDX_PLUGIN} plugin provides: install urvc-separator-mdx "
            f"(`urvc install urvc-separator-mdx`), or use the built-in separator with "
            f"--separation center (vocals/instrumental only, no weights)."
        )
    try:
        info = registry.info("separator", step.separator)
    except BackendNotFoundError as exc:
        raise UrvcError(f"The {step.step} step: {exc}") from exc
    given = {str(k).replace("-", "_"): v for k, v in step.settings.items()}
    try:
        checked = info.backend_class.check_settings(given)
    except InvalidSettingError as exc:
        raise InvalidSettingError(f"The {step.step} step: {exc}") from exc
    # Every setting, defaults included, so the cache key doesn't depend on spelling.
    return SeparationStep(step.step, step.separator, checked)


def backend_version(kind: str, name: str) -> tuple[str, str]:
    """The plugin that provides a backend and its version (urvc's for built-ins)."""
    from urvc_core.plugins import plugin_host
    from urvc_core.registry import backend_registry
    from urvc_core.version import __version__

    plugin = backend_registry().info(kind, name).plugin
    record = plugin_host().records.get(plugin)
    version = record.version if record is not None and record.version else __version__
    return plugin, version


# -- running --------------------------------------------------------------------------


@dataclass
class StemRef:
    """A stem known by its content hash, read from its cached file only when needed."""

    digest: str
    path: Path | None = None
    #: Length in seconds, where known without reading the samples.
    seconds: float = 0.0
    _audio: Audio | None = field(default=None, repr=False)
    _loader: Callable[[], Audio] | None = field(default=None, repr=False)

    @classmethod
    def of_audio(cls, audio: Audio, digest: str | None = None) -> StemRef:
        from urvc_core.cache import audio_digest

        return cls(digest or audio_digest(audio), None, audio.duration, audio)

    @classmethod
    def of_file(cls, digest: str, path: Path, load: Callable[[], Audio]) -> StemRef:
        """A stem in a file, read by ``load`` when first needed."""
        return cls(digest, path, 0.0, None, load)

    @classmethod
    def of_entry(cls, entry: CacheEntry, name: str) -> StemRef:
        """Output ``name`` of a cache entry."""
        output = entry.outputs[name]
        frames, rate = output.get("frames"), output.get("sample_rate")
        seconds = float(frames) / float(rate) if frames and rate else 0.0
        return cls(entry.digest(name), entry.path(name), seconds, None, lambda: entry.audio(name))

    def load(self) -> Audio:
        if self._audio is None:
            if self._loader is None:
                raise UrvcError("Internal error: a stem with neither audio nor a file.")
            self._audio = self._loader()
        return self._audio

    def release(self) -> None:
        """Forget the samples (they can be read again from the cache)."""
        if self._loader is not None:
            self._audio = None


@dataclass
class StepReport:
    """How one step of a pipeline went: for ``--json`` and the progress display."""

    name: str
    backend: str
    seconds: float
    cached: bool
    key: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.backend,
            "seconds": round(self.seconds, 4),
            "cached": self.cached,
            "key": self.key,
            "outputs": self.outputs,
            "notes": self.notes,
        }


@dataclass
class SeparationRun:
    """The stems of a chain (``vocals``, ``instrumental``, ``main``, ``backup``, ``dry``,
    ``reverb``, and ``lead``: the voice to convert) and a report per step."""

    stems: dict[str, StemRef]
    steps: list[StepReport]
    notes: list[str] = field(default_factory=list)


def run_separation(
    song: StemRef,
    plan: Sequence[SeparationStep],
    *,
    cache: StepCache | None = None,
    refresh: bool = False,
    on_step: Callable[[str], None] | None = None,
    on_done: Callable[[StepReport], None] | None = None,
) -> SeparationRun:
    """Run a checked chain (:func:`plan_separation`) on ``song``, each step cached.

    ``on_step`` is called with each step's name as it starts, ``on_done`` with its
    report when it ends.
    """
    from urvc_core.cache import StepCache, StepResult, step_key
    from urvc_core.registry import get_backend

    step_cache = cache if cache is not None else StepCache()
    # Without a vocals step the song itself is the vocals (an a cappella).
    stems: dict[str, StemRef] = {"vocals": song}
    reports: list[StepReport] = []
    for step in plan:
        if step.step == "vocals":
            source = song
        elif step.step == "karaoke":
            source = stems["vocals"]
        else:
            source = stems.get("main", stems["vocals"])
        if on_step is not None:
            on_step(f"separate.{step.step}")
        plugin, version = backend_version("separator", step.separator)
        parameters = {"settings": dict(step.settings)}
        inputs = {"audio": source.digest}
        key = step_key(
            f"separate.{step.step}", step.separator, f"{plugin} {version}", parameters, inputs
        )
        (first, first_names), (second, second_names) = _STEP_STEMS[step.step]

        def compute(
            staging: Path,
            step: SeparationStep = step,
            source: StemRef = source,
            first: str = first,
            second: str = second,
            first_names: tuple[str, ...] = first_names,
            second_names: tuple[str, ...] = second_names,
        ) -> StepResult:
            separator = get_backend("separator", step.separator, **step.settings)
            produced = separator.separate(source.load())  # type: ignore[attr-defined]
            return StepResult(
                audio={
                    first: _pick_stem(produced, first_names, step),
                    second: _pick_stem(produced, second_names, step),
                }
            )

        started = time.perf_counter()
        entry, hit = step_cache.get_or_compute(
            key,
            compute,
            step=f"separate.{step.step}",
            backend=step.separator,
            version=f"{plugin} {version}",
            parameters=parameters,
            inputs=inputs,
            refresh=refresh,
        )
        for role in (first, second):
            stems[role] = StemRef.of_entry(entry, role)
        report = StepReport(
            name=f"separate.{step.step}",
            backend=step.separator,
            seconds=time.perf_counter() - started,
            cached=hit,
            key=key,
            outputs={role: str(entry.path(role)) for role in (first, second)},
        )
        reports.append(report)
        if on_done is not None:
            on_done(report)
    if "main" not in stems:
        stems["main"] = stems["vocals"]
    stems["lead"] = stems.get("dry") or stems["main"]
    return SeparationRun(stems=stems, steps=reports)


def _pick_stem(
    produced: Mapping[str, Audio], names: tuple[str, ...], step: SeparationStep
) -> Audio:
    for name in names:
        if name in produced:
            return produced[name]
    raise UrvcError(
        f"The {step.step} step's separator '{step.separator}' "
        f"({', '.join(f'{k}={v}' for k, v in step.settings.items()) or 'default settings'}) "
        f"gave the stems {', '.join(produced) or 'none'}, not {' or '.join(names)}; choose "
        f"a model made for this step."
    )


def separate_song(
    song: Audio | str | Path,
    preset: str | None = None,
    *,
    steps: Sequence[SeparationStep | str] = (),
    skip: Collection[str] = (),
    cache: StepCache | None = None,
    refresh: bool = False,
) -> dict[str, Audio]:
    """Separate a song (a file or :class:`Audio`) with a preset, step overrides and skips.

    Returns the stems by role: ``vocals`` and ``instrumental`` (the vocals step), ``main``
    and ``backup`` (karaoke), ``dry`` and ``reverb`` (de-reverb), and ``lead``, the voice
    a cover converts. Each step is cached (:mod:`urvc_core.cache`).
    """
    from urvc_core.audio import load_audio
    from urvc_core.cache import file_digest

    plan, _ = plan_separation(preset, steps, skip)
    if isinstance(song, Audio):
        ref = StemRef.of_audio(song)
    else:
        path = Path(song)
        audio = load_audio(path)
        ref = StemRef(file_digest(path), path, audio.duration, audio)
    run = run_separation(ref, plan, cache=cache, refresh=refresh)
    return {role: stem.load() for role, stem in run.stems.items()}


#: How each stem is named in the files ``urvc separate`` writes.
STEM_TITLES: dict[str, str] = {
    "vocals": "Vocals",
    "instrumental": "Instrumental",
    "main": "Main Vocals",
    "backup": "Backup Vocals",
    "dry": "Main Vocals (No Reverb)",
    "reverb": "Reverb",
}


@dataclass
class SeparatedSong:
    """What :func:`separate_files` wrote for one song."""

    source: Any
    files: dict[str, Path]
    steps: list[StepReport]
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.as_dict(),
            "files": {role: str(path) for role, path in self.files.items()},
            "steps": [step.as_dict() for step in self.steps],
            "notes": self.notes,
        }


def separate_files(
    sources: Sequence[str | Path],
    *,
    output_dir: str | Path | None = None,
    preset: str | None = None,
    steps: Sequence[SeparationStep | str] = (),
    skip: Collection[str] = (),
    output_format: str = "wav",
    cookies: str | Path | None = None,
    refresh: bool = False,
    cache: StepCache | None = None,
) -> list[SeparatedSong]:
    """Separate songs (files, folders, URLs) and write each stem as ``<song> (<Stem>).<ext>``.

    What ``urvc separate`` does; the steps are cached like a cover's, so a cover of the
    same song afterwards starts from them (and the other way round).
    """
    from urvc_core.audio import load_audio, save_audio, write_format_for
    from urvc_core.home import urvc_home
    from urvc_core.sources import resolve_sources

    fmt = write_format_for(Path("stem"), output_format)
    plan, notes = plan_separation(preset, steps, skip)
    if not plan:
        raise UrvcError("Every separation step is skipped: there is nothing to do.")
    folder = Path(output_dir) if output_dir is not None else urvc_home().outputs
    found = resolve_sources(list(sources), cookies=cookies)
    results: list[SeparatedSong] = []
    for source in found:
        song = StemRef.of_file(
            source.sha256, source.path, functools.partial(load_audio, source.path)
        )
        run = run_separation(song, plan, cache=cache, refresh=refresh)
        produced = [role for report in run.steps for role in report.outputs]
        files: dict[str, Path] = {}
        for role in produced:
            destination = folder / f"{source.name} ({STEM_TITLES.get(role, role)}).{fmt}"
            files[role] = save_audio(run.stems[role].load(), destination)
            run.stems[role].release()
        results.append(SeparatedSong(source, files, run.steps, list(notes)))
    return results
