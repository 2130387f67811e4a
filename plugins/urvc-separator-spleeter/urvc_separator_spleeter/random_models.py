"""spleeter models with random weights, saved as Deezer's archives hold them.

For tests and benchmarks, which can't download the published models: spleeter's own
network (its ``model_fn``, the full-size U-Net of each configuration) with its
variables initialised from a seed and saved by TensorFlow's checkpoint saver, so the
real loading and separating code runs on it. Runs in the worker environment::

    <env>/bin/python -m urvc_separator_spleeter.random_models FOLDER --stems 2
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def build_random_model(folder: Path, stems: int, seed: int = 0) -> Path:
    """Write a random ``stems``-stem model into ``folder`` (checkpoint, model.index,
    model.data-00000-of-00001, model.meta); returns the folder."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    from spleeter.model import model_fn
    from spleeter.utils.configuration import load_configuration

    tf.get_logger().setLevel("ERROR")

    parameters = load_configuration(f"spleeter:{stems}stems")
    folder.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.random.set_random_seed(seed)
        features = {
            "waveform": tf.compat.v1.placeholder(tf.float32, (None, 2)),
            "audio_id": tf.compat.v1.placeholder(tf.string),
        }
        # The estimator that loads it restores a global step too.
        tf.compat.v1.train.get_or_create_global_step()
        model_fn(features, None, tf.estimator.ModeKeys.PREDICT, parameters)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(session, str(folder / "model"))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--stems", type=int, choices=(2, 4, 5), default=2)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    build_random_model(arguments.folder, arguments.stems, arguments.seed)


if __name__ == "__main__":
    main()
