"""The asset store against a real HTTP server on 127.0.0.1.

The server is the standard library's, with a handler whose misbehaviour each test
chooses (cut the connection, ignore Range, stall, answer 404...), so every download
below goes through real sockets and real urllib code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from urvc_core.assets import Asset, AssetStore, safe_extract_tar, safe_extract_zip, sha256_of
from urvc_core.errors import AssetError, ChecksumMismatchError, ConfigError, OfflineError

PAYLOAD = os.urandom(200_000)
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
REPO_ROOT = Path(__file__).resolve().parents[1]


# -- the test server ------------------------------------------------------------------


@dataclass
class Route:
    """What the server sends for one path, and how badly it behaves."""

    body: bytes
    status: int = 200
    honour_range: bool = True
    cut_after: int | None = None  # close the connection after this many body bytes
    stall_after: int | None = None  # send this many body bytes, then go silent
    delay_before_headers: float = 0.0
    seconds_per_chunk: float = 0.0  # pace the body (16 KiB chunks) to make it slow
    finished_at: list[float] = field(default_factory=list)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


class FileServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        # Set at teardown so that handlers stalling on purpose return at once.
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # keep pytest's output clean

            def do_GET(self) -> None:
                server.requests.append(SeenRequest(self.path, dict(self.headers.items())))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if route.delay_before_headers and server.stop.wait(route.delay_before_headers):
                    return
                if route.status != 200:
                    self.send_error(route.status)
                    return
                body, status, extra_headers = route.body, 200, {}
                range_header = self.headers.get("Range")
                if range_header and route.honour_range:
                    start = int(re.fullmatch(r"bytes=(\d+)-", range_header).group(1))  # type: ignore[union-attr]
                    if start >= len(route.body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(route.body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    body, status = route.body[start:], 206
                    extra_headers["Content-Range"] = (
                        f"bytes {start}-{len(route.body) - 1}/{len(route.body)}"
                    )
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self._send_body(route, body)

            def _send_body(self, route: Route, body: bytes) -> None:
                if route.cut_after is not None:
                    # Returning closes the socket (HTTP/1.0): the client gets EOF early.
                    self.wfile.write(body[: route.cut_after])
                    return
                if route.stall_after is not None:
                    self.wfile.write(body[: route.stall_after])
                    self.wfile.flush()
                    server.stop.wait(30)
                    return
                if route.seconds_per_chunk:
                    for start in range(0, len(body), 16_384):
                        if start:
                            time.sleep(route.seconds_per_chunk)
                        self.wfile.write(body[start : start + 16_384])
                        self.wfile.flush()
                else:
                    self.wfile.write(body)
                route.finished_at.append(time.time())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def serve(self, path: str, body: bytes = PAYLOAD, **behaviour: Any) -> str:
        self.routes[path] = Route(body, **behaviour)
        return self.url(path)

    def requests_for(self, path: str) -> list[SeenRequest]:
        return [request for request in self.requests if request.path == path]


@pytest.fixture
def server() -> Iterator[FileServer]:
    file_server = FileServer()
    file_server.thread.start()
    yield file_server
    file_server.stop.set()
    file_server.httpd.shutdown()
    file_server.httpd.server_close()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AssetStore:
    # The developer's own environment must not turn these tests offline.
    monkeypatch.delenv("URVC_OFFLINE", raising=False)
    monkeypatch.delenv("URVC_DOWNLOAD_TIMEOUT", raising=False)
    return AssetStore(tmp_path / "assets", timeout=5)


def make_zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def all_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


# -- downloads ------------------------------------------------------------------------


def test_fetch_downloads_verifies_and_moves_into_place(
    server: FileServer, store: AssetStore
) -> None:
    asset = Asset("rmvpe", server.serve("/rmvpe.pt"), "rmvpe/rmvpe.pt", sha256=PAYLOAD_SHA256)

    assert not store.is_present(asset)
    path = store.fetch(asset, progress=False)

    assert path == store.root / "rmvpe" / "rmvpe.pt"
    assert path.read_bytes() == PAYLOAD
    assert store.is_present(asset)
    assert not path.with_name("rmvpe.pt.part").exists()
    # A second fetch finds the file and opens no connection.
    assert store.fetch(asset, progress=False) == path
    assert len(server.requests) == 1


def test_interrupted_download_resumes_with_a_range_request(
    server: FileServer, store: AssetStore
) -> None:
    url = server.serve("/model.pth", cut_after=80_000)
    asset = Asset("model", url, "model.pth", sha256=PAYLOAD_SHA256)
    destination = store.root / "model.pth"
    part = store.root / "model.pth.part"

    with pytest.raises(AssetError) as failure:
        store.fetch(asset, progress=False)
    message = str(failure.value)
    assert "interrupted" in message
    assert "run the command again to resume" in message
    assert url in message and "80000 of 200000 bytes" in message
    assert "\n" not in message
    assert part.read_bytes() == PAYLOAD[:80_000]
    assert not destination.exists()

    server.routes["/model.pth"].cut_after = None
    assert store.fetch(asset, progress=False) == destination

    second_request = server.requests_for("/model.pth")[1]
    assert second_request.headers.get("Range") == "bytes=80000-"
    assert destination.read_bytes() == PAYLOAD
    assert not part.exists()


def test_server_ignoring_range_restarts_from_zero(server: FileServer, store: AssetStore) -> None:
    url = server.serve("/model.pth", honour_range=False, cut_after=50_000)
    destination = store.root / "model.pth"

    with pytest.raises(AssetError, match="interrupted"):
        store.download(url, destination, progress=False)
    server.routes["/model.pth"].cut_after = None
    store.download(url, destination, sha256=PAYLOAD_SHA256, progress=False)

    # We asked to resume, the server sent the whole file with 200, and the 50 000
    # bytes already on disk were not kept in front of it.
    assert server.requests_for("/model.pth")[1].headers.get("Range") == "bytes=50000-"
    assert destination.read_bytes() == PAYLOAD
    assert not destination.with_name("model.pth.part").exists()


def test_complete_part_file_is_finished_without_downloading_again(
    server: FileServer, store: AssetStore
) -> None:
    # A run killed after the last byte but before the final move left a whole .part.
    url = server.serve("/model.pth")
    destination = store.root / "model.pth"
    destination.parent.mkdir(parents=True)
    destination.with_name("model.pth.part").write_bytes(PAYLOAD)

    store.download(url, destination, sha256=PAYLOAD_SHA256, progress=False)

    assert destination.read_bytes() == PAYLOAD
    assert server.requests_for("/model.pth")[0].headers.get("Range") == "bytes=200000-"


def test_wrong_checksum_deletes_the_download(server: FileServer, store: AssetStore) -> None:
    url = server.serve("/model.pth")
    wrong = "0" * 64
    asset = Asset("model", url, "model.pth", sha256=wrong)

    with pytest.raises(ChecksumMismatchError) as failure:
        store.fetch(asset, progress=False)

    message = str(failure.value)
    assert "model.pth" in message
    assert wrong in message
    assert PAYLOAD_SHA256 in message
    assert url in message
    assert not (store.root / "model.pth").exists()
    assert not (store.root / "model.pth.part").exists()


def test_http_404_is_a_clear_error(server: FileServer, store: AssetStore) -> None:
    url = server.url("/missing.pt")

    with pytest.raises(AssetError) as failure:
        store.download(url, store.root / "missing.pt", progress=False)

    message = str(failure.value)
    assert "HTTP 404" in message and url in message
    assert failure.value.__cause__ is not None  # raised from urllib's error
    assert not (store.root / "missing.pt").exists()
    assert not (store.root / "missing.pt.part").exists()


def test_http_server_error_names_status_and_url(server: FileServer, store: AssetStore) -> None:
    url = server.serve("/busy.pt", status=503)

    with pytest.raises(AssetError, match=r"HTTP 503 .*try again later") as failure:
        store.download(url, store.root / "busy.pt", progress=False)
    assert url in str(failure.value)


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ({"delay_before_headers": 10.0}, r"no data from 127\.0\.0\.1:\d+ for 0\.3 s"),
        ({"stall_after": 1_000}, r"interrupted \(no data for 0\.3 s\) after 1000 of 200000"),
    ],
    ids=["before-headers", "mid-body"],
)
def test_silent_server_times_out_quickly(
    server: FileServer, tmp_path: Path, behaviour: dict[str, Any], expected: str
) -> None:
    store = AssetStore(tmp_path / "assets", offline=False, timeout=0.3)
    url = server.serve("/slow.pt", **behaviour)

    started = time.monotonic()
    with pytest.raises(AssetError, match=expected):
        store.download(url, tmp_path / "assets" / "slow.pt", progress=False)

    assert time.monotonic() - started < 2
    assert not (tmp_path / "assets" / "slow.pt").exists()


def test_connection_refused(store: AssetStore) -> None:
    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/model.pth"

    with pytest.raises(AssetError, match="refused") as failure:
        store.download(url, store.root / "model.pth", progress=False)

    assert url in str(failure.value)
    assert isinstance(failure.value.__cause__, OSError)


def test_only_http_urls_are_downloaded(store: AssetStore, tmp_path: Path) -> None:
    source = tmp_path / "local.bin"
    source.write_bytes(b"data")

    with pytest.raises(AssetError, match="only http"):
        store.download(source.as_uri(), tmp_path / "copy.bin", progress=False)


def test_disk_write_error_keeps_the_part_for_resuming(server: FileServer, tmp_path: Path) -> None:
    pytest.importorskip("resource", reason="needs RLIMIT_FSIZE (POSIX)")
    url = server.serve("/model.pth")
    destination = tmp_path / "model.pth"
    # A file-size limit makes writes past 64 KiB fail with EFBIG, like a full disk;
    # it runs in a child process so the limit does not touch the test run itself.
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        from urvc_core.assets import AssetStore
        from urvc_core.errors import AssetError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
        try:
            AssetStore(Path({str(tmp_path)!r}), offline=False, timeout=5).download(
                {url!r}, Path({str(destination)!r}), progress=False)
        except AssetError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=20
    )

    assert child.returncode == 3, child.stderr
    assert child.stdout.startswith(f"could not write {destination}.part:")
    assert "run the command again" in child.stdout
    assert not destination.exists()
    assert destination.with_name("model.pth.part").read_bytes() == PAYLOAD[:65536]


# -- offline mode and overrides -------------------------------------------------------


def test_offline_names_url_and_path_and_opens_no_connection(
    server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URVC_OFFLINE", "1")
    store = AssetStore(tmp_path / "assets")
    url = server.serve("/rmvpe.pt")
    asset = Asset("rmvpe", url, "rmvpe/rmvpe.pt")

    with pytest.raises(OfflineError) as failure:
        store.fetch(asset, progress=False)
    message = str(failure.value)
    assert url in message
    assert str(tmp_path / "assets" / "rmvpe" / "rmvpe.pt") in message
    assert "\n" not in message

    with pytest.raises(OfflineError, match=re.escape(url)):
        store.download(url, tmp_path / "direct.pt", progress=False)

    assert server.requests == []
    assert not (tmp_path / "assets").exists()


def test_offline_store_returns_files_already_present(tmp_path: Path) -> None:
    store = AssetStore(tmp_path, offline=True)
    (tmp_path / "rmvpe.pt").write_bytes(b"weights")
    asset = Asset("rmvpe", "http://127.0.0.1:9/rmvpe.pt", "rmvpe.pt")

    assert store.fetch(asset) == tmp_path / "rmvpe.pt"


def test_override_is_used_instead_of_downloading(server: FileServer, tmp_path: Path) -> None:
    own_copy = tmp_path / "my-models" / "rmvpe.pt"
    own_copy.parent.mkdir()
    own_copy.write_bytes(b"my weights")
    store = AssetStore(tmp_path / "assets", {"rmvpe": own_copy}, offline=False)
    asset = Asset("rmvpe", server.serve("/rmvpe.pt"), "rmvpe/rmvpe.pt")

    assert store.path_for(asset) == own_copy
    assert store.is_present(asset)
    assert store.fetch(asset, progress=False) == own_copy
    assert server.requests == []
    assert not (tmp_path / "assets").exists()


def test_missing_override_is_an_error_naming_it(server: FileServer, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "rmvpe.pt"
    store = AssetStore(tmp_path / "assets", {"rmvpe": missing}, offline=False)
    asset = Asset("rmvpe", server.serve("/rmvpe.pt"), "rmvpe/rmvpe.pt")

    assert not store.is_present(asset)
    with pytest.raises(AssetError, match=re.escape(str(missing))):
        store.fetch(asset, progress=False)
    assert server.requests == []


def test_environment_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URVC_OFFLINE", "true")
    monkeypatch.setenv("URVC_DOWNLOAD_TIMEOUT", "2.5")
    store = AssetStore(tmp_path)
    assert store.offline is True
    assert store.timeout == 2.5

    monkeypatch.setenv("URVC_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="URVC_DOWNLOAD_TIMEOUT"):
        AssetStore(tmp_path)
    monkeypatch.delenv("URVC_DOWNLOAD_TIMEOUT")
    monkeypatch.setenv("URVC_OFFLINE", "perhaps")
    with pytest.raises(ConfigError, match="URVC_OFFLINE"):
        AssetStore(tmp_path)


@pytest.mark.parametrize("filename", ["../outside.pt", "/etc/outside.pt", ""])
def test_asset_filename_cannot_leave_the_store(tmp_path: Path, filename: str) -> None:
    store = AssetStore(tmp_path / "assets", offline=False)
    with pytest.raises(AssetError, match="unusable filename"):
        store.path_for(Asset("bad", "http://127.0.0.1:9/x", filename))


def test_asset_as_dict() -> None:
    asset = Asset("rmvpe", "https://example.org/rmvpe.pt", "rmvpe/rmvpe.pt", size=10)
    assert json.loads(json.dumps(asset.as_dict())) == {
        "name": "rmvpe",
        "url": "https://example.org/rmvpe.pt",
        "filename": "rmvpe/rmvpe.pt",
        "sha256": None,
        "size": 10,
        "description": "",
        "extract": False,
        "packaged_in": None,
    }


# -- zip archives ---------------------------------------------------------------------


def test_zip_asset_is_downloaded_and_unpacked(server: FileServer, store: AssetStore) -> None:
    archive = make_zip([("config.json", b"{}"), ("weights/model.bin", PAYLOAD)])
    url = server.serve("/contentvec.zip", archive)
    asset = Asset(
        "contentvec", url, "contentvec", sha256=hashlib.sha256(archive).hexdigest(), extract=True
    )

    folder = store.fetch(asset, progress=False)

    assert folder == store.root / "contentvec"
    assert (folder / "config.json").read_bytes() == b"{}"
    assert (folder / "weights" / "model.bin").read_bytes() == PAYLOAD
    assert store.is_present(asset)
    # Only the unpacked folder and its lock are left: no archive, no staging folder.
    assert sorted(p.name for p in store.root.iterdir() if not p.name.endswith(".lock")) == [
        "contentvec"
    ]


def test_safe_extract_zip_returns_the_files_written(tmp_path: Path) -> None:
    archive = tmp_path / "good.zip"
    archive.write_bytes(make_zip([("a.txt", b"A"), ("sub/", b""), ("sub/b.txt", b"B")]))

    written = safe_extract_zip(archive, tmp_path / "out")

    assert written == [tmp_path / "out" / "a.txt", tmp_path / "out" / "sub" / "b.txt"]
    assert [p.read_bytes() for p in written] == [b"A", b"B"]


BAD_ENTRIES = {
    "dot-dot": ("../evil.txt", "'..'"),
    "nested-dot-dot": ("sub/../../evil.txt", "'..'"),
    "absolute": ("/tmp/urvc-evil.txt", "absolute path"),
    "windows-absolute": ("C:/evil.txt", "absolute path"),
    "symlink": (symlink_entry("link"), "symbolic link"),
}


@pytest.mark.parametrize("entry", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_hostile_zip_is_rejected_before_anything_is_written(
    tmp_path: Path, entry: tuple[zipfile.ZipInfo | str, str]
) -> None:
    name, problem = entry
    archive = tmp_path / "hostile.zip"
    # A harmless entry comes first, so a check made while unpacking would be too late.
    archive.write_bytes(make_zip([("good.txt", b"fine"), (name, b"evil")]))
    before = all_files(tmp_path)
    entry_name = name.filename if isinstance(name, zipfile.ZipInfo) else name

    with pytest.raises(AssetError) as failure:
        safe_extract_zip(archive, tmp_path / "out" / "folder")

    message = str(failure.value)
    assert f"'{entry_name}'" in message and problem in message and str(archive) in message
    assert all_files(tmp_path) == before
    assert not (tmp_path / "out" / "folder").exists()
    assert not Path("/tmp/urvc-evil.txt").exists()


def test_hostile_zip_asset_leaves_nothing_behind(server: FileServer, store: AssetStore) -> None:
    url = server.serve("/evil.zip", make_zip([("good.txt", b"fine"), ("../evil.txt", b"x")]))
    asset = Asset("evil", url, "models/evil", extract=True)

    with pytest.raises(AssetError, match=r"entry '\.\./evil\.txt'"):
        store.fetch(asset, progress=False)

    assert [p.name for p in all_files(store.root) if not p.name.endswith(".lock")] == []
    assert not (store.root / "evil.txt").exists()


def test_file_that_is_not_a_zip_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "page.zip"
    archive.write_text("<html>Sign in to download</html>")

    with pytest.raises(AssetError, match="is not a zip archive"):
        safe_extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- concurrency ----------------------------------------------------------------------


def test_two_threads_fetching_one_asset_download_it_once(
    server: FileServer, tmp_path: Path
) -> None:
    # About 0.4 s of body, so the second fetch starts while the first is downloading.
    url = server.serve("/rmvpe.pt", seconds_per_chunk=0.03)
    asset = Asset("rmvpe", url, "rmvpe.pt", sha256=PAYLOAD_SHA256)
    start_together = threading.Barrier(2)
    results: list[Path | BaseException] = []

    def fetch() -> None:
        store = AssetStore(tmp_path, offline=False, timeout=5)
        start_together.wait()
        try:
            results.append(store.fetch(asset, progress=False))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert results == [tmp_path / "rmvpe.pt"] * 2
    assert len(server.requests_for("/rmvpe.pt")) == 1
    assert (tmp_path / "rmvpe.pt").read_bytes() == PAYLOAD


def test_two_processes_fetching_one_asset_download_it_once(
    server: FileServer, tmp_path: Path
) -> None:
    # About 1.2 s of body: long enough for both processes to start before it ends.
    url = server.serve("/rmvpe.pt", seconds_per_chunk=0.1)
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from urvc_core.assets import Asset, AssetStore
        store = AssetStore(Path({str(tmp_path)!r}), offline=False, timeout=5)
        asset = Asset("rmvpe", {url!r}, "rmvpe.pt", sha256={PAYLOAD_SHA256!r})
        print(time.time(), flush=True)
        print(store.fetch(asset, progress=False))
        """
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=20) for child in children]

    assert [child.returncode for child in children] == [0, 0], outputs
    started_at = [float(stdout.split()[0]) for stdout, _ in outputs]
    assert [stdout.split()[1] for stdout, _ in outputs] == [str(tmp_path / "rmvpe.pt")] * 2
    assert len(server.requests_for("/rmvpe.pt")) == 1
    # Both were running before the one download ended, so the lock did the work.
    finished_at = server.routes["/rmvpe.pt"].finished_at
    deadline = time.monotonic() + 2
    while not finished_at and time.monotonic() < deadline:
        time.sleep(0.01)  # the handler thread notes the time just after its last write
    assert max(started_at) < finished_at[0]
    assert (tmp_path / "rmvpe.pt").read_bytes() == PAYLOAD
    assert sha256_of(tmp_path / "rmvpe.pt") == PAYLOAD_SHA256


# -- tar archives (spleeter publishes its models as .tar.gz) ----------------------------


def make_tar_gz(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                archive.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_tar_gz_asset_is_downloaded_and_unpacked(server: FileServer, store: AssetStore) -> None:
    # The layout of spleeter's 2stems.tar.gz: a checkpoint at the archive's top level.
    archive = make_tar_gz(
        [("checkpoint", b"model_checkpoint_path: \"model\"\n"), ("model.index", b"index")]
    )
    url = server.serve("/releases/2stems.tar.gz", archive)
    asset = Asset("2stems", url, "spleeter/2stems", hashlib.sha256(archive).hexdigest(), extract=True)

    folder = store.fetch(asset, progress=False)

    assert folder == store.root / "spleeter" / "2stems"
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint", "model.index"]
    assert (folder / "model.index").read_bytes() == b"index"
    assert [p.name for p in all_files(store.root) if not p.name.endswith(".lock")] == [
        "checkpoint",
        "model.index",
    ]  # the archive itself is gone


def _symlink_to_passwd() -> tarfile.TarInfo:
    info = tarfile.TarInfo("link")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    return info


BAD_TAR_ENTRIES = {
    "dot-dot": (("../evil.txt", b"evil"), "'..'"),
    "absolute": (("/tmp/urvc-evil.txt", b"evil"), "absolute path"),
    "symlink": (_symlink_to_passwd(), "is a link, a device or a pipe"),
}


@pytest.mark.parametrize("entry", BAD_TAR_ENTRIES.values(), ids=BAD_TAR_ENTRIES.keys())
def test_hostile_tar_is_rejected_before_anything_is_written(
    tmp_path: Path, entry: tuple[tarfile.TarInfo | tuple[str, bytes], str]
) -> None:
    bad, problem = entry
    archive = tmp_path / "hostile.tar.gz"
    archive.write_bytes(make_tar_gz([("good.txt", b"fine"), bad]))
    before = all_files(tmp_path)

    with pytest.raises(AssetError) as failure:
        safe_extract_tar(archive, tmp_path / "out" / "folder")

    assert problem in str(failure.value) and str(archive) in str(failure.value)
    assert all_files(tmp_path) == before
    assert not (tmp_path / "out").exists()
    assert not Path("/tmp/urvc-evil.txt").exists()


def test_file_that_is_not_a_tar_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "page.tar.gz"
    archive.write_text("<html>Sign in to download</html>")

    with pytest.raises(AssetError, match="is not a tar archive"):
        safe_extract_tar(archive, tmp_path / "out")
