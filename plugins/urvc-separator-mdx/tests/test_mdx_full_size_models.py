"""The random-weight models benchmarks run: the real layouts, at the sizes users download."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from urvc_separator_mdx.cover_steps import separator_for
from urvc_separator_mdx.model_catalogue import DOWNLOAD_CHECKS_FILE, model_parameters
from urvc_separator_mdx.tiny_models import (
    MDX_NET_SHAPES,
    build_full_size_roformer,
    build_mdx_net_model,
    conv_tdf_net,
)

from urvc_core.testing.conformance import assert_audio_like, stereo_test_input


@pytest.mark.parametrize(("shape", "mib"), [("voc-ft", 63.7), ("kara-2", 28.3)])
def test_mdx_net_shapes_weigh_what_the_published_files_weigh(shape: str, mib: float) -> None:
    parameters = sum(p.numel() for p in conv_tdf_net(MDX_NET_SHAPES[shape]).parameters())
    assert parameters * 4 / 2**20 == pytest.approx(mib, rel=0.01)


@pytest.mark.usefixtures("offline")
def test_a_random_weight_mdx_net_separates_through_audio_separator(model_folder: Path) -> None:
    path = build_mdx_net_model(model_folder, "random_mdx_net.onnx", shape="tiny")
    shape = MDX_NET_SHAPES["tiny"]
    assert model_parameters(path, model_folder) == {
        "compensate": shape.compensate,
        "mdx_dim_f_set": shape.dim_f,
        "mdx_dim_t_set": shape.dim_t_power,
        "mdx_n_fft_scale_set": shape.n_fft,
        "primary_stem": "Vocals",
    }
    mixture = stereo_test_input(44100, 2, 1.0)
    stems = separator_for("random_mdx_net.onnx").separate(mixture)
    assert set(stems) == {"Vocals", "Instrumental"}
    for name, stem in stems.items():
        assert_audio_like(stem, mixture, name)
        assert np.all(np.isfinite(stem.samples))


@pytest.mark.slow
def test_the_full_size_roformer_is_viperx_s(tmp_path: Path) -> None:
    path = build_full_size_roformer(tmp_path)
    assert path.name == "model_bs_roformer_ep_317_sdr_12.9755.ckpt"
    # The published checkpoint: 159.8 M parameters in fp32.
    assert path.stat().st_size == pytest.approx(639e6, rel=0.002)
    config = yaml.safe_load(path.with_suffix(".yaml").read_text(encoding="utf-8"))
    model = config["model"]
    assert (model["dim"], model["depth"], model["heads"], model["dim_head"]) == (512, 12, 8, 64)
    assert len(model["freqs_per_bands"]) == 62 and sum(model["freqs_per_bands"]) == 1025
    assert config["audio"]["chunk_size"] == 352800
    assert config["inference"]["dim_t"] == 801
    listed = json.loads((tmp_path / DOWNLOAD_CHECKS_FILE).read_text(encoding="utf-8"))
    assert listed["roformer_download_list"] == {
        "Roformer Model: model_bs_roformer_ep_317_sdr_12.9755": {
            path.name: "model_bs_roformer_ep_317_sdr_12.9755.yaml"
        }
    }
