"""Training a full-size voice model on the CPU: time per stage, steps per second, peak
memory, the loss curves and the held-out curve.

    .venv/bin/python benchmarks/training.py [--minutes 6] [--speech-minutes 3]
        [--batch-size 4] [--version v2] [--output FOLDER]

The dataset is speech synthesized by espeak-ng (one voice, a few minutes: the sentences
below read in turn, each at a slightly different speed and pitch), the embedder a
ContentVec-sized HuBERT with random weights (no weights can be downloaded here), so
the figures are those of RVC's real network sizes, not of a voice worth hearing. Then:
``preprocess_dataset`` at 40 kHz, ``extract_features`` (FCPE, v2), ``train_model`` with
RVC's full-size network from scratch (no pretrained networks offline) for ``--minutes``
of wall time (interrupted as Ctrl-C would, which saves a checkpoint), the loss graph, the
index and the export into the library. Prints each stage's time, the steps per second,
the held-out mel loss and pitch error per epoch, and the script's peak RSS; the graph
is left in ``--output`` (default: a temporary folder, printed); the rest (gigabytes of
checkpoints) is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "A voice model learns how one person sounds from a few minutes of speech.",
    "Every morning she walked to the station and bought a paper and a coffee.",
    "Seven silver swans swam silently across the still and misty lake.",
    "Please remember to close the windows before the storm arrives tonight.",
    "He said that the concert would start at eight, but it began at nine.",
    "Numbers like forty two and nineteen eighty four are easy to read aloud.",
    "The old library kept its rarest books in a cold room under the stairs.",
    "Could you tell me where the nearest bakery is, and when it opens?",
    "Music travels through the air as waves of pressure that our ears can hear.",
)


def synthesize_speech(folder: Path, minutes: float) -> float:
    """WAV files of espeak-ng reading the sentences until ``minutes`` of speech; returns
    the seconds written."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    seconds, number = 0.0, 0
    while seconds < minutes * 60:
        sentence = SENTENCES[number % len(SENTENCES)]
        path = folder / f"{number:03d}.wav"
        speed, pitch = 140 + (number * 7) % 40, 40 + (number * 11) % 30
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                "en-us",
                "-s",
                str(speed),
                "-p",
                str(pitch),
                "-w",
                str(path),
                sentence,
            ],
            check=True,
        )
        seconds += soundfile.info(path).duration
        number += 1
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="Training wall time.")
    parser.add_argument("--speech-minutes", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--version", default="v2", choices=["v1", "v2"])
    parser.add_argument("--output", type=Path, help="Where to keep the graph.")
    arguments = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("This benchmark needs espeak-ng (apt-get install espeak-ng).")

    scratch = Path(tempfile.mkdtemp(prefix="urvc-training-benchmark-"))
    output = arguments.output or Path(tempfile.mkdtemp(prefix="urvc-training-graph-"))
    try:
        run(arguments, scratch, output)
    finally:  # the workspace, embedder and checkpoints take gigabytes
        shutil.rmtree(scratch, ignore_errors=True)


def run(arguments: argparse.Namespace, scratch: Path, output: Path) -> None:
    os.environ["URVC_HOME"] = str(scratch / "home")
    os.environ["URVC_OFFLINE"] = "1"
    import torch

    from urvc_core.builtin.random_hubert_models import full_size_contentvec_folder
    from urvc_core.training import (
        FitSettings,
        build_training_index,
        draw_loss_graph,
        export_model,
        extract_features,
        preprocess_dataset,
        train_model,
    )

    timings: dict[str, float] = {}

    def timed(stage: str, started: float) -> None:
        timings[stage] = time.perf_counter() - started
        print(f"{stage}: {timings[stage]:.1f} s", flush=True)

    started = time.perf_counter()
    speech_seconds = synthesize_speech(scratch / "dataset", arguments.speech_minutes)
    timed("espeak-ng", started)
    print(f"dataset: {speech_seconds / 60:.1f} min of speech")

    started = time.perf_counter()
    embedder = full_size_contentvec_folder(scratch / "contentvec")
    timed("embedder (built)", started)

    started = time.perf_counter()
    prepared = preprocess_dataset(scratch / "dataset", "Bench", sample_rate=40000)
    timed("preprocess", started)
    print(f"clips: {prepared.clips}, {prepared.seconds / 60:.1f} min")

    started = time.perf_counter()
    extract_features("Bench", f0_method="fcpe", embedder=str(embedder), version=arguments.version)
    timed("extract", started)

    deadline = time.perf_counter() + arguments.minutes * 60

    def stop_at_the_deadline(report: object) -> None:
        if time.perf_counter() > deadline:
            raise KeyboardInterrupt  # as Ctrl-C: the run saves a checkpoint and stops
        validation = getattr(report, "validation", None)
        if validation is not None:
            print(
                f"  epoch {validation['epoch']} (step {validation['step']}): held-out mel "
                f"{validation['mel_loss']:.3f}, pitch error {validation['f0_rmse_cents']:.0f} "
                f"cents",
                flush=True,
            )

    started = time.perf_counter()
    settings = FitSettings(
        epochs=1000,
        batch_size=arguments.batch_size,
        save_every=1,
        model_size="full",
        pretrained="none",
        validation_fraction=0.1,
    )
    result = train_model("Bench", settings, progress=stop_at_the_deadline)
    timed("fit", started)
    print(
        f"fit: {result.steps} steps of {arguments.batch_size} clips in {result.seconds:.0f} s, "
        f"{result.steps_per_second:.3f} steps/s, {result.epochs_done} whole epochs, "
        f"{result.training_clips} clips trained on, {result.validation_clips} held out, "
        f"torch threads {torch.get_num_threads()}"
    )

    started = time.perf_counter()
    graph = draw_loss_graph("Bench", output / "training-losses.png")
    timed("graph", started)
    started = time.perf_counter()
    index = build_training_index("Bench")
    timed("index", started)
    print(f"index: {index.vectors} vectors, {index.lists} lists")
    started = time.perf_counter()
    epoch, entry = export_model("Bench", "best" if result.best_epoch else "last")
    timed("export", started)
    print(
        f"exported epoch {epoch}: {entry.model_path} ({entry.model_path.stat().st_size >> 20} MiB)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"graph: {graph}")
    print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
