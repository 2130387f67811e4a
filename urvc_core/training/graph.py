"""``urvc train graph``: a training run's loss curves, drawn to a PNG.

Two panels from the run's CSV logs (see :mod:`~urvc_core.training.fit`): the training
losses per step (the generator's total and its mel part, the discriminator's), smoothed
over a few steps with the raw values faint behind; and per epoch the held-out mel loss
with the held-out pitch error in cents on a second axis, the best epoch marked. Drawn
with matplotlib's file-only Agg backend, so no display is needed.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from urvc_core.errors import UrvcError

__all__ = ["draw_loss_graph"]

#: Steps the training curves are averaged over.
SMOOTHING_STEPS = 10


def _columns(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return {}
    return {key: np.array([_number(row[key]) for row in rows]) for key in rows[0]}


def _number(text: str) -> float:
    """A CSV cell as a number: the overtraining flag's True/False as 1/0, empty as NaN."""
    words = {"True": 1.0, "False": 0.0, "": math.nan}
    return words[text] if text in words else float(text)


def _smoothed(values: np.ndarray) -> np.ndarray:
    width = min(SMOOTHING_STEPS, len(values))
    kernel = np.ones(width) / width
    padded = np.concatenate([np.full(width - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def draw_loss_graph(name: str, output: Path | None = None) -> Path:
    """Draw the training ``name``'s losses to ``output`` (``<workspace>/logs/losses.png``
    by default, written atomically); returns the path.

    Raises UrvcError when the run has logged no step yet.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from urvc_core.atomic_files import atomic_destination
    from urvc_core.training.fit import LOG_FOLDER, TRAINING_LOG, VALIDATION_LOG
    from urvc_core.training.preprocess import training_workspace

    workspace = training_workspace(name)
    steps = _columns(workspace / LOG_FOLDER / TRAINING_LOG)
    if not steps:
        raise UrvcError(f"'{name}' has no training log yet; run `urvc train fit {name}` first.")
    validation = _columns(workspace / LOG_FOLDER / VALIDATION_LOG)
    output = Path(output) if output is not None else workspace / LOG_FOLDER / "losses.png"

    figure, (losses_axis, held_out_axis) = pyplot.subplots(2, 1, figsize=(9, 7))
    for column, label, colour in (
        ("loss_g", "generator, total", "tab:blue"),
        ("loss_mel", "generator, mel (×45)", "tab:green"),
        ("loss_d", "discriminator", "tab:red"),
    ):
        losses_axis.plot(steps["step"], steps[column], color=colour, alpha=0.2, linewidth=0.8)
        losses_axis.plot(steps["step"], _smoothed(steps[column]), color=colour, label=label)
    losses_axis.set(xlabel="step", ylabel="loss", title=f"{name}: training losses")
    losses_axis.legend(loc="upper right")
    losses_axis.grid(alpha=0.3)

    if validation:
        epochs = validation["epoch"]
        held_out_axis.plot(epochs, validation["mel_loss"], "o-", color="tab:green", label="mel L1")
        best = int(np.nanargmin(validation["mel_loss"]))
        held_out_axis.axvline(epochs[best], color="grey", linestyle="--", label="best epoch")
        pitch_axis = held_out_axis.twinx()
        pitch_axis.plot(epochs, validation["f0_rmse_cents"], "s-", color="tab:purple")
        pitch_axis.set_ylabel("pitch error [cents RMS]", color="tab:purple")
        held_out_axis.legend(loc="upper right")
        held_out_axis.set(xlabel="epoch", ylabel="held-out mel L1", title="held-out clips")
    else:
        held_out_axis.text(0.5, 0.5, "no held-out clips", ha="center", va="center")
        held_out_axis.set_axis_off()
    held_out_axis.grid(alpha=0.3)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_destination(output) as temporary:
            figure.savefig(temporary, format="png", dpi=100)
    except OSError as exc:
        raise UrvcError(f"Can't write the graph {output}: {exc.strerror or exc}.") from None
    finally:
        pyplot.close(figure)
    return output
