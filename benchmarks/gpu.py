"""Voice conversion on a GPU with full-size models: speed, memory, precision and a profile.

    python benchmarks/gpu.py [--device cuda] [--seconds 30 180] [--precision fp32 bf16 fp16]
                             [--f0 fcpe rmvpe] [--runs 3] [--profile] [--json PATH]

The measurement issue 14 asks for before anything is changed. It builds (once, under
``--work``) the full-size random-weight models of benchmarks/conversion.py: a v2 40k
voice model and a ContentVec-shaped embedder (real sizes, real arithmetic), and for
``rmvpe`` a full-size random ``rmvpe.pt`` (only where the urvc-f0-rmvpe plugin is
installed). The input is the ARCTIC sentence repeated to each length.

For each f0 method and precision (fp16 only on CUDA, bf16 where the device has it), the
models are loaded onto ``--device``, and for each length one untimed conversion warms
up, then ``--runs`` are timed (synchronising the GPU before and after). The table gives
the median wall time and the fastest, the real-time factor (wall seconds per audio
second), the median seconds of each stage (``ConversionResult.timings``; each stage ends
in a copy to the host, so the host clock sees the GPU work of its own stage), the peak
GPU memory allocated during a run (weights included), and the SNR of the output against
the fp32 output for the same input and seed (for fp32, the last run against the
warm-up: "inf" when they are identical). Cold start: a fresh process imports torch,
initialises the device, loads the models and converts the shortest input twice; the
first conversion against the second is the cost of the first use (kernel selection,
lazy initialisation).

``--profile``: torch.profiler over one warm fp32 conversion of 20 s
(``--profile-seconds``) with the first f0 method: the 25 operations with the most self
CUDA time (self CPU time on the CPU), the counts of kernels, launch calls, copies and
synchronisations, the CPU time spent in operators against the GPU's busy time, and each
stage's wall, CPU and CUDA time, so that what the GPU waits for is visible.

The first f0 method is measured whole (rows, profile, cold start) before the next, and
everything lands in ``--json`` as it is measured, so a run cut short keeps what it did.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The cold-start child counts from here, before torch is imported.
PROCESS_STARTED = time.perf_counter()

STAGES = ("f0", "embedder", "index", "synthesizer", "post")
ENGINE_RATE = 16000


def build_assets(work: Path, f0_methods: list[str]) -> tuple[Path, Path]:
    """The voice model and embedder folder of benchmarks/conversion.py, and random RMVPE
    weights in the benchmark's URVC_HOME where rmvpe is asked for."""
    from conversion import build_assets as build_voice_and_embedder

    model, embedder = build_voice_and_embedder(work)
    if "rmvpe" in f0_methods and rmvpe_installed():
        from urvc_f0_rmvpe.testing import write_random_weights

        weights = work / "home" / "assets" / "rmvpe" / "rmvpe.pt"
        if not weights.exists():
            write_random_weights(weights)
    return model, embedder


def rmvpe_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("urvc_f0_rmvpe") is not None


def speech_input(seconds: float) -> Any:
    import numpy as np

    from urvc_core.backends import Audio
    from urvc_core.testing import speech

    sentence = speech(ENGINE_RATE).samples[0]
    count = int(seconds * ENGINE_RATE)
    repeats = -(-count // len(sentence))
    return Audio(np.tile(sentence, repeats)[:count][np.newaxis, :], ENGINE_RATE)


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def usable_precisions(device: str, asked: list[str]) -> tuple[list[str], list[str]]:
    """The asked precisions the device runs, and a note for each it does not."""
    import torch

    usable, notes = [], []
    for precision in asked:
        if precision == "fp16" and not device.startswith("cuda"):
            notes.append("fp16 left out: urvc runs it on CUDA only")
        elif (
            precision == "bf16" and device.startswith("cuda") and not torch.cuda.is_bf16_supported()
        ):
            notes.append(f"bf16 left out: {torch.cuda.get_device_name(device)} lacks it")
        else:
            usable.append(precision)
    return usable, notes


def usable_f0_methods(asked: list[str]) -> tuple[list[str], list[str]]:
    from urvc_core.registry import backend_registry

    installed = set(backend_registry().names("f0"))
    usable = [name for name in asked if name in installed]
    return usable, [
        f"{name} left out: no such f0 backend is installed"
        for name in asked
        if name not in installed
    ]


def snr_db(reference: Any, output: Any) -> float:
    import numpy as np

    reference = np.asarray(reference, dtype=np.float64).ravel()
    output = np.asarray(output, dtype=np.float64).ravel()
    count = min(len(reference), len(output))
    noise = float(np.sum((reference[:count] - output[:count]) ** 2))
    signal = float(np.sum(reference[:count] ** 2))
    if noise == 0.0:
        return math.inf
    return 10 * math.log10(signal / noise)


def environment(device: str) -> dict[str, Any]:
    import platform

    import torch

    from urvc_core.version import __version__

    facts: dict[str, Any] = {
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "urvc_core": __version__,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if device.startswith("cuda"):
        properties = torch.cuda.get_device_properties(device)
        facts |= {
            "gpu": properties.name,
            "gpu_memory_gib": round(properties.total_memory / 2**30, 1),
            "compute_capability": f"{properties.major}.{properties.minor}",
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            # "fp32" convolutions run as TF32 on the matrix units when this is on.
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
        }
    return facts


class Report:
    """The results so far, written to ``--json`` after every measurement."""

    def __init__(self, path: Path | None, facts: dict[str, Any]) -> None:
        self.path = path
        self.data: dict[str, Any] = {
            "environment": facts,
            "notes": [],
            "warm": [],
            "cold": [],
            "profile": None,
        }

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_suffix(".partial")
        staging.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(staging, self.path)


def json_safe(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


@contextlib.contextmanager
def recorded_failure(report: Report, what: str) -> Iterator[None]:
    """An error in one measurement is noted and the next one runs: the device run is
    one-shot, and fp16 or a stage may fail where the rest would have worked."""
    try:
        yield
    except Exception as exc:
        import traceback

        message = f"{what} failed: {type(exc).__name__}: {exc}"
        print(message, file=sys.stderr, flush=True)
        traceback.print_exc()
        report.data["notes"].append(message)
        report.save()


def timed_conversions(
    converter: Any, audio: Any, settings: Any, runs: int, device: str
) -> dict[str, Any]:
    """One untimed warm-up, then ``runs`` timed conversions of ``audio``."""
    import torch

    on_cuda = device.startswith("cuda")
    warm_up = converter.convert(audio, settings).audio.samples[0]
    walls, stage_runs, peaks = [], [], []
    for _ in range(runs):
        if on_cuda:
            torch.cuda.reset_peak_memory_stats(device)
        synchronize(device)
        started = time.perf_counter()
        result = converter.convert(audio, settings)
        synchronize(device)
        walls.append(time.perf_counter() - started)
        stage_runs.append(result.timings)
        if on_cuda:
            peaks.append(torch.cuda.max_memory_allocated(device) / 2**20)
    return {
        "warm_up": warm_up,
        "last": result.audio.samples[0],
        "walls": walls,
        "stages": {
            stage: statistics.median(run.get(stage, 0.0) for run in stage_runs) for stage in STAGES
        },
        "peak_gpu_mib": max(peaks) if peaks else None,
    }


def measure_warm(
    arguments: argparse.Namespace,
    model: Path,
    embedder: Path,
    precisions: list[str],
    f0: str,
    references: dict[tuple[str, float], Any],
    report: Report,
    profile: bool,
) -> None:
    """The warm rows of one f0 method, each precision loaded in turn; ``references``
    holds the fp32 outputs that the other precisions are compared with."""
    import gc

    import torch

    from urvc_core.devices import use_device
    from urvc_core.rvc.conversion import VoiceConverter
    from urvc_core.rvc.settings import ConversionSettings

    device = arguments.device
    on_cuda = device.startswith("cuda")
    inputs = {seconds: speech_input(seconds) for seconds in arguments.seconds}
    print(
        f"\n{'input':>6} {'f0':>6} {'prec':>5} {'median s':>9} {'best s':>7} {'RTF':>7}  "
        f"{'s per stage: ' + ' / '.join(STAGES):<52} {'peak GPU':>9} {'SNR dB':>7}",
        flush=True,
    )
    for precision in precisions:
        converter = None
        # The f0 extractors follow the converter's device through use_device, as in
        # convert_voice.
        with use_device(device), recorded_failure(report, f"{precision}"):
            converter = VoiceConverter(
                model, embedder=str(embedder), precision=precision, device=device
            )
            resident = torch.cuda.memory_allocated(device) / 2**20 if on_cuda else None
            settings = ConversionSettings(f0_method=f0, precision=precision, embedder=str(embedder))
            for seconds, audio in inputs.items():
                with recorded_failure(report, f"{seconds:g} s {f0} {precision}"):
                    runs = timed_conversions(converter, audio, settings, arguments.runs, device)
                    if precision == "fp32":
                        references[(f0, seconds)] = runs["warm_up"]
                    reference = references.get((f0, seconds))
                    snr = None if reference is None else snr_db(reference, runs["last"])
                    walls = runs["walls"]
                    row = {
                        "seconds": seconds,
                        "f0": f0,
                        "precision": precision,
                        "wall_s": walls,
                        "median_s": statistics.median(walls),
                        "best_s": min(walls),
                        "rtf": statistics.median(walls) / seconds,
                        "stages_s": runs["stages"],
                        "peak_gpu_mib": runs["peak_gpu_mib"],
                        "resident_gpu_mib_after_load": resident,
                        "snr_db_vs_fp32": None if snr is None else json_safe(snr),
                    }
                    report.data["warm"].append(row)
                    report.save()
                    print_warm_row(row, snr)
            if profile and precision == "fp32":
                with recorded_failure(report, "profile"):
                    report.data["profile"] = profile_conversion(
                        arguments, converter, embedder, f0, arguments.profile_seconds
                    )
                    report.save()
        del converter
        gc.collect()
        if on_cuda:
            torch.cuda.empty_cache()


def print_warm_row(row: dict[str, Any], snr: float | None) -> None:
    per_stage = " / ".join(f"{row['stages_s'][stage]:.3f}" for stage in STAGES)
    peak = "-" if row["peak_gpu_mib"] is None else f"{row['peak_gpu_mib']:.0f} MiB"
    snr_text = "-" if snr is None else f"{snr:.1f}"
    print(
        f"{row['seconds']:>5g}s {row['f0']:>6} {row['precision']:>5} {row['median_s']:>9.3f} "
        f"{row['best_s']:>7.3f} {row['rtf']:>7.4f}  {per_stage:<52} {peak:>9} {snr_text:>7}",
        flush=True,
    )


@contextlib.contextmanager
def stages_marked_for_the_profiler() -> Iterator[None]:
    """Each stage of the converter inside a ``stage:<name>`` range of the profiler."""
    from torch.profiler import record_function

    from urvc_core.rvc import conversion

    timed = conversion._timed

    @contextlib.contextmanager
    def timed_and_marked(timings: dict[str, float], stage: str) -> Iterator[None]:
        with record_function(f"stage:{stage}"), timed(timings, stage):
            yield

    conversion._timed = timed_and_marked
    try:
        yield
    finally:
        conversion._timed = timed


def profile_conversion(
    arguments: argparse.Namespace, converter: Any, embedder: Path, f0: str, seconds: float = 20.0
) -> dict[str, Any]:
    """torch.profiler over one warm fp32 conversion: top operators, launches, stages."""
    from torch.profiler import ProfilerActivity, profile

    from urvc_core.rvc.settings import ConversionSettings

    device = arguments.device
    on_cuda = device.startswith("cuda")
    audio = speech_input(seconds)
    settings = ConversionSettings(f0_method=f0, precision="fp32", embedder=str(embedder))
    converter.convert(audio, settings)  # warm for this length
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    synchronize(device)
    with stages_marked_for_the_profiler(), profile(activities=activities) as profiler:
        started = time.perf_counter()
        result = converter.convert(audio, settings)
        synchronize(device)
        wall = time.perf_counter() - started
    averages = profiler.key_averages()
    sort_by = "self_cuda_time_total" if on_cuda else "self_cpu_time_total"
    table = averages.table(sort_by=sort_by, row_limit=25, max_name_column_width=60)

    def calls(*fragments: str) -> int:
        return sum(e.count for e in averages if any(f in e.key for f in fragments))

    events = profiler.events()
    # The device's own events: kernels, copies and memsets; a stage's range also shows
    # there as a user annotation, which is no work of its own.
    on_gpu = [
        e
        for e in events
        if e.device_type.name == "CUDA" and not getattr(e, "is_user_annotation", False)
    ]
    kernels = [e for e in on_gpu if not e.name.startswith(("Memcpy", "Memset"))]
    stages: dict[str, dict[str, float]] = {}
    for event in events:
        if event.name.startswith("stage:") and event.device_type.name == "CPU":
            name = event.name.removeprefix("stage:")
            figures = stages.setdefault(
                name, {"wall_s": result.timings.get(name, 0.0), "cpu_s": 0.0, "cuda_s": 0.0}
            )
            # A CPU range's device time is that of the kernels launched inside it.
            figures["cpu_s"] += event.cpu_time_total / 1e6
            figures["cuda_s"] += event.device_time_total / 1e6
    summary = {
        "seconds": seconds,
        "f0": f0,
        "wall_s": wall,
        "rtf": wall / seconds,
        "stages": stages,
        "operator_cpu_s": sum(e.self_cpu_time_total for e in averages) / 1e6,
        "kernel_cuda_s": sum(e.self_device_time_total for e in kernels) / 1e6,
        "gpu_busy_s": sum(e.self_device_time_total for e in on_gpu) / 1e6,
        "kernels_run": len(kernels),
        "gpu_copies_and_memsets": len(on_gpu) - len(kernels),
        "kernel_launch_calls": calls("LaunchKernel"),
        "memcpy_calls": calls("cudaMemcpy", "cuMemcpy"),
        "synchronize_calls": calls("Synchronize"),
        "table": table,
    }
    print(f"\nprofile: one warm fp32 conversion of {seconds:g} s with {f0}, sorted by {sort_by}")
    print(table)
    print(
        f"wall {wall:.3f} s (profiled); CPU time in operators {summary['operator_cpu_s']:.3f} s; "
        f"GPU busy {summary['gpu_busy_s']:.3f} s, in kernels {summary['kernel_cuda_s']:.3f} s; "
        f"{summary['kernels_run']} kernels run, {summary['kernel_launch_calls']} launch calls, "
        f"{summary['gpu_copies_and_memsets']} copies and memsets on the GPU, "
        f"{summary['memcpy_calls']} copy calls, {summary['synchronize_calls']} synchronisations"
    )
    print(f"{'stage':>12} {'wall s':>8} {'CPU s':>8} {'CUDA s':>8}")
    for stage, figures in stages.items():
        print(
            f"{stage:>12} {figures['wall_s']:>8.3f} {figures['cpu_s']:>8.3f} "
            f"{figures['cuda_s']:>8.3f}"
        )
    if arguments.trace:
        with contextlib.suppress(Exception):  # a trace is a bonus, never worth the run
            plain = arguments.trace.with_suffix("")
            profiler.export_chrome_trace(str(plain))
            with plain.open("rb") as source, gzip.open(arguments.trace, "wb") as target:
                shutil.copyfileobj(source, target)
            plain.unlink()
    return summary


def measure_cold(arguments: argparse.Namespace, spec: str) -> dict[str, Any]:
    """In a fresh process: import, device start, load, then two conversions of one input."""
    import torch

    from urvc_core.devices import use_device
    from urvc_core.rvc.conversion import VoiceConverter
    from urvc_core.rvc.settings import ConversionSettings

    imported = time.perf_counter()
    precision, f0, seconds_text = spec.split(":")
    seconds = float(seconds_text)
    device = arguments.device
    torch.zeros(1, device=device)
    synchronize(device)
    device_ready = time.perf_counter()
    model, embedder = build_assets(arguments.work, [f0])
    audio = speech_input(seconds)
    settings = ConversionSettings(f0_method=f0, precision=precision, embedder=str(embedder))
    with use_device(device):
        started = time.perf_counter()
        converter = VoiceConverter(
            model, embedder=str(embedder), precision=precision, device=device
        )
        synchronize(device)
        loaded = time.perf_counter()
        first = converter.convert(audio, settings)
        synchronize(device)
        first_done = time.perf_counter()
        converter.convert(audio, settings)
        synchronize(device)
        second_done = time.perf_counter()
    return {
        "precision": precision,
        "f0": f0,
        "seconds": seconds,
        "import_s": imported - PROCESS_STARTED,
        "device_init_s": device_ready - imported,
        "load_s": loaded - started,
        "first_convert_s": first_done - loaded,
        "first_stages_s": first.timings,
        "second_convert_s": second_done - first_done,
    }


def run_cold(arguments: argparse.Namespace, precisions: list[str], f0: str, report: Report) -> None:
    seconds = min(arguments.seconds)
    print(
        f"\ncold start, fresh process, {seconds:g} s with {f0}: {'prec':>5} {'process s':>9} "
        f"{'import':>7} {'device':>7} {'load':>6} {'1st conv':>8} {'2nd conv':>8}",
        flush=True,
    )
    for precision in precisions:
        command = [
            sys.executable,
            __file__,
            "--device",
            arguments.device,
            "--work",
            str(arguments.work),
            "--cold-child",
            f"{precision}:{f0}:{seconds}",
        ]
        started = time.perf_counter()
        try:
            completed = subprocess.run(
                command, capture_output=True, text=True, timeout=arguments.cold_timeout
            )
        except subprocess.TimeoutExpired:
            completed = subprocess.CompletedProcess(command, -1, "", "timed out")
        process = time.perf_counter() - started
        if completed.returncode != 0:
            message = f"cold {precision} failed: {completed.stderr.strip()[-2000:]}"
            print(message, flush=True)
            report.data["notes"].append(message)
            continue
        row = json.loads(completed.stdout.strip().splitlines()[-1])
        row["process_s"] = process
        report.data["cold"].append(row)
        report.save()
        print(
            f"{'':>43}{precision:>5} {process:>9.2f} {row['import_s']:>7.2f} "
            f"{row['device_init_s']:>7.2f} {row['load_s']:>6.2f} {row['first_convert_s']:>8.3f} "
            f"{row['second_convert_s']:>8.3f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default: cuda)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[30.0, 180.0])
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16", "fp16"])
    parser.add_argument("--f0", nargs="+", default=["fcpe", "rmvpe"], help="rmvpe if installed")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per row (median)")
    parser.add_argument("--cold", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--cold-timeout", type=float, default=180.0, help="seconds per process")
    parser.add_argument("--profile", action="store_true", help="profile one fp32 conversion")
    parser.add_argument("--profile-seconds", type=float, default=20.0, help="its length")
    parser.add_argument("--trace", type=Path, help="with --profile: a Chrome trace (.json.gz)")
    parser.add_argument("--json", type=Path, help="write every figure here as it is measured")
    parser.add_argument("--work", type=Path, default=Path(".benchmarks"))
    parser.add_argument("--cold-child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    arguments.work = arguments.work.resolve()
    # Offline, and a home of its own: the packaged FCPE weights, the RMVPE weights built
    # here, and no config.toml of the user's that could move the device.
    os.environ["URVC_HOME"] = str(arguments.work / "home")
    os.environ["URVC_OFFLINE"] = "1"
    if arguments.cold_child:
        print(json.dumps(measure_cold(arguments, arguments.cold_child)))
        return

    started = time.perf_counter()
    f0_methods, f0_notes = usable_f0_methods(arguments.f0)
    model, embedder = build_assets(arguments.work, f0_methods)
    built = time.perf_counter() - started
    precisions, precision_notes = usable_precisions(arguments.device, arguments.precision)
    report = Report(arguments.json, environment(arguments.device))
    report.data["notes"] += f0_notes + precision_notes
    report.data["assets_ready_s"] = built
    facts = report.data["environment"]
    print(
        ", ".join(f"{key} {value}" for key, value in facts.items())
        + f"; models ready in {built:.1f} s"
    )
    for note in report.data["notes"]:
        print(f"note: {note}")
    if not f0_methods or not precisions:
        raise SystemExit("nothing to measure")
    report.save()
    # The fp32 warm-up outputs: fp32's own last run against them shows whether a run
    # repeats itself exactly ("inf"), the other precisions how far they are from fp32.
    references: dict[tuple[str, float], Any] = {}
    # The first f0 method whole (its rows, the profile, the cold start) before the next:
    # a run cut short by its time limit loses the later methods first.
    for position, f0 in enumerate(f0_methods):
        first = position == 0
        measure_warm(
            arguments,
            model,
            embedder,
            precisions,
            f0,
            references,
            report,
            arguments.profile and first,
        )
        if first and arguments.cold:
            run_cold(arguments, precisions, f0, report)
    report.data["total_s"] = time.perf_counter() - started
    report.save()
    print(f"\ndone in {report.data['total_s']:.0f} s")


if __name__ == "__main__":
    main()
