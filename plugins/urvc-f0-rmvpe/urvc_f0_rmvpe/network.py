"""The RMVPE network, laid out so that the community ``rmvpe.pt`` loads into it unchanged.

RMVPE (Wei et al., 2023, "RMVPE: A Robust Model for Vocal Pitch Estimation in
Polyphonic Music") reads a 128-band log-mel spectrogram, 100 frames per second of
16 kHz audio, and gives for every frame the probability of each of 360 pitch bins 20
cents apart. It is three parts:

* a deep U-Net over the (time, mel band) plane: a batch norm on the input, five
  encoder stages (16, 32, 64, 128, 256 channels, each halving time and frequency by
  2x2 average pooling), four bottleneck stages at 512 channels, and five decoder
  stages that double the resolution back with transposed convolutions and join the
  encoder's output of the same size. Every stage is four residual blocks of two 3x3
  convolutions with batch norm and ReLU;
* a 3x3 convolution from the U-Net's 16 channels to 3, whose 3 x 128 values per
  frame are a frame's feature vector (384 values);
* a one-layer bidirectional GRU (256 units each way) over the frames and a linear
  layer to the 360 bins, with a sigmoid.

The attribute names below are the parameter names of ``rmvpe.pt``
(``unet.encoder.layers.0.conv.0.conv.0.weight``, ``fc.0.gru.weight_ih_l0``,
``fc.1.weight``...), so the file loads with ``strict=True``: that is why the modules
are ``nn.Sequential`` and ``nn.ModuleList`` where the file's names are numbered.

Five stages of 2x2 pooling mean the time axis must be a multiple of 32 frames; the
caller pads it (:mod:`urvc_f0_rmvpe.salience`).
"""

from __future__ import annotations

import torch
from torch import nn

#: Mel bands the network reads.
MEL_BANDS = 128
#: Pitch bins the network scores: 20 cents apart, from 31.7 Hz to about 2006 Hz.
PITCH_BINS = 360
#: The time axis must be a multiple of this: five stages of 2:1 pooling.
TIME_MULTIPLE = 32

ENCODER_CHANNELS = (16, 32, 64, 128, 256)
BOTTLENECK_CHANNELS = 512
BOTTLENECK_STAGES = 4
BLOCKS_PER_STAGE = 4
#: Channels of the convolution between the U-Net and the GRU: 3 x 128 bands per frame.
FEATURE_CHANNELS = 3
GRU_UNITS = 256
#: RMVPE was trained with batch-norm momentum 0.01; it matters only when training.
_MOMENTUM = 0.01


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and ReLU, plus the input (1x1-projected if needed).

    ``conv`` is numbered as in the file: 0 convolution, 1 batch norm, 2 ReLU, 3
    convolution, 4 batch norm, 5 ReLU.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels, momentum=_MOMENTUM),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels, momentum=_MOMENTUM),
            nn.ReLU(),
        )
        self.shortcut: nn.Conv2d | None = (
            nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.conv(x) + skip


class ResidualStage(nn.Module):
    """``BLOCKS_PER_STAGE`` residual blocks in a row (the file's ``conv`` list)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.ModuleList(
            ResidualBlock(in_channels if index == 0 else out_channels, out_channels)
            for index in range(BLOCKS_PER_STAGE)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.conv:
            x = block(x)
        return x


class Encoder(nn.Module):
    """Batch norm on the mel, then five stages, each followed by 2x2 average pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(1, momentum=_MOMENTUM)
        inputs = (1, *ENCODER_CHANNELS[:-1])
        self.layers = nn.ModuleList(
            ResidualStage(i, o) for i, o in zip(inputs, ENCODER_CHANNELS, strict=True)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The pooled output of the last stage, and each stage's output before pooling."""
        x = self.bn(x)
        skips: list[torch.Tensor] = []
        for stage in self.layers:
            x = stage(x)
            skips.append(x)
            x = nn.functional.avg_pool2d(x, 2)
        return x, skips


class Bottleneck(nn.Module):
    """Four stages at the lowest resolution (the file calls it ``intermediate``)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ResidualStage(ENCODER_CHANNELS[-1] if index == 0 else BOTTLENECK_CHANNELS,
                          BOTTLENECK_CHANNELS)
            for index in range(BOTTLENECK_STAGES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.layers:
            x = stage(x)
        return x


class DecoderStage(nn.Module):
    """A transposed convolution doubling time and frequency, then a stage over it and the skip.

    ``conv1`` is the upsampling (0 transposed convolution, 1 batch norm, 2 ReLU);
    ``conv2`` the residual blocks, the first of which takes the upsampled channels and
    the encoder's skip channels together.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.ConvTranspose2d(
                in_channels, out_channels, 3, stride=2, padding=1, output_padding=1, bias=False
            ),
            nn.BatchNorm2d(out_channels, momentum=_MOMENTUM),
            nn.ReLU(),
        )
        self.conv2 = ResidualStage(2 * out_channels, out_channels).conv

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.cat((self.conv1(x), skip), dim=1)
        for block in self.conv2:
            x = block(x)
        return x


class Decoder(nn.Module):
    """Five upsampling stages, from 512 channels back to 16, joining the encoder's skips."""

    def __init__(self) -> None:
        super().__init__()
        inputs = (BOTTLENECK_CHANNELS, *reversed(ENCODER_CHANNELS[1:]))
        self.layers = nn.ModuleList(
            DecoderStage(i, o) for i, o in zip(inputs, reversed(ENCODER_CHANNELS), strict=True)
        )

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        for stage, skip in zip(self.layers, reversed(skips), strict=True):
            x = stage(x, skip)
        return x


class DeepUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.intermediate = Bottleneck()
        self.decoder = Decoder()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, skips = self.encoder(x)
        return self.decoder(self.intermediate(x), skips)


class BidirectionalGru(nn.Module):
    """The GRU over frames; only its output sequence is wanted (the file's ``fc.0``)."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(
            FEATURE_CHANNELS * MEL_BANDS, GRU_UNITS, batch_first=True, bidirectional=True
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.gru(x)
        return output


class RmvpeNetwork(nn.Module):
    """The whole network: log-mel ``(batch, 128, frames)`` in, salience ``(batch, frames, 360)``.

    ``frames`` must be a multiple of :data:`TIME_MULTIPLE`. The salience is the
    sigmoid of the classifier, each bin's probability on its own (the bins do not sum
    to one). RMVPE's training had a dropout between the classifier and the sigmoid;
    it does nothing at inference and holds no parameters, so it is left out.
    """

    def __init__(self) -> None:
        super().__init__()
        self.unet = DeepUNet()
        self.cnn = nn.Conv2d(ENCODER_CHANNELS[0], FEATURE_CHANNELS, 3, padding=1)
        self.fc = nn.Sequential(BidirectionalGru(), nn.Linear(2 * GRU_UNITS, PITCH_BINS))
        self.eval()

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        # The U-Net sees the spectrogram as a one-channel image, time down, bands across.
        image = log_mel.transpose(1, 2).unsqueeze(1)
        features = self.cnn(self.unet(image))  # (batch, 3, frames, 128)
        frames = features.transpose(1, 2).flatten(2)  # (batch, frames, 3 * 128)
        return torch.sigmoid(self.fc(frames))
