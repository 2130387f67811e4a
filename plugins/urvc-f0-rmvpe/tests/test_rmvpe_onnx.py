"""runtime = "onnxruntime": the network exported once and run by ONNX Runtime."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from urvc_f0_rmvpe import extractor
from urvc_f0_rmvpe.onnx_runtime import OnnxNetwork
from urvc_f0_rmvpe.salience import iter_salience
from urvc_f0_rmvpe.weights import load_rmvpe

from urvc_core import get_backend
from urvc_core.backends import F0Extractor
from urvc_core.errors import UrvcError
from urvc_core.testing import signals

# Slow (an ONNX export of RMVPE): `pytest -m "not slow"` leaves these out.
pytestmark = pytest.mark.slow


def rmvpe(**settings: object) -> F0Extractor:
    backend = get_backend("f0", "rmvpe", **settings)
    assert isinstance(backend, F0Extractor)
    return backend


def test_onnx_runtime_computes_what_torch_does(rmvpe_weights: Path, urvc_home: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    speech = signals.speech(16000).samples[0][: 3 * 16000]
    extractor._cached_onnx_network.cache_clear()
    with_onnx = rmvpe(runtime="onnxruntime").extract_f0(speech, 16000)
    with_torch = rmvpe().extract_f0(speech, 16000)

    exports = list((urvc_home / "cache" / "rmvpe").glob("*.onnx"))
    assert len(exports) == 1, "one export, in urvc's cache folder"
    leftovers = [p.name for p in exports[0].parent.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "no half-written export left behind"

    # The salience maps agree to float32 rounding, frame count left free in the export.
    onnx_map = np.concatenate(
        [s for _, s in iter_salience(OnnxNetwork(exports[0]), speech, segment_frames=None)]
    )
    torch_map = np.concatenate(
        [s for _, s in iter_salience(load_rmvpe(rmvpe_weights), speech, segment_frames=None)]
    )
    assert onnx_map.shape == torch_map.shape == (301, 360)
    assert np.max(np.abs(onnx_map - torch_map)) < 1e-4
    # Random weights score many bins almost alike, so a rounding difference may move a
    # frame's peak to another bin; nearly every frame must come out the same.
    assert with_onnx.shape == with_torch.shape
    same = np.isclose(with_onnx, with_torch, rtol=1e-4)
    assert same.mean() > 0.97

    # A later run reads the export instead of making it again.
    written = exports[0].stat().st_mtime_ns
    extractor._cached_onnx_network.cache_clear()
    again = rmvpe(runtime="onnxruntime").extract_f0(speech, 16000)
    assert np.array_equal(again, with_onnx)
    assert exports[0].stat().st_mtime_ns == written
    extractor._cached_onnx_network.cache_clear()
    exports[0].unlink()  # 362 MB


def test_onnx_runtime_runs_on_the_cpu_in_fp32_only(rmvpe_weights: Path) -> None:
    silence = np.zeros(1600, dtype=np.float32)
    with pytest.raises(UrvcError, match="runs on the CPU"):
        rmvpe(runtime="onnxruntime", device="cuda").extract_f0(silence, 16000)
    with pytest.raises(UrvcError, match="fp32 only"):
        rmvpe(runtime="onnxruntime", precision="fp16").extract_f0(silence, 16000)


def test_without_onnxruntime_the_error_says_what_to_install(
    rmvpe_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if absent
    extractor._cached_onnx_network.cache_clear()
    with pytest.raises(UrvcError, match=r"urvc-f0-rmvpe\[onnx\]"):
        rmvpe(runtime="onnxruntime").extract_f0(np.zeros(1600, dtype=np.float32), 16000)
