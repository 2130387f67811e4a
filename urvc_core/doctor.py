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
    gpus = [_gpu_facts(torch, index) for index in range(torch.cuda.device_count())] if cuda else []
    return {
        "installed": True,
        "version": torch.__version__,
        "build": f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU",
        "cuda_version": torch.version.cuda,
        "cudnn_version": _cudnn_version(torch),
        "cuda_available": cuda,
        "gpu": gpus[0]["name"] if gpus else None,
        "gpus": gpus,
        "mps_available": mps,
        "threads": torch.get_num_threads(),
    }


def _gpu_facts(torch: Any, index: int) -> dict[str, Any]:
    """One CUDA device as torch sees it: its name, memory and compute capability."""
    properties = torch.cuda.get_device_properties(index)
    return {
        "device": f"cuda:{index}",
        "name": properties.name,
        "memory_gib": round(properties.total_memory / 2**30, 1),
        "compute_capability": f"{properties.major}.{properties.minor}",
    }


def _cudnn_version(torch: Any) -> str | None:
    """cuDNN's version as ``9.1.0``; torch reports 90100 (cuDNN 9 on) or 8902 (before)."""
    number = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    if not number:
        return None
    major, rest = divmod(int(number), 10000 if number >= 90000 else 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


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
    report.facts["device_setting"] = device_setting
    report.facts["device"] = device_setting
    report.facts["auto_device"] = None
    if not torch_facts["installed"]:
        report.problems.append("torch is not installed; voice conversion needs it.")
    else:
        from urvc_core.devices import auto_device, resolve_device

        report.facts["auto_device"] = auto_device()
        try:
            report.facts["device"] = (
                auto_device()
                if device_setting == "auto"
                else resolve_device(device_setting, owner="config.toml")
            )
        except UrvcError as exc:
            report.problems.append(str(exc))

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

    from urvc_core.worker_environments import (
        declared_worker_environments,
        worker_environment_facts,
    )

    environments = {}
    for environment in declared_worker_environments():
        facts = worker_environment_facts(environment)
        environments[environment.name] = facts
        # One never built is listed, like a model not downloaded yet; one that is half
        # there or does not start is a problem.
        if facts["state"] in ("unfinished", "broken"):
            report.problems.append(facts["problem"])
    report.facts["worker_environments"] = environments

    try:
        report.facts["assets"] = [status.as_dict() for status in list_assets()]
    except UrvcError as exc:
        report.problems.append(str(exc))
    # A bad config.toml stops both the config and the asset listing: say it once.
    report.problems = list(dict.fromkeys(report.problems))
    return report
