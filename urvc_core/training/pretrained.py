"""RVC's published pretrained networks, which ``urvc train fit`` starts a full-size
model from, as assets of the asset store (``urvc assets list`` shows them;
``[asset_paths]`` in config.toml can point one at a file you already have).

One generator (G) and one discriminator (D) per version, sample rate and pitch
guidance, as RVC WebUI publishes them: ``pretrained/`` for v1, ``pretrained_v2/`` for
v2, ``f0G40k.pth`` with pitch guidance and ``G40k.pth`` without. Declared without torch,
so listing them costs nothing; :mod:`~urvc_core.training.checkpoints` loads them.
"""

from __future__ import annotations

from urvc_core.assets import Asset

__all__ = ["PRETRAINED_ASSETS", "pretrained_asset"]

_HUB = "https://huggingface.co/lj1995/VoiceConversionWebUI/resolve/main"


def _pretrained_assets() -> dict[tuple[str, int, bool, str], Asset]:
    assets = {}
    for version, folder in (("v1", "pretrained"), ("v2", "pretrained_v2")):
        for rate in (32000, 40000, 48000):
            for pitch_guidance in (True, False):
                for part in ("G", "D"):
                    file_name = f"{'f0' if pitch_guidance else ''}{part}{rate // 1000}k.pth"
                    kind = "with pitch guidance" if pitch_guidance else "without pitch guidance"
                    network = "generator" if part == "G" else "discriminator"
                    assets[(version, rate, pitch_guidance, part)] = Asset(
                        name=f"rvc-pretrained-{version}-{file_name.removesuffix('.pth')}",
                        url=f"{_HUB}/{folder}/{file_name}",
                        filename=f"rvc-pretrained/{version}/{file_name}",
                        description=(
                            f"RVC's pretrained {version} {rate // 1000} kHz {network}, {kind}: "
                            f"where `urvc train fit` starts a full-size model from"
                        ),
                    )
    return assets


PRETRAINED_ASSETS = _pretrained_assets()


def pretrained_asset(version: str, sample_rate: int, pitch_guidance: bool, part: str) -> Asset:
    """The published pretrained ``part`` ("G" or "D") for a model of these settings."""
    return PRETRAINED_ASSETS[(version, sample_rate, pitch_guidance, part)]
