"""The engine's whole-song steps, worked through a block at a time so that a long song's
memory stays flat, give the numbers of the whole-array computations they replace."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal

from urvc_core.audio import resample
from urvc_core.backends import Audio
from urvc_core.rvc import conversion, finishing
from urvc_core.testing import speech


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks far smaller than the inputs, so that every test crosses many joins."""
    monkeypatch.setattr(conversion, "_SAMPLES_PER_BLOCK", 4099)
    monkeypatch.setattr(finishing, "_SAMPLES_PER_BLOCK", 4099)
    monkeypatch.setattr(conversion, "_FRAMES_PER_BLOCK", 37)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("length", [31, 4099, 4100, 50_000])
def test_highpass_is_scipys_filtfilt_to_the_bit(length: int) -> None:
    samples = np.tile(speech().samples[0], 2)[:length]
    sections = signal.butter(5, 48, btype="highpass", fs=16000, output="sos")
    expected = signal.sosfiltfilt(sections, samples).astype(np.float32)
    assert np.array_equal(conversion.highpass_48hz(samples), expected)
    if length > 30:  # in place, as the converter filters its own copy of a file's samples
        own = samples.astype(np.float32)
        assert conversion.highpass_48hz(own, out=own) is own
        assert np.array_equal(own, expected)


@pytest.mark.usefixtures("small_blocks")
def test_frame_energy_is_the_mean_square_of_each_frame() -> None:
    samples = speech().samples[0]
    frames = len(samples) // 160
    power = (samples[: frames * 160].astype(np.float64) ** 2).reshape(frames, -1).mean(1)
    expected = (10 * np.log10(power + 1e-12)).astype(np.float32)
    assert np.array_equal(conversion.frame_energy_db(samples), expected)


def _whole_array_rms_mix(
    source: np.ndarray, source_rate: int, converted: np.ndarray, converted_rate: int, rate: float
) -> np.ndarray:
    """RVC's RMS mix as the reference writes it: whole float64 envelopes."""

    def envelope(samples: np.ndarray, sample_rate: int) -> np.ndarray:
        window, hop = sample_rate // 2 * 2, sample_rate // 2
        padded = np.pad(samples.astype(np.float64), (window // 2, window // 2))
        count = 1 + (len(padded) - window) // hop
        rms = np.array(
            [np.sqrt(np.mean(padded[i * hop : i * hop + window] ** 2)) for i in range(count)]
        )
        positions = np.linspace(0, len(rms) - 1, num=len(converted))
        return np.interp(positions, np.arange(len(rms)), rms)

    source_envelope = envelope(source, source_rate)
    converted_envelope = np.maximum(envelope(converted, converted_rate), 1e-6)
    gain = source_envelope ** (1 - rate) * converted_envelope ** (rate - 1)
    return (converted * gain).astype(np.float32)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("rate", [0.0, 0.25, 0.8])
def test_rms_mix_in_blocks_matches_the_whole_array_mix(rate: float) -> None:
    source = speech().samples[0]
    rng = np.random.default_rng(5)
    converted = (0.2 * rng.standard_normal(len(source) * 40000 // 16000)).astype(np.float32)
    expected = _whole_array_rms_mix(source, 16000, converted, 40000, rate)
    in_place = converted.copy()
    mixed = finishing.mix_loudness_envelope(source, 16000, in_place, 40000, rate, out=in_place)
    assert mixed is in_place
    np.testing.assert_allclose(mixed, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_rms_mix_fed_in_uneven_pieces_gives_the_whole_array_mix_to_the_bit(rate: float) -> None:
    source = speech().samples[0]
    rng = np.random.default_rng(7)
    converted = (0.2 * rng.standard_normal(len(source) * 40000 // 16000)).astype(np.float32)
    whole = finishing.mix_loudness_envelope(source, 16000, converted, 40000, rate)
    mix = finishing.LoudnessEnvelopeMix(source, 16000, len(converted), 40000, rate)
    pieces, position = [], 0
    for size in itertools.cycle([1, 777, 20_000, 3, 45_000]):
        if position >= len(converted):
            break
        pieces.append(mix.push(converted[position : position + size]))
        position += size
        # Nothing comes out before the envelope points around it are known, and it
        # never waits for more than about a second and a half of what follows.
        assert position - sum(len(p) for p in pieces) <= 61_000 or position >= len(converted)
    assert np.array_equal(np.concatenate(pieces), whole)


def _finished_whole(
    chunks: list[tuple[int, np.ndarray]], total: int, source: np.ndarray, output_rate: int
) -> np.ndarray:
    """What the finisher replaces: the chunks added into one array, mixed, clipped,
    resampled."""
    song = np.zeros(total, dtype=np.float32)
    for position, samples in chunks:
        song[position : position + len(samples)] += samples
    song = finishing.mix_loudness_envelope(source, 16000, song, 40000, 0.25, out=song)
    clipped = Audio(np.clip(song, -1.0, 1.0)[np.newaxis, :], 40000)
    return resample(clipped, output_rate).samples


@pytest.mark.parametrize("output_rate", [40000, 44100])
def test_the_finisher_gives_the_whole_song_steps_numbers_a_chunk_at_a_time(
    output_rate: int,
) -> None:
    source = np.tile(speech().samples[0], 2)
    total = len(source) * 40000 // 16000
    rng = np.random.default_rng(3)
    # Chunks that overlap (crossfades) and one gap no chunk covers (a silence left out).
    bounds = [(0, 30_000), (29_840, 70_000), (90_000, 150_000), (149_900, total)]
    chunks = [
        (start, (0.6 * rng.standard_normal(end - start)).astype(np.float32))
        for start, end in bounds
    ]
    frames = finishing.SongFinisher.output_frames(total, 40000, output_rate)
    sink = finishing.SongInMemory(frames)
    finisher = finishing.SongFinisher(
        sink,
        total=total,
        rate=40000,
        source=source,
        source_rate=16000,
        rms_mix_rate=0.25,
        output_rate=output_rate,
    )
    held = []
    for number, (position, samples) in enumerate(chunks):
        finisher.add(position, samples)
        following = chunks[number + 1][0] if number + 1 < len(chunks) else total
        finisher.final_before(following)
        held.append(len(finisher._pending) + len(finisher._mix._held))
    finisher.close()
    assert sink.filled == frames
    assert np.array_equal(sink.samples, _finished_whole(chunks, total, source, output_rate))
    # What waits between chunks is the overlap and the mix's lookahead: about a second.
    assert max(held) < 1.6 * 40000
