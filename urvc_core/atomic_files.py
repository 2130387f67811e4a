"""Files that appear whole or not at all.

Every file urvc writes for keeps (audio, pitch curves, feature indexes, voice models,
config.toml, presets, exported networks) is written to a hidden temporary file beside
its destination, flushed to disk, and renamed onto the destination in one step. A
reader sees the old file or the new one, never half of one; an error, a full disk or
Ctrl-C leaves the old file as it was and no temporary file behind.

The temporary file sits in the destination's folder because a rename is atomic only
within one file system, and its name ends with the destination's suffix because some
writers (ffmpeg, torch.onnx.export...) choose a format from it. It is named
``.<name>.<random>.tmp<suffix>``: hidden, and recognisable as urvc's if a power cut
leaves one behind.

These functions raise :class:`OSError` and nothing of their own: each caller knows what
it was writing and turns the failure into its own :class:`~urvc_core.errors.UrvcError`.
This module imports only the standard library, so plugins may use it freely.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_destination",
    "copy_file_atomically",
    "write_bytes_atomically",
    "write_text_atomically",
]


@contextlib.contextmanager
def atomic_destination(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on leaving the block, it becomes ``path``.

    The temporary file already exists, empty, when the block starts (writers that
    overwrite a path are fine; one that insists on creating the file is not). Missing
    parent folders are created. When the block ends normally the file is flushed to
    disk, given the permissions of the file it replaces (if any), renamed onto
    ``path``, and the folder is flushed too where the system allows it. When the block
    raises anything, KeyboardInterrupt included, the temporary file is removed and
    ``path`` is left untouched.

    Raises:
        OSError: the folder can't be created, ``path`` is a folder, or writing,
            flushing or renaming failed.
    """
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_dir():
        # Checked before any writing: the rename would fail only after all the work.
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(destination))
    temporary = _create_temporary_beside(destination)
    try:
        yield temporary
        _flush_file(temporary)
        with contextlib.suppress(FileNotFoundError):
            # Keep the permissions someone gave the file being replaced.
            shutil.copymode(destination, temporary)
        os.replace(temporary, destination)
    except BaseException:
        # The error that brought us here is the one worth showing; failing to remove
        # the temporary file as well would only hide it.
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _flush_folder(destination.parent)


def write_bytes_atomically(
    path: str | os.PathLike[str], data: bytes | bytearray | memoryview
) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_destination`; returns the path."""
    destination = Path(path)
    with atomic_destination(destination) as temporary:
        temporary.write_bytes(data)
    return destination


def write_text_atomically(
    path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8"
) -> Path:
    """Write ``text`` to ``path`` through :func:`atomic_destination`; returns the path.

    Line endings are written as they are in ``text`` (``\\n`` stays ``\\n`` on Windows
    too), so a file reads the same wherever it was written.
    """
    return write_bytes_atomically(path, text.encode(encoding))


def copy_file_atomically(
    source: str | os.PathLike[str], destination: str | os.PathLike[str]
) -> Path:
    """Copy the contents of ``source`` to ``destination`` through :func:`atomic_destination`.

    Returns the destination. Only the contents are copied: the new file keeps the
    permissions of the one it replaces, or gets the usual ones for a new file.
    """
    target = Path(destination)
    with atomic_destination(target) as temporary:
        shutil.copyfile(source, temporary)
    return target


def _create_temporary_beside(destination: Path) -> Path:
    temporary = destination.with_name(
        f".{destination.name}.{secrets.token_hex(4)}.tmp{destination.suffix}"
    )
    # Created here rather than with mkstemp, whose 0600 mode would end up on the
    # finished file; 0666 lets the umask give it the usual permissions. O_EXCL makes
    # sure no other writer holds the same name.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(descriptor)
    return temporary


def _flush_file(path: Path) -> None:
    """fsync, so that a power cut after the rename can't leave a renamed but empty file."""
    # Windows flushes only through a descriptor open for writing.
    descriptor = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _flush_folder(folder: Path) -> None:
    """fsync the folder, so the rename itself survives a power cut.

    Best effort: the file is already in place, and some systems (Windows, some network
    file systems) can't open or flush a folder.
    """
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
