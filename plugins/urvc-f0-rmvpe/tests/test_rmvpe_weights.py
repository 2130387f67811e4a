"""The network's parameters are rmvpe.pt's: names, shapes, dtypes, size, strict loading.

The expected layout below is written out from the published description of RMVPE's
E2E model (RVC's ``infer/lib/rmvpe.py``: ``E2E(n_blocks=4, n_gru=1, kernel_size=(2,
2))``), not read from this plugin's network, so a parameter that is misnamed or
misshapen in the network fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from urvc_f0_rmvpe.network import RmvpeNetwork
from urvc_f0_rmvpe.testing import save_like_rmvpe_pt
from urvc_f0_rmvpe.weights import RMVPE_WEIGHTS, load_rmvpe

from urvc_core.errors import UrvcError
from urvc_core.rvc.checkpoints import load_checkpoint

# Slow (the full-size RMVPE network, saved and loaded): `pytest -m "not slow"` leaves these out.
pytestmark = pytest.mark.slow

#: The community file's size in bytes, as RVC installers list it beside its sha256.
PUBLISHED_SIZE = 181_184_272


def published_layout() -> dict[str, tuple[int, ...]]:
    """Every entry of rmvpe.pt and its shape, from the description of the E2E model.

    U-Net: an input batch norm; 5 encoder stages 1->16->32->64->128->256 channels, 4
    residual blocks each; 4 bottleneck stages at 512 (the first from 256); 5 decoder
    stages 512->256->128->64->32->16, each a transposed 3x3 convolution with batch
    norm and 4 residual blocks, the first taking the skip too (twice the channels).
    A residual block is conv(3x3, no bias), BN, ReLU, conv, BN, ReLU at indices 0-5,
    with a 1x1 shortcut convolution (with bias) where channels change. Then ``cnn``,
    a 3x3 convolution 16 -> 3; ``fc.0.gru`` a bidirectional GRU 3 * 128 -> 256; and
    ``fc.1`` a linear layer 512 -> 360.
    """
    layout: dict[str, tuple[int, ...]] = {}

    def batch_norm(prefix: str, channels: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            layout[f"{prefix}.{name}"] = (channels,)
        layout[f"{prefix}.num_batches_tracked"] = ()

    def residual_block(prefix: str, inputs: int, outputs: int) -> None:
        layout[f"{prefix}.conv.0.weight"] = (outputs, inputs, 3, 3)
        batch_norm(f"{prefix}.conv.1", outputs)
        layout[f"{prefix}.conv.3.weight"] = (outputs, outputs, 3, 3)
        batch_norm(f"{prefix}.conv.4", outputs)
        if inputs != outputs:
            layout[f"{prefix}.shortcut.weight"] = (outputs, inputs, 1, 1)
            layout[f"{prefix}.shortcut.bias"] = (outputs,)

    batch_norm("unet.encoder.bn", 1)
    encoder = [1, 16, 32, 64, 128, 256]
    for stage in range(5):
        for block in range(4):
            inputs = encoder[stage] if block == 0 else encoder[stage + 1]
            residual_block(f"unet.encoder.layers.{stage}.conv.{block}", inputs, encoder[stage + 1])
    for stage in range(4):
        for block in range(4):
            inputs = 256 if stage == block == 0 else 512
            residual_block(f"unet.intermediate.layers.{stage}.conv.{block}", inputs, 512)
    decoder = [512, 256, 128, 64, 32, 16]
    for stage in range(5):
        inputs, outputs = decoder[stage], decoder[stage + 1]
        prefix = f"unet.decoder.layers.{stage}"
        # A transposed convolution's weight is (in, out, kh, kw).
        layout[f"{prefix}.conv1.0.weight"] = (inputs, outputs, 3, 3)
        batch_norm(f"{prefix}.conv1.1", outputs)
        for block in range(4):
            block_inputs = 2 * outputs if block == 0 else outputs
            residual_block(f"{prefix}.conv2.{block}", block_inputs, outputs)
    layout["cnn.weight"] = (3, 16, 3, 3)
    layout["cnn.bias"] = (3,)
    for suffix in ("", "_reverse"):
        layout[f"fc.0.gru.weight_ih_l0{suffix}"] = (3 * 256, 3 * 128)
        layout[f"fc.0.gru.weight_hh_l0{suffix}"] = (3 * 256, 256)
        layout[f"fc.0.gru.bias_ih_l0{suffix}"] = (3 * 256,)
        layout[f"fc.0.gru.bias_hh_l0{suffix}"] = (3 * 256,)
    layout["fc.1.weight"] = (360, 512)
    layout["fc.1.bias"] = (360,)
    return layout


def test_the_network_has_exactly_the_published_parameters() -> None:
    state = RmvpeNetwork().state_dict()
    layout = published_layout()
    assert sorted(set(layout) - set(state)) == [], "names the network lacks"
    assert sorted(set(state) - set(layout)) == [], "names the network has and rmvpe.pt has not"
    shapes = {name: tuple(tensor.shape) for name, tensor in state.items()}
    wrong = {name: (shapes[name], shape) for name, shape in layout.items() if shapes[name] != shape}
    assert wrong == {}
    # Spot checks of names every RMVPE implementation reads, spelled out in full.
    assert shapes["unet.encoder.layers.0.conv.0.conv.0.weight"] == (16, 1, 3, 3)
    assert shapes["unet.encoder.layers.0.conv.0.shortcut.weight"] == (16, 1, 1, 1)
    assert shapes["unet.intermediate.layers.0.conv.0.shortcut.weight"] == (512, 256, 1, 1)
    assert shapes["unet.decoder.layers.4.conv2.0.conv.0.weight"] == (16, 32, 3, 3)
    assert shapes["fc.0.gru.weight_ih_l0"] == (768, 384)
    assert shapes["fc.1.weight"] == (360, 512)


def test_parameter_count_matches_the_published_file_size(weights_file: Path) -> None:
    parameters = sum(
        tensor.numel() for name, tensor in RmvpeNetwork().state_dict().items()
        if not name.endswith("num_batches_tracked")
    )
    assert parameters == 90_472_799
    # Two bytes a parameter, as the community file is half precision (in float32 it
    # would be twice the size). What torch.save adds around them (names, zip records,
    # alignment) is some tens of kB and depends on the torch version and the file's
    # name, so the saved file lands within 0.05 % of the published size.
    assert abs(weights_file.stat().st_size - PUBLISHED_SIZE) < 0.0005 * PUBLISHED_SIZE


def test_a_file_saved_like_rmvpe_pt_is_read_without_running_code(
    weights_file: Path, random_state: dict[str, Any]
) -> None:
    state = load_checkpoint(weights_file, what="RMVPE weights file")
    assert set(state) == set(published_layout())
    assert state["fc.1.weight"].dtype == torch.float16
    network = load_rmvpe(weights_file)
    loaded = network.state_dict()
    for name in ("unet.encoder.bn.weight", "fc.0.gru.weight_hh_l0_reverse", "fc.1.bias"):
        assert loaded[name].dtype == torch.float32
        assert torch.equal(loaded[name], random_state[name].half().float())
    assert not network.training


def _edited_copy(state: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copy = dict(state)
    edit(copy)
    return copy


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda s: s.__setitem__("fc.2.weight", s.pop("fc.1.weight")), r"fc\.1\.weight"),
        (lambda s: s.pop("unet.decoder.layers.4.conv2.0.shortcut.bias"), r"shortcut\.bias"),
        (lambda s: s.__setitem__("cnn.weight", torch.zeros(3, 16, 5, 5)), r"cnn\.weight"),
        (lambda s: s.__setitem__("extra.weight", torch.zeros(1)), r"extra\.weight"),
    ],
    ids=["renamed", "missing", "misshapen", "unexpected"],
)
def test_a_file_that_is_not_rmvpe_fails_naming_the_tensor(
    scratch_weights_path: Path,
    random_state: dict[str, Any],
    edit: Callable[[dict[str, Any]], None],
    named: str,
) -> None:
    path = save_like_rmvpe_pt(_edited_copy(random_state, edit), scratch_weights_path)
    with pytest.raises(UrvcError, match=named) as caught:
        load_rmvpe(path)
    assert str(path) in str(caught.value)


def test_a_file_without_batch_norm_step_counters_loads(
    scratch_weights_path: Path, random_state: dict[str, Any]
) -> None:
    """Older torch versions saved batch norm without num_batches_tracked; torch accepts that."""
    trimmed = {k: v for k, v in random_state.items() if not k.endswith("num_batches_tracked")}
    network = load_rmvpe(save_like_rmvpe_pt(trimmed, scratch_weights_path))
    assert torch.equal(network.state_dict()["cnn.bias"], random_state["cnn.bias"].half().float())


def test_files_that_are_not_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    broken = tmp_path / "rmvpe.pt"
    broken.write_bytes(b"not a torch file")
    with pytest.raises(UrvcError, match="RMVPE weights file"):
        load_rmvpe(broken)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(UrvcError, match="not a state dict"):
        load_rmvpe(tmp_path / "list.pt")


def test_the_asset_is_the_community_file() -> None:
    assert RMVPE_WEIGHTS.name == "rmvpe"
    assert RMVPE_WEIGHTS.url == (
        "https://huggingface.co/lj1995/VoiceConversionWebUI/resolve/main/rmvpe.pt"
    )
    assert RMVPE_WEIGHTS.sha256 == (
        "6d62215f4306e3ca278246188607209f09af3dc77ed4232efdd069798c4ec193"
    )
    assert RMVPE_WEIGHTS.size == PUBLISHED_SIZE
    assert RMVPE_WEIGHTS.filename == "rmvpe/rmvpe.pt"
