"""The training set of ``urvc train fit``: a file list's clips, in memory, as batches.

A file list (written by :mod:`~urvc_core.training.extract`) names per clip the audio at
the model's rate, the content features (50 a second), the coarse and the fine pitch
(100 a second). Each clip is read once, its features repeated to 100 a second as RVC
does, everything cut to the frames all four have, and its linear spectrogram (what the
posterior encoder reads) computed once. A few minutes of speech take a few hundred MB.

A fixed share of the clips is held out for validation, chosen by the seed; the choice is
recorded with the run so a resumed run validates on the same clips.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from urvc_core.errors import UrvcError

if TYPE_CHECKING:
    from urvc_core.training.networks import MelSpectrogram

__all__ = ["Batch", "TrainingClip", "batches", "load_clips", "split_validation"]

#: The longest clip RVC trains on, in frames (9 s): longer ones are cut.
MAX_FRAMES = 900


@dataclass(frozen=True)
class TrainingClip:
    """One clip's training data, ``frames`` frames of everything."""

    name: str
    audio: torch.Tensor  # (frames * hop,) float32 at the model's rate
    spec: torch.Tensor  # (spec_channels, frames) linear magnitude
    features: torch.Tensor  # (frames, dim)
    coarse: torch.Tensor  # (frames,) long, 1..255
    pitch_hz: torch.Tensor  # (frames,) float32, 0 unvoiced
    speaker: int

    @property
    def frames(self) -> int:
        return int(self.features.shape[0])


@dataclass(frozen=True)
class Batch:
    """Clips padded to the longest: ``(B, T, ...)`` tensors and the true lengths."""

    names: tuple[str, ...]
    audio: torch.Tensor  # (B, T * hop)
    spec: torch.Tensor  # (B, spec_channels, T)
    features: torch.Tensor  # (B, T, dim)
    coarse: torch.Tensor  # (B, T)
    pitch_hz: torch.Tensor  # (B, T)
    lengths: torch.Tensor  # (B,)
    speakers: torch.Tensor  # (B,)

    def to(self, device: str | torch.device) -> Batch:
        return Batch(
            self.names,
            *(
                tensor.to(device)
                for tensor in (
                    self.audio,
                    self.spec,
                    self.features,
                    self.coarse,
                    self.pitch_hz,
                    self.lengths,
                    self.speakers,
                )
            ),
        )


def load_clips(
    filelist: Path, *, hop_length: int, sample_rate: int, spectrogram: MelSpectrogram
) -> list[TrainingClip]:
    """Every clip of ``filelist`` (``clip|features|coarse|fine|speaker`` lines).

    Raises UrvcError naming a file that is missing or does not fit the others (another
    rate, a pitch of another length...), with what to rerun.
    """
    from urvc_core.audio import load_audio

    clips = []
    for line in filelist.read_text().splitlines():
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != 5:
            raise UrvcError(
                f"The file list {filelist} has a line that is not clip|features|coarse|fine|"
                f"speaker; rerun `urvc train extract`."
            )
        clip_path, feature_path, coarse_path, fine_path, speaker = parts
        try:
            audio = load_audio(Path(clip_path), channels=1)
            features = np.load(feature_path, allow_pickle=False)
            coarse = np.load(coarse_path, allow_pickle=False)
            fine = np.load(fine_path, allow_pickle=False)
        except (OSError, ValueError, UrvcError) as exc:
            raise UrvcError(
                f"Can't read the training data of {Path(clip_path).name} ({exc}); rerun "
                f"`urvc train preprocess` and `urvc train extract`."
            ) from None
        if audio.sample_rate != sample_rate:
            raise UrvcError(
                f"The clip {clip_path} is at {audio.sample_rate} Hz where the model trains at "
                f"{sample_rate}; rerun `urvc train preprocess` with --sample-rate {sample_rate}."
            )
        # Features come 50 a second, pitch and audio frames 100: each feature twice.
        features = np.repeat(features, 2, axis=0)
        frames = min(
            len(features), len(coarse), len(fine), audio.samples.shape[1] // hop_length, MAX_FRAMES
        )
        if frames < 1:
            continue
        samples = torch.from_numpy(np.ascontiguousarray(audio.samples[0, : frames * hop_length]))
        with torch.no_grad():
            spec = spectrogram.magnitude(samples[None])[0, :, :frames]
        clips.append(
            TrainingClip(
                name=Path(clip_path).stem,
                audio=samples.float(),
                spec=spec,
                features=torch.from_numpy(np.ascontiguousarray(features[:frames], np.float32)),
                coarse=torch.from_numpy(np.asarray(coarse[:frames], np.int64)),
                pitch_hz=torch.from_numpy(np.asarray(fine[:frames], np.float32)),
                speaker=int(speaker),
            )
        )
    return clips


def split_validation(
    names: Sequence[str], fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Clip names for training and for validation: ``fraction`` of them (at least one
    when there are four or more clips, none below that) held out, chosen by ``seed``."""
    ordered = sorted(names)
    held = round(len(ordered) * fraction) if fraction > 0 else 0
    if fraction > 0 and len(ordered) >= 4:
        held = max(1, held)
    held = min(held, len(ordered) - 1) if len(ordered) > 1 else 0
    rng = np.random.default_rng(seed)
    chosen = set(rng.permutation(len(ordered))[:held].tolist())
    training = [name for index, name in enumerate(ordered) if index not in chosen]
    validation = [name for index, name in enumerate(ordered) if index in chosen]
    return training, validation


def collate(clips: Sequence[TrainingClip]) -> Batch:
    """The clips as one batch, zero-padded to the longest."""
    longest = max(clip.frames for clip in clips)
    hop = clips[0].audio.shape[0] // clips[0].frames
    count = len(clips)
    audio = torch.zeros(count, longest * hop)
    spec = torch.zeros(count, clips[0].spec.shape[0], longest)
    features = torch.zeros(count, longest, clips[0].features.shape[1])
    coarse = torch.ones(count, longest, dtype=torch.long)
    pitch = torch.zeros(count, longest)
    for row, clip in enumerate(clips):
        frames = clip.frames
        audio[row, : frames * hop] = clip.audio
        spec[row, :, :frames] = clip.spec
        features[row, :frames] = clip.features
        coarse[row, :frames] = clip.coarse
        pitch[row, :frames] = clip.pitch_hz
    return Batch(
        names=tuple(clip.name for clip in clips),
        audio=audio,
        spec=spec,
        features=features,
        coarse=coarse,
        pitch_hz=pitch,
        lengths=torch.tensor([clip.frames for clip in clips]),
        speakers=torch.tensor([clip.speaker for clip in clips]),
    )


def batches(
    clips: Sequence[TrainingClip], batch_size: int, *, seed: int, epoch: int
) -> Iterator[Batch]:
    """One epoch's batches: the clips shuffled by ``(seed, epoch)`` (so a resumed run
    sees the same order), the last batch smaller when they don't divide evenly."""
    order = np.random.default_rng([seed, epoch]).permutation(len(clips))
    for start in range(0, len(order), batch_size):
        yield collate([clips[index] for index in order[start : start + batch_size]])


def steps_per_epoch(clip_count: int, batch_size: int) -> int:
    return -(-clip_count // batch_size)
