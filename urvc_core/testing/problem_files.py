"""Audio files that arrive damaged or in an unusual shape, written in their real formats,
for tests of how urvc reads them (the library's and the command line's alike)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from urvc_core.testing.signals import speech

__all__ = ["write_damaged_mp3", "write_surround_speech"]


def write_damaged_mp3(path: Path) -> Path:
    """The test speech as an mp3 at ``path`` with every 97th byte after its first 2 kB
    overwritten: frames the decoder must skip or resync past. Returns ``path``."""
    from urvc_core.audio import save_audio

    save_audio(speech(), path)
    data = bytearray(path.read_bytes())
    noise = np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8)
    for index in range(2000, len(data) - 2000, 97):
        data[index] = noise[index]
    path.write_bytes(bytes(data))
    return path


def write_surround_speech(path: Path) -> tuple[Path, np.ndarray]:
    """The test speech as a 5.1 float file at ``path``: the voice in the centre, quieter
    copies in the fronts and surrounds, and a loud 40 Hz hum alone in the LFE.

    Returns the file and the stereo that ITU-R BS.775 makes of it (centre and surrounds
    at 0.7071, the LFE left out).
    """
    import soundfile

    audio = speech()
    voice = audio.samples[0]
    hum = 0.5 * np.sin(2 * np.pi * 40.0 * np.arange(voice.size) / audio.sample_rate)
    layout = np.stack([0.2 * voice, 0.1 * voice, 0.5 * voice, hum, 0.1 * voice, 0.05 * voice])
    soundfile.write(path, layout.T, audio.sample_rate, subtype="FLOAT")
    stereo = np.stack([(0.2 + 0.7071 * (0.5 + 0.1)) * voice, (0.1 + 0.7071 * (0.5 + 0.05)) * voice])
    return path, stereo
