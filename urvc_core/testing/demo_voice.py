"""The demo's trained voice as pytest fixtures, for the kernel's tests and plugins' alike.

Import both fixtures into a ``conftest.py``::

    from urvc_core.testing.demo_voice import demo_voice, demo_voice_trained_once  # noqa: F401

``demo_voice`` needs the conftest's autouse ``urvc_home`` fixture (a home per test).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_voice_trained_once(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Path:
    """The demo's voice, trained once (minutes, as a user's first `urvc demo` trains it)
    in a home of its own, and kept in pytest's cache under a digest of the code that
    trains it: CI's second run of the tests (under numpy 1) and the plugins' tests reuse
    it."""
    import torch

    import urvc_core

    kernel = Path(urvc_core.__file__).parent
    sources = [kernel / "demo.py", *sorted((kernel / "training").glob("*.py"))]
    sources += [kernel / "rvc" / "synthesizer.py", kernel / "builtin" / "random_hubert_models.py"]
    digest = hashlib.sha256(torch.__version__.encode())
    for source in sources:
        digest.update(source.read_bytes())
    cached = pytestconfig.cache.mkdir("urvc-demo-voice") / f"{digest.hexdigest()[:16]}.pth"
    if cached.is_file():
        return cached
    home = tmp_path_factory.mktemp("demo-voice-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("URVC_HOME", str(home))
        from urvc_core.demo import build_demo_assets, demo_voice_path

        build_demo_assets(home / "demo")
        for stale in cached.parent.glob("*.pth"):
            stale.unlink()
        staged = cached.with_suffix(".part")  # whole or not at all
        shutil.copyfile(demo_voice_path(), staged)
        staged.replace(cached)
        return cached


@pytest.fixture
def demo_voice(urvc_home: Path, demo_voice_trained_once: Path) -> Path:
    """This test's home with the demo's voice already trained (as after a first demo)."""
    from urvc_core.demo import demo_voice_path

    path = demo_voice_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo_voice_trained_once, path)
    return path
