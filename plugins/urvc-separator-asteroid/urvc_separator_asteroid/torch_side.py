"""The ``asteroid`` separator in its worker environment, where asteroid and its torch are.

The song goes to the model's rate (soxr), keeps its channels (each is separated on its
own: asteroid's models are mono), and is separated by asteroid's own code: its loader
(``BaseModel.from_pretrained`` on the file's dict), its ``separate`` (which also scales
the sources to the mixture's level), and, for a song longer than a segment, its
overlap-add (``LambdaOverlapAdd``), which reorders each window's sources to follow the
one before, as a separator trained without fixed source roles needs. Each stem comes
back at the input's rate and length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from urvc_core.audio import resample
from urvc_core.backends import Audio, Separator
from urvc_core.errors import UrvcError
from urvc_separator_asteroid.models import read_model_package
from urvc_separator_asteroid.separator import SETTINGS


class AsteroidInWorker(Separator):
    """What :class:`~urvc_separator_asteroid.separator.AsteroidSeparator` stands for."""

    name = "asteroid"
    settings = SETTINGS
    work_methods: ClassVar[tuple[str, ...]] = ("separate_with_model",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._loaded: tuple[tuple[str, int], Any] | None = None

    def separate_with_model(
        self, audio: Audio, model_file: str, fallback_rate: int, names: list[str]
    ) -> dict[str, Audio]:
        """``names``: one per source, then optionally the residual's."""
        model = self._model(Path(model_file), fallback_rate)
        rate = int(model.sample_rate)
        mixture = resample(audio, rate).samples
        sources = self._separated(model, mixture, Path(model_file))
        count = sources.shape[1]
        if len(names) not in (count, count + 1):
            raise UrvcError(
                f"separator 'asteroid': {model_file} gave {count} sources for the "
                f"{len(names)} stem names {', '.join(names)}; fix stem_names."
            )
        stems = {
            name: _like(resample(Audio(sources[:, index], rate), audio.sample_rate), audio)
            for index, name in enumerate(names[:count])
        }
        if len(names) > count:
            separated = np.sum([stem.samples for stem in stems.values()], axis=0)
            stems[names[-1]] = Audio(audio.samples - separated, audio.sample_rate)
        return stems

    def _separated(self, model: Any, mixture: np.ndarray, path: Path) -> np.ndarray:
        """The sources of each channel of ``mixture``: (channels, sources, samples)."""
        import torch
        from asteroid.dsp.overlap_add import LambdaOverlapAdd
        from asteroid.separate import torch_separate

        channels, length = mixture.shape
        window = int(self.options["segment_seconds"] * model.sample_rate) // 2 * 2
        network = model
        if length > window:
            network = LambdaOverlapAdd(
                model, n_src=None, window_size=window, hop_size=window // 2, window="hann"
            )
        # Each channel a batch item, shaped (batch, 1, time) as both take it.
        waveform = torch.from_numpy(np.ascontiguousarray(mixture)).unsqueeze(1)
        if not np.any(mixture):
            # asteroid scales the sources to the mixture's level, 0/0 for silence.
            with torch.inference_mode():
                count = model(waveform[..., : min(length, window)]).shape[1]
            return np.zeros((channels, count, length), dtype=np.float32)
        with torch.inference_mode():
            sources = torch_separate(network, waveform).numpy()
        if sources.ndim != 3 or sources.shape[0] != channels or sources.shape[2] != length:
            raise UrvcError(
                f"separator 'asteroid': the {type(model).__name__} in {path} gives sources "
                f"shaped {tuple(sources.shape)}, not (batch, sources, time); urvc runs "
                f"asteroid's waveform separators (ConvTasNet, DPRNNTasNet, DPTNet, "
                f"LSTMTasNet, SuDORMRFNet...)."
            )
        if not np.all(np.isfinite(sources)):
            # All-zero masks on real input: the same 0/0 in asteroid's level scaling.
            sources = np.zeros_like(sources)
        return sources.astype(np.float32, copy=False)

    def _model(self, path: Path, fallback_rate: int) -> Any:
        key = (str(path), path.stat().st_mtime_ns if path.exists() else 0)
        if self._loaded is not None and self._loaded[0] == key:
            return self._loaded[1]
        package = read_model_package(path)
        import asteroid
        from asteroid import models

        name = package["model_name"]
        try:
            models.get(name)
        except ValueError as exc:
            raise UrvcError(
                f"{path} holds a model named {name!r}, which asteroid {asteroid.__version__} "
                f"does not have; urvc runs asteroid's own models (ConvTasNet, "
                f"DPRNNTasNet, DPTNet, LSTMTasNet, SuDORMRFNet...)."
            ) from exc
        if not package["model_args"].get("sample_rate"):
            if not fallback_rate:
                raise UrvcError(
                    f"{path} does not say the rate its model was trained at (asteroid "
                    f"before 0.4 did not save it): load it in asteroid, set "
                    f"model.sample_rate, and save it again with serialize()."
                )
            package["model_args"]["sample_rate"] = float(fallback_rate)
        try:
            model = models.BaseModel.from_pretrained(package)
        except (RuntimeError, TypeError, KeyError, ValueError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UrvcError(
                f"{path}: asteroid could not build its {name} from the file ({detail}); "
                f"the weights don't fit the model's settings: the file is damaged or was "
                f"not saved with serialize()."
            ) from exc
        model.eval()
        self._loaded = (key, model)
        return model


def _like(stem: Audio, audio: Audio) -> Audio:
    """``stem`` cut or padded to ``audio``'s length: a rate taken there and back can end
    a sample short or long."""
    samples = stem.samples[:, : audio.num_samples]
    if samples.shape[1] < audio.num_samples:
        samples = np.pad(samples, ((0, 0), (0, audio.num_samples - samples.shape[1])))
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), audio.sample_rate)
