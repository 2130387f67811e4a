"""A song cover end to end, with full-size models: time and peak memory per step, cached re-run.

    .venv/bin/python benchmarks/cover.py [--seconds 180] [--preset vocals]
                                         [--precision fp32 bf16] [--f0-method fcpe]
                                         [--device cpu] [--overlap auto|on|off] [--keep DIR]

The song is the demo's (the CMU ARCTIC sentence every 4.5 s over a synthesized stereo
band), ``--seconds`` long, as a 192 kbps mp3. Every model has its published size and
random weights, so the arithmetic is the real one: a full-size RVC v2 40 kHz voice model
(RVC's own configuration, saved as a community file), a full-size ContentVec-shaped
HuBERT embedder (95 M parameters), and the separation models of ``--preset``
(``urvc_separator_mdx.tiny_models``), put in the model folder under the names the presets
ask for, so separation runs offline through audio-separator as it would for a user:

=========  =================================================================
preset     separation
=========  =================================================================
center     the built-in ``dsp-center`` (no model)
vocals     ``UVR-MDX-NET-Voc_FT.onnx``: MDX-Net, 16.7 M parameters, 63.6 MiB,
           run by ONNX Runtime
karaoke    Voc FT, then ``UVR_MDXNET_KARA_2.onnx`` (MDX-Net, 28.3 MiB): main
           and backup vocals, both shifted
roformer   ``model_bs_roformer_ep_317_sdr_12.9755.ckpt`` for the vocals step
           (BS-Roformer, 159.8 M parameters, 639 MB), run by PyTorch
=========  =================================================================

The cover then converts the lead vocals (``--f0-method``, ``--precision``: the voice
model's generator in bf16 or fp32), runs the ``clean`` effects preset and shifts the
instrumental (and backup vocals) +2 semitones when urvc-effects-pedalboard is installed,
and mixes. From 20 s of audio, the shift may run in a worker process while the lead
vocals convert: ``--overlap on`` always, ``off`` never, ``auto`` (urvc's default) when
the conversion leaves a core free (on a GPU, or with torch told to use fewer threads
than there are cores).

Each cover runs in a fresh child process with a home (and step cache) of its own per
precision: first with an empty cache, then again with everything cached. A thread
samples the child's resident set size and CPU time every 10 ms: a step's peak RSS is
the highest sample while it ran, its CPU the time all the process's threads spent
meanwhile (steps that ran at the same time share both); child processes (the shift's
worker) are counted apart ("workers": their RSS together). Wall time is the child's
whole run, Python start-up and imports included; the per-step times are the pipeline's
own, and each step's start is counted from the first step's. All the CPU time divided by
the cores is the least wall time the cover can take on an idle machine of this kind: on
a shared machine the wall times grow with the others' load, it does not. With two
precisions, every step's output in bf16 is compared with fp32's (SNR over
the whole band and above 80 Hz; the mix is the decoded mp3). Only the conversion
computes in bf16 (the voice model's generator); the steps after it differ by what they
are given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

MDX_VOCALS = "UVR-MDX-NET-Voc_FT.onnx"
MDX_KARAOKE = "UVR_MDXNET_KARA_2.onnx"
ROFORMER = "model_bs_roformer_ep_317_sdr_12.9755.ckpt"

#: ``--overlap``: urvc_core.cover's switch for shifting beside the conversion.
OVERLAP: dict[str, bool | None] = {"auto": None, "on": True, "off": False}

#: The cover's separation options and the models each preset needs.
PRESETS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "center": ({"separation": "center"}, ()),
    "vocals": ({"separation": "vocals"}, (MDX_VOCALS,)),
    "karaoke": ({"separation": "karaoke"}, (MDX_VOCALS, MDX_KARAOKE)),
    "roformer": (
        {"separation": "vocals", "separator_steps": [f"vocals=mdxc:model={ROFORMER}"]},
        (ROFORMER,),
    ),
}


class ProcessSampler:
    """This process's memory and CPU time, sampled in a thread every ``interval`` seconds.

    Each sample holds (time.time(), the highest RSS since the previous sample, CPU
    seconds of all this process's threads so far, RSS of its child processes). The
    highest RSS is the kernel's own high-water mark, reset after each reading
    (``/proc/self/clear_refs``), so a peak is caught even while the sampler waits for
    the GIL.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.samples: list[tuple[float, float, float, float]] = []
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE") / 2**20
        self._tick = float(os.sysconf("SC_CLK_TCK"))

    def _run(self) -> None:
        with open("/proc/self/status") as status, open("/proc/self/stat") as stat:
            while not self._stop.wait(self._interval):
                status.seek(0)
                stat.seek(0)
                high = next(line for line in status if line.startswith("VmHWM:"))
                with open("/proc/self/clear_refs", "w") as clear:
                    clear.write("5")  # resets VmHWM to the current RSS
                # utime and stime: the 14th and 15th fields, after the parenthesised name.
                fields = stat.read().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / self._tick
                rss = int(high.split()[1]) / 1024
                self.samples.append((time.time(), rss, cpu, self._children_rss()))

    def _children_rss(self) -> float:
        me = str(os.getpid())
        total = 0.0
        pending = [me]
        while pending:
            pid = pending.pop()
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as children:
                        pending.extend(children.read().split())
                if pid != me:
                    with open(f"/proc/{pid}/statm") as statm:
                        total += int(statm.read().split()[1]) * self._page
            except OSError:
                continue  # ended meanwhile
        return total

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _during(self, start: float, end: float) -> list[tuple[float, float, float, float]]:
        """The samples that cover ``start`` to ``end``: those taken meanwhile and the
        first one after (which holds the peak up to it)."""
        inside = [sample for sample in self.samples if start <= sample[0] <= end]
        after = [sample for sample in self.samples if sample[0] > end][:1]
        return inside + after

    def peak_rss(self, start: float = 0.0, end: float = float("inf")) -> float:
        return max((sample[1] for sample in self._during(start, end)), default=0.0)

    def peak_children_rss(self, start: float = 0.0, end: float = float("inf")) -> float:
        return max((sample[3] for sample in self._during(start, end)), default=0.0)

    def cpu_seconds(self, start: float, end: float) -> float:
        """CPU time this process spent from ``start`` to ``end``."""

        def at(moment: float) -> float:
            earlier = [sample[2] for sample in self.samples if sample[0] <= moment]
            return earlier[-1] if earlier else 0.0

        return at(end) - at(start)


def child(arguments: argparse.Namespace) -> None:
    """Run one cover in this process and print its figures as JSON."""
    started = time.perf_counter()
    with ProcessSampler() as sampler:
        import urvc_core.cover
        from urvc_core.cover import make_cover
        from urvc_core.registry import backend_registry

        imported = time.perf_counter() - started
        urvc_core.cover._SHIFT_WHILE_CONVERTING = OVERLAP[arguments.overlap]
        options: dict[str, Any] = dict(PRESETS[arguments.preset][0])
        if "pitch-shift" in backend_registry().names("effect"):
            options.update(effects_preset="clean", pitch=2)
        result = make_cover(
            arguments.song,
            arguments.model,
            embedder=arguments.embedder,
            f0_method=arguments.f0_method,
            precision=arguments.precision,
            output=arguments.output,
            **options,
        )
    began = min(step.started for step in result.steps if step.started is not None)
    steps = {
        step.name: {
            "seconds": round(step.seconds, 3),
            "start": round(step.started - began, 3),
            "peak_rss_mib": round(sampler.peak_rss(step.started, step.started + step.seconds)),
            "children_rss_mib": round(
                sampler.peak_children_rss(step.started, step.started + step.seconds)
            ),
            "cpu_s": round(sampler.cpu_seconds(step.started, step.started + step.seconds), 2),
            "cached": step.cached,
            "outputs": step.outputs,
        }
        for step in result.steps
        if step.started is not None
    }
    figures = {
        "wall_s": time.perf_counter() - started,
        "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "children_cpu_s": sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]),
        "import_s": imported,
        "pipeline_s": result.seconds,
        "steps": steps,
        "conversion_stages": _conversion_stages(result),
        # Not ru_maxrss: the sampler resets the high-water mark it reads.
        "peak_rss_mib": sampler.peak_rss(),
        # Not RUSAGE_CHILDREN's: a child started by fork and exec counts, for a moment,
        # the parent's pages.
        "children_peak_rss_mib": sampler.peak_children_rss(),
        "output": str(result.output),
        "audio_s": result.duration,
    }
    print(json.dumps(figures))


def _conversion_stages(result: Any) -> dict[str, float]:
    from urvc_core.cache import StepCache

    for step in result.steps:
        if step.name == "convert" and step.key:
            entry = StepCache().lookup(step.key)
            if entry is not None:
                timings = entry.extra.get("timings") or {}
                return {k: round(float(v), 3) for k, v in timings.items()}
    return {}


def run_child(
    arguments: argparse.Namespace, precision: str, paths: dict[str, Path], home: Path
) -> Any:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--preset",
        arguments.preset,
        "--precision",
        precision,
        "--f0-method",
        arguments.f0_method,
        "--overlap",
        arguments.overlap,
        "--song",
        str(paths["song"]),
        "--model",
        str(paths["model"]),
        "--embedder",
        str(paths["embedder"]),
        "--output",
        str(home / "covers"),
    ]
    env = {**os.environ, "URVC_HOME": str(home), "URVC_OFFLINE": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if completed.returncode != 0:
        sys.exit(f"the cover failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def build(folder: Path, seconds: float, preset: str) -> dict[str, Path]:
    """The song, the voice model, the embedder and the preset's separation models (kept in
    ``folder`` and reused when already there)."""
    from urvc_core.audio import save_audio
    from urvc_core.builtin.random_hubert_models import full_size_contentvec_folder
    from urvc_core.demo import build_demo_song
    from urvc_core.rvc.random_voice_models import build_voice_model_file

    song = folder / f"song-{seconds:g}s.mp3"
    if not song.is_file():
        save_audio(build_demo_song(seconds), song)
    model = folder / "Full Voice.pth"
    if not model.is_file():
        build_voice_model_file(model, size="full")
    embedder = folder / "contentvec"
    if not (embedder / "config.json").is_file():
        full_size_contentvec_folder(embedder)
    models = folder / "assets" / "audio-separator"
    for name in PRESETS[preset][1]:
        if (models / name).is_file():
            continue
        from urvc_separator_mdx import tiny_models

        if name == MDX_VOCALS:
            tiny_models.build_mdx_net_model(models, name, shape="voc-ft")
        elif name == MDX_KARAOKE:
            tiny_models.build_mdx_net_model(
                models, name, shape="kara-2", primary_stem="Instrumental", is_karaoke=True
            )
        else:
            tiny_models.build_full_size_roformer(models, name)
    return {"song": song, "model": model, "embedder": embedder, "assets": folder / "assets"}


def fresh_home(folder: Path, precision: str, assets: Path, device: str | None) -> Path:
    """A home with an empty cache, sharing the built models."""
    home = folder / f"home-{precision}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "assets").symlink_to(assets.resolve(), target_is_directory=True)
    if device:
        from urvc_core.home import UrvcHome, set_config_value

        set_config_value("device", device, UrvcHome(home))
    return home


def snr_db(reference_path: str, other_path: str, highpass_hz: float = 0.0) -> float:
    """SNR of ``other`` against ``reference`` (both cut to the shorter), in dB; with
    ``highpass_hz``, of what both have above that frequency."""
    import numpy as np

    from urvc_core.audio import load_audio

    reference_audio = load_audio(reference_path)
    reference = reference_audio.samples.astype(np.float64)
    other = load_audio(other_path).samples.astype(np.float64)
    length = min(reference.shape[-1], other.shape[-1])
    reference, other = reference[..., :length], other[..., :length]
    if highpass_hz:
        from scipy.signal import butter, sosfiltfilt

        sos = butter(4, highpass_hz, "highpass", fs=reference_audio.sample_rate, output="sos")
        reference, other = sosfiltfilt(sos, reference), sosfiltfilt(sos, other)
    noise = float(np.sum((reference - other) ** 2))
    if noise == 0.0:
        return float("inf")
    return 10 * float(np.log10(float(np.sum(reference**2)) / noise))


def print_table(
    precision: str, first: dict[str, Any], cached: dict[str, Any], song_s: float
) -> None:
    print(f"\n{precision}: per step (start: seconds after the first step began)")
    print(
        f"{'step':26} {'start':>8} {'first run':>10} {'CPU':>8} {'peak RSS':>10} "
        f"{'workers':>10} {'cached':>9}"
    )
    for name, step in first["steps"].items():
        again = cached["steps"].get(name, {}).get("seconds", 0.0)
        print(
            f"{name:26} {step['start']:>7.1f}s {step['seconds']:>9.2f}s {step['cpu_s']:>7.1f}s "
            f"{step['peak_rss_mib']:>7.0f}MiB {step['children_rss_mib']:>7.0f}MiB {again:>8.2f}s"
        )
    blank = ""
    print(
        f"{'pipeline':26} {blank:>8} {first['pipeline_s']:>9.2f}s {blank:>8} {blank:>10} "
        f"{blank:>10} {cached['pipeline_s']:>8.2f}s"
    )
    whole = "whole process (imports)"
    print(
        f"{whole:26} {blank:>8} {first['wall_s']:>9.2f}s {first['cpu_s']:>7.1f}s {blank:>10} "
        f"{blank:>10} {cached['wall_s']:>8.2f}s"
    )
    cores = os.cpu_count() or 1
    least = (first["cpu_s"] + first["children_cpu_s"]) / cores
    print(
        f"peak RSS {first['peak_rss_mib']:.0f} MiB, workers {first['children_peak_rss_mib']:.0f}"
        f" MiB ({first['children_cpu_s']:.1f} s CPU); cover/song length "
        f"{first['pipeline_s'] / song_s:.2f}; all CPU time / {cores} cores = {least:.0f} s, "
        f"{'under' if least < song_s else 'over'} the song's {song_s:g} s"
    )
    print(f"conversion stages: {first['conversion_stages']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="vocals")
    parser.add_argument("--precision", nargs="+", choices=("fp32", "bf16"), default=["fp32"])
    parser.add_argument("--f0-method", default="fcpe")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: config)")
    parser.add_argument(
        "--overlap",
        choices=sorted(OVERLAP),
        default="auto",
        help="Shift beside the conversion: always, never, or when a core is free (urvc's).",
    )
    parser.add_argument("--keep", type=Path, help="Build in this folder and keep it.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("song", "model", "embedder", "output"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        arguments.precision = arguments.precision[0]
        child(arguments)
        return

    with tempfile.TemporaryDirectory(prefix="urvc-bench-cover-") as scratch:
        folder = arguments.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ.update({"URVC_HOME": str(folder / "build-home"), "URVC_OFFLINE": "1"})
        started = time.perf_counter()
        paths = build(folder, arguments.seconds, arguments.preset)
        print(f"built the song and full-size models in {time.perf_counter() - started:.1f} s")
        runs: dict[str, tuple[Any, Any]] = {}
        for precision in arguments.precision:
            home = fresh_home(folder, precision, paths["assets"], arguments.device)
            load = os.getloadavg()[0]
            first = run_child(arguments, precision, paths, home)
            cached = run_child(arguments, precision, paths, home)
            first["load_average_before"] = load
            runs[precision] = (first, cached)
        report = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "python": platform.python_version(),
            "song_s": arguments.seconds,
            "preset": arguments.preset,
            "f0_method": arguments.f0_method,
            "overlap": arguments.overlap,
            "runs": {p: {"first": f, "cached": c} for p, (f, c) in runs.items()},
        }
        print(json.dumps(report, indent=2))
        print(
            f"\n{arguments.preset} preset, {arguments.seconds:g} s song, f0 "
            f"{arguments.f0_method}, --overlap {arguments.overlap}; {report['machine']}"
        )
        for precision, (first, cached) in runs.items():
            print(f"(load average {first['load_average_before']:.1f} before the first run)")
            print_table(precision, first, cached, arguments.seconds)
        if "fp32" in runs and "bf16" in runs:
            print("\nbf16 against fp32, per step output: SNR in dB, whole band and above 80 Hz")
            reference, other = runs["fp32"][0]["steps"], runs["bf16"][0]["steps"]
            for name, step in reference.items():
                for output, path in step["outputs"].items():
                    if name != "save" and output in other.get(name, {}).get("outputs", {}):
                        theirs = other[name]["outputs"][output]
                        whole, high = snr_db(path, theirs), snr_db(path, theirs, 80.0)
                        print(f"{name + ' ' + output:36} {whole:>7.1f} {high:>7.1f}")


if __name__ == "__main__":
    main()
