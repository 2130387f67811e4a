"""Speed, memory and quality of the pedalboard effects and of whole-track pitch shifting.

    .venv/bin/python benchmarks/effects.py [--seconds 30] [--files 4] [--only NAME]

Prints, for stereo 44.1 kHz audio (the centre-panned ARCTIC mix, looped):

* quality: how cleanly each pitch-shift engine moves a harmonic tone (harmonic-to-noise
  ratio of the result) and a voice (median per-frame f0 error, harvest), and how much a
  block-wise ``time_stretch`` dips at its joins compared with one call over the track;
* memory: peak resident memory of one ``time_stretch`` call over the whole track, and of
  the streamed ``reverb`` effect, each in a fresh process, over the audio itself;
* speed: processing time per second of audio for every effect and built-in preset, and
  for ``pitch_shift_files`` with 1 and 2 worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from urvc_core import Audio, get_backend, save_audio
from urvc_core.testing import signals

RATE = 44100


def music(seconds: float) -> Audio:
    """``seconds`` of the centre-panned speech mix, looped: voice and plucked chords."""
    mix = signals.centre_panned_speech_mix(RATE).mixture.samples
    repeats = int(np.ceil(seconds * RATE / mix.shape[1]))
    return Audio(np.tile(mix, (1, repeats))[:, : round(seconds * RATE)], RATE)


# -- quality ------------------------------------------------------------------------------


def harmonic_to_noise_db(samples: np.ndarray, f0: float) -> float:
    """Energy on the harmonics of ``f0`` over the energy between them, in a steady second."""
    segment = samples[RATE // 2 : RATE // 2 + RATE]
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)))) ** 2
    frequencies = np.fft.rfftfreq(len(segment), 1 / RATE)
    on_harmonic = np.zeros(len(spectrum), dtype=bool)
    for k in range(1, int(RATE / 2 / f0) + 1):
        on_harmonic |= np.abs(frequencies - k * f0) < 4
    return float(10 * np.log10(spectrum[on_harmonic].sum() / spectrum[~on_harmonic].sum()))


def voice_cents_error(shift: Callable[[np.ndarray, float], np.ndarray], semitones: float) -> float:
    harvest = get_backend("f0", "harvest")
    voice = signals.speech(RATE).samples
    reference = harvest.extract_f0(signals.resample(voice, RATE, 16000)[0], 16000)  # type: ignore[attr-defined]
    shifted = shift(voice, semitones)
    measured = harvest.extract_f0(signals.resample(shifted, RATE, 16000)[0], 16000)  # type: ignore[attr-defined]
    expected = reference * 2 ** (semitones / 12)
    return float(np.median(signals.cents_error(measured, expected)))


def pitch_engines() -> dict[str, Callable[[np.ndarray, float], np.ndarray]]:
    import pedalboard

    def stretch(formants: bool) -> Callable[[np.ndarray, float], np.ndarray]:
        return lambda x, s: pedalboard.time_stretch(
            x, RATE, pitch_shift_in_semitones=s, preserve_formants=formants
        )

    return {
        "time_stretch (used)": stretch(False),
        "time_stretch, formants kept": stretch(True),
        "PitchShift plugin": lambda x, s: pedalboard.PitchShift(semitones=s).process(x, RATE),
    }


def block_join_dip_db(block_seconds: float = 1.0, fade_seconds: float = 0.05) -> float:
    """Worst 10 ms level dip at the joins of a block-wise shift of a steady tone.

    Each block is shifted with 0.5 s of context either side and cross-faded (equal
    power) into the next: the best block-wise scheme, against one call over the tone.
    """
    import pedalboard

    tone = signals.harmonic_tone(220.0, 4.0, RATE).samples
    whole = pedalboard.time_stretch(tone, RATE, pitch_shift_in_semitones=3)
    block, pad, fade = round(block_seconds * RATE), RATE // 2, round(fade_seconds * RATE)
    out = np.zeros_like(tone)
    length = tone.shape[1]
    ramp = 0.5 * np.pi * (np.arange(fade) + 0.5) / fade
    joins = list(range(block, length, block))
    for start in range(0, length, block):
        end = min(length, start + block)
        lo, hi = max(0, start - pad), min(length, end + pad)
        shifted = pedalboard.time_stretch(tone[:, lo:hi], RATE, pitch_shift_in_semitones=3)
        first = start - fade // 2 if start else 0
        last = min(length, end + fade // 2) if end < length else length
        weights = np.ones(last - first)
        if start:
            weights[:fade] = np.sin(ramp)
        if end < length:
            weights[-fade:] = np.cos(ramp)
        out[:, first:last] += shifted[:, first - lo : last - lo] * weights
    window = RATE // 100

    def levels(x: np.ndarray) -> np.ndarray:
        frames = x[0, : length // window * window].reshape(-1, window)
        return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)

    difference = levels(out) - levels(whole)
    at_joins = [difference[max(0, j // window - 3) : j // window + 4].min() for j in joins]
    return float(min(at_joins))


def report_quality() -> None:
    print("pitch-shift quality (harmonic-to-noise of a 220 Hz tone; voice f0 error):")
    tone = signals.harmonic_tone(220.0, 2.0, RATE).samples
    for name, shift in pitch_engines().items():
        purity = [harmonic_to_noise_db(shift(tone, s)[0], 220 * 2 ** (s / 12)) for s in (3, -5)]
        errors = [voice_cents_error(shift, s) for s in (12, 3, -5)]
        print(
            f"  {name:<28} +3: {purity[0]:5.1f} dB  -5: {purity[1]:5.1f} dB   "
            f"voice median error +12/+3/-5: {errors[0]:.0f}/{errors[1]:.0f}/{errors[2]:.0f} cents"
        )
    dip = block_join_dip_db()
    print(f"  block-wise time_stretch (1 s blocks): worst dip at a join {dip:.1f} dB")


# -- memory ------------------------------------------------------------------------------

_MEMORY_PROBE = """
import json, sys
import numpy as np
seconds, what = float(sys.argv[1]), sys.argv[2]
rate = 44100
import pedalboard
from urvc_core import Audio, get_backend

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024

samples = np.random.default_rng(0).standard_normal((2, round(seconds * rate)), dtype=np.float32)
samples *= 0.1
audio = Audio(samples, rate)
open("/proc/self/clear_refs", "w").write("5")  # the peak restarts from here (Linux)
before = status("VmRSS:")
if what == "time_stretch":
    result = pedalboard.time_stretch(samples, rate, pitch_shift_in_semitones=3.0)
else:
    result = get_backend("effect", what).apply(audio).samples
extra = status("VmHWM:") - before
print(json.dumps({"input_mb": samples.nbytes / 2**20, "extra_mb": extra}))
"""


def report_memory(seconds: float) -> None:
    if not Path("/proc/self/clear_refs").exists():
        print("peak memory: needs Linux's /proc; skipped")
        return
    print(f"peak memory over the input ({seconds:g} s stereo, fresh process each):")
    for what in ("time_stretch", "reverb", "compressor"):
        completed = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(seconds), what],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(completed.stdout)
        print(
            f"  {what:<14} +{figures['extra_mb']:.0f} MB for {figures['input_mb']:.0f} MB of audio "
            f"({figures['extra_mb'] / figures['input_mb']:.1f} x the track)"
        )


# -- speed -------------------------------------------------------------------------------


def report_effect_speed(seconds: float, only: str | None) -> None:
    from urvc_effects_pedalboard import EFFECT_CLASSES, find_preset

    audio = music(seconds)
    print(f"effect speed ({seconds:g} s stereo 44.1 kHz; ms per second of audio):")
    with tempfile.TemporaryDirectory() as folder:
        impulse = signals.white_noise(0.5, RATE, level_db=-20).samples[0]
        impulse *= np.exp(-np.arange(len(impulse)) / (0.1 * RATE)).astype(np.float32)
        ir = save_audio(Audio(impulse, RATE), Path(folder) / "ir.wav")
        for effect_class in EFFECT_CLASSES:
            if only and effect_class.name != only:
                continue
            settings = {"impulse_response": str(ir)} if effect_class.name == "convolution" else {}
            if effect_class.name == "pitch-shift":
                settings = {"semitones": 3.0}
            effect = get_backend("effect", effect_class.name, **settings)
            start = time.perf_counter()
            result = effect.apply(audio)  # type: ignore[attr-defined]
            elapsed = time.perf_counter() - start
            tail = (result.num_samples - audio.num_samples) / RATE
            print(
                f"  {effect_class.name:<16} {elapsed / seconds * 1000:7.1f}"
                + (f"   (tail {tail:.2f} s)" if tail else "")
            )
    if only:
        return
    for name in ("clean", "radio", "hall"):
        chain = find_preset(name).chain
        start = time.perf_counter()
        chain.apply(audio)
        print(f"  preset {name:<9} {(time.perf_counter() - start) / seconds * 1000:7.1f}")


def report_pitch_files_speed(seconds: float, files: int) -> None:
    from urvc_effects_pedalboard import pitch_shift_files

    print(
        f"pitch_shift_files: {files} files of {seconds:g} s stereo 44.1 kHz, "
        f"{os.cpu_count()} CPUs (ms per second of audio, wall clock):"
    )
    with tempfile.TemporaryDirectory() as folder:
        audio = music(seconds)
        inputs = [save_audio(audio, Path(folder) / f"track{i}.wav") for i in range(files)]
        for workers in (1, 2):
            cpu_before = _cpu_seconds()
            start = time.perf_counter()
            pitch_shift_files(inputs, 2.0, Path(folder) / f"out{workers}", workers=workers)
            elapsed = time.perf_counter() - start
            cpu = _cpu_seconds() - cpu_before
            print(
                f"  {workers} worker(s): {elapsed:6.1f} s wall, "
                f"{elapsed / (seconds * files) * 1000:6.1f} ms per audio second "
                f"(CPU {cpu / (seconds * files) * 1000:.1f} ms per audio second, "
                f"{cpu / elapsed:.2f} cores busy)"
            )


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker processes)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--only", help="Time only this effect.")
    parser.add_argument(
        "--part",
        choices=("quality", "memory", "effects", "pitch"),
        help="Run only this part of the benchmark.",
    )
    arguments = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at start: {load:.1f}")
    if arguments.only:
        report_effect_speed(arguments.seconds, arguments.only)
        return
    part = arguments.part
    if part in (None, "quality"):
        report_quality()
    if part in (None, "memory"):
        report_memory(max(arguments.seconds, 60.0))
    if part in (None, "effects"):
        report_effect_speed(arguments.seconds, None)
    if part in (None, "pitch"):
        report_pitch_files_speed(arguments.seconds, arguments.files)


if __name__ == "__main__":
    main()
