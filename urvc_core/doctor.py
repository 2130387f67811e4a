"""``urvc doctor``: what urvc sees on this machine, and what is wrong with it."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

from urvc_core.errors import UrvcError


@dataclass
class DoctorReport:
    """Facts about this installation, and the problems found (empty when all is well)."""

    facts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.facts, "problems": self.problems}


def _torch_facts() -> dict[str, Any]:
    try:
        import torch
    except ImportError as exc:
        return {"installed": False, "error": str(exc)}
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return {
        "installed": True,
        "version": torch.__version__,
        "build": f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU",
        "cuda_available": cuda,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "mps_available": mps,
        "threads": torch.get_num_threads(),
    }


def _chosen_device(setting: str, torch_facts: dict[str, Any]) -> str:
    if setting != "auto":
        return setting
    if torch_facts.get("cuda_available"):
        return "cuda"
    if torch_facts.get("mps_available"):
        return "mps"
    return "cpu"


def _writable(folder: str) -> bool:
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def run_doctor() -> DoctorReport:
    """Check the installation: versions, torch and its device, home folder, assets, plugins."""
    import numpy

    from urvc_core import __version__
    from urvc_core.catalogue import list_assets
    from urvc_core.home import load_config, urvc_home
    from urvc_core.plugins import plugin_host
    from urvc_core.registry import list_backends

    report = DoctorReport()
    report.facts["urvc"] = __version__
    report.facts["python"] = f"{platform.python_version()} ({sys.executable})"
    report.facts["platform"] = platform.platform()
    report.facts["numpy"] = numpy.__version__

    home = urvc_home()
    report.facts["home"] = str(home.root)
    folders = {}
    for label, folder in home.folders().items():
        writable = _writable(str(folder))
        folders[label] = {"path": str(folder), "writable": writable}
        if not writable:
            report.problems.append(f"The {label} folder {folder} is not writable.")
    report.facts["folders"] = folders

    device_setting = "auto"
    try:
        config = load_config(home)
        device_setting = config["device"]
        report.facts["config"] = {"path": str(config.source), **config.values}
    except UrvcError as exc:
        report.problems.append(str(exc))

    torch_facts = _torch_facts()
    report.facts["torch"] = torch_facts
    report.facts["device"] = _chosen_device(device_setting, torch_facts)
    if not torch_facts["installed"]:
        report.problems.append("torch is not installed; voice conversion needs it.")
    elif report.facts["device"] == "cuda" and not torch_facts["cuda_available"]:
        report.problems.append("device = cuda is configured, but torch sees no CUDA GPU.")

    report.facts["ffmpeg"] = shutil.which("ffmpeg")

    host = plugin_host()
    report.facts["plugins"] = [record.as_dict() for record in host.plugins(include_builtin=True)]
    for record in host.failures:
        report.problems.append(f"Plugin {record.name} failed to load: {record.error}")

    backends = []
    for info in list_backends():
        missing = info.backend_class.missing_modules()
        backends.append(
            f"{info.kind.value}:{info.name}" + (" (missing modules)" if missing else "")
        )
        if missing:
            report.problems.append(
                f"The {info.kind.label} '{info.name}' (plugin {info.plugin}) needs "
                f"{', '.join(missing)}, which is not installed."
            )
    report.facts["backends"] = backends

    try:
        report.facts["assets"] = [status.as_dict() for status in list_assets()]
    except UrvcError as exc:
        report.problems.append(str(exc))
    # A bad config.toml stops both the config and the asset listing: say it once.
    report.problems = list(dict.fromkeys(report.problems))
    return report
