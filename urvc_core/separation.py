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

Chains come as named presets that plugins register (:mod:`urvc_core.presets`);
``urvc separate --list-presets`` prints them with the plugin of each. The kernel's
built-in ``dsp-center`` separator gives ``center`` (vocals only, no weights, offline);
the UVR plugin (urvc-separator-mdx) gives ``vocals``, ``karaoke``, ``dereverb`` and
``lead-clean``. The default, ``auto``, is the highest-ranked preset that can run here
(:func:`resolve_auto_preset`).

Any step may be an ensemble: several separators on the same input, each stem combined
across them (:mod:`urvc_core.ensembles`). Every step is cached by its input's content
hash, separators, plugin versions and settings (:mod:`urvc_core.cache`).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from urvc_core.backends import Audio
from urvc_core.errors import InvalidSettingError, UrvcError
from urvc_core.plugins import backend_version
from urvc_core.presets import (
    ENSEMBLE_METHODS,
    STEP_NAMES,
    SeparationPreset,
    SeparationStep,
    SeparatorChoice,
)
from urvc_core.steps import StemRef, StepReport, StepRunner

if TYPE_CHECKING:
    from urvc_core.cache import StepCache

__all__ = [
    "AUTO_PRESET",
    "STEP_NAMES",
    "SeparatedSong",
    "SeparationPreset",
    "SeparationRun",
    "SeparationStep",
    "choose_preset",
    "list_presets",
    "parse_step_spec",
    "plan_separation",
    "resolve_auto_preset",
    "run_separation",
    "separate_files",
    "separate_song",
]

AUTO_PRESET = "auto"

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


def list_presets() -> list[tuple[SeparationPreset, str]]:
    """The registered separation presets, each with the plugin that gave it."""
    from urvc_core.plugins import preset_registry

    return preset_registry().separations()


def resolve_auto_preset() -> tuple[str, str]:
    """The preset ``auto`` stands for here, and why.

    The highest-ranked registered preset whose separators are installed and whose
    weights are on disk or may be downloaded (not with ``URVC_OFFLINE=1``).
    """
    from urvc_core.catalogue import asset_store
    from urvc_core.plugin_directory import providing_plugin
    from urvc_core.plugins import plugin_host

    host = plugin_host()
    store = asset_store()
    installed = set(host.registry.names("separator"))
    candidates = sorted(host.presets.separations(), key=lambda item: (-item[0].rank, item[0].name))
    passed_over: list[str] = []
    for preset, plugin in candidates:
        if not {m.separator for s in preset.steps for m in s.members} <= installed:
            continue
        missing = [
            name
            for name in preset.assets
            if name not in host.assets or not store.is_present(host.assets[name][0])
        ]
        if store.offline and missing:
            passed_over.append(preset.name)
            continue
        record = host.records.get(plugin)
        source = "built in" if record is not None and record.builtin else f"from {plugin}"
        why = source + (
            f"; {', '.join(passed_over)} passed over: urvc is offline and its models are "
            f"not on disk"
            if passed_over
            else ""
        )
        better = providing_plugin("separation preset", "lead-clean")
        if preset.rank <= 0 and not passed_over and better:
            why += f"; `urvc install {better}` adds the UVR presets"
        return preset.name, why
    raise UrvcError(
        "No separation preset can run here: install a separator plugin "
        "(`urvc install urvc-separator-mdx`), or leave the separation out with --skip vocals."
    )


def choose_preset(preset: str | None) -> tuple[str, list[str]]:
    """The preset name ``preset`` stands for (``auto`` or none: :func:`resolve_auto_preset`),
    and a note saying what ``auto`` chose and why."""
    name = preset or AUTO_PRESET
    if name != AUTO_PRESET:
        return name, []
    name, why = resolve_auto_preset()
    return name, [f"Separation preset: {name} ({why})."]


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


def parse_ensemble_spec(spec: str) -> tuple[str, str]:
    """``vocals=max`` -> ``("vocals", "max")``: how one step's ensemble combines."""
    step, equals, method = (part.strip() for part in spec.partition("="))
    if not equals or step not in STEP_NAMES or method not in ENSEMBLE_METHODS:
        raise UrvcError(
            f"Malformed ensemble method {spec!r}: write STEP=METHOD with STEP one of "
            f"{', '.join(STEP_NAMES)} and METHOD one of {', '.join(ENSEMBLE_METHODS)} "
            f"(e.g. vocals=median)."
        )
    return step, method


def plan_separation(
    preset: str | None = None,
    steps: Sequence[SeparationStep | str] = (),
    skip: Collection[str] = (),
    combine: Mapping[str, str] | Sequence[str] = (),
) -> tuple[list[SeparationStep], list[str]]:
    """The checked chain for a preset, per-step overrides and skipped steps, and notes.

    A step given in ``steps`` replaces the preset's; a step given several times is an
    ensemble of those separators, combined by ``combine[step]`` (a mapping, or
    ``STEP=METHOD`` specs; default ``median``). Every separator is looked up and its
    settings checked (nothing is loaded), so a missing plugin or a bad setting fails
    before any work.

    Raises:
        UrvcError: an unknown preset or step, a separator nobody installed (naming the
            plugin that provides it), a bad setting.
    """
    from urvc_core.plugin_directory import install_hint
    from urvc_core.plugins import preset_registry

    name, notes = choose_preset(preset)
    try:
        chosen_preset = preset_registry().separation(name, extra_names=[AUTO_PRESET])
    except UrvcError as exc:
        hint = install_hint("separation preset", name)
        if not hint:
            raise
        raise UrvcError(f"{exc} The preset '{name}' comes with a plugin: {hint}.") from None
    for skipped in skip:
        if skipped not in STEP_NAMES:
            raise UrvcError(
                f"There is no separation step '{skipped}' to skip; steps: {', '.join(STEP_NAMES)}."
            )
    methods = (
        dict(combine)
        if isinstance(combine, Mapping)
        else dict(parse_ensemble_spec(spec) for spec in combine)
    )
    chosen = {step.step: step for step in chosen_preset.steps}
    given: dict[str, list[SeparationStep]] = {}
    for item in steps:
        step = parse_step_spec(item) if isinstance(item, str) else item
        if step.step not in STEP_NAMES:
            raise UrvcError(
                f"There is no separation step '{step.step}'; steps: {', '.join(STEP_NAMES)}."
            )
        given.setdefault(step.step, []).append(step)
    for step_name, overrides in given.items():
        first, *others = overrides
        members = (*first.ensemble, *(m for other in others for m in other.members))
        chosen[step_name] = replace(
            first, ensemble=members, combine=methods.get(step_name, first.combine)
        )
    for step_name, method in methods.items():
        if step_name in chosen and not chosen[step_name].ensemble:
            raise UrvcError(
                f"--ensemble {step_name}={method} combines several separators, but the "
                f"{step_name} step has one; give --separator-step {step_name}=... once "
                f"per separator."
            )
        if step_name in chosen:
            chosen[step_name] = replace(chosen[step_name], combine=method)
    plan = [chosen[s] for s in STEP_NAMES if s in chosen and s not in skip]
    return [_checked(step) for step in plan], notes


def _checked(step: SeparationStep) -> SeparationStep:
    """The step with every member's separator found and its settings checked and filled
    in (defaults included, so the cache key doesn't depend on spelling)."""
    from urvc_core.errors import BackendNotFoundError
    from urvc_core.plugin_directory import install_hint
    from urvc_core.registry import backend_registry

    registry = backend_registry()
    checked: list[SeparatorChoice] = []
    for member in step.members:
        if member.separator not in registry.names("separator"):
            hint = install_hint("separator", member.separator)
            if hint:
                raise UrvcError(
                    f"The {step.step} step needs the separator '{member.separator}': {hint}, "
                    f"or use the built-in separator with --separation center "
                    f"(vocals/instrumental only, no weights)."
                )
        try:
            info = registry.info("separator", member.separator)
        except BackendNotFoundError as exc:
            raise UrvcError(f"The {step.step} step: {exc}") from exc
        given = {str(k).replace("-", "_"): v for k, v in member.settings.items()}
        try:
            settings = info.backend_class.check_settings(given)
        except InvalidSettingError as exc:
            raise InvalidSettingError(f"The {step.step} step: {exc}") from exc
        checked.append(SeparatorChoice(member.separator, settings))
    if step.combine not in ENSEMBLE_METHODS:
        raise UrvcError(
            f"The {step.step} step's ensemble method '{step.combine}' is not one of "
            f"{', '.join(ENSEMBLE_METHODS)}."
        )
    first, *others = checked
    return SeparationStep(step.step, first.separator, first.settings, tuple(others), step.combine)


# -- running --------------------------------------------------------------------------


@dataclass
class SeparationRun:
    """The stems of a chain (``vocals``, ``instrumental``, ``main``, ``backup``, ``dry``,
    ``reverb``, and ``lead``: the voice to convert) and a report per step."""

    stems: dict[str, StemRef]
    steps: list[StepReport]


def run_separation(
    song: StemRef,
    plan: Sequence[SeparationStep],
    *,
    runner: StepRunner | None = None,
    cache: StepCache | None = None,
    refresh: bool = False,
) -> SeparationRun:
    """Run a checked chain (:func:`plan_separation`) on ``song``, each step cached.

    ``runner`` is the pipeline's step runner (a cover passes its own, so the steps join
    its reports and progress); without one, a runner over ``cache`` is made.
    """
    runner = runner if runner is not None else StepRunner(cache, refresh=refresh)
    first_report = len(runner.reports)
    # Without a vocals step the song itself is the vocals (an a cappella).
    stems: dict[str, StemRef] = {"vocals": song}
    for step in plan:
        if step.step == "vocals":
            source = song
        elif step.step == "karaoke":
            source = stems["vocals"]
        else:
            source = stems.get("main", stems["vocals"])
        (first, first_names), (second, second_names) = _STEP_STEMS[step.step]
        versions = []
        for member in step.members:
            plugin, version = backend_version("separator", member.separator)
            versions.append(f"{plugin} {version}")
        parameters: dict[str, Any] = {"settings": dict(step.settings)}
        if step.ensemble:
            parameters = {
                "ensemble": [member.as_dict() for member in step.members],
                "combine": step.combine,
            }
        entry = runner.run(
            f"separate.{step.step}",
            step.backend,
            "; ".join(versions),
            parameters,
            {"audio": source.digest},
            functools.partial(
                _separate_step,
                step=step,
                source=source,
                roles=((first, first_names), (second, second_names)),
            ),
        )
        for role in (first, second):
            stems[role] = StemRef.of_entry(entry, role)
    if "main" not in stems:
        stems["main"] = stems["vocals"]
    stems["lead"] = stems.get("dry") or stems["main"]
    return SeparationRun(stems=stems, steps=runner.reports[first_report:])


def _separate_step(
    staging: Path,
    *,
    step: SeparationStep,
    source: StemRef,
    roles: tuple[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]]],
) -> Any:
    """Compute one step: each member separates the input, an ensemble combines them."""
    from urvc_core.cache import StepResult
    from urvc_core.ensembles import combine_stems
    from urvc_core.registry import get_backend

    audio = source.load()
    picked: dict[str, list[Audio]] = {role: [] for role, _ in roles}
    for member in step.members:
        separator = get_backend("separator", member.separator, **member.settings)
        produced = separator.separate(audio)  # type: ignore[attr-defined]
        for role, names in roles:
            picked[role].append(_pick_stem(produced, names, step, member))
    return StepResult(
        audio={role: combine_stems(stems, step.combine) for role, stems in picked.items()}
    )


def _pick_stem(
    produced: Mapping[str, Audio],
    names: tuple[str, ...],
    step: SeparationStep,
    member: SeparatorChoice,
) -> Audio:
    for name in names:
        if name in produced:
            return produced[name]
    raise UrvcError(
        f"The {step.step} step's separator '{member.separator}' "
        f"({', '.join(f'{k}={v}' for k, v in member.settings.items()) or 'default settings'}) "
        f"gave the stems {', '.join(produced) or 'none'}, not {' or '.join(names)}; choose "
        f"a model made for this step."
    )


def separate_song(
    song: Audio | str | Path,
    preset: str | None = None,
    *,
    steps: Sequence[SeparationStep | str] = (),
    skip: Collection[str] = (),
    combine: Mapping[str, str] | Sequence[str] = (),
    cache: StepCache | None = None,
    refresh: bool = False,
    device: str | None = None,
) -> dict[str, Audio]:
    """Separate a song (a file or :class:`Audio`) with a preset, step overrides and skips.

    Returns the stems by role: ``vocals`` and ``instrumental`` (the vocals step), ``main``
    and ``backup`` (karaoke), ``dry`` and ``reverb`` (de-reverb), and ``lead``, the voice
    a cover converts. A step given several times in ``steps`` is an ensemble, combined
    by ``combine`` (see :func:`plan_separation`). Each step is cached
    (:mod:`urvc_core.cache`); the cache holds the same stems whatever ``device`` (see
    :func:`~urvc_core.devices.use_device`) the separators ran on.
    """
    from urvc_core.audio import load_audio
    from urvc_core.cache import file_digest
    from urvc_core.devices import use_device

    plan, _ = plan_separation(preset, steps, skip, combine)
    if isinstance(song, Audio):
        ref = StemRef.of_audio(song)
    else:
        path = Path(song)
        audio = load_audio(path)
        ref = StemRef(file_digest(path), path, audio.duration, audio)
    with use_device(device):
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


def _stem_file(folder: Path, song: str, role: str, fmt: str) -> Path:
    """Where ``urvc separate`` writes a stem: ``<song> (<Stem>).<format>``."""
    return folder / f"{song} ({STEM_TITLES.get(role, role)}).{fmt}"


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
    combine: Mapping[str, str] | Sequence[str] = (),
    output_format: str = "wav",
    cookies: str | Path | None = None,
    refresh: bool = False,
    cache: StepCache | None = None,
    device: str | None = None,
) -> list[SeparatedSong]:
    """Separate songs (files, folders, URLs) and write each stem as ``<song> (<Stem>).<ext>``.

    What ``urvc separate`` does; the steps are cached like a cover's, so a cover of the
    same song afterwards starts from them (and the other way round). A song that fails
    (damaged, or whose stems would replace an input) does not stop the others: once
    all are done, :class:`~urvc_core.errors.BatchError` names each that failed and
    carries the results of the rest. ``device`` is where the separators run (see
    :func:`~urvc_core.devices.use_device`); a device torch can't see fails at once.
    """
    from urvc_core.audio import (
        check_output_is_not_an_input,
        load_audio,
        save_audio,
        write_format_for,
    )
    from urvc_core.devices import use_device
    from urvc_core.errors import raise_batch_failures
    from urvc_core.home import urvc_home
    from urvc_core.sources import resolve_sources

    fmt = write_format_for(Path("stem"), output_format)
    plan, notes = plan_separation(preset, steps, skip, combine)
    if not plan:
        raise UrvcError("Every separation step is skipped: there is nothing to do.")
    folder = Path(output_dir) if output_dir is not None else urvc_home().outputs
    results: list[SeparatedSong] = []
    failures: list[tuple[str, UrvcError]] = []
    with use_device(device):  # a device torch can't see fails here, before any work
        found = resolve_sources(list(sources), cookies=cookies)
        inputs = [source.path for source in found]
        for source in found:
            try:
                for role in STEM_TITLES:  # every stem a chain can produce, before any work
                    check_output_is_not_an_input(_stem_file(folder, source.name, role, fmt), inputs)
                song = StemRef.of_file(
                    source.sha256, source.path, functools.partial(load_audio, source.path)
                )
                run = run_separation(song, plan, cache=cache, refresh=refresh)
                produced = [role for report in run.steps for role in report.outputs]
                files: dict[str, Path] = {}
                for role in produced:
                    stem_file = _stem_file(folder, source.name, role, fmt)
                    check_output_is_not_an_input(stem_file, inputs)
                    files[role] = save_audio(run.stems[role].load(), stem_file)
                    run.stems[role].release()
            except UrvcError as exc:
                failures.append((source.origin, exc))
                continue
            results.append(SeparatedSong(source, files, run.steps, list(notes)))
    raise_batch_failures(results, failures)
    return results
