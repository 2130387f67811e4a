"""Song sources: files, folders, direct links and pages, served by a local HTTP server."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from urvc_core.audio import save_audio
from urvc_core.cache import StepCache
from urvc_core.errors import AudioFileError, OfflineError, UrvcError
from urvc_core.sources import is_url, resolve_source, resolve_sources
from urvc_core.testing import centre_panned_speech_mix
from urvc_core.testing.file_server import serve_folder


@pytest.fixture(scope="module")
def song_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("songs")
    return save_audio(centre_panned_speech_mix(44100).mixture, folder / "My Song.wav")


@pytest.fixture
def site(tmp_path: Path, song_file: Path) -> Iterator[tuple[str, Path]]:
    """A web server on 127.0.0.1 serving the song and a page that plays it."""
    root = tmp_path / "site"
    root.mkdir()
    shutil.copy(song_file, root / "track.wav")
    (root / "page.html").write_text(
        "<html><head><title>Live at the Test Bench</title></head>"
        '<body><audio controls src="track.wav"></audio></body></html>'
    )
    with serve_folder(root) as url:
        yield url, root


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_is_identified_by_its_content(tmp_path: Path, song_file: Path) -> None:
    copy = tmp_path / "renamed.wav"
    shutil.copy(song_file, copy)
    first, second = resolve_source(song_file), resolve_source(str(copy))
    assert first.sha256 == second.sha256 == _sha256(song_file)
    assert (first.name, first.kind, second.name) == ("My Song", "file", "renamed")


def test_a_folder_is_a_batch_of_its_audio_files(tmp_path: Path, song_file: Path) -> None:
    for name in ("b.wav", "a.flac", ".hidden.wav", "notes.txt"):
        shutil.copy(song_file, tmp_path / name)
    sources = resolve_sources([tmp_path])
    assert [s.path.name for s in sources] == ["a.flac", "b.wav"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AudioFileError, match="holds no audio files"):
        resolve_sources([empty])
    with pytest.raises(AudioFileError, match="does not exist"):
        resolve_sources([tmp_path / "missing.mp3"])


def test_is_url() -> None:
    assert is_url("https://example.com/a.mp3") and is_url("http://127.0.0.1:8000/x")
    assert not is_url("song.mp3") and not is_url("C:/music/song.mp3") and not is_url(Path("a"))


def test_a_direct_link_is_downloaded_once_into_the_cache(site: tuple[str, Path]) -> None:
    url, root = site
    source = resolve_source(f"{url}/track.wav")
    assert source.kind == "link" and source.name == "track"
    assert source.sha256 == _sha256(root / "track.wav")
    assert source.path.read_bytes() == (root / "track.wav").read_bytes()
    assert StepCache().entries()[0].step == "source"
    (root / "track.wav").unlink()  # the server can no longer give it: the cache must
    again = resolve_source(f"{url}/track.wav")
    assert again.path == source.path and again.sha256 == source.sha256


def test_a_missing_link_is_one_clear_error(site: tuple[str, Path]) -> None:
    url, _ = site
    with pytest.raises(UrvcError, match="HTTP 404"):
        resolve_source(f"{url}/nothing.mp3")
    assert StepCache().entries() == []


def test_a_page_is_fetched_with_yt_dlp(site: tuple[str, Path], song_file: Path) -> None:
    url, _ = site
    source = resolve_source(f"{url}/page.html")
    assert source.kind == "page"
    assert source.name.startswith("Live at the Test Bench")
    assert source.sha256 == _sha256(song_file)
    assert resolve_source(f"{url}/page.html").path == source.path


def test_offline_means_no_download(site: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = site
    monkeypatch.setenv("URVC_OFFLINE", "1")
    with pytest.raises(OfflineError, match="URVC_OFFLINE"):
        resolve_source(f"{url}/track.wav")
    with pytest.raises(OfflineError, match="URVC_OFFLINE"):
        resolve_source(f"{url}/page.html")


def test_a_bot_check_points_at_cookies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import yt_dlp

    def refuse(self: object, url: str, download: bool = True) -> None:
        raise yt_dlp.utils.DownloadError(
            "ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you’re not a bot. Use "
            "--cookies-from-browser or --cookies for the authentication."
        )

    monkeypatch.setattr(yt_dlp.YoutubeDL, "extract_info", refuse)
    with pytest.raises(UrvcError) as caught:
        resolve_source("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    message = str(caught.value)
    assert "not a bot" in message and "--cookies FILE" in message and "\n" not in message
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    with pytest.raises(UrvcError, match="still asks"):
        resolve_source("https://www.youtube.com/watch?v=dQw4w9WgXcQ", cookies=cookies)
    with pytest.raises(UrvcError, match=r"cookies file .* does not exist"):
        resolve_source("https://www.youtube.com/watch?v=x", cookies=tmp_path / "nope.txt")
