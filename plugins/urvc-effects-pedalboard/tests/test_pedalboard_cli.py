"""``urvc effects`` and ``urvc pitch-shift`` through the installed ``urvc`` script."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from urvc_effects_pedalboard import EFFECT_CLASSES

from urvc_core import Audio, load_audio, save_audio
from urvc_core.testing import signals

RATE = 44100
Run = Callable[..., Any]


@pytest.fixture
def vocals(tmp_path: Path) -> Path:
    return save_audio(signals.speech(RATE), tmp_path / "vocals.wav")


def test_effects_list_shows_every_effect_with_ranges_and_units(run_urvc: Run) -> None:
    listed = run_urvc("effects", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    effects = {entry["name"]: entry for entry in json.loads(listed.stdout)}
    assert {effect_class.name for effect_class in EFFECT_CLASSES} <= set(effects)
    assert "loudness-normalize" in effects  # chains can use other plugins' effects
    room_size = next(s for s in effects["reverb"]["settings"] if s["name"] == "room_size")
    assert (room_size["minimum"], room_size["maximum"], room_size["type"]) == (0.0, 1.0, "float")
    cutoff = effects["highpass"]["settings"][0]
    assert cutoff["unit"] == "Hz" and cutoff["help"]
    text = run_urvc("effects", "list")
    assert "  delay_seconds: Time from the sound to its echo [float, 0 to 30 s" in text.stdout


def test_apply_a_preset_and_a_chain_of_effects(run_urvc: Run, vocals: Path) -> None:
    out = vocals.with_name("vocals_hall.wav")
    applied = run_urvc("effects", "apply", str(vocals), "--preset", "hall", "-o", str(out))
    assert applied.exit_code == 0, applied.stderr
    assert applied.stdout.strip() == str(out)
    assert load_audio(out).num_samples > load_audio(vocals).num_samples  # the hall's tail
    chained = vocals.with_name("vocals_quiet.flac")
    applied = run_urvc(
        "effects",
        "apply",
        str(vocals),
        "-e",
        "highpass:cutoff_frequency_hz=100",
        "--effect",
        "gain:gain_db=-6",
        "-o",
        str(chained),
    )
    assert applied.exit_code == 0, applied.stderr
    assert load_audio(chained).num_samples == load_audio(vocals).num_samples


def test_saved_presets_are_listed_and_applied_by_name(
    run_urvc: Run, vocals: Path, urvc_home: Path
) -> None:
    saved = run_urvc(
        "effects", "save-preset", "airy", "-e", "high-shelf:cutoff_frequency_hz=6000,gain_db=3",
        "-e", "reverb:room_size=0.2", "-d", "Airy vocal",
    )  # fmt: skip
    assert saved.exit_code == 0, saved.stderr
    assert Path(saved.stdout.strip()) == urvc_home / "presets" / "effects" / "airy.toml"
    presets = {p["name"]: p for p in json.loads(run_urvc("effects", "presets", "--json").stdout)}
    assert {"clean", "radio", "hall", "airy"} <= set(presets)
    assert presets["airy"]["source"] == "user"
    assert presets["airy"]["description"] == "Airy vocal"
    assert [e["name"] for e in presets["airy"]["effects"]] == ["high-shelf", "reverb"]
    out = vocals.with_name("airy.wav")
    applied = run_urvc("effects", "apply", str(vocals), "-p", "airy", "-o", str(out))
    assert applied.exit_code == 0, applied.stderr
    assert out.is_file()
    again = run_urvc("effects", "save-preset", "airy", "-e", "gain")
    assert again.exit_code == 1 and "--overwrite" in again.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-e", "reverbb"], "There is no effect named 'reverbb'. Did you mean 'reverb'?"),
        (["-e", "reverb:rom_size=0.3"], "its settings are: room_size, damping"),
        (["-e", "compressor:ratio=0.5"], "ratio=0.5 is out of range; use a value from 1 to 50."),
        (["-e", "reverb:room_size"], "Malformed setting 'room_size'"),
        (["-p", "nope"], "There is no effect preset named 'nope'"),
        ([], "No effects to apply"),
    ],
)
def test_bad_effects_are_one_line_errors_and_write_nothing(
    run_urvc: Run, vocals: Path, arguments: list[str], message: str
) -> None:
    out = vocals.with_name("out.wav")
    result = run_urvc("effects", "apply", str(vocals), *arguments, "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in vocals.parent.iterdir()) == ["vocals.wav"]


def test_pitch_shift_writes_shifted_copies_into_a_folder(
    run_urvc: Run, vocals: Path, tmp_path: Path
) -> None:
    second = save_audio(signals.harmonic_tone(220.0, 1.0, RATE), tmp_path / "tone.flac")
    result = run_urvc(
        "pitch-shift", str(vocals), str(second), "--semitones", "-3",
        "-o", str(tmp_path / "shifted"), "--jobs", "2", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    written = [Path(p) for p in json.loads(result.stdout)]
    assert [p.name for p in written] == ["vocals_pitch-3.wav", "tone_pitch-3.flac"]
    assert load_audio(written[0]).num_samples == load_audio(vocals).num_samples


def test_pitch_shift_out_of_range_is_an_error(run_urvc: Run, vocals: Path, tmp_path: Path) -> None:
    result = run_urvc("pitch-shift", str(vocals), "-s", "30", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "semitones=30.0 is out of range; use a value from -24 to 24 semitones" in result.stderr
    assert not (tmp_path / "out").exists()


def test_effects_apply_and_pitch_shift_never_write_over_an_input(
    run_urvc: Run, vocals: Path
) -> None:
    original = vocals.read_bytes()
    # vocals_pitch+2.wav in the same folder is another input: shifting "vocals" by +2
    # would replace it.
    other = save_audio(
        signals.harmonic_tone(220.0, 1.0, RATE), vocals.with_name("vocals_pitch+2.wav")
    )
    other_bytes = other.read_bytes()

    applied = run_urvc("effects", "apply", str(vocals), "-e", "gain:gain_db=-6", "-o", str(vocals))
    shifted = run_urvc(
        "pitch-shift", str(vocals), str(other), "-s", "2", "-o", str(vocals.parent), "--jobs", "1"
    )

    assert applied.exit_code == 1
    assert applied.stderr.strip().splitlines() == [
        f"Error: Can't write {vocals}: it is the input file {vocals}, which would be lost; "
        f"choose another output name."
    ]
    assert shifted.exit_code == 1
    assert shifted.stderr.strip().splitlines() == [
        f"Error: Can't write {other}: it is the input file {other}, which would be lost; "
        f"choose another output name."
    ]
    assert vocals.read_bytes() == original and other.read_bytes() == other_bytes
    assert sorted(p.name for p in vocals.parent.iterdir()) == ["vocals.wav", "vocals_pitch+2.wav"]


def test_pitch_shift_workers_say_a_surround_file_is_mixed_down_in_one_line(
    run_urvc: Run, tmp_path: Path
) -> None:
    # Two files with --jobs 2: each is read in a worker process of its own.
    voice = signals.speech(RATE).samples
    files = [
        save_audio(Audio(np.repeat(voice, 6, axis=0) * 0.2, RATE), tmp_path / f"{name}.wav")
        for name in ("first", "second")
    ]

    result = run_urvc(
        "pitch-shift", *map(str, files), "-s", "2", "-o", str(tmp_path / "out"), "--jobs", "2"
    )

    assert result.exit_code == 0, result.stderr
    assert sorted(result.stderr.strip().splitlines()) == [
        f"Warning: {path} has 6 channels (5.1); mixed down to stereo by ITU-R BS.775 "
        f"(centre and surrounds at -3 dB, LFE left out)."
        for path in files
    ]
    assert all(load_audio(Path(p)).channels == 2 for p in result.stdout.split())
