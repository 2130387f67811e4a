"""``dsp-center``: vocals from a stereo mix by where they sit, with no model and no weights.

Lead vocals are almost always mixed to the centre: the same signal, in phase, in both
channels. Instruments are panned aside, recorded in stereo or given stereo reverb, so
their left and right channels differ. This separator looks at each time-frequency bin
of the two channels and keeps, from the mid signal ``(L + R) / 2``, the share that is
identical on both sides.

It is plain signal processing, so it is fast and needs nothing downloaded; it is also
fooled by anything else in the centre (bass, kick, snare, a mono synth pad), which ends
up in ``Vocals``. A neural separator does far better on real songs; this one is there
for machines without weights, for tests, and as a baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from urvc_core.backends import Audio, Separator, Setting
from urvc_core.hookspecs import Register, hookimpl


class DspCenterSeparator(Separator):
    """Centre-channel extraction by inter-channel similarity masking (DSP, no model).

    Per STFT bin the mask is the mid/side balance of the two channels,

    ``similarity = 2 Re(L conj(R)) / (|L|^2 + |R|^2)``,

    which is 1 where left and right are identical (centre-panned), falls towards 0 as
    they differ in level or phase, and goes negative where they are out of phase. It is
    clipped at 0 and raised to ``mask_exponent`` to sharpen it, then applied to the mid
    signal. ``Vocals`` is that masked centre, the same on both channels; ``Instrumental``
    is the mixture minus ``Vocals``, so the two stems add up to the mixture exactly.

    Mono input carries no position to separate by: ``Vocals`` is the input unchanged and
    ``Instrumental`` is silence. With more than two channels, the first two are taken as
    front left and right; the other channels go to ``Instrumental`` whole.

    Long inputs are processed in blocks of ``block_seconds`` with an STFT margin on each
    side, so memory stays bounded and the result is the same as in one piece.
    """

    name = "dsp-center"
    description = "DSP centre-channel extraction for stereo mixes (no model, no download)"
    stems = ("Vocals", "Instrumental")
    requires_modules = ("scipy",)
    settings = (
        Setting(
            "n_fft",
            int,
            4096,
            "STFT frame length: longer separates close harmonics better but smears onsets in time",
            unit="samples",
            choices=(512, 1024, 2048, 4096, 8192, 16384),
        ),
        Setting(
            "mask_exponent",
            float,
            2.0,
            "How strictly a bin must be identical in both channels to count as centre: "
            "higher keeps less of the instruments and makes the vocals thinner",
            minimum=0.5,
            maximum=64.0,
        ),
        Setting(
            "low_cut_hz",
            float,
            70.0,
            "Below this frequency everything goes to Instrumental, because bass and kick "
            "drums sit in the centre too",
            unit="Hz",
            minimum=0.0,
            maximum=1000.0,
        ),
    )

    #: Audio is processed this many seconds at a time: at 44.1 kHz a block needs about
    #: 200 MB of working memory, however long the song.
    block_seconds: ClassVar[float] = 30.0

    def separate(self, audio: Audio) -> dict[str, Audio]:
        mixture = audio.samples
        vocals = np.zeros_like(mixture)
        if audio.channels == 1:
            vocals[:] = mixture
        else:
            centre = self.extract_centre(mixture[0], mixture[1], audio.sample_rate)
            vocals[0] = centre
            vocals[1] = centre
        # Subtracting in float32 leaves Vocals + Instrumental equal to the mixture to
        # within float32 rounding, which is what "nothing lost" means to a listener.
        instrumental = mixture - vocals
        return {
            "Vocals": Audio(vocals, audio.sample_rate),
            "Instrumental": Audio(instrumental, audio.sample_rate),
        }

    def extract_centre(self, left: np.ndarray, right: np.ndarray, sample_rate: int) -> np.ndarray:
        """The masked centre signal, one channel, the length of the input."""
        n_fft = int(self.options["n_fft"])
        hop = n_fft // 4
        length = len(left)
        centre = np.zeros(length, dtype=np.float32)
        # Block starts and the margin are whole hops, so every block's STFT frames fall
        # on the grid a single whole-signal STFT would use; a margin of one frame means
        # every frame that touches a block's core is complete within the block.
        block = max(1, round(self.block_seconds * sample_rate / hop)) * hop
        margin = n_fft
        for core_start in range(0, length, block):
            core_end = min(core_start + block, length)
            start = max(0, core_start - margin)
            end = min(length, core_end + margin)
            segment = self.mask_centre(left[start:end], right[start:end], sample_rate)
            centre[core_start:core_end] = segment[core_start - start : core_end - start]
        return centre

    def mask_centre(self, left: np.ndarray, right: np.ndarray, sample_rate: int) -> np.ndarray:
        """One block: STFT both channels, mask the mid signal, back to samples."""
        from scipy.signal import istft, stft

        n_fft = int(self.options["n_fft"])
        length = len(left)
        # A block shorter than one frame is padded with silence to a whole frame.
        padding = max(0, n_fft - length)
        stft_args = {
            "fs": sample_rate,
            "window": "hann",
            "nperseg": n_fft,
            "noverlap": n_fft * 3 // 4,
        }
        frequencies, _, left_spectrum = stft(np.pad(left, (0, padding)), **stft_args)
        _, _, right_spectrum = stft(np.pad(right, (0, padding)), **stft_args)

        cross = np.real(left_spectrum * np.conj(right_spectrum))
        power = np.abs(left_spectrum) ** 2 + np.abs(right_spectrum) ** 2
        # Bins with no energy at all get similarity 0: there is nothing to keep there.
        similarity = np.divide(
            2.0 * cross, power, out=np.zeros_like(cross), where=power > np.finfo(np.float32).tiny
        )
        mask = np.clip(similarity, 0.0, 1.0) ** float(self.options["mask_exponent"])
        mask[frequencies < float(self.options["low_cut_hz"])] = 0.0

        mid_spectrum = 0.5 * (left_spectrum + right_spectrum)
        _, centre = istft(mask * mid_spectrum, **stft_args)
        return np.asarray(centre[:length], dtype=np.float32)


@hookimpl
def register_separators(register: Register) -> None:
    register(DspCenterSeparator)


@hookimpl
def register_presets(register: Callable[[Any], None]) -> None:
    from urvc_core.presets import SeparationPreset, SeparationStep

    register(
        SeparationPreset(
            "center",
            "Built-in DSP centre-channel extraction: vocals/instrumental, no weights, offline",
            (SeparationStep("vocals", "dsp-center", {}),),
            # auto's last resort: it runs anywhere, but a trained model separates better.
            rank=0,
        )
    )
