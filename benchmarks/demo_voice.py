"""How well the demo's voice sings: train it as a first `urvc demo` does, then measure.

Trains the demo's voice (:data:`urvc_core.demo.DEMO_TRAINING`, overridable with
``--set KEY=VALUE``) in a scratch home, converts the sentence it was trained on, and
prints one JSON line:

* ``build_seconds``: the demo's assets built from nothing (preprocess, extract, fit);
* ``log_mel_correlation``: the converted sentence's log mel spectrogram against the
  original's, on its louder 60 % of frames (1 is a perfect copy);
* ``f1_cents`` / ``f2_cents``: median |error| of the first two formants (Praat's Burg
  tracker) on frames voiced in the original: what makes the words heard;
  ``f2_correlation``: how the second formant's track follows the original's;
* ``pitch_cents``: for each transposition asked (``--pitch``, semitones), the median
  deviation of the converted pitch from the original's (Praat) and the expected value,
  so a voice that ignores its pitch input shows up at once;
* ``voiced_where_silent``: share of the original's unvoiced frames that come out voiced
  (buzz between the words).

Run: ``.venv/bin/python benchmarks/demo_voice.py [--set epochs=300 ...]``. The scratch
home is removed at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _log_mel(samples: np.ndarray) -> np.ndarray:
    import scipy.signal

    from urvc_core.training.networks import mel_filterbank

    _, _, spectrum = scipy.signal.stft(samples, 16000, nperseg=1024, noverlap=1024 - 160)
    return np.log10(mel_filterbank(16000, 1024, 40) @ np.abs(spectrum) ** 2 + 1e-8)


def _formant_tracks(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F1, F2 (NaN where Praat finds none) and pitch (0 unvoiced), every 10 ms."""
    import parselmouth

    sound = parselmouth.Sound(samples.astype(np.float64), 16000)
    formants = sound.to_formant_burg(time_step=0.01, max_number_of_formants=5)
    pitch = sound.to_pitch(time_step=0.01)
    times = np.arange(0.05, sound.duration - 0.05, 0.01)
    f1 = np.array([formants.get_value_at_time(1, t) for t in times])
    f2 = np.array([formants.get_value_at_time(2, t) for t in times])
    f0 = np.nan_to_num(np.array([pitch.get_value_at_time(t) for t in times]))
    return f1, f2, f0


def measure(model: Path, embedder: Path, transpositions: list[float]) -> dict[str, object]:
    from urvc_core.audio import load_audio, resample
    from urvc_core.demo import SPEECH_SAMPLE_FILE
    from urvc_core.rvc.conversion import VoiceConverter
    from urvc_core.rvc.request import resolve_conversion
    from urvc_core.testing.signals import praat_pitch_hz

    sentence = load_audio(SPEECH_SAMPLE_FILE, channels=1)
    settings = {"embedder": str(embedder), "f0_method": "fcpe", "index_rate": 0.0}
    converter = VoiceConverter(resolve_conversion(str(model), settings))
    original_hz = praat_pitch_hz(sentence)
    results: dict[str, object] = {}
    pitch: dict[str, dict[str, float]] = {}
    for semitones in transpositions:
        request = converter.request.with_settings(pitch=semitones)
        converted = converter.convert(sentence, request).audio
        sung_hz = praat_pitch_hz(converted)
        frames = min(len(sung_hz), len(original_hz))
        both = (original_hz[:frames] > 0) & (sung_hz[:frames] > 0)
        cents = 1200 * np.log2(sung_hz[:frames][both] / original_hz[:frames][both])
        pitch[f"{semitones:+g}"] = {
            "median": round(float(np.median(cents))),
            "expected": round(100 * semitones),
        }
        if semitones != 0:
            continue
        unvoiced = original_hz[:frames] == 0
        results["voiced_where_silent"] = round(float(np.mean(sung_hz[:frames][unvoiced] > 0)), 2)
        ours = resample(converted, 16000).samples[0]
        theirs = resample(sentence, 16000).samples[0]
        length = min(len(ours), len(theirs))
        ours, theirs = ours[:length], theirs[:length]
        original_mel, converted_mel = _log_mel(theirs), _log_mel(ours)
        energy = original_mel.mean(axis=0)
        loud = energy > np.percentile(energy, 40)
        results["log_mel_correlation"] = round(
            float(np.corrcoef(original_mel[:, loud].ravel(), converted_mel[:, loud].ravel())[0, 1]),
            3,
        )
        f1_a, f2_a, f0_a = _formant_tracks(theirs)
        f1_b, f2_b, _ = _formant_tracks(ours)
        usable = (f0_a > 0) & ~np.isnan(f1_a + f1_b + f2_a + f2_b)
        results["f1_cents"] = round(
            float(np.median(np.abs(1200 * np.log2(f1_b[usable] / f1_a[usable]))))
        )
        results["f2_cents"] = round(
            float(np.median(np.abs(1200 * np.log2(f2_b[usable] / f2_a[usable]))))
        )
        results["f2_correlation"] = round(float(np.corrcoef(f2_a[usable], f2_b[usable])[0, 1]), 3)
    results["pitch_cents"] = pitch
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a DEMO_TRAINING setting (a JSON value), e.g. epochs=300",
    )
    parser.add_argument("--pitch", type=float, nargs="+", default=[0.0, -6.0, 6.0])
    parser.add_argument("--keep", action="store_true", help="keep the scratch home")
    arguments = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="urvc-demo-voice-benchmark-"))
    os.environ["URVC_HOME"] = str(home)
    os.environ["URVC_OFFLINE"] = "1"
    import urvc_core.demo as demo

    for assignment in arguments.set:
        key, _, value = assignment.partition("=")
        demo.DEMO_TRAINING[key] = json.loads(value)
    try:
        started = time.perf_counter()
        assets = demo.build_demo_assets(home / "demo")
        built = time.perf_counter() - started
        figures = measure(assets.model, assets.embedder, arguments.pitch)
        print(
            json.dumps(
                {
                    "training": demo.DEMO_TRAINING,
                    "build_seconds": round(built),
                    **figures,
                }
            )
        )
    finally:
        if arguments.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
