"""The three separation steps of a song cover, each usable on its own.

1. :func:`separate_vocals`: the song into ``vocals`` and ``instrumental``;
2. :func:`separate_main_vocals`: the vocals into the ``main`` (lead) voice and the
   ``backup`` vocals, with a karaoke model;
3. :func:`remove_reverb`: the main vocals into the ``dry`` voice and its ``reverb`` (or
   echo), with a de-reverb or de-echo model.

Each takes a model by file name, of any family, and that family's separator settings;
``models=[...]`` with ``ensemble=`` runs several models and combines them (see
:mod:`urvc_separator_mdx.ensemble`). The defaults are the models AI-cover tools use:
``UVR-MDX-NET-Voc_FT.onnx``, ``UVR_MDXNET_KARA_2.onnx``, ``Reverb_HQ_By_FoxJoy.onnx``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from urvc_core.backends import Audio, Separator
from urvc_core.errors import UrvcError
from urvc_separator_mdx import stem_names
from urvc_separator_mdx.model_catalogue import Family, find_model, model_folder

DEFAULT_VOCALS_MODEL = "UVR-MDX-NET-Voc_FT.onnx"
DEFAULT_KARAOKE_MODEL = "UVR_MDXNET_KARA_2.onnx"
DEFAULT_DEREVERB_MODEL = "Reverb_HQ_By_FoxJoy.onnx"


@dataclass(frozen=True)
class VocalSplit:
    vocals: Audio
    instrumental: Audio


@dataclass(frozen=True)
class MainVocalSplit:
    main: Audio
    backup: Audio


@dataclass(frozen=True)
class ReverbSplit:
    #: The voice without its reverb (or echo).
    dry: Audio
    #: What was taken away.
    reverb: Audio


def family_of(model: str) -> Family:
    """The family whose separator runs ``model``, from the catalogue or the file's suffix."""
    known = find_model(model, model_folder())
    if known is not None:
        return known.family
    suffix = model.lower().rsplit(".", 1)[-1]
    by_suffix = {"onnx": Family.MDX, "ckpt": Family.MDXC, "pth": Family.VR, "yaml": Family.DEMUCS}
    if suffix not in by_suffix:
        raise UrvcError(
            f"{model!r} is not a separation model file urvc knows (.onnx, .ckpt, .pth or "
            f"a Demucs .yaml); `urvc separators models` lists the known ones."
        )
    return by_suffix[suffix]


def separator_for(model: str, **settings: Any) -> Separator:
    """The registered separator of ``model``'s family, set up to run it."""
    from urvc_core.registry import get_backend

    separator = get_backend("separator", family_of(model).value, model=model, **settings)
    assert isinstance(separator, Separator)
    return separator


def separate_vocals(
    audio: Audio,
    model: str = DEFAULT_VOCALS_MODEL,
    *,
    models: Sequence[str] | None = None,
    ensemble: str = "median",
    **settings: Any,
) -> VocalSplit:
    """Split a song into vocals and instrumental."""
    stems = _run(audio, model, models, ensemble, settings)
    vocals, instrumental = _pick(
        stems, model, models, (stem_names.VOCALS, stem_names.INSTRUMENTAL), "vocal/instrumental"
    )
    return VocalSplit(vocals=vocals, instrumental=instrumental)


def separate_main_vocals(
    vocals: Audio,
    model: str = DEFAULT_KARAOKE_MODEL,
    *,
    models: Sequence[str] | None = None,
    ensemble: str = "median",
    **settings: Any,
) -> MainVocalSplit:
    """Split a vocal stem into the main voice and the backup vocals (a karaoke model)."""
    stems = _run(vocals, model, models, ensemble, settings)
    main, backup = _pick(stems, model, models, (stem_names.MAIN, stem_names.BACKUP), "karaoke")
    return MainVocalSplit(main=main, backup=backup)


def remove_reverb(
    main_vocals: Audio,
    model: str = DEFAULT_DEREVERB_MODEL,
    *,
    models: Sequence[str] | None = None,
    ensemble: str = "median",
    **settings: Any,
) -> ReverbSplit:
    """Split a voice into the dry voice and its reverb (or echo, with a de-echo model)."""
    stems = _run(main_vocals, model, models, ensemble, settings)
    pair = (
        (stem_names.NO_ECHO, stem_names.ECHO)
        if stem_names.NO_ECHO in stems and stem_names.NO_REVERB not in stems
        else (stem_names.NO_REVERB, stem_names.REVERB)
    )
    dry, reverb = _pick(stems, model, models, pair, "de-reverb or de-echo")
    return ReverbSplit(dry=dry, reverb=reverb)


def _run(
    audio: Audio,
    model: str,
    models: Sequence[str] | None,
    ensemble: str,
    settings: dict[str, Any],
) -> dict[str, Audio]:
    if models:
        from urvc_separator_mdx.ensemble import separate_with_ensemble

        return separate_with_ensemble(
            audio, list(models), ensemble, settings={m: settings for m in models}
        )
    return separator_for(model, **settings).separate(audio)


def _pick(
    stems: dict[str, Audio],
    model: str,
    models: Sequence[str] | None,
    wanted: tuple[str, str],
    kind: str,
) -> tuple[Audio, Audio]:
    missing = [name for name in wanted if name not in stems]
    if missing:
        used = ", ".join(models) if models else model
        raise UrvcError(
            f"{used} gives the stems {', '.join(stems) or 'none'}, not "
            f"{' and '.join(wanted)}: choose a {kind} model (`urvc separators models` "
            f"shows each model's stems)."
        )
    return stems[wanted[0]], stems[wanted[1]]
