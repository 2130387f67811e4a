"""A user's install: `pip install urvc-core urvc-separator-mdx` into a fresh environment.

No --no-deps and no hand-picked requirements: pip resolves the two packages from their
folders, as it would from the package index, with one constraint, the torch release of
this environment, so that pip takes the same build (a CPU build here) rather than a newer
CUDA build of several GB. On Linux with a CPU torch, pip then brings a torchvision (for
onnx2torch) that can't be imported; the plugin must work anyway, and so must
transformers, which urvc's embedders run on (``urvc demo`` checks that).

The environment is built once for the module: about a minute and a half on two cores
with the package cache warm (diffq, which has no wheel, is compiled the first time).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import venv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from urvc_core.assets import packaged_file
from urvc_core.audio import audio_info, load_audio, save_audio
from urvc_core.builtin.neural_f0 import FCPE_WEIGHTS
from urvc_core.testing import signals

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[3]
PLUGIN = REPOSITORY / "plugins" / "urvc-separator-mdx"
#: The centre-mask MDX-Net model every test home holds (conftest.py).
CENTRE_MDX = "tiny_centre_mdx.onnx"
#: Whatever is not the packages' own files: build outputs, caches, environments, tests.
NOT_PACKAGED = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".*", "tests")


@dataclass(frozen=True)
class PlainInstall:
    python: Path
    urvc: Path
    log: str


def _copy_project(source: Path, destination: Path, package: str) -> Path:
    """The files pip builds a package from, copied: building in place would leave
    ``build/`` and ``*.egg-info`` folders in the checkout."""
    destination.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(source / name, destination / name)
    shutil.copytree(source / package, destination / package, ignore=NOT_PACKAGED)
    return destination


def _child_env(**extra: str) -> dict[str, str]:
    # The child runs its own environment's Python: nothing of this one may leak in.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    return {**env, **extra}


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> PlainInstall:
    root = tmp_path_factory.mktemp("plain-install")
    core = _copy_project(REPOSITORY, root / "src" / "urvc-core", "urvc_core")
    plugin = _copy_project(PLUGIN, root / "src" / "urvc-separator-mdx", "urvc_separator_mdx")
    torch_release = importlib.metadata.version("torch").split("+")[0]
    constraints = root / "constraints.txt"
    constraints.write_text(f"torch=={torch_release}\n")
    environment = root / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    completed = subprocess.run(
        [str(python), "-m", "pip", "install", "-c", str(constraints), str(core), str(plugin)],
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=1200,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return PlainInstall(python, environment / "bin" / "urvc", completed.stdout)


def _run(
    command: Sequence[str | Path], home: Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_child_env(URVC_HOME=str(home), URVC_OFFLINE="1"),
        timeout=600,
    )


def _installed(install: PlainInstall, home: Path) -> dict[str, str]:
    script = (
        "import importlib.metadata as m, json\n"
        "names = ['audio-separator', 'onnx2torch-py313', 'onnxruntime', 'torch', 'torchvision']\n"
        "print(json.dumps({n: m.version(n) for n in names}))\n"
    )
    completed = _run([install.python, "-c", script], home)
    assert completed.returncode == 0, completed.stderr
    versions: dict[str, str] = json.loads(completed.stdout)
    return versions


def test_pip_brings_audio_separator_and_keeps_the_torch_build(
    plain_install: PlainInstall, urvc_home: Path
) -> None:
    versions = _installed(plain_install, urvc_home)
    assert versions["torch"] == importlib.metadata.version("torch")
    assert versions["audio-separator"].startswith("0.47.")
    # onnx2torch's requirement: present, whether or not it can be imported here.
    assert versions["torchvision"]


def test_separators_models_lists_the_catalogue(
    plain_install: PlainInstall, urvc_home: Path
) -> None:
    listed = _run([plain_install.urvc, "separators", "models"], urvc_home)
    assert listed.returncode == 0, listed.stderr
    assert "UVR-MDX-NET-Voc_FT.onnx" in listed.stdout
    assert "model_bs_roformer_ep_317_sdr_12.9755.ckpt" in listed.stdout
    summary = re.search(r"(\d+) models, (\d+) on disk", listed.stdout)
    assert summary is not None, listed.stdout[-500:]
    # audio-separator 0.47.1's catalogue has 169 models; the 7 tiny ones of this test's
    # home (listed in its download_checks.json) are the ones on disk.
    assert int(summary.group(1)) >= 150 and int(summary.group(2)) == 7
    tiny = next(line for line in listed.stdout.splitlines() if CENTRE_MDX in line)
    assert tiny.split()[0] == "mdx" and tiny.split()[-1] == "yes"


def test_a_tiny_mdx_model_separates_real_speech(
    plain_install: PlainInstall, urvc_home: Path, tmp_path: Path
) -> None:
    # 48 kHz in: the model runs at 44.1 kHz and the stems come back at the input's rate.
    mix = signals.centre_panned_speech_mix(48000)
    song = save_audio(mix.mixture, tmp_path / "song.wav")
    out = tmp_path / "stems"
    separated = _run(
        [
            plain_install.urvc,
            "separate",
            song,
            "--separation",
            "vocals",
            "--separator-step",
            f"vocals=mdx:model={CENTRE_MDX}",
            "-o",
            out,
        ],
        urvc_home,
    )
    assert separated.returncode == 0, separated.stderr[-3000:]
    assert sorted(path.name for path in out.iterdir()) == [
        "song (Instrumental).wav",
        "song (Vocals).wav",
    ]
    frames = mix.mixture.samples.shape[1]
    for stem in ("Vocals", "Instrumental"):
        info = audio_info(out / f"song ({stem}).wav")
        assert (info.sample_rate, info.channels, info.frames) == (48000, 2, frames)
    vocals = load_audio(out / "song (Vocals).wav")
    instrumental = load_audio(out / "song (Instrumental).wav")
    # The centre mask finds the voice and the accompaniment (measured: 8.97 and 8.63 dB
    # SDR; the mix itself is 0 dB), and the stems add up to the song (22.9 dB: the model
    # runs at 44.1 kHz, so both went through two resamplings).
    assert signals.sdr_db(mix.vocals.samples, vocals.samples) > 7.0
    assert signals.sdr_db(mix.accompaniment.samples, instrumental.samples) > 7.0
    assert signals.sdr_db(mix.mixture.samples, vocals.samples + instrumental.samples) > 18.0


def test_the_demo_runs_beside_the_torchvision_pip_brought(
    plain_install: PlainInstall, urvc_home: Path, tmp_path: Path
) -> None:
    # The demo's embedder is a transformers HuBERT, and transformers imports any
    # torchvision it finds: one that can't be imported must not stop it.
    torchvision = _run(
        [plain_install.python, "-c", "import torchvision; print(torchvision.__version__)"],
        urvc_home,
    )
    fcpe = packaged_file(FCPE_WEIGHTS)
    assert fcpe is not None, "the FCPE weights come from the torchfcpe wheel (make setup)"
    (urvc_home / "assets" / "fcpe").mkdir(parents=True)
    shutil.copy2(fcpe, urvc_home / "assets" / FCPE_WEIGHTS.filename)
    demo = _run([plain_install.urvc, "demo", "--folder", tmp_path / "demo"], urvc_home)
    assert demo.returncode == 0, (
        f"torchvision: {torchvision.stdout or torchvision.stderr[-300:]}\n{demo.stderr[-3000:]}"
    )
    cover = next((tmp_path / "demo").glob("urvc-demo-song (* Ver).mp3"))
    assert audio_info(cover).duration == pytest.approx(10.0, abs=0.03)
    if torchvision.returncode != 0:
        # This machine's case, a CPU torch beside PyPI's CUDA torchvision: what the
        # plugin keeps out of transformers' sight.
        assert "torchvision::nms does not exist" in torchvision.stderr
