"""The virtual environments that worker backends run in: declared, built, checked, removed.

A proxy backend (:class:`~urvc_core.worker.WorkerBackend`) names its environment
(``worker_environment``, the plugin's distribution name) and what goes into it
(``worker_requirements``). The environment lives under ``<urvc home>/envs/<name>/`` and
holds, from the package registries only:

* the requirements (``spleeter``, ``numpy<2``...), with ``numpy`` and ``pluggy``, which
  ``urvc_core`` itself imports;
* ``urvc-core`` and the plugin, without their dependencies (torch and the rest are not
  needed to serve one backend), from where the main environment has them: the same
  release, or the same folder where they are installed from a checkout.

Building is idempotent: a finished environment holds ``urvc-environment.json``, written
last, saying what it was built from; the same request finds it up to date, another one
(or a half-built folder, which has no such file) is built afresh.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urvc_core.errors import UrvcError

__all__ = [
    "WorkerEnvironment",
    "build_worker_environment",
    "declared_worker_environments",
    "remove_worker_environment",
    "worker_environment_facts",
]

#: What every worker environment holds besides its plugin's requirements: what
#: ``import urvc_core`` needs.
BASE_REQUIREMENTS: tuple[str, ...] = ("numpy", "pluggy")
#: The file a finished environment holds, written last.
MARKER = "urvc-environment.json"


@dataclass(frozen=True)
class WorkerEnvironment:
    """One worker environment, as the backends that run in it declare it."""

    #: The folder's name under ``<urvc home>/envs/``: the plugin's distribution name.
    name: str
    #: Requirements installed with their dependencies (``spleeter==2.4.2``...).
    requirements: tuple[str, ...]
    #: Distributions installed without dependencies: urvc-core and the plugin, as
    #: requirement strings or local folders.
    sources: tuple[str, ...] = ()
    #: Packages whose versions ``urvc doctor`` shows (the heavy one first).
    report_packages: tuple[str, ...] = ()
    #: ``kind name`` of each backend that runs in it.
    backends: tuple[str, ...] = field(default=(), compare=False)

    @property
    def folder(self) -> Path:
        from urvc_core.home import urvc_home

        return urvc_home().envs / self.name

    @property
    def python(self) -> Path:
        from urvc_core.worker import worker_environment_python

        return worker_environment_python(self.name)

    def recipe(self) -> dict[str, Any]:
        """What the environment is built from: equal recipes, equal environments."""
        return {
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "requirements": sorted({*BASE_REQUIREMENTS, *self.requirements}),
            "sources": list(self.sources),
        }

    def is_built(self) -> bool:
        """Whether the folder holds a finished environment of this recipe."""
        try:
            built = json.loads((self.folder / MARKER).read_text())
        except (OSError, ValueError):
            return False
        return bool(built == self.recipe() and self.python.exists())


def declared_worker_environments(plugins: Iterable[str] | None = None) -> list[WorkerEnvironment]:
    """The environments the installed backends run in (those of ``plugins`` only, by
    distribution name, when given), one per name."""
    from urvc_core.registry import list_backends
    from urvc_core.worker import WorkerBackend

    wanted = None if plugins is None else {_normalised(p) for p in plugins}
    grouped: dict[str, list[Any]] = {}
    for info in list_backends():
        backend_class = info.backend_class
        if not (isinstance(backend_class, type) and issubclass(backend_class, WorkerBackend)):
            continue
        name = backend_class.worker_environment
        if not name or (wanted is not None and _normalised(name) not in wanted):
            continue
        grouped.setdefault(name, []).append(info)
    environments = []
    for name, infos in sorted(grouped.items()):
        classes = [info.backend_class for info in infos]
        # urvc-core, and each plugin that registered one of the backends (a built-in
        # backend's code comes with urvc-core).
        plugins_sources = (_source_of(info.plugin) for info in infos)
        sources = tuple(
            dict.fromkeys([_required_source("urvc-core"), *filter(None, plugins_sources)])
        )
        environments.append(
            WorkerEnvironment(
                name=name,
                requirements=tuple(
                    dict.fromkeys(r for c in classes for r in c.worker_requirements)
                ),
                sources=sources,
                report_packages=tuple(
                    dict.fromkeys(p for c in classes for p in c.worker_report_packages)
                ),
                backends=tuple(f"{info.kind.label} {info.name}" for info in infos),
            )
        )
    return environments


def build_worker_environment(
    environment: WorkerEnvironment, say: Callable[[str], None] = print
) -> bool:
    """Build ``environment`` unless it is built already; returns whether it built.

    ``say`` gets a line per step. Raises UrvcError (naming the step and the command to
    run again) when a step fails; the half-built folder is removed then.
    """
    if environment.is_built():
        say(f"{environment.name}: the worker environment is up to date ({environment.folder}).")
        return False
    folder = environment.folder
    if folder.exists():
        say(f"{environment.name}: removing the unfinished or outdated environment")
        shutil.rmtree(folder)
    recipe = environment.recipe()
    steps = [
        (f"creating the environment at {folder}", [sys.executable, "-m", "venv", str(folder)]),
        (
            f"installing {', '.join(recipe['requirements'])}",
            [str(environment.python), "-m", "pip", "install", "--quiet", *recipe["requirements"]],
        ),
    ]
    if environment.sources:
        steps.append(
            (
                f"installing {', '.join(environment.sources)} without their dependencies",
                [
                    str(environment.python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-deps",
                    *_pip_arguments(environment.sources),
                ],
            )
        )
    try:
        for number, (what, command) in enumerate(steps, start=1):
            say(f"{environment.name} [{number}/{len(steps)}]: {what}")
            completed = subprocess.run(command, check=False)
            if completed.returncode != 0:
                raise UrvcError(
                    f"Building the worker environment {environment.name} failed while "
                    f"{what} (exit code {completed.returncode}); see pip's message above, "
                    f"then run `urvc install {environment.name}` again."
                )
        (folder / MARKER).write_text(json.dumps(recipe, indent=2) + "\n")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    say(f"{environment.name}: the worker environment is ready.")
    return True


def remove_worker_environment(name: str) -> bool:
    """Remove the worker environment ``name``; returns whether there was one."""
    from urvc_core.home import urvc_home

    folder = urvc_home().envs / name
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True


def worker_environment_facts(environment: WorkerEnvironment) -> dict[str, Any]:
    """What ``urvc doctor`` shows of an environment: its ``state`` (``built``,
    ``missing``: never built, like a model not downloaded yet; ``unfinished``: cut off or
    built for other requirements; ``broken``: its Python does not start), its Python,
    numpy and the packages it reports; ``problem`` says how to repair it."""
    facts: dict[str, Any] = {
        "path": str(environment.folder),
        "backends": list(environment.backends),
        "built": environment.is_built(),
        "state": "built",
    }
    if not facts["built"]:
        facts["state"] = "unfinished" if environment.folder.exists() else "missing"
        said = "is outdated or unfinished" if environment.folder.exists() else "is missing"
        facts["problem"] = (
            f"The worker environment {environment.name} ({', '.join(environment.backends)}) "
            f"{said}: run `urvc install {environment.name}`."
        )
        return facts
    packages = ["numpy", *environment.report_packages]
    probe = (
        "import importlib.metadata as m, json, platform\n"
        "def version(name):\n"
        "    try:\n"
        "        return m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        return None\n"
        f"print(json.dumps({{'python': platform.python_version(), "
        f"**{{p: version(p) for p in {packages!r}}}}}))"
    )
    completed = subprocess.run(
        [str(environment.python), "-c", probe], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        facts["built"] = False
        facts["state"] = "broken"
        facts["problem"] = (
            f"The worker environment {environment.name} does not start its Python: run "
            f"`urvc install {environment.name}` to rebuild it."
        )
        return facts
    facts.update(json.loads(completed.stdout))
    return facts


def _normalised(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _required_source(distribution: str) -> str:
    source = _source_of(distribution)
    if source is None:
        raise UrvcError(f"{distribution} is not installed in urvc's environment; install it.")
    return source


def _source_of(distribution: str) -> str | None:
    """Where pip gets ``distribution`` as the main environment has it: the folder it is
    installed from in editable mode, else its release (``name==version``); None when
    no distribution has that name (a built-in backend's module)."""
    import importlib.metadata

    try:
        found = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    direct = found.read_text("direct_url.json")
    if direct:
        url = json.loads(direct)
        if url.get("dir_info", {}).get("editable") and url["url"].startswith("file://"):
            return url["url"][len("file://") :]
    return f"{found.metadata['Name']}=={found.version}"


def _pip_arguments(sources: Iterable[str]) -> list[str]:
    """Local folders as editable installs (the worker sees the checkout's code), releases
    as they are."""
    arguments: list[str] = []
    for source in sources:
        arguments += ["-e", source] if os.path.isdir(source) else [source]
    return arguments
