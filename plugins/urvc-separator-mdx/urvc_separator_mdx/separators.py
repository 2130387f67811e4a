"""One urvc separator per UVR model family, each running audio-separator's own code.

=========  ===========================================  =====================================
backend    models                                       audio-separator parameters
=========  ===========================================  =====================================
``mdx``    MDX-Net ``.onnx`` (``UVR-MDX-NET-Voc_FT``,   ``mdx_params``: segment size, overlap,
           ``UVR_MDXNET_KARA_2``, ``Reverb_HQ...``)     batch size, denoise
``mdxc``   MDX23C, BS- and Mel-Band Roformer ``.ckpt``  ``mdxc_params``: segment size,
           with a YAML config                           overlap, batch size, pitch shift
``vr``     VR Arch ``.pth``                             ``vr_params``: window size,
                                                        aggression, TTA, post-processing
``demucs`` Demucs v4, by its ``.yaml``                  ``demucs_params``: shifts, overlap,
                                                        segment size
=========  ===========================================  =====================================

A model is chosen by its file name (setting ``model``). ``separate`` puts the model's
files in place through the asset store (:mod:`urvc_separator_mdx.model_catalogue`),
writes the input to a temporary float WAV at 44.1 kHz, lets audio-separator load the
model (once per backend instance) and separate the file with its own segmenting and
overlap-add, and reads the stems back at the input's rate, length and channel count.
Before audio-separator reads a model, every file of it is checked to hold nothing that
could run code when loaded (:mod:`urvc_separator_mdx.safe_model_loading`).
"""

from __future__ import annotations

import logging
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from urvc_core.backends import Audio, Separator, Setting
from urvc_core.errors import UrvcError
from urvc_separator_mdx.model_catalogue import (
    Family,
    SeparationModel,
    describe_model,
    model_folder,
    model_parameters,
    prepare_model_files,
)
from urvc_separator_mdx.safe_model_loading import check_model_files, install_safe_demucs_loader
from urvc_separator_mdx.stem_names import urvc_stem_names

#: The rate every UVR model was trained at, and the one audio-separator runs them at.
MODEL_SAMPLE_RATE = 44100
#: Frames written per block when handing the input to audio-separator, so that scaling
#: it never needs a second whole-song copy.
_WRITE_BLOCK = 1 << 20
_INPUT_NAME = "mixture"
_STEM_IN_FILE_NAME = re.compile(re.escape(_INPUT_NAME) + r"_\((.+?)\)_")


def _model_setting(default: str, family: Family) -> Setting:
    return Setting(
        "model",
        str,
        default,
        f"{family.label} model, by file name (`urvc separators models --family "
        f"{family.value}` lists them); downloaded through the asset store on first use",
    )


class AudioSeparatorBackend(Separator):
    """What the four family separators share: files in place, the file handoff, stem names.

    ``stems`` are the chosen model's, read from its catalogue entry or its own files;
    for a model nothing on disk describes yet they are filled in by the first
    ``separate``.
    """

    family: ClassVar[Family]
    requires_modules = ("audio_separator", "onnxruntime", "librosa")
    #: The input's peak when audio-separator gets it. Each stem it writes is scaled down
    #: if its peak passes 1.0 (``normalization_threshold``), so the mix goes in with
    #: headroom and comes back scaled by the inverse gain.
    input_peak: ClassVar[float] = 0.5

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.model: SeparationModel = describe_model(
            self.options["model"], self.family, model_folder()
        )
        self.stems = self.model.stems
        self._audio_separator: Any = None

    def architecture_params(self, model: SeparationModel) -> dict[str, Any]:
        """The family's parameters for audio-separator (``mdx_params`` and so on)."""
        raise NotImplementedError

    def separate(self, audio: Audio) -> dict[str, Audio]:
        from urvc_core.catalogue import asset_store
        from urvc_core.home import urvc_home

        if audio.num_samples == 0:
            raise UrvcError(f"separator '{self.name}': the audio has no samples to separate.")
        if not np.all(np.isfinite(audio.samples)):
            raise UrvcError(
                f"separator '{self.name}': the audio contains NaN or infinite samples; "
                f"fix whatever produced it before separating."
            )
        store = asset_store()
        self.model = prepare_model_files(self.options["model"], self.family, store)
        separator = self._loaded_separator()
        work_root = urvc_home().cache
        work_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="urvc-separate-", dir=work_root) as work:
            work_dir = Path(work)
            input_path = work_dir / f"{_INPUT_NAME}.wav"
            gain = write_model_input(audio, input_path, self.input_peak)
            separator.output_dir = str(work_dir)
            separator.model_instance.output_dir = str(work_dir)
            written = separator.separate(str(input_path))
            raw_stems = [_stem_from_file_name(Path(name).name) for name in written]
            names = urvc_stem_names(raw_stems, karaoke=self.model.karaoke)
            stems = {
                names[raw]: read_model_output(work_dir / Path(name).name, gain, audio)
                for raw, name in zip(raw_stems, written, strict=True)
            }
        if set(stems) != set(self.stems):
            # The model was described by nothing on disk until now.
            self.stems = tuple(stems)
        return {name: stems[name] for name in self.stems}

    def _loaded_separator(self) -> Any:
        """audio-separator's Separator with this backend's model loaded (once)."""
        if self._audio_separator is not None:
            return self._audio_separator
        from urvc_core.home import urvc_home

        if self.family is Family.MDX:
            from urvc_separator_mdx.onnx2torch_import import import_onnx2torch

            import_onnx2torch()
        folder = model_folder()
        # audio-separator unpickles model files (Demucs's with full unpickling, on every
        # separation): a file that needs more than weights is refused before it is read.
        check_model_files(self.model, folder)
        if self.family is Family.DEMUCS:
            install_safe_demucs_loader()
        params = self.architecture_params(self.model)
        scratch = urvc_home().cache / "audio-separator"
        with warnings.catch_warnings():
            # audio-separator switches every warning off, process-wide, when its log level
            # is above DEBUG; catch_warnings puts the filters back afterwards.
            separator = _audio_separator_class()(
                log_level=logging.WARNING,
                model_file_dir=str(folder),
                output_dir=str(scratch),
                output_format="WAV",
                use_soundfile=True,
                sample_rate=MODEL_SAMPLE_RATE,
                normalization_threshold=1.0,
                amplification_threshold=0.0,
                invert_using_spec=bool(self.options.get("spectral_inversion", False)),
                mdx_params=params if self.family is Family.MDX else {},
                mdxc_params=params if self.family is Family.MDXC else {},
                vr_params=params if self.family is Family.VR else {},
                demucs_params=params if self.family is Family.DEMUCS else {},
            )
        # AUDIO_SEPARATOR_MODEL_DIR would send it to another folder, where nothing has
        # been put in place and it would download by itself.
        separator.model_file_dir = str(folder)
        _apply_device_choice(separator, self.name)
        try:
            with warnings.catch_warnings():
                separator.load_model(model_filename=self.options["model"])
        except SystemExit as exc:
            # audio-separator calls sys.exit(1) when torch can't read a checkpoint.
            raise UrvcError(
                f"{self.options['model']} in {folder} could not be loaded: the file is "
                f"damaged or incomplete; delete it and urvc will download it again."
            ) from exc
        self._audio_separator = separator
        return separator


def _audio_separator_class() -> type:
    """audio-separator's Separator, less its demand for ffmpeg.

    Its constructor stops when no ``ffmpeg`` is on the PATH (except under pytest, so a
    test run never shows it), for pydub, which writes its stems in other formats. urvc
    gives it a WAV, which librosa reads with soundfile, and has soundfile write the
    stems (``use_soundfile``, output WAV): nothing it does for urvc runs ffmpeg.
    """
    from audio_separator.separator import Separator

    class SeparatorWithoutFfmpeg(Separator):
        def check_ffmpeg_installed(self) -> None:
            pass

    return SeparatorWithoutFfmpeg


class MdxSeparator(AudioSeparatorBackend):
    """MDX-Net models (UVR's ``.onnx`` files), run by ONNX Runtime."""

    name = "mdx"
    family = Family.MDX
    description = "UVR MDX-Net models (.onnx): vocals, karaoke, de-reverb; via audio-separator"
    #: audio-separator multiplies an MDX-Net model's output by the input's peak, as UVR
    #: does after normalising the input to a peak of 1; only a peak of 1 keeps the stems
    #: at the input's level.
    input_peak = 1.0
    settings = (
        _model_setting("UVR-MDX-NET-Voc_FT.onnx", Family.MDX),
        Setting(
            "segment_size",
            int,
            None,
            "STFT frames the network sees at a time; empty uses the model's own (256 for "
            "most UVR models), the only size ONNX Runtime runs directly: any other goes "
            "through onnx2torch, slower",
            unit="frames",
            minimum=32,
            maximum=4096,
        ),
        Setting(
            "overlap",
            float,
            0.25,
            "Share of each segment that overlaps the next: more is smoother and slower",
            minimum=0.001,
            maximum=0.999,
        ),
        Setting(
            "batch_size",
            int,
            1,
            "Segments run at once: more uses more memory, changes nothing in the result",
            minimum=1,
            maximum=32,
        ),
        Setting(
            "denoise",
            bool,
            False,
            "Run the network on the signal and its negative and average, cancelling the "
            "noise MDX-Net adds (twice as slow)",
        ),
        Setting(
            "spectral_inversion",
            bool,
            False,
            "Compute the second stem by subtracting spectrograms instead of waveforms",
        ),
    )

    #: UVR fixes MDX-Net's hop at 1024 samples; the networks were trained with it.
    hop_length: ClassVar[int] = 1024

    def architecture_params(self, model: SeparationModel) -> dict[str, Any]:
        segment_size = self.options["segment_size"]
        if segment_size is None:
            parameters = model_parameters(model_folder() / model.filename, model_folder())
            segment_size = 2 ** int((parameters or {}).get("mdx_dim_t_set", 8))
        return {
            "hop_length": self.hop_length,
            "segment_size": segment_size,
            "overlap": self.options["overlap"],
            "batch_size": self.options["batch_size"],
            "enable_denoise": self.options["denoise"],
        }


class MdxcSeparator(AudioSeparatorBackend):
    """MDX23C and Roformer (BS- and Mel-Band) checkpoints with their YAML configs."""

    name = "mdxc"
    family = Family.MDXC
    description = "UVR MDX23C and BS/Mel-Band Roformer models (.ckpt + .yaml); via audio-separator"
    settings = (
        _model_setting("model_bs_roformer_ep_317_sdr_12.9755.ckpt", Family.MDXC),
        Setting(
            "segment_size",
            int,
            256,
            "STFT frames per segment, used when use_segment_size is on and for inputs "
            "under 10 s; otherwise the model's own (its YAML's inference.dim_t)",
            unit="frames",
            minimum=32,
            maximum=4096,
        ),
        Setting(
            "use_segment_size",
            bool,
            False,
            "Use segment_size instead of the model's own segment length",
        ),
        Setting(
            "overlap",
            int,
            None,
            "How many overlapping windows cover each sample: more is smoother and "
            "slower; empty uses the model's YAML (inference.num_overlap), else 8",
            minimum=2,
            maximum=50,
        ),
        Setting(
            "batch_size",
            int,
            None,
            "Segments run at once (MDX23C only); empty uses the model's YAML, else 1",
            minimum=1,
            maximum=32,
        ),
        Setting(
            "pitch_shift",
            int,
            0,
            "Shift the input's pitch by this many semitones for the network only (the "
            "output keeps the original pitch): up can help deep voices, down high ones",
            unit="semitones",
            minimum=-12,
            maximum=12,
        ),
    )

    def architecture_params(self, model: SeparationModel) -> dict[str, Any]:
        return {
            "segment_size": self.options["segment_size"],
            "override_model_segment_size": self.options["use_segment_size"],
            "batch_size": self.options["batch_size"],
            "overlap": self.options["overlap"],
            "pitch_shift": self.options["pitch_shift"],
        }


class VrSeparator(AudioSeparatorBackend):
    """VR Arch models (UVR's ``.pth`` spectrogram-mask networks)."""

    name = "vr"
    family = Family.VR
    description = "UVR VR Arch models (.pth): de-echo, de-reverb, karaoke; via audio-separator"
    settings = (
        _model_setting("UVR-DeEcho-DeReverb.pth", Family.VR),
        Setting(
            "window_size",
            int,
            512,
            "Analysis window: smaller is slower and sharper",
            unit="samples",
            choices=(320, 512, 1024),
        ),
        Setting(
            "aggression",
            int,
            5,
            "How hard the primary stem is pulled out; UVR's usual range is 5 to 10",
            minimum=-100,
            maximum=100,
        ),
        Setting(
            "batch_size",
            int,
            1,
            "Windows run at once: more uses more memory, changes nothing in the result",
            minimum=1,
            maximum=32,
        ),
        Setting("tta", bool, False, "Test-time augmentation: run twice, shifted; slower, cleaner"),
        Setting(
            "post_process",
            bool,
            False,
            "Remove instrument remnants from the vocals (can also remove quiet vocals)",
        ),
        Setting(
            "post_process_threshold",
            float,
            0.2,
            "How strict post_process is",
            minimum=0.1,
            maximum=0.3,
        ),
        Setting(
            "high_end_process",
            bool,
            False,
            "Mirror the missing top frequencies of models that cut them",
        ),
        Setting(
            "spectral_inversion",
            bool,
            False,
            "Compute the second stem by subtracting spectrograms instead of waveforms",
        ),
    )

    def architecture_params(self, model: SeparationModel) -> dict[str, Any]:
        return {
            "batch_size": self.options["batch_size"],
            "window_size": self.options["window_size"],
            "aggression": self.options["aggression"],
            "enable_tta": self.options["tta"],
            "enable_post_process": self.options["post_process"],
            "post_process_threshold": self.options["post_process_threshold"],
            "high_end_process": self.options["high_end_process"],
        }


class DemucsSeparator(AudioSeparatorBackend):
    """Demucs v4 (hybrid transformer) models, named by their UVR ``.yaml``."""

    name = "demucs"
    family = Family.DEMUCS
    description = "Demucs v4 models (htdemucs, htdemucs_ft, 6-stem); via audio-separator"
    settings = (
        _model_setting("htdemucs_ft.yaml", Family.DEMUCS),
        Setting(
            "shifts",
            int,
            2,
            "Random time shifts averaged: more is cleaner and proportionally slower",
            minimum=0,
            maximum=20,
        ),
        Setting(
            "overlap",
            float,
            0.25,
            "Share of each segment that overlaps the next",
            minimum=0.001,
            maximum=0.999,
        ),
        Setting(
            "segment_size",
            int,
            None,
            "Seconds per segment; empty uses the model's own",
            unit="s",
            minimum=1,
            maximum=100,
        ),
        Setting(
            "segments",
            bool,
            True,
            "Process the song in segments (off: all at once, which needs far more memory)",
        ),
    )

    def architecture_params(self, model: SeparationModel) -> dict[str, Any]:
        segment_size = self.options["segment_size"]
        return {
            "segment_size": "Default" if segment_size is None else segment_size,
            "shifts": self.options["shifts"],
            "overlap": self.options["overlap"],
            "segments_enabled": self.options["segments"],
        }


SEPARATORS: dict[Family, type[AudioSeparatorBackend]] = {
    Family.MDX: MdxSeparator,
    Family.MDXC: MdxcSeparator,
    Family.VR: VrSeparator,
    Family.DEMUCS: DemucsSeparator,
}


# -- the file handoff ------------------------------------------------------------


def write_model_input(audio: Audio, path: Path, peak: float) -> float:
    """Write ``audio`` as a 32-bit float WAV at 44.1 kHz with the given peak; return the gain.

    Resampling makes one copy of a song at another rate; scaling happens block by
    block as the file is written, so no second whole-song copy is made.
    """
    import soundfile

    from urvc_core.audio import resample

    mix = resample(audio, MODEL_SAMPLE_RATE)
    loudest = float(np.max(np.abs(mix.samples))) if mix.num_samples else 0.0
    gain = peak / loudest if loudest > 0 else 1.0
    with soundfile.SoundFile(
        path, "w", MODEL_SAMPLE_RATE, mix.channels, subtype="FLOAT", format="WAV"
    ) as file:
        for start in range(0, mix.num_samples, _WRITE_BLOCK):
            block = mix.samples[:, start : start + _WRITE_BLOCK] * np.float32(gain)
            file.write(block.T)
    return gain


def read_model_output(path: Path, gain: float, like: Audio) -> Audio:
    """A stem audio-separator wrote, back at ``like``'s level, rate, length and channels."""
    import soundfile

    from urvc_core.audio import resample

    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    stem = samples.T
    stem /= np.float32(gain)
    if like.channels == 1 and stem.shape[0] != 1:
        # audio-separator runs every model in stereo, a mono input copied to both sides.
        stem = stem.mean(axis=0, keepdims=True)
    result = resample(Audio(stem, int(rate)), like.sample_rate).samples
    length = like.num_samples
    if result.shape[1] > length:
        result = result[:, :length]
    elif result.shape[1] < length:
        result = np.pad(result, ((0, 0), (0, length - result.shape[1])))
    return Audio(np.ascontiguousarray(result, dtype=np.float32), like.sample_rate)


def _stem_from_file_name(name: str) -> str:
    match = _STEM_IN_FILE_NAME.match(name)
    if match is None:
        raise UrvcError(f"audio-separator wrote a file urvc can't place: {name}")
    return match.group(1)


def _apply_device_choice(separator: Any, backend: str) -> None:
    """Run on the device urvc decides (the command's --device, then config.toml's
    device; :func:`urvc_core.devices.resolve_device`), where audio-separator would take
    the first GPU it finds."""
    import torch

    from urvc_core.devices import resolve_device

    device = resolve_device("auto", owner=backend)
    if device == "cpu":
        separator.torch_device = torch.device("cpu")
        separator.torch_device_cpu = torch.device("cpu")
        separator.onnx_execution_provider = ["CPUExecutionProvider"]
    elif device.startswith("cuda:"):
        separator.torch_device = torch.device(device)
        if separator.onnx_execution_provider == ["CUDAExecutionProvider"]:
            # ONNX Runtime takes the GPU's number as a provider option, not from torch.
            index = int(device.partition(":")[2])
            separator.onnx_execution_provider = [("CUDAExecutionProvider", {"device_id": index})]
