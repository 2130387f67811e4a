"""The formats songs from web pages come in: Opus in WebM and Ogg, Opus in Matroska.

yt-dlp saves YouTube's audio as it is served, most often Opus in a WebM container
(libsndfile can't read WebM, so ffmpeg decodes it; `.ci/run` installs ffmpeg where it
is missing). Opus in Ogg (`.opus`) libsndfile reads itself. The m4a (AAC) path is in
test_audio.py. Each file is the ARCTIC sentence (4 s at 16 kHz) encoded by ffmpeg.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from urvc_core.audio import audio_info, load_audio
from urvc_core.testing import signals

SENTENCE_SECONDS = 4.0

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg is not installed; the ffmpeg path is untested"
)


@needs_ffmpeg
@pytest.mark.parametrize(
    ("suffix", "container"), [("webm", "webm"), ("opus", "ogg"), ("mka", "matroska")]
)
def test_opus_songs_load_whole_and_faithful(tmp_path: Path, suffix: str, container: str) -> None:
    encoded = tmp_path / f"speech.{suffix}"
    quiet = ["-nostdin", "-hide_banner", "-loglevel", "error"]
    opus = ["-c:a", "libopus", "-b:a", "64k"]
    subprocess.run(
        ["ffmpeg", *quiet, "-i", str(signals.SPEECH_FILE), *opus, str(encoded)], check=True
    )

    info = audio_info(encoded)
    assert info.format == container
    assert info.channels == 1
    # Opus runs at 48 kHz; a container may also carry the input's rate (Ogg does).
    assert info.sample_rate in (16000, 48000)
    # Opus's 6.5 ms encoder delay may still be counted in the header.
    assert info.duration == pytest.approx(SENTENCE_SECONDS, abs=0.01)

    loaded = load_audio(encoded, sample_rate=48000, channels=1)
    assert loaded.sample_rate == 48000
    # The decoders trim the delay: exactly the sentence's 4 s come back.
    assert loaded.num_samples == round(SENTENCE_SECONDS * 48000)
    reference = signals.speech(48000).samples[0]
    # Measured 0.9988 at 64 kbit/s for all three.
    assert float(np.corrcoef(loaded.samples[0], reference)[0, 1]) > 0.995
