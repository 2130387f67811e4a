"""Small VITS models with random weights, saved the way Coqui saves a model: for tests
and benchmarks, where no published model can be downloaded.

    <coqui environment>/bin/python -m urvc_tts_coqui.random_models FOLDER
        [--speakers 3] [--sample-rate 22050] [--phonemes] [--full-size]

The model is made by Coqui's own classes (``VitsConfig``, ``Vits.init_from_config``)
with layers far narrower than a real VITS, so it builds and speaks in a second; what it
says is noise shaped by random weights, but its length follows the text (VITS predicts a
duration per character) and it has the speakers and rate of its config. The folder
holds ``config.json`` and ``model_file.pth`` (the dict Coqui's trainer writes:
``config``, ``model``, ``step``...), and for several speakers ``speaker_ids.json``, the
config naming it by an absolute path, as a published model's does. ``--phonemes``
makes a model that reads phonemes from espeak-ng, as most published ones do.

Runs in the plugin's worker environment, where coqui-tts is.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

#: Where the config says the speakers file is: a path on the "trainer's" machine, as
#: in a published config, which the engine replaces by the model folder's own file.
TRAINER_PATH = "/home/trainer/runs/vits/speaker_ids.json"


def build_random_vits(
    folder: Path,
    *,
    speakers: int = 1,
    sample_rate: int = 22050,
    phonemes: bool = False,
    full_size: bool = False,
) -> Path:
    """Write a random-weight VITS model into ``folder``; returns the folder.

    ``full_size``: the layers of Coqui's published VITS (its ``VitsArgs`` defaults),
    for benchmarks; otherwise layers small enough to build and speak in a second.
    """
    import torch
    from trainer.io import save_model
    from TTS.config.shared_configs import BaseAudioConfig
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"p{225 + index}" for index in range(speakers)]
    if speakers > 1:
        (folder / "speaker_ids.json").write_text(
            json.dumps({name: index for index, name in enumerate(names)})
        )
    speaker_arguments = {
        "use_speaker_embedding": speakers > 1,
        "speakers_file": TRAINER_PATH if speakers > 1 else None,
        # Inference needs no discriminator: a smaller file.
        "init_discriminator": False,
    }
    small_layers = {
        "hidden_channels": 16,
        "hidden_channels_ffn_text_encoder": 32,
        "num_heads_text_encoder": 2,
        "num_layers_text_encoder": 2,
        "num_layers_flow": 2,
        "num_layers_posterior_encoder": 2,
        "resblock_type_decoder": "2",
        "resblock_kernel_sizes_decoder": [3],
        "resblock_dilation_sizes_decoder": [[1, 3]],
        "upsample_rates_decoder": [8, 8, 4],
        "upsample_initial_channel_decoder": 32,
        "upsample_kernel_sizes_decoder": [16, 16, 8],
        "speaker_embedding_channels": 16,
    }
    arguments = VitsArgs(**speaker_arguments, **({} if full_size else small_layers))
    config = VitsConfig(
        model_args=arguments,
        audio=BaseAudioConfig(sample_rate=sample_rate, hop_length=256, win_length=1024),
        use_phonemes=phonemes,
        phonemizer="espeak" if phonemes else None,
        phoneme_language="en-us" if phonemes else None,
        text_cleaner="phoneme_cleaners" if phonemes else "english_cleaners",
        characters=None
        if phonemes
        else CharactersConfig(
            characters_class="TTS.tts.models.vits.VitsCharacters",
            pad="_",
            eos="",
            bos="",
            blank=None,
            characters="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            punctuations="!'(),-.:;? ",
            phonemes=None,
        ),
        use_speaker_embedding=speakers > 1,
        speakers_file=TRAINER_PATH if speakers > 1 else None,
    )
    if speakers > 1:
        # Coqui reads the speakers file while building the model: the real one, here.
        config.model_args.speakers_file = str(folder / "speaker_ids.json")
        config.speakers_file = str(folder / "speaker_ids.json")
    model = Vits(config)
    if speakers > 1:
        config.model_args.speakers_file = TRAINER_PATH
        config.speakers_file = TRAINER_PATH
    save_model(config, model, folder / "model_file.pth", current_step=0, epoch=0)
    config.save_json(str(folder / "config.json"))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--speakers", type=int, default=1)
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--phonemes", action="store_true")
    parser.add_argument("--full-size", action="store_true")
    arguments = parser.parse_args()
    build_random_vits(
        arguments.folder,
        speakers=arguments.speakers,
        sample_rate=arguments.sample_rate,
        phonemes=arguments.phonemes,
        full_size=arguments.full_size,
    )


if __name__ == "__main__":
    main()
