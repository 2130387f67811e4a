"""Missing files come through urvc's asset store, never through audio-separator's requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from urvc_separator_mdx.cover_steps import separator_for

from urvc_core.testing.conformance import assert_audio_like, stereo_test_input


class LoopbackServer:
    """Serves files from memory on 127.0.0.1 and records the paths asked for."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requested: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requested.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    running = LoopbackServer()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def test_missing_model_is_downloaded_by_the_store_falling_back_on_404(
    server: LoopbackServer, model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests
    from urvc_separator_mdx import model_catalogue

    def no_requests(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"audio-separator tried to download {args}")

    monkeypatch.setattr(requests, "get", no_requests)
    model = model_folder / "tiny_centre_mdx.onnx"
    # UVR's release doesn't have the file (404); audio-separator's own release does,
    # which is the order audio-separator tries them in.
    server.files["/audio-separator/tiny_centre_mdx.onnx"] = model.read_bytes()
    model.unlink()
    monkeypatch.setattr(model_catalogue, "UVR_MODELS_URL", server.url("/uvr"))
    monkeypatch.setattr(
        model_catalogue, "AUDIO_SEPARATOR_MODELS_URL", server.url("/audio-separator")
    )

    mixture = stereo_test_input(44100, 2, 0.5)
    stems = separator_for("tiny_centre_mdx.onnx").separate(mixture)

    assert server.requested == [
        "/uvr/tiny_centre_mdx.onnx",
        "/audio-separator/tiny_centre_mdx.onnx",
    ]
    assert model.is_file()
    assert not list(model_folder.glob("*.part"))
    assert_audio_like(stems["Vocals"], mixture, "Vocals")


def test_missing_catalogue_is_fetched_as_a_declared_asset(
    server: LoopbackServer, model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from urvc_separator_mdx import model_catalogue

    checks = model_folder / "download_checks.json"
    server.files["/filelists/download_checks.json"] = checks.read_bytes()
    checks.unlink()
    asset = model_catalogue.CATALOGUE_ASSETS["download_checks.json"]
    monkeypatch.setitem(
        model_catalogue.CATALOGUE_ASSETS,
        "download_checks.json",
        replace(asset, url=server.url("/filelists/download_checks.json")),
    )
    model_catalogue.prepare_model_files("tiny_centre_mdx.onnx", model_catalogue.Family.MDX)
    assert server.requested == ["/filelists/download_checks.json"]
    assert checks.is_file()


def test_a_file_kept_elsewhere_is_linked_into_the_model_folder(
    model_folder: Path, tmp_path: Path, urvc_home: Path
) -> None:
    # [asset_paths] points a declared asset at the user's own copy; audio-separator
    # must still find it in its folder.
    from urvc_separator_mdx import model_catalogue

    own_copy = tmp_path / "my-models" / "download_checks.json"
    own_copy.parent.mkdir()
    (model_folder / "download_checks.json").rename(own_copy)
    (urvc_home / "config.toml").write_text(
        f'[asset_paths]\nuvr-download-checks = "{own_copy}"\n', encoding="utf-8"
    )
    model_catalogue.prepare_model_files("tiny_centre_mdx.onnx", model_catalogue.Family.MDX)
    linked = model_folder / "download_checks.json"
    assert linked.is_symlink() and linked.resolve() == own_copy.resolve()
