"""Training step 3 (``urvc train fit``): the RVC GAN training of a voice model.

Each step trains the discriminator to tell a clip's real audio from the generator's
(least-squares GAN), then the generator on four losses, weighted as RVC weighs them:
the L1 distance of the log mel spectrograms (×45), the KL divergence between the
posterior (from the real audio's spectrogram, through the flow) and the prior (from the
content features and pitch), feature matching on the discriminator's activations, and
the adversarial loss. The generator voices a random slice of each clip (RVC's segment,
0.32 s at 40 kHz). AdamW (β 0.8/0.99), learning rate 1e-4 decaying by 0.999875 an epoch.

What a run leaves in ``<home>/training/<NAME>/``:

- ``checkpoints/G_<epoch>.pth``, ``D_<epoch>.pth`` every ``save_every`` epochs and at the
  end (``G_latest.pth``/``D_latest.pth`` when interrupted): see
  :mod:`~urvc_core.training.checkpoints`;
- ``weights/<NAME>_e<epoch>_s<step>.pth``: the inference model of the same epochs, what
  ``urvc convert`` takes (``urvc train export`` puts one in the voice library);
- ``logs/training.csv`` (every step's losses) and ``logs/validation.csv`` (every epoch's
  held-out mel loss and pitch error), which ``urvc train graph`` draws;
- ``fit.json``: the run's settings, which a resumed run must share.

**Validation.** A share of the clips (10 % by default, chosen by the seed) never trains.
After each epoch each of them is converted as a voice model converts (prior, reverse
flow, decoder on all frames) and scored: the L1 distance of its log mel spectrogram to
the real one, and the RMS pitch error, in cents, between the pitch it was given and the
pitch of what came out (frames voiced in both). When the held-out mel loss has not
improved for ``overtraining_patience`` epochs the run is overtraining: each epoch says so,
and with ``stop_on_overtraining`` the run stops; ``best_epoch`` names the epoch to export.

**Resuming.** Running again with the same settings continues from the newest
checkpoint. Randomness (the order of the clips, the slices, the noise) is seeded per
epoch, and a checkpoint taken mid-epoch (Ctrl-C) holds the random state and the step,
so a resumed run computes exactly the losses an uninterrupted one would have.

The device is ``auto`` (a GPU when there is one) or any torch device; one process, no
``torch.distributed`` (so no port to bind). ``precision`` bf16/fp16 runs the networks
under autocast (fp16 with a gradient scaler); losses stay float32.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from urvc_core.errors import UrvcError
from urvc_core.rvc.synthesizer import SynthesizerConfig

__all__ = [
    "FitResult",
    "FitSettings",
    "StepReport",
    "latest_filelist",
    "model_config",
    "save_trained_model",
    "train_model",
]

#: RVC's loss weights and optimiser settings (its configs/*.json).
MEL_LOSS_WEIGHT = 45.0
KL_LOSS_WEIGHT = 1.0
ADAM_BETAS = (0.8, 0.99)
ADAM_EPS = 1e-9
LEARNING_RATE_DECAY = 0.999875
#: STFT size and mel bands of the mel loss per sample rate (RVC's filter_length, n_mel).
_SPECTROGRAM = {32000: (1024, 80), 40000: (2048, 125), 48000: (2048, 128)}
#: The slice the decoder voices per clip, in samples, per (version, rate).
_SEGMENT_SAMPLES = {
    ("v1", 32000): 12800,
    ("v2", 32000): 12800,
    ("v1", 40000): 12800,
    ("v2", 40000): 12800,
    ("v1", 48000): 11520,
    ("v2", 48000): 17280,
}
#: How much narrower the small network's discriminator is than RVC's.
SMALL_DISCRIMINATOR_NARROWING = 4
#: Held-out clips scored per epoch, at most (they take a conversion each).
MAX_VALIDATION_CLIPS = 8
#: What a checkpoint's settings must share with the run that resumes it.
_MODEL_SETTINGS = ("filelist", "version", "sample_rate", "pitch_guidance", "model_size", "config")

LOG_FOLDER = "logs"
TRAINING_LOG = "training.csv"
VALIDATION_LOG = "validation.csv"
RUN_RECORD = "fit.json"
TRAINING_COLUMNS = (
    "epoch", "step", "loss_d", "loss_g", "loss_mel", "loss_kl", "loss_fm", "loss_gen",
    "learning_rate", "seconds",
)  # fmt: skip
VALIDATION_COLUMNS = ("epoch", "step", "mel_loss", "f0_rmse_cents", "best_epoch", "overtraining")


@dataclass
class FitSettings:
    """How to train: the options of ``urvc train fit``."""

    epochs: int = 20
    batch_size: int = 8
    save_every: int = 5
    #: "full" is RVC's network; "small" a narrow one that trains in minutes on a CPU
    #: (the demo's voice), not for real voices.
    model_size: str = "full"
    pitch_guidance: bool = True
    #: "default": RVC's published pretrained networks (full size only); "none": from
    #: scratch; or give pretrained_g and pretrained_d.
    pretrained: str = "default"
    pretrained_g: Path | None = None
    pretrained_d: Path | None = None
    precision: str = "fp32"
    device: str = "auto"
    learning_rate: float = 1e-4
    validation_fraction: float = 0.1
    overtraining_patience: int = 10
    stop_on_overtraining: bool = False
    seed: int = 1234
    #: Steps at the start that train the generator on the mel and KL losses alone,
    #: without the discriminator: 3-5× faster steps, a quicker start from scratch (the
    #: demo's voice). RVC has none (0); its pretrained networks need none.
    mel_warmup_steps: int = 0
    #: Which extraction to train on: a file list's path; None takes the newest.
    filelist: Path | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "save_every"):
            if int(getattr(self, name)) < 1:
                raise UrvcError(f"--{name.replace('_', '-')} must be 1 or more.")
        if self.model_size not in ("full", "small"):
            raise UrvcError(f"The model size is full or small, not {self.model_size!r}.")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise UrvcError(f"--precision is fp32, bf16 or fp16, not {self.precision!r}.")
        if self.pretrained not in ("default", "none", "custom"):
            raise UrvcError(f"pretrained is default, none or custom, not {self.pretrained!r}.")
        if (self.pretrained_g is None) != (self.pretrained_d is None):
            raise UrvcError("Give both --pretrained-g and --pretrained-d, or neither.")
        if self.pretrained_g is not None:
            self.pretrained = "custom"
        if not 0 <= self.validation_fraction < 1:
            raise UrvcError("--validation-fraction must be at least 0 and below 1.")


@dataclass(frozen=True)
class StepReport:
    """What a progress callback hears after each step (and ``validation`` after each
    epoch's validation)."""

    epoch: int
    epochs: int
    step: int  # global, from 1
    step_in_epoch: int
    steps_per_epoch: int
    losses: Mapping[str, float]
    validation: Mapping[str, Any] | None = None


@dataclass
class FitResult:
    """What a run did and where it left things."""

    name: str
    workspace: Path
    epochs_done: int
    steps: int
    interrupted: bool
    stopped_for_overtraining: bool
    best_epoch: int | None
    checkpoints: list[Path]
    weights: list[Path]
    training_clips: int
    validation_clips: int
    seconds: float
    steps_per_second: float
    device: str
    config: str
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        for key in ("workspace",):
            values[key] = str(values[key])
        values["checkpoints"] = [str(path) for path in self.checkpoints]
        values["weights"] = [str(path) for path in self.weights]
        return values


# --- the model's configuration ------------------------------------------------------------


def model_config(version: str, sample_rate: int, model_size: str) -> SynthesizerConfig:
    """The network a run trains: RVC's own, or the small one (same upsampling, so the
    same hop and rate; 64 channels where RVC has 192 and 512)."""
    from urvc_core.rvc.random_voice_models import full_size_config

    config = full_size_config(version, sample_rate)
    segment = _SEGMENT_SAMPLES[(version, sample_rate)] // config.hop_length
    config = dataclasses.replace(config, segment_size=segment)
    if model_size == "small":
        config = dataclasses.replace(
            config,
            inter_channels=64,
            hidden_channels=64,
            filter_channels=128,
            n_layers=2,
            upsample_initial_channel=128,
            spk_embed_dim=1,
            gin_channels=64,
            resblock="2",
            resblock_kernel_sizes=(3,),
            resblock_dilation_sizes=((1, 3),),
        )
    return config


def describe_config(config: SynthesizerConfig, model_size: str) -> str:
    if model_size == "full":
        return "RVC's full-size network"
    return (
        f"a small network ({config.hidden_channels} channels, {config.n_layers} attention "
        f"layers, upsampling from {config.upsample_initial_channel}), not RVC's full size"
    )


# --- which extraction ---------------------------------------------------------------------


def latest_filelist(workspace: Path) -> Path:
    """The newest file list ``urvc train extract`` wrote; UrvcError when there is none."""
    filelists = sorted(
        (workspace / "filelists").glob("*.txt"), key=lambda path: path.stat().st_mtime
    )
    if not filelists:
        raise UrvcError(
            f"The model '{workspace.name}' has no extracted features yet; run `urvc train "
            f"extract {workspace.name}` first."
        )
    return filelists[-1]


def filelist_settings(filelist: Path) -> tuple[str, str, str, int]:
    """(f0 method, embedder, version, rate) from ``<method>_<embedder>_<version>_<rate>``."""
    method, rest = filelist.stem.split("_", 1)
    embedder, version, rate = rest.rsplit("_", 2)
    return method, embedder, version, int(rate)


# --- the run ------------------------------------------------------------------------------


def train_model(
    name: str,
    settings: FitSettings | None = None,
    *,
    progress: Callable[[StepReport], None] | None = None,
) -> FitResult:
    """Train (or go on training) the voice model ``name`` on its extracted features.

    Raises:
        UrvcError: no features yet, too little audio, settings that differ from the run
            being resumed, pretrained networks that don't fit, a checkpoint that can't be
            written (the earlier ones stay).
    """
    from urvc_core.devices import resolve_device
    from urvc_core.training.preprocess import training_workspace

    settings = settings or FitSettings()
    workspace = training_workspace(name)
    if not workspace.is_dir():
        raise UrvcError(
            f"There is no training workspace '{name}'; run `urvc train preprocess DATASET "
            f"--name {name}` and `urvc train extract {name}` first."
        )
    filelist = Path(settings.filelist) if settings.filelist else latest_filelist(workspace)
    f0_method, _embedder, version, sample_rate = filelist_settings(filelist)
    config = model_config(version, sample_rate, settings.model_size)
    device = torch.device(resolve_device(settings.device))
    run = _Run(name, workspace, filelist, f0_method, version, config, settings, device)
    return run.train(progress)


class _Run:
    """One ``train_model`` call: the data, the networks, the optimisers, the logs."""

    def __init__(
        self,
        name: str,
        workspace: Path,
        filelist: Path,
        f0_method: str,
        version: str,
        config: SynthesizerConfig,
        settings: FitSettings,
        device: torch.device,
    ) -> None:
        from urvc_core.rvc.voice_model import EMBEDDER_DIMS
        from urvc_core.training.data import load_clips
        from urvc_core.training.networks import (
            MelSpectrogram,
            MultiPeriodDiscriminator,
            TrainingSynthesizer,
        )

        self.name, self.workspace, self.settings = name, workspace, settings
        self.f0_method, self.version, self.config, self.device = f0_method, version, config, device
        self.notes: list[str] = []
        n_fft, n_mels = _SPECTROGRAM[config.sr]
        self.spectrogram = MelSpectrogram(config.sr, n_fft, config.hop_length, n_mels)
        clips = load_clips(
            filelist,
            hop_length=config.hop_length,
            sample_rate=config.sr,
            spectrogram=self.spectrogram,
        )
        usable = [clip for clip in clips if clip.frames >= config.segment_size]
        seconds = sum(clip.frames for clip in clips) * config.hop_length / config.sr
        if not usable:
            raise UrvcError(
                f"The model '{name}' has {seconds:.1f} s of training audio in no clip as long "
                f"as {config.segment_size * config.hop_length / config.sr:.2f} s; train on "
                f"longer recordings (RVC wants 10 minutes or more of speech or singing)."
            )
        if len(usable) < len(clips):
            self.notes.append(
                f"{len(clips) - len(usable)} clips shorter than the "
                f"{config.segment_size * config.hop_length / config.sr:.2f} s a step voices "
                f"were left out."
            )
        self.record = self._run_record(filelist, [clip.name for clip in usable])
        held_out = set(self.record["validation_clips"])
        self.training_clips = [clip for clip in usable if clip.name not in held_out]
        self.validation_clips = [clip for clip in usable if clip.name in held_out]
        # The starting weights come from the seed too (a run from scratch repeats).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            self.generator = TrainingSynthesizer(
                config, embedder_dim=EMBEDDER_DIMS[version], pitch_guidance=settings.pitch_guidance
            ).to(device)
            narrowing = 1 if settings.model_size == "full" else SMALL_DISCRIMINATOR_NARROWING
            self.discriminator = MultiPeriodDiscriminator(version, narrowing).to(device)
        self.spectrogram.to(device)
        self.optimizer_g = torch.optim.AdamW(
            self.generator.parameters(), settings.learning_rate, ADAM_BETAS, ADAM_EPS
        )
        self.optimizer_d = torch.optim.AdamW(
            self.discriminator.parameters(), settings.learning_rate, ADAM_BETAS, ADAM_EPS
        )
        self.scaler = torch.amp.GradScaler(
            device.type, enabled=settings.precision == "fp16" and device.type == "cuda"
        )
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(
            settings.precision
        )
        self.checkpoints: list[Path] = []
        self.weights: list[Path] = []

    # -- the record of the run ------------------------------------------------------

    def _run_record(self, filelist: Path, clip_names: Sequence[str]) -> dict[str, Any]:
        """``fit.json``: the settings the model depends on and the held-out clips, new or
        (for a resumed run) as recorded, which the settings must then match."""
        from urvc_core.atomic_files import write_text_atomically
        from urvc_core.training.data import split_validation

        settings = self.settings
        wanted = {
            "filelist": str(filelist),
            "version": self.version,
            "sample_rate": self.config.sr,
            "pitch_guidance": settings.pitch_guidance,
            "model_size": settings.model_size,
            "config": self.config.to_list(),
        }
        path = self.workspace / RUN_RECORD
        if path.is_file() and self._newest_checkpoint() is not None:
            record: dict[str, Any] = json.loads(path.read_text())
            for key in _MODEL_SETTINGS:
                if record.get(key) != wanted[key]:
                    raise UrvcError(
                        f"The model '{self.name}' was being trained with {key} "
                        f"{record.get(key)!r}, not {wanted[key]!r}; run with the same settings "
                        f"to resume, or remove {self.workspace / 'checkpoints'} to start over."
                    )
            return record
        _, validation = split_validation(clip_names, settings.validation_fraction, settings.seed)
        record = {**wanted, "seed": settings.seed, "validation_clips": validation}
        write_text_atomically(path, json.dumps(record, indent=2) + "\n")
        # A new run: logs of an earlier one would be drawn as this one's.
        for log in (TRAINING_LOG, VALIDATION_LOG):
            (self.workspace / LOG_FOLDER / log).unlink(missing_ok=True)
        return record

    def _newest_checkpoint(self) -> Path | None:
        folder = self.workspace / "checkpoints"
        newest: tuple[int, Path] | None = None
        for path in folder.glob("G_*.pth"):
            stamp = _read_stamp(path)
            if stamp is not None and (newest is None or stamp > newest[0]):
                newest = (stamp, path)
        return newest[1] if newest else None

    # -- starting points --------------------------------------------------------------

    def _start(self) -> tuple[int, int, int, dict[str, torch.Tensor] | None]:
        """Load the newest checkpoint or the pretrained networks; returns (epoch, global
        step, step within the epoch, random state) to go on from."""
        from urvc_core.training.checkpoints import load_checkpoint

        newest = self._newest_checkpoint()
        if newest is not None:
            g = load_checkpoint(newest)
            d = load_checkpoint(newest.with_name("D" + newest.name[1:]))
            self.generator.load_state_dict(g["model"])
            self.discriminator.load_state_dict(d["model"])
            self.optimizer_g.load_state_dict(g["optimizer"])
            self.optimizer_d.load_state_dict(d["optimizer"])
            if g.get("scaler"):
                self.scaler.load_state_dict(g["scaler"])
            states = {
                key: g[key]
                for key in ("rng_state", "cuda_rng_state")
                if isinstance(g.get(key), torch.Tensor)
            }
            self.notes.append(f"Resumed from {newest.name} (epoch {g['iteration']}).")
            return (
                int(g["iteration"]),
                int(g["global_step"]),
                int(g.get("step_in_epoch", 0)),
                states or None,
            )
        self._load_pretrained()
        return 0, 0, 0, None

    def _load_pretrained(self) -> None:
        from urvc_core.training.checkpoints import load_pretrained
        from urvc_core.training.pretrained import pretrained_asset

        settings = self.settings
        wanted = (
            f"a {self.version} model at {self.config.sr} Hz "
            f"{'with' if settings.pitch_guidance else 'without'} pitch guidance"
        )
        if settings.pretrained == "none":
            return
        if settings.pretrained == "default":
            if settings.model_size != "full":
                self.notes.append("The small network has no pretrained weights: from scratch.")
                return
            from urvc_core.catalogue import asset_store

            store = asset_store()
            paths = [
                store.fetch(
                    pretrained_asset(self.version, self.config.sr, settings.pitch_guidance, part)
                )
                for part in ("G", "D")
            ]
        else:
            assert settings.pretrained_g is not None and settings.pretrained_d is not None
            paths = [Path(settings.pretrained_g), Path(settings.pretrained_d)]
        load_pretrained(self.generator, paths[0], part="G", wanted=wanted)
        load_pretrained(self.discriminator, paths[1], part="D", wanted=wanted)
        self.notes.append(f"Started from the pretrained {paths[0].name} and {paths[1].name}.")

    # -- training ------------------------------------------------------------------------

    def train(self, progress: Callable[[StepReport], None] | None) -> FitResult:
        from urvc_core.training.data import batches, steps_per_epoch

        settings = self.settings
        first_epoch, global_step, skip, rng_state = self._start()
        start_epoch = first_epoch + 1 if skip == 0 else first_epoch
        per_epoch = steps_per_epoch(len(self.training_clips), settings.batch_size)
        self._trim_logs(global_step, start_epoch - 1)
        best_epoch, best_loss, since_best = self._validation_history()
        if start_epoch > settings.epochs:
            self.notes.append(
                f"'{self.name}' has trained {first_epoch} epochs already; give more --epochs "
                f"to go on."
            )
        started, steps_run = time.perf_counter(), 0
        interrupted = stopped = False
        epoch, step_in_epoch = min(start_epoch, settings.epochs), 0
        try:
            with _StepBoundaryInterrupts() as interrupts:
                for epoch in range(start_epoch, settings.epochs + 1):
                    for group in (*self.optimizer_g.param_groups, *self.optimizer_d.param_groups):
                        group["lr"] = settings.learning_rate * LEARNING_RATE_DECAY ** (epoch - 1)
                    torch.manual_seed(settings.seed * 100_003 + epoch)
                    if rng_state is not None:
                        self._restore_random_state(rng_state)
                        rng_state = None
                    step_in_epoch = 0
                    for batch in batches(
                        self.training_clips, settings.batch_size, seed=settings.seed, epoch=epoch
                    ):
                        step_in_epoch += 1
                        if step_in_epoch <= skip:
                            continue
                        tick = time.perf_counter()
                        losses = self._step(
                            batch, adversarial=global_step >= settings.mel_warmup_steps
                        )
                        global_step += 1
                        steps_run += 1
                        self._log_step(epoch, global_step, losses, time.perf_counter() - tick)
                        if progress is not None:
                            progress(
                                StepReport(
                                    epoch,
                                    settings.epochs,
                                    global_step,
                                    step_in_epoch,
                                    per_epoch,
                                    losses,
                                )
                            )
                        interrupts.check()
                    skip = 0
                    validation = self._validate(epoch, global_step)
                    if validation is not None:
                        if best_loss is None or validation["mel_loss"] < best_loss:
                            best_epoch, best_loss, since_best = epoch, validation["mel_loss"], 0
                        else:
                            since_best += 1
                        validation["best_epoch"] = best_epoch
                        validation["overtraining"] = since_best >= settings.overtraining_patience
                        self._log_validation(validation)
                        if progress is not None:
                            progress(
                                StepReport(
                                    epoch,
                                    settings.epochs,
                                    global_step,
                                    per_epoch,
                                    per_epoch,
                                    {},
                                    validation,
                                )
                            )
                    overtraining = validation is not None and validation["overtraining"]
                    stopped = overtraining and settings.stop_on_overtraining
                    if epoch == settings.epochs or stopped or epoch % settings.save_every == 0:
                        self._save(epoch, global_step, tag=str(epoch))
                    step_in_epoch = 0
                    interrupts.check()
                    if stopped:
                        self.notes.append(
                            f"Stopped at epoch {epoch}: the held-out mel loss has not improved "
                            f"since epoch {best_epoch} ({settings.overtraining_patience} epochs)."
                        )
                        break
        except KeyboardInterrupt:
            # Raised between steps (by the signal handler's flag, or a progress callback),
            # so the networks and the random state are those after a whole step.
            interrupted = True
            self._save(epoch, global_step, tag="latest", step_in_epoch=step_in_epoch)
        seconds = time.perf_counter() - started
        return FitResult(
            name=self.name,
            workspace=self.workspace,
            epochs_done=epoch - 1 if interrupted and step_in_epoch else epoch,
            steps=global_step,
            interrupted=interrupted,
            stopped_for_overtraining=stopped,
            best_epoch=best_epoch,
            checkpoints=self.checkpoints,
            weights=self.weights,
            training_clips=len(self.training_clips),
            validation_clips=len(self.validation_clips),
            seconds=seconds,
            steps_per_second=steps_run / seconds if seconds > 0 else 0.0,
            device=str(self.device),
            config=describe_config(self.config, self.settings.model_size),
            notes=self.notes,
        )

    def _random_state(self) -> dict[str, torch.Tensor]:
        """The generators' states mid-epoch: the CPU's, and the GPU's when training there."""
        state = {"rng_state": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda_rng_state"] = torch.cuda.get_rng_state(self.device)
        return state

    def _restore_random_state(self, state: Mapping[str, torch.Tensor]) -> None:
        torch.set_rng_state(state["rng_state"])
        if "cuda_rng_state" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng_state"], self.device)

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            import contextlib

            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _step(self, batch: Any, *, adversarial: bool = True) -> dict[str, float]:
        from urvc_core.training.networks import (
            discriminator_loss,
            feature_matching_loss,
            generator_loss,
            kl_loss,
            slice_frames,
        )

        batch = batch.to(self.device)
        config = self.config
        segment, hop = config.segment_size, config.hop_length
        pitch_guidance = self.settings.pitch_guidance
        # Each clip's slice starts anywhere its whole length allows.
        room = (batch.lengths - segment + 1).clamp_min(1)
        starts = (torch.rand(len(room)) * room.cpu()).long().to(self.device)
        with self._autocast():
            outputs = self.generator(
                batch.features,
                batch.coarse if pitch_guidance else None,
                batch.pitch_hz if pitch_guidance else None,
                batch.spec,
                batch.lengths,
                batch.speakers,
                starts,
            )
        generated = outputs["audio"].float()
        sample_offsets = starts[:, None] * hop + torch.arange(segment * hop, device=self.device)
        real = torch.gather(batch.audio, 1, sample_offsets).unsqueeze(1)

        real_mel = self.spectrogram.log_mel(slice_frames(batch.spec, starts, segment))
        fake_mel = self.spectrogram(generated[:, 0])
        loss_mel = torch.nn.functional.l1_loss(real_mel, fake_mel) * MEL_LOSS_WEIGHT
        loss_kl = (
            kl_loss(
                outputs["z_p"],
                outputs["posterior_log_scale"],
                outputs["prior_mean"],
                outputs["prior_log_scale"],
                outputs["mask"],
            )
            * KL_LOSS_WEIGHT
        )
        if adversarial:
            with self._autocast():
                real_scores, fake_scores, _, _ = self.discriminator(real, generated.detach())
            loss_d = discriminator_loss(real_scores, fake_scores)
            self.optimizer_d.zero_grad(set_to_none=True)
            self.scaler.scale(loss_d).backward()
            self.scaler.step(self.optimizer_d)
            with self._autocast():
                _, fake_scores, real_maps, fake_maps = self.discriminator(real, generated)
            loss_fm = feature_matching_loss(real_maps, fake_maps)
            loss_gen = generator_loss(fake_scores)
        else:  # the warm-up: the reconstruction alone, no discriminator
            loss_d = loss_fm = loss_gen = torch.zeros((), device=self.device)
        loss_g = loss_gen + loss_fm + loss_mel + loss_kl
        self.optimizer_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.optimizer_g)
        self.scaler.update()
        values = {
            "loss_d": loss_d,
            "loss_g": loss_g,
            "loss_mel": loss_mel,
            "loss_kl": loss_kl,
            "loss_fm": loss_fm,
            "loss_gen": loss_gen,
        }
        result = {key: float(value.detach()) for key, value in values.items()}
        if not all(math.isfinite(value) for value in result.values()):
            raise UrvcError(
                f"Training of '{self.name}' diverged (a loss is {result}); resume from the "
                f"last checkpoint with a lower --learning-rate, or use --precision fp32."
            )
        return result

    # -- validation ----------------------------------------------------------------------

    def _validate(self, epoch: int, step: int) -> dict[str, Any] | None:
        """Held-out mel loss and pitch error (cents RMS) of this epoch's generator."""
        if not self.validation_clips:
            return None
        from urvc_core.training.data import collate

        mel_losses, pitch_errors = [], []
        self.generator.eval()
        # Fixed noise, and the training's random state left as it was.
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(self.settings.seed)
            for clip in self.validation_clips[:MAX_VALIDATION_CLIPS]:
                batch = collate([clip]).to(self.device)
                noise = torch.randn(1, self.config.inter_channels, clip.frames).to(self.device)
                pitch_guidance = self.settings.pitch_guidance
                with self._autocast():
                    audio = self.generator.synthesize(
                        batch.features,
                        batch.coarse if pitch_guidance else None,
                        batch.pitch_hz if pitch_guidance else None,
                        batch.lengths,
                        batch.speakers,
                        noise,
                    ).float()
                real_mel = self.spectrogram.log_mel(batch.spec)
                mel_losses.append(
                    float(torch.nn.functional.l1_loss(self.spectrogram(audio), real_mel))
                )
                error = self._pitch_error(audio[0].cpu().numpy(), clip.pitch_hz.numpy())
                if error is not None:
                    pitch_errors.append(error)
        self.generator.train()
        return {
            "epoch": epoch,
            "step": step,
            "mel_loss": float(np.mean(mel_losses)),
            "f0_rmse_cents": float(np.sqrt(np.mean(np.square(pitch_errors))))
            if pitch_errors
            else float("nan"),
        }

    def _pitch_error(self, audio: np.ndarray, wanted_hz: np.ndarray) -> float | None:
        """RMS of the cents between the pitch given and the pitch heard, over frames
        voiced in both, through the f0 method the features were extracted with."""
        from urvc_core.audio import resample
        from urvc_core.backends import Audio
        from urvc_core.rvc.pitch import extract_pitch

        samples = resample(Audio(audio[None, :], self.config.sr), 16000).samples[0]
        heard = np.asarray(extract_pitch(samples, 16000, methods=[self.f0_method], hop_length=160))
        frames = min(len(heard), len(wanted_hz))
        heard, wanted = heard[:frames], wanted_hz[:frames]
        voiced = (heard > 0) & (wanted > 0)
        if not voiced.any():
            return None
        cents = 1200 * np.log2(heard[voiced] / wanted[voiced])
        return float(np.sqrt(np.mean(cents**2)))

    def _validation_history(self) -> tuple[int | None, float | None, int]:
        """Best epoch, its loss and the epochs since, from the validation log so far."""
        best_epoch, best_loss, since = None, None, 0
        for row in _read_rows(self.workspace / LOG_FOLDER / VALIDATION_LOG):
            loss = float(row["mel_loss"])
            if best_loss is None or loss < best_loss:
                best_epoch, best_loss, since = int(row["epoch"]), loss, 0
            else:
                since += 1
        return best_epoch, best_loss, since

    # -- logs and checkpoints --------------------------------------------------------------

    def _log_step(self, epoch: int, step: int, losses: Mapping[str, float], seconds: float) -> None:
        learning_rate = self.optimizer_g.param_groups[0]["lr"]
        row = {
            "epoch": epoch,
            "step": step,
            **losses,
            "learning_rate": learning_rate,
            "seconds": seconds,
        }
        _append_row(self.workspace / LOG_FOLDER / TRAINING_LOG, TRAINING_COLUMNS, row)

    def _log_validation(self, row: Mapping[str, Any]) -> None:
        _append_row(self.workspace / LOG_FOLDER / VALIDATION_LOG, VALIDATION_COLUMNS, row)

    def _trim_logs(self, step: int, epoch: int) -> None:
        """Drop log rows past the checkpoint being resumed (they will be written again)."""
        for log, column, limit in (
            (TRAINING_LOG, "step", step),
            (VALIDATION_LOG, "epoch", epoch),
        ):
            path = self.workspace / LOG_FOLDER / log
            rows = _read_rows(path)
            kept = [row for row in rows if int(row[column]) <= limit]
            if len(kept) != len(rows):
                columns = TRAINING_COLUMNS if log == TRAINING_LOG else VALIDATION_COLUMNS
                _write_rows(path, columns, kept)

    def _save(self, epoch: int, step: int, *, tag: str, step_in_epoch: int = 0) -> None:
        from urvc_core.training.checkpoints import save_checkpoint, training_state_dict

        folder = self.workspace / "checkpoints"
        learning_rate = self.optimizer_g.param_groups[0]["lr"]
        common = {
            "iteration": epoch,
            "learning_rate": learning_rate,
            "global_step": step,
            "step_in_epoch": step_in_epoch,
            "urvc": {"name": self.name, "version": self.version, "sample_rate": self.config.sr},
        }
        # D first: a G_ file is what marks a checkpoint as there.
        save_checkpoint(
            folder / f"D_{tag}.pth",
            {
                "model": training_state_dict(self.discriminator),
                "optimizer": self.optimizer_d.state_dict(),
                **common,
            },
        )
        g_path = save_checkpoint(
            folder / f"G_{tag}.pth",
            {
                "model": training_state_dict(self.generator),
                "optimizer": self.optimizer_g.state_dict(),
                "scaler": self.scaler.state_dict(),
                **(self._random_state() if step_in_epoch else {}),
                **common,
            },
        )
        self.checkpoints.append(g_path)
        if tag == "latest":
            return
        # An earlier interruption's checkpoint is behind this one now.
        for stale in ("G_latest.pth", "D_latest.pth"):
            (folder / stale).unlink(missing_ok=True)
        weights = self.workspace / "weights" / f"{self.name}_e{epoch}_s{step}.pth"
        weights.parent.mkdir(parents=True, exist_ok=True)
        save_trained_model(
            weights,
            self.generator,
            self.config,
            self.version,
            self.settings.pitch_guidance,
            epoch=epoch,
            step=step,
            model_name=self.name,
        )
        self.weights.append(weights)


def save_trained_model(
    path: Path,
    generator: torch.nn.Module,
    config: SynthesizerConfig,
    version: str,
    pitch_guidance: bool,
    *,
    epoch: int,
    step: int,
    model_name: str,
) -> Path:
    """The inference model of a trained generator, as RVC exports one (``info`` is
    ``"<epoch>epoch"``), with the epoch and step it was trained to."""
    from urvc_core.rvc.voice_model import save_voice_model

    return save_voice_model(
        path,
        generator.state_dict(),
        config,
        version,
        pitch_guidance,
        metadata={
            "info": f"{epoch}epoch",
            "epoch": epoch,
            "step": step,
            "model_name": model_name,
            "trained_by": "urvc train fit",
        },
    )


class _StepBoundaryInterrupts:
    """Ctrl-C during training takes effect between steps, never inside one.

    A step updates the discriminator, then the generator; stopping between the two
    would save a state no uninterrupted run ever has. The first Ctrl-C only sets a flag
    that :meth:`check` turns into KeyboardInterrupt at the next boundary; a second one
    interrupts at once, as usual. Outside the main thread signals can't be caught and
    Ctrl-C works as it always does.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StepBoundaryInterrupts:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._request)
        return self

    def _request(self, signum: int, frame: Any) -> None:
        import signal

        self.requested = True
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)

    def check(self) -> None:
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt

    def __exit__(self, *exc_info: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _read_stamp(path: Path) -> int | None:
    """A checkpoint's global step, or None when it can't be read."""
    try:
        contents = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(contents["global_step"])
    except Exception:
        return None


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _append_row(path: Path, columns: Sequence[str], row: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file()
    with open(path, "a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(columns))
        if new:
            writer.writeheader()
        writer.writerow({key: _format(row.get(key)) for key in columns})


def _write_rows(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    from urvc_core.atomic_files import atomic_destination

    with atomic_destination(path) as temporary, open(temporary, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def _format(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return value
