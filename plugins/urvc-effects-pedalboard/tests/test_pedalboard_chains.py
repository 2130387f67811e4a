"""Effect chains from specs and TOML, presets saved by name, chains applied to files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from urvc_effects_pedalboard import (
    BUILTIN_PRESETS,
    EffectChain,
    apply_chain_to_file,
    find_preset,
    list_presets,
    load_chain,
    save_preset,
)

from urvc_core import Audio, Effect, get_backend, load_audio, save_audio
from urvc_core.errors import BackendNotFoundError, InvalidSettingError, UrvcError
from urvc_core.testing import signals

RATE = 44100


@pytest.fixture
def voice_file(tmp_path: Path) -> Path:
    return save_audio(signals.speech(RATE), tmp_path / "vocals.wav")


# -- building chains ---------------------------------------------------------------------


def test_specs_become_steps_with_values_of_each_settings_type() -> None:
    chain = EffectChain.from_specs(
        [
            "reverb:room_size=0.3,wet-level=0.2",
            "limiter:true_peak=yes,ceiling_db=-2",
            "ladder-filter:mode=hpf24",
            "highpass:slope_db_per_octave=24",
            "gain",
        ]
    )
    assert [step.name for step in chain.steps] == [
        "reverb",
        "limiter",
        "ladder-filter",
        "highpass",
        "gain",
    ]
    assert chain.steps[0].settings == {"room_size": 0.3, "wet_level": 0.2}
    assert chain.steps[1].settings == {"true_peak": True, "ceiling_db": -2.0}
    assert chain.steps[2].settings == {"mode": "hpf24"}
    assert chain.steps[3].settings == {"slope_db_per_octave": 24}
    assert isinstance(chain.steps[3].settings["slope_db_per_octave"], int)
    assert chain.steps[4].settings == {}


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("reverbb", BackendNotFoundError, r"no effect named 'reverbb'.*Did you mean 'reverb'"),
        ("reverb:rom_size=0.3", InvalidSettingError, r"'rom_size'.*settings are: room_size"),
        ("reverb:room_size=1.5", InvalidSettingError, r"room_size=1.5.*from 0 to 1"),
        ("delay:delay_seconds=-1", InvalidSettingError, r"0 to 30 s"),
        ("reverb:room_size=big", InvalidSettingError, r"room_size must be float"),
        ("highpass:slope_db_per_octave=7", InvalidSettingError, r"6, 12, 18, 24"),
        ("ladder-filter:mode=notch", InvalidSettingError, r"lpf12, hpf12"),
        ("reverb:room_size", UrvcError, r"Malformed setting 'room_size'.*NAME:SETTING=VALUE"),
        ("reverb:", UrvcError, r"Malformed effect spec 'reverb:'"),
        (":room_size=0.3", UrvcError, r"Malformed effect spec"),
        ("reverb:room_size=", UrvcError, r"Malformed setting"),
        ("reverb:room_size=0.3,room_size=0.4", UrvcError, r"sets room_size twice"),
    ],
)
def test_bad_specs_are_one_line_errors_naming_what_is_valid(
    spec: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        EffectChain.from_specs([spec])
    assert "\n" not in str(raised.value)


def test_a_chain_equals_its_effects_applied_in_order() -> None:
    voice = signals.centre_panned_speech_mix(RATE).mixture
    specs = [
        ("highpass", {"cutoff_frequency_hz": 120.0}),
        ("compressor", {"threshold_db": -24.0, "ratio": 4.0}),
        ("reverb", {"room_size": 0.4}),
        ("loudness-normalize", {"target_lufs": -16.0}),  # the kernel's, not this plugin's
    ]
    chained = EffectChain.from_steps(specs).apply(voice)
    by_hand = voice
    for name, settings in specs:
        single = get_backend("effect", name, **settings)
        assert isinstance(single, Effect)
        by_hand = single.apply(by_hand)
    assert chained.samples.shape == by_hand.samples.shape
    assert np.array_equal(chained.samples, by_hand.samples)
    assert signals.integrated_loudness(chained) == pytest.approx(-16.0, abs=0.5)


def test_a_chain_reports_progress_across_all_its_effects() -> None:
    seen: list[float] = []
    chain = EffectChain.from_specs(["gain:gain_db=-3", "peak-normalize", "reverb"])
    chain.apply(signals.speech(RATE), progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert any(0.0 < f < 1 / 3 for f in seen)  # within the first effect, not only between


def test_toml_round_trip_keeps_every_step() -> None:
    chain = EffectChain.from_specs(
        ["highpass:cutoff_frequency_hz=90", "reverb:room_size=0.25,freeze_mode=0", "gain"]
    )
    again = EffectChain.from_toml(chain.to_toml())
    assert again == chain
    assert '[[effect]]\nname = "highpass"\ncutoff_frequency_hz = 90.0' in chain.to_toml()


def test_preset_files_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'description = "Mine"\n\n[[effect]]\nname = "reverb"\nroom_size = 0.3\n\n'
        '[[effect]]\nname = "compressor"\nthreshold_db = -18\n'
    )
    chain = load_chain(path)
    assert chain.specs() == ["reverb:room_size=0.3", "compressor:threshold_db=-18.0"]
    assert chain.description == "Mine"
    path.write_text('[[effect]]\nname = "reverb"\nroom_size = 3\n')
    with pytest.raises(InvalidSettingError, match="room_size=3"):
        load_chain(path)
    path.write_text("[[effect]]\nroom_size = 3\n")
    with pytest.raises(UrvcError, match="effect 1 has no name"):
        load_chain(path)
    path.write_text("[[effect]\n")
    with pytest.raises(UrvcError, match="not valid TOML"):
        load_chain(path)


# -- presets ---------------------------------------------------------------------------


def test_saved_presets_live_in_the_urvc_home_and_load_by_name(urvc_home: Path) -> None:
    chain = EffectChain.from_specs(["highpass:cutoff_frequency_hz=100", "reverb:room_size=0.2"])
    path = save_preset("my-vocal", chain)
    assert path == urvc_home / "presets" / "effects" / "my-vocal.toml"
    assert find_preset("my-vocal").chain == chain
    assert load_chain("my-vocal", ["gain:gain_db=-2"]).specs() == [
        *chain.specs(),
        "gain:gain_db=-2.0",
    ]
    listed = {preset.name: preset.source for preset in list_presets()}
    assert listed == {
        "clean": "built-in",
        "hall": "built-in",
        "radio": "built-in",
        "my-vocal": "user",
    }


def test_presets_are_not_overwritten_by_accident() -> None:
    chain = EffectChain.from_specs(["gain:gain_db=-1"])
    save_preset("keep", chain)
    with pytest.raises(UrvcError, match=r"already exists.*--overwrite"):
        save_preset("keep", EffectChain.from_specs(["gain:gain_db=-9"]))
    with pytest.raises(UrvcError, match="built-in preset"):
        save_preset("clean", chain)
    replaced = EffectChain.from_specs(["gain:gain_db=-9"])
    save_preset("keep", replaced, overwrite=True)
    assert find_preset("keep").chain == replaced


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x.toml"])
def test_preset_names_are_plain_file_names(name: str) -> None:
    with pytest.raises(UrvcError):
        save_preset(name, EffectChain.from_specs(["gain"]))


def test_an_unknown_preset_lists_the_presets_there_are() -> None:
    with pytest.raises(UrvcError, match=r"no effect preset named 'clena'.*clean, hall, radio"):
        load_chain("clena")


def test_no_preset_and_no_effects_is_an_error_saying_what_to_give() -> None:
    with pytest.raises(UrvcError, match=r"--preset NAME.*--effect SPEC"):
        load_chain()


@pytest.mark.parametrize("name", BUILTIN_PRESETS)
def test_builtin_presets_keep_a_vocal_whole_and_under_the_ceiling(name: str) -> None:
    voice = signals.speech(RATE)
    treated = find_preset(name).chain.apply(voice)
    assert treated.num_samples >= voice.num_samples
    assert 20 * np.log10(np.max(np.abs(treated.samples))) <= -1.0 + 1e-3
    loudness_change = signals.integrated_loudness(treated) - signals.integrated_loudness(voice)
    assert loudness_change == pytest.approx(0.0, abs=1.5)


def _band_db(audio: Audio, low: float, high: float) -> float:
    """Energy in a band relative to the 500 Hz-3 kHz heart of a voice, in dB."""
    spectrum = np.abs(np.fft.rfft(audio.samples[0, : 3 * RATE])) ** 2
    frequencies = np.fft.rfftfreq(3 * RATE, 1 / RATE)
    band = spectrum[(frequencies >= low) & (frequencies < high)].sum()
    heart = spectrum[(frequencies >= 500) & (frequencies < 3000)].sum()
    return 10 * np.log10(band / heart)


def test_radio_is_band_limited_and_hall_rings_longer_than_clean() -> None:
    voice = signals.speech(RATE)
    radio = find_preset("radio").chain.apply(voice)
    assert _band_db(radio, 0, 200) < _band_db(voice, 0, 200) - 25
    assert _band_db(radio, 6000, 8000) < _band_db(voice, 6000, 8000) - 25
    clean = find_preset("clean").chain.apply(voice)
    hall = find_preset("hall").chain.apply(voice)
    assert hall.num_samples > clean.num_samples + RATE // 2


# -- files -----------------------------------------------------------------------------


def test_apply_chain_to_file_writes_the_processed_audio(voice_file: Path, tmp_path: Path) -> None:
    chain = load_chain(effects=["gain:gain_db=-6"])
    written = apply_chain_to_file(voice_file, chain, tmp_path / "out" / "quiet.flac")
    assert written == tmp_path / "out" / "quiet.flac"
    result, original = load_audio(written), load_audio(voice_file)
    assert result.num_samples == original.num_samples
    assert signals.rms_db(result.samples) - signals.rms_db(original.samples) == pytest.approx(
        -6.0, abs=0.1
    )


def test_no_file_is_written_when_the_output_format_or_an_effect_is_wrong(
    voice_file: Path, tmp_path: Path
) -> None:
    chain = load_chain(effects=["reverb"])
    with pytest.raises(UrvcError, match=r"'m4a' is not a format urvc writes"):
        apply_chain_to_file(voice_file, chain, tmp_path / "out.m4a")
    convolution = load_chain(effects=["convolution:impulse_response=/no/such/ir.wav"])
    with pytest.raises(UrvcError, match=r"/no/such/ir\.wav does not exist"):
        apply_chain_to_file(voice_file, convolution, tmp_path / "out.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vocals.wav"]
