"""The demo: a whole cover, offline, from files urvc builds itself.

No voice model, embedder or separation weights can be downloaded on a machine without
internet, so :func:`build_demo_assets` makes everything a cover needs, in the formats
real ones come in:

* ``urvc-demo-song.wav``: an example song, 10 s, stereo, 44.1 kHz: a sentence of the
  CMU ARCTIC speech database (shipped with urvc) read twice, panned centre, over a
  synthesized band (plucked chords panned left and right, a bass, a hi-hat) playing
  C-G-Am-F at 96 BPM;
* ``urvc-demo-voice (trained by urvc, small).pth``: an RVC v1 40 kHz voice model that
  urvc *trains* on the same sentence the first time the demo runs (cached in the home
  folder, see :func:`demo_voice_path`): RVC's training (:mod:`urvc_core.training`) of
  a small network (:data:`DEMO_TRAINING`, about three minutes on two CPU cores), not
  RVC's full size and not minutes of a real singer's voice, so it follows the words'
  rhythm and the melody in a rough, buzzing voice;
* ``urvc-demo-embedder (random weights)/``: a HuBERT-shaped content embedder in the
  Hugging Face layout Applio uses, with random weights (ContentVec can't be downloaded
  offline); the voice is trained on its features, so it converts with them.

:func:`run_demo` then runs the cover the way a user would: built-in ``dsp-center``
separation (no weights), FCPE pitch (its weights ship in the torchfcpe wheel), the
``clean`` effects preset when the pedalboard plugin is installed, and the mix.

The embedder comes from :mod:`urvc_core.builtin.random_hubert_models` and the voice
from :mod:`urvc_core.training`, so the demo needs only what ``pip install urvc-core``
installs (not pytest, unlike :mod:`urvc_core.testing`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from urvc_core.backends import Audio
from urvc_core.errors import UrvcError

__all__ = [
    "DEMO_EMBEDDER_NAME",
    "DEMO_SONG_NAME",
    "DEMO_TRAINING",
    "DEMO_VOICE_NAME",
    "DemoAssets",
    "DemoResult",
    "DemoSongTracks",
    "build_demo_assets",
    "build_demo_song",
    "build_demo_song_tracks",
    "demo_voice_path",
    "run_demo",
    "train_demo_voice",
]

DEMO_VOICE_NAME = "urvc-demo-voice (trained by urvc, small)"
#: The training workspace of the demo's voice (``<home>/training/urvc-demo-voice``).
DEMO_TRAINING_NAME = "urvc-demo-voice"
#: How the demo's voice is trained: the small network from scratch (no pretrained
#: networks offline), on the mel and KL losses alone for most steps, then adversarially,
#: 320 steps of 4 clips: about three minutes on two CPU cores.
DEMO_TRAINING: dict[str, Any] = {
    "epochs": 160,
    "batch_size": 4,
    "save_every": 160,
    "model_size": "small",
    "pretrained": "none",
    "learning_rate": 1e-3,
    "mel_warmup_steps": 250,
    "validation_fraction": 0.0,
    "seed": 1234,
}
#: Readings of the sentence the voice is trained on (3 s clips, cut 2.7 s apart).
_TRAINING_READINGS = 3
DEMO_EMBEDDER_NAME = "urvc-demo-embedder (random weights)"
DEMO_SONG_NAME = "urvc-demo-song"
SAMPLE_RATE = 44100
#: A spoken sentence shipped with urvc (CMU ARCTIC a0007, free to redistribute): the
#: demo's vocals and the speech of a voice model's preview.
SPEECH_SAMPLE_FILE = Path(__file__).parent / "testing" / "data" / "arctic_a0007.wav"
_BEAT_SECONDS = 60.0 / 96.0
#: C, G, A minor, F: one bar (4 beats) each. Notes in Hz: (bass, chord tones).
_CHORDS: tuple[tuple[float, tuple[float, ...]], ...] = (
    (65.41, (261.63, 329.63, 392.00)),
    (98.00, (246.94, 293.66, 392.00)),
    (110.00, (261.63, 329.63, 440.00)),
    (87.31, (261.63, 349.23, 440.00)),
)


@dataclass(frozen=True)
class DemoAssets:
    folder: Path
    song: Path
    model: Path
    embedder: Path

    def as_dict(self) -> dict[str, str]:
        return {
            "folder": str(self.folder),
            "song": str(self.song),
            "model": str(self.model),
            "embedder": str(self.embedder),
        }


@dataclass
class DemoResult:
    assets: DemoAssets
    cover: Any
    command: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "assets": self.assets.as_dict(),
            "command": self.command,
            "voice": DEMO_VOICE_NAME,
            "cover": self.cover.as_dict(),
        }


def default_demo_folder() -> Path:
    from urvc_core.home import urvc_home

    return urvc_home().root / "demo"


def _pluck(frequency: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A guitar-like note: harmonics with random phases, dying away."""
    age = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    note = np.zeros_like(age)
    for k in range(1, 10):
        if k * frequency < SAMPLE_RATE / 2:
            phase = rng.uniform(0.0, 2.0 * np.pi)
            note += np.sin(2 * np.pi * k * frequency * age + phase) * np.exp(-(2.0 + k) * age) / k
    return note


def build_demo_song(seconds: float = 10.0, *, seed: int = 0) -> Audio:
    """The example song: the ARCTIC sentence every 4.5 s over a synthesized stereo band."""
    tracks = build_demo_song_tracks(seconds, seed=seed)
    return Audio(tracks.vocals.samples + tracks.band.samples, SAMPLE_RATE)


@dataclass(frozen=True)
class DemoSongTracks:
    """The demo song's two parts, at the levels they have in it (they sum to it)."""

    #: The sentence alone, mono: the melody a cover should carry.
    vocals: Audio
    #: The band, stereo.
    band: Audio


def build_demo_song_tracks(seconds: float = 10.0, *, seed: int = 0) -> DemoSongTracks:
    """The vocals and the band of :func:`build_demo_song`."""
    import soundfile

    from urvc_core.audio import resample

    rng = np.random.default_rng(seed)
    length = round(seconds * SAMPLE_RATE)
    left = np.zeros(length)
    right = np.zeros(length)
    centre = np.zeros(length)

    def add(track: np.ndarray, start: float, note: np.ndarray, gain: float) -> None:
        begin = round(start * SAMPLE_RATE)
        if begin >= length:
            return
        end = min(length, begin + len(note))
        track[begin:end] += gain * note[: end - begin]

    beat = 0
    while beat * _BEAT_SECONDS < seconds:
        bass, chord = _CHORDS[(beat // 4) % len(_CHORDS)]
        time = beat * _BEAT_SECONDS
        # Guitars: one strums on the beat on the left, one picks off the beat on the right.
        for number, tone in enumerate(chord):
            add(left, time + 0.012 * number, _pluck(tone, 1.2, rng), 0.22)
        add(right, time + _BEAT_SECONDS / 2, _pluck(chord[beat % 3] * 2, 0.8, rng), 0.25)
        if beat % 2 == 0:
            add(centre, time, _pluck(bass, 1.0, rng), 0.5)
        for eighth in (0.0, 0.5):  # hi-hat: short bright noise bursts, right of centre
            burst = np.diff(rng.standard_normal(round(0.04 * SAMPLE_RATE) + 1))
            burst *= np.exp(-np.arange(len(burst)) / (0.008 * SAMPLE_RATE))
            add(right, time + eighth * _BEAT_SECONDS, burst, 0.05)
            add(left, time + eighth * _BEAT_SECONDS, burst, 0.02)
        beat += 1

    samples, rate = soundfile.read(SPEECH_SAMPLE_FILE, dtype="float32", always_2d=True)
    voice = resample(Audio(samples.T[:1], int(rate)), SAMPLE_RATE).samples[0].astype(np.float64)
    vocals = np.zeros(length)
    # The sentence (4 s) every 4.5 s from 0.8 s on: twice in the 10 s demo.
    for start in np.arange(0.8, seconds - 1.0, 4.5):
        begin = round(start * SAMPLE_RATE)
        end = min(length, begin + len(voice))
        vocals[begin:end] += voice[: end - begin]
    band = np.stack([left + 0.6 * centre, right + 0.4 * centre])
    band *= 0.7 * np.sqrt(np.mean(vocals**2)) / max(np.sqrt(np.mean(band**2)), 1e-9)
    scale = 10 ** (-1.0 / 20.0) / np.max(np.abs(band + vocals[np.newaxis, :]))
    # A short fade at both ends: no click where the song starts and stops.
    fade = round(0.01 * SAMPLE_RATE)
    envelope = np.full(length, scale)
    envelope[:fade] *= np.linspace(0.0, 1.0, fade)
    envelope[-fade:] *= np.linspace(1.0, 0.0, fade)
    return DemoSongTracks(
        vocals=Audio((vocals * envelope)[np.newaxis, :].astype(np.float32), SAMPLE_RATE),
        band=Audio((band * envelope).astype(np.float32), SAMPLE_RATE),
    )


def build_demo_assets(
    folder: str | Path | None = None, *, training_progress: Any = None
) -> DemoAssets:
    """Build the demo song, voice model and embedder in ``folder`` (kept if already there).

    The voice is trained the first time (:func:`train_demo_voice`, minutes) and then
    taken from the home folder; ``training_progress`` hears its steps."""
    from urvc_core.audio import save_audio

    folder = Path(folder).expanduser() if folder is not None else default_demo_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UrvcError(f"Can't create the demo folder {folder}: {exc.strerror or exc}.") from exc
    song = folder / f"{DEMO_SONG_NAME}.wav"
    model = folder / f"{DEMO_VOICE_NAME}.pth"
    embedder = folder / DEMO_EMBEDDER_NAME
    if not song.is_file():
        save_audio(build_demo_song(), song)
    if not (embedder / "config.json").is_file():
        import shutil

        from urvc_core.builtin.random_hubert_models import build_hf_hubert_folder

        staged_folder = embedder.with_name(f".{embedder.name}.building")
        shutil.rmtree(staged_folder, ignore_errors=True)
        # 64 wide with ContentVec's projection to 256: what a v1 model takes.
        build_hf_hubert_folder(staged_folder, hidden_size=64)
        shutil.rmtree(embedder, ignore_errors=True)
        staged_folder.replace(embedder)
    if not model.is_file():
        from urvc_core.atomic_files import copy_file_atomically

        copy_file_atomically(train_demo_voice(embedder, progress=training_progress), model)
    return DemoAssets(folder=folder, song=song, model=model, embedder=embedder)


def demo_voice_path() -> Path:
    """Where the demo's trained voice is kept once trained: in the training workspace."""
    from urvc_core.training import training_workspace

    return training_workspace(DEMO_TRAINING_NAME) / f"{DEMO_VOICE_NAME}.pth"


def train_demo_voice(embedder: Path, *, progress: Any = None) -> Path:
    """The demo's voice, trained once on the sentence shipped with urvc; returns its file.

    Each step is the library's own (preprocess, extract with FCPE and ``embedder``, fit),
    so an interrupted first demo goes on where it stopped the next time.
    """
    import tempfile

    from urvc_core.atomic_files import copy_file_atomically
    from urvc_core.audio import load_audio, save_audio
    from urvc_core.training import (
        FitSettings,
        extract_features,
        preprocess_dataset,
        train_model,
    )

    path = demo_voice_path()
    if path.is_file():
        return path
    with tempfile.TemporaryDirectory(prefix="urvc-demo-speech-") as dataset:
        sentence = load_audio(SPEECH_SAMPLE_FILE, channels=1)
        readings = np.tile(sentence.samples[0], _TRAINING_READINGS)
        save_audio(Audio(readings[np.newaxis, :], sentence.sample_rate), Path(dataset) / "a.wav")
        preprocess_dataset(Path(dataset), DEMO_TRAINING_NAME, sample_rate=40000, split="simple")
    extract_features(DEMO_TRAINING_NAME, f0_method="fcpe", embedder=str(embedder), version="v1")
    result = train_model(DEMO_TRAINING_NAME, FitSettings(**DEMO_TRAINING), progress=progress)
    if result.interrupted:
        raise KeyboardInterrupt
    trained = sorted((result.workspace / "weights").glob("*.pth"), key=lambda p: p.stat().st_mtime)
    copy_file_atomically(trained[-1], path)
    return path


def demo_cover_options() -> dict[str, Any]:
    """The cover options of the demo: offline separation, FCPE, and effects if installed."""
    from urvc_core.registry import backend_registry

    options: dict[str, Any] = {
        "separation": "center",
        "f0_method": "fcpe",
    }
    effects = backend_registry().names("effect")
    if "reverb" in effects and "compressor" in effects:
        options["effects_preset"] = "clean"
    return options


def demo_command(assets: DemoAssets, options: dict[str, Any]) -> str:
    """The ``urvc cover`` command line equivalent to the demo."""
    words = [
        "urvc",
        "cover",
        str(assets.song),
        "-m",
        str(assets.model),
        "--embedder",
        str(assets.embedder),
        "--f0-method",
        str(options["f0_method"]),
        "--separation",
        str(options["separation"]),
    ]
    if "effects_preset" in options:
        words += ["--effects-preset", str(options["effects_preset"])]
    words += ["-o", str(assets.folder)]
    return shlex.join(words)


def run_demo(
    folder: str | Path | None = None, *, progress: Any = None, training_progress: Any = None
) -> DemoResult:
    """Build the demo's files (once) and make the cover; returns what it made and used."""
    from urvc_core.cover import make_cover

    assets = build_demo_assets(folder, training_progress=training_progress)
    options = demo_cover_options()
    cover = make_cover(
        assets.song,
        assets.model,
        embedder=str(assets.embedder),
        output=assets.folder,
        progress=progress,
        **options,
    )
    return DemoResult(assets=assets, cover=cover, command=demo_command(assets, options))
