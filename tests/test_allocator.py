"""urvc bounds oneDNN's cache of compiled primitives, whose buffers otherwise stay resident
for every input shape a song brings (see urvc_core.allocator). Each test runs a fresh
interpreter: oneDNN reads the setting once per process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from urvc_core.allocator import ONEDNN_PRIMITIVES_KEPT

#: More convolution shapes than urvc keeps primitives for.
_SHAPES = ONEDNN_PRIMITIVES_KEPT + 2
#: Runs _SHAPES convolutions of distinct shapes twice with oneDNN's verbose log on, marking
#: where the second pass begins.
_TWO_PASSES = f"""SHAPES = {_SHAPES}
import torch
import urvc_core
convolutions = [torch.nn.Conv1d(8, 8, size) for size in range(2, 2 + SHAPES)]
x = torch.randn(1, 8, 4096)
with torch.no_grad(), torch.backends.mkldnn.verbose(2):
    for convolution in convolutions:
        convolution(x)
    print("second pass", flush=True)
    for convolution in convolutions:
        convolution(x)
"""


def _run(code: str, **environment: str) -> str:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY")
    }
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout + completed.stderr


def _second_pass_cache_hits(output: str) -> tuple[int, int]:
    second = output.split("second pass", 1)[1]
    return second.count("create:cache_hit"), second.count("create:cache_miss")


def test_importing_urvc_core_sets_the_capacity() -> None:
    code = "import os, urvc_core; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    assert _run(code).strip() == str(ONEDNN_PRIMITIVES_KEPT)


@pytest.mark.parametrize(
    "name", ["ONEDNN_PRIMITIVE_CACHE_CAPACITY", "DNNL_PRIMITIVE_CACHE_CAPACITY"]
)
def test_a_capacity_the_user_chose_stays(name: str) -> None:
    code = "import os, urvc_core; print(os.environ.get('ONEDNN_PRIMITIVE_CACHE_CAPACITY'))"
    expected = "64" if name.startswith("ONEDNN") else "None"
    assert _run(code, **{name: "64"}).strip() == expected


def test_onednn_keeps_no_more_primitives_than_the_capacity() -> None:
    # The shapes cycle through a cache too small for them: every one is compiled again on the second
    # pass. oneDNN's own default keeps them all.
    hits, misses = _second_pass_cache_hits(_run(_TWO_PASSES))
    assert hits == 0 and misses >= _SHAPES
    hits, misses = _second_pass_cache_hits(
        _run(_TWO_PASSES, ONEDNN_PRIMITIVE_CACHE_CAPACITY="1024")
    )
    assert misses == 0 and hits >= _SHAPES
