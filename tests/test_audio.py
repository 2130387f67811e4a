"""Audio files in and out, resampling and channel conversion, on real speech and tones.

Numbers asserted here, and why they are what they are:

* WAV and FLAC are written as 24-bit PCM: quantisation noise sits ~140 dB below full
  scale, so a round trip of speech peaking at -4 dBFS must keep an SNR far above 60 dB.
* Ogg Vorbis records the exact length in its granule positions, and libsndfile writes
  a LAME info tag into MP3s that the decoder uses to drop the encoder delay and the final
  frame's padding, so both come back at the same length. The tolerances allow for a
  decoder that ignores the tag: one MPEG-1 layer III frame (1152 samples) of padding plus
  LAME's 576 + 529 samples of delay, rounded up to two frames.
* AAC (through ffmpeg) pads to whole 1024-sample frames: two frames of tolerance.
"""

from __future__ import annotations

import inspect
import os
import shutil
import stat
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile

import urvc_core.audio
from urvc_core.audio import (
    READ_FORMATS,
    WRITE_FORMATS,
    AudioInfo,
    audio_info,
    check_output_is_not_an_input,
    convert_audio_file,
    convert_channels,
    load_audio,
    open_audio_writer,
    resample,
    save_audio,
)
from urvc_core.backends import Audio
from urvc_core.errors import AudioFileError, UrvcError, UrvcWarning
from urvc_core.testing.problem_files import write_damaged_mp3, write_surround_speech

SPEECH = Path(urvc_core.audio.__file__).parent / "testing" / "data" / "arctic_a0007.wav"
SPEECH_RATE = 16000
SPEECH_SAMPLES = 64000

MP3_LENGTH_TOLERANCE = 2 * 1152
OGG_LENGTH_TOLERANCE = 0
AAC_LENGTH_TOLERANCE = 2 * 1024

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg is not installed; the ffmpeg path is untested"
)
needs_mp3_bitrate = pytest.mark.skipif(
    "compression_level" not in inspect.signature(soundfile.write).parameters,
    reason="choosing an mp3 bitrate needs soundfile 0.13 or newer",
)
running_as_root = hasattr(os, "geteuid") and os.geteuid() == 0
needs_permissions = pytest.mark.skipif(
    running_as_root, reason="root ignores file permissions, so they can't be tested as root"
)


# --- helpers -----------------------------------------------------------------------------


def speech() -> Audio:
    samples, rate = soundfile.read(SPEECH, dtype="float32")
    return Audio(samples, rate)


def tone(frequency: float, sample_rate: int, seconds: float = 2.0, channels: int = 1) -> Audio:
    time = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = 0.5 * np.sin(2 * np.pi * frequency * time)
    return Audio(np.tile(wave, (channels, 1)), sample_rate)


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    reference = np.asarray(reference, dtype=np.float64)
    noise = reference - np.asarray(estimate, dtype=np.float64)
    # A floor at 200 dB, so an exact copy gives a number rather than a division by zero.
    return float(10 * np.log10(np.sum(reference**2) / max(np.sum(noise**2), 1e-20)))


def below(samples: np.ndarray, cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """``samples`` with everything above ``cutoff_hz`` removed (an ideal FFT low-pass)."""
    spectrum = np.fft.rfft(np.asarray(samples, dtype=np.float64), axis=-1)
    spectrum[..., np.fft.rfftfreq(samples.shape[-1], 1 / sample_rate) > cutoff_hz] = 0
    return np.fft.irfft(spectrum, n=samples.shape[-1], axis=-1)


def assert_speech_survived_resampling(original: Audio, round_trip: Audio) -> None:
    """soxr's anti-alias filters pass 91% of the band up to Nyquist, so the 7.3-8 kHz top
    of 16 kHz speech is removed by design: that alone caps the full-band SNR of this
    recording at ~39 dB. Below 7 kHz, the band a resampler promises to keep, it must be
    near-transparent; the full band must lose no more than that top band."""
    rate = original.sample_rate
    assert snr_db(below(original.samples, 7000, rate), below(round_trip.samples, 7000, rate)) > 60
    assert snr_db(original.samples, round_trip.samples) > 38


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    length = min(a.shape[-1], b.shape[-1])
    return float(np.corrcoef(a[..., :length].ravel(), b[..., :length].ravel())[0, 1])


def peak_frequency(samples: np.ndarray, sample_rate: int) -> float:
    """The strongest frequency, to a fraction of a bin by parabolic interpolation."""
    mono = np.asarray(samples, dtype=np.float64).reshape(-1, samples.shape[-1]).mean(axis=0)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size), n=4 * mono.size))
    peak = int(np.argmax(spectrum[1:-1])) + 1
    left, centre, right = np.log(spectrum[peak - 1 : peak + 2])
    offset = 0.5 * (left - right) / (left - 2 * centre + right)
    return float((peak + offset) * sample_rate / (4 * mono.size))


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["wav", "flac"])
@pytest.mark.parametrize("channels", [1, 2])
def test_lossless_round_trip_keeps_rate_channels_length_and_samples(
    tmp_path: Path, file_format: str, channels: int
) -> None:
    original = convert_channels(speech(), channels)

    written = save_audio(original, tmp_path / f"speech.{file_format}")
    loaded = load_audio(written)

    assert written == tmp_path / f"speech.{file_format}"
    assert loaded.sample_rate == SPEECH_RATE
    assert loaded.channels == channels
    assert loaded.num_samples == SPEECH_SAMPLES
    assert loaded.samples.dtype == np.float32
    assert snr_db(original.samples, loaded.samples) > 60
    assert soundfile.info(written).subtype == "PCM_24"


@pytest.mark.parametrize(
    ("file_format", "length_tolerance"),
    [("ogg", OGG_LENGTH_TOLERANCE), ("mp3", MP3_LENGTH_TOLERANCE)],
)
@pytest.mark.parametrize("sample_rate", [16000, 44100])
def test_lossy_round_trip_keeps_rate_channels_and_length(
    tmp_path: Path, file_format: str, length_tolerance: int, sample_rate: int
) -> None:
    mono = resample(speech(), sample_rate)
    # Two different channels, so a swapped or duplicated channel would show.
    original = Audio(np.stack([mono.samples[0], 0.5 * mono.samples[0]]), sample_rate)

    loaded = load_audio(save_audio(original, tmp_path / f"speech.{file_format}"))

    assert loaded.sample_rate == sample_rate
    assert loaded.channels == 2
    assert abs(loaded.num_samples - original.num_samples) <= length_tolerance
    # Aligned sample for sample: no encoder delay left at the start.
    assert correlation(original.samples[0], loaded.samples[0]) > 0.97
    assert correlation(original.samples[1], loaded.samples[1]) > 0.97
    level_ratio = np.std(loaded.samples[1]) / np.std(loaded.samples[0])
    assert level_ratio == pytest.approx(0.5, abs=0.03)


def test_mp3_keeps_the_frequency_of_a_tone(tmp_path: Path) -> None:
    original = tone(440.0, 44100)

    loaded = load_audio(save_audio(original, tmp_path / "tone.mp3"))

    assert peak_frequency(loaded.samples, loaded.sample_rate) == pytest.approx(440.0, abs=1.0)
    # LAME scales the input down a little below 320 kbps (to 0.97 at 192 kbps) to leave
    # headroom against clipping in the decoder; anything more would be a bug of ours.
    level = float(np.sqrt(np.mean(loaded.samples**2))) / (0.5 / np.sqrt(2))
    assert 0.94 < level < 1.01


@needs_mp3_bitrate
@pytest.mark.parametrize("bitrate_kbps", [64, 128, 320])
def test_mp3_is_written_at_the_requested_bitrate(tmp_path: Path, bitrate_kbps: int) -> None:
    original = tone(440.0, 44100, seconds=4.0, channels=2)

    written = save_audio(original, tmp_path / "tone.mp3", bitrate_kbps=bitrate_kbps)

    measured_kbps = written.stat().st_size * 8 / original.duration / 1000
    assert measured_kbps == pytest.approx(bitrate_kbps, rel=0.05)


@needs_mp3_bitrate
def test_mp3_defaults_to_192_kbps(tmp_path: Path) -> None:
    original = tone(440.0, 44100, seconds=4.0)

    written = save_audio(original, tmp_path / "tone.mp3")

    assert written.stat().st_size * 8 / original.duration / 1000 == pytest.approx(192, rel=0.05)


def test_without_bitrate_control_mp3_still_saves_but_a_bitrate_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # soundfile 0.12, which the project still allows, has no compression_level.
    write = soundfile.write

    def write_0_12(
        file: str,
        data: np.ndarray,
        samplerate: int,
        subtype: str | None = None,
        endian: str | None = None,
        format: str | None = None,
        closefd: bool = True,
    ) -> None:
        write(file, data, samplerate, subtype, endian, format, closefd)

    monkeypatch.setattr(soundfile, "write", write_0_12)

    loaded = load_audio(save_audio(tone(440.0, 44100), tmp_path / "tone.mp3"))
    assert peak_frequency(loaded.samples, loaded.sample_rate) == pytest.approx(440.0, abs=1.0)
    with pytest.raises(AudioFileError, match=r"soundfile 0\.13"):
        save_audio(tone(440.0, 44100), tmp_path / "tone.mp3", bitrate_kbps=128)


def test_mp3_at_a_rate_mpeg_lacks_is_resampled_to_the_next_rate_up(tmp_path: Path) -> None:
    # RVC models produce 40 kHz audio, a rate MPEG audio does not have.
    original = tone(440.0, 40000)

    loaded = load_audio(save_audio(original, tmp_path / "tone.mp3"))

    assert loaded.sample_rate == 44100
    assert abs(loaded.num_samples - round(original.num_samples * 44100 / 40000)) <= (
        MP3_LENGTH_TOLERANCE
    )
    assert peak_frequency(loaded.samples, loaded.sample_rate) == pytest.approx(440.0, abs=1.0)


def test_format_argument_overrides_the_suffix(tmp_path: Path) -> None:
    written = save_audio(speech(), tmp_path / "speech.audio", format="flac")

    assert soundfile.info(written).format == "FLAC"
    assert load_audio(written).num_samples == SPEECH_SAMPLES


def test_integer_formats_clip_instead_of_wrapping_around(tmp_path: Path) -> None:
    too_loud = Audio(np.array([[0.0, 1.5, -1.5, 0.25, np.nan]]), 16000)

    loaded = load_audio(save_audio(too_loud, tmp_path / "loud.wav"))

    np.testing.assert_allclose(loaded.samples, [[0.0, 1.0, -1.0, 0.25, 0.0]], atol=1e-6)


def test_save_creates_parent_folders_and_gives_the_file_normal_permissions(
    tmp_path: Path,
) -> None:
    target = tmp_path / "new" / "nested" / "speech.wav"

    save_audio(speech(), target)

    assert target.is_file()
    assert files_in(target.parent) == ["speech.wav"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()


def test_save_replaces_an_existing_file_and_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "speech.wav"
    save_audio(tone(440.0, 16000), target)
    target.chmod(0o640)

    save_audio(speech(), target)

    assert load_audio(target).num_samples == SPEECH_SAMPLES
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert files_in(tmp_path) == ["speech.wav"]


# --- atomic saving -----------------------------------------------------------------------


def test_a_failed_write_leaves_the_existing_file_untouched_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "song.wav"
    save_audio(tone(440.0, 16000), target)
    before = target.read_bytes()
    temporaries: list[Path] = []

    def write_half_then_fail(opened: soundfile.SoundFile, data: np.ndarray) -> None:
        temporaries.append(Path(opened.name))
        Path(opened.name).write_bytes(before[: len(before) // 2])
        raise RuntimeError("simulated crash in the middle of writing")

    monkeypatch.setattr(soundfile.SoundFile, "write", write_half_then_fail)

    with pytest.raises(AudioFileError) as error:
        save_audio(speech(), target)

    assert str(target) in str(error.value)

    assert temporaries and temporaries[0] != target
    assert temporaries[0].parent == tmp_path
    assert target.read_bytes() == before
    assert files_in(tmp_path) == ["song.wav"]


def test_an_interrupted_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(opened: soundfile.SoundFile, data: np.ndarray) -> None:
        Path(opened.name).write_bytes(b"RIFF")
        raise KeyboardInterrupt

    monkeypatch.setattr(soundfile.SoundFile, "write", interrupted)

    with pytest.raises(KeyboardInterrupt):
        save_audio(speech(), tmp_path / "speech.wav")

    assert files_in(tmp_path) == []


def test_a_failed_rename_is_a_clear_error_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Windows does when another program has the target open.
    def refuse(source: object, destination: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    target = tmp_path / "speech.wav"

    with pytest.raises(AudioFileError, match="permission denied") as error:
        save_audio(speech(), target)

    assert str(target) in str(error.value)
    assert files_in(tmp_path) == []


@needs_permissions
def test_saving_into_a_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    target = folder / "speech.wav"
    try:
        with pytest.raises(AudioFileError, match="permission denied") as error:
            save_audio(speech(), target)
    finally:
        folder.chmod(0o755)

    assert str(target) in str(error.value)
    assert files_in(folder) == []


# --- save errors -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["speech.aac", "speech"])
def test_saving_an_unknown_format_lists_the_formats_it_can_write(tmp_path: Path, name: str) -> None:
    target = tmp_path / name

    with pytest.raises(AudioFileError) as error:
        save_audio(speech(), target)

    message = str(error.value)
    assert str(target) in message
    assert all(file_format in message for file_format in WRITE_FORMATS)
    assert files_in(tmp_path) == []


def test_saving_onto_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "speech.wav"
    target.mkdir()

    with pytest.raises(AudioFileError, match="folder") as error:
        save_audio(speech(), target)

    assert str(target) in str(error.value)
    assert files_in(tmp_path) == ["speech.wav"]


@pytest.mark.parametrize(
    ("name", "bitrate_kbps", "expected"),
    [
        ("speech.wav", 192, "mp3 only"),
        ("speech.mp3", 500, "8 to 160 kbps"),
    ],
)
def test_a_bitrate_that_can_not_apply_is_refused(
    tmp_path: Path, name: str, bitrate_kbps: int, expected: str
) -> None:
    with pytest.raises(AudioFileError, match=expected):
        save_audio(speech(), tmp_path / name, bitrate_kbps=bitrate_kbps)


def test_saving_no_samples_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="no samples"):
        save_audio(Audio(np.zeros((1, 0)), 16000), tmp_path / "nothing.wav")


# --- loading -----------------------------------------------------------------------------


def test_load_resamples_and_converts_channels_on_request() -> None:
    loaded = load_audio(SPEECH, sample_rate=44100, channels=2)

    assert loaded.sample_rate == 44100
    assert loaded.samples.shape == (2, round(SPEECH_SAMPLES * 44100 / SPEECH_RATE))
    np.testing.assert_array_equal(loaded.samples[0], loaded.samples[1])
    assert_speech_survived_resampling(speech(), resample(convert_channels(loaded, 1), SPEECH_RATE))


def test_load_downmixes_stereo_to_mono(tmp_path: Path) -> None:
    left, right = speech().samples[0], tone(440.0, SPEECH_RATE, seconds=4.0).samples[0]
    stereo = save_audio(Audio(np.stack([left, right]), SPEECH_RATE), tmp_path / "stereo.wav")

    loaded = load_audio(stereo, channels=1)

    assert loaded.samples.shape == (1, SPEECH_SAMPLES)
    assert snr_db((left + right) / 2, loaded.samples[0]) > 60


def test_audio_info_reads_the_header(tmp_path: Path) -> None:
    assert audio_info(SPEECH) == AudioInfo(
        sample_rate=16000, channels=1, frames=64000, duration=4.0, format="wav"
    )
    mp3 = save_audio(tone(440.0, 44100, seconds=3.0, channels=2), tmp_path / "tone.mp3")
    info = audio_info(mp3)
    assert (info.sample_rate, info.channels, info.format) == (44100, 2, "mp3")
    assert abs(info.frames - 3 * 44100) <= MP3_LENGTH_TOLERANCE
    assert info.duration == pytest.approx(info.frames / 44100)


def test_read_formats_include_everything_that_can_be_written() -> None:
    assert set(WRITE_FORMATS) <= set(READ_FORMATS)


# --- load errors -------------------------------------------------------------------------


def write_zero_samples(path: Path) -> None:
    soundfile.write(path, np.zeros((0, 1), dtype=np.float32), 16000)


BROKEN_FILES = {
    "missing": (lambda path: None, "does not exist"),
    "folder": (lambda path: path.mkdir(), "is a folder"),
    "empty": (lambda path: path.write_bytes(b""), "empty"),
    "random bytes": (
        lambda path: path.write_bytes(np.random.default_rng(0).bytes(4096)),
        "damaged or not audio",
    ),
    "truncated header": (
        lambda path: path.write_bytes(SPEECH.read_bytes()[:30]),
        "damaged or not audio",
    ),
    "zero samples": (write_zero_samples, "no audio samples"),
}


@pytest.mark.parametrize("read", [load_audio, audio_info], ids=["load_audio", "audio_info"])
@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_a_broken_file_gives_a_one_line_error_naming_it(
    tmp_path: Path, read: object, case: str
) -> None:
    make, expected = BROKEN_FILES[case]
    path = tmp_path / "input.wav"
    make(path)

    with pytest.raises(AudioFileError) as error:
        read(path)  # type: ignore[operator]

    message = str(error.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize("case", ["random bytes", "truncated header"])
def test_a_broken_file_is_the_same_error_without_ffmpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    make, expected = BROKEN_FILES[case]
    path = tmp_path / "input.wav"
    make(path)

    with pytest.raises(AudioFileError, match=expected) as error:
        load_audio(path)

    assert str(path) in str(error.value)
    assert "ffmpeg" not in str(error.value)


def test_a_format_that_needs_ffmpeg_says_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    path = tmp_path / "voice.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))

    for read in (load_audio, audio_info):
        with pytest.raises(AudioFileError, match=r"[Ii]nstall ffmpeg to read \.m4a files") as error:
            read(path)
        assert str(path) in str(error.value)


@needs_permissions
def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.wav"
    shutil.copy(SPEECH, path)
    path.chmod(0o000)

    with pytest.raises(AudioFileError, match="permission denied") as error:
        load_audio(path)

    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    "arguments", [{"sample_rate": 0}, {"sample_rate": -16000}, {"channels": 0}]
)
def test_load_refuses_impossible_arguments(arguments: dict[str, int]) -> None:
    with pytest.raises(AudioFileError) as error:
        load_audio(SPEECH, **arguments)

    assert str(SPEECH) in str(error.value)


# --- ffmpeg ------------------------------------------------------------------------------


def ffmpeg(*arguments: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *arguments],
        check=True,
    )


@needs_ffmpeg
def test_ffmpeg_decodes_formats_libsndfile_does_not_know(tmp_path: Path) -> None:
    encoded = tmp_path / "speech.m4a"
    ffmpeg("-i", str(SPEECH), "-c:a", "aac", "-b:a", "96k", str(encoded))

    loaded = load_audio(encoded)

    assert loaded.sample_rate == SPEECH_RATE
    assert loaded.channels == 1
    assert abs(loaded.num_samples - SPEECH_SAMPLES) <= AAC_LENGTH_TOLERANCE
    assert correlation(speech().samples, loaded.samples) > 0.99
    info = audio_info(encoded)
    assert (info.sample_rate, info.channels, info.format) == (SPEECH_RATE, 1, "m4a")
    assert abs(info.frames - SPEECH_SAMPLES) <= AAC_LENGTH_TOLERANCE


@needs_ffmpeg
def test_ffmpeg_output_is_resampled_and_converted_on_request(tmp_path: Path) -> None:
    encoded = tmp_path / "speech.m4a"
    ffmpeg("-i", str(SPEECH), "-c:a", "aac", "-b:a", "96k", str(encoded))

    loaded = load_audio(encoded, sample_rate=48000, channels=2)

    assert loaded.sample_rate == 48000
    assert loaded.channels == 2
    assert abs(loaded.num_samples - 3 * SPEECH_SAMPLES) <= 3 * AAC_LENGTH_TOLERANCE


@needs_ffmpeg
def test_audio_info_without_ffprobe_decodes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded = tmp_path / "speech.m4a"
    ffmpeg("-i", str(SPEECH), "-c:a", "aac", "-b:a", "96k", str(encoded))
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name: None if name == "ffprobe" else real_which(name)
    )

    info = audio_info(encoded)

    assert (info.sample_rate, info.channels, info.format) == (SPEECH_RATE, 1, "m4a")
    assert abs(info.frames - SPEECH_SAMPLES) <= AAC_LENGTH_TOLERANCE


@needs_ffmpeg
def test_a_video_without_sound_says_it_has_no_audio_track(tmp_path: Path) -> None:
    video = tmp_path / "silent.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=duration=0.5:size=32x32:rate=10", "-c:v", "mpeg4", str(video)
    )

    for read in (load_audio, audio_info):
        with pytest.raises(AudioFileError, match="no audio track") as error:
            read(video)
        assert str(video) in str(error.value)


@needs_ffmpeg
def test_a_corrupt_file_ffmpeg_can_not_decode_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.m4a"
    path.write_bytes(np.random.default_rng(1).bytes(4096))

    for read in (load_audio, audio_info):
        with pytest.raises(AudioFileError, match="damaged or not audio") as error:
            read(path)
        assert str(path) in str(error.value)


# --- resampling and channels -------------------------------------------------------------


def test_resampling_speech_there_and_back_keeps_it() -> None:
    original = speech()

    up = resample(original, 44100)
    down = resample(up, SPEECH_RATE)

    assert up.sample_rate == 44100
    assert abs(up.num_samples - round(SPEECH_SAMPLES * 44100 / SPEECH_RATE)) <= 1
    assert down.num_samples == SPEECH_SAMPLES
    assert down.samples.dtype == np.float32
    assert_speech_survived_resampling(original, down)


@pytest.mark.parametrize("samples", [1, 7, 16001, 12345])
@pytest.mark.parametrize(("source", "target"), [(16000, 44100), (48000, 16000), (44100, 40000)])
def test_resampled_length_is_the_rounded_ratio(samples: int, source: int, target: int) -> None:
    audio = Audio(np.random.default_rng(0).standard_normal((2, samples)) * 0.1, source)

    assert resample(audio, target).samples.shape == (2, round(samples * target / source))


def test_a_1_khz_tone_resampled_from_48k_to_16k_stays_at_1_khz() -> None:
    resampled = resample(tone(1000.0, 48000), 16000)

    assert peak_frequency(resampled.samples, 16000) == pytest.approx(1000.0, abs=1.0)
    rms = float(np.sqrt(np.mean(resampled.samples**2)))
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resampling_to_the_same_rate_is_a_no_op() -> None:
    audio = speech()

    assert resample(audio, SPEECH_RATE) is audio


def test_a_rate_held_in_a_numpy_integer_is_accepted() -> None:
    resampled = resample(speech(), np.int64(8000))  # type: ignore[arg-type]

    assert resampled.sample_rate == 8000
    assert type(resampled.sample_rate) is int
    assert resampled.num_samples == SPEECH_SAMPLES // 2


def test_resampling_refuses_an_unknown_quality_and_a_bad_rate() -> None:
    with pytest.raises(UrvcError, match="VHQ"):
        resample(speech(), 44100, quality="best")
    with pytest.raises(UrvcError, match="positive"):
        resample(speech(), 0)
    with pytest.raises(UrvcError, match="positive"):
        resample(speech(), 44100.5)  # type: ignore[arg-type]


def test_mono_to_stereo_and_back() -> None:
    mono = speech()

    stereo = convert_channels(mono, 2)
    back = convert_channels(stereo, 1)

    assert stereo.samples.shape == (2, SPEECH_SAMPLES)
    np.testing.assert_array_equal(stereo.samples[0], mono.samples[0])
    np.testing.assert_array_equal(stereo.samples[1], mono.samples[0])
    np.testing.assert_allclose(back.samples, mono.samples, atol=1e-7)
    assert convert_channels(mono, 1) is mono


def test_stereo_to_mono_averages_the_channels() -> None:
    stereo = Audio(np.array([[1.0, 0.5, -1.0], [0.0, 0.5, 1.0]]), 16000)

    np.testing.assert_allclose(convert_channels(stereo, 1).samples, [[0.5, 0.5, 0.0]])


def test_channel_conversions_that_need_a_speaker_layout_are_refused() -> None:
    surround = Audio(np.zeros((6, 100)), 48000)

    with pytest.raises(UrvcError, match="stereo or mono only; ask for 1 or 2 channels"):
        convert_channels(surround, 4)
    with pytest.raises(UrvcError, match="1 or more"):
        convert_channels(surround, 0)


def test_5_1_is_mixed_down_to_stereo_by_bs775_with_the_lfe_left_out() -> None:
    # One distinct level per speaker (L, R, C, LFE, Ls, Rs), so every coefficient shows.
    surround = Audio(np.array([[1.0], [2.0], [3.0], [100.0], [5.0], [6.0]]), 48000)

    stereo = convert_channels(surround, 2)
    mono = convert_channels(surround, 1)

    np.testing.assert_allclose(
        stereo.samples[:, 0], [1 + 0.7071 * 3 + 0.7071 * 5, 2 + 0.7071 * 3 + 0.7071 * 6], rtol=1e-6
    )
    np.testing.assert_allclose(mono.samples[:, 0], [stereo.samples[:, 0].mean()], rtol=1e-6)


@pytest.mark.parametrize(
    ("channels", "left", "right"),
    [
        # 3.0: L R C
        (3, 1 + 0.7071 * 3, 2 + 0.7071 * 3),
        # quad: L R Ls Rs
        (4, 1 + 0.7071 * 3, 2 + 0.7071 * 4),
        # 5.0: L R C Ls Rs
        (5, 1 + 0.7071 * (3 + 4), 2 + 0.7071 * (3 + 5)),
        # 6.1: L R C LFE Cs Ls Rs
        (7, 1 + 0.7071 * (3 + 5 + 6), 2 + 0.7071 * (3 + 5 + 7)),
        # 7.1: L R C LFE Ls Rs Lss Rss
        (8, 1 + 0.7071 * (3 + 5 + 7), 2 + 0.7071 * (3 + 6 + 8)),
        # beyond 7.1: L R C LFE, then left/right pairs, the odd last one to both sides
        (9, 1 + 0.7071 * (3 + 5 + 7 + 9), 2 + 0.7071 * (3 + 6 + 8 + 9)),
    ],
)
def test_every_channel_count_has_a_downmix(channels: int, left: float, right: float) -> None:
    levels = np.arange(1.0, channels + 1.0)[:, np.newaxis]

    stereo = convert_channels(Audio(levels, 48000), 2)

    np.testing.assert_allclose(stereo.samples[:, 0], [left, right], rtol=1e-6)


def test_a_six_channel_file_is_loaded_as_stereo_and_says_so(tmp_path: Path) -> None:
    path, expected = write_surround_speech(tmp_path / "surround.wav")

    with pytest.warns(UrvcWarning) as warned:
        stereo = load_audio(path)
    with pytest.warns(UrvcWarning, match=r"6 channels \(5\.1\); mixed down to stereo, then mono"):
        mono = load_audio(path, channels=1)

    assert [str(w.message) for w in warned] == [
        f"{path} has 6 channels (5.1); mixed down to stereo by ITU-R BS.775 "
        f"(centre and surrounds at -3 dB, LFE left out)."
    ]
    assert stereo.samples.shape == (2, SPEECH_SAMPLES)
    assert snr_db(expected, stereo.samples) > 100  # float file: only rounding differs
    assert snr_db(expected.mean(axis=0), mono.samples[0]) > 100
    assert abs(correlation(stereo.samples[0], tone(40.0, SPEECH_RATE, 4.0).samples[0])) < 0.01
    assert load_audio(path, channels=6).channels == 6  # asked for: left as it is


# --- what a file holds ---------------------------------------------------------------------


def test_a_wav_cut_short_is_read_as_far_as_it_goes_with_a_warning(tmp_path: Path) -> None:
    cut = tmp_path / "cut.wav"
    cut.write_bytes(SPEECH.read_bytes()[:1000])  # a 44-byte header and 478 of 64000 frames

    with pytest.warns(UrvcWarning) as warned:
        audio = load_audio(cut)
    info = audio_info(cut)

    assert audio.num_samples == 478
    np.testing.assert_array_equal(audio.samples, speech().samples[:, :478])
    assert [str(w.message) for w in warned] == [
        f"{cut} is cut short: it holds 0.030 s of the 4.000 s its header gives. Using the "
        f"0.030 s that could be read; download or export it again for a whole copy."
    ]
    assert (info.frames, info.header_frames) == (478, 64000)
    assert audio_info(SPEECH).header_frames is None


def test_a_wav_whose_header_leaves_the_length_open_loads_without_a_warning(
    tmp_path: Path,
) -> None:
    # What ffmpeg or sox write into a pipe: 0xFFFFFFFF where the data size goes.
    streamed = bytearray(SPEECH.read_bytes())
    data_size_at = streamed.index(b"data") + 4
    streamed[data_size_at : data_size_at + 4] = b"\xff\xff\xff\xff"
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(streamed))

    with warnings.catch_warnings():
        warnings.simplefilter("error", UrvcWarning)
        audio = load_audio(path)

    assert audio.num_samples == SPEECH_SAMPLES
    assert audio_info(path).header_frames is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_samples_are_refused_at_load_naming_the_first(
    tmp_path: Path, bad: float
) -> None:
    samples = np.tile(speech().samples, (2, 1))
    samples[1, 24000] = bad  # 1.500 s into the right channel
    samples[0, 40000:40010] = bad
    path = tmp_path / "damaged.wav"
    soundfile.write(path, samples.T, SPEECH_RATE, subtype="FLOAT")

    with pytest.raises(AudioFileError) as error:
        load_audio(path)
    info = audio_info(path)

    assert str(error.value) == (
        f"{path} holds 11 NaN or infinite sample(s), the first at 1.500 s; the file is "
        f"damaged: export it again from the program that made it."
    )
    assert (info.nonfinite_samples, info.first_nonfinite_seconds) == (11, 1.5)
    assert audio_info(SPEECH).nonfinite_samples == 0


def test_a_damaged_mp3_is_one_warning_and_no_decoder_messages(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write_damaged_mp3(tmp_path / "damaged.mp3")

    with pytest.warns(UrvcWarning) as warned:
        audio = load_audio(path)

    assert capfd.readouterr().err == ""  # libmpg123 prints dozens of lines on its own
    (message,) = [str(w.message) for w in warned]
    assert message.startswith(f"{path} is damaged: it holds {audio.duration:.3f} s of the 4.000 s")
    assert "the decoder reported" in message and "\n" not in message
    assert 0.5 < audio.duration < 3.9


def test_an_mp3_with_no_frame_left_is_one_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(3).bytes(5000))

    with pytest.raises(AudioFileError) as error:
        load_audio(path)

    assert capfd.readouterr().err == ""
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    assert "does not exist" not in str(error.value)  # what libsndfile would say


def test_an_output_that_is_an_input_is_refused_however_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    song = tmp_path / "song.wav"
    shutil.copy(SPEECH, song)
    (tmp_path / "link.wav").symlink_to(song)
    os.link(song, tmp_path / "hard.wav")
    monkeypatch.chdir(tmp_path)

    for output in ("song.wav", "./song.wav", tmp_path / "link.wav", tmp_path / "hard.wav"):
        with pytest.raises(AudioFileError) as error:
            check_output_is_not_an_input(output, [song])
        assert str(error.value) == (
            f"Can't write {output}: it is the input file {song}, which would be lost; "
            f"choose another output name."
        )
    check_output_is_not_an_input(tmp_path / "new.wav", [song])  # doesn't exist yet
    check_output_is_not_an_input(SPEECH, [song, None, "https://example.com/song.wav"])


def test_converting_a_file_onto_itself_is_refused_and_keeps_it(tmp_path: Path) -> None:
    song = tmp_path / "song.wav"
    shutil.copy(SPEECH, song)

    with pytest.raises(AudioFileError, match="it is the input file"):
        convert_audio_file(song, tmp_path / "." / "song.wav", sample_rate=8000)

    assert song.read_bytes() == SPEECH.read_bytes()


# --- a block at a time ---------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 1), (22050, 2), (None, 1)])
def test_loading_a_block_at_a_time_gives_the_whole_file_conversions_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rate: int | None, channels: int
) -> None:
    path, _ = write_surround_speech(tmp_path / "surround.wav")  # 5.1 at 44.1 kHz
    with pytest.warns(UrvcWarning, match="5.1"):
        whole = load_audio(path)
    expected = convert_channels(whole, channels)
    if rate is not None:
        expected = resample(expected, rate)
    # Blocks far shorter than the file, and of a length no rate ratio divides.
    monkeypatch.setattr(urvc_core.audio._SampleShaper, "BLOCK_FRAMES", 10_007)

    with pytest.warns(UrvcWarning, match="5.1"):
        shaped = load_audio(path, sample_rate=rate, channels=channels)

    assert (shaped.sample_rate, shaped.channels) == (expected.sample_rate, channels)
    assert np.array_equal(shaped.samples, expected.samples)


def test_nan_found_in_a_later_block_is_refused_with_its_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = np.tile(load_audio(SPEECH).samples, 3)
    samples[0, 50_000] = np.nan
    soundfile.write(tmp_path / "nan.wav", samples.T, SPEECH_RATE, subtype="FLOAT")
    monkeypatch.setattr(urvc_core.audio._SampleShaper, "BLOCK_FRAMES", 4096)

    with pytest.raises(AudioFileError, match=r"1 NaN or infinite sample\(s\), the first at 3\.125 s"):
        load_audio(tmp_path / "nan.wav", sample_rate=44100)


@pytest.mark.parametrize("suffix", ["wav", "flac", "mp3"])
def test_writing_a_block_at_a_time_gives_save_audios_file(tmp_path: Path, suffix: str) -> None:
    audio = resample(load_audio(SPEECH), 40000)  # mp3 has no 40 kHz: resampled on the way
    save_audio(audio, tmp_path / f"whole.{suffix}")

    with open_audio_writer(tmp_path / f"blocks.{suffix}", 40000, 1) as writer:
        for first in range(0, audio.num_samples, 9_999):
            writer.write(audio.samples[:, first : first + 9_999])

    written = (tmp_path / f"blocks.{suffix}").read_bytes()
    assert written == (tmp_path / f"whole.{suffix}").read_bytes()


def test_a_writer_given_nothing_leaves_no_file(tmp_path: Path) -> None:
    with (
        pytest.raises(AudioFileError, match="Nothing to write"),
        open_audio_writer(tmp_path / "empty.wav", 16000, 1),
    ):
        pass
    assert list(tmp_path.iterdir()) == []
