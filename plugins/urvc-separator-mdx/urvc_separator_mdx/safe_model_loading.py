"""Reading UVR model files without ever running code from them.

A ``.th``, ``.pth`` or ``.ckpt`` file is a pickle, and unpickling can call any function
the file names. Separation models are shared by strangers, so no file may be unpickled
freely. audio-separator 0.47.1 reads a model's files in these places:

* Demucs ``.th``: ``uvr_lib_v5/demucs/states.py`` ``load_model``, on every separation,
  with ``torch.load(..., weights_only=False)``: full unpickling, whatever the torch.
* VR ``.pth`` (``architectures/vr_separator.py``), MDX23C ``.ckpt``
  (``architectures/mdxc_separator.py``) and Roformer ``.ckpt``
  (``roformer/roformer_loader.py``): ``torch.load`` with torch's default, which is
  weights-only from torch 2.6, but full unpickling on torch 2.3 to 2.5 (which
  audio-separator accepts) and wherever ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` is set.
* The YAML configs of MDX23C, Roformer and Demucs models (``separator.py``
  ``load_model_data_from_yaml``): ``yaml.FullLoader``, which calls nothing itself but
  turns a ``!!python/name:`` tag into any function of an imported module and hands it
  to the model's code as a setting.
* MDX-Net ``.onnx`` files (ONNX Runtime, onnx2torch) and the JSON parameter tables hold
  no code.

Two defences, both installed by the separators before audio-separator sees a model:

1. :func:`check_model_files` reads every torch file of the model with torch's
   weights-only unpickler (storages memory-mapped, so nothing is copied) and every YAML
   with a safe loader that also knows ``!!python/tuple`` (UVR's Roformer configs use
   it). For Demucs the unpickler also accepts :func:`demucs_checkpoint_globals`,
   exactly what a published Demucs package names besides tensors. A file that needs
   anything else is refused with :class:`UnsafeModelFileError`; one that passes holds
   nothing whose unpickling can run code, whichever unpickler reads it next.
2. Demucs asks for full unpickling outright and reads its ``.th`` files again on every
   separation, so :func:`install_safe_demucs_loader` also replaces the one function
   that turns a Demucs file into a model: the name ``load_model`` in
   ``uvr_lib_v5/demucs/repo.py``, which ``LocalRepo.get_model`` calls with the file's
   path. The replacement reads the package with the same allow-list and hands the dict
   to Demucs's own ``states.load_model``, which takes a package as well as a path. So
   the bytes that become the model are the bytes read safely, not a file checked
   earlier and read again unsafely. Nothing else in audio-separator is patched.
   (Demucs's ``RemoteRepo``, which downloads and fully unpickles through ``torch.hub``,
   is never reached: audio-separator always hands Demucs the model folder.)

urvc's kernel reads voice models with :func:`urvc_core.rvc.checkpoints.load_checkpoint`,
which falls back to turning unknown classes into inert records. That suits a file urvc
reads itself; here audio-separator reads the file again after the check, so a file is
either accepted by the strict weights-only unpickler or refused, never read leniently.
"""

from __future__ import annotations

import functools
import pickle
import re
import threading
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from urvc_core.errors import AssetError
from urvc_separator_mdx.model_catalogue import Family, SeparationModel

#: Suffixes of the files audio-separator reads with ``torch.load``.
TORCH_SUFFIXES = (".th", ".pth", ".ckpt", ".pt")
#: The first torch release whose weights-only unpickler takes an allow-list entry under a
#: name of urvc's choosing (published Demucs files name ``demucs.htdemucs.HTDemucs``; the
#: class lives in audio-separator's copy of Demucs).
_NAMED_SAFE_GLOBALS_TORCH = (2, 6)
_DEMUCS_PACKAGE = "audio_separator.separator.uvr_lib_v5.demucs"
#: How torch's weights-only unpickler names the global it refused, in its messages.
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
#: What its messages say when it refuses something (rather than finding the file broken):
#: a global, an opcode, or building or calling an object outside its list.
_REFUSALS = ("GLOBAL", "Unsupported", "unsupported", "Can only", "allowlisted", "Only persistent")
_install_lock = threading.Lock()


class UnsafeModelFileError(AssetError):
    """A model file needs more than weights to load: unpickling it could run code."""


def demucs_checkpoint_globals() -> list[tuple[Callable[..., Any], str]]:
    """What a Demucs package may name besides tensors, each under the names it is saved as.

    Demucs saves ``{'klass', 'args', 'kwargs', 'state', 'training_args'}``: the model
    class (HTDemucs for v4, HDemucs for ``hdemucs_mmi``), its constructor arguments (the
    segment length is a :class:`fractions.Fraction`), half-precision tensors, and the
    training configuration, where a few values are numpy scalars. Published files name
    the classes ``demucs.<module>.<class>``; a package saved with audio-separator's copy
    of Demucs names them by that copy's module. Tensors, ``OrderedDict`` and
    ``_codecs.encode`` (numpy's bytes) are in torch's own list.
    """
    import fractions

    import numpy
    from audio_separator.separator.uvr_lib_v5.demucs.hdemucs import HDemucs
    from audio_separator.separator.uvr_lib_v5.demucs.htdemucs import HTDemucs

    allowed: list[tuple[Callable[..., Any], str]] = []
    for module, model_class in (("htdemucs", HTDemucs), ("hdemucs", HDemucs)):
        for package in ("demucs", _DEMUCS_PACKAGE):
            allowed.append((model_class, f"{package}.{module}.{model_class.__name__}"))
    allowed.append((fractions.Fraction, "fractions.Fraction"))
    # numpy 1 pickled its scalars as numpy.core.multiarray.scalar, numpy 2 as
    # numpy._core.multiarray.scalar; both rebuild a number from its dtype and bytes.
    scalar = numpy._core.multiarray.scalar  # type: ignore[attr-defined]
    allowed += [(scalar, "numpy.core.multiarray.scalar"), (scalar, f"{scalar.__module__}.scalar")]
    allowed.append((numpy.dtype, "numpy.dtype"))
    # A pickled dtype is rebuilt, then given its state: the unpickler only sets the state
    # of objects whose class is allowed, so the number types' dtype classes are listed.
    for kind in (numpy.float64, numpy.float32, numpy.int64, numpy.int32, numpy.bool_):
        dtype_class = type(numpy.dtype(kind))
        allowed.append((dtype_class, f"numpy.dtypes.{dtype_class.__name__}"))
    return allowed


def demucs_model_classes() -> tuple[type, ...]:
    """The classes a Demucs package's ``klass`` may be."""
    from audio_separator.separator.uvr_lib_v5.demucs.hdemucs import HDemucs
    from audio_separator.separator.uvr_lib_v5.demucs.htdemucs import HTDemucs

    return (HTDemucs, HDemucs)


def load_demucs_package(path: Path) -> dict[str, Any]:
    """A Demucs package (``klass``, ``args``, ``kwargs``, ``state``) read without running code.

    Raises :class:`UnsafeModelFileError` naming ``path`` when the file names anything
    outside :func:`demucs_checkpoint_globals`, and :class:`AssetError` when it is not a
    Demucs package at all or can't be read.
    """
    path = Path(path)
    package = _weights_only_load(path, _demucs_allow_list(path), "Demucs", memory_map=False)
    _check_demucs_package(package, path)
    return package


def check_model_files(model: SeparationModel, folder: Path) -> None:
    """Refuse ``model`` if any of its files in ``folder`` could run code when loaded.

    Torch files are read with torch's weights-only unpickler (Demucs's with its
    allow-list), YAML configs with a safe loader; ``.onnx`` and JSON files hold no code.
    Files not in the folder are skipped: audio-separator reports those itself.
    """
    for model_file in model.files:
        path = folder / model_file.filename
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in TORCH_SUFFIXES:
            if model.family is Family.DEMUCS:
                package = _weights_only_load(
                    path, _demucs_allow_list(path), "Demucs", memory_map=True
                )
                _check_demucs_package(package, path)
            else:
                _weights_only_load(path, [], model.family.label, memory_map=True)
        elif suffix in (".yaml", ".yml"):
            load_model_config(path)


def load_model_config(path: Path) -> Any:
    """A model's YAML config, read by a loader that makes no Python objects.

    UVR's configs are plain YAML, except that Roformer configs write band lists as
    ``!!python/tuple``; that tag is read as a tuple, and any other ``!!python/...`` tag
    (which audio-separator's ``FullLoader`` would resolve to a function or class) is
    refused with :class:`UnsafeModelFileError`.
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as file:
            return yaml.load(file, Loader=_model_config_loader())
    except yaml.constructor.ConstructorError as exc:
        tag = (exc.problem or "").rpartition("tag ")[2].strip("'\"") or "python/..."
        tag = tag.replace("tag:yaml.org,2002:", "!!")
        raise UnsafeModelFileError(
            f"{path} can't be read safely: it uses the YAML tag {tag}, and a model config "
            f"holds only numbers, strings, lists and !!python/tuple; delete it and get the "
            f"model from a source you trust."
        ) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AssetError(
            f"{path} can't be read as a YAML model config ({detail}); delete it and urvc "
            f"will download it again."
        ) from exc


def install_safe_demucs_loader() -> None:
    """Make audio-separator's copy of Demucs read its ``.th`` files with the allow-list.

    Idempotent, and kept for the life of the process: no urvc path wants the unsafe
    loader back.
    """
    from audio_separator.separator.uvr_lib_v5.demucs import repo

    with _install_lock:
        if getattr(repo.load_model, "urvc_safe_loader", False):
            return
        repo.load_model = _safe_demucs_load_model(repo.load_model)


def _safe_demucs_load_model(demucs_load_model: Callable[..., Any]) -> Callable[..., Any]:
    def load_model(path_or_package: Any, strict: bool = False) -> Any:
        if isinstance(path_or_package, str | Path):
            path_or_package = load_demucs_package(Path(path_or_package))
        return demucs_load_model(path_or_package, strict=strict)

    load_model.urvc_safe_loader = True  # type: ignore[attr-defined]
    load_model.__doc__ = "Demucs's load_model, reading files with urvc's allow-list."
    return load_model


def _weights_only_load(
    path: Path, allowed: Iterable[tuple[Callable[..., Any], str]], kind: str, *, memory_map: bool
) -> Any:
    import torch

    safe: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = list(allowed)
    # mmap leaves the tensors on disk: a check costs the pickle, not the weights. Files
    # from before torch 1.6 are not zip archives and can't be mapped.
    memory_map = memory_map and zipfile.is_zipfile(path)
    try:
        if not safe:
            # torch's own list only, which every torch audio-separator supports has.
            return torch.load(path, map_location="cpu", weights_only=True, mmap=memory_map)
        with torch.serialization.safe_globals(safe):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=memory_map)
    except pickle.UnpicklingError as exc:
        if any(sign in str(exc) for sign in _REFUSALS):
            raise _unsafe(path, kind, bool(safe), exc) from exc
        raise _unreadable(path, exc) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from exc


def _demucs_allow_list(path: Path) -> list[tuple[Callable[..., Any], str]]:
    import torch

    version = tuple(int(part) for part in re.findall(r"\d+", torch.__version__)[:2])
    if version < _NAMED_SAFE_GLOBALS_TORCH:
        raise UnsafeModelFileError(
            f"{path} is a Demucs model, which urvc can only load without running code "
            f"from it with torch 2.6 or newer (this is torch {torch.__version__}): "
            f"pip install 'torch>=2.6'."
        )
    return demucs_checkpoint_globals()


def _check_demucs_package(package: Any, path: Path) -> None:
    missing = (
        {"klass", "args", "kwargs", "state"} - set(package)
        if isinstance(package, dict)
        else {"klass"}
    )
    if missing:
        raise AssetError(
            f"{path} is not a Demucs model package (it has no {', '.join(sorted(missing))}); "
            f"delete it and urvc will download it again."
        )
    if package["klass"] not in demucs_model_classes():
        raise UnsafeModelFileError(
            f"{path} names {package['klass']!r} as its model, which is not a Demucs network "
            f"(HTDemucs or HDemucs); delete it and get the model from a source you trust."
        )


def _unsafe(path: Path, kind: str, allow_list: bool, exc: BaseException) -> UnsafeModelFileError:
    named = _REFUSED_GLOBAL.search(str(exc))
    what = f"names {named.group(1)}" if named else "does more than rebuild tensors"
    extra = "tensors and the Demucs network's settings" if allow_list else "tensors"
    return UnsafeModelFileError(
        f"{path} can't be loaded safely: it {what}, and a {kind} model file holds only "
        f"{extra}; unpickling it could run code, which urvc never does. Delete it and get "
        f"the model from a source you trust."
    )


def _unreadable(path: Path, exc: BaseException) -> AssetError:
    # torch's messages run on for several sentences; the first says what broke.
    detail = str(exc).split(". ")[0].splitlines()[0] if str(exc) else type(exc).__name__
    return AssetError(
        f"{path} can't be read as a torch checkpoint ({detail}); it may be truncated or "
        f"damaged: delete it and urvc will download it again."
    )


@functools.cache
def _model_config_loader() -> type:
    import yaml

    class ModelConfigLoader(yaml.SafeLoader):
        """PyYAML's safe loader, plus ``!!python/tuple`` read as a tuple."""

    def construct_tuple(loader: yaml.SafeLoader, node: yaml.Node) -> tuple[Any, ...]:
        assert isinstance(node, yaml.SequenceNode)
        return tuple(loader.construct_sequence(node, deep=True))

    ModelConfigLoader.add_constructor("tag:yaml.org,2002:python/tuple", construct_tuple)
    return ModelConfigLoader
