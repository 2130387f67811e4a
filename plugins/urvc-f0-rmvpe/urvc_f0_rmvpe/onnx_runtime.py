"""RMVPE through ONNX Runtime: the same network, faster on a CPU.

ONNX Runtime fuses each convolution with its batch norm and picks its own CPU kernels.
On this project's 2-core CPU it runs the network about 1.5 times as fast as torch on an
idle machine (0.77 s against 1.15 s for 30 s of audio, the two measured in turn), 1.6
to 1.8 times as fast on one thread, and it keeps its speed when other processes compete
for the cores, where torch's two threads stall (``benchmarks/rmvpe.py --runtime``).

There is no ONNX file to download: RVC's ``rmvpe.onnx`` is a DirectML export of another
layout. The network, loaded from ``rmvpe.pt`` as always, is exported once (about 15 s)
to ``<urvc home>/cache/rmvpe/``, under a name derived from the weights file's path,
size and modification time, so a replaced ``rmvpe.pt`` gets a fresh export. The export
is float32 (362 MB), with the number of frames left free. It needs the ``onnx`` and
``onnxruntime`` packages (``pip install 'urvc-f0-rmvpe[onnx]'``).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import torch

from urvc_core.atomic_files import atomic_destination
from urvc_core.errors import UrvcError
from urvc_f0_rmvpe.network import MEL_BANDS, TIME_MULTIPLE

#: The ONNX operator set of the export: ONNX Runtime 1.14 and later run it.
OPSET = 17
_INPUT = "log_mel"
_OUTPUT = "salience"


def require_onnxruntime() -> Any:
    """The onnxruntime module, or a UrvcError saying how to install it."""
    try:
        import onnx  # noqa: F401  (torch's exporter writes through it)
        import onnxruntime
    except ImportError:
        raise UrvcError(
            "rmvpe: runtime 'onnxruntime' needs the onnx and onnxruntime packages; install "
            "them with: pip install 'urvc-f0-rmvpe[onnx]' (or use runtime 'torch')."
        ) from None
    return onnxruntime


def exported_path(weights: Path, cache: Path) -> Path:
    """Where the export of ``weights`` lives: one file per weights file and version of it."""
    status = Path(weights).stat()
    identity = f"{Path(weights).resolve()}|{status.st_size}|{status.st_mtime_ns}|opset{OPSET}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return cache / "rmvpe" / f"rmvpe-{digest}.onnx"


def export_network(network: torch.nn.Module, destination: Path) -> Path:
    """Export ``network`` (float32, CPU) to ONNX at ``destination``, atomically."""
    example = torch.zeros(1, MEL_BANDS, 2 * TIME_MULTIPLE)
    with atomic_destination(destination) as temporary, warnings.catch_warnings():
        # The TorchScript-based exporter is the one that needs no extra package;
        # torch marks it deprecated and warns about the GRU's batch-first layout.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network,
            (example,),
            temporary,
            dynamo=False,
            input_names=[_INPUT],
            output_names=[_OUTPUT],
            dynamic_axes={
                _INPUT: {0: "batch", 2: "frames"},
                _OUTPUT: {0: "batch", 1: "frames"},
            },
            opset_version=OPSET,
        )
    return destination


class OnnxNetwork:
    """An ONNX Runtime session that is called like :class:`~urvc_f0_rmvpe.network.RmvpeNetwork`.

    Takes a float32 log-mel ``(batch, 128, frames)`` tensor and returns the salience
    ``(batch, frames, 360)`` as a tensor, on the CPU.
    """

    def __init__(self, path: Path) -> None:
        onnxruntime = require_onnxruntime()
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # As many threads as torch uses, so torch.set_num_threads governs both runtimes.
        options.intra_op_num_threads = torch.get_num_threads()
        self.path = path
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor:
        feed = {_INPUT: log_mel.detach().to("cpu", torch.float32).numpy()}
        (salience,) = self.session.run([_OUTPUT], feed)
        return torch.from_numpy(salience)


def load_onnx_network(weights: Path, cache: Path) -> OnnxNetwork:
    """The ONNX Runtime network for ``weights``, exported on first use."""
    from urvc_f0_rmvpe.weights import load_rmvpe

    require_onnxruntime()
    path = exported_path(weights, cache)
    if not path.is_file():
        try:
            export_network(load_rmvpe(weights), path)
        except OSError as exc:
            raise UrvcError(
                f"rmvpe: could not write the ONNX export {path}: {exc.strerror or exc}; free "
                f"some disk space or use runtime 'torch'."
            ) from exc
    return OnnxNetwork(path)
