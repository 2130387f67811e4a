"""The voice library with real voice model files, real faiss indexes and a real HTTP server."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import faiss
import pytest
import torch

from urvc_core.errors import OfflineError, UrvcError
from urvc_core.home import urvc_home
from urvc_core.testing.feature_indexes import build_index_file, synthetic_content_features
from urvc_core.testing.voice_models import build_voice_model_file
from urvc_core.voices import (
    VoiceDownload,
    delete_voice_model,
    direct_download_url,
    download_voice_model,
    download_voice_models,
    download_voices,
    get_voice_model,
    import_voice_files,
    import_voice_model,
    import_voice_models,
    list_voice_models,
    read_download_list,
    resolve_voice_model,
)

# -- files, built once per module and copied into each test -----------------------------


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real voice models: a v2 one (768-dim features) and a v1 one (256-dim)."""
    folder = tmp_path_factory.mktemp("models")
    return {
        "v2": build_voice_model_file(folder / "v2.pth", version="v2", seed=1),
        "v2-other": build_voice_model_file(folder / "v2-other.pth", version="v2", seed=2),
        "v1": build_voice_model_file(
            folder / "v1.pth", version="v1", sample_rate=48000, pitch_guidance=False, seed=3
        ),
    }


@pytest.fixture(scope="module")
def index_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("indexes")
    return {
        "768": build_index_file(folder / "768.index", dim=768, vectors=1200, seed=1),
        "768-small": build_index_file(folder / "768-small.index", dim=768, vectors=600, seed=2),
        "256": build_index_file(folder / "256.index", dim=256, vectors=800, seed=3),
    }


def _place(source: Path, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    return destination


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _library_contents() -> list[str]:
    """Everything in the library folder, hidden staging folders included."""
    library = urvc_home().models
    if not library.is_dir():
        return []
    return sorted(p.name for p in library.iterdir() if p.name != ".library.lock")


def _trained_only_index(path: Path, dim: int) -> Path:
    """What RVC's trainer writes first: trained_*.index, IVF trained but with no vectors."""
    index = faiss.index_factory(dim, "IVF8,Flat")
    index.train(synthetic_content_features(400, dim=dim))
    faiss.write_index(index, str(path))
    return path


# -- importing ----------------------------------------------------------------------------


def test_import_a_single_pth(tmp_path: Path, model_files: dict[str, Path]) -> None:
    source = _place(model_files["v2"], tmp_path / "Alice Smith (RVC v2).pth")

    entry = import_voice_model(source)

    assert entry.name == "Alice Smith (RVC v2)"
    assert entry.folder == urvc_home().models / entry.name
    assert entry.model_path == entry.folder / f"{entry.name}.pth"
    assert entry.index_path is None
    assert (entry.info.version, entry.info.sample_rate, entry.info.embedder_dim) == (
        "v2",
        40000,
        768,
    )
    assert sorted(p.name for p in entry.folder.iterdir()) == [
        "Alice Smith (RVC v2).pth",
        "voice.json",
    ]
    record = json.loads((entry.folder / "voice.json").read_text())
    assert record["name"] == entry.name
    assert record["source"] == str(source)
    assert record["imported_at"]
    assert record["files"]["model"]["sha256"] == _sha256(source)
    assert record["model"]["version"] == "v2"
    assert _library_contents() == [entry.name]  # no staging folder left


def test_names_are_cleaned_from_the_file_stem(tmp_path: Path, model_files: dict[str, Path]) -> None:
    source = _place(model_files["v2"], tmp_path / "Bob's voice: 300 epochs!.pth")

    assert import_voice_model(source).name == "Bob_s voice_ 300 epochs"
    with pytest.raises(UrvcError, match="letters, digits"):
        import_voice_model(source, name="../escape")
    assert _library_contents() == ["Bob_s voice_ 300 epochs"]


def test_folder_pairs_the_index_by_content_when_names_mislead(
    tmp_path: Path, model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    folder = tmp_path / "download"
    _place(model_files["v1"], folder / "Carol.pth")
    # The index named after the model holds v2 features, which a v1 model can't use;
    # the one with an unrelated name is the v1 index.
    _place(index_files["768"], folder / "added_IVF30_Flat_nprobe_1_Carol_v2.index")
    _place(index_files["256"], folder / "features.index")

    entry = import_voice_model(folder)

    assert entry.name == "Carol"
    assert entry.index_path == entry.folder / "Carol.index"
    assert _sha256(entry.index_path) == _sha256(folder / "features.index")
    assert entry.index is not None and (entry.index.dim, entry.index.size) == (256, 800)
    skipped = {s.path: s.reason for s in entry.skipped}
    assert "768-dim (v2)" in skipped["added_IVF30_Flat_nprobe_1_Carol_v2.index"]
    assert entry.as_dict()["index"]["vectors"] == 800


def test_among_fitting_indexes_the_named_one_wins_then_the_largest(
    tmp_path: Path, model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    named = tmp_path / "named"
    _place(model_files["v2"], named / "Dana.pth")
    _place(index_files["768"], named / "big.index")
    _place(index_files["768-small"], named / "added_IVF20_Flat_nprobe_1_Dana_v2.index")
    largest = tmp_path / "largest"
    _place(model_files["v2"], largest / "Erin.pth")
    _place(index_files["768"], largest / "one.index")
    _place(index_files["768-small"], largest / "two.index")

    dana = import_voice_model(named)
    erin = import_voice_model(largest)

    assert dana.index is not None and dana.index.size == 600
    assert erin.index is not None and erin.index.size == 1200
    assert [s.path for s in erin.skipped] == ["two.index"]


def test_zip_with_training_leftovers_skips_and_reports_them(
    tmp_path: Path, model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    archive = tmp_path / "Frank.zip"
    trained = _trained_only_index(tmp_path / "trained.index", 768)
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(model_files["v2"], "Frank/Frank.pth")
        zipped.write(index_files["768"], "Frank/added_IVF30_Flat_nprobe_1_Frank_v2.index")
        zipped.write(trained, "Frank/trained_IVF30_Flat_nprobe_1_Frank_v2.index")
        zipped.writestr("Frank/G_2333.pth", b"generator checkpoint")
        zipped.writestr("Frank/D_2333.pth", b"discriminator checkpoint")
        zipped.writestr("Frank/total_fea.npy", b"features")
        zipped.writestr("__MACOSX/Frank/._Frank.pth", b"resource fork")

    entry = import_voice_model(archive)

    assert entry.name == "Frank"
    assert entry.index is not None and entry.index.size == 1200
    skipped = {s.path: s.reason for s in entry.skipped}
    assert set(skipped) == {
        "Frank/G_2333.pth",
        "Frank/D_2333.pth",
        "Frank/total_fea.npy",
        "Frank/trained_IVF30_Flat_nprobe_1_Frank_v2.index",
    }
    assert "training checkpoint" in skipped["Frank/G_2333.pth"]
    assert "added_" in skipped["Frank/trained_IVF30_Flat_nprobe_1_Frank_v2.index"]
    recorded = json.loads((entry.folder / "voice.json").read_text())["skipped"]
    assert len(recorded) == 4
    assert _library_contents() == ["Frank"]


def test_zip_with_a_path_outside_the_archive_is_refused_and_writes_nothing(
    tmp_path: Path, model_files: dict[str, Path]
) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(model_files["v2"], "Voice.pth")
        zipped.writestr("../evil.pth", b"escape")

    with pytest.raises(UrvcError, match=r"\.\./evil"):
        import_voice_models(archive)

    assert _library_contents() == []
    assert not (urvc_home().root / "evil.pth").exists()
    assert not any(urvc_home().root.rglob("evil.pth"))


def test_a_pth_that_is_not_a_voice_model_leaves_the_library_empty(tmp_path: Path) -> None:
    not_a_model = tmp_path / "Gina.pth"
    torch.save({"state_dict": {"layer.weight": torch.zeros(3, 3)}}, not_a_model)

    with pytest.raises(UrvcError, match=r"Gina\.pth"):
        import_voice_model(not_a_model)

    assert _library_contents() == []


def test_an_existing_name_needs_overwrite(tmp_path: Path, model_files: dict[str, Path]) -> None:
    first = import_voice_model(_place(model_files["v2"], tmp_path / "Hana.pth"))
    replacement = _place(model_files["v1"], tmp_path / "again" / "Hana.pth")

    with pytest.raises(UrvcError, match=r"already has a voice model named 'Hana'.*overwrite"):
        import_voice_model(replacement)
    with pytest.raises(UrvcError, match="already has"):
        import_voice_model(replacement, name="hana")  # names differing in case clash too
    assert get_voice_model("Hana").info.version == "v2"

    replaced = import_voice_model(replacement, overwrite=True)

    assert replaced.folder == first.folder
    assert replaced.info.version == "v1"
    assert _sha256(replaced.model_path) == _sha256(model_files["v1"])
    assert _library_contents() == ["Hana"]


def test_several_models_import_each_or_refuse_one_name(
    tmp_path: Path, model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    pack = tmp_path / "pack"
    _place(model_files["v2"], pack / "Ivy" / "Ivy.pth")
    _place(index_files["768"], pack / "Ivy" / "added_IVF30_Flat_nprobe_1_Ivy_v2.index")
    _place(model_files["v1"], pack / "Jack" / "Jack.pth")
    _place(index_files["256"], pack / "Jack" / "jack features.index")

    with pytest.raises(UrvcError, match=r"2 voice models \(Ivy/Ivy.pth, Jack/Jack.pth\)"):
        import_voice_models(pack, name="Both")
    with pytest.raises(UrvcError, match="import them all"):
        import_voice_model(pack)
    assert _library_contents() == []

    entries = import_voice_models(pack)

    assert [(e.name, e.index is not None and e.index.dim) for e in entries] == [
        ("Ivy", 768),
        ("Jack", 256),
    ]


def test_a_clash_on_the_second_model_imports_neither(
    tmp_path: Path, model_files: dict[str, Path]
) -> None:
    import_voice_model(_place(model_files["v1"], tmp_path / "Lee.pth"))
    pack = tmp_path / "pack"
    _place(model_files["v2"], pack / "Kim.pth")
    _place(model_files["v2-other"], pack / "Lee.pth")

    with pytest.raises(UrvcError, match="'Lee'"):
        import_voice_models(pack)

    assert _library_contents() == ["Lee"]


# -- downloading ---------------------------------------------------------------------------


def test_download_a_pth_and_a_zip(
    file_server: tuple[str, Path], model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    base, served = file_server
    _place(model_files["v2"], served / "Mia.pth")
    with zipfile.ZipFile(served / "Noah%20pack.zip", "w") as zipped:
        zipped.write(model_files["v1"], "Noah.pth")
        zipped.write(index_files["256"], "added_IVF25_Flat_nprobe_1_Noah_v1.index")
    _place(model_files["v2-other"], served / "weights")  # a link that doesn't say what it is

    mia = download_voice_model(f"{base}/Mia.pth", progress=False)
    [noah] = download_voice_models(f"{base}/Noah%2520pack.zip", progress=False)
    olive = download_voice_model(f"{base}/weights", name="Olive", progress=False)

    assert (mia.name, mia.info.version, mia.index_path) == ("Mia", "v2", None)
    assert json.loads((mia.folder / "voice.json").read_text())["source"] == f"{base}/Mia.pth"
    assert noah.name == "Noah" and noah.index is not None and noah.index.dim == 256
    assert olive.name == "Olive" and _sha256(olive.model_path) == _sha256(model_files["v2-other"])
    downloads = urvc_home().cache / "downloads"
    assert not downloads.exists() or not any(downloads.rglob("*.*"))  # not kept twice
    assert _library_contents() == ["Mia", "Noah", "Olive"]


def test_download_of_a_web_page_says_to_use_a_browser(file_server: tuple[str, Path]) -> None:
    base, served = file_server
    (served / "model").write_text("<!DOCTYPE html><html><body>Sign in</body></html>")

    with pytest.raises(UrvcError, match=r"web page.*urvc models import FILE"):
        download_voice_model(f"{base}/model", progress=False)

    assert _library_contents() == []


def test_hugging_face_blob_links_become_resolve_links() -> None:
    assert (
        direct_download_url("https://huggingface.co/someone/voices/blob/main/Mia/Mia.zip")
        == "https://huggingface.co/someone/voices/resolve/main/Mia/Mia.zip"
    )
    assert (
        direct_download_url("https://huggingface.co/datasets/someone/v/blob/v1.0/blob/x.pth")
        == "https://huggingface.co/datasets/someone/v/resolve/v1.0/blob/x.pth"
    )
    resolved = "https://huggingface.co/someone/voices/resolve/main/x.pth?download=true"
    assert direct_download_url(resolved) == resolved
    # a repository that happens to be called "blob" is left alone
    assert direct_download_url("https://huggingface.co/blob/x") == "https://huggingface.co/blob/x"
    assert direct_download_url("https://example.com/a/b/blob/c.pth").endswith("/blob/c.pth")


@pytest.mark.parametrize(
    "url",
    [
        "https://drive.google.com/file/d/1AbCdEf/view?usp=sharing",
        "https://mega.nz/file/AbCd#key",
    ],
)
def test_google_drive_and_mega_say_to_use_a_browser(url: str) -> None:
    with pytest.raises(UrvcError, match=r"in a browser, then run: urvc models import FILE"):
        download_voice_model(url)


def test_offline_download_is_the_asset_stores_error(
    monkeypatch: pytest.MonkeyPatch, file_server: tuple[str, Path], model_files: dict[str, Path]
) -> None:
    base, served = file_server
    _place(model_files["v2"], served / "Mia.pth")
    monkeypatch.setenv("URVC_OFFLINE", "1")

    with pytest.raises(OfflineError, match="URVC_OFFLINE=1"):
        download_voice_model(f"{base}/Mia.pth", progress=False)

    assert _library_contents() == []


# -- several files at once ------------------------------------------------------------------


def test_a_pth_and_its_index_given_together_make_one_voice(
    tmp_path: Path, model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    # As people download them: the two files in different places, the index's name
    # saying nothing about the model.
    model = _place(model_files["v2"], tmp_path / "Downloads" / "Singer.pth")
    index = _place(index_files["768-small"], tmp_path / "elsewhere" / "added_IVF20_Flat.index")
    _place(index_files["768"], tmp_path / "Downloads" / "Singer.index")  # not the one given

    [result] = import_voice_files([model, index])

    assert result.ok and result.source == f"{model} + added_IVF20_Flat.index"
    [entry] = result.entries
    assert entry.name == "Singer"
    assert entry.index_path == entry.folder / "Singer.index"
    assert entry.index is not None and entry.index.size == 600
    assert _sha256(entry.index_path) == _sha256(index)
    assert _sha256(entry.model_path) == _sha256(model)


def test_an_index_that_fits_no_given_model_fails_alone(
    tmp_path: Path, model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    model = _place(model_files["v2"], tmp_path / "Singer.pth")
    wrong = _place(index_files["256"], tmp_path / "v1" / "Singer.index")
    _place(index_files["768"], tmp_path / "Singer.index")  # beside it, but not the one given

    imported, refused = import_voice_files([model, wrong])

    # The index given is the one meant: the model is not paired with another instead.
    assert imported.ok and imported.entries[0].index_path is None
    assert refused.source == str(wrong)
    assert refused.error == (
        f"{wrong} was not paired with a voice model: holds 256-dim (v1) features, the "
        f"voice model needs 768-dim (v2)."
    )
    assert _library_contents() == ["Singer"]


def test_several_pth_files_each_become_a_voice_and_a_bad_one_fails_alone(
    tmp_path: Path, model_files: dict[str, Path], index_files: dict[str, Path], run_urvc: Any
) -> None:
    alto = _place(model_files["v2"], tmp_path / "a" / "Alto.pth")
    bass = _place(model_files["v1"], tmp_path / "b" / "Bass.pth")
    _place(index_files["256"], tmp_path / "b" / "added_IVF25_Flat_nprobe_1_Bass_v1.index")
    broken = tmp_path / "c" / "Broken.pth"
    broken.parent.mkdir()
    broken.write_bytes(b"PK\x03\x04 cut off in the middle of the download")

    result = run_urvc("models", "import", str(alto), str(broken), str(bass))

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"imported  {alto} -> Alto (v2, 40000 Hz, no index)"
    assert lines[1].startswith(f"failed    {broken}: The voice model {broken} ")
    assert lines[2] == f"imported  {bass} -> Bass (v1, 48000 Hz, index Bass.index)"
    assert len(lines) == 3
    assert result.stderr == (
        "Error: 1 of 3 imports failed (listed above); the others are in the library. Fix "
        "what each error says and run the command again for those.\n"
    )
    assert _library_contents() == ["Alto", "Bass"]  # no staging folder left behind


def test_one_source_that_fails_is_its_own_one_line_error(run_urvc: Any, tmp_path: Path) -> None:
    missing = tmp_path / "Nobody.pth"

    result = run_urvc("models", "import", str(missing))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: There is no file or folder {missing} to import.\n"


def test_two_given_models_that_would_share_a_name(
    tmp_path: Path, model_files: dict[str, Path]
) -> None:
    first = _place(model_files["v2"], tmp_path / "one" / "Mia.pth")
    second = _place(model_files["v1"], tmp_path / "two" / "Mia.pth")

    kept, clash = import_voice_files([first, second], overwrite=True)

    assert kept.ok and _sha256(kept.entries[0].model_path) == _sha256(first)
    assert clash.error is not None and "would be named 'Mia', as " in clash.error
    with pytest.raises(UrvcError, match="A name is for one voice model, and 2 files"):
        import_voice_files([first, second], name="Both")


# -- downloading several --------------------------------------------------------------------


class RangeServer:
    """An HTTP server on 127.0.0.1 serving a folder, with Range requests, that can be told
    to cut the connection part way through a file (once)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests: list[tuple[str, dict[str, str]]] = []
        #: path -> bytes of the body to send before closing the connection, once
        self.cut_after: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers.items())))
                file = server.folder / self.path.lstrip("/")
                if not file.is_file():
                    self.send_error(404)
                    return
                body = file.read_bytes()
                start = 0
                if (asked := self.headers.get("Range")) is not None:
                    start = int(asked.removeprefix("bytes=").rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                # HTTP/1.0: returning closes the connection, so a cut body ends early.
                self.wfile.write(body[start:][: server.cut_after.pop(self.path, None)])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def ranges_asked(self, path: str) -> list[str | None]:
        return [headers.get("Range") for seen, headers in self.requests if seen == path]


@pytest.fixture
def range_server(tmp_path: Path) -> Iterator[RangeServer]:
    served = tmp_path / "served"
    served.mkdir()
    server = RangeServer(served)
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_download_voices_brings_each_and_one_failure_does_not_stop_the_rest(
    range_server: RangeServer, model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    base, served = range_server.base, range_server.folder
    _place(model_files["v2"], served / "Mia.pth")
    with zipfile.ZipFile(served / "Noah.zip", "w") as zipped:
        zipped.write(model_files["v1"], "Noah.pth")
        zipped.write(index_files["256"], "added_IVF25_Flat_nprobe_1_Noah_v1.index")

    mia, missing, noah = download_voices(
        [f"{base}/Mia.pth", f"{base}/Gone.pth", VoiceDownload(f"{base}/Noah.zip", "Noah v1")],
        progress=False,
    )

    assert mia.ok and [e.name for e in mia.entries] == ["Mia"]
    assert _sha256(mia.entries[0].model_path) == _sha256(model_files["v2"])
    assert missing.source == f"{base}/Gone.pth"
    assert missing.error == (
        f"could not download {base}/Gone.pth: the server answered HTTP 404 (Not Found); "
        f"check that the URL is right, the file may have moved"
    )
    assert noah.ok and [e.name for e in noah.entries] == ["Noah v1"]
    assert noah.entries[0].index is not None and noah.entries[0].index.dim == 256
    assert _library_contents() == ["Mia", "Noah v1"]


def test_an_interrupted_download_resumes_with_a_range_request_and_is_byte_identical(
    range_server: RangeServer, model_files: dict[str, Path], run_urvc: Any
) -> None:
    served = _place(model_files["v2"], range_server.folder / "Mia.pth")
    size = served.stat().st_size
    range_server.cut_after["/Mia.pth"] = 500_000
    url = f"{range_server.base}/Mia.pth"

    cut = run_urvc("models", "download", url)

    assert cut.exit_code == 1
    assert cut.stderr == (
        f"Error: download of {url} was interrupted (the server closed the connection) after "
        f"500000 of {size} bytes; run the command again to resume it from "
        f"{next(urvc_home().cache.glob('downloads/*/Mia.pth.part'))}\n"
    )
    [part] = urvc_home().cache.glob("downloads/*/Mia.pth.part")
    assert part.read_bytes() == served.read_bytes()[:500_000]
    assert _library_contents() == []

    resumed = run_urvc("models", "download", url)

    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.stdout == f"imported  {url} -> Mia (v2, 40000 Hz, no index)\n"
    assert range_server.ranges_asked("/Mia.pth") == [None, "bytes=500000-"]
    assert _sha256(get_voice_model("Mia").model_path) == _sha256(served)
    assert not part.exists() and not any(urvc_home().cache.glob("downloads/*/*"))


def test_a_download_list_reports_bad_rows_by_line_and_downloads_the_rest(
    range_server: RangeServer, model_files: dict[str, Path], tmp_path: Path, run_urvc: Any
) -> None:
    base = range_server.base
    _place(model_files["v2"], range_server.folder / "Mia.pth")
    _place(model_files["v1"], range_server.folder / "Noah.pth")
    listed = tmp_path / "voices.csv"
    listed.write_text(
        "\ufeffURL,Name\n"  # as a spreadsheet saves it: a byte-order mark, capitals
        f"{base}/Mia.pth,Mia\n"
        "\n"
        ",Nobody\n"
        "ftp://example.com/x.pth,\n"
        f"{base}/Noah.pth,Mia\n"
        f"{base}/Noah.pth,Noah/2\n"
        f"{base}/Noah.pth,\n"
        f'"{base}/Noah.pth",Noah,extra\n',
        encoding="utf-8",
    )

    result = run_urvc("models", "download", "--from-file", str(listed))

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"imported  {base}/Mia.pth -> Mia (v2, 40000 Hz, no index)",
        f"failed    {listed} line 4 has no URL; fix the row or remove it.",
        f"failed    ftp://example.com/x.pth: {listed} line 5 has 'ftp://example.com/x.pth', "
        f"which is not an http:// or https:// URL; fix the row or remove it.",
        f"failed    {base}/Noah.pth: {listed} line 6 has the name 'Mia', which line 2 gives "
        f"too; fix the row or remove it.",
        f"failed    {base}/Noah.pth: {listed} line 7 has a bad name: 'Noah/2' can't be a "
        f"voice model name: use letters, digits, spaces and - _ . ( ) (up to 100, not "
        f"starting or ending with a dot or space); fix the row or remove it.",
        f"imported  {base}/Noah.pth -> Noah (v1, 48000 Hz, no index)",
        f"failed    {base}/Noah.pth: {listed} line 9 has 3 cells, but the header names 2 "
        f"columns; fix the row or remove it.",
    ]
    assert result.stderr.startswith("Error: 5 of 7 downloads failed (listed above); the others")
    assert _library_contents() == ["Mia", "Noah"]
    # Bad rows are never fetched.
    assert [path for path, _ in range_server.requests] == ["/Mia.pth", "/Noah.pth"]


def test_several_urls_that_all_succeed_exit_0(
    range_server: RangeServer, model_files: dict[str, Path], run_urvc: Any
) -> None:
    base = range_server.base
    _place(model_files["v2"], range_server.folder / "Mia.pth")
    _place(model_files["v1"], range_server.folder / "Noah.pth")

    result = run_urvc("models", "download", f"{base}/Mia.pth", f"{base}/Noah.pth", "--json")

    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert [(r["source"], r["ok"], [v["name"] for v in r["voices"]]) for r in shown] == [
        (f"{base}/Mia.pth", True, ["Mia"]),
        (f"{base}/Noah.pth", True, ["Noah"]),
    ]
    usage = run_urvc("models", "download", f"{base}/Mia.pth", f"{base}/Noah.pth", "--name", "X")
    assert usage.exit_code == 2 and "--name is for a single URL" in usage.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty; its first line must be url,name"),
        ("https://example.com/Mia.pth,Mia\n", "line 1 must be the header row url,name"),
        ("url,nmae\nhttps://example.com/Mia.pth,Mia\n", "not 'url,nmae'"),
        ("url,name\n\n", "lists no voice models under its header row"),
    ],
)
def test_a_download_list_without_a_usable_header_is_an_error(
    tmp_path: Path, text: str, message: str
) -> None:
    listed = tmp_path / "list.csv"
    listed.write_text(text, encoding="utf-8")

    with pytest.raises(UrvcError, match=re.escape(message)):
        read_download_list(listed)


# -- the library ------------------------------------------------------------------------------


def test_list_info_and_delete(
    tmp_path: Path, model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    assert list_voice_models() == []
    folder = tmp_path / "Quinn"
    _place(model_files["v1"], folder / "Quinn.pth")
    _place(index_files["256"], folder / "Quinn.index")
    import_voice_model(folder)
    import_voice_model(_place(model_files["v2"], tmp_path / "paul.pth"))

    entries = list_voice_models()

    assert [e.name for e in entries] == ["paul", "Quinn"]
    details = get_voice_model("Quinn").as_dict()
    assert details["version"] == "v1"
    assert details["sample_rate"] == 48000
    assert details["pitch_guidance"] is False
    assert details["embedder_dim"] == 256
    assert details["index"]["vectors"] == 800 and details["index"]["dim"] == 256
    assert details["model_file_size"] == model_files["v1"].stat().st_size
    assert details["index"]["file_size"] == index_files["256"].stat().st_size
    json.dumps(details)  # what --json prints
    assert get_voice_model("quinn").name == "Quinn"  # case forgiven when unambiguous

    with pytest.raises(UrvcError) as unknown:
        get_voice_model("Quin")
    assert "'Quinn'" in str(unknown.value)
    assert str(urvc_home().models) in str(unknown.value)

    delete_voice_model("Quinn")

    assert [e.name for e in list_voice_models()] == ["paul"]
    assert _library_contents() == ["paul"]
    with pytest.raises(UrvcError, match="no voice model named 'Quinn'"):
        delete_voice_model("Quinn")


def test_a_folder_put_in_the_library_by_hand_is_listed(
    model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    folder = urvc_home().models / "Rosa"
    _place(model_files["v2"], folder / "rosa_e200_s4000.pth")
    _place(index_files["768"], folder / "added_IVF30_Flat_nprobe_1_rosa_v2.index")
    (urvc_home().models / "empty").mkdir()

    [entry] = list_voice_models()

    assert entry.name == "Rosa"
    assert entry.index is not None and entry.index.size == 1200
    with pytest.raises(UrvcError, match="holds no voice model"):
        get_voice_model("empty")


def test_resolve_a_path_uses_the_model_in_place_with_the_index_beside_it(
    tmp_path: Path, model_files: dict[str, Path], index_files: dict[str, Path]
) -> None:
    folder = tmp_path / "my models"
    model = _place(model_files["v2"], folder / "Sam.pth")
    _place(index_files["768-small"], folder / "added_IVF20_Flat_nprobe_1_Sam_v2.index")
    _place(model_files["v1"], folder / "Tess.pth")  # another model: unnamed indexes stay out
    _place(index_files["768"], folder / "unrelated.index")

    entry = resolve_voice_model(str(model))

    assert entry.in_library is False
    assert entry.model_path == model
    assert entry.index_path == folder / "added_IVF20_Flat_nprobe_1_Sam_v2.index"
    assert _library_contents() == []
    tess = resolve_voice_model(folder / "Tess.pth")
    assert tess.index_path is None
    with pytest.raises(UrvcError, match="no voice model file"):
        resolve_voice_model(str(folder / "Nobody.pth"))


def test_resolve_a_name_prefers_the_library(tmp_path: Path, model_files: dict[str, Path]) -> None:
    import_voice_model(_place(model_files["v2"], tmp_path / "Uma.pth"))

    entry = resolve_voice_model("Uma")

    assert entry.in_library and entry.folder == urvc_home().models / "Uma"
    with pytest.raises(UrvcError, match="Did you mean 'Uma'"):
        resolve_voice_model("Umma")
