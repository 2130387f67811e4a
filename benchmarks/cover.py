"""A song cover end to end, with full-size models: time per step, peak memory, cached re-run.

    .venv/bin/python benchmarks/cover.py [--seconds 180] [--f0-method fcpe] [--device cpu]

The song is the demo's (the CMU ARCTIC sentence every 4.5 s over a synthesized stereo
band), ``--seconds`` long, as a 192 kbps mp3. The voice model is a full-size RVC v2
40 kHz model (RVC's own configuration, random weights, saved as a community file) and
the embedder a full-size ContentVec-shaped HuBERT folder (95 M parameters, random
weights): the same arithmetic as real ones. The cover runs the built-in ``dsp-center``
separator, the pitch extractor named, the ``clean`` effects preset and a +2 semitone
shift of the instrumental (when urvc-effects-pedalboard is installed), and the mix.

Each cover runs in a fresh child process, so its peak RSS is its own: first with an
empty cache, then again with everything cached. Wall time is the child's whole run,
Python start-up and imports included; the per-step times are the pipeline's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def child(arguments: argparse.Namespace) -> None:
    """Run one cover in this process and print its figures as JSON."""
    started = time.perf_counter()
    from urvc_core.cover import make_cover
    from urvc_core.registry import backend_registry

    imported = time.perf_counter() - started
    options: dict[str, Any] = {}
    if "pitch-shift" in backend_registry().names("effect"):
        options = {"effects_preset": "clean", "pitch": 2}
    result = make_cover(
        arguments.song,
        arguments.model,
        embedder=arguments.embedder,
        f0_method=arguments.f0_method,
        separation="center",
        output=arguments.output,
        **options,
    )
    figures = {
        "wall_s": time.perf_counter() - started,
        "import_s": imported,
        "pipeline_s": result.seconds,
        "steps": {step.name: round(step.seconds, 3) for step in result.steps},
        "cached": result.cache_hits,
        "conversion_stages": _conversion_stages(result),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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


def run_child(arguments: argparse.Namespace, paths: dict[str, Path], env: dict[str, str]) -> Any:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--song",
        str(paths["song"]),
        "--model",
        str(paths["model"]),
        "--embedder",
        str(paths["embedder"]),
        "--output",
        str(paths["output"]),
        "--f0-method",
        arguments.f0_method,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if completed.returncode != 0:
        sys.exit(f"the cover failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def build(folder: Path, seconds: float) -> dict[str, Path]:
    from urvc_core.audio import save_audio
    from urvc_core.builtin.random_hubert_models import full_size_contentvec_folder
    from urvc_core.demo import build_demo_song
    from urvc_core.rvc.random_voice_models import build_voice_model_file

    song = save_audio(build_demo_song(seconds), folder / "song.mp3")
    model = build_voice_model_file(folder / "Full Voice.pth", size="full")
    embedder = full_size_contentvec_folder(folder / "contentvec")
    return {"song": song, "model": model, "embedder": embedder, "output": folder / "covers"}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--f0-method", default="fcpe")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: config)")
    parser.add_argument("--keep", type=Path, help="Build in this folder and keep it.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("song", "model", "embedder", "output"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
        return

    with tempfile.TemporaryDirectory(prefix="urvc-bench-cover-") as scratch:
        folder = arguments.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "URVC_HOME": str(folder / "home"), "URVC_OFFLINE": "1"}
        os.environ.update(env)
        started = time.perf_counter()
        paths = build(folder, arguments.seconds)
        print(f"built the song and full-size models in {time.perf_counter() - started:.1f} s")
        (folder / "home").mkdir(exist_ok=True)
        if arguments.device:
            from urvc_core.home import set_config_value

            set_config_value("device", arguments.device)
        first = run_child(arguments, paths, env)
        second = run_child(arguments, paths, env)
        report = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
            "python": platform.python_version(),
            "song_s": arguments.seconds,
            "f0_method": arguments.f0_method,
            "first": first,
            "cached": second,
        }
        print(json.dumps(report, indent=2))
        print()
        print(f"{'step':28} {'first run':>10} {'cached':>10}")
        for step, seconds in first["steps"].items():
            print(f"{step:28} {seconds:>9.2f}s {second['steps'].get(step, 0.0):>9.2f}s")
        print(f"{'pipeline':28} {first['pipeline_s']:>9.2f}s {second['pipeline_s']:>9.2f}s")
        whole = "whole process (with imports)"
        print(f"{whole:28} {first['wall_s']:>9.2f}s {second['wall_s']:>9.2f}s")
        print(f"{'peak RSS':28} {first['peak_rss_mib']:>8.0f}MB {second['peak_rss_mib']:>8.0f}MB")
        print(f"conversion stages (first run): {first['conversion_stages']}")


if __name__ == "__main__":
    main()
