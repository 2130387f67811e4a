"""Where a song comes from: a local file, a folder of them, or a URL.

* A **file** is used where it lies.
* A **folder** is a batch: every audio file directly inside it, by name.
* A **URL** ending in an audio file name (``.mp3``, ``.wav``, ``.flac``...) is a direct
  link, downloaded through the asset store (the one place urvc downloads files: resumed,
  offline-aware, with clear errors). Any other URL is a page for
  `yt-dlp <https://github.com/yt-dlp/yt-dlp>`_ (YouTube, SoundCloud, Bandcamp, and any
  page with an ``<audio>`` element), which fetches the best audio-only stream. Sites
  that ask to "sign in to confirm you're not a bot" need the browser's cookies:
  ``--cookies cookies.txt`` (a Netscape-format export of them).

A downloaded song lands in the step cache (``urvc cache list`` shows it as a ``source``
entry), so the same URL given again needs no network. Whatever its origin, a song is
identified by the sha256 of its content: the same song from two paths or two URLs
finds the same cached steps.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from urvc_core.errors import AudioFileError, OfflineError, UrvcError

__all__ = [
    "AUDIO_SUFFIXES",
    "Source",
    "is_url",
    "resolve_source",
    "resolve_sources",
]

#: Files a folder source contributes; anything ffmpeg decodes is read, these are the
#: suffixes that mean "audio" (or a video whose audio track is wanted).
AUDIO_SUFFIXES: tuple[str, ...] = (
    "wav",
    "flac",
    "mp3",
    "ogg",
    "oga",
    "opus",
    "m4a",
    "aac",
    "wma",
    "aif",
    "aiff",
    "webm",
    "mka",
    "mp4",
    "mkv",
)

#: Phrases a site uses when it wants a logged-in browser before it serves media.
_BOT_CHECK = re.compile(r"sign in to confirm|not a bot|confirm you.re not a bot", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    """A song ready for the pipeline: a local file, its name and its content hash."""

    #: The local file holding the song (the user's, or a download in the cache).
    path: Path
    #: What the song is called: the file's stem, or the page's title.
    name: str
    #: sha256 of the file's content: what identifies the song in the cache.
    sha256: str
    #: What the user gave: a path or a URL.
    origin: str
    #: "file", "link" (a direct download) or "page" (through yt-dlp).
    kind: str
    #: For a URL: the key of its download in the step cache, and whether it was there.
    cache_key: str | None = None
    cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": self.name,
            "sha256": self.sha256,
            "origin": self.origin,
            "kind": self.kind,
        }


def is_url(text: str | Path) -> bool:
    """Whether ``text`` is an http(s) URL rather than a path."""
    if isinstance(text, Path):
        return False
    parts = urllib.parse.urlsplit(str(text))
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def resolve_sources(
    specs: Sequence[str | Path],
    *,
    cookies: str | Path | None = None,
    progress: bool = False,
) -> list[Source]:
    """Every song named by ``specs``: files, the audio files in folders, and URLs.

    Raises:
        AudioFileError: a path that does not exist, or a folder without audio files.
        UrvcError: a URL that can't be downloaded (the message says why and what to do).
    """
    if not specs:
        raise UrvcError("No songs given; name an audio file, a folder of them, or a URL.")
    sources: list[Source] = []
    for spec in specs:
        if not is_url(spec) and Path(spec).expanduser().is_dir():
            folder = Path(spec).expanduser()
            files = sorted(
                (
                    p
                    for p in folder.iterdir()
                    if p.is_file()
                    and not p.name.startswith(".")
                    and p.suffix.lower().lstrip(".") in AUDIO_SUFFIXES
                ),
                key=lambda p: p.name.casefold(),
            )
            if not files:
                raise AudioFileError(
                    f"The folder {folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)}); "
                    f"name a file, or a folder with songs in it."
                )
            sources.extend(resolve_source(path) for path in files)
        else:
            sources.append(resolve_source(spec, cookies=cookies, progress=progress))
    return sources


def resolve_source(
    spec: str | Path, *, cookies: str | Path | None = None, progress: bool = False
) -> Source:
    """One song: a local file, or a URL downloaded (or found in the cache)."""
    if is_url(spec):
        return _url_source(str(spec), cookies=cookies, progress=progress)
    path = Path(spec).expanduser()
    if not path.exists():
        raise AudioFileError(f"{path} does not exist; check the path and its spelling.")
    if path.is_dir():
        raise AudioFileError(f"{path} is a folder; give it as a batch, or name a file in it.")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path} is empty (0 bytes); re-export or re-download it.")
    from urvc_core.cache import file_digest

    return Source(
        path=path, name=path.stem, sha256=file_digest(path), origin=str(spec), kind="file"
    )


# -- URLs -------------------------------------------------------------------------------


def _is_direct_link(url: str) -> bool:
    suffix = PurePosixPath(urllib.parse.urlsplit(url).path).suffix.lower().lstrip(".")
    return suffix in AUDIO_SUFFIXES


def _url_source(url: str, *, cookies: str | Path | None, progress: bool) -> Source:
    from urvc_core.cache import StepCache, step_key

    direct = _is_direct_link(url)
    cookie_file = _check_cookies(cookies) if cookies is not None and not direct else None
    backend, version = ("asset-store", _urvc_version()) if direct else ("yt-dlp", _ytdlp_version())
    # Only the URL identifies the download, so the same URL later needs no network: not
    # the downloader's version (a new yt-dlp fetches the same song) and not the cookies
    # (they change who asks, not what comes back).
    parameters = {"url": url}
    key = step_key("source", "url", "1", parameters, {})
    cache = StepCache()

    def download(staging: Path) -> Any:
        from urvc_core.cache import StepResult

        if direct:
            path = _download_link(url, staging, progress=progress)
            title = _name_from_url(url)
        else:
            path, title = _download_page(url, staging, cookie_file, progress=progress)
        return StepResult(files={"song": path}, extra={"title": title, "url": url})

    entry, hit = cache.get_or_compute(
        key,
        download,
        step="source",
        backend=backend,
        version=version,
        parameters=parameters,
        inputs={},
    )
    title = str(entry.extra.get("title") or _name_from_url(url))
    return Source(
        path=entry.path("song"),
        name=_safe_name(title),
        sha256=entry.digest("song"),
        origin=url,
        kind="link" if direct else "page",
        cache_key=key,
        cached=hit,
    )


def _download_link(url: str, staging: Path, *, progress: bool) -> Path:
    from urvc_core.catalogue import asset_store

    file_name = _safe_name(PurePosixPath(urllib.parse.urlsplit(url).path).name) or "song"
    destination = staging / file_name
    return asset_store().download(url, destination, progress=progress, description=file_name)


def _download_page(
    url: str, staging: Path, cookies: Path | None, *, progress: bool
) -> tuple[Path, str]:
    from urvc_core.catalogue import asset_store

    if asset_store().offline:
        raise OfflineError(
            f"URVC_OFFLINE=1 is set, so urvc will not fetch {url}; download the song "
            f"yourself and give its file, or unset URVC_OFFLINE."
        )
    try:
        import yt_dlp
    except ImportError:
        raise UrvcError(
            f"Fetching songs from pages such as {url} needs yt-dlp: pip install yt-dlp "
            f"(or give a direct link to an audio file)."
        ) from None

    options: dict[str, Any] = {
        # Audio only: the best audio-only stream, or the best file if a site has none.
        "format": "bestaudio/best",
        "outtmpl": str(staging / "%(id).80B.%(ext)s"),
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": not progress,
        "logger": _QuietLogger(),
        "socket_timeout": _timeout(),
    }
    if cookies is not None:
        options["cookiefile"] = str(cookies)
    try:
        with yt_dlp.YoutubeDL(options) as downloader:
            info = downloader.extract_info(url, download=True)
    except yt_dlp.utils.DownloadError as exc:
        raise _page_error(url, str(exc), cookies) from exc
    except (OSError, ValueError) as exc:
        raise UrvcError(f"Could not fetch {url}: {exc}.") from exc
    if info is None:
        raise UrvcError(f"yt-dlp found no audio at {url}; check the URL.")
    if info.get("_type") == "playlist":
        entries = [e for e in info.get("entries") or [] if e]
        if not entries:
            raise UrvcError(f"{url} is a playlist with no playable entries.")
        info = entries[0]
    files = [
        Path(d["filepath"])
        for d in info.get("requested_downloads") or []
        if d.get("filepath") and Path(d["filepath"]).is_file()
    ]
    if not files:
        files = sorted(p for p in staging.iterdir() if p.is_file() and not p.name.endswith(".part"))
    if not files:
        raise UrvcError(f"yt-dlp reported success for {url} but wrote no file; try again.")
    title = str(info.get("title") or info.get("id") or _name_from_url(url))
    return files[0], title


def _page_error(url: str, message: str, cookies: Path | None) -> UrvcError:
    detail = " ".join(message.replace("ERROR: ", "").split())
    if _BOT_CHECK.search(detail):
        if cookies is not None:
            return UrvcError(
                f"{url}: the site still asks to sign in to confirm you're not a bot with the "
                f"cookies in {cookies}; export fresh cookies from a browser that is logged "
                f"in to the site and pass them with --cookies."
            )
        return UrvcError(
            f"{url}: the site asks to sign in to confirm you're not a bot; export the "
            f"cookies of a browser logged in to the site to a cookies.txt file (Netscape "
            f"format) and pass it with --cookies FILE."
        )
    detail = detail.split("; please report this issue")[0].rstrip(".")
    return UrvcError(f"Could not fetch the audio of {url}: {detail}.")


class _QuietLogger:
    """yt-dlp's messages go nowhere: its errors come back as exceptions, said once."""

    def debug(self, message: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        pass


def _check_cookies(cookies: str | Path) -> Path:
    path = Path(cookies).expanduser()
    if not path.is_file():
        raise UrvcError(
            f"The cookies file {path} does not exist; export your browser's cookies for "
            f"the site to a cookies.txt file (Netscape format) and give its path."
        )
    return path


def _timeout() -> float:
    from urvc_core.catalogue import asset_store

    return float(asset_store().timeout)


def _name_from_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    stem = PurePosixPath(urllib.parse.unquote(parts.path)).stem
    return stem or parts.netloc


def _safe_name(name: str) -> str:
    """A song name usable in a file name: no path separators or control characters."""
    cleaned = re.sub(r"[\x00-\x1f/\\:*?\"<>|]+", " ", name)
    cleaned = " ".join(cleaned.split()).strip(" .")
    return cleaned[:150] or "song"


def _urvc_version() -> str:
    from urvc_core.version import __version__

    return __version__


def _ytdlp_version() -> str:
    with contextlib.suppress(ImportError):
        from yt_dlp.version import __version__ as version

        return str(version)
    return "absent"
