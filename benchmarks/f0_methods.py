"""Several f0 methods at once: ``extract_pitch`` against the same methods one after another.

    .venv/bin/python benchmarks/f0_methods.py [--seconds 30] [--repeats 3]
        [--combinations harvest,crepe-tiny fcpe,crepe-tiny,harvest pm,harvest,dio ...]
        [--study] [--study-seconds 10]

The input is the ARCTIC sentence repeated to ``--seconds`` at 16 kHz, hop 160, as the
engine extracts pitch. Every backend is created and warmed up (its network loaded)
before timing, as in a batch. "one after another" calls each backend's ``extract_f0``
in turn in this thread, which is what ``extract_pitch`` did before it ran methods at
once; "at once" is ``extract_pitch`` itself. The two alternate, repeat after repeat, so
that both see the same load. The table gives the median of ``--repeats`` (the best in
brackets), the speed-up of "at once" over one after another (medians), the longest
method's own time in the run one after another (what "at once" can't beat), and how
far apart the two curves are (the largest difference in cents over frames both voice).

"at once, fresh process" is ``extract_pitch`` again, in a new process whose calling
thread never runs torch itself, as in ``urvc f0 extract`` (a conversion has loaded its
voice model by then, and ``load_state_dict`` starts torch's threads in the calling
thread, as the warm-up does in this process). It is slower beside a WORLD
tracker: GNU OpenMP (torch's, on Linux) keeps idle threads spinning, on the tracker's
core, as long as the process has no more OpenMP threads than cores; a calling thread
that has run torch has a team of its own, and with that many threads OpenMP spins less.
Run with ``OMP_WAIT_POLICY=PASSIVE`` to see the fresh process catch up.

``--study`` adds the measurements behind the choices ``extract_pitch`` makes, each on
``--study-seconds`` of audio:

* which backends release the GIL: two calls of one backend in two threads against two
  in a row, and how fast a pure-Python loop runs in another thread during one call,
  with torch on one thread so that its own threads don't hide the answer (near 2x and
  near 100%: released; near 1x and near 0%: kept);
* how many intra-op threads a torch network gets beside a busy WORLD or Praat thread:
  all of them, or all but one;
* two torch networks at once, splitting the threads, against one after another;
* what a worker process costs (spawn, import urvc and the backend, one call on one
  second of audio) against Praat on the whole input in this thread.

The machine's load average and CPU count are printed first: on a shared machine other
processes take cores, and every column slows down with them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
HOP = 160
DEFAULT_COMBINATIONS = (
    "harvest,crepe-tiny",
    "fcpe,crepe-tiny,harvest",
    "pm,harvest,dio",
    "dio,crepe-tiny",
    "pm,fcpe",
)


def speech_audio(seconds: float) -> np.ndarray:
    from urvc_core.testing import signals

    sentence = signals.speech(SAMPLE_RATE).samples[0]
    count = round(seconds * SAMPLE_RATE)
    return np.tile(sentence, -(-count // len(sentence)))[:count].astype(np.float32)


def f0_backend(name: str) -> Any:
    from urvc_core.registry import get_backend

    return get_backend("f0", name)


def seconds_taken(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def extract(backend: Any, audio: np.ndarray) -> np.ndarray:
    return np.asarray(backend.extract_f0(audio, SAMPLE_RATE, hop_length=HOP))


def cents_apart(first: np.ndarray, second: np.ndarray) -> float:
    both = (first > 0) & (second > 0)
    if not both.any():
        return 0.0
    return float(np.max(np.abs(1200.0 * np.log2(first[both] / second[both]))))


def compare_combination(methods: list[str], audio: np.ndarray, repeats: int) -> dict[str, Any]:
    from urvc_core.rvc.pitch import combine_f0, extract_pitch

    backends = [f0_backend(name) for name in methods]
    times: dict[str, list[float]] = {"one_after_another": [], "at_once": [], "longest": []}
    sequential_f0 = parallel_f0 = np.zeros(0)
    # One round untimed: it loads the networks, and torch prepares its kernels for each
    # input shape and thread count on first use.
    for repeat in range(repeats + 1):
        curves, each = [], []
        for backend in backends:
            started = time.perf_counter()
            curves.append(extract(backend, audio))
            each.append(time.perf_counter() - started)
        sequential_f0 = combine_f0(curves) if len(curves) > 1 else curves[0]
        started = time.perf_counter()
        parallel_f0 = extract_pitch(audio, SAMPLE_RATE, methods=methods, hop_length=HOP)
        at_once = time.perf_counter() - started
        if repeat:
            times["one_after_another"].append(sum(each))
            times["longest"].append(max(each))
            times["at_once"].append(at_once)
    row: dict[str, Any] = {k: (statistics.median(v), min(v)) for k, v in times.items()}
    row["cents"] = cents_apart(sequential_f0, parallel_f0)
    return row


def at_once_in_a_fresh_process(
    combination: str, seconds: float, repeats: int
) -> tuple[float, float]:
    """Median and best of ``extract_pitch`` in a new process (see the module docstring)."""
    completed = subprocess.run(
        [
            sys.executable,
            __file__,
            "--seconds",
            str(seconds),
            "--repeats",
            str(repeats),
            "--fresh-at-once",
            combination,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    median, best = json.loads(completed.stdout.strip().splitlines()[-1])
    return median, best


def time_at_once_here(combination: str, seconds: float, repeats: int) -> None:
    """In the new process: torch runs only inside extract_pitch, warm-up included."""
    from urvc_core.rvc.pitch import extract_pitch

    audio = speech_audio(seconds)
    methods = combination.split(",")
    extract_pitch(audio, SAMPLE_RATE, methods=methods, hop_length=HOP)
    times = [
        seconds_taken(
            functools.partial(extract_pitch, audio, SAMPLE_RATE, methods=methods, hop_length=HOP)
        )
        for _ in range(repeats)
    ]
    print(json.dumps([statistics.median(times), min(times)]))


def seconds_and_best(median_and_best: tuple[float, float]) -> str:
    return f"{median_and_best[0]:.2f}s ({median_and_best[1]:.2f}s)"


def in_threads(jobs: Sequence[Callable[[], object]]) -> None:
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def with_torch_threads(count: int | None, job: Callable[[], object]) -> Callable[[], None]:
    """``job`` run with ``count`` torch intra-op threads in its thread (None: unchanged)."""

    def run() -> None:
        import torch

        if count is not None:
            torch.set_num_threads(count)
        job()

    return run


def in_a_row(jobs: Sequence[Callable[[], object]]) -> None:
    for job in jobs:
        job()


def median_of(repeats: int, call: Callable[[], object]) -> float:
    """The median time of ``repeats`` calls, after one untimed call that warms up."""
    call()
    return statistics.median(seconds_taken(call) for _ in range(repeats))


def python_speed_beside(call: Callable[[], object]) -> float:
    """How fast a pure-Python loop in another thread runs during ``call``, against alone.

    Near 1: ``call`` lets other threads run (given a free core); near 0: it keeps the GIL.
    """
    counted = [0]
    running = threading.Event()
    running.set()

    def count() -> None:
        while running.is_set():
            counted[0] += 1

    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.5)
    alone = counted[0] / 0.5
    counted[0] = 0
    taken = seconds_taken(call)
    beside = counted[0] / taken
    running.clear()
    counter.join()
    return beside / alone


def study_gil(audio: np.ndarray, repeats: int) -> None:
    import torch

    cores = torch.get_num_threads()
    print("\nDoes extract_f0 release the GIL? Two calls in two threads against two in a row,")
    print("and a pure-Python thread's speed beside one call, against its speed alone")
    print(f"(torch on 1 thread here; {len(audio) / SAMPLE_RATE:.0f} s of audio)")
    print(
        f"{'backend':>11} {'one call':>9} {'two in a row':>13} {'two threads':>12} {'gain':>6}"
        f" {'Python beside':>14}"
    )
    torch.set_num_threads(1)
    try:
        for name in ("pm", "harvest", "dio", "crepe-tiny", "fcpe"):
            one = functools.partial(extract, f0_backend(name), audio)
            single = median_of(repeats, one)
            two_in_a_row = median_of(repeats, functools.partial(in_a_row, [one, one]))
            threaded = median_of(
                repeats, functools.partial(in_threads, [with_torch_threads(1, one)] * 2)
            )
            beside = statistics.median(python_speed_beside(one) for _ in range(repeats))
            print(
                f"{name:>11} {single:>8.2f}s {two_in_a_row:>12.2f}s {threaded:>11.2f}s "
                f"{two_in_a_row / threaded:>5.2f}x {beside:>13.0%}",
                flush=True,
            )
    finally:
        torch.set_num_threads(cores)


def study_torch_threads(audio: np.ndarray, repeats: int) -> None:
    import torch

    cores = torch.get_num_threads()
    print(f"\nA torch network beside a busy thread ({cores} intra-op threads by default)")
    print(f"{'beside':>9} {'network':>11} {'in a row':>9}", end="")
    print(f" {f'{cores} threads':>11} {f'{max(1, cores - 1)} thread(s)':>12}")
    for other_name, network_name in (
        ("harvest", "crepe-tiny"),
        ("harvest", "fcpe"),
        ("dio", "crepe-tiny"),
        ("dio", "fcpe"),
        ("pm", "fcpe"),
    ):
        other_call = functools.partial(extract, f0_backend(other_name), audio)
        network_call = functools.partial(extract, f0_backend(network_name), audio)
        one_then_other = median_of(repeats, functools.partial(in_a_row, [other_call, network_call]))
        figures = [
            median_of(
                repeats,
                functools.partial(
                    in_threads, [other_call, with_torch_threads(count, network_call)]
                ),
            )
            for count in (cores, max(1, cores - 1))
        ]
        torch.set_num_threads(cores)
        print(
            f"{other_name:>9} {network_name:>11} {one_then_other:>8.2f}s "
            f"{figures[0]:>10.2f}s {figures[1]:>11.2f}s",
            flush=True,
        )
    print("\nTwo torch networks at once (threads split) against one after another")
    first = functools.partial(extract, f0_backend("fcpe"), audio)
    second = functools.partial(extract, f0_backend("crepe-tiny"), audio)
    one_then_other = median_of(repeats, functools.partial(in_a_row, [first, second]))
    split = max(1, cores // 2)
    figures = [
        median_of(
            repeats,
            functools.partial(
                in_threads,
                [with_torch_threads(count, first), with_torch_threads(count, second)],
            ),
        )
        for count in (split, cores)
    ]
    torch.set_num_threads(cores)
    print(
        f"fcpe, crepe-tiny: in a row {one_then_other:.2f}s, at once with {split} thread(s) "
        f"each {figures[0]:.2f}s, at once with {cores} each {figures[1]:.2f}s"
    )


def praat_in_a_worker(seconds: float) -> float:
    """In a spawned process: import urvc, create ``pm`` and run it on ``seconds`` of audio."""
    audio = speech_audio(seconds)
    return float(np.mean(extract(f0_backend("pm"), audio)))


def study_processes(audio: np.ndarray, repeats: int) -> None:
    print("\nA GIL-keeping backend in a worker process, against in this thread")
    context = multiprocessing.get_context("spawn")

    def through_a_worker() -> None:
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            pool.submit(praat_in_a_worker, 1.0).result()

    worker = median_of(repeats, through_a_worker)
    praat = f0_backend("pm")
    here = median_of(repeats, lambda: extract(praat, audio))
    print(
        f"spawn + import + pm on 1 s: {worker:.2f}s;  pm on {len(audio) / SAMPLE_RATE:.0f} s "
        f"in this thread: {here:.3f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--combinations", nargs="+", default=list(DEFAULT_COMBINATIONS))
    parser.add_argument("--study", action="store_true", help="add the measurements behind it")
    parser.add_argument("--study-seconds", type=float, default=10.0)
    parser.add_argument("--skip-table", action="store_true", help="only the study")
    parser.add_argument("--fresh-at-once", help=argparse.SUPPRESS)  # a child process's run
    arguments = parser.parse_args()
    if arguments.fresh_at_once:
        time_at_once_here(arguments.fresh_at_once, arguments.seconds, arguments.repeats)
        return

    import torch

    print(
        f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, "
        f"torch {torch.get_num_threads()} intra-op threads"
    )
    if not arguments.skip_table:
        audio = speech_audio(arguments.seconds)
        print(
            f"\n{arguments.seconds:.0f} s of speech, median of {arguments.repeats} "
            f"(best in brackets)"
        )
        print(
            f"{'methods':>24} {'one after another':>18} {'at once':>15} {'speed-up':>9}"
            f" {'longest alone':>14} {'at once, fresh process':>23}  cents apart"
        )
        for combination in arguments.combinations:
            row = compare_combination(combination.split(","), audio, arguments.repeats)
            fresh = at_once_in_a_fresh_process(combination, arguments.seconds, arguments.repeats)
            print(
                f"{combination:>24} {seconds_and_best(row['one_after_another']):>18}"
                f" {seconds_and_best(row['at_once']):>15}"
                f" {row['one_after_another'][0] / row['at_once'][0]:>8.2f}x"
                f" {row['longest'][0]:>13.2f}s {seconds_and_best(fresh):>23}"
                f"  {row['cents']:.3f}",
                flush=True,
            )
    if arguments.study:
        audio = speech_audio(arguments.study_seconds)
        study_gil(audio, arguments.repeats)
        study_torch_threads(audio, arguments.repeats)
        study_processes(audio, arguments.repeats)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
