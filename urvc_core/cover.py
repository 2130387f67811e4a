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
   (``urvc pitch-shift``). When the shift is known before the conversion (it is unless
   auto pitch decides the voice's shift and the band follows it), the tracks are
   shifted in a worker process while the lead vocals convert;
6. **mix** the converted vocals, the instrumental and the backup vocals (converted or
   not) with a gain per track, at the original song's loudness, never clipping
   (:mod:`urvc_core.mixing`, ``urvc mix``), to mp3/wav/flac/ogg at the configured rate,
   named ``<song> (<voice> Ver).<ext>``. The reverb the de-reverb step took off the
   lead is left out, as in Ultimate RVC: the effects give the new voice its own.

Every step's result is cached by what produced it (:mod:`urvc_core.cache`): a second
run of the same cover calls no backend at all, a changed mix gain redoes only the mix,
a changed pitch redoes the conversion and what follows it. The finished file is
written whole or not at all.

The options are one :class:`~urvc_core.cover_options.CoverOptions` (the CLI builds it
from the same table); the conversion is resolved once into a
:class:`~urvc_core.rvc.request.ConversionRequest`, which both the converter and the
conversion step's cache key take; every step runs through one
:class:`~urvc_core.steps.StepRunner`.

Steps that need a plugin say which when it is missing (the UVR separators:
``urvc-separator-mdx``; effects and pitch shifting: ``urvc-effects-pedalboard``); steps
that need none (no effects, no shift, the built-in ``dsp-center`` separator) run without.
The kernel imports no plugin: presets come through the ``register_presets`` hook and
backends through the registry.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.backends import Audio
from urvc_core.cover_options import DEFAULT_NAME_TEMPLATE, FOLLOW_MODES, CoverOptions
from urvc_core.errors import UrvcError
from urvc_core.steps import (
    BackgroundSteps,
    StemRef,
    StepProgress,
    StepReport,
    StepRunner,
    conversion_step,
    effects_step,
)

__all__ = [
    "DEFAULT_NAME_TEMPLATE",
    "FOLLOW_MODES",
    "CoverOptions",
    "CoverProgress",
    "CoverResult",
    "follow_shift",
    "make_cover",
    "make_covers",
]

#: What :func:`make_cover` reports while it works (the CLI draws bars from it).
CoverProgress = StepProgress
#: Two tracks to shift are shifted in worker processes once there is this much audio:
#: below it, starting the processes costs more than it saves.
_PARALLEL_SHIFT_MIN_SECONDS = 20.0
#: Shift the instrumental and backup vocals in a worker process while the lead vocals
#: convert, when the shift is known before: True always, False never (every step in turn;
#: the results are the same either way), None when the conversion leaves a core free
#: (see :func:`_core_free_while_converting`). ``benchmarks/cover.py --overlap`` compares.
_SHIFT_WHILE_CONVERTING: bool | None = None

#: One track to shift: its role, the stem, semitones, whether its formants stay.
_ShiftJob = tuple[str, StemRef, float, bool]
_TEMPLATE_FIELDS = ("song", "voice", "pitch", "preset", "ext")


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
    from urvc_core.plugin_directory import install_hint
    from urvc_core.registry import backend_registry

    if semitones != 0 and "pitch-shift" not in backend_registry().names("effect"):
        raise UrvcError(
            f"Shifting the {what} by {semitones:+g} semitones needs the effect 'pitch-shift': "
            f"{install_hint('effect', 'pitch-shift')}, or leave the {what} as it is with "
            f"--follow-pitch none."
        )


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


class _Pipeline:
    """A cover's options checked and its conversions resolved up front (so a typo fails
    before minutes of work), and the loaded voice models, shared by a batch."""

    def __init__(
        self,
        voice: str | Path,
        options: CoverOptions,
        *,
        cache: Any,
        progress: StepProgress | None,
        single_song: bool,
    ) -> None:
        from urvc_core.audio import WRITE_FORMATS, write_format_for
        from urvc_core.cache import StepCache
        from urvc_core.effects import plan_effects
        from urvc_core.home import load_config, urvc_home
        from urvc_core.rvc.request import resolve_conversion
        from urvc_core.separation import choose_preset, plan_separation

        config = load_config()
        self.options = options
        self.cache: StepCache = cache if cache is not None else StepCache()
        self.progress = progress
        self.notes: list[str] = []
        self.request = resolve_conversion(voice, options.conversion, defaults=config.convert)
        self.backup_request = (
            resolve_conversion(options.backup_model, options.conversion, defaults=config.convert)
            if options.backup_model is not None
            else self.request
        )
        self.notes.extend(self.request.notes)
        # auto is resolved once: the plan and the cover's {preset} name both take it.
        self.preset, preset_notes = choose_preset(options.separation)
        self.notes.extend(preset_notes)
        self.plan, _ = plan_separation(
            self.preset, options.separator_steps, options.skip_steps, options.ensemble
        )
        planned = {step.step for step in self.plan}
        if options.convert_backup and "karaoke" not in planned:
            raise UrvcError(
                "Converting the backup vocals needs the karaoke step, which splits the "
                "vocals into main and backup: use --separation karaoke or lead-clean, or "
                "leave out --convert-backup."
            )
        self.effects = plan_effects(options.effects, options.effects_preset)
        # Checked now, so a missing plugin fails before minutes of work. With auto pitch
        # the shift is known only after conversion; it is checked again then.
        settings = self.request.settings
        if "vocals" in planned:
            if options.instrumental_pitch is not None:
                _require_pitch_shift(options.instrumental_pitch, "instrumental")
            elif settings.auto_pitch == "off":
                shift = follow_shift(settings.pitch, options.follow_pitch)
                _require_pitch_shift(shift, "instrumental")

        # Where the cover goes: a file (one song, a name with an audio suffix) or a folder.
        self.output_file: Path | None = None
        self.output_dir = urvc_home().outputs
        output_format = options.output_format
        if options.output is not None:
            output = Path(options.output).expanduser()
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
        self.sample_rate = int(options.output_sample_rate or config["output_sample_rate"])
        from urvc_core.home import CONFIG_SETTINGS

        rate_setting = next(s for s in CONFIG_SETTINGS if s.name == "output_sample_rate")
        rate_setting.check(self.sample_rate, "output sample rate")
        self._check_template()
        self._converters: dict[Path, Any] = {}

    def planned_steps(self) -> int:
        """How many steps one song takes, as far as can be told before it runs."""
        options, settings = self.options, self.request.settings
        planned = {step.step for step in self.plan}
        count = 1 + len(self.plan) + 1 + (1 if self.effects else 0) + 1 + 1
        if options.convert_backup:
            count += 1
        shift_known_zero = options.instrumental_pitch == 0 or (
            options.instrumental_pitch is None
            and settings.auto_pitch == "off"
            and follow_shift(settings.pitch, options.follow_pitch) == 0
        )
        if not shift_known_zero:
            count += ("vocals" in planned) + ("karaoke" in planned and not options.convert_backup)
        return count

    def _check_template(self) -> None:
        template = self.options.name_template
        try:
            template.format(song="s", voice="v", pitch="+0", preset="p", ext="mp3")
        except (KeyError, IndexError, ValueError) as exc:
            raise UrvcError(
                f"The name template {template!r} can't be filled ({exc}); use the "
                f"fields {', '.join('{' + f + '}' for f in _TEMPLATE_FIELDS)}."
            ) from None

    def _converter(self, request: Any) -> Any:
        """The voice's converter, loaded on first need and kept for the batch."""
        from urvc_core.rvc.conversion import VoiceConverter

        path = request.voice.model_path
        if path not in self._converters:
            self._converters[path] = VoiceConverter(request)
        return self._converters[path]

    # -- steps ---------------------------------------------------------------------------

    def _convert(
        self,
        runner: StepRunner,
        stem: StemRef,
        request: Any,
        name: str,
        check: Callable[[], None] | None = None,
    ) -> Any:
        return conversion_step(
            runner, stem, lambda: self._converter(request), request, name, check
        )

    def _apply_effects(self, runner: StepRunner, stem: StemRef) -> Any:
        return effects_step(runner, stem, self.effects)

    def _shift(
        self, runner: StepRunner, jobs: Sequence[_ShiftJob], *, in_workers: bool | None = None
    ) -> dict[str, StemRef]:
        """Shift each job's track; returns stems by role.

        ``in_workers``: shift in worker processes, one per track, as a shift running
        beside a conversion must (Rubber Band holds the GIL); ``None`` decides by the
        work to do: two tracks or more, long enough to pay for starting the processes.
        """
        from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        from urvc_core.cache import StepResult

        results: dict[str, StemRef] = {role: stem for role, stem, _, _ in jobs}
        todo = [job for job in jobs if job[2] != 0]
        if not todo:
            return results
        for _, _, semitones, _ in todo:
            _require_pitch_shift(semitones, "instrumental")
        backend_version_text = _shift_backend_version()
        misses = self._shift_misses(runner, todo)
        if in_workers is None:
            duration = sum(job[1].seconds for job in misses)
            in_workers = len(misses) >= 2 and duration >= _PARALLEL_SHIFT_MIN_SECONDS
        pool: ProcessPoolExecutor | None = None

        def compute_for(stem: StemRef, semitones: float, formants: bool) -> Callable[..., Any]:
            def compute(staging: Path) -> StepResult:
                audio = stem.load()
                if pool is not None:
                    future: Future[np.ndarray] = pool.submit(
                        _shift_in_worker, audio.samples, audio.sample_rate, semitones, formants
                    )
                    try:
                        samples = future.result()
                    except BrokenProcessPool as exc:
                        raise UrvcError(
                            f"The pitch-shift worker process died ({exc}); it may have run "
                            f"out of memory: close other programs, or leave the "
                            f"instrumental as it is with --follow-pitch none."
                        ) from exc
                else:
                    samples = _shift_in_worker(
                        audio.samples, audio.sample_rate, semitones, formants
                    )
                # The input is in the cache; only its shifted copy is needed from here on.
                stem.release()
                return StepResult(audio={"audio": Audio(samples, audio.sample_rate)})

            return compute

        def run(job: _ShiftJob, runner: StepRunner = runner) -> tuple[str, StemRef]:
            role, stem, semitones, formants = job
            entry = runner.run(
                f"pitch-shift:{role}",
                "pitch-shift",
                backend_version_text,
                _shift_parameters(job),
                {"audio": stem.digest},
                compute_for(stem, semitones, formants),
            )
            return role, StemRef.of_entry(entry, "audio")

        if in_workers and misses:
            import multiprocessing

            # spawn, not fork: this process holds torch's and BLAS's threads.
            pool = ProcessPoolExecutor(
                max_workers=len(misses), mp_context=multiprocessing.get_context("spawn")
            )
            # One runner per track, adopted in the jobs' order: the reports keep it
            # whichever track is done first.
            detached = [runner.detached() for _ in todo]
            try:
                with ThreadPoolExecutor(max_workers=len(todo)) as threads:
                    for role, ref in threads.map(run, todo, detached):
                        results[role] = ref
            finally:
                pool.shutdown(cancel_futures=True)
            for each in detached:
                runner.adopt(each)
        else:
            for job in todo:
                role, ref = run(job)
                results[role] = ref
        return results

    def _shift_misses(self, runner: StepRunner, jobs: Sequence[_ShiftJob]) -> list[_ShiftJob]:
        """The jobs the cache can't serve."""
        version = _shift_backend_version()
        return [
            job
            for job in jobs
            if job[2] != 0
            and not runner.is_cached(
                runner.key(
                    "pitch-shift",
                    "pitch-shift",
                    version,
                    _shift_parameters(job),
                    {"audio": job[1].digest},
                )
            )
        ]

    def _shift_before_conversion(self) -> float | None:
        """The instrumental's shift, if it is known before the lead vocals convert."""
        options, settings = self.options, self.request.settings
        if options.instrumental_pitch is not None:
            return float(options.instrumental_pitch)
        if options.follow_pitch == "none":
            return 0.0
        if settings.auto_pitch == "off":
            # The conversion shifts the voice by exactly the pitch asked for.
            return follow_shift(settings.pitch, options.follow_pitch)
        # Auto pitch decides the voice's shift from its f0, which the band follows: the
        # shift has to wait for the conversion.
        return None

    def _start_shift(
        self, background: BackgroundSteps, runner: StepRunner, jobs: list[_ShiftJob]
    ) -> None:
        """Shift ``jobs`` in a worker process beside the conversion, when that pays."""
        beside = _SHIFT_WHILE_CONVERTING
        if beside is None:
            beside = _core_free_while_converting()
        if not beside or "pitch-shift" not in self._effect_names():
            return
        misses = self._shift_misses(runner, jobs)
        # Below this much audio, starting a process costs more than the overlap saves.
        if misses and sum(job[1].seconds for job in misses) >= _PARALLEL_SHIFT_MIN_SECONDS:
            background.start(
                "pitch-shift", lambda detached: self._shift(detached, jobs, in_workers=True)
            )

    @staticmethod
    def _effect_names() -> list[str]:
        from urvc_core.registry import backend_registry

        return list(backend_registry().names("effect"))

    def _mix(self, runner: StepRunner, song: StemRef, tracks: Mapping[str, StemRef]) -> Any:
        from urvc_core.cache import StepResult
        from urvc_core.mixing import (
            DEFAULT_CEILING_DBTP,
            DEFAULT_HIGHPASS_HZ,
            Track,
            mix_tracks,
        )
        from urvc_core.version import __version__

        rate, fmt, options = self.sample_rate, self.output_format, self.options
        gains = {
            "vocals": options.vocals_gain_db,
            "instrumental": options.instrumental_gain_db,
            "backup": options.backup_gain_db,
        }

        def compute(staging: Path) -> StepResult:
            original = song.load()
            length = round(original.num_samples * rate / original.sample_rate)
            mixed = mix_tracks(
                [Track(stem.load(), gains[role], role) for role, stem in tracks.items()],
                sample_rate=rate,
                channels=min(2, max(original.channels, 1)),
                length=length,
                match_loudness=original if options.match_loudness else None,
                ceiling_dbtp=DEFAULT_CEILING_DBTP,
                highpass_hz=DEFAULT_HIGHPASS_HZ,
                output=staging / f"cover.{fmt}",
            )
            assert mixed.path is not None
            return StepResult(files={"cover": mixed.path}, extra=mixed.as_dict())

        parameters = {
            "gains_db": {role: gains[role] for role in tracks},
            "match_loudness": options.match_loudness,
            "ceiling_dbtp": DEFAULT_CEILING_DBTP,
            "highpass_hz": DEFAULT_HIGHPASS_HZ,
            "format": fmt,
            "sample_rate": rate,
        }
        inputs: dict[str, str | None] = {role: stem.digest for role, stem in tracks.items()}
        inputs["song"] = song.digest
        return runner.run(
            "mix", "urvc-mix", f"urvc-core {__version__}", parameters, inputs, compute
        )

    # -- one song ------------------------------------------------------------------------

    def cover(self, source: Any, source_report: StepReport) -> CoverResult:
        from urvc_core.audio import check_output_is_not_an_input, load_audio
        from urvc_core.separation import run_separation

        options = self.options
        started = time.perf_counter()
        runner = StepRunner(self.cache, refresh=options.refresh, progress=self.progress)
        runner.record(source_report)
        notes = list(self.notes)
        song = StemRef.of_file(source.sha256, source.path, lambda: load_audio(source.path))
        stems = run_separation(song, self.plan, runner=runner).stems
        intermediates = {role: str(stem.path) for role, stem in stems.items() if stem.path}
        backup = stems.get("backup")
        backup_converted = backup is not None and options.convert_backup

        with BackgroundSteps(runner) as background:
            early_shift = self._shift_before_conversion()
            early_jobs = (
                _shift_jobs(stems, early_shift, backup_converted) if early_shift is not None else []
            )
            self._start_shift(background, runner, early_jobs)

            converted = self._convert(
                runner, stems["lead"], self.request, "convert", check=background.check
            )
            vocal_shift = float(converted.extra.get("pitch_shift", self.request.settings.pitch))
            notes.extend(str(n) for n in converted.extra.get("notes", []) or [])
            stems["lead"].release()
            vocals = StemRef.of_entry(converted, "vocals")
            intermediates["converted"] = str(converted.path("vocals"))
            background.check()

            if self.effects:
                processed = self._apply_effects(runner, vocals)
                vocals.release()
                vocals = StemRef.of_entry(processed, "vocals")
                intermediates["effects"] = str(processed.path("vocals"))

            # The backup vocals convert after the lead, not beside it: on a CPU both
            # conversions would share the same cores (torch's threads already use them all).
            if backup is not None and backup_converted:
                converted_backup = self._convert(
                    runner, backup, self.backup_request, "convert:backup", check=background.check
                )
                backup = StemRef.of_entry(converted_backup, "vocals")
                intermediates["backup_converted"] = str(converted_backup.path("vocals"))

            shift = (
                float(options.instrumental_pitch)
                if options.instrumental_pitch is not None
                else follow_shift(vocal_shift, options.follow_pitch)
            )
            jobs = _shift_jobs(stems, shift, backup_converted)
            if "pitch-shift" in background and _same_jobs(jobs, early_jobs):
                shifted = background.result("pitch-shift")
            else:
                shifted = self._shift(runner, jobs)
        for role in ("instrumental", "backup"):
            if role in shifted and shifted[role] is not stems.get(role):
                intermediates[f"{role}_shifted"] = str(shifted[role].path)

        tracks = {"vocals": vocals, **shifted}
        mixed = self._mix(runner, song, tracks)
        for stem in (*tracks.values(), song):
            stem.release()

        runner.progress.step("save")
        save_began = time.time()
        save_started = time.perf_counter()
        destination = self._destination(source.name, vocal_shift)
        check_output_is_not_an_input(destination, [source.path])
        _copy_atomically(mixed.path("cover"), destination)
        runner.record(
            StepReport(
                "save",
                "none",
                time.perf_counter() - save_started,
                False,
                outputs={"cover": str(destination)},
                started=save_began,
            )
        )

        if not options.keep_intermediates:
            for key in runner.keys:
                self.cache.remove(key)
            intermediates = {}
        mix_facts = dict(mixed.extra)
        mix_facts.pop("path", None)
        return CoverResult(
            source=source,
            output=destination,
            voice=self.request.voice.name,
            model_path=self.request.voice.model_path,
            output_format=self.output_format,
            sample_rate=int(mix_facts.get("sample_rate") or self.sample_rate),
            duration=float(mix_facts.get("duration") or 0.0),
            steps=runner.reports,
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
        template = self.options.name_template
        name = template.format(
            song=song,
            voice=self.request.voice.name,
            pitch=f"{vocal_shift:+g}",
            preset=self.preset,
            ext=self.output_format,
        )
        name = _safe_file_name(name)
        if "{ext}" not in template:
            name = f"{name}.{self.output_format}"
        return self.output_dir / name


def _core_free_while_converting() -> bool:
    """Whether a conversion leaves a CPU core free for a shift beside it.

    On a GPU it does. On the CPU, torch's threads take every core: measured on two
    (``benchmarks/cover.py``, 60 s song, idle machine), shifting beside the conversion
    slowed it by 9 s to save the shift's 5 s, the two processes' threads taking turns.
    """
    import os

    from urvc_core.devices import resolve_device

    try:
        device = resolve_device("auto")
    except UrvcError:
        return False  # the conversion says what is wrong
    if device != "cpu":
        return True
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return torch.get_num_threads() < (cores or 1)


def _shift_jobs(
    stems: Mapping[str, StemRef], semitones: float, backup_converted: bool
) -> list[_ShiftJob]:
    """The tracks that follow the voice's shift: the instrumental, and the backup vocals
    unless they were converted (a converted voice has its own pitch)."""
    jobs: list[_ShiftJob] = []
    if "instrumental" in stems:
        jobs.append(("instrumental", stems["instrumental"], semitones, False))
    if "backup" in stems and not backup_converted:
        # A voice: its formants stay where they were, as they would in a real singer.
        jobs.append(("backup", stems["backup"], semitones, True))
    return jobs


def _same_jobs(one: Sequence[_ShiftJob], other: Sequence[_ShiftJob]) -> bool:
    def described(jobs: Sequence[_ShiftJob]) -> list[tuple[str, str, float, bool]]:
        return [(role, stem.digest, semitones, keep) for role, stem, semitones, keep in jobs]

    return described(one) == described(other)


def _shift_parameters(job: _ShiftJob) -> dict[str, Any]:
    return {"semitones": job[2], "preserve_formants": job[3]}


def _shift_backend_version() -> str:
    from urvc_core.plugins import backend_version

    plugin, version = backend_version("effect", "pitch-shift")
    return f"{plugin} {version}"


def _safe_file_name(name: str) -> str:
    cleaned = re.sub(r"[\x00-\x1f/\\:*?\"<>|]+", " ", name)
    cleaned = " ".join(cleaned.split()).strip(" .")
    return cleaned[:200] or "cover"


def _copy_atomically(source: Path, destination: Path) -> None:
    """The finished cover into place, whole or not at all."""
    from urvc_core.atomic_files import copy_file_atomically

    if destination.is_dir():
        raise UrvcError(f"Can't write {destination}: it is a folder; name a file instead.")
    try:
        copy_file_atomically(source, destination)
    except OSError as exc:
        raise UrvcError(
            f"Can't write {destination}: {exc.strerror or exc}; check the folder and the "
            f"free disk space."
        ) from exc


# -- public functions ----------------------------------------------------------------------


def make_covers(
    sources: Sequence[str | Path],
    voice: str | Path,
    options: CoverOptions | None = None,
    *,
    cache: Any = None,
    progress: StepProgress | None = None,
    **settings: Any,
) -> list[CoverResult]:
    """Covers of several songs with one voice model, loaded once. See :func:`make_cover`.

    A song that fails (damaged, or whose cover would replace an input) does not stop the
    others: once all are done, :class:`~urvc_core.errors.BatchError` names each that
    failed and carries the covers of the rest.
    """
    from urvc_core.devices import use_device

    options = CoverOptions.from_settings(settings, options)
    with use_device(options.device):
        return _make_covers(sources, voice, options, cache=cache, progress=progress)


def _make_covers(
    sources: Sequence[str | Path],
    voice: str | Path,
    options: CoverOptions,
    *,
    cache: Any,
    progress: StepProgress | None,
) -> list[CoverResult]:
    from urvc_core.audio import check_output_is_not_an_input
    from urvc_core.errors import raise_batch_failures
    from urvc_core.sources import resolve_sources

    # Every song is found first, so a typo in the third fails before the first is sung.
    started = time.perf_counter()
    found = resolve_sources(list(sources), cookies=options.cookies, progress=progress is not None)
    source_seconds = (time.perf_counter() - started) / max(1, len(found))
    # A damaged song is known before any work; the others go on without it.
    songs, failures = _decodable(found)
    if not songs:
        raise_batch_failures([], failures)
    pipeline = _Pipeline(
        voice, options, cache=cache, progress=progress, single_song=len(found) == 1
    )
    if progress is not None:
        progress.plan(len(songs) * pipeline.planned_steps())
    inputs = [source.path for source in found]
    results = []
    for source in songs:
        backend = {"file": "file", "link": "asset-store", "page": "yt-dlp"}[source.kind]
        report = StepReport("source", backend, source_seconds, source.cached, source.cache_key)
        if progress is not None:
            progress.step(f"source {source.name}")
        try:
            # The name as the requested pitch gives it; auto pitch is checked at saving.
            planned = pipeline._destination(source.name, pipeline.request.settings.pitch)
            check_output_is_not_an_input(planned, inputs)
            results.append(pipeline.cover(source, report))
        except UrvcError as exc:
            failures.append((source.origin, exc))
    raise_batch_failures(results, failures)
    return results


def make_cover(
    song: str | Path,
    voice: str | Path,
    options: CoverOptions | None = None,
    *,
    cache: Any = None,
    progress: StepProgress | None = None,
    **settings: Any,
) -> CoverResult:
    """A cover of one song (a file or a URL) in the voice of ``voice``.

    ``voice`` is a library name (``urvc models list``), a ``.pth`` path, or the URL of
    a ``.pth`` or ``.zip``, downloaded into the library on first use. ``options`` is a
    :class:`~urvc_core.cover_options.CoverOptions`; keyword arguments change any of its
    settings (``device="cuda:1"``) or any conversion setting (``pitch=12``,
    ``f0_method="rmvpe"``), checked against
    :data:`~urvc_core.cover_options.COVER_SETTINGS` and
    :data:`~urvc_core.rvc.settings.CONVERSION_SETTINGS`. ``cache`` is a
    :class:`~urvc_core.cache.StepCache`, ``progress`` a
    :class:`~urvc_core.steps.StepProgress`.
    """
    return make_covers([song], voice, options, cache=cache, progress=progress, **settings)[0]


def _decodable(sources: Sequence[Any]) -> tuple[list[Any], list[tuple[str, UrvcError]]]:
    """Read each song's header now, so a damaged file fails before any work: the songs
    that can be read, and the error of each that can't."""
    from urvc_core.audio import audio_info

    readable: list[Any] = []
    failures: list[tuple[str, UrvcError]] = []
    for source in sources:
        try:
            info = audio_info(source.path)
            if info.frames == 0:
                raise UrvcError(f"{source.path} holds no audio samples; choose a file with sound.")
        except UrvcError as exc:
            failures.append((source.origin, exc))
        else:
            readable.append(source)
    return readable, failures
