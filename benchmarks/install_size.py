"""What installing urvc-core and each plugin costs: time, and disk in site-packages.

    .venv/bin/python benchmarks/install_size.py [--keep FOLDER] [PACKAGE ...]

The plain way, as a user installs: ``pip install -c constraints.txt <folder>`` into a
fresh virtual environment, with pip's own resolver and the releases constraints.txt pins
(torch above all, so that pip takes the CPU build rather than a CUDA one). urvc-core is
measured alone; each plugin in an environment that already has urvc-core (installed
first, not counted), so its figures are what the plugin adds. Sizes are ``du``-style
(allocated blocks) of site-packages after minus before, in MB (10^6 bytes); the new or
grown entries of a megabyte or more are listed, largest first (at most eight). pip's
cache is used as it is: say whether it was warm when quoting figures.

The packages are built from copies of their folders, so no ``build/`` or ``*.egg-info``
is left in the checkout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPOSITORY / "constraints.txt"

#: name -> (folder, import package)
PACKAGES: dict[str, tuple[Path, str]] = {
    "urvc-core": (REPOSITORY, "urvc_core"),
    "urvc-f0-rmvpe": (REPOSITORY / "plugins" / "urvc-f0-rmvpe", "urvc_f0_rmvpe"),
    "urvc-effects-pedalboard": (
        REPOSITORY / "plugins" / "urvc-effects-pedalboard",
        "urvc_effects_pedalboard",
    ),
    "urvc-separator-mdx": (REPOSITORY / "plugins" / "urvc-separator-mdx", "urvc_separator_mdx"),
}
NOT_PACKAGED = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".*", "tests")


@dataclass(frozen=True)
class Measurement:
    package: str
    seconds: float
    added_bytes: int
    new_distributions: list[str]
    largest: list[tuple[str, int]]


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk under ``path``, as ``du`` counts them (hard links once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _, files in os.walk(path):
        for name in [".", *files]:
            stat = os.lstat(os.path.join(folder, name))
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            total += getattr(stat, "st_blocks", 0) * 512 or stat.st_size
    return total


def entry_sizes(site_packages: Path) -> dict[str, int]:
    return {entry.name: disk_usage(entry) for entry in site_packages.iterdir()}


def copy_sources(package: str, scratch: Path) -> Path:
    """The files pip builds the package from, copied out of the checkout."""
    folder, module = PACKAGES[package]
    destination = scratch / "src" / package
    destination.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(folder / name, destination / name)
    shutil.copytree(folder / module, destination / module, ignore=NOT_PACKAGED)
    return destination


def new_environment(folder: Path) -> tuple[Path, Path]:
    """A fresh virtual environment: its Python and its site-packages."""
    venv.create(folder, with_pip=True)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    return python, site_packages


def pip_install(python: Path, source: Path) -> float:
    """Install ``source`` the plain way; the seconds it took."""
    started = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-c", str(CONSTRAINTS), str(source)],
        check=True,
    )
    return time.perf_counter() - started


def distributions(python: Path) -> set[str]:
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split("==")[0].lower() for line in listed.splitlines() if "==" in line}


def measure(package: str, scratch: Path) -> Measurement:
    python, site_packages = new_environment(scratch / "venv")
    if package != "urvc-core":
        pip_install(python, copy_sources("urvc-core", scratch))
    before_sizes = entry_sizes(site_packages)
    before_distributions = distributions(python)
    seconds = pip_install(python, copy_sources(package, scratch))
    after_sizes = entry_sizes(site_packages)
    grown = {
        name: size - before_sizes.get(name, 0)
        for name, size in after_sizes.items()
        if size > before_sizes.get(name, 0)
    }
    return Measurement(
        package=package,
        seconds=seconds,
        added_bytes=sum(after_sizes.values()) - sum(before_sizes.values()),
        new_distributions=sorted(distributions(python) - before_distributions),
        largest=sorted(
            ((name, size) for name, size in grown.items() if size >= 1_000_000),
            key=lambda item: -item[1],
        )[:8],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", metavar="PACKAGE", help=", ".join(PACKAGES))
    parser.add_argument("--keep", type=Path, help="build the environments here and keep them")
    arguments = parser.parse_args()
    unknown = sorted(set(arguments.packages) - set(PACKAGES))
    if unknown:
        parser.error(f"unknown package {', '.join(unknown)}; choose from {', '.join(PACKAGES)}")
    packages = arguments.packages or list(PACKAGES)
    print(f"Python {sys.version.split()[0]}, constraints: {CONSTRAINTS.name}, pip cache as is")
    print(f"{'package':<26} {'seconds':>8} {'MB added':>9} {'new dists':>9}  largest")
    for package in packages:
        if arguments.keep:
            scratch = arguments.keep / package
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
            result = measure(package, scratch)
        else:
            with tempfile.TemporaryDirectory(prefix=f"urvc-install-{package}-") as folder:
                result = measure(package, Path(folder))
        largest = ", ".join(f"{name} {size / 1e6:.0f}" for name, size in result.largest)
        print(
            f"{result.package:<26} {result.seconds:>8.1f} {result.added_bytes / 1e6:>9.0f} "
            f"{len(result.new_distributions):>9}  {largest}",
            flush=True,
        )


if __name__ == "__main__":
    main()
