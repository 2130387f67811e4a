"""config.toml from the command line: TOML out, checked values in, atomic rewrites."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from urvc_core.assets import packaged_file
from urvc_core.catalogue import asset_store
from urvc_core.errors import UrvcError
from urvc_core.home import load_config, set_config_value, unset_config_value
from urvc_core.plugins import plugin_host
from urvc_core.rvc.settings import CONVERSION_SETTINGS


def _home_files(home: Path) -> list[str]:
    """Every file in the home folder: a rewrite must leave no temporary file behind."""
    return sorted(p.name for p in home.iterdir() if p.is_file())


def test_config_show_prints_toml_that_reads_back_as_the_config_in_force(
    run_urvc: Any, urvc_home: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "my weights" / 'fcpe "final".pt'  # a path TOML must escape
    weights.parent.mkdir()
    weights.write_bytes(b"weights")
    for key, value in [
        ("output_format", "flac"),
        ("offline", "yes"),
        ("convert.index_rate", "0.75"),
        ("convert.f0_method", "harvest,pm"),
        ("asset_paths.fcpe", str(weights)),
    ]:
        assert run_urvc("config", "set", key, value).exit_code == 0

    shown = run_urvc("config", "show")

    assert shown.exit_code == 0, shown.stderr
    parsed = tomllib.loads(shown.stdout)
    loaded = load_config()
    convert = {
        s.name: loaded[f"convert.{s.name}"]
        for s in CONVERSION_SETTINGS
        if loaded[f"convert.{s.name}"] is not None
    }
    assert parsed == {
        **loaded.values,
        "convert": convert,
        "asset_paths": {"fcpe": str(weights)},
    }
    assert parsed["offline"] is True and parsed["convert"]["index_rate"] == 0.75
    assert parsed["convert"]["rms_mix_rate"] == 1.0  # a default, shown with the rest
    # Settings without a value are comments, and every setting says what it means.
    assert "# f0_file is not set" in shown.stdout
    assert '# Format of finished files. One of: wav, flac, mp3, ogg. Default: "mp3".' in (
        shown.stdout
    )
    assert "None" not in shown.stdout and "False" not in shown.stdout


def test_config_show_of_an_empty_home_is_toml_of_the_defaults(run_urvc: Any) -> None:
    parsed = tomllib.loads(run_urvc("config", "show").stdout)

    assert parsed["device"] == "auto" and parsed["download_timeout"] == 60.0
    assert parsed["convert"]["f0_method"] == "auto"
    assert "f0_file" not in parsed["convert"]
    assert parsed["asset_paths"] == {}


def test_asset_path_set_is_what_the_asset_store_uses_and_unset_gives_it_back(
    run_urvc: Any, urvc_home: Path, tmp_path: Path
) -> None:
    weights = tmp_path / "fcpe.pt"
    weights.write_bytes(b"weights")
    (urvc_home / "config.toml").write_text(
        '# my settings\ndevice = "cpu"\n\n[convert]\npitch = 3.0\n', encoding="utf-8"
    )

    result = run_urvc("config", "set", "asset_paths.fcpe", "fcpe.pt", cwd=tmp_path)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f'asset_paths.fcpe = "{weights}"')
    written = tomllib.loads((urvc_home / "config.toml").read_text())
    # The user's other keys are kept; a relative path is stored absolute.
    assert written == {
        "device": "cpu",
        "convert": {"pitch": 3.0},
        "asset_paths": {"fcpe": str(weights)},
    }
    fcpe = plugin_host().assets["fcpe"][0]
    assert asset_store().path_for(fcpe) == weights
    assert asset_store().fetch(fcpe, progress=False) == weights  # no download

    unset = run_urvc("config", "unset", "asset_paths.fcpe")

    assert unset.exit_code == 0, unset.stderr
    assert tomllib.loads((urvc_home / "config.toml").read_text()) == {
        "device": "cpu",
        "convert": {"pitch": 3.0},
    }
    # Back to where it is found without the setting: the torchfcpe wheel's copy where
    # that is installed, else the asset store's.
    assert asset_store().path_for(fcpe) != weights
    assert asset_store().path_for(fcpe) in (
        urvc_home / "assets" / Path(fcpe.filename),
        packaged_file(fcpe),
    )
    assert _home_files(urvc_home) == ["config.toml"]


def test_unset_puts_a_setting_back_to_its_default(run_urvc: Any, urvc_home: Path) -> None:
    set_config_value("convert.index_rate", "0.75")
    set_config_value("device", "cpu")

    result = run_urvc("config", "unset", "convert.index_rate")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("convert.index_rate = 0.3, the default")
    assert tomllib.loads((urvc_home / "config.toml").read_text()) == {"device": "cpu"}
    # Not in the file but a known setting: already at its default, not an error.
    assert run_urvc("config", "unset", "convert.protect").exit_code == 0
    assert unset_config_value("device").values["device"] == "auto"
    assert tomllib.loads((urvc_home / "config.toml").read_text()) == {}


@pytest.mark.parametrize("key", ["colour", "asset_paths.fcpe", "convert.nosuch"])
def test_unset_of_an_unknown_key_is_one_line_naming_what_the_file_sets(
    run_urvc: Any, urvc_home: Path, key: str
) -> None:
    set_config_value("device", "cpu")
    before = (urvc_home / "config.toml").read_bytes()

    result = run_urvc("config", "unset", key)

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {urvc_home / 'config.toml'} has no setting '{key}' to unset; it sets: device.\n"
    )
    assert (urvc_home / "config.toml").read_bytes() == before


def test_unset_removes_a_key_that_breaks_the_file(run_urvc: Any, urvc_home: Path) -> None:
    config = urvc_home / "config.toml"
    config.write_text('f0_mehtod = "rmvpe"\ndevice = "cpu"\n[convert]\nindex_rate = 7\n')

    typo = run_urvc("config", "unset", "f0_mehtod")

    # Removed, and the error says what is still wrong, naming the file and the key.
    assert typo.exit_code == 1
    assert typo.stderr.startswith(f"Error: Removed f0_mehtod from {config}, but the file has")
    assert f"{config} [convert]: index_rate=7.0 is out of range; use a value from 0 to 1" in (
        typo.stderr
    )
    assert typo.stderr.count("\n") == 1
    assert tomllib.loads(config.read_text()) == {"device": "cpu", "convert": {"index_rate": 7}}
    # set repairs the bad value: the whole resulting file is what is checked.
    assert run_urvc("config", "set", "convert.index_rate", "0.5").exit_code == 0
    assert run_urvc("config", "show").exit_code == 0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "convert.f0_method",
            "nosuch",
            "[convert]: f0_method='nosuch' is not an installed f0 method; use auto, one of ",
        ),
        (
            "convert.f0_method",
            "pm,harvst",
            "f0_method='pm,harvst': 'harvst' is not an installed f0 method (did you mean "
            "'harvest'?)",
        ),
        (
            "convert.embedder",
            "contentvek",
            "[convert]: embedder='contentvek' is neither an installed embedder nor an "
            "existing file or folder (did you mean 'contentvec'?)",
        ),
        ("convert.protect", "0.9", "[convert]: protect=0.9 is out of range; use a value from 0"),
        ("convert.auto_pitch", "sometimes", "auto_pitch='sometimes' is not one of: off, "),
        ("output_sample_rate", "44.1k", "output_sample_rate must be int; got '44.1k'"),
        (
            "asset_paths.fcpee",
            "/tmp",
            "[asset_paths]: no installed plugin declares an asset named 'fcpee' (did you "
            "mean 'fcpe'?)",
        ),
        ("asset_paths.fcpe", "/no/such/fcpe.pt", "fcpe = '/no/such/fcpe.pt' does not exist"),
    ],
)
def test_set_checks_the_value_and_names_the_config_file(
    run_urvc: Any, urvc_home: Path, key: str, value: str, message: str
) -> None:
    set_config_value("device", "cpu")
    before = (urvc_home / "config.toml").read_bytes()

    result = run_urvc("config", "set", key, value)

    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {urvc_home / 'config.toml'}")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert (urvc_home / "config.toml").read_bytes() == before
    assert _home_files(urvc_home) == ["config.toml"]


def test_backend_names_that_are_installed_are_accepted(tmp_path: Path) -> None:
    embedder = tmp_path / "my-embedder"
    embedder.mkdir()

    assert (
        set_config_value("convert.f0_method", "harvest, pm").convert["f0_method"] == "harvest, pm"
    )
    assert set_config_value("convert.embedder", "spin").convert["embedder"] == "spin"
    assert set_config_value("convert.embedder", str(embedder)).convert["embedder"] == str(embedder)
    assert set_config_value("convert.f0_method", "auto").convert["f0_method"] == "auto"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[convert]\nf0_method = "crepe-tny"\n',
            "[convert]: f0_method='crepe-tny' is not an installed f0 method (did you mean "
            "'crepe-tiny'?); use auto, one of crepe, crepe-tiny, dio, fcpe, harvest, pm",
        ),
        (
            'device = "gpu"\n',
            ": device='gpu' is not a device; use auto, cpu, cuda, cuda:N or mps (N counts GPUs "
            "from 0). Fix it with `urvc config set device VALUE`, or `urvc config unset device` "
            "for the default.",
        ),
        (
            "[convert]\nfilter_radius = 2.5\n",
            "[convert]: filter_radius must be a whole number; got 2.5.",
        ),
        ("[convert]\nclean = 1\n", "[convert]: clean must be true or false; got 1."),
    ],
)
def test_a_bad_config_file_on_load_is_one_line_naming_file_key_and_what_is_allowed(
    run_urvc: Any, urvc_home: Path, text: str, message: str
) -> None:
    (urvc_home / "config.toml").write_text(text)

    for command in (["config", "show"], ["assets", "list"]):
        result = run_urvc(*command)
        assert result.exit_code == 1, command
        assert result.stderr.startswith(f"Error: {urvc_home / 'config.toml'}")
        assert message in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    with pytest.raises(UrvcError, match=r"config\.toml"):
        load_config()
    # The doctor names it among its problems, once.
    doctor = run_urvc("doctor", "--json")
    problems = json.loads(doctor.stdout)["problems"]
    assert [problem for problem in problems if message in problem] == [problems[0]]
