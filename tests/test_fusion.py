"""Voice models fused and compared: `urvc models fuse` and `urvc models compare`.

The models are random-weight files in the community layout (weight_g/weight_v, float32
or float16, as RVC and Applio write them). The fused file's tensors are checked against
the blend computed here from the sources, its keys against the community's, and the
model is loaded and converts speech.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

from urvc_core.errors import UrvcError
from urvc_core.fusion import compare_models, fuse_models
from urvc_core.rvc.conversion import convert_voice
from urvc_core.rvc.voice_model import VoiceModel
from urvc_core.testing import speech
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.voice_models import build_voice_model_file
from urvc_core.voices import import_voice_model, list_voice_models

if TYPE_CHECKING:
    from conftest import CommandResult

COMMUNITY_KEYS = {"weight", "config", "info", "sr", "f0", "version"}


def _stored(path: Path) -> dict[str, torch.Tensor]:
    # What RVC's and Applio's loaders do: torch.load, then the "weight" table.
    return torch.load(path, map_location="cpu", weights_only=True)["weight"]


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    """Three v1 40 kHz models (A, B, C) in the library, and a v2 and a 48 kHz one."""
    made = {
        "A": build_voice_model_file(tmp_path / "A.pth", version="v1", seed=1),
        "B": build_voice_model_file(tmp_path / "B.pth", version="v1", seed=2),
        "C": build_voice_model_file(tmp_path / "C.pth", version="v1", seed=3),
        "V2": build_voice_model_file(tmp_path / "V2.pth", version="v2", seed=4),
        "R48": build_voice_model_file(
            tmp_path / "R48.pth", version="v1", sample_rate=48000, seed=5
        ),
    }
    for name, path in made.items():
        import_voice_model(path, name=name)
    return made


def test_weighted_sum_writes_the_blend_in_the_community_layout(
    models: dict[str, Path], tmp_path: Path
) -> None:
    entry = fuse_models(["A", "B"], name="Blend", weights=[0.7, 0.3])
    assert entry.in_library and entry.name == "Blend"
    contents = torch.load(entry.model_path, map_location="cpu", weights_only=True)
    assert set(contents) >= COMMUNITY_KEYS
    source = torch.load(models["A"], map_location="cpu", weights_only=True)
    assert (contents["sr"], contents["f0"], contents["version"]) == ("40k", 1, "v1")
    assert contents["config"] == source["config"]
    assert "weighted-sum" in contents["info"] and "A, B" in contents["info"]

    a, b, fused = _stored(models["A"]), _stored(models["B"]), contents["weight"]
    assert set(fused) == set(a)
    for name in ("enc_p.emb_phone.weight", "dec.ups.0.weight_v", "dec.ups.0.weight_g"):
        torch.testing.assert_close(fused[name], 0.7 * a[name] + 0.3 * b[name])
    # It loads and converts like any model.
    VoiceModel.load(entry.model_path)
    embedder = build_hf_hubert_folder(tmp_path / "embedder", hidden_size=64)
    result = convert_voice(speech(), "Blend", f0_method="pm", embedder=str(embedder))
    assert result.audio.sample_rate == 40000


def test_weights_are_scaled_to_sum_to_one(models: dict[str, Path]) -> None:
    scaled = fuse_models(["A", "B"], name="Scaled", weights=[7, 3])
    shares = fuse_models(["A", "B"], name="Shares", weights=[0.7, 0.3])
    for name, tensor in _stored(shares.model_path).items():
        torch.testing.assert_close(_stored(scaled.model_path)[name], tensor)


def test_add_difference_is_a_plus_b_minus_c_times_w(models: dict[str, Path]) -> None:
    entry = fuse_models(["A", "B", "C"], name="Added", method="add-difference", weights=[0.5])
    a, b, c = (_stored(models[n]) for n in "ABC")
    fused = _stored(entry.model_path)
    for name in ("flow.flows.0.enc.in_layers.0.weight_v", "emb_g.weight"):
        torch.testing.assert_close(fused[name], a[name] + 0.5 * (b[name] - c[name]))
    unchanged = fuse_models(["A", "B", "C"], name="Same", method="add-difference", weights=[0])
    for name, tensor in a.items():
        torch.testing.assert_close(_stored(unchanged.model_path)[name], tensor)


def test_a_model_compared_with_itself_is_one_and_a_fusion_lies_between(
    models: dict[str, Path],
) -> None:
    itself = compare_models("A", "A")
    assert itself.overall == pytest.approx(1.0, abs=1e-9)
    assert set(itself.parts) == {"encoder", "flow", "decoder", "speaker embedding"}
    assert all(value == pytest.approx(1.0, abs=1e-9) for value in itself.parts.values())
    assert itself.speaker == pytest.approx(1.0, abs=1e-9)

    fuse_models(["A", "B"], name="Half", weights=[0.5, 0.5])
    apart = compare_models("A", "B")
    to_half = compare_models("A", "Half")
    assert apart.overall < to_half.overall < 1.0
    assert apart.speaker < to_half.speaker < 1.0


@pytest.mark.parametrize(
    ("sources", "settings", "message"),
    [
        (["A", "V2"], {}, "A has version v1, V2 v2"),
        (["A", "R48"], {}, "A has sample rate 40000, R48 48000"),
        (["A", "B"], {"weights": [0.5, -0.5]}, "must be finite and zero or more"),
        (["A", "B"], {"weights": [0, 0]}, "add up to 0"),
        (["A", "B"], {"weights": [1.0]}, "one weight per model"),
        (["A"], {}, "two or more models"),
        (["A", "B"], {"method": "add-difference"}, "takes three models"),
        (["A", "B"], {"method": "no-such-method"}, "no-such-method"),
        (["A", "B"], {"name": "A"}, "already"),
        (["A", "B"], {"name": "../escape"}, "can't be a voice model name"),
        (["A", "B"], {"name": "a/b"}, "can't be a voice model name"),
        (["A", "nowhere.pth"], {}, "nowhere.pth"),
    ],
)
def test_bad_fusions_are_one_line_and_leave_the_library_as_it_was(
    models: dict[str, Path], sources: list[str], settings: dict[str, object], message: str
) -> None:
    before = sorted(entry.name for entry in list_voice_models())
    arguments: dict[str, object] = {"name": "New", **settings}
    with pytest.raises(UrvcError) as raised:
        fuse_models(sources, **arguments)  # type: ignore[arg-type]
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert sorted(entry.name for entry in list_voice_models()) == before


def test_overwrite_replaces_a_model_of_that_name(models: dict[str, Path]) -> None:
    fuse_models(["A", "B"], name="Mix", weights=[1, 0])
    replaced = fuse_models(["A", "B"], name="Mix", weights=[0, 1], overwrite=True)
    for name, tensor in _stored(models["B"]).items():
        torch.testing.assert_close(_stored(replaced.model_path)[name], tensor)


def test_urvc_models_fuse_and_compare(
    models: dict[str, Path], run_urvc: Callable[..., CommandResult]
) -> None:
    fused = run_urvc(
        "models", "fuse", "A", str(models["B"]), "--weights", "0.6,0.4", "--name", "Duet", "--json"
    )
    assert fused.exit_code == 0, fused.stderr
    assert json.loads(fused.stdout)["name"] == "Duet"
    compared = run_urvc("models", "compare", "A", "Duet", "--json")
    assert compared.exit_code == 0, compared.stderr
    report = json.loads(compared.stdout)
    assert 0 < report["overall"] < 1 and report["parts"]["decoder"] < 1
    table = run_urvc("models", "compare", "A", "A")
    assert "1.000000" in table.stdout

    bad = run_urvc("models", "fuse", "A", "B", "--weights", "0.6;0.4", "--name", "Bad")
    assert bad.exit_code == 1
    assert "is not a comma-separated list of numbers" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    taken = run_urvc("models", "fuse", "A", "B", "--name", "Duet")
    assert taken.exit_code == 1
    assert "already has a voice model named 'Duet'" in taken.stderr and "--overwrite" in taken.stderr


def test_models_stored_in_either_weight_norm_naming_and_in_half_precision_fuse(
    tmp_path: Path,
) -> None:
    legacy = build_voice_model_file(tmp_path / "L.pth", version="v1", seed=1, fp16=True)
    newer = build_voice_model_file(
        tmp_path / "P.pth", version="v1", seed=2, fp16=True, weight_norm="parametrizations"
    )
    entry = fuse_models([legacy, newer], name="Both", weights=[0.5, 0.5])
    fused = _stored(entry.model_path)
    assert entry.info.dtype == "float16"
    assert all(t.dtype == torch.float16 for t in fused.values())
    assert "dec.ups.0.weight_g" in fused and not any("parametrizations" in n for n in fused)
    renamed = _stored(newer)["dec.ups.0.parametrizations.weight.original1"]
    torch.testing.assert_close(
        fused["dec.ups.0.weight_v"].float(),
        0.5 * (_stored(legacy)["dec.ups.0.weight_v"].float() + renamed.float()),
        atol=2e-3,
        rtol=2e-3,
    )
