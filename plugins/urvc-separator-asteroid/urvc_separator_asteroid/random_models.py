"""asteroid models with random weights, saved as asteroid saves them.

For tests and benchmarks, which can't download the published models: asteroid's own
network classes (ConvTasNet, DPRNNTasNet) at the published models' sizes, with weights
initialised from a seed, saved with ``torch.save(model.serialize(), path)``, so the real
loading and separating code runs on them. Runs in the worker environment::

    <env>/bin/python -m urvc_separator_asteroid.random_models FILE --architecture ConvTasNet
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: The published models' settings (ConvTasNet as in asteroid's DAMP-VSEP recipe).
ARCHITECTURES: dict[str, dict[str, object]] = {
    "ConvTasNet": {
        "n_filters": 256,
        "kernel_size": 20,
        "stride": 10,
        "n_blocks": 8,
        "n_repeats": 4,
        "bn_chan": 256,
        "skip_chan": 256,
        "hid_chan": 512,
        "mask_act": "relu",
    },
    "DPRNNTasNet": {"n_filters": 64, "kernel_size": 16, "stride": 8, "chunk_size": 100},
}


def build_random_model(
    path: Path, architecture: str, sources: int, sample_rate: int, seed: int = 0
) -> Path:
    """Write a random ``architecture`` model of ``sources`` sources to ``path``."""
    import torch
    from asteroid import models

    torch.manual_seed(seed)
    model = getattr(models, architecture)(
        n_src=sources, sample_rate=float(sample_rate), **ARCHITECTURES[architecture]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.serialize(), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="ConvTasNet")
    parser.add_argument("--sources", type=int, default=2)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    build_random_model(
        arguments.path,
        arguments.architecture,
        arguments.sources,
        arguments.sample_rate,
        arguments.seed,
    )


if __name__ == "__main__":
    main()
