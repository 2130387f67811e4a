"""Fixtures for the web UI's tests: an isolated urvc home, and the demo's trained voice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from urvc_core.plugins import reset_plugin_host
from urvc_core.testing.demo_voice import demo_voice, demo_voice_trained_once  # noqa: F401


@pytest.fixture(autouse=True)
def urvc_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own urvc home and a plugin host loaded afresh."""
    home = tmp_path_factory.mktemp("urvc-home")
    monkeypatch.setenv("URVC_HOME", str(home))
    for variable in ("URVC_LOAD_PLUGINS", "URVC_TRACE_PLUGINS", "URVC_RAISE_ERRORS"):
        monkeypatch.delenv(variable, raising=False)
    reset_plugin_host()
    yield home
    reset_plugin_host()
