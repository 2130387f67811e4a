"""``urvc web`` is there once the plugin is installed, with its options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

URVC = str(Path(sys.executable).with_name("urvc"))


def test_urvc_web_is_a_command_with_its_options() -> None:
    shown = subprocess.run(
        [URVC, "web", "--help"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for option in ("--host", "--port", "--share-none", "--max-file-size"):
        assert option in shown
    assert "127.0.0.1" in shown


def test_importing_the_plugin_imports_neither_gradio_nor_torch() -> None:
    code = "import sys, urvc_webui; print('gradio' in sys.modules, 'torch' in sys.modules)"
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert shown.split() == ["False", "False"]


def test_cover_jobs_have_no_limit_on_the_cpu(urvc_home: Path) -> None:
    from urvc_webui.jobs import job_slots

    from urvc_core.home import set_config_value

    set_config_value("device", "cpu")
    assert job_slots() is None
