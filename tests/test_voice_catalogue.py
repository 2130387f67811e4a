"""The catalogue of public voice models: searched offline as shipped, refreshed and
downloaded from through a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from urvc_core.errors import OfflineError, UrvcError
from urvc_core.testing.voice_models import build_voice_model_file
from urvc_core.voice_catalogue import (
    SHIPPED_CATALOGUE,
    find_catalogue_entry,
    load_catalogue,
    search_catalogue,
    update_catalogue,
)
from urvc_core.voices import direct_download_url, download_voices, list_voice_models

if TYPE_CHECKING:
    from conftest import CommandResult


def _catalogue(base: str, *models: dict[str, Any]) -> str:
    """A catalogue in the community's layout (tags as a name-to-text table)."""
    return json.dumps(
        {
            "tags": {"English": "Speaks English", "Test": "Made by the tests"},
            "voice_models": list(models),
        }
    )


@pytest.fixture
def local_catalogue(file_server: tuple[str, Path], tmp_path: Path) -> str:
    """A catalogue on the local server whose models are there too; returns its URL."""
    base, served = file_server
    build_voice_model_file(served / "aria.pth", version="v1", seed=1)
    build_voice_model_file(served / "bram.pth", version="v2", seed=2)
    rows = [
        {
            "name": "Aria Local",
            "url": f"{base}/aria.pth",
            "description": "A test voice",
            "added": "2024-01-02",
            "credit": "tests",
            "tags": ["Test", "English"],
        },
        {
            "name": "Bram Local",
            "url": f"{base}/bram.pth",
            "description": "Another test voice",
            "added": "2024-03-04",
            "credit": "tests",
            "tags": ["Test"],
        },
        {"name": "", "url": f"{base}/nameless.pth"},
        {"name": "No link", "url": "ftp://example.invalid/x.pth"},
    ]
    (served / "catalogue.json").write_text(_catalogue(base, *rows))
    return f"{base}/catalogue.json"


def test_the_shipped_catalogue_reads_whole_and_lists_no_real_people() -> None:
    catalogue = load_catalogue()
    assert catalogue.path == SHIPPED_CATALOGUE and not catalogue.updated
    assert len(catalogue.entries) == 47 and catalogue.skipped == 0
    assert all(e.url.startswith("https://") and e.name and e.tags for e in catalogue.entries)
    assert not any("Real person" in e.tags for e in catalogue.entries)
    assert "Real person" not in catalogue.tags


def test_search_matches_every_word_filters_by_tag_and_ranks_names_then_newest() -> None:
    found = search_catalogue("genshin impact", tags=["japanese"])
    assert found and all("Japanese" in e.tags for e in found)
    assert all("genshin impact" in e.description.lower() for e in found)
    dates = [e.added for e in found]
    assert dates == sorted(dates, reverse=True)

    klee = search_catalogue("klee")
    assert [e.name for e in klee[:2]] == ["Klee", "Klee"]
    assert klee[0].added >= klee[1].added
    assert len(search_catalogue("", tags=["Vtuber"], limit=3)) == 3
    assert search_catalogue("no such voice anywhere") == []
    with pytest.raises(UrvcError, match=r"no tag 'Pirate'; its tags: .*Anime"):
        search_catalogue("x", tags=["Pirate"])


def test_a_name_the_catalogue_lacks_or_has_twice_is_one_line() -> None:
    with pytest.raises(UrvcError, match="did you mean 'Klee'") as missing:
        find_catalogue_entry("Kle")
    with pytest.raises(
        UrvcError, match=r"2 models named 'klee'.*download the one you want by its URL"
    ):
        find_catalogue_entry("klee")
    assert "\n" not in str(missing.value)
    [result] = download_voices(["Kle"], progress=False)
    assert not result.ok and "neither a URL nor a model of the voice catalogue" in str(result.error)


def test_update_fetches_checks_and_keeps_a_catalogue_and_download_takes_its_names(
    local_catalogue: str,
) -> None:
    updated = update_catalogue(url=local_catalogue, progress=False)
    assert updated.updated and [e.name for e in updated.entries] == ["Aria Local", "Bram Local"]
    assert updated.skipped == 2
    assert load_catalogue().path == updated.path
    assert [e.name for e in search_catalogue("local")] == ["Bram Local", "Aria Local"]

    [result] = download_voices(["aria local"], progress=False)
    assert result.ok, result.error
    [entry] = result.entries
    assert (entry.name, entry.info.version) == ("Aria Local", "v1")


def test_a_bad_update_keeps_the_catalogue_in_use(
    local_catalogue: str, file_server: tuple[str, Path]
) -> None:
    base, served = file_server
    update_catalogue(url=local_catalogue, progress=False)
    (served / "broken.json").write_text("<html>not json</html>")
    (served / "listless.json").write_text('{"tags": {}}')
    (served / "empty.json").write_text(_catalogue(base))
    for name, message in [
        ("broken.json", "is not JSON"),
        ("listless.json", "has no 'voice_models'"),
        ("empty.json", "lists no models"),
    ]:
        with pytest.raises(UrvcError, match=message) as raised:
            update_catalogue(url=f"{base}/{name}", progress=False)
        assert "the one in use is kept" in str(raised.value)
        assert "\n" not in str(raised.value)
        assert [e.name for e in load_catalogue().entries] == ["Aria Local", "Bram Local"]


def test_offline_the_shipped_catalogue_is_searched_and_update_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("URVC_OFFLINE", "1")
    assert search_catalogue("emilia")[0].name == "Emilia"
    with pytest.raises(OfflineError):
        update_catalogue(progress=False)


def test_pixeldrain_pages_are_downloaded_from_their_file_links() -> None:
    assert direct_download_url("https://pixeldrain.com/u/3tJmABXA") == (
        "https://pixeldrain.com/api/file/3tJmABXA?download"
    )
    api = "https://pixeldrain.com/api/file/3tJmABXA?download"
    assert direct_download_url(api) == api


def test_urvc_models_search_update_and_download_by_name(
    local_catalogue: str, run_urvc: Callable[..., CommandResult]
) -> None:
    shipped = run_urvc("models", "search", "genshin", "--tag", "English", "--limit", "2", "--json")
    assert shipped.exit_code == 0, shipped.stderr
    assert len(json.loads(shipped.stdout)) == 2

    updated = run_urvc("models", "catalogue", "update", "--url", local_catalogue, "--json")
    assert updated.exit_code == 0, updated.stderr
    assert json.loads(updated.stdout)["models"] == 2
    shown = run_urvc("models", "catalogue", "show")
    assert "2 voice models (updated)" in shown.stdout

    fetched = run_urvc("models", "search", "local", "--tag", "test", "--download", "--limit", "1")
    assert fetched.exit_code == 0, fetched.stderr
    assert "-> Bram Local" in fetched.stdout
    named = run_urvc("models", "download", "Aria Local", "--name", "Aria")
    assert named.exit_code == 0, named.stderr
    assert sorted(e.name for e in list_voice_models()) == ["Aria", "Bram Local"]

    unknown = run_urvc("models", "download", "Arya Local")
    assert unknown.exit_code == 1
    assert "did you mean 'Aria Local'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
