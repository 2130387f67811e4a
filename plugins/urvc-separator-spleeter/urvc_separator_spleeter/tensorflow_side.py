"""The ``spleeter`` separator in its worker environment, where spleeter and TensorFlow are.

The song goes to stereo at 44.1 kHz (spleeter's rate; soxr both ways), is separated a
segment at a time with context on both sides (spleeter transforms what it is given
whole, so a long song would otherwise take memory in proportion), and each stem comes
back at the input's rate, length and channel count.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from urvc_core.audio import convert_channels, resample
from urvc_core.backends import Audio, Separator
from urvc_core.errors import UrvcError
from urvc_separator_spleeter.models import CHECKPOINT_FILES, INSTRUMENTS, STEM_NAMES, stems_of
from urvc_separator_spleeter.separator import SETTINGS

#: spleeter's rate: its models were trained at 44.1 kHz stereo.
SPLEETER_RATE = 44100
#: Real audio separated beside each segment and then dropped, so the joins don't show.
CONTEXT_SECONDS = 2.0
#: spleeter's marker that a model folder is complete; without it, it would download.
_PROBE = ".probe"


class SpleeterInWorker(Separator):
    """What :class:`~urvc_separator_spleeter.separator.SpleeterSeparator` stands for."""

    name = "spleeter"
    settings = SETTINGS
    work_methods: ClassVar[tuple[str, ...]] = ("separate_with_model",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.stems = stems_of(self.options["stems"])
        self._loaded: tuple[str, Any, tempfile.TemporaryDirectory[str]] | None = None

    def separate_with_model(self, audio: Audio, model_folder: str) -> dict[str, Audio]:
        if audio.channels > 2:
            raise UrvcError(
                f"spleeter separates mono or stereo audio; this has {audio.channels} "
                f"channels: mix it down first (urvc does when it loads a file)."
            )
        separator = self._separator(Path(model_folder))
        stereo = resample(convert_channels(audio, 2), SPLEETER_RATE).samples.T
        separated = self._in_segments(separator, np.ascontiguousarray(stereo))
        stems = {}
        for instrument, waveform in separated.items():
            stem = resample(Audio(waveform.T, SPLEETER_RATE), audio.sample_rate)
            stems[STEM_NAMES[instrument]] = convert_channels(stem, audio.channels)
        return stems

    def _in_segments(self, separator: Any, waveform: np.ndarray) -> dict[str, np.ndarray]:
        total = len(waveform)
        segment = int(self.options["segment_seconds"] * SPLEETER_RATE)
        context = int(CONTEXT_SECONDS * SPLEETER_RATE)
        instruments = INSTRUMENTS[self.options["stems"]]
        out = {name: np.zeros((total, 2), dtype=np.float32) for name in instruments}
        for start in range(0, total, segment):
            stop = min(total, start + segment)
            low, high = max(0, start - context), min(total, stop + context)
            pieces = separator.separate(waveform[low:high])
            for name in instruments:
                piece = np.asarray(pieces[name], dtype=np.float32)
                out[name][start:stop] = piece[start - low : stop - low]
        return out

    def _separator(self, folder: Path) -> Any:
        if self._loaded is not None and self._loaded[0] == str(folder):
            return self._loaded[1]
        missing = [name for name in CHECKPOINT_FILES if not (folder / name).is_file()]
        if missing:
            raise UrvcError(
                f"The spleeter model folder {folder} lacks {', '.join(missing)}: it should "
                f"hold a TensorFlow checkpoint as spleeter's {self.options['stems']}stems "
                f"archive unpacks; remove the folder to download it again, or fix the "
                f"path in [asset_paths]."
            )
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf
        from spleeter.separator import Separator as SpleeterSeparatorModel
        from spleeter.utils.configuration import load_configuration

        # TensorFlow 2.12 warns of every estimator API spleeter uses, a screen per model.
        tf.get_logger().setLevel("ERROR")

        # spleeter takes a folder without its marker for one to download into. The
        # marker goes into a folder of links to the model's files, not into the model
        # folder, which may be read-only or shared ([asset_paths]); the estimator reads
        # the checkpoint there on every call, so the links live as long as the model.
        view = tempfile.TemporaryDirectory(prefix="urvc-spleeter-model-")
        for entry in folder.iterdir():
            (Path(view.name) / entry.name).symlink_to(entry)
        (Path(view.name) / _PROBE).touch(exist_ok=True)
        parameters = load_configuration(f"spleeter:{self.options['stems']}stems")
        parameters["model_dir"] = view.name
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(parameters, file)
        try:
            separator = SpleeterSeparatorModel(file.name, multiprocess=False)
        finally:
            os.unlink(file.name)
        self._loaded = (str(folder), separator, view)
        return separator
