"""The asteroid separator: real asteroid code on random-weight models saved with its own
``serialize()``, run in the plugin's worker environment (torch 2.11, torchaudio) behind
urvc's Separator.

Random weights separate nothing in particular, so the tests hold the proxy to asteroid
itself and to what holds for any weights: the stems equal ``asteroid.separate`` on the
same model; a model at 16 kHz hands a 44.1 kHz song nothing above 8 kHz; the residual
and the source add up to the mixture; windows join close to the whole.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from scipy import signal
from urvc_separator_asteroid.separator import AsteroidSeparator

from urvc_core.backends import Audio, Separator
from urvc_core.errors import UrvcError
from urvc_core.registry import get_backend
from urvc_core.testing import SeparatorConformance, centre_panned_speech_mix

if TYPE_CHECKING:
    from conftest import AsteroidSetup

pytestmark = pytest.mark.slow

#: asteroid's own loading and separating, run in the worker environment on our file.
_ASTEROID_ITSELF = """
import sys
import numpy as np, torch
from asteroid.models import BaseModel
from asteroid.separate import numpy_separate
model = BaseModel.from_pretrained(torch.load(sys.argv[1], weights_only=False)).eval()
mixture = np.load(sys.argv[2])
np.save(sys.argv[3], numpy_separate(model, mixture[:, None, :]))
"""


def _asteroid_itself(
    setup: AsteroidSetup, model: Path, mixture: np.ndarray, work: Path
) -> np.ndarray:
    np.save(work / "mixture.npy", mixture)
    subprocess.run(
        [
            str(setup.python),
            "-c",
            _ASTEROID_ITSELF,
            str(model),
            str(work / "mixture.npy"),
            str(work / "sources.npy"),
        ],
        check=True,
    )
    return np.load(work / "sources.npy")


def _snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2)))


def _song(rate: int, channels: int) -> Audio:
    mix = centre_panned_speech_mix(rate).mixture
    samples = mix.samples if channels == 2 else mix.samples.mean(axis=0, keepdims=True)
    return Audio(np.ascontiguousarray(samples), rate)


@pytest.mark.usefixtures("asteroid_home")
class TestAsteroidConformance(SeparatorConformance):
    @pytest.fixture
    def backend(self) -> Iterator[Separator]:
        assert get_backend("separator", "asteroid").__class__ is AsteroidSeparator
        backend = AsteroidSeparator()  # the published DAMP-VSEP model's asset
        yield backend
        backend.close()


@pytest.mark.parametrize("model", ["convtasnet-2src-16k.pth", "dprnn-2src-8k.pth"])
def test_the_stems_are_what_asteroid_itself_gives_at_the_models_rate(
    asteroid_setup: AsteroidSetup, asteroid_home: Path, tmp_path: Path, model: str
) -> None:
    rate = 16000 if "16k" in model else 8000
    song = _song(rate, 2)
    separator = AsteroidSeparator(model=str(asteroid_setup.models[model]))

    stems = separator.separate(song)
    separator.close()

    assert list(stems) == ["Source 1", "Source 2"]
    expected = _asteroid_itself(
        asteroid_setup, asteroid_setup.models[model], song.samples, tmp_path
    )
    for index, stem in enumerate(stems.values()):
        assert (stem.sample_rate, stem.channels, stem.num_samples) == (rate, 2, song.num_samples)
        # The same numbers: the same torch, the same code, the same order of operations.
        np.testing.assert_allclose(stem.samples, expected[:, index], rtol=0, atol=1e-6)
    # Random weights still split: neither source is silent or the whole.
    share = np.sum(stems["Source 1"].samples ** 2) / np.sum(song.samples**2)
    assert 1e-4 < share < 1e4


def test_a_16_khz_model_gives_a_44_khz_song_nothing_above_8_khz(asteroid_home: Path) -> None:
    song = _song(44100, 2)
    separator = AsteroidSeparator()  # DAMP-VSEP's shape: 16 kHz, Vocals and Instrumental

    stems = separator.separate(song)
    separator.close()

    highpass = signal.butter(12, 8500, btype="highpass", fs=44100, output="sos")
    for name, stem in stems.items():
        assert (stem.sample_rate, stem.channels, stem.num_samples) == (44100, 2, song.num_samples)
        above = signal.sosfiltfilt(highpass, stem.samples, axis=-1)
        assert 10 * np.log10(np.sum(above**2) / np.sum(stem.samples**2)) < -40.0, name


def test_the_residual_holds_the_rest_of_the_mixture(asteroid_home: Path) -> None:
    song = _song(44100, 1)
    separator = AsteroidSeparator(model="asteroid-convtasnet-libri1mix-enhsingle")

    stems = separator.separate(song)
    separator.close()

    assert list(stems) == ["Vocals", "Instrumental"] == list(separator.stems)
    np.testing.assert_allclose(
        stems["Vocals"].samples + stems["Instrumental"].samples, song.samples, atol=1e-6
    )
    # An 8 kHz model's voice ends at 4 kHz: above that the residual is the mixture.
    frequencies = np.fft.rfftfreq(song.num_samples, 1 / 44100)
    voice, mixture = (
        np.abs(np.fft.rfft(x[0]))[frequencies > 4200] ** 2
        for x in (stems["Vocals"].samples, song.samples)
    )
    assert 10 * np.log10(voice.sum() / mixture.sum()) < -50.0


def test_a_long_song_in_windows_joins_close_to_the_song_at_once(
    asteroid_setup: AsteroidSetup, asteroid_home: Path
) -> None:
    rng = np.random.default_rng(5)
    speech = _song(8000, 1).samples[0]
    song = Audio(
        np.tile(speech, 4)[None] + 0.01 * rng.standard_normal(4 * len(speech), dtype=np.float32),
        8000,
    )
    model = str(asteroid_setup.models["dprnn-2src-8k.pth"])
    whole = AsteroidSeparator(model=model, segment_seconds=600.0)
    windowed = AsteroidSeparator(model=model, segment_seconds=3.0)

    at_once = whole.separate(song)
    in_windows = windowed.separate(song)
    whole.close()
    windowed.close()

    assert song.duration > 10.0
    for name in at_once:
        assert in_windows[name].num_samples == song.num_samples
    # 3 s windows overlapping by half and the song at once: 36.7 dB apart measured.
    for name in at_once:
        assert _snr_db(at_once[name].samples, in_windows[name].samples) > 25.0


def test_the_asteroid_preset_gives_a_covers_vocals_and_instrumental(asteroid_home: Path) -> None:
    from urvc_core.separation import separate_song

    song = _song(44100, 2)

    stems = separate_song(song, "asteroid")

    assert {"vocals", "instrumental", "lead"} <= set(stems)
    assert stems["vocals"].num_samples == song.num_samples == stems["instrumental"].num_samples


# -- bad model files ----------------------------------------------------------------


class _RunsCode:
    """What a malicious model file holds: unpickling it would run a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (f"touch {self.marker}",))


def _one_line(error: pytest.ExceptionInfo[UrvcError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_model_file_that_would_run_code_is_refused_unread(
    asteroid_home: Path, tmp_path: Path
) -> None:
    import torch

    marker = tmp_path / "ran"
    torch.save({"model_name": "ConvTasNet", "payload": _RunsCode(marker)}, tmp_path / "evil.pth")

    with pytest.raises(UrvcError) as error:
        AsteroidSeparator(model=str(tmp_path / "evil.pth"))

    assert (
        "(it asks for posix.system); urvc reads model files as data and never runs code"
        in _one_line(error)
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a model at all", "is not a model file torch can read"),
        ({"state_dict": {}}, "is not an asteroid model: it lacks model_name, model_args"),
    ],
)
def test_a_file_that_is_not_an_asteroid_model_is_one_line(
    asteroid_home: Path, tmp_path: Path, content: object, expected: str
) -> None:
    import torch

    path = tmp_path / "model.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(UrvcError) as error:
        AsteroidSeparator(model=str(path))
    assert expected in _one_line(error)
    with pytest.raises(UrvcError) as missing:
        AsteroidSeparator(model=str(tmp_path / "absent.pth"))
    assert "There is no asteroid model file" in _one_line(missing)


def test_weights_that_dont_fit_are_one_line_and_the_next_call_works(
    asteroid_setup: AsteroidSetup, asteroid_home: Path, tmp_path: Path
) -> None:
    import torch

    package = torch.load(asteroid_setup.models["convtasnet-2src-16k.pth"], weights_only=False)
    renamed = dict(package, model_name="FancyNet")
    torch.save(renamed, tmp_path / "fancy.pth")
    first = next(iter(package["state_dict"]))
    package["state_dict"][first] = package["state_dict"][first][:1]
    torch.save(package, tmp_path / "cut.pth")
    song = _song(16000, 1)

    separator = AsteroidSeparator(model=str(tmp_path / "cut.pth"))
    with pytest.raises(UrvcError) as cut:
        separator.separate(song)
    assert "asteroid could not build its ConvTasNet from the file" in _one_line(cut)
    unknown = AsteroidSeparator(model=str(tmp_path / "fancy.pth"))
    with pytest.raises(UrvcError) as fancy:
        unknown.separate(song)
    assert "holds a model named 'FancyNet', which asteroid 0.7.0 does not have" in _one_line(fancy)

    # The worker lives on: the same call gives the same line again, not a dead worker.
    with pytest.raises(UrvcError) as again:
        separator.separate(song)
    assert str(again.value) == str(cut.value)
    good = AsteroidSeparator(model=str(asteroid_setup.models["convtasnet-2src-16k.pth"]))
    assert good.separate(song)["Source 1"].num_samples == song.num_samples
    for backend in (separator, unknown, good):
        backend.close()


def test_stem_names_must_fit_the_model(asteroid_setup: AsteroidSetup, asteroid_home: Path) -> None:
    model = str(asteroid_setup.models["dprnn-2src-8k.pth"])
    assert AsteroidSeparator(model=model, stem_names="A/B/Rest").stems == ("A", "B", "Rest")
    with pytest.raises(UrvcError) as error:
        AsteroidSeparator(model=model, stem_names="Vocals")
    assert "does not fit a model of 2 sources" in _one_line(error)


def test_urvc_separate_with_a_model_file_and_a_missing_environment(
    asteroid_setup: AsteroidSetup,
    asteroid_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from urvc_core.audio import audio_info, save_audio
    from urvc_core.cli import cli

    song = save_audio(_song(44100, 2), tmp_path / "song.wav")
    model = asteroid_setup.models["convtasnet-2src-16k.pth"]
    step = f"vocals=asteroid:model={model},stem_names=Vocals/Instrumental"
    out = str(tmp_path / "out")
    separated = CliRunner().invoke(
        cli,
        ["separate", str(song), "--separation", "asteroid", "--separator-step", step, "-o", out],
    )
    assert separated.exit_code == 0, separated.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["song (Instrumental).wav", "song (Vocals).wav"]
    assert audio_info(tmp_path / "out" / "song (Vocals).wav").frames == audio_info(song).frames

    (asteroid_home / "envs" / "urvc-separator-asteroid").unlink()  # as after pip install alone
    again = ["-o", str(tmp_path / "again"), "--refresh"]
    failed = CliRunner().invoke(cli, ["separate", str(song), "--separation", "asteroid", *again])
    assert failed.exit_code == 1
    lines = [line for line in failed.output.splitlines() if line.strip()]
    assert lines[-1].endswith("run `urvc install urvc-separator-asteroid`."), failed.output
    assert not (tmp_path / "again").exists() or not list((tmp_path / "again").iterdir())


def test_urvc_cover_with_the_asteroid_preset_sings_the_whole_song(
    asteroid_home: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from urvc_core.audio import audio_info, save_audio
    from urvc_core.cli import cli
    from urvc_core.testing.embedder_models import build_hf_hubert_folder
    from urvc_core.testing.voice_models import build_voice_model_file

    song = save_audio(_song(44100, 2), tmp_path / "song.wav")
    voice = build_voice_model_file(tmp_path / "Tiny Voice.pth", version="v1")
    embedder = build_hf_hubert_folder(tmp_path / "embedder", hidden_size=64)
    options = ["--separation", "asteroid", "--embedder", str(embedder), "--f0-method", "pm"]

    made = CliRunner().invoke(
        cli, ["cover", str(song), "-m", str(voice), *options, "-o", str(tmp_path / "covers")]
    )

    assert made.exit_code == 0, made.output
    (cover,) = (tmp_path / "covers").iterdir()
    info = audio_info(cover)
    assert abs(info.duration - audio_info(song).duration) < 0.05
    assert "asteroid" in made.output
