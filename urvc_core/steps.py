"""Pipeline steps: stems passed between them, a report of each, and the cached-step runner.

Every step of a cover or a separation (separating, converting, effects, pitch shifting,
mixing) runs through one :class:`StepRunner`: it builds the step's cache key from what
produced it (:func:`urvc_core.cache.step_key`), serves it from the cache or computes it,
tells the progress display, and keeps a :class:`StepReport` and the key. Steps hand
each other :class:`StemRef`\\ s: audio known by its content hash, read from the cached
file only when a step needs the samples, so a long batch keeps little in memory.

A step that runs beside another (a cover shifts the instrumental's pitch while the lead
vocals convert) runs through a :meth:`StepRunner.detached` runner, which tells the
progress display nothing; :meth:`StepRunner.adopt` then takes in its reports at the
point where the step would have run in turn, so the reports and the progress display
keep one order whatever ran at the same time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from urvc_core.backends import Audio
from urvc_core.errors import UrvcError

if TYPE_CHECKING:
    from urvc_core.cache import CacheEntry, StepCache, StepResult

__all__ = [
    "BackgroundSteps",
    "StemRef",
    "StepProgress",
    "StepReport",
    "StepRunner",
    "conversion_step",
    "effects_step",
]


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
    #: When the step began (seconds since the epoch, ``time.time()``), where known: with
    #: ``seconds``, it shows which steps ran at the same time.
    started: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.backend,
            "seconds": round(self.seconds, 4),
            "cached": self.cached,
            "key": self.key,
            "outputs": self.outputs,
            "notes": self.notes,
            "started": None if self.started is None else round(self.started, 3),
        }


class StepProgress(Protocol):
    """What a pipeline reports while it works (the CLI draws bars from it)."""

    def plan(self, steps: int) -> None:
        """About how many steps the whole run has."""

    def step(self, name: str) -> None:
        """A step starts."""

    def fraction(self, value: float) -> None:
        """The running step is ``value`` (0..1) done."""

    def step_done(self, report: StepReport) -> None:
        """A step finished."""


class SilentProgress:
    """A :class:`StepProgress` that shows nothing."""

    def plan(self, steps: int) -> None:
        pass

    def step(self, name: str) -> None:
        pass

    def fraction(self, value: float) -> None:
        pass

    def step_done(self, report: StepReport) -> None:
        pass


class StepRunner:
    """Runs the steps of one pipeline run through the cache, keeping a report of each.

    ``reports`` and ``keys`` grow as steps run: the cover's result lists the reports,
    and a cover that keeps no intermediates removes the keys' entries afterwards.
    """

    def __init__(
        self,
        cache: StepCache | None = None,
        *,
        refresh: bool = False,
        progress: StepProgress | None = None,
    ) -> None:
        from urvc_core.cache import StepCache

        self.cache = cache if cache is not None else StepCache()
        self.refresh = refresh
        self.progress: StepProgress = progress if progress is not None else SilentProgress()
        self.reports: list[StepReport] = []
        self.keys: list[str] = []

    def key(
        self,
        step: str,
        backend: str,
        version: str,
        parameters: Mapping[str, Any],
        inputs: Mapping[str, str | None],
    ) -> str:
        """The cache key a step would have (``name:role`` steps share the step's key)."""
        from urvc_core.cache import step_key

        return step_key(step.split(":")[0], backend, version, parameters, inputs)

    def is_cached(self, key: str) -> bool:
        """Whether running the step of ``key`` now would be served from the cache."""
        return not self.refresh and self.cache.lookup(key) is not None

    def run(
        self,
        name: str,
        backend: str,
        version: str,
        parameters: Mapping[str, Any],
        inputs: Mapping[str, str | None],
        compute: Callable[[Path], StepResult],
    ) -> CacheEntry:
        """The step's cache entry: found by its key, or made by ``compute(staging)``.

        ``name`` may carry a role after a colon (``convert:backup``,
        ``pitch-shift:instrumental``): the role shows in reports, the key is the
        step's, so the same work for two roles is done once.
        """
        step = name.split(":")[0]
        self.progress.step(name)
        key = self.key(step, backend, version, parameters, inputs)
        began = time.time()
        started = time.perf_counter()
        entry, hit = self.cache.get_or_compute(
            key,
            compute,
            step=step,
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
            started=began,
        )
        self.keys.append(key)
        self.record(report)
        return entry

    def detached(self) -> StepRunner:
        """A runner over the same cache for steps run beside this runner's: it tells the
        progress display nothing, and its reports join this runner's by :meth:`adopt`."""
        return StepRunner(self.cache, refresh=self.refresh)

    def adopt(self, other: StepRunner) -> None:
        """Take in the steps a :meth:`detached` runner ran, in its order, telling the
        progress display of each now, as if it had just run here."""
        for report in other.reports:
            self.progress.step(report.name)
            self.record(report)
        self.keys.extend(other.keys)
        other.reports, other.keys = [], []

    def record(self, report: StepReport) -> None:
        """Add a step's report: one of :meth:`run`, or one that ran outside the step
        cache (finding the song, saving the cover)."""
        self.reports.append(report)
        self.progress.step_done(report)


class BackgroundSteps:
    """Steps of one pipeline run that go on in threads while the pipeline carries on.

    :meth:`start` runs ``work(runner)`` in a thread with a :meth:`~StepRunner.detached`
    runner; :meth:`result` waits for it, adopts its reports into the main runner and
    returns what ``work`` returned, or raises what it raised. :meth:`check`, called
    between pieces of the main work (a conversion's progress callback), raises a failed
    background step's error at once, so the main work stops instead of finishing in
    vain. Leaving the ``with`` block waits for whatever still runs: its cache entries
    are whole (or absent), never half-written, and no thread outlives the run.
    """

    def __init__(self, runner: StepRunner) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.runner = runner
        self._threads = ThreadPoolExecutor(thread_name_prefix="urvc-steps")
        self._running: dict[str, tuple[Any, StepRunner]] = {}

    def __enter__(self) -> BackgroundSteps:
        return self

    def __exit__(self, *exc: object) -> None:
        # Work that has not begun is dropped; work under way ends by itself.
        self._threads.shutdown(wait=True, cancel_futures=True)

    def start(self, name: str, work: Callable[[StepRunner], Any]) -> None:
        detached = self.runner.detached()
        self._running[name] = (self._threads.submit(work, detached), detached)

    def __contains__(self, name: str) -> bool:
        return name in self._running

    def check(self) -> None:
        """Raise the error of a background step that failed, if one has."""
        for future, _ in self._running.values():
            error = future.exception() if future.done() and not future.cancelled() else None
            if error is not None:
                raise error

    def result(self, name: str) -> Any:
        future, detached = self._running.pop(name)
        value = future.result()
        self.runner.adopt(detached)
        return value


# -- the steps every voice pipeline has (a cover's vocals, speech) -------------------------


def conversion_step(
    runner: StepRunner,
    stem: StemRef,
    converter: Callable[[], Any],
    request: Any,
    name: str = "convert",
    check: Callable[[], None] | None = None,
) -> CacheEntry:
    """Convert ``stem`` through the cache; its output is ``vocals``.

    ``converter()`` gives the :class:`~urvc_core.rvc.conversion.VoiceConverter` of
    ``request``'s voice, asked for only when the step is not cached (loading a voice
    model takes seconds). ``check`` is called between chunks, and raising there stops
    the conversion (a step running beside it has failed)."""
    from urvc_core.cache import StepResult
    from urvc_core.version import __version__

    def progress(fraction: float) -> None:
        if check is not None:
            check()
        runner.progress.fraction(fraction)

    def compute(staging: Path) -> StepResult:
        result = converter().convert(stem.load(), request, progress=progress)
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

    return runner.run(
        name,
        "rvc",
        f"urvc-core {__version__}",
        request.cache_parameters(),
        {"audio": stem.digest},
        compute,
    )


def effects_step(runner: StepRunner, stem: StemRef, effects: Sequence[Any]) -> CacheEntry:
    """Run ``stem`` through an effect chain (:func:`urvc_core.effects.plan_effects`)
    through the cache; its output is ``vocals``."""
    from urvc_core.cache import StepResult
    from urvc_core.effects import apply_effects
    from urvc_core.plugins import backend_version

    versions = []
    for step in effects:
        plugin, version = backend_version("effect", step.name)
        versions.append(f"{step.name}={plugin} {version}")

    def compute(staging: Path) -> StepResult:
        return StepResult(audio={"vocals": apply_effects(stem.load(), effects)})

    return runner.run(
        "effects",
        ",".join(step.name for step in effects),
        "; ".join(versions),
        {"chain": [step.as_dict() for step in effects]},
        {"audio": stem.digest},
        compute,
    )
