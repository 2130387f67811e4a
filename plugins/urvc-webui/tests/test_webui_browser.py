"""The web UI served by ``urvc web`` and driven in a real, headless Chromium.

One server for the module, started as a user would (``urvc web --port N`` in a child
process, URVC_OFFLINE=1, its own urvc home holding the demo's song, voice and embedder).
Screenshots of each tab are saved for review in pytest's cache folder
(``.pytest_cache/d/urvc-webui-screenshots``), which outlives a passing run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from urvc_core import Audio, save_audio
from urvc_core.audio import load_audio
from urvc_core.mixing import integrated_loudness
from urvc_core.testing.file_server import serve_folder

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs the system's Chromium (Debian: apt-get install chromium)"
)
URVC = str(Path(sys.executable).with_name("urvc"))
#: Uploads over this are refused; the demo song (10 s of 16-bit stereo WAV) is under it.
MAX_UPLOAD = "5mb"
#: The longest a cover of the 10 s demo song may take on a slow shared CPU.
COVER_TIMEOUT_MS = 240_000


@dataclass(frozen=True)
class Server:
    url: str
    home: Path
    process: subprocess.Popen[bytes]
    song: Path
    voice: str
    embedder: Path
    long_song: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on localhost serving a folder: its base URL and the folder."""
    served = tmp_path_factory.mktemp("served")
    with serve_folder(served) as url:
        yield url, served


#: The voice catalogue the server searches (its [asset_paths] voice-catalogue).
CATALOGUE_ROWS = [
    ("Aria Local", "aria.pth", "A calm test voice", "2024-01-02", ["Test", "English"]),
    ("Bram Local", "bram.pth", "A deep test voice", "2024-03-04", ["Test"]),
    ("Cleo Remote", "cleo.pth", "A bright test voice", "2024-05-06", ["Other"]),
]


def _write_catalogue(path: Path, base: str) -> Path:
    models = [
        {
            "name": name,
            "url": f"{base}/{file}",
            "description": text,
            "added": added,
            "credit": "tests",
            "tags": tags,
        }
        for name, file, text, added, tags in CATALOGUE_ROWS
    ]
    tags = {"Test": "Made by the tests", "English": "Speaks English", "Other": "Another"}
    path.write_text(json.dumps({"tags": tags, "voice_models": models}))
    return path


def _start_server(home: Path, port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """``urvc web`` on ``port`` (else a free one) over ``home``, as a user starts it;
    returned once it answers."""
    port = port or _free_port()
    log_name = "server.log"
    environment = {
        **os.environ,
        "URVC_HOME": str(home),
        "GRADIO_TEMP_DIR": str(home / "gradio-uploads"),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    # Online, so the Models tab can download (from the tests' local server only): every
    # asset a cover needs is already in the home.
    for variable in ("URVC_LOAD_PLUGINS", "URVC_OFFLINE"):
        environment.pop(variable, None)
    with (home / log_name).open("ab") as log:
        process = subprocess.Popen(
            [URVC, "web", "--port", str(port), "--max-file-size", MAX_UPLOAD],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"urvc web did not start:\n{(home / log_name).read_text()}")
        time.sleep(0.5)
    return url, process


def _stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    demo_voice_trained_once: Path,
    file_server: tuple[str, Path],
) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("webui-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("URVC_HOME", str(home))
        from urvc_core.demo import build_demo_assets, demo_voice_path
        from urvc_core.home import set_config_value
        from urvc_core.plugins import reset_plugin_host
        from urvc_core.voices import import_voice_model

        reset_plugin_host()
        voice_path = demo_voice_path()
        voice_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(demo_voice_trained_once, voice_path)
        assets = build_demo_assets(home / "demo")
        voice = import_voice_model(assets.model, name="demo-voice").name
        song = load_audio(assets.song)
        # A minute of the song: a job that is still running when Cancel is clicked.
        long_song = save_audio(
            Audio(np.tile(song.samples, 6), song.sample_rate), home / "demo" / "long-song.wav"
        )
        catalogue = _write_catalogue(home / "catalogue.json", file_server[0])
        set_config_value("asset_paths.voice-catalogue", str(catalogue))
        reset_plugin_host()
    url, process = _start_server(home)
    try:
        yield Server(url, home, process, assets.song, voice, assets.embedder, long_song)
    finally:
        _stop_server(process)
        print(f"\nurvc web's log: {home / 'server.log'}")


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Any]:
    opened = browser.new_page(viewport={"width": 1280, "height": 1000})
    opened.goto(server.url)
    opened.wait_for_selector("#generate")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def screenshots(pytestconfig: pytest.Config) -> Path:
    folder = pytestconfig.cache.mkdir("urvc-webui-screenshots")
    print(f"\nScreenshots of the web UI: {folder}")
    return Path(folder)


@pytest.fixture(autouse=True)
def server_home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests that read the server's files read them in the server's home."""
    if "server" in request.fixturenames:
        monkeypatch.setenv("URVC_HOME", str(request.getfixturevalue("server").home))


# -- helpers -----------------------------------------------------------------------------


def status_of(page: Page, elem_id: str, *, timeout_ms: int = 60_000) -> str:
    """The status text of ``elem_id`` once it is a result: not empty, 'Ready.', Gradio's
    progress or a running job's step."""
    status = page.locator(f"#{elem_id} [data-testid=markdown]")
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        text = str(status.inner_text()).strip()
        busy = not text or text == "Ready." or "processing" in text or "Running" in text
        if not busy:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"#{elem_id} still says {text!r} after {timeout_ms} ms")
        time.sleep(0.25)


def choose(page: Page, elem_id: str, value: str) -> None:
    """Pick ``value`` in the dropdown ``elem_id`` (or type it, where typing is allowed)."""
    field = page.locator(f"#{elem_id} input")
    field.click()
    field.fill(value)
    option = page.get_by_role("option", name=value, exact=True)
    if option.count():
        option.first.click()
    else:
        field.press("Enter")


def fill_cover_form(page: Page, server: Server, typed_song: Path | None = None) -> None:
    """The demo's cover: the song uploaded (or ``typed_song`` typed as a path), the
    demo's voice and embedder, centre separation and FCPE, as ``urvc demo`` makes it."""
    if typed_song is not None:
        page.locator("#song-path textarea, #song-path input").first.fill(str(typed_song))
    else:
        page.locator("#song-upload input[type=file]").set_input_files(str(server.song))
        page.wait_for_selector("#song-upload td.filename")
    choose(page, "voice", server.voice)
    page.locator("#embedder textarea, #embedder input").first.fill(str(server.embedder))
    choose(page, "f0-method", "fcpe")
    choose(page, "separation", "center")


def output_path(status: str) -> Path:
    assert status.startswith("Done"), status
    return Path(status.split("saved to ", 1)[1].strip().rstrip(".").strip("`"))


# -- tests -------------------------------------------------------------------------------


def test_every_tab_shows_and_is_screenshotted(page: Page, screenshots: Path) -> None:
    page.screenshot(path=str(screenshots / "generate.png"), full_page=True)
    for tab, shown in (("Models", "#voices"), ("Audio", "#cache"), ("Settings", "#save-settings")):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_selector(shown)
        page.screenshot(path=str(screenshots / f"{tab.lower()}.png"), full_page=True)
    assert "demo-voice" in page.locator("#voices").inner_text()
    assert len(list(screenshots.glob("*.png"))) >= 4


@pytest.mark.slow
def test_one_click_cover_plays_at_the_songs_length_and_loudness(
    page: Page, server: Server, screenshots: Path
) -> None:
    fill_cover_form(page, server)
    page.locator("#generate").click()
    status = status_of(page, "cover-status", timeout_ms=COVER_TIMEOUT_MS)
    page.screenshot(path=str(screenshots / "generate-done.png"), full_page=True)
    cover_file = output_path(status)
    assert cover_file.is_relative_to(server.home / "outputs")
    cover, song = load_audio(cover_file), load_audio(server.song)
    assert cover.duration == pytest.approx(10.0, abs=0.1)
    assert integrated_loudness(cover) == pytest.approx(integrated_loudness(song), abs=1.5)
    # The page's player has decoded it (its waveform is drawn) and plays it for 0:10.
    page.locator("#cover").get_by_text("0:10", exact=True).wait_for(timeout=30_000)
    # What the page plays is that file, served by the server.
    player = page.locator("#cover audio, #cover a[download]").first
    source = player.get_attribute("src") or player.get_attribute("href")
    assert source, "the cover's player has no source"
    response = page.request.get(source if "://" in source else server.url + source.lstrip("/"))
    assert response.ok
    assert response.body() == cover_file.read_bytes()

    # The Audio tab lists the steps the cover left in the cache.
    page.get_by_role("tab", name="Audio").click()
    page.locator("#refresh-cache").click()
    page.locator("#cache").get_by_text("convert", exact=True).first.wait_for(timeout=30_000)
    cache_table = page.locator("#cache").inner_text()
    assert "separate.vocals" in cache_table and "mix" in cache_table
    page.screenshot(path=str(screenshots / "audio-after-cover.png"), full_page=True)


@pytest.mark.slow
def test_cancel_stops_the_worker_and_the_next_job_runs(page: Page, server: Server) -> None:
    fill_cover_form(page, server, typed_song=server.long_song)
    page.locator("#generate").click()
    page.wait_for_function(
        "document.querySelector('#cover-status').innerText.includes('worker process')",
        timeout=60_000,
    )
    running = page.locator("#cover-status").inner_text()
    worker = int(running.split("worker process ", 1)[1].split(")")[0])
    assert Path(f"/proc/{worker}").exists()
    # Cancelled in the middle of the conversion of a minute of song (tens of seconds).
    page.wait_for_function(
        "document.querySelector('#cover-status').innerText.includes('Running: convert')",
        timeout=120_000,
    )
    time.sleep(1)
    page.locator("#cancel").click()
    status = status_of(page, "cover-status")
    assert status.startswith("Cancelled"), status
    deadline = time.monotonic() + 15
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{worker}").exists(), "the worker process is still there"
    # The cache holds no half-made step: every staging folder went with the worker.
    staging = server.home / "cache" / "steps" / ".staging"
    assert not staging.is_dir() or not any(staging.iterdir())

    page.reload()  # a fresh page: its status starts at 'Ready.' again
    page.wait_for_selector("#generate")
    fill_cover_form(page, server)
    page.locator("#generate").click()
    status = status_of(page, "cover-status", timeout_ms=COVER_TIMEOUT_MS)
    assert output_path(status).is_file()
    assert _answers(server.url)


def test_settings_survive_a_reload_and_are_in_config_toml(page: Page, server: Server) -> None:
    page.get_by_role("tab", name="Settings").click()
    rate = page.locator("#setting-convert-index-rate input[type=number]")
    rate.fill("0.55")
    rate.press("Enter")
    choose(page, "setting-output-format", "flac")
    page.locator("#save-settings").click()
    assert status_of(page, "settings-status").startswith("Saved"), "not saved"

    page.reload()
    page.wait_for_selector("#generate")
    page.get_by_role("tab", name="Settings").click()
    page.wait_for_function(
        "document.querySelector('#setting-convert-index-rate input[type=number]').value === '0.55'",
        timeout=30_000,
    )
    assert page.locator("#setting-output-format input").input_value() == "flac"
    # In config.toml, so a restarted server (and the command line) reads them too.
    from urvc_core.home import load_config

    config = load_config()
    assert config["convert.index_rate"] == pytest.approx(0.55)
    assert config["output_format"] == "flac"
    # Back to the default, so the covers of the other tests stay mp3s.
    choose(page, "setting-output-format", "mp3")
    page.locator("#save-settings").click()
    page.wait_for_function(
        "document.querySelector('#settings-status').innerText.includes('output_format')",
        timeout=30_000,
    )


def test_bad_input_is_one_clear_line_and_the_server_keeps_serving(
    page: Page, server: Server, tmp_path: Path
) -> None:
    # An upload that isn't audio.
    text_file = tmp_path / "notes.wav"
    text_file.write_text("these are words, not sound\n" * 100)
    page.locator("#song-upload input[type=file]").set_input_files(str(text_file))
    page.wait_for_selector("#song-upload td.filename")
    choose(page, "voice", server.voice)
    page.locator("#generate").click()
    status = status_of(page, "cover-status")
    assert status.startswith("Error: The uploaded file notes.wav isn't audio"), status
    assert "Traceback" not in page.locator("body").inner_text()

    # An unknown voice, with a song given by its path.
    page.reload()
    page.wait_for_selector("#generate")
    page.locator("#song-path textarea, #song-path input").first.fill(str(server.song))
    choose(page, "voice", "no-such-voice")
    page.locator("#generate").click()
    status = status_of(page, "cover-status")
    assert status.startswith("Error:") and "no-such-voice" in status, status
    assert "\n" not in status

    # A too-large upload: refused in the page, before it reaches urvc.
    too_large = tmp_path / "too-large.wav"
    too_large.write_bytes(os.urandom(6 * 1024 * 1024))
    page.locator("#song-upload input[type=file]").set_input_files(str(too_large))
    page.get_by_text("exceed the maximum allowed size").first.wait_for(timeout=30_000)

    assert server.process.poll() is None
    assert _answers(server.url)


def test_models_tab_imports_and_deletes_a_voice(page: Page, server: Server) -> None:
    page.get_by_role("tab", name="Models").click()
    model = server.home / "demo" / "urvc-demo-voice (trained by urvc, small).pth"
    copy = server.home / "demo" / "second-voice.pth"
    shutil.copyfile(model, copy)
    page.locator("#voice-upload input[type=file]").set_input_files(str(copy))
    page.wait_for_selector("#voice-upload td.filename")
    page.locator("#import-voices").click()
    assert status_of(page, "models-status") == "Imported second-voice."
    page.wait_for_function(
        "document.querySelector('#voices').innerText.includes('second-voice')", timeout=30_000
    )

    choose(page, "voice-to-delete", "second-voice")
    page.locator("#delete-voice").click()
    page.wait_for_function(
        "document.querySelector('#models-status').innerText.includes('Deleted second-voice')",
        timeout=30_000,
    )
    assert "second-voice" not in page.locator("#voices").inner_text()
    assert server.voice in page.locator("#voices").inner_text()


def test_models_tab_downloads_urls_and_tells_each_ones_outcome(
    page: Page, server: Server, file_server: tuple[str, Path]
) -> None:
    from urvc_core.testing.voice_models import build_voice_model_file

    base, served = file_server
    build_voice_model_file(served / "fetched-one.pth", version="v1", seed=3)
    build_voice_model_file(served / "fetched-two.pth", version="v2", seed=4)
    page.get_by_role("tab", name="Models").click()
    urls = [f"{base}/fetched-one.pth", f"{base}/no-such-model.pth", f"{base}/fetched-two.pth"]
    page.locator("#download-urls textarea").fill("\n".join(urls))
    page.locator("#download-voices").click()
    status = status_of(page, "download-status")
    lines = status.splitlines()
    assert lines[0] == f"{urls[0]}: imported fetched-one.", status
    assert lines[1].startswith(f"Error: {urls[1]}: ") and "404" in lines[1], status
    assert lines[2] == f"{urls[2]}: imported fetched-two.", status
    assert len(lines) == 3, status
    page.wait_for_function(
        "document.querySelector('#voices').innerText.includes('fetched-two')", timeout=30_000
    )
    listed = page.locator("#voices").inner_text()
    assert "fetched-one" in listed and "no-such-model" not in listed
    # In the library, as downloaded: the second is a v2 model.
    from urvc_core.voices import get_voice_model

    assert get_voice_model("fetched-two").info.version == "v2"
    assert get_voice_model("fetched-one").source == urls[0]


def test_models_tab_shows_the_chosen_voices_details(page: Page, server: Server) -> None:
    page.get_by_role("tab", name="Models").click()
    choose(page, "voice-to-delete", server.voice)
    page.wait_for_function(
        "document.querySelector('#voice-info').innerText.includes('Sample rate')",
        timeout=30_000,
    )
    shown = page.locator("#voice-info").inner_text()
    facts = dict(line.split("\t", 1) for line in shown.splitlines() if line.count("\t") == 1)
    assert facts["Version"].strip() == "v1", shown
    assert facts["Sample rate"].strip() == "40000 Hz", shown
    assert facts["Pitch guidance"].strip() == "yes", shown
    assert facts["Epochs"].strip().isdigit(), shown


def test_catalogue_search_filters_rows_and_sends_a_url_to_download(
    page: Page, server: Server, file_server: tuple[str, Path]
) -> None:
    from urvc_core.testing.voice_models import build_voice_model_file

    base, served = file_server
    build_voice_model_file(served / "bram.pth", version="v1", seed=5)
    page.get_by_role("tab", name="Models").click()
    page.wait_for_function(
        "document.querySelector('#catalogue-status').innerText.includes('found')",
        timeout=30_000,
    )
    assert status_of(page, "catalogue-status") == "3 models found."
    search = page.locator("#catalogue-search textarea, #catalogue-search input").first
    search.fill("local")
    search.press("Enter")
    page.wait_for_function(
        "document.querySelector('#catalogue-status').innerText === '2 models found.'",
        timeout=30_000,
    )
    table = page.locator("#catalogue").inner_text()
    assert "Aria Local" in table and "Bram Local" in table and "Cleo Remote" not in table
    search.fill("deep")
    page.locator("#search-catalogue").click()
    page.wait_for_function(
        "document.querySelector('#catalogue-status').innerText === '1 model found.'",
        timeout=30_000,
    )
    assert "Aria Local" not in page.locator("#catalogue").inner_text()

    choose(page, "catalogue-pick", "Bram Local")
    page.locator("#send-to-download").click()
    page.wait_for_function(
        "document.querySelector('#catalogue-status').innerText.startsWith('Added')",
        timeout=30_000,
    )
    assert page.locator("#download-urls textarea").input_value() == f"{base}/bram.pth"
    page.locator("#download-voices").click()
    assert status_of(page, "download-status") == f"{base}/bram.pth: imported bram."
    page.wait_for_function(
        "document.querySelector('#voices').innerText.includes('bram')", timeout=30_000
    )


def test_a_setting_survives_a_restart_of_the_server(browser: Browser, urvc_home: Path) -> None:
    url, process = _start_server(urvc_home)
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    opened = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        opened.goto(url)
        opened.wait_for_selector("#generate")
        # Once the page's loads have filled the tabs (a load would overwrite what is typed).
        opened.get_by_role("tab", name="Models").click()
        opened.wait_for_function(
            "document.querySelector('#catalogue-status').innerText.includes('found')",
            timeout=30_000,
        )
        opened.get_by_role("tab", name="Settings").click()
        rate = opened.locator("#setting-convert-index-rate input[type=number]")
        for _ in range(3):
            rate.fill("0.35")
            rate.press("Enter")
            choose(opened, "setting-theme", "soft")
            time.sleep(1)
            if rate.input_value() == "0.35":
                break
        opened.locator("#save-settings").click()
        saved = status_of(opened, "settings-status")
        assert saved.startswith("Saved") and "convert.index_rate" in saved, saved
        _stop_server(process)
        assert process.returncode is not None
        assert not _answers(url)

        url, process = _start_server(urvc_home, port)  # the same home, the same address
        opened.reload()
        opened.wait_for_selector("#generate")
        opened.get_by_role("tab", name="Settings").click()
        opened.wait_for_function(
            "document.querySelector('#setting-convert-index-rate input[type=number]').value"
            " === '0.35'",
            timeout=30_000,
        )
        assert opened.locator("#setting-theme input").input_value() == "soft"
    finally:
        opened.close()
        _stop_server(process)
