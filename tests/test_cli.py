"""The urvc command as a user meets it: versions, listings, doctor, config, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from urvc_core.version import __version__


def test_version(run_urvc: Any) -> None:
    result = run_urvc("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"urvc, version {__version__}"


@pytest.mark.parametrize("arguments", [["--help"], ["backends"], ["plugins", "list"]])
def test_start_up_imports_no_torch(arguments: list[str]) -> None:
    # The seed's CLI was slow because it imported torch for everything; urvc's must not.
    script = (
        "import sys\n"
        "from urvc_core.cli import cli\n"
        f"try:\n    cli.main({arguments!r}, prog_name='urvc', standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'scipy', 'parselmouth', 'pyworld', 'soundfile')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "HEAVY []" in completed.stdout


def test_output_helpers_import_without_the_cli() -> None:
    # Plugins' commands print with urvc_core.console; were it to import the CLI, a plugin
    # imported by the library (cover -> effects plugin -> its commands) would close a cycle.
    script = (
        "import sys\n"
        "from urvc_core.console import echo_json, echo_table, json_option, progress_bar\n"
        "print('CLI', sorted(m for m in sys.modules if m.startswith('urvc_core.cli')))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "CLI []" in completed.stdout


def test_backends_lists_builtins_with_kind_and_plugin(run_urvc: Any) -> None:
    result = run_urvc("backends", "--json")
    assert result.exit_code == 0
    rows = {(b["kind"], b["name"]): b for b in json.loads(result.stdout)}
    assert rows[("f0", "harvest")]["plugin"] == "urvc_core.builtin.classic_f0"
    assert rows[("f0", "harvest")]["available"] is True
    assert rows[("separator", "dsp-center")]["plugin"] == "urvc_core.builtin.dsp_separator"
    assert ("effect", "loudness-normalize") in rows
    assert ("fusion", "weighted-sum") in rows

    table = run_urvc("backends", "f0")
    assert table.stdout.splitlines()[0].split() == ["kind", "name", "plugin", "description"]
    assert {line.split()[1] for line in table.stdout.splitlines()[1:]} >= {"pm", "harvest", "dio"}


def test_backend_details_show_settings_with_ranges(run_urvc: Any) -> None:
    result = run_urvc("backends", "effect", "loudness-normalize", "--json")
    assert result.exit_code == 0
    details = json.loads(result.stdout)
    target = next(s for s in details["settings"] if s["name"] == "target_lufs")
    assert target["type"] == "float" and target["minimum"] is not None


def test_plugins_list_all_includes_builtins(run_urvc: Any) -> None:
    plain = run_urvc("plugins", "list", "--json")
    assert all(not p["builtin"] for p in json.loads(plain.stdout))
    everything = json.loads(run_urvc("plugins", "list", "--all", "--json").stdout)
    names = {p["name"] for p in everything}
    assert "urvc_core.builtin.classic_f0" in names
    assert all(p["error"] is None for p in everything)


@pytest.mark.slow
def test_doctor_reports_torch_home_and_backends(run_urvc: Any, urvc_home: Path) -> None:
    result = run_urvc("doctor", "--json")
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["problems"] == []
    assert report["home"] == str(urvc_home)
    assert report["torch"]["installed"] is True
    assert report["torch"]["build"] in {"CPU"} or report["torch"]["build"].startswith("CUDA")
    assert report["device"] in {"cpu", "cuda", "mps"}
    assert "f0:harvest" in report["backends"]
    for folder in ("models", "assets", "cache", "outputs"):
        assert report["folders"][folder]["path"] == str(urvc_home / folder)
        assert report["folders"][folder]["writable"] is True

    text = run_urvc("doctor")
    assert "torch: " in text.stdout and "no problems found" in text.stdout


@pytest.mark.slow
def test_doctor_exits_1_and_says_why_on_a_broken_config(run_urvc: Any, urvc_home: Path) -> None:
    (urvc_home / "config.toml").write_text("device = \n")
    result = run_urvc("doctor")
    assert result.exit_code == 1
    assert "is not valid TOML" in result.stdout


def test_config_set_show_and_path(run_urvc: Any, urvc_home: Path) -> None:
    assert run_urvc("config", "path").stdout.strip() == str(urvc_home / "config.toml")
    assert run_urvc("config", "set", "output_format", "flac").exit_code == 0
    assert run_urvc("config", "set", "download_timeout", "12.5").exit_code == 0
    shown = json.loads(run_urvc("config", "show", "--json").stdout)
    assert shown["settings"]["output_format"] == "flac"
    assert shown["settings"]["download_timeout"] == 12.5
    assert shown["settings"]["device"] == "auto"
    assert 'output_format = "flac"' in (urvc_home / "config.toml").read_text()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("output_format", "aiff", "is not one of: wav, flac, mp3, ogg"),
        ("output_sample_rate", "100", "out of range; use a value from 8000 to 192000 Hz"),
        ("download_timeout", "soon", "must be float"),
        ("colour", "blue", "There is no setting 'colour'; known settings: device"),
    ],
)
def test_config_set_rejects_bad_values_and_keeps_the_file(
    run_urvc: Any, urvc_home: Path, key: str, value: str, message: str
) -> None:
    run_urvc("config", "set", "output_format", "wav")
    before = (urvc_home / "config.toml").read_text()
    result = run_urvc("config", "set", key, value)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert (urvc_home / "config.toml").read_text() == before


def test_unknown_setting_in_the_config_file_is_named(run_urvc: Any, urvc_home: Path) -> None:
    (urvc_home / "config.toml").write_text('f0_mehtod = "rmvpe"\n')
    result = run_urvc("config", "show")
    assert result.exit_code == 1
    assert "unknown setting(s) f0_mehtod" in result.stderr


def test_asset_paths_table_is_read(run_urvc: Any, urvc_home: Path) -> None:
    (urvc_home / "config.toml").write_text('[asset_paths]\nrmvpe = "/data/rmvpe.pt"\n')
    shown = json.loads(run_urvc("config", "show", "--json").stdout)
    assert shown["asset_paths"] == {"rmvpe": "/data/rmvpe.pt"}


def test_raise_errors_shows_the_traceback_for_debugging(run_urvc: Any) -> None:
    result = run_urvc("backends", "f0", "nope", env={"URVC_RAISE_ERRORS": "1"})
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "BackendNotFoundError" in result.stderr


def test_usage_errors_exit_2(run_urvc: Any) -> None:
    result = run_urvc("doctor", "--bogus")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


SPEECH = (
    Path(__file__).resolve().parent.parent / "urvc_core" / "testing" / "data" / "arctic_a0007.wav"
)


def test_audio_info_of_real_speech(run_urvc: Any) -> None:
    result = run_urvc("audio", "info", str(SPEECH), "--json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["sample_rate"] == 16000 and info["channels"] == 1
    assert info["duration"] == pytest.approx(4.0, abs=0.05)


def test_audio_convert_resamples_and_makes_stereo(run_urvc: Any, tmp_path: Path) -> None:
    out = tmp_path / "speech.flac"
    result = run_urvc(
        "audio", "convert", str(SPEECH), str(out), "--sample-rate", "44100", "--channels", "2"
    )
    assert result.exit_code == 0, result.stderr
    info = json.loads(run_urvc("audio", "info", str(out), "--json").stdout)
    assert (info["format"], info["sample_rate"], info["channels"]) == ("flac", 44100, 2)
    assert info["duration"] == pytest.approx(4.0, abs=0.05)


@pytest.mark.parametrize("case", ["missing", "corrupt", "empty"])
def test_bad_audio_input_is_one_line_exit_1_and_writes_nothing(
    run_urvc: Any, tmp_path: Path, case: str
) -> None:
    source = tmp_path / "song.wav"
    if case == "corrupt":
        source.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10)
    elif case == "empty":
        source.write_bytes(b"")
    out = tmp_path / "out" / "song.mp3"
    result = run_urvc("audio", "convert", str(source), str(out))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert str(source) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_unknown_output_format_is_refused_before_reading(run_urvc: Any, tmp_path: Path) -> None:
    result = run_urvc("audio", "convert", str(SPEECH), str(tmp_path / "x.aiff2"))
    assert result.exit_code == 1
    assert "wav, flac, ogg, mp3" in result.stderr
    assert not (tmp_path / "x.aiff2").exists()
