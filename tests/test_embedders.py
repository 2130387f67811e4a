"""The content embedders: HuBERT-family models in both layouts, and the backends around them.

Real embedder weights are 190-380 MB, so these tests use random models with HuBERT's
real convolution stack (one frame per 320 samples) and twelve transformer layers,
built by :mod:`urvc_core.testing.embedder_models` in the layouts users download:
Applio's Hugging Face folders and fairseq checkpoints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from urvc_core import get_backend
from urvc_core.backends import Embedder
from urvc_core.builtin.hubert_embedders import (
    EMBEDDER_ASSETS,
    EMBEDDER_CLASSES,
    HubertFamilyEmbedder,
)
from urvc_core.builtin.hubert_network import HubertFeatureModel, load_hubert
from urvc_core.catalogue import list_assets
from urvc_core.errors import InvalidSettingError, OfflineError, UrvcError
from urvc_core.registry import list_backends
from urvc_core.testing import EmbedderConformance, signals
from urvc_core.testing.embedder_models import (
    CFG_STANDIN_MODULE,
    PROJECTION_SIZE,
    TINY_HIDDEN_SIZE,
    build_fairseq_hubert_checkpoint,
    build_hf_hubert_folder,
)

SPEECH = signals.speech(16000).samples[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One random set of weights (seed 0) in every layout, plus a model without final_proj."""
    root = tmp_path_factory.mktemp("embedders")
    return {
        "hf-bin": build_hf_hubert_folder(root / "hf-bin"),
        "hf-safetensors": build_hf_hubert_folder(
            root / "hf-safetensors", weights_format="safetensors"
        ),
        "fairseq-cfg": build_fairseq_hubert_checkpoint(root / "fairseq-cfg" / "contentvec.pt"),
        "fairseq-args": build_fairseq_hubert_checkpoint(
            root / "fairseq-args" / "hubert_base.pt", config_style="args"
        ),
        "no-final-proj": build_hf_hubert_folder(root / "no-final-proj", with_final_proj=False),
    }


def embedder(name: str, **settings: object) -> HubertFamilyEmbedder:
    """The registered embedder ``name``, as the pipeline would get it."""
    backend = get_backend("embedder", name, **settings)
    assert isinstance(backend, HubertFamilyEmbedder)
    return backend


def features(model: HubertFeatureModel, layer: int, project: bool) -> np.ndarray:
    return model.features(torch.from_numpy(SPEECH), layer=layer, project=project).numpy()


# --- loading both layouts ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["hf-safetensors", "fairseq-cfg", "fairseq-args"])
def test_every_layout_of_the_same_weights_gives_the_same_features(
    models: dict[str, Path], layout: str
) -> None:
    """fairseq's names and weight-norm halves land on the same parameters as the HF folder's."""
    reference = load_hubert(models["hf-bin"])
    other = load_hubert(models[layout])
    for layer, project in ((12, False), (9, True), (5, False)):
        expected = features(reference, layer, project)
        got = features(other, layer, project)
        assert got.shape == expected.shape
        assert np.max(np.abs(got - expected)) < 1e-4, f"layer {layer}, project={project}"


def test_a_weight_file_is_read_with_the_config_json_beside_it(models: dict[str, Path]) -> None:
    from_folder = features(load_hubert(models["hf-bin"]), 9, True)
    from_file = features(load_hubert(models["hf-bin"] / "pytorch_model.bin"), 9, True)
    assert np.array_equal(from_folder, from_file)


def test_features_match_a_transformers_forward_pass(models: dict[str, Path]) -> None:
    """Our forward pass (stopping early at layer 9) equals transformers' own on its own loader."""
    from safetensors.torch import load_file
    from transformers import HubertModel

    folder = models["hf-safetensors"]
    reference = HubertModel.from_pretrained(folder).eval()
    final_proj = load_file(str(folder / "model.safetensors"))
    with torch.no_grad():
        hidden_states = reference(
            torch.from_numpy(SPEECH)[None], output_hidden_states=True
        ).hidden_states
    ours = load_hubert(models["hf-bin"])
    assert np.allclose(features(ours, 12, False), hidden_states[12][0].numpy(), atol=1e-5)
    assert np.allclose(features(ours, 9, False), hidden_states[9][0].numpy(), atol=1e-5)
    projected = (
        hidden_states[9][0] @ final_proj["final_proj.weight"].T + final_proj["final_proj.bias"]
    )
    assert np.allclose(features(ours, 9, True), projected.numpy(), atol=1e-5)


def test_layer_9_projected_is_256_wide_and_layer_12_is_hidden_wide(
    models: dict[str, Path],
) -> None:
    model = load_hubert(models["fairseq-cfg"])
    assert features(model, 9, True).shape[1] == PROJECTION_SIZE
    assert features(model, 12, False).shape[1] == TINY_HIDDEN_SIZE
    assert (model.hidden_size, model.num_layers, model.projection_size) == (32, 12, 256)


def test_speech_gives_one_frame_per_320_samples(models: dict[str, Path]) -> None:
    model = load_hubert(models["hf-bin"])
    for length in (len(SPEECH), 16000, 16319, 16320, 8000, 1000, 400):
        got = model.features(torch.from_numpy(SPEECH[:length]), layer=12, project=False)
        assert got.dtype == torch.float32
        assert abs(got.shape[0] - length // 320) <= 1, f"{length} samples: {got.shape[0]} frames"
    assert model.features(torch.zeros(399), layer=9, project=True).shape == (0, 256)


def test_half_precision_fairseq_checkpoint_loads_as_float32(tmp_path: Path) -> None:
    """RVC's hubert_base.pt stores float16 weights; features still come out float32."""
    half = load_hubert(build_fairseq_hubert_checkpoint(tmp_path / "half.pt", half=True))
    full = load_hubert(build_fairseq_hubert_checkpoint(tmp_path / "full.pt"))
    got, expected = features(half, 12, False), features(full, 12, False)
    assert got.dtype == np.float32
    assert np.max(np.abs(got - expected)) < 0.05 * np.max(np.abs(expected))


def test_reduced_precision_still_gives_float32_features(models: dict[str, Path]) -> None:
    expected = features(load_hubert(models["hf-bin"]), 9, True)
    model = load_hubert(models["hf-bin"]).to(dtype=torch.bfloat16)
    got = features(model, 9, True)
    assert got.dtype == np.float32
    error = np.sqrt(np.mean((got - expected) ** 2)) / np.sqrt(np.mean(expected**2))
    # 32-wide random layers round worse than real ones: 8% here, 1.5% at 768 wide.
    assert error < 0.15, f"bfloat16 features are off by {error:.1%} RMS"


def test_normalize_flag_of_a_fairseq_checkpoint_is_followed(tmp_path: Path) -> None:
    """A model trained on layer-normalised waveforms (task.normalize) gets them; others don't."""
    plain = load_hubert(build_fairseq_hubert_checkpoint(tmp_path / "plain.pt"))
    normalizing = load_hubert(build_fairseq_hubert_checkpoint(tmp_path / "norm.pt", normalize=True))
    assert (plain.normalize_audio, normalizing.normalize_audio) == (False, True)
    scaled = torch.from_numpy(SPEECH * 0.25)
    normalised = torch.nn.functional.layer_norm(scaled, scaled.shape)
    assert torch.allclose(
        normalizing.features(scaled, layer=12, project=False),
        plain.features(normalised, layer=12, project=False),
        atol=1e-5,
    )


# --- safety of fairseq checkpoints ---------------------------------------------------------


def test_the_configuration_class_of_a_checkpoint_is_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = build_fairseq_hubert_checkpoint(tmp_path / "contentvec.pt")
    # The class's module is importable the whole time: only the loader's restraint keeps it out.
    monkeypatch.syspath_prepend(str(tmp_path))
    assert (tmp_path / f"{CFG_STANDIN_MODULE}.py").is_file()
    assert CFG_STANDIN_MODULE not in sys.modules
    model = load_hubert(checkpoint)
    assert CFG_STANDIN_MODULE not in sys.modules
    # ...and the configuration was still read from the inert record: two heads, not 32 // 64.
    assert model.model.config.num_attention_heads == 2


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def test_a_hostile_object_in_a_checkpoint_does_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    checkpoint = build_fairseq_hubert_checkpoint(
        tmp_path / "hostile.pt",
        extra_entries={
            "cfg": _RunsCodeWhenUnpickled(marker),
            "extra": _RunsCodeWhenUnpickled(marker),
        },
    )
    model = load_hubert(checkpoint)
    assert not marker.exists()
    assert features(model, 12, False).shape == (model.frame_count(len(SPEECH)), TINY_HIDDEN_SIZE)


# --- errors ------------------------------------------------------------------------------


def test_folder_without_config_json(tmp_path: Path) -> None:
    folder = build_hf_hubert_folder(tmp_path / "model")
    (folder / "config.json").unlink()
    with pytest.raises(UrvcError, match=r"has no config\.json"):
        load_hubert(folder)


def test_folder_without_weights(tmp_path: Path) -> None:
    folder = build_hf_hubert_folder(tmp_path / "model")
    (folder / "pytorch_model.bin").unlink()
    with pytest.raises(UrvcError, match=r"config\.json but no weights.*pytorch_model\.bin"):
        load_hubert(folder)


def test_config_json_as_transformers_4_wrote_it_loads(tmp_path: Path) -> None:
    """Applio's config.json files carry keys transformers 5 no longer has."""
    folder = build_hf_hubert_folder(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config.update(
        torch_dtype="float32",
        transformers_version="4.27.3",
        _name_or_path="lengyue233/content-vec-best",
        architectures=["HubertModelWithFinalProj"],
    )
    (folder / "config.json").write_text(json.dumps(config))
    assert load_hubert(folder).projection_size == PROJECTION_SIZE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"conv_kernel": [10, 3]}, r"not a valid HuBERT configuration.*conv_kernel"),
        ({"hidden_size": "wide"}, r"not a valid HuBERT configuration.*hidden_size"),
        ({"model_type": "wavlm"}, r"describes a 'wavlm' model"),
    ],
)
def test_unusable_config_json(tmp_path: Path, change: dict[str, object], message: str) -> None:
    folder = build_hf_hubert_folder(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(UrvcError, match=message):
        load_hubert(folder)


def test_config_json_that_is_not_json(tmp_path: Path) -> None:
    folder = build_hf_hubert_folder(tmp_path / "model")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(UrvcError, match=r"config\.json can't be read as JSON"):
        load_hubert(folder)


def test_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(UrvcError, match="does not exist"):
        load_hubert(tmp_path / "nowhere.pt")


def test_weights_that_map_onto_nothing_name_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "other.pt"
    torch.save({"model": {"decoder.embed.weight": torch.zeros(3, 3)}}, path)
    with pytest.raises(
        UrvcError, match=r"no HuBERT or ContentVec weights.*'decoder\.embed\.weight'"
    ):
        load_hubert(path)


def test_hugging_face_weights_without_their_config(tmp_path: Path, models: dict[str, Path]) -> None:
    loose = tmp_path / "embedder.pt"
    loose.write_bytes((models["hf-bin"] / "pytorch_model.bin").read_bytes())
    with pytest.raises(UrvcError, match=r"Hugging Face style weights without their configuration"):
        load_hubert(loose)


def test_missing_weight_is_named(tmp_path: Path) -> None:
    path = build_fairseq_hubert_checkpoint(tmp_path / "cut.pt", config_style="args")
    checkpoint = torch.load(path, weights_only=False)  # our own file: argparse only
    del checkpoint["model"]["encoder.layers.4.fc2.bias"]
    torch.save(checkpoint, path)
    with pytest.raises(
        UrvcError, match=r"lacks the weight 'encoder\.layers\.4\.feed_forward\.output_dense\.bias'"
    ):
        load_hubert(path)


def test_weight_of_another_architecture_is_named(tmp_path: Path) -> None:
    folder = build_hf_hubert_folder(tmp_path / "model")
    weights = torch.load(folder / "pytorch_model.bin")
    weights["encoder.layers.0.attention.rel_attn_embed.weight"] = torch.zeros(2, 2)
    torch.save(weights, folder / "pytorch_model.bin")
    with pytest.raises(
        UrvcError, match=r"'encoder\.layers\.0\.attention\.rel_attn_embed\.weight'.*no place"
    ):
        load_hubert(folder)


def test_config_that_does_not_describe_the_weights(tmp_path: Path) -> None:
    folder = build_hf_hubert_folder(tmp_path / "model")
    config = (
        (folder / "config.json")
        .read_text()
        .replace('"intermediate_size": 64', '"intermediate_size": 48')
    )
    (folder / "config.json").write_text(config)
    with pytest.raises(
        UrvcError, match=r"intermediate_dense\.weight' is shaped \(64, 32\).*\(48, 32\)"
    ):
        load_hubert(folder)


def test_project_without_final_proj(models: dict[str, Path]) -> None:
    model = load_hubert(models["no-final-proj"])
    assert features(model, 12, False).shape[1] == TINY_HIDDEN_SIZE
    with pytest.raises(UrvcError, match=r"no final projection.*project=False"):
        features(model, 9, True)


@pytest.mark.parametrize("layer", [0, 13, -1])
def test_layer_out_of_range(models: dict[str, Path], layer: int) -> None:
    model = load_hubert(models["hf-bin"])
    with pytest.raises(UrvcError, match=r"Layer -?\d+ is out of range.*1 to 12"):
        features(model, layer, False)


def test_stereo_samples_are_refused(models: dict[str, Path]) -> None:
    backend = embedder("custom", path=str(models["hf-bin"]), device="cpu")
    with pytest.raises(UrvcError, match="mono"):
        backend.embed(np.zeros((2, 16000), dtype=np.float32))


# --- the backends ---------------------------------------------------------------------------


class TestCustomEmbedderOnHFFolder(EmbedderConformance):
    dim = TINY_HIDDEN_SIZE
    layer = 12
    project = False

    @pytest.fixture
    def backend(self, models: dict[str, Path]) -> Embedder:
        return embedder("custom", path=str(models["hf-bin"]), device="cpu")


class TestCustomEmbedderOnFairseqCheckpoint(EmbedderConformance):
    dim: ClassVar[int] = PROJECTION_SIZE
    layer = 9
    project = True

    @pytest.fixture
    def backend(self, models: dict[str, Path]) -> Embedder:
        return embedder("custom", path=str(models["fairseq-cfg"]), device="cpu")


def test_every_embedder_and_its_assets_are_registered() -> None:
    names = {info.name for info in list_backends("embedder")}
    assert names >= {cls.name for cls in EMBEDDER_CLASSES}
    assert names >= {
        "contentvec",
        "hubert-base",
        "spin",
        "spin-v2",
        "chinese-hubert-base",
        "japanese-hubert-base",
        "korean-hubert-base",
        "custom",
    }
    declared = {status.asset.name: status.asset for status in list_assets()}
    for asset in EMBEDDER_ASSETS:
        assert declared[asset.name] == asset
        assert asset.url.startswith("https://huggingface.co/")
        assert asset.filename.startswith(f"embedders/{asset.name.removesuffix('-config')}/")
    assert declared["contentvec"].sha256 == (
        "d8dd400e054ddf4e6be75dab5a2549db748cc99e756a097c496c099f65a4854e"
    )


def test_model_loads_on_first_embed_and_is_kept(models: dict[str, Path]) -> None:
    backend = embedder("custom", path=str(models["hf-bin"]), device="cpu")
    backend.embed(SPEECH[:16000])
    first = backend.feature_model()
    backend.embed(SPEECH[:8000], layer=9, project=True)
    assert backend.feature_model() is first


def test_the_precision_setting_runs_the_network_in_bf16(models: dict[str, Path]) -> None:
    reference = embedder("custom", path=str(models["hf-bin"]), device="cpu")
    backend = embedder("custom", path=str(models["hf-bin"]), device="cpu", precision="bf16")
    expected = reference.embed(SPEECH[:32000])
    got = backend.embed(SPEECH[:32000])
    assert backend.feature_model().dtype == torch.bfloat16
    assert reference.feature_model().dtype == torch.float32
    assert got.dtype == np.float32 and got.shape == expected.shape
    error = np.sqrt(np.mean((got - expected) ** 2)) / np.sqrt(np.mean(expected**2))
    # As in the test above: 32-wide random layers; full-size ContentVec is at 37 dB.
    assert 1e-4 < error < 0.15, f"bfloat16 features are off by {error:.1%} RMS"


def test_fp16_on_the_cpu_is_a_clear_error(models: dict[str, Path]) -> None:
    backend = embedder("custom", path=str(models["hf-bin"]), device="cpu", precision="fp16")
    with pytest.raises(
        UrvcError, match=r"fp16 needs a GPU, and embedder .custom. runs on cpu here"
    ):
        backend.embed(SPEECH[:16000])


def test_custom_needs_a_path() -> None:
    with pytest.raises(InvalidSettingError, match="needs its path"):
        get_backend("embedder", "custom")


def test_custom_with_a_missing_path(tmp_path: Path) -> None:
    backend = embedder("custom", path=str(tmp_path / "gone"), device="cpu")
    with pytest.raises(UrvcError, match=r"gone does not exist"):
        backend.embed(SPEECH[:16000])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_a_clear_error(models: dict[str, Path]) -> None:
    backend = embedder("custom", path=str(models["hf-bin"]), device="cuda")
    with pytest.raises(UrvcError, match=r"device=cuda.*no CUDA GPU"):
        backend.embed(SPEECH[:16000])


def test_offline_without_the_weights_says_where_to_put_them(
    urvc_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_OFFLINE", "1")
    backend = embedder("contentvec", device="cpu")
    with pytest.raises(OfflineError) as caught:
        backend.embed(SPEECH[:16000])
    message = str(caught.value)
    expected_path = urvc_home / "assets" / "embedders" / "contentvec" / "pytorch_model.bin"
    assert str(expected_path) in message
    assert "IAHispano/Applio" in message and "URVC_OFFLINE" in message


@pytest.mark.parametrize(
    ("backend_name", "layout", "target"),
    [
        ("contentvec", "hf-bin", "folder"),
        ("contentvec", "hf-bin", "weights file"),
        ("spin-v2", "hf-safetensors", "weights file"),
        ("contentvec", "fairseq-cfg", "fairseq file"),
        ("hubert-base", "fairseq-args", "fairseq file"),
    ],
)
def test_asset_paths_in_config_toml_are_used(
    urvc_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    models: dict[str, Path],
    backend_name: str,
    layout: str,
    target: str,
) -> None:
    model_path = models[layout]
    if target == "weights file":
        model_path = next(model_path.glob("*.bin"), None) or model_path / "model.safetensors"
    (urvc_home / "config.toml").write_text(
        f'[asset_paths]\n"{backend_name}" = "{model_path.as_posix()}"\n'
    )
    monkeypatch.setenv("URVC_OFFLINE", "1")  # proves nothing is downloaded
    embedded = embedder(backend_name, device="cpu").embed(SPEECH, layer=9, project=True)
    expected = features(load_hubert(models["hf-bin"]), 9, True)
    assert np.max(np.abs(embedded - expected)) < 1e-4
