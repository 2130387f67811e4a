"""The UVR models audio-separator runs, and putting their files where it looks for them.

audio-separator downloads behind its caller's back: when a file is missing from its
model folder it fetches UVR's model list (``download_checks.json``), the parameters of
MDX-Net and VR models (``mdx_model_data.json``, ``vr_model_data.json``, looked up by the
model file's MD5) and the model files themselves, with ``requests`` and no resume,
checksum or offline mode. This module makes every one of those files come through urvc's
asset store instead, into audio-separator's model folder (``<urvc home>/assets/
audio-separator/``), *before* audio-separator looks: it then finds them all and never
opens a connection.

The same knowledge answers ``urvc separators models`` offline, from what ships inside the
audio-separator wheel (``models.json``, ``models-scores.json``, ``model-data.json``) plus
UVR's list when it has been downloaded once.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import urllib.error
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urvc_core.assets import Asset, AssetStore
from urvc_core.errors import AssetError, InvalidSettingError, UrvcError
from urvc_separator_mdx.stem_names import title_case, urvc_stem_names

#: audio-separator's model folder, relative to the asset store's root.
MODEL_FOLDER = "audio-separator"
DOWNLOAD_CHECKS_FILE = "download_checks.json"
MDX_MODEL_DATA_FILE = "mdx_model_data.json"
VR_MODEL_DATA_FILE = "vr_model_data.json"

# Where audio-separator 0.47 fetches from; kept identical so that a file urvc downloads is
# byte for byte the one audio-separator would have.
UVR_DATA_URL = "https://raw.githubusercontent.com/TRvlvr/application_data/main"
UVR_MODELS_URL = "https://github.com/TRvlvr/model_repo/releases/download/all_public_uvr_models"
UVR_VIP_MODELS_URL = "https://github.com/Anjok0109/ai_magic/releases/download/v5"
AUDIO_SEPARATOR_MODELS_URL = (
    "https://github.com/nomadkaraoke/python-audio-separator/releases/download/model-configs"
)

CATALOGUE_ASSETS: dict[str, Asset] = {
    DOWNLOAD_CHECKS_FILE: Asset(
        name="uvr-download-checks",
        url=f"{UVR_DATA_URL}/filelists/download_checks.json",
        filename=f"{MODEL_FOLDER}/{DOWNLOAD_CHECKS_FILE}",
        description="UVR's list of separation models (audio-separator reads it to find one)",
    ),
    MDX_MODEL_DATA_FILE: Asset(
        name="uvr-mdx-model-data",
        url=f"{UVR_DATA_URL}/mdx_model_data/model_data_new.json",
        filename=f"{MODEL_FOLDER}/{MDX_MODEL_DATA_FILE}",
        description="UVR's MDX-Net model parameters, by the model file's MD5",
    ),
    VR_MODEL_DATA_FILE: Asset(
        name="uvr-vr-model-data",
        url=f"{UVR_DATA_URL}/vr_model_data/model_data_new.json",
        filename=f"{MODEL_FOLDER}/{VR_MODEL_DATA_FILE}",
        description="UVR's VR Arch model parameters, by the model file's MD5",
    ),
}


class Family(enum.StrEnum):
    """The UVR model families, each one separator backend (its name is the value)."""

    MDX = "mdx"
    MDXC = "mdxc"
    VR = "vr"
    DEMUCS = "demucs"

    @property
    def audio_separator_type(self) -> str:
        """The family's key in audio-separator's model list and parameters."""
        return {"mdx": "MDX", "mdxc": "MDXC", "vr": "VR", "demucs": "Demucs"}[self.value]

    @property
    def label(self) -> str:
        return {
            "mdx": "MDX-Net",
            "mdxc": "MDX23C / Roformer",
            "vr": "VR Arch",
            "demucs": "Demucs",
        }[self.value]

    @property
    def file_suffixes(self) -> tuple[str, ...]:
        return {
            "mdx": (".onnx",),
            "mdxc": (".ckpt", ".pth", ".th"),
            "vr": (".pth",),
            "demucs": (".yaml",),
        }[self.value]


@dataclass(frozen=True)
class ModelFile:
    """One file a model needs in the model folder, and where to download it from.

    The URLs are tried in order; the next one only when the server says the file is
    not there (HTTP 404), which is audio-separator's own fallback from UVR's release to
    its own.
    """

    filename: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class SeparationModel:
    """A separation model urvc knows: its family, its files, its stems and its scores.

    ``stems`` are urvc's names (see :mod:`urvc_separator_mdx.stem_names`) and may be empty
    when nothing local says what the model gives; ``scores`` are the median SDR, SIR,
    SAR and ISR published with audio-separator per stem, where measured.
    """

    filename: str
    family: Family
    name: str
    files: tuple[ModelFile, ...]
    stems: tuple[str, ...] = ()
    target_stem: str | None = None
    karaoke: bool = False
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def as_dict(self, present: bool | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "filename": self.filename,
            "family": self.family.value,
            "name": self.name,
            "stems": list(self.stems),
            "target_stem": self.target_stem,
            "scores": {stem: dict(values) for stem, values in self.scores.items()},
            "files": [f.filename for f in self.files],
        }
        if present is not None:
            data["present"] = present
        return data


@dataclass(frozen=True)
class ModelStatus:
    """A known model and whether all of its files are in the model folder."""

    model: SeparationModel
    present: bool

    def as_dict(self) -> dict[str, Any]:
        return self.model.as_dict(present=self.present)


def model_folder(store: AssetStore | None = None) -> Path:
    """audio-separator's model folder: ``<asset root>/audio-separator``."""
    from urvc_core.catalogue import asset_store

    return (store or asset_store()).root / MODEL_FOLDER


# -- the models the plugin declares to the asset store --------------------------


def _uvr_model(filename: str, description: str, sha256: str | None = None) -> Asset:
    return Asset(
        name=filename,
        url=f"{UVR_MODELS_URL}/{filename}",
        filename=f"{MODEL_FOLDER}/{filename}",
        sha256=sha256,
        description=description,
    )


def _uvr_config(filename: str, description: str, sha256: str) -> Asset:
    return Asset(
        name=filename,
        url=f"{UVR_DATA_URL}/mdx_model_data/mdx_c_configs/{filename}",
        filename=f"{MODEL_FOLDER}/{filename}",
        sha256=sha256,
        description=description,
    )


#: Models declared as assets: the cover pipeline's defaults and their close relatives.
#: Neither UVR nor audio-separator publishes sha256 digests of the weights, so only the
#: YAML configs (hashed from UVR's repository) carry one; audio-separator's MD5 lookup
#: of an MDX-Net or VR file in UVR's parameters is the check the weights get. Every other
#: model in the catalogue is downloaded through the same store on first use, undeclared.
MODEL_ASSETS: dict[str, Asset] = {
    asset.name: asset
    for asset in (
        _uvr_model("UVR-MDX-NET-Voc_FT.onnx", "MDX-Net vocals/instrumental (UVR Voc FT)"),
        _uvr_model("UVR-MDX-NET-Inst_HQ_4.onnx", "MDX-Net instrumental/vocals (UVR Inst HQ 4)"),
        _uvr_model("UVR_MDXNET_KARA_2.onnx", "MDX-Net karaoke: main and backup vocals"),
        _uvr_model("Reverb_HQ_By_FoxJoy.onnx", "MDX-Net de-reverb (FoxJoy Reverb HQ)"),
        _uvr_model(
            "model_bs_roformer_ep_317_sdr_12.9755.ckpt",
            "BS-Roformer vocals/instrumental (viperx, SDR 12.97)",
        ),
        _uvr_config(
            "model_bs_roformer_ep_317_sdr_12.9755.yaml",
            "config of model_bs_roformer_ep_317_sdr_12.9755.ckpt",
            "2bfdd16c656bd9519aba757cc4f8834b7ede675eb1e00ec4772d74ae1c41af7f",
        ),
        _uvr_model("MDX23C-8KFFT-InstVoc_HQ.ckpt", "MDX23C vocals/instrumental (InstVoc HQ)"),
        _uvr_config(
            "model_2_stem_full_band_8k.yaml",
            "config of MDX23C-8KFFT-InstVoc_HQ.ckpt",
            "451765e869b78dcb9ca9188a74da31f581b7254ff0e8b532aa76b974148de947",
        ),
        _uvr_model("UVR-DeEcho-DeReverb.pth", "VR de-echo and de-reverb (FoxJoy)"),
        _uvr_model("UVR-De-Echo-Normal.pth", "VR de-echo (FoxJoy)"),
        _uvr_model("5_HP-Karaoke-UVR.pth", "VR karaoke: main and backup vocals"),
    )
}


def declared_assets() -> list[Asset]:
    """Every asset this plugin declares: UVR's catalogue files and the known models."""
    return [*CATALOGUE_ASSETS.values(), *MODEL_ASSETS.values()]


# -- the catalogue ---------------------------------------------------------------


def list_models(family: Family | str | None = None) -> list[ModelStatus]:
    """Every model urvc knows, offline, with whether its files are in the model folder.

    The list comes from the audio-separator wheel (its own model list and the published
    scores) and from UVR's ``download_checks.json`` when it is on disk; nothing is
    downloaded.
    """
    from urvc_core.catalogue import asset_store

    wanted = Family(family) if family is not None else None
    store = asset_store()
    folder = model_folder(store)
    catalogue = _catalogue(folder)
    statuses = []
    for model in sorted(catalogue.values(), key=lambda m: (m.family.value, m.filename.lower())):
        if wanted is not None and model.family is not wanted:
            continue
        model = _with_local_stems(model, folder)
        present = all((folder / f.filename).is_file() for f in model.files)
        statuses.append(ModelStatus(model, present))
    return statuses


def find_model(filename: str, folder: Path) -> SeparationModel | None:
    """The catalogue's entry for ``filename`` (a model file, or a Demucs YAML), if any."""
    catalogue = _catalogue(folder)
    model = catalogue.get(filename)
    if model is None:
        for candidate in catalogue.values():
            if any(f.filename == filename for f in candidate.files):
                model = candidate
                break
    return _with_local_stems(model, folder) if model is not None else None


def describe_model(filename: str, family: Family, folder: Path) -> SeparationModel:
    """What is known about a model before anything is downloaded, checking its family.

    A model absent from every local list is described by its family alone (no stems
    yet): the full catalogue is downloaded when it is first used.
    """
    model = find_model(filename, folder)
    check_family(filename, family, model)
    if model is None:
        return SeparationModel(filename, family, filename, (ModelFile(filename, ()),))
    return model


def check_family(filename: str, family: Family, model: SeparationModel | None = None) -> None:
    """Refuse a model of another family, naming the separator that runs it."""
    actual = model.family if model is not None else _family_from_suffix(filename)
    if actual is not None and actual is not family:
        raise InvalidSettingError(
            f"separator '{family.value}': {filename} is a {actual.label} model; "
            f"use the '{actual.value}' separator for it (`urvc separators models` lists "
            f"each model's family)."
        )
    if actual is None and not filename.lower().endswith(family.file_suffixes):
        raise InvalidSettingError(
            f"separator '{family.value}': {filename!r} is not a model file of the "
            f"{family.label} family (those end in {', '.join(family.file_suffixes)}); "
            f"`urvc separators models "
            f"--family {family.value}` lists them."
        )


def prepare_model_files(
    filename: str, family: Family, store: AssetStore | None = None, *, progress: bool = True
) -> SeparationModel:
    """Put every file audio-separator will look for into its model folder, through the store.

    That is UVR's model list, for an MDX-Net or VR model both parameter files, and the
    model's own files. Files already there are used as they are; a missing one is
    downloaded by the asset store (resumed, checked where its sha256 is known), or with
    ``URVC_OFFLINE=1`` an :class:`~urvc_core.errors.OfflineError` says where to put it.
    """
    from urvc_core.catalogue import asset_store

    store = store or asset_store()
    folder = model_folder(store)
    _place_catalogue_file(store, folder, DOWNLOAD_CHECKS_FILE, progress=progress)
    model = find_model(filename, folder)
    if model is None:
        raise UrvcError(
            f"{filename} is not a model audio-separator knows: it is in neither UVR's "
            f"model list ({folder / DOWNLOAD_CHECKS_FILE}) nor audio-separator's; "
            f"`urvc separators models` lists the known ones, by file name."
        )
    check_family(filename, family, model)
    if family in (Family.MDX, Family.VR):
        for catalogue_file in (MDX_MODEL_DATA_FILE, VR_MODEL_DATA_FILE):
            _place_catalogue_file(store, folder, catalogue_file, progress=progress)
    for model_file in model.files:
        _place_model_file(store, folder, model_file, progress=progress)
    return _with_local_stems(model, folder)


def model_parameters(path: Path, folder: Path) -> dict[str, Any] | None:
    """An MDX-Net or VR model's parameters, found by MD5 as audio-separator finds them."""
    digest = audio_separator_hash(path)
    wheel = _wheel_json("model-data.json")
    for local_name, wheel_key in (
        (MDX_MODEL_DATA_FILE, "mdx_model_data"),
        (VR_MODEL_DATA_FILE, "vr_model_data"),
    ):
        table = {**_read_json(folder / local_name), **wheel.get(wheel_key, {})}
        if digest in table:
            return dict(table[digest])
    return None


def audio_separator_hash(path: Path) -> str:
    """MD5 of the file's last 10,240,000 bytes (all of a smaller file): audio-separator's key."""
    tail = 10000 * 1024
    with path.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - tail))
        return hashlib.md5(file.read()).hexdigest()


# -- putting files in place ----------------------------------------------------


def _place_catalogue_file(
    store: AssetStore, folder: Path, filename: str, *, progress: bool
) -> None:
    target = folder / filename
    if target.is_file():
        return
    _link_into_folder(store.fetch(CATALOGUE_ASSETS[filename], progress=progress), target)


def _place_model_file(
    store: AssetStore, folder: Path, model_file: ModelFile, *, progress: bool
) -> None:
    target = folder / model_file.filename
    if target.is_file():
        return
    declared = MODEL_ASSETS.get(model_file.filename)
    if declared is not None:
        _link_into_folder(store.fetch(declared, progress=progress), target)
        return
    if not model_file.urls:
        raise UrvcError(
            f"{model_file.filename} is not in the model folder {folder} and no download "
            f"address is known for it; put it there by hand."
        )
    last_error: AssetError | None = None
    for url in model_file.urls:
        try:
            store.download(url, target, progress=progress, description=model_file.filename)
            return
        except AssetError as exc:
            if not _is_not_found(exc):
                raise
            last_error = exc
    assert last_error is not None
    raise AssetError(
        f"{model_file.filename} is at none of its known addresses "
        f"({', '.join(model_file.urls)}); the model may have moved. Put it in {folder} by hand."
    ) from last_error


def _link_into_folder(path: Path, target: Path) -> None:
    """Make a file the user keeps elsewhere (``[asset_paths]``) visible in the model folder."""
    if path.resolve() == target.resolve():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.symlink_to(path.resolve())
    except OSError as exc:
        raise AssetError(
            f"could not link {path} into audio-separator's model folder as {target}: "
            f"{exc.strerror or exc}; copy the file there by hand"
        ) from exc


def _is_not_found(error: AssetError) -> bool:
    cause = error.__cause__
    return isinstance(cause, urllib.error.HTTPError) and cause.code == 404


# -- reading the lists -----------------------------------------------------------


def _catalogue(folder: Path) -> dict[str, SeparationModel]:
    """Every model by file name, built the way audio-separator builds its own list."""
    wheel_lists = _wheel_json("models.json")
    scores = _wheel_json("models-scores.json")
    uvr_lists = _read_json(folder / DOWNLOAD_CHECKS_FILE)
    models: dict[str, SeparationModel] = {}

    def add(model: SeparationModel) -> None:
        models.setdefault(model.filename, model)

    for name, filename in _entries(uvr_lists, wheel_lists, "vr_download_list"):
        add(_single_file_model(filename, Family.VR, name, scores))
    for name, filename in _entries(
        uvr_lists, wheel_lists, "mdx_download_list", "mdx_download_vip_list"
    ):
        add(_single_file_model(filename, Family.MDX, name, scores))
    for name, files in _entries(
        uvr_lists,
        wheel_lists,
        "mdx23c_download_list",
        "mdx23c_download_vip_list",
        "roformer_download_list",
    ):
        if isinstance(files, dict) and files:
            add(_mdxc_model(name, files, scores))
    for name, files in uvr_lists.get("demucs_download_list", {}).items():
        # audio-separator runs Demucs v4 only.
        if name.startswith("Demucs v4") and isinstance(files, dict):
            model = _demucs_model(name, files, scores)
            if model is not None:
                add(model)
    # Models with published scores that no list on disk names (UVR's list not yet
    # downloaded): known by name, family and stems; their files are settled once the
    # list is there.
    for filename, entry in scores.items():
        if filename not in models:
            family = _family_from_name(entry.get("model_name", "")) or _family_from_suffix(filename)
            if family is not None:
                add(_single_file_model(filename, family, entry.get("model_name", filename), scores))
    return models


def _entries(
    uvr_lists: Mapping[str, Any], wheel_lists: Mapping[str, Any], *list_names: str
) -> Iterator[tuple[str, Any]]:
    # UVR's lists first, then audio-separator's, in audio-separator's merge order.
    for source in (uvr_lists, wheel_lists):
        for list_name in list_names:
            yield from (source.get(list_name) or {}).items()


def _single_file_model(
    filename: str, family: Family, name: str, scores: Mapping[str, Any]
) -> SeparationModel:
    files = (ModelFile(filename, _model_urls(filename, name)),)
    return _scored(SeparationModel(filename, family, name, files), scores)


def _model_urls(filename: str, name: str) -> tuple[str, str]:
    """UVR's release (its VIP one for VIP models), then audio-separator's, as it tries them."""
    prefix = UVR_VIP_MODELS_URL if "VIP" in name else UVR_MODELS_URL
    return (f"{prefix}/{filename}", f"{AUDIO_SEPARATOR_MODELS_URL}/{filename}")


def _mdxc_model(name: str, files: Mapping[str, str], scores: Mapping[str, Any]) -> SeparationModel:
    checkpoint, config = next(iter(files.items()))
    model_files = (
        ModelFile(checkpoint, _model_urls(checkpoint, name)),
        ModelFile(
            config,
            (
                f"{UVR_DATA_URL}/mdx_model_data/mdx_c_configs/{config}",
                f"{AUDIO_SEPARATOR_MODELS_URL}/{config}",
            ),
        ),
    )
    return _scored(SeparationModel(checkpoint, Family.MDXC, name, model_files), scores)


def _demucs_model(
    name: str, files: Mapping[str, str], scores: Mapping[str, Any]
) -> SeparationModel | None:
    config = next((f for f in files if f.endswith(".yaml")), None)
    if config is None:
        return None
    model_files = tuple(ModelFile(f, (url,)) for f, url in files.items())
    return _scored(SeparationModel(config, Family.DEMUCS, name, model_files), scores)


def _scored(model: SeparationModel, scores: Mapping[str, Any]) -> SeparationModel:
    entry = scores.get(model.filename) or {}
    raw_stems = [str(s) for s in entry.get("stems") or []]
    karaoke = _looks_karaoke(model.filename, model.name)
    names = urvc_stem_names(raw_stems, karaoke=karaoke)
    # Scores are keyed by lowercase stem names; match them to the stems case-blind.
    by_lower = {raw.lower(): urvc for raw, urvc in names.items()}
    published = {
        by_lower.get(stem.lower(), title_case(stem)): {k: float(v) for k, v in values.items()}
        for stem, values in (entry.get("median_scores") or {}).items()
        if isinstance(values, dict)
    }
    target = entry.get("target_stem")
    return SeparationModel(
        model.filename,
        model.family,
        model.name,
        model.files,
        stems=tuple(names[s] for s in raw_stems),
        target_stem=by_lower.get(str(target).lower()) if target else None,
        karaoke=karaoke,
        scores=published,
    )


def _with_local_stems(model: SeparationModel, folder: Path) -> SeparationModel:
    """The model with stems read from its own files, when they are in the folder.

    What audio-separator will actually name the stems comes from the model's parameters
    (MDX-Net, VR: ``primary_stem``; MDX23C, Roformer: the YAML's ``instruments``), which
    beats the published list.
    """
    raw_stems: list[str] = []
    karaoke = model.karaoke
    if model.family in (Family.MDX, Family.VR):
        path = folder / model.filename
        if path.is_file():
            parameters = model_parameters(path, folder)
            if parameters is not None:
                primary = str(parameters.get("primary_stem", "Vocals"))
                raw_stems = [primary, _secondary_stem(primary)]
                karaoke = karaoke or bool(parameters.get("is_karaoke"))
                karaoke = karaoke or bool(parameters.get("is_bv_model"))
    elif model.family is Family.MDXC and len(model.files) > 1:
        config = folder / model.files[1].filename
        if config.is_file():
            raw_stems = _yaml_stems(config)
    elif model.family is Family.DEMUCS and not model.stems and (folder / model.filename).is_file():
        # What audio-separator writes for a Demucs v4 bag; the sources themselves are
        # inside the pickled packages, which are not opened just to name stems.
        raw_stems = ["Bass", "Drums", "Other", "Vocals"]
        if "6s" in model.filename:
            raw_stems += ["Guitar", "Piano"]
    if not raw_stems:
        return model
    names = urvc_stem_names(raw_stems, karaoke=karaoke)
    return SeparationModel(
        model.filename,
        model.family,
        model.name,
        model.files,
        stems=tuple(names[s] for s in raw_stems),
        target_stem=names[raw_stems[0]] if model.family is not Family.DEMUCS else None,
        karaoke=karaoke,
        scores=model.scores,
    )


def _secondary_stem(primary: str) -> str:
    """audio-separator's name for the second stem of a two-stem model (CommonSeparator)."""
    pairs = {"Vocals": "Instrumental", "Instrumental": "Vocals"}
    if primary in pairs:
        return pairs[primary]
    return primary.replace("No ", "") if "No " in primary else f"No {primary}"


def _yaml_stems(config: Path) -> list[str]:
    import yaml

    try:
        data = yaml.load(config.read_text(encoding="utf-8"), Loader=yaml.FullLoader)
    except (OSError, yaml.YAMLError):
        return []
    training = (data or {}).get("training") or {}
    instruments = [str(i) for i in training.get("instruments") or []]
    target = training.get("target_instrument")
    if target and len(instruments) >= 2 and instruments[0] != target and instruments[1] == target:
        instruments[0], instruments[1] = instruments[1], instruments[0]
    return instruments


def _looks_karaoke(filename: str, name: str) -> bool:
    text = f"{filename} {name}".lower()
    return any(word in text for word in ("karaoke", "kara_", "_kara", "bve", "backing"))


def _family_from_name(name: str) -> Family | None:
    if name.startswith("VR Arch"):
        return Family.VR
    if name.startswith("MDX-Net"):
        return Family.MDX
    if name.startswith(("MDX23C", "Roformer")):
        return Family.MDXC
    if name.startswith("Demucs"):
        return Family.DEMUCS
    return None


def _family_from_suffix(filename: str) -> Family | None:
    suffix = Path(filename).suffix.lower()
    return {".onnx": Family.MDX, ".ckpt": Family.MDXC, ".yaml": Family.DEMUCS}.get(suffix)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UrvcError(
            f"{path} is not readable JSON ({exc}); delete it and urvc will download it again."
        ) from exc
    return data if isinstance(data, dict) else {}


_WHEEL_CACHE: dict[str, dict[str, Any]] = {}


def _wheel_json(name: str) -> dict[str, Any]:
    """A JSON file that ships inside the audio-separator package, without importing it."""
    if name not in _WHEEL_CACHE:
        import importlib.util

        spec = importlib.util.find_spec("audio_separator")
        if spec is None or not spec.submodule_search_locations:
            raise UrvcError(
                "audio-separator is not installed; install it with `pip install --no-deps "
                "audio-separator==0.47.1 onnx2torch-py313==1.6.0` (see the urvc-separator-mdx "
                "README for why --no-deps)."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / name
        _WHEEL_CACHE[name] = json.loads(path.read_text(encoding="utf-8"))
    return _WHEEL_CACHE[name]
