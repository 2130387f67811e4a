"""The errors urvc shows to its users.

Every error meant for a person is a :class:`UrvcError`. Its message says what went
wrong, with which file or name, and what to do about it, in one line. The CLI prints
the message on stderr and exits with code 1; it shows no traceback unless
``URVC_RAISE_ERRORS=1`` is set.

Anything else that escapes is a bug in urvc or in a plugin. Calls into a backend go
through :func:`backend_errors`, which wraps a plugin's own exception in a
:class:`BackendError` that names the plugin and the backend, so the user knows where
to report it.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO


class UrvcError(Exception):
    """An error meant for the user: a one-line message, no traceback."""


class ConfigError(UrvcError):
    """The configuration file or an environment variable holds a value urvc can't use."""


class PluginError(UrvcError):
    """Plugins could not be loaded together (for example, two claim the same name)."""


class PluginConflictError(PluginError):
    """Two plugins claim the same backend or asset name; start-up stops and names both."""


class BackendNotFoundError(UrvcError):
    """No installed plugin provides a backend of that kind and name."""


class BackendError(UrvcError):
    """A backend failed while doing its work; the message names the plugin and backend."""


class InvalidSettingError(UrvcError):
    """A backend or effect setting is unknown, of the wrong type or out of range."""


class AudioFileError(UrvcError):
    """An audio file is missing, empty, corrupt, or in a format urvc can't read or write."""


class AssetError(UrvcError):
    """A model or other asset could not be downloaded, verified or unpacked."""


class ChecksumMismatchError(AssetError):
    """A downloaded file's sha256 is not the one the catalogue expects."""


class OfflineError(AssetError):
    """``URVC_OFFLINE=1`` is set and a needed file is not on disk yet."""


class BatchError(UrvcError):
    """Some inputs of a batch failed; the others were done.

    A batch (a folder of songs, several files) goes on past an input that fails and
    raises this at the end: ``results`` holds what the inputs that worked produced,
    ``failures`` each input that failed with its error. The message is the summary, one
    line per failure under a first line that counts them.
    """

    def __init__(self, results: Sequence[Any], failures: Sequence[tuple[str, UrvcError]]) -> None:
        self.results = list(results)
        self.failures = list(failures)
        total = len(self.results) + len(self.failures)
        lines = [f"{len(self.failures)} of {total} inputs failed (the others are done):"]
        lines += [f"  {source}: {error}" for source, error in self.failures]
        super().__init__("\n".join(lines))


def raise_batch_failures(results: Sequence[Any], failures: Sequence[tuple[str, UrvcError]]) -> None:
    """End a batch: nothing when every input worked, the input's own error when the batch
    was that one input, else a :class:`BatchError` carrying ``results`` and ``failures``."""
    if not failures:
        return
    if not results and len(failures) == 1:
        raise failures[0][1]
    raise BatchError(results, failures)


class UrvcWarning(UserWarning):
    """Something about an input that urvc worked around, said in one line that names the
    file: a file cut short, a damaged mp3, channels mixed down to stereo.

    Issued with :func:`warnings.warn`, so a library user filters or records it as any
    other warning; the CLI prints each as ``Warning: <message>`` on stderr (see
    :func:`print_warnings_as_lines`).
    """


def print_warnings_as_lines() -> None:
    """From now on, show each :class:`UrvcWarning` once, as one ``Warning: <message>``
    line on stderr without Python's source location; other warnings as before.

    What the CLI does for a command (inside :func:`warnings.catch_warnings`), and what
    a worker process a command starts calls first: a spawned process has none of its
    parent's warning settings.
    """
    global _show_other_warnings
    if warnings.showwarning is not _show_warning:
        _show_other_warnings = warnings.showwarning
        warnings.showwarning = _show_warning
    # Once per message: a file read twice in one run says it once.
    warnings.simplefilter("once", UrvcWarning)


_show_other_warnings = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    if issubclass(category, UrvcWarning):
        (file or sys.stderr).write(f"Warning: {message}\n")
    else:
        _show_other_warnings(message, category, filename, lineno, file, line)


@contextmanager
def backend_errors(kind: str, name: str, plugin: str) -> Iterator[None]:
    """Wrap any non-urvc exception raised inside the block in a :class:`BackendError`.

    pluggy hands exceptions from plugin code to the caller unchanged, so a bare
    ``ValueError`` from deep inside a backend would reach the user with no hint of
    where it came from. A :class:`UrvcError` raised by the backend on purpose already
    speaks to the user and passes through untouched.
    """
    try:
        yield
    except UrvcError:
        raise
    except Exception as exc:
        detail = str(exc) or type(exc).__name__
        raise BackendError(
            f"{kind} backend '{name}' (plugin {plugin}) failed: {detail}. "
            f"If the input is fine, report this to the plugin's authors."
        ) from exc
