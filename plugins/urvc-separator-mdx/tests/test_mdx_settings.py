"""Each family's settings: typed, checked with clear errors, mapped onto audio-separator's."""

from __future__ import annotations

import json

import pytest

from urvc_core.errors import InvalidSettingError
from urvc_core.registry import get_backend, list_backends


def test_one_separator_per_family_is_registered() -> None:
    names = {info.name: info for info in list_backends("separator")}
    assert {"mdx", "mdxc", "vr", "demucs"} <= set(names)
    assert all(names[n].plugin == "urvc-separator-mdx" for n in ("mdx", "mdxc", "vr", "demucs"))


@pytest.mark.parametrize(
    ("family", "settings", "expected"),
    [
        ("mdx", {"overlap": 1.5}, "overlap=1.5 is out of range; use a value from 0.001 to 0.999"),
        ("mdx", {"segment_size": 8}, "segment_size=8 is out of range"),
        ("mdx", {"batch_size": 0}, "batch_size=0 is out of range"),
        ("mdx", {"denoise": "maybe"}, "denoise must be true or false"),
        ("mdxc", {"pitch_shift": 30}, "pitch_shift=30 is out of range; use a value from -12 to 12"),
        ("mdxc", {"overlap": 1}, "overlap=1 is out of range; use a value from 2 to 50"),
        ("mdxc", {"segment_size": 2.5}, "segment_size must be a whole number"),
        ("vr", {"window_size": 300}, "window_size=300 is not one of: 320, 512, 1024"),
        ("vr", {"aggression": 101}, "aggression=101 is out of range"),
        ("vr", {"post_process_threshold": 0.5}, "post_process_threshold=0.5 is out of range"),
        ("demucs", {"shifts": -1}, "shifts=-1 is out of range; use a value from 0 to 20"),
        ("demucs", {"overlap": 0}, "overlap=0.0 is out of range"),
        ("mdx", {"window_size": 512}, "has no setting 'window_size'"),
    ],
)
def test_bad_settings_are_refused_with_the_valid_range(
    family: str, settings: dict[str, object], expected: str
) -> None:
    with pytest.raises(InvalidSettingError, match=expected.replace("(", r"\(")):
        get_backend("separator", family, **settings)


@pytest.mark.parametrize(
    ("family", "model", "right_family"),
    [
        ("mdx", "model_bs_roformer_ep_317_sdr_12.9755.ckpt", "mdxc"),
        ("mdxc", "UVR-MDX-NET-Voc_FT.onnx", "mdx"),
        ("vr", "UVR_MDXNET_KARA_2.onnx", "mdx"),
        ("mdx", "UVR-DeEcho-DeReverb.pth", "vr"),
        ("demucs", "model_bs_roformer_ep_317_sdr_12.9755.ckpt", "mdxc"),
    ],
)
def test_a_model_of_another_family_names_its_separator(
    family: str, model: str, right_family: str
) -> None:
    with pytest.raises(InvalidSettingError, match=f"use the '{right_family}' separator"):
        get_backend("separator", family, model=model)


def test_a_file_that_is_no_model_is_refused() -> None:
    with pytest.raises(
        InvalidSettingError, match=r"not a model file of the MDX-Net family \(those end in \.onnx\)"
    ):
        get_backend("separator", "mdx", model="song.mp3")


def test_settings_map_onto_audio_separator_parameters() -> None:
    mdx = get_backend(
        "separator", "mdx", model="tiny_centre_mdx.onnx", overlap=0.5, batch_size=4, denoise=True
    )
    assert mdx.architecture_params(mdx.model) == {  # type: ignore[attr-defined]
        "hop_length": 1024,
        "segment_size": 64,  # the model's own: 2 ** mdx_dim_t_set from its parameters
        "overlap": 0.5,
        "batch_size": 4,
        "enable_denoise": True,
    }
    mdxc = get_backend("separator", "mdxc", model="tiny_bs_roformer.ckpt", pitch_shift=-2)
    assert mdxc.architecture_params(mdxc.model) == {  # type: ignore[attr-defined]
        "segment_size": 256,
        "override_model_segment_size": False,
        "batch_size": None,
        "overlap": None,
        "pitch_shift": -2,
    }
    vr = get_backend("separator", "vr", model="tiny_vr.pth", aggression=10, tta=True)
    assert vr.architecture_params(vr.model) == {  # type: ignore[attr-defined]
        "batch_size": 1,
        "window_size": 512,
        "aggression": 10,
        "enable_tta": True,
        "enable_post_process": False,
        "post_process_threshold": 0.2,
        "high_end_process": False,
    }
    demucs = get_backend("separator", "demucs", shifts=0)
    assert demucs.architecture_params(demucs.model) == {  # type: ignore[attr-defined]
        "segment_size": "Default",
        "shifts": 0,
        "overlap": 0.25,
        "segments_enabled": True,
    }


def test_backends_command_lists_the_settings() -> None:
    from click.testing import CliRunner

    from urvc_core.cli import cli

    result = CliRunner().invoke(cli, ["backends", "separator", "mdxc", "--json"])
    assert result.exit_code == 0, result.output
    described = json.loads(result.output)
    settings = {s["name"]: s for s in described["settings"]}
    assert settings["model"]["default"] == "model_bs_roformer_ep_317_sdr_12.9755.ckpt"
    assert settings["pitch_shift"]["unit"] == "semitones"
    assert described["available"] is True
