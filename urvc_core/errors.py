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

from collections.abc import Iterator
from contextlib import contextmanager


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
