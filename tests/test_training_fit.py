"""Training a voice model (`urvc train fit`, `graph`, `export`) on real speech.

The networks are checked against the inference engine (the same weights must compute
the same audio), the training runs the small network on the ARCTIC sentence shipped
with urvc (preprocessed and extracted once per module, copied into each test's home):
its losses fall, a resumed run repeats an uninterrupted one's losses exactly, the model
it exports converts speech and has the community layout, and bad input is one line.
"""

from __future__ import annotations

import csv
import errno
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch

from urvc_core.audio import save_audio
from urvc_core.backends import Audio
from urvc_core.errors import UrvcError
from urvc_core.rvc.random_voice_models import tiny_config
from urvc_core.rvc.synthesizer import Synthesizer, coarse_pitch, fold_weight_norm
from urvc_core.testing import speech
from urvc_core.training import FitSettings, export_model, train_model, training_workspace
from urvc_core.training.fit import model_config
from urvc_core.training.networks import (
    MultiPeriodDiscriminator,
    TrainingSynthesizer,
    mel_filterbank,
)

if TYPE_CHECKING:
    from conftest import CommandResult

NAME = "Trainee"
RATE = 40000


def _small(**overrides: Any) -> FitSettings:
    """The small network, a step of three clips, nothing held out unless asked."""
    settings: dict[str, Any] = {
        "epochs": 2,
        "batch_size": 3,
        "save_every": 1,
        "model_size": "small",
        "validation_fraction": 0.0,
    }
    return FitSettings(**{**settings, **overrides})


def _losses(workspace: Path) -> list[dict[str, str]]:
    with open(workspace / "logs" / "training.csv", newline="") as file:
        return list(csv.DictReader(file))


class Extracted:
    """The workspace made once, and the embedder its features came from."""

    def __init__(self, workspace: Path, embedder: Path) -> None:
        self.workspace = workspace
        self.embedder = embedder


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Extracted]:
    """Two readings of the sentence (about 7 s: 3 s clips), pitch by pm, features by a
    small random embedder (v1): a workspace ready to train."""
    from urvc_core.testing.embedder_models import build_hf_hubert_folder
    from urvc_core.training import extract_features, preprocess_dataset

    root = tmp_path_factory.mktemp("fit-workspace")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("URVC_HOME", str(root / "home"))
        sentence = speech(RATE).samples[0]
        save_audio(Audio(np.tile(sentence, 3), RATE), root / "data" / "speech.wav")
        preprocess_dataset(root / "data", NAME, sample_rate=RATE, split="simple")
        embedder = build_hf_hubert_folder(root / "embedder", hidden_size=64)
        extract_features(NAME, f0_method="pm", embedder=str(embedder), version="v1")
        yield Extracted(training_workspace(NAME), embedder)


@pytest.fixture
def workspace(extracted: Extracted) -> Path:
    copy = training_workspace(NAME)
    shutil.copytree(extracted.workspace, copy)
    return copy


def _steps_per_epoch(clips: int, batch_size: int = 3) -> int:
    return -(-clips // batch_size)


# --- the networks -------------------------------------------------------------------------


@pytest.mark.parametrize("pitch_guidance", [False, True])
def test_the_training_network_computes_what_the_inference_engine_does(
    pitch_guidance: bool,
) -> None:
    """Trained weights are only worth what inference makes of them: the batched, masked
    training path and the engine's must give the same audio from the same weights
    (with pitch guidance up to the source's noise, which each draws its own way)."""
    config = tiny_config("v2", RATE)
    torch.manual_seed(0)
    network = TrainingSynthesizer(config, embedder_dim=768, pitch_guidance=pitch_guidance)
    with torch.no_grad():  # RVC starts the flow as an identity; make it do something
        for name, parameter in network.named_parameters():
            if name.startswith("flow.") and ".post." in name:
                parameter.normal_(0, 0.05)
    weights = {k: v for k, v in network.state_dict().items() if not k.startswith("enc_q.")}
    engine = Synthesizer(config, embedder_dim=768, pitch_guidance=pitch_guidance).eval()
    engine.load_state_dict(fold_weight_norm(weights), strict=True)
    frames = 60
    features, noise = torch.randn(frames, 768), torch.randn(config.inter_channels, frames)
    pitch = torch.full((frames,), 200.0)
    with torch.no_grad():
        expected = engine.infer(
            features, pitch if pitch_guidance else None, speaker_id=0, noise=noise
        )
        # A second, longer item padded beside it must not change the first.
        padded_features = torch.cat([features, torch.randn(20, 768)])[None].repeat(2, 1, 1)
        padded_noise = torch.cat([noise, torch.randn(config.inter_channels, 20)], 1)
        padded_pitch = torch.cat([pitch, torch.full((20,), 150.0)])[None].repeat(2, 1)
        audio = network.synthesize(
            padded_features,
            coarse_pitch(padded_pitch) if pitch_guidance else None,
            padded_pitch if pitch_guidance else None,
            torch.tensor([frames, frames + 20]),
            torch.tensor([0, 0]),
            padded_noise[None].repeat(2, 1, 1),
        )
    # The padding is masked out of the encoder and the flow; the decoder, unmasked (as
    # RVC's), sees past the end, so its last frames differ from an unpadded run's.
    kept = (frames - 10) * config.hop_length
    got, expected = audio[0, :kept], expected[:kept]
    level = float(expected.abs().max())
    assert level > 0.01
    tolerance = 0.03 * level if pitch_guidance else 1e-5 * level
    assert float((got - expected).abs().max()) < tolerance


def test_the_discriminators_are_rvc_s() -> None:
    """Parameter counts as RVC's MultiPeriodDiscriminator(V2) and names as its D files."""
    v1, v2 = MultiPeriodDiscriminator("v1"), MultiPeriodDiscriminator("v2")
    assert len(v1.discriminators) == 7 and len(v2.discriminators) == 9
    names = set(v2.state_dict())
    assert "discriminators.0.convs.0.parametrizations.weight.original1" in names
    assert "discriminators.8.conv_post.parametrizations.weight.original0" in names
    periods = sum(p.numel() for p in v2.discriminators[1].parameters())
    scale = sum(p.numel() for p in v2.discriminators[0].parameters())
    # Weights, biases and one weight-norm magnitude per output channel, layer by layer.
    channels = [1, 32, 128, 512, 1024, 1024, 1]
    kernels = [5, 5, 5, 5, 5, 3]
    assert periods == sum(
        k * i * o + 2 * o for k, i, o in zip(kernels, channels, channels[1:], strict=False)
    )
    grouped = [(1, 16, 15, 1), (16, 64, 41, 4), (64, 256, 41, 16), (256, 1024, 41, 64)]
    grouped += [(1024, 1024, 41, 256), (1024, 1024, 5, 1), (1024, 1, 3, 1)]
    assert scale == sum(k * i // g * o + 2 * o for i, o, k, g in grouped)


def test_the_mel_filterbank_is_librosa_s() -> None:
    librosa = pytest.importorskip("librosa")  # installed beside urvc by its plugins
    for rate, n_fft, n_mels in ((40000, 2048, 125), (32000, 1024, 80), (48000, 2048, 128)):
        expected = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=0, fmax=None)
        np.testing.assert_allclose(
            mel_filterbank(rate, n_fft, n_mels), expected, rtol=1e-4, atol=1e-7
        )


# --- training ---------------------------------------------------------------------------


def test_a_few_steps_lower_the_loss_and_leave_checkpoints_weights_and_logs(
    workspace: Path,
) -> None:
    result = train_model(NAME, _small(epochs=6, save_every=3))
    rows = _losses(workspace)
    per_epoch = _steps_per_epoch(result.training_clips)
    assert result.steps == len(rows) == 6 * per_epoch
    total = [float(row["loss_g"]) for row in rows]
    kl = [float(row["loss_kl"]) for row in rows]
    # The KL term falls fastest from RVC's starting point; the total with it.
    assert np.mean(total[-3:]) < 0.8 * np.mean(total[:3])
    assert np.mean(kl[-3:]) < 0.5 * np.mean(kl[:3])
    assert [int(row["epoch"]) for row in rows] == sorted(int(row["epoch"]) for row in rows)
    checkpoints = sorted(p.name for p in (workspace / "checkpoints").iterdir())
    assert checkpoints == ["D_3.pth", "D_6.pth", "G_3.pth", "G_6.pth"]
    assert sorted(p.name for p in (workspace / "weights").iterdir()) == [
        f"{NAME}_e3_s{3 * per_epoch}.pth",
        f"{NAME}_e6_s{result.steps}.pth",
    ]
    # RVC's checkpoint layout: the model (weight norm as weight_g/v) and its optimiser.
    contents = torch.load(workspace / "checkpoints" / "G_6.pth", weights_only=True)
    assert contents["iteration"] == 6 and contents["global_step"] == result.steps
    assert "dec.ups.0.weight_g" in contents["model"] and "enc_q.pre.weight" in contents["model"]
    assert contents["optimizer"]["state"]
    # Again with the same epochs: nothing to do, said so.
    again = train_model(NAME, _small(epochs=6, save_every=3))
    assert again.steps == result.steps and "trained 6 epochs already" in again.notes[-1]


def test_an_interrupted_run_resumes_to_exactly_the_uninterrupted_losses(
    workspace: Path,
) -> None:
    settings = _small(epochs=3, save_every=3)
    whole = train_model(NAME, settings)
    expected = [{k: v for k, v in row.items() if k != "seconds"} for row in _losses(workspace)]
    shutil.rmtree(workspace / "checkpoints")
    shutil.rmtree(workspace / "logs")

    def interrupt_at_step_3(report: Any) -> None:
        if report.step == 3 and report.validation is None:
            raise KeyboardInterrupt  # as Ctrl-C does, between two steps

    stopped = train_model(NAME, settings, progress=interrupt_at_step_3)
    assert stopped.interrupted and stopped.steps == 3
    assert (workspace / "checkpoints" / "G_latest.pth").is_file()
    resumed = train_model(NAME, settings)
    assert resumed.steps == whole.steps and not resumed.interrupted
    assert "Resumed from G_latest.pth" in resumed.notes[0]
    got = [{k: v for k, v in row.items() if k != "seconds"} for row in _losses(workspace)]
    assert got == expected
    # The interruption's checkpoint is gone once a later one is saved.
    assert not (workspace / "checkpoints" / "G_latest.pth").exists()


def test_held_out_clips_score_every_epoch_and_overtraining_is_detected(
    workspace: Path,
) -> None:
    settings = _small(
        epochs=3,
        validation_fraction=0.25,
        overtraining_patience=1,
        stop_on_overtraining=True,
        learning_rate=0.05,  # far too high: the held-out loss gets worse at once
    )
    result = train_model(NAME, settings)
    record = json.loads((workspace / "fit.json").read_text())
    assert result.validation_clips == len(record["validation_clips"]) >= 1
    with open(workspace / "logs" / "validation.csv", newline="") as file:
        scores = list(csv.DictReader(file))
    assert scores and all(0 < float(row["mel_loss"]) < 20 for row in scores)
    if result.stopped_for_overtraining:
        assert scores[-1]["overtraining"] == "True"
        assert int(scores[-1]["best_epoch"]) < int(scores[-1]["epoch"])
        assert "Stopped at epoch" in result.notes[-1]
    else:  # it happened to improve every epoch: then it must say so
        losses = [float(row["mel_loss"]) for row in scores]
        assert losses == sorted(losses, reverse=True)


def test_the_pitch_error_is_measured_in_cents(workspace: Path) -> None:
    """The held-out pitch error of a clip converted to itself is small, and one an
    octave off is 1200 cents."""
    from urvc_core.training.fit import _Run  # the scorer itself, on known audio

    sentence = speech(RATE).samples[0]
    from urvc_core.rvc.pitch import extract_pitch

    frames = len(sentence) // 400
    heard_16k = speech(16000).samples[0]
    pitch = np.asarray(extract_pitch(heard_16k, 16000, methods=["pm"]))[:frames]
    run = object.__new__(_Run)
    run.config = model_config("v1", RATE, "small")
    run.f0_method = "pm"
    same = run._pitch_error(sentence, pitch)
    octave = run._pitch_error(sentence, pitch / 2)
    assert same is not None and same < 50
    assert octave is not None and octave == pytest.approx(1200, abs=60)


# --- export --------------------------------------------------------------------------------


def test_the_exported_model_converts_and_has_the_community_layout(
    workspace: Path, extracted: Extracted
) -> None:
    from urvc_core.rvc.conversion import convert_voice
    from urvc_core.rvc.voice_model import VoiceModel
    from urvc_core.training import build_training_index

    train_model(NAME, _small(epochs=2, save_every=1))
    index = build_training_index(NAME)
    epoch, entry = export_model(NAME, 1, voice_name="Trained")
    assert epoch == 1 and entry.name == "Trained"
    # The workspace's index went with it (renamed as the library names its files).
    assert entry.index_path is not None
    assert entry.index_path.read_bytes() == index.path.read_bytes()
    contents = torch.load(entry.model_path, weights_only=True)
    assert list(contents)[:6] == ["weight", "config", "info", "sr", "f0", "version"]
    assert (contents["sr"], contents["f0"], contents["version"]) == ("40k", 1, "v1")
    assert contents["info"] == "1epoch" and contents["epoch"] == 1
    assert not any(name.startswith("enc_q.") for name in contents["weight"])
    assert {t.dtype for t in contents["weight"].values()} == {torch.float16}
    # The model of epoch 1, not the last: the same weights as G_1's.
    g1 = torch.load(workspace / "checkpoints" / "G_1.pth", weights_only=True)["model"]
    stored = contents["weight"]["enc_p.emb_phone.weight"].float()
    assert torch.allclose(stored, g1["enc_p.emb_phone.weight"], atol=1e-3)
    model = VoiceModel.load(entry.model_path)
    assert model.info.sample_rate == RATE and model.info.version == "v1"
    sentence = speech(16000)
    result = convert_voice(
        sentence,
        "Trained",
        embedder=str(extracted.embedder),
        f0_method="pm",
        index_rate=0.5,
    )
    assert result.audio.sample_rate == RATE
    assert result.audio.duration == pytest.approx(sentence.duration, abs=0.05)
    assert np.isfinite(result.audio.samples).all() and np.abs(result.audio.samples).max() > 1e-4


def test_export_names_the_saved_epochs_when_asked_for_another(workspace: Path) -> None:
    with pytest.raises(UrvcError, match="has no saved epochs; run `urvc train fit"):
        export_model(NAME, 1)
    train_model(NAME, _small(epochs=2, save_every=2))
    with pytest.raises(UrvcError, match="no checkpoint of epoch 1; the saved epochs are 2"):
        export_model(NAME, 1)
    with pytest.raises(UrvcError, match="no held-out scores"):
        export_model(NAME, "best")


# --- bad input ------------------------------------------------------------------------------


def test_fit_before_extract_and_too_little_audio_are_one_line(tmp_path: Path) -> None:
    from urvc_core.training import preprocess_dataset

    with pytest.raises(UrvcError, match="no training workspace 'Nobody'"):
        train_model("Nobody", _small())
    save_audio(Audio(speech(RATE).samples[0][: RATE // 5], RATE), tmp_path / "short" / "a.wav")
    try:
        preprocess_dataset(tmp_path / "short", "Short", sample_rate=RATE, split="skip")
    except UrvcError as error:  # preprocess may refuse it already: one line either way
        assert "\n" not in str(error)
        return
    with pytest.raises(UrvcError, match="no extracted features yet"):
        train_model("Short", _small())


def test_a_clip_shorter_than_a_step_s_slice_is_refused(workspace: Path, tmp_path: Path) -> None:
    """A 0.2 s recording has fewer frames than the 0.32 s slice a step voices."""
    filelist = next((workspace / "filelists").glob("*.txt"))
    first = filelist.read_text().splitlines()[0].split("|")
    audio_path = Path(first[0])
    short = tmp_path / "short.wav"
    samples = speech(RATE).samples[0][: RATE // 5]
    save_audio(Audio(samples, RATE), short)
    filelist.write_text("|".join([str(short), *first[1:]]) + "\n")
    assert audio_path.is_file()
    with pytest.raises(UrvcError, match=r"0\.2 s of training audio in no clip as long as 0\.32 s"):
        train_model(NAME, _small())


def _pretrained_pair(folder: Path, version: str, rate: int) -> tuple[Path, Path]:
    from urvc_core.rvc.voice_model import EMBEDDER_DIMS
    from urvc_core.training.checkpoints import training_state_dict

    config = model_config(version, rate, "small")
    generator = TrainingSynthesizer(
        config, embedder_dim=EMBEDDER_DIMS[version], pitch_guidance=True
    )
    discriminator = MultiPeriodDiscriminator(version, 4)
    g, d = (
        folder / f"f0G{rate // 1000}k-{version}.pth",
        folder / f"f0D{rate // 1000}k-{version}.pth",
    )
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model": training_state_dict(generator)}, g)
    torch.save({"model": training_state_dict(discriminator)}, d)
    return g, d


def test_pretrained_networks_load_and_the_wrong_ones_are_named(
    workspace: Path, tmp_path: Path
) -> None:
    right = _pretrained_pair(tmp_path / "right", "v1", RATE)
    result = train_model(NAME, _small(epochs=1, pretrained_g=right[0], pretrained_d=right[1]))
    assert "Started from the pretrained f0G40k-v1.pth" in result.notes[0]
    shutil.rmtree(workspace / "checkpoints")
    shutil.rmtree(workspace / "weights")

    wrong_rate = _pretrained_pair(tmp_path / "rate", "v1", 48000)
    with pytest.raises(
        UrvcError,
        match=r"is for a 48000 Hz model \(its upsampling\), where you train a v1 model at 40000",
    ):
        train_model(NAME, _small(pretrained_g=wrong_rate[0], pretrained_d=right[1]))
    wrong_version = _pretrained_pair(tmp_path / "version", "v2", RATE)
    with pytest.raises(UrvcError, match=r"is for a v2 model \(768-dim features\)"):
        train_model(NAME, _small(pretrained_g=wrong_version[0], pretrained_d=right[1]))
    with pytest.raises(UrvcError, match="is a v2 discriminator"):
        train_model(NAME, _small(pretrained_g=right[0], pretrained_d=wrong_version[1]))
    inference = next((workspace / "weights").glob("*.pth"), None)
    assert inference is None  # nothing was trained by the refused runs
    from urvc_core.testing.voice_models import build_voice_model_file

    voice = build_voice_model_file(tmp_path / "voice.pth", version="v1")
    with pytest.raises(UrvcError, match=r"is a voice model .*not a pretrained network"):
        train_model(NAME, _small(pretrained_g=voice, pretrained_d=right[1]))


def test_a_pretrained_file_that_wants_to_run_code_is_refused(
    workspace: Path, tmp_path: Path
) -> None:
    import pickle

    class Payload:
        def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
            return (print, ("code ran",))

    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as file:
        pickle.dump({"model": Payload()}, file, protocol=2)
    right = _pretrained_pair(tmp_path / "right", "v1", RATE)
    with pytest.raises(UrvcError, match="not a checkpoint urvc can read safely"):
        train_model(NAME, _small(pretrained_g=evil, pretrained_d=right[1]))


def test_a_full_disk_mid_checkpoint_leaves_the_earlier_ones_whole(workspace: Path) -> None:
    from urvc_core.training import checkpoints

    train_model(NAME, _small(epochs=1))
    before = {p.name: p.read_bytes() for p in (workspace / "checkpoints").iterdir()}
    real_save = torch.save

    def save_until_the_disk_is_full(contents: Any, path: Any) -> None:
        real_save(contents, path)
        with open(path, "r+b") as file:
            file.truncate(1000)  # half written...
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpoints.torch, "save", save_until_the_disk_is_full)
        with pytest.raises(UrvcError, match="No space left on device; free some space") as error:
            train_model(NAME, _small(epochs=2))
    assert "\n" not in str(error.value)
    after = {p.name: p.read_bytes() for p in (workspace / "checkpoints").iterdir()}
    assert after == before  # no D_2/G_2, not even a part of one; epoch 1's intact
    resumed = train_model(NAME, _small(epochs=2))
    assert "Resumed from G_1.pth" in resumed.notes[0] and resumed.epochs_done == 2


# --- the command line -----------------------------------------------------------------------


def test_urvc_train_fit_graph_and_export(
    workspace: Path, tmp_path: Path, run_urvc: Callable[..., CommandResult]
) -> None:
    from PIL import Image

    arguments = ["--size", "small", "--epochs", "2", "--batch-size", "3", "--save-every", "1"]
    fitted = run_urvc("train", "fit", NAME, *arguments, "--validation-fraction", "0.25")
    assert fitted.exit_code == 0, fitted.stderr
    assert "epoch 2/2" in fitted.stdout and "held-out mel" in fitted.stdout
    assert "a small network" in fitted.stdout

    drawn = run_urvc("train", "graph", NAME, "-o", str(tmp_path / "losses.png"))
    assert drawn.exit_code == 0, drawn.stderr
    with Image.open(tmp_path / "losses.png") as image:
        assert image.format == "PNG" and image.size == (900, 700)

    exported = run_urvc("train", "export", NAME, "--epoch", "best", "--json")
    assert exported.exit_code == 0, exported.stderr
    report = json.loads(exported.stdout)
    assert report["epoch"] in (1, 2) and report["name"] == NAME
    listed = run_urvc("models", "list", "--json")
    assert NAME in listed.stdout

    missing = run_urvc("train", "fit", "Nobody")
    assert missing.exit_code == 1 and len(missing.stderr.strip().splitlines()) == 1
    bad = run_urvc("train", "export", NAME, "--epoch", "7")
    assert bad.exit_code == 1 and "the saved epochs are 1, 2" in bad.stderr


def test_ctrl_c_during_urvc_train_fit_saves_a_checkpoint_and_the_next_run_resumes(
    workspace: Path, run_urvc: Callable[..., CommandResult]
) -> None:
    """SIGINT, as Ctrl-C sends it, to a running `urvc train fit`: it finishes its step,
    saves G_latest.pth, says how to resume, exits 130; the same command goes on."""
    import os
    import signal
    import subprocess
    import sys
    import time

    urvc = str(Path(sys.executable).with_name("urvc"))
    arguments = ["train", "fit", NAME, "--size", "small", "--epochs", "50", "--batch-size", "3"]
    child = subprocess.Popen(
        [urvc, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    log = workspace / "logs" / "training.csv"
    deadline = time.monotonic() + 120
    while not (log.is_file() and len(log.read_text().splitlines()) >= 3):
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, stderr
    assert "Interrupted: saved G_latest.pth; run the same command to resume." in stderr
    assert "Traceback" not in stderr
    saved = torch.load(workspace / "checkpoints" / "G_latest.pth", weights_only=True)
    steps = len(_losses(workspace))
    assert saved["global_step"] == steps >= 2  # the step it was in finished first
    resumed = run_urvc(*arguments[:-4], "--epochs", "1", "--batch-size", "3", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["notes"][0].startswith("Resumed from G_latest.pth")
