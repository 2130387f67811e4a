"""Song covers: a song in, the same song sung by a voice model out.

:func:`make_cover` (``urvc cover SONG -m MODEL``) runs the steps Ultimate RVC users
know, each one also a library function and a command of its own:

1. **source**: a file, a folder (a batch) or a URL (:mod:`urvc_core.sources`);
2. **separate**: vocals/instrumental, main/backup vocals, de-reverb of the main vocals,
   as a named chain (:mod:`urvc_core.separation`, ``urvc separate``);
3. **convert** the lead vocals with the RVC engine (every setting of
   :data:`~urvc_core.rvc.settings.CONVERSION_SETTINGS`), and optionally the backup
   vocals, with the same or another voice model (``urvc convert``);
4. **effects** on the converted vocals: effect specs (``reverb:room_size=0.3``) and/or a
   preset, each effect run through the registry (``urvc effects apply``);
5. **pitch-shift** the instrumental and the backup vocals to follow the voice's shift:
   by default its key change with whole octaves left out (a +12 for a male-to-female
   cover leaves the band alone, +14 moves it +2), or all of it, or none, or a number
   of semitones of your own; two tracks are shifted in parallel worker processes
   (``urvc pitch-shift``);
6. **mix** the converted vocals, the instrumental and the backup vocals (converted or
   not) with a gain per track, at the original song's loudness, never clipping
   (:mod:`urvc_core.mixing`, ``urvc mix``), to mp3/wav/flac/ogg at the configured rate,
   named ``<song> (<voice> Ver).<ext>``. The reverb the de-reverb step took off the
   lead is left out, as in Ultimate RVC: the effects give the new voice its own.

Every step's result is cached by what produced it (:mod:`urvc_core.cache`): a second
run of the same cover calls no backend at all, a changed mix gain redoes only the mix,
a changed pitch redoes the conversion and what follows it. The finished file is
written whole or not at all.

Steps that need a plugin say which when it is missing (the UVR separators:
``urvc-separator-mdx``; effects and pitch shifting: ``urvc-effects-pedalboard``); steps
that need none (no effects, no shift, the built-in ``dsp-center`` separator) run without.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from urvc_core.backends import Audio
from urvc_core.errors import UrvcError

__all__ = [
    "DEFAULT_NAME_TEMPLATE",
    "FOLLOW_MODES",
    "CoverProgress",
    "CoverResult",
    "EffectStep",
    "apply_effects",
    "follow_shift",
    "make_cover",
    "make_covers",
    "parse_effect_spec",
    "plan_effects",
]

DEFAULT_NAME_TEMPLATE = "{song} ({voice} Ver)"
#: How the instrumental and backup vocals follow the voice's pitch shift.
FOLLOW_MODES: tuple[str, ...] = ("key", "full", "none")
EFFECTS_PLUGIN = "urvc-effects-pedalboard"
#: Two tracks to shift are shifted in worker processes once there is this much audio:
#: below it, starting the processes costs more than it saves.
_PARALLEL_SHIFT_MIN_SECONDS = 20.0
_TEMPLATE_FIELDS = ("song", "voice", "pitch", "preset", "ext")


class CoverProgress(Protocol):
    """What :func:`make_cover` reports while it works (the CLI draws bars from it)."""

    def plan(self, steps: int) -> None:
        """About how many steps the whole run has (every song's)."""

    def step(self, name: str) -> None:
        """A step starts."""

    def fraction(self, value: float) -> None:
        """The running step is ``value`` (0..1) done."""

    def step_done(self, report: Any) -> None:
        """A step finished (a :class:`~urvc_core.separation.StepReport`)."""


class _Silent:
    def plan(self, steps: int) -> None:
        pass

    def step(self, name: str) -> None:
        pass

    def fraction(self, value: float) -> None:
        pass

    def step_done(self, report: Any) -> None:
        pass


# -- effects ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectStep:
    """One effect of a chain: a registered effect's name and its settings (all of them,
    checked, defaults filled in)."""

    name: str
    settings: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "settings": dict(self.settings)}


def parse_effect_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"reverb:room_size=0.3,wet_level=0.2"`` -> ``("reverb", {"room_size": "0.3", ...})``."""
    name, colon, rest = spec.strip().partition(":")
    name = name.strip()
    if not name or (colon and not rest.strip()):
        raise UrvcError(
            f"Malformed effect spec {spec!r}: write NAME or NAME:SETTING=VALUE,SETTING=VALUE "
            f"(e.g. reverb:room_size=0.3,wet_level=0.2)."
        )
    settings: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        key, equals, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or not key or not value.strip():
            raise UrvcError(
                f"Malformed setting {pair!r} in effect spec {spec!r}: write SETTING=VALUE."
            )
        if key in settings:
            raise UrvcError(f"Effect spec {spec!r} sets {key} twice; keep one.")
        settings[key] = value.strip()
    return name, settings


def _preset_steps(preset: str) -> list[tuple[str, dict[str, Any]]]:
    """The effects of a preset. Presets live in the pedalboard plugin (the kernel has no
    hook for them yet), which is asked for the preset's steps only: the effects
    themselves run through the registry like any others."""
    from urvc_core.plugins import plugin_host

    record = plugin_host().records.get(EFFECTS_PLUGIN)
    if record is None or record.error is not None:
        raise UrvcError(
            f"Effect presets ('{preset}') come with the {EFFECTS_PLUGIN} plugin: install "
            f"{EFFECTS_PLUGIN}, or give effects one by one with --effect NAME:SETTING=VALUE."
        )
    from urvc_effects_pedalboard import find_preset

    chain = find_preset(preset).chain
    return [(step.name, dict(step.settings)) for step in chain.steps]


def plan_effects(specs: Sequence[str] = (), preset: str | None = None) -> list[EffectStep]:
    """A checked effects chain: the preset's effects, then ``specs``. Nothing is loaded.

    Raises:
        UrvcError: a malformed spec, an effect nobody installed (naming the pedalboard
            plugin), an unknown setting or a value out of range.
    """
    from urvc_core.errors import BackendNotFoundError
    from urvc_core.registry import backend_registry

    wanted: list[tuple[str, Mapping[str, Any]]] = []
    if preset:
        wanted.extend(_preset_steps(preset))
    wanted.extend(parse_effect_spec(spec) for spec in specs)
    registry = backend_registry()
    steps: list[EffectStep] = []
    for name, settings in wanted:
        try:
            info = registry.info("effect", name)
        except BackendNotFoundError as exc:
            if EFFECTS_PLUGIN not in _loaded_plugins():
                raise UrvcError(
                    f"There is no effect named '{name}': effects come with the "
                    f"{EFFECTS_PLUGIN} plugin; install {EFFECTS_PLUGIN}."
                ) from exc
            raise
        given = {str(k).replace("-", "_"): v for k, v in settings.items()}
        steps.append(EffectStep(name, info.backend_class.check_settings(given)))
    return steps


def apply_effects(audio: Audio, steps: Sequence[EffectStep]) -> Audio:
    """``audio`` through each effect in turn, every one created through the registry."""
    from urvc_core.registry import get_backend

    for step in steps:
        effect = get_backend("effect", step.name, **step.settings)
        audio = effect.apply(audio)  # type: ignore[attr-defined]
    return audio


def _loaded_plugins() -> set[str]:
    from urvc_core.plugins import plugin_host

    return {name for name, record in plugin_host().records.items() if record.error is None}


# -- pitch -------------------------------------------------------------------------------


def follow_shift(vocal_shift: float, mode: str) -> float:
    """The shift the instrumental takes when the voice is shifted by ``vocal_shift``.

    ``key``: the key change only, whole octaves left out, the nearest way (+12 -> 0,
    +14 -> +2, +7 -> -5: the same key a fourth down rather than a fifth up, so the
    band moves as little as possible); ``full``: all of it; ``none``: 0.
    """
    if mode == "none":
        return 0.0
    if mode == "full":
        return float(vocal_shift)
    if mode == "key":
        remainder = float(vocal_shift) - 12.0 * math.floor(float(vocal_shift) / 12.0 + 0.5)
        return 0.0 if abs(remainder) < 1e-9 else remainder
    raise UrvcError(f"follow_pitch must be one of {', '.join(FOLLOW_MODES)}, not {mode!r}.")


def _shift_in_worker(
    samples: np.ndarray, rate: int, semitones: float, formants: bool
) -> np.ndarray:
    """Shift one track in a worker process, through the registry's ``pitch-shift``."""
    from urvc_core.registry import get_backend

    effect = get_backend("effect", "pitch-shift", semitones=semitones, preserve_formants=formants)
    shifted: Audio = effect.apply(Audio(samples, rate))  # type: ignore[attr-defined]
    return shifted.samples


def _require_pitch_shift(semitones: float, what: str) -> None:
    from urvc_core.registry import backend_registry

    if semitones != 0 and "pitch-shift" not in backend_registry().names("effect"):
        raise UrvcError(
            f"Shifting the {what} by {semitones:+g} semitones needs the effect 'pitch-shift' "
            f"of the {EFFECTS_PLUGIN} plugin: install {EFFECTS_PLUGIN}, or leave the "
            f"{what} as it is with --follow-pitch none."
        )


# -- results -----------------------------------------------------------------------------


@dataclass
class CoverResult:
    """A finished cover: where it is, what made it, and how long each step took."""

    source: Any
    output: Path
    voice: str
    model_path: Path
    output_format: str
    sample_rate: int
    duration: float
    steps: list[Any]
    seconds: float
    separation: list[dict[str, Any]]
    pitch: dict[str, float]
    mix: dict[str, Any]
    intermediates: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def cache_hits(self) -> list[str]:
        """The steps served from the cache."""
        return [step.name for step in self.steps if step.cached]

    @property
    def computed(self) -> list[str]:
        """The steps that ran a backend."""
        return [step.name for step in self.steps if not step.cached and step.key is not None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "source": self.source.as_dict(),
            "voice": self.voice,
            "model_path": str(self.model_path),
            "format": self.output_format,
            "sample_rate": self.sample_rate,
            "duration": round(self.duration, 4),
            "seconds": round(self.seconds, 4),
            "timings": {step.name: round(step.seconds, 4) for step in self.steps},
            "cache_hits": self.cache_hits,
            "steps": [step.as_dict() for step in self.steps],
            "separation": self.separation,
            "pitch": self.pitch,
            "mix": self.mix,
            "intermediates": self.intermediates,
            "notes": self.notes,
        }


# -- the pipeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Voice:
    """A voice model, resolved once: what the conversion key needs to know about it."""

    given: str
    name: str
    model_path: Path
    embedder_name: str
    identity: dict[str, Any]


class _Pipeline:
    """Everything checked up front and the loaded models, shared by a batch."""

    def __init__(
        self,
        model: str | Path,
        *,
        cache: Any,
        progress: CoverProgress | None,
        separation: str | None,
        separation_steps: Sequence[Any],
        skip_steps: Sequence[str],
        conversion: Mapping[str, Any],
        convert_backup: bool,
        backup_model: str | Path | None,
        effects: Sequence[str],
        effects_preset: str | None,
        instrumental_pitch: float | None,
        follow_pitch: str,
        vocals_gain_db: float,
        instrumental_gain_db: float,
        backup_gain_db: float,
        match_loudness: bool,
        output_format: str | None,
        output_sample_rate: int | None,
        output: str | Path | None,
        name_template: str,
        keep_intermediates: bool,
        refresh: bool,
        single_song: bool,
    ) -> None:
        from urvc_core.audio import WRITE_FORMATS, write_format_for
        from urvc_core.cache import StepCache
        from urvc_core.home import load_config, urvc_home
        from urvc_core.rvc.settings import ConversionSettings
        from urvc_core.separation import plan_separation

        config = load_config()
        self.cache: StepCache = cache if cache is not None else StepCache()
        self.progress: CoverProgress = progress if progress is not None else _Silent()
        self.notes: list[str] = []
        if follow_pitch not in FOLLOW_MODES:
            raise UrvcError(
                f"follow_pitch must be one of {', '.join(FOLLOW_MODES)}, not {follow_pitch!r}."
            )
        self.follow_pitch = follow_pitch
        self.instrumental_pitch = instrumental_pitch
        if instrumental_pitch is not None:
            from urvc_core.rvc.settings import CONVERSION_SETTINGS

            pitch_setting = next(s for s in CONVERSION_SETTINGS if s.name == "pitch")
            pitch_setting.check(instrumental_pitch, "instrumental pitch")
        self.settings = ConversionSettings.resolve(dict(conversion), config.convert)
        self.plan, plan_notes = plan_separation(separation, separation_steps, skip_steps)
        self.notes.extend(plan_notes)
        self.preset = separation or "auto"
        if self.preset == "auto":
            from urvc_core.separation import resolve_auto_preset

            self.preset = resolve_auto_preset()[0]
        planned = {step.step for step in self.plan}
        if convert_backup and "karaoke" not in planned:
            raise UrvcError(
                "Converting the backup vocals needs the karaoke step, which splits the "
                "vocals into main and backup: use --separation karaoke or lead-clean, or "
                "leave out --convert-backup."
            )
        self.effects = plan_effects(effects, effects_preset)
        # Checked now, so a missing plugin fails before minutes of work. With auto pitch
        # the shift is known only after conversion; it is checked again then.
        backing = "vocals" in planned
        if instrumental_pitch is not None:
            if backing:
                _require_pitch_shift(instrumental_pitch, "instrumental")
        elif backing and self.settings.auto_pitch == "off":
            _require_pitch_shift(follow_shift(self.settings.pitch, follow_pitch), "instrumental")
        self.convert_backup = convert_backup
        self.gains = {
            "vocals": float(vocals_gain_db),
            "instrumental": float(instrumental_gain_db),
            "backup": float(backup_gain_db),
        }
        self.match_loudness = match_loudness
        self.refresh = refresh
        self.keep_intermediates = keep_intermediates

        # Where the cover goes: a file (one song, a name with an audio suffix) or a folder.
        self.output_file: Path | None = None
        self.output_dir = urvc_home().outputs
        if output is not None:
            output = Path(output).expanduser()
            if output.suffix.lower().lstrip(".") in WRITE_FORMATS and not output.is_dir():
                if not single_song:
                    raise UrvcError(
                        f"{output} names one file but several songs were given; give a "
                        f"folder for their covers."
                    )
                self.output_file = output
                if output_format is None:
                    output_format = output.suffix.lower().lstrip(".")
            else:
                self.output_dir = output
        self.output_format = write_format_for(
            Path("cover"), output_format or str(config["output_format"])
        )
        if self.output_file is not None:
            self.output_file = self.output_file.with_suffix(f".{self.output_format}")
        self.sample_rate = int(output_sample_rate or config["output_sample_rate"])
        from urvc_core.home import CONFIG_SETTINGS

        rate_setting = next(s for s in CONFIG_SETTINGS if s.name == "output_sample_rate")
        rate_setting.check(self.sample_rate, "output sample rate")
        self.name_template = name_template
        self._check_template()

        self.voice = self._voice(model, self.settings)
        self.backup_voice = (
            self._voice(backup_model, self.settings) if backup_model is not None else self.voice
        )
        self._converters: dict[Path, Any] = {}

    def planned_steps(self) -> int:
        """How many steps one song takes, as far as can be told before it runs."""
        planned = {step.step for step in self.plan}
        count = 1 + len(self.plan) + 1 + (1 if self.effects else 0) + 1 + 1
        if self.convert_backup:
            count += 1
        shift_known_zero = self.instrumental_pitch == 0 or (
            self.instrumental_pitch is None
            and self.settings.auto_pitch == "off"
            and follow_shift(self.settings.pitch, self.follow_pitch) == 0
        )
        if not shift_known_zero:
            count += ("vocals" in planned) + ("karaoke" in planned and not self.convert_backup)
        return count

    # -- checks and identities -----------------------------------------------------------

    def _check_template(self) -> None:
        try:
            self.name_template.format(song="s", voice="v", pitch="+0", preset="p", ext="mp3")
        except (KeyError, IndexError, ValueError) as exc:
            raise UrvcError(
                f"The name template {self.name_template!r} can't be filled ({exc}); use the "
                f"fields {', '.join('{' + f + '}' for f in _TEMPLATE_FIELDS)}."
            ) from None

    def _voice(self, model: str | Path, settings: Any) -> _Voice:
        from urvc_core.cache import file_digest
        from urvc_core.separation import backend_version

        entry = _resolve_model(model)
        requested = settings.embedder
        embedder: dict[str, Any]
        if requested not in ("auto", "") and Path(requested).expanduser().exists():
            embedder_name = str(requested)
            embedder = {"path": _fingerprint(Path(requested).expanduser())}
        else:
            embedder_name = (
                requested
                if requested not in ("auto", "")
                else (entry.info.embedder or "contentvec")
            )
            plugin, version = backend_version("embedder", embedder_name)
            embedder = {"name": embedder_name, "plugin": f"{plugin} {version}"}
        methods = _f0_methods(settings)
        f0_backends = {}
        for method in methods:
            plugin, version = backend_version("f0", method)
            f0_backends[method] = f"{plugin} {version}"
        identity = {
            "model_sha256": file_digest(entry.model_path),
            "index_sha256": file_digest(entry.index_path) if entry.index_path else None,
            "embedder": embedder,
            "f0_methods": methods,
            "f0_backends": f0_backends,
            "f0_file_sha256": file_digest(Path(settings.f0_file)) if settings.f0_file else None,
        }
        given = str(entry.name) if entry.in_library else str(model)
        return _Voice(given, str(entry.name), entry.model_path, embedder_name, identity)

    def _converter(self, voice: _Voice) -> Any:
        """The voice's converter, loaded on first need and kept for the batch."""
        from urvc_core.rvc.conversion import VoiceConverter

        if voice.model_path not in self._converters:
            self._converters[voice.model_path] = VoiceConverter(
                voice.given, embedder=self.settings.embedder, precision=self.settings.precision
            )
        return self._converters[voice.model_path]

    # -- steps ---------------------------------------------------------------------------

    def _run_step(
        self,
        name: str,
        backend: str,
        version: str,
        parameters: Mapping[str, Any],
        inputs: Mapping[str, str | None],
        compute: Callable[[Path], Any],
        reports: list[Any],
        keys: list[str],
    ) -> Any:
        from urvc_core.cache import step_key
        from urvc_core.separation import StepReport

        self.progress.step(name)
        key = step_key(name.split(":")[0], backend, version, parameters, inputs)
        started = time.perf_counter()
        entry, hit = self.cache.get_or_compute(
            key,
            compute,
            step=name.split(":")[0],
            backend=backend,
            version=version,
            parameters=parameters,
            inputs=inputs,
            refresh=self.refresh,
        )
        report = StepReport(
            name=name,
            backend=backend,
            seconds=time.perf_counter() - started,
            cached=hit,
            key=key,
            outputs={output: str(entry.path(output)) for output in entry.outputs},
        )
        reports.append(report)
        keys.append(key)
        self.progress.step_done(report)
        return entry

    def _convert(
        self, stem: Any, voice: _Voice, name: str, reports: list[Any], keys: list[str]
    ) -> Any:
        from urvc_core.cache import StepResult
        from urvc_core.version import __version__

        settings = self.settings

        def compute(staging: Path) -> StepResult:
            converter = self._converter(voice)
            result = converter.convert(stem.load(), settings, progress=self.progress.fraction)
            return StepResult(
                audio={"vocals": result.audio},
                extra={
                    "pitch_shift": result.pitch_shift,
                    "f0_methods": result.f0_methods,
                    "embedder": result.embedder,
                    "notes": result.notes,
                    "timings": result.timings,
                },
            )

        parameters = {
            "settings": {
                **settings.as_dict(),
                # Identified by content below, not by where they lie.
                "f0_file": None,
                "embedder": voice.embedder_name
                if "path" not in voice.identity["embedder"]
                else None,
            },
            **voice.identity,
        }
        return self._run_step(
            name,
            "rvc",
            f"urvc-core {__version__}",
            parameters,
            {"audio": stem.digest},
            compute,
            reports,
            keys,
        )

    def _apply_effects(self, stem: Any, reports: list[Any], keys: list[str]) -> Any:
        from urvc_core.cache import StepResult
        from urvc_core.separation import backend_version

        versions = []
        for step in self.effects:
            plugin, version = backend_version("effect", step.name)
            versions.append(f"{step.name}={plugin} {version}")

        def compute(staging: Path) -> StepResult:
            return StepResult(audio={"vocals": apply_effects(stem.load(), self.effects)})

        return self._run_step(
            "effects",
            ",".join(step.name for step in self.effects),
            "; ".join(versions),
            {"chain": [step.as_dict() for step in self.effects]},
            {"audio": stem.digest},
            compute,
            reports,
            keys,
        )

    def _shift(
        self,
        jobs: Sequence[tuple[str, Any, float, bool]],
        reports: list[Any],
        keys: list[str],
    ) -> dict[str, Any]:
        """Shift each (role, stem, semitones, preserve formants) job; returns stems by role."""
        from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

        from urvc_core.cache import StepResult
        from urvc_core.separation import backend_version

        results: dict[str, Any] = {}
        todo = [job for job in jobs if job[2] != 0]
        for role, stem, _, _ in jobs:
            results[role] = stem
        if not todo:
            return results
        for _, _, semitones, _ in todo:
            _require_pitch_shift(semitones, "instrumental")
        plugin, version = backend_version("effect", "pitch-shift")
        pool: ProcessPoolExecutor | None = None

        def compute_for(stem: Any, semitones: float, formants: bool) -> Callable[[Path], Any]:
            def compute(staging: Path) -> StepResult:
                audio = stem.load()
                if pool is not None:
                    future: Future[np.ndarray] = pool.submit(
                        _shift_in_worker, audio.samples, audio.sample_rate, semitones, formants
                    )
                    shifted = Audio(future.result(), audio.sample_rate)
                else:
                    shifted = Audio(
                        _shift_in_worker(audio.samples, audio.sample_rate, semitones, formants),
                        audio.sample_rate,
                    )
                return StepResult(audio={"audio": shifted})

            return compute

        def run(job: tuple[str, Any, float, bool]) -> tuple[str, Any]:
            role, stem, semitones, formants = job
            entry = self._run_step(
                f"pitch-shift:{role}",
                "pitch-shift",
                f"{plugin} {version}",
                {"semitones": semitones, "preserve_formants": formants},
                {"audio": stem.digest},
                compute_for(stem, semitones, formants),
                reports,
                keys,
            )
            return role, _ref(entry, "audio")

        misses = [job for job in todo if self._is_miss(job)]
        duration = sum(job[1].seconds for job in misses)
        if len(misses) >= 2 and duration >= _PARALLEL_SHIFT_MIN_SECONDS:
            import multiprocessing

            # spawn, not fork: this process holds torch's and BLAS's threads.
            pool = ProcessPoolExecutor(
                max_workers=len(misses), mp_context=multiprocessing.get_context("spawn")
            )
            try:
                with ThreadPoolExecutor(max_workers=len(todo)) as threads:
                    for role, ref in threads.map(run, todo):
                        results[role] = ref
            finally:
                pool.shutdown(cancel_futures=True)
        else:
            for job in todo:
                role, ref = run(job)
                results[role] = ref
        return results

    def _is_miss(self, job: tuple[str, Any, float, bool]) -> bool:
        from urvc_core.cache import step_key
        from urvc_core.separation import backend_version

        if self.refresh:
            return True
        plugin, version = backend_version("effect", "pitch-shift")
        key = step_key(
            "pitch-shift",
            "pitch-shift",
            f"{plugin} {version}",
            {"semitones": job[2], "preserve_formants": job[3]},
            {"audio": job[1].digest},
        )
        return self.cache.lookup(key) is None

    def _mix(
        self,
        song: Any,
        tracks: Mapping[str, Any],
        reports: list[Any],
        keys: list[str],
    ) -> Any:
        from urvc_core.cache import StepResult
        from urvc_core.mixing import DEFAULT_CEILING_DBTP, Track, mix_tracks
        from urvc_core.version import __version__

        rate = self.sample_rate
        fmt = self.output_format

        def compute(staging: Path) -> StepResult:
            original = song.load()
            length = round(original.num_samples * rate / original.sample_rate)
            mixed = mix_tracks(
                [Track(stem.load(), self.gains[role], role) for role, stem in tracks.items()],
                sample_rate=rate,
                channels=min(2, max(original.channels, 1)),
                length=length,
                match_loudness=original if self.match_loudness else None,
                ceiling_dbtp=DEFAULT_CEILING_DBTP,
                output=staging / f"cover.{fmt}",
            )
            assert mixed.path is not None
            return StepResult(files={"cover": mixed.path}, extra=mixed.as_dict())

        parameters = {
            "gains_db": {role: self.gains[role] for role in tracks},
            "match_loudness": self.match_loudness,
            "ceiling_dbtp": DEFAULT_CEILING_DBTP,
            "format": fmt,
            "sample_rate": rate,
        }
        inputs: dict[str, str | None] = {role: stem.digest for role, stem in tracks.items()}
        inputs["song"] = song.digest
        return self._run_step(
            "mix",
            "urvc-mix",
            f"urvc-core {__version__}",
            parameters,
            inputs,
            compute,
            reports,
            keys,
        )

    # -- one song ------------------------------------------------------------------------

    def cover(self, source: Any, source_report: Any) -> CoverResult:
        from urvc_core.audio import load_audio
        from urvc_core.separation import StemRef, run_separation

        started = time.perf_counter()
        reports: list[Any] = [source_report]
        keys: list[str] = []
        notes = list(self.notes)
        song = StemRef.of_file(source.sha256, source.path, lambda: load_audio(source.path))
        separated = run_separation(
            song,
            self.plan,
            cache=self.cache,
            refresh=self.refresh,
            on_step=self.progress.step,
            on_done=self.progress.step_done,
        )
        reports.extend(separated.steps)
        keys.extend(report.key for report in separated.steps if report.key)
        stems = separated.stems
        intermediates = {role: str(stem.path) for role, stem in stems.items() if stem.path}

        converted = self._convert(stems["lead"], self.voice, "convert", reports, keys)
        vocal_shift = float(converted.extra.get("pitch_shift", self.settings.pitch))
        notes.extend(str(n) for n in converted.extra.get("notes", []) or [])
        stems["lead"].release()
        vocals = _ref(converted, "vocals")
        intermediates["converted"] = str(converted.path("vocals"))

        if self.effects:
            processed = self._apply_effects(vocals, reports, keys)
            vocals.release()
            vocals = _ref(processed, "vocals")
            intermediates["effects"] = str(processed.path("vocals"))

        backup = stems.get("backup")
        backup_converted = False
        if backup is not None and self.convert_backup:
            converted_backup = self._convert(
                backup, self.backup_voice, "convert:backup", reports, keys
            )
            backup = _ref(converted_backup, "vocals")
            backup_converted = True
            intermediates["backup_converted"] = str(converted_backup.path("vocals"))

        shift = (
            float(self.instrumental_pitch)
            if self.instrumental_pitch is not None
            else follow_shift(vocal_shift, self.follow_pitch)
        )
        jobs: list[tuple[str, Any, float, bool]] = []
        if "instrumental" in stems:
            jobs.append(("instrumental", stems["instrumental"], shift, False))
        if backup is not None and not backup_converted:
            # A voice: its formants stay where they were, as they would in a real singer.
            jobs.append(("backup", backup, shift, True))
        shifted = self._shift(jobs, reports, keys)
        for role in ("instrumental", "backup"):
            if role in shifted and shifted[role] is not stems.get(role):
                intermediates[f"{role}_shifted"] = str(shifted[role].path)

        tracks = {"vocals": vocals, **shifted}
        mixed = self._mix(song, tracks, reports, keys)
        for stem in (*tracks.values(), song):
            stem.release()

        self.progress.step("save")
        save_started = time.perf_counter()
        destination = self._destination(source.name, vocal_shift)
        _copy_atomically(mixed.path("cover"), destination)
        from urvc_core.separation import StepReport

        save_report = StepReport("save", "none", time.perf_counter() - save_started, False)
        save_report.outputs = {"cover": str(destination)}
        reports.append(save_report)
        self.progress.step_done(save_report)

        if not self.keep_intermediates:
            for key in keys:
                self.cache.remove(key)
            intermediates = {}
        mix_facts = dict(mixed.extra)
        mix_facts.pop("path", None)
        return CoverResult(
            source=source,
            output=destination,
            voice=self.voice.name,
            model_path=self.voice.model_path,
            output_format=self.output_format,
            sample_rate=int(mix_facts.get("sample_rate") or self.sample_rate),
            duration=float(mix_facts.get("duration") or 0.0),
            steps=reports,
            seconds=time.perf_counter() - started + source_report.seconds,
            separation=[step.as_dict() for step in self.plan],
            pitch={"vocals": vocal_shift, "instrumental": shift if jobs else 0.0},
            mix=mix_facts,
            intermediates=intermediates,
            notes=notes,
        )

    def _destination(self, song: str, vocal_shift: float) -> Path:
        if self.output_file is not None:
            return self.output_file
        name = self.name_template.format(
            song=song,
            voice=self.voice.name,
            pitch=f"{vocal_shift:+g}",
            preset=self.preset,
            ext=self.output_format,
        )
        name = _safe_file_name(name)
        if "{ext}" not in self.name_template:
            name = f"{name}.{self.output_format}"
        return self.output_dir / name


def _ref(entry: Any, name: str) -> Any:
    from urvc_core.separation import StemRef

    return StemRef.of_entry(entry, name)


def _resolve_model(model: str | Path) -> Any:
    """A voice model by library name, path, or URL (downloaded into the library once)."""
    from urvc_core.sources import is_url
    from urvc_core.voices import download_voice_model, list_voice_models, resolve_voice_model

    if is_url(model):
        for entry in list_voice_models():
            if entry.source == str(model):
                return entry
        return download_voice_model(str(model), progress=False)
    return resolve_voice_model(model)


def _f0_methods(settings: Any) -> list[str]:
    """The pitch extractors a conversion will use, as the engine picks them."""
    from urvc_core.registry import backend_registry

    if settings.f0_file and settings.f0_method == "auto":
        return []
    if settings.f0_method == "auto":
        return ["rmvpe"] if "rmvpe" in backend_registry().names("f0") else ["fcpe"]
    return [name.strip() for name in str(settings.f0_method).split(",") if name.strip()]


def _fingerprint(path: Path) -> str:
    """What identifies a model given by path without reading all of it: every file's
    relative name, size and modification time."""
    import hashlib

    hasher = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        status = file.stat()
        relative = file.relative_to(path) if path.is_dir() else Path(file.name)
        hasher.update(f"{relative}:{status.st_size}:{status.st_mtime_ns}\n".encode())
    return hasher.hexdigest()


def _safe_file_name(name: str) -> str:
    cleaned = re.sub(r"[\x00-\x1f/\\:*?\"<>|]+", " ", name)
    cleaned = " ".join(cleaned.split()).strip(" .")
    return cleaned[:200] or "cover"


def _copy_atomically(source: Path, destination: Path) -> None:
    """Copy to a temporary file beside ``destination``, then rename it into place."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UrvcError(
            f"Can't create the folder {destination.parent}: {exc.strerror or exc}; choose a "
            f"folder you can write to."
        ) from exc
    if destination.is_dir():
        raise UrvcError(f"Can't write {destination}: it is a folder; name a file instead.")
    temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.tmp")
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, destination)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UrvcError(
            f"Can't write {destination}: {exc.strerror or exc}; check the folder and the "
            f"free disk space."
        ) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# -- public functions ----------------------------------------------------------------------


def make_covers(
    sources: Sequence[str | Path],
    model: str | Path,
    *,
    separation: str | None = None,
    separation_steps: Sequence[Any] = (),
    skip_steps: Sequence[str] = (),
    conversion: Mapping[str, Any] | None = None,
    convert_backup: bool = False,
    backup_model: str | Path | None = None,
    effects: Sequence[str] = (),
    effects_preset: str | None = None,
    instrumental_pitch: float | None = None,
    follow_pitch: str = "key",
    vocals_gain_db: float = 0.0,
    instrumental_gain_db: float = 0.0,
    backup_gain_db: float = 0.0,
    match_loudness: bool = True,
    output_format: str | None = None,
    output_sample_rate: int | None = None,
    output: str | Path | None = None,
    name_template: str = DEFAULT_NAME_TEMPLATE,
    keep_intermediates: bool = True,
    refresh: bool = False,
    cookies: str | Path | None = None,
    cache: Any = None,
    progress: CoverProgress | None = None,
    **conversion_settings: Any,
) -> list[CoverResult]:
    """Covers of several songs with one voice model, loaded once. See :func:`make_cover`."""
    from urvc_core.separation import StepReport
    from urvc_core.sources import resolve_sources

    # Every song is found first, so a typo in the third fails before the first is sung.
    started = time.perf_counter()
    found = resolve_sources([s for s in sources], cookies=cookies, progress=progress is not None)
    source_seconds = (time.perf_counter() - started) / max(1, len(found))
    _check_decodable(found)
    pipeline = _Pipeline(
        model,
        cache=cache,
        progress=progress,
        separation=separation,
        separation_steps=separation_steps,
        skip_steps=skip_steps,
        conversion={**(conversion or {}), **conversion_settings},
        convert_backup=convert_backup,
        backup_model=backup_model,
        effects=effects,
        effects_preset=effects_preset,
        instrumental_pitch=instrumental_pitch,
        follow_pitch=follow_pitch,
        vocals_gain_db=vocals_gain_db,
        instrumental_gain_db=instrumental_gain_db,
        backup_gain_db=backup_gain_db,
        match_loudness=match_loudness,
        output_format=output_format,
        output_sample_rate=output_sample_rate,
        output=output,
        name_template=name_template,
        keep_intermediates=keep_intermediates,
        refresh=refresh,
        single_song=len(found) == 1,
    )
    if progress is not None:
        progress.plan(len(found) * pipeline.planned_steps())
    results = []
    for source in found:
        backend = {"file": "file", "link": "asset-store", "page": "yt-dlp"}[source.kind]
        report = StepReport("source", backend, source_seconds, source.cached, source.cache_key)
        if progress is not None:
            progress.step(f"source {source.name}")
            progress.step_done(report)
        results.append(pipeline.cover(source, report))
    return results


def make_cover(source: str | Path, model: str | Path, **options: Any) -> CoverResult:
    """A cover of one song (a file or a URL) in the voice of ``model``.

    ``model`` is a library name (``urvc models list``), a ``.pth`` path, or the URL of
    a ``.pth`` or ``.zip``, downloaded into the library on first use. Options:

    * ``separation``: a preset of :data:`~urvc_core.separation.PRESETS` or ``auto``;
      ``separation_steps``: per-step overrides (``"karaoke=mdx:model=..."``);
      ``skip_steps``: steps left out (``vocals``, ``karaoke``, ``dereverb``);
    * ``conversion`` (a dict) or keyword arguments: any conversion setting (``pitch``,
      ``f0_method``, ``index_rate``, ``embedder``...);
    * ``convert_backup`` and ``backup_model``: convert the backup vocals too;
    * ``effects`` (specs such as ``"reverb:room_size=0.3"``) and ``effects_preset``;
    * ``instrumental_pitch`` (semitones) or ``follow_pitch`` (``key``, ``full``,
      ``none``): how the instrumental and backup vocals follow the voice's shift;
    * ``vocals_gain_db``, ``instrumental_gain_db``, ``backup_gain_db``,
      ``match_loudness``;
    * ``output_format``, ``output_sample_rate`` (config defaults: mp3, 44100),
      ``output`` (a folder, or a file), ``name_template`` (fields ``{song}``,
      ``{voice}``, ``{pitch}``, ``{preset}``, ``{ext}``);
    * ``keep_intermediates`` (False removes this cover's cached steps afterwards),
      ``refresh`` (recompute every step), ``cookies`` (for yt-dlp), ``cache`` (a
      :class:`~urvc_core.cache.StepCache`), ``progress`` (a :class:`CoverProgress`).
    """
    return make_covers([source], model, **options)[0]


def _check_decodable(sources: Sequence[Any]) -> None:
    """Read each song's header now: a damaged file fails before any work."""
    from urvc_core.audio import audio_info

    for source in sources:
        info = audio_info(source.path)
        if info.frames == 0:
            raise UrvcError(f"{source.path} holds no audio samples; choose a file with sound.")
