"""A conversion request is resolved once, and the cover's cache key and the conversion
both follow what it says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from urvc_core.audio import save_audio
from urvc_core.cache import StepCache
from urvc_core.cover import make_cover
from urvc_core.errors import UrvcError
from urvc_core.home import set_config_value
from urvc_core.registry import Registry
from urvc_core.rvc import request as request_module
from urvc_core.rvc.request import resolve_conversion
from urvc_core.testing import centre_panned_speech_mix
from urvc_core.testing.embedder_models import build_hf_hubert_folder
from urvc_core.testing.voice_models import build_voice_model_file

# Slow (whole covers): `pytest -m "not slow"` leaves these out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("request")
    return {
        "song": save_audio(centre_panned_speech_mix(16000).mixture, folder / "Song.wav"),
        "model": build_voice_model_file(folder / "Voice.pth", version="v1"),
        "embedder": build_hf_hubert_folder(folder / "embedder", hidden_size=64),
    }


@pytest.fixture
def f0_backends_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    create = Registry.create

    def spy(self: Registry, kind: Any, name: str, **settings: Any) -> Any:
        if str(getattr(kind, "value", kind)) == "f0":
            made.append(name)
        return create(self, kind, name, **settings)

    monkeypatch.setattr(Registry, "create", spy)
    return made


def _cover(files: dict[str, Path], tmp_path: Path, cache: StepCache) -> Any:
    return make_cover(
        files["song"],
        files["model"],
        cache=cache,
        output=tmp_path / "covers",
        separation="center",
        skip_steps=["vocals"],
        embedder=str(files["embedder"]),
        follow_pitch="none",
    )


def _conversion_record(cache: StepCache, result: Any) -> dict[str, Any]:
    (report,) = [step for step in result.steps if step.name == "convert"]
    entry = cache.lookup(report.key)
    assert entry is not None
    return entry.record


def test_the_auto_f0_method_is_decided_once_for_key_and_conversion(
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    f0_backends_made: list[str],
) -> None:
    cache = StepCache(tmp_path / "cache")
    monkeypatch.setattr(request_module, "AUTO_F0_PREFERENCE", ("pm",))
    first = _cover(files, tmp_path, cache)
    record = _conversion_record(cache, first)
    assert record["parameters"]["f0_methods"] == ["pm"]
    assert record["extra"]["f0_methods"] == ["pm"] and f0_backends_made == ["pm"]

    # One change, in the one place auto is decided: the key and the conversion follow.
    monkeypatch.setattr(request_module, "AUTO_F0_PREFERENCE", ("harvest",))
    second = _cover(files, tmp_path, cache)
    assert "convert" in second.computed
    record = _conversion_record(cache, second)
    assert record["parameters"]["f0_methods"] == ["harvest"]
    assert record["extra"]["f0_methods"] == ["harvest"] and f0_backends_made == ["pm", "harvest"]


def test_the_config_default_reaches_key_and_conversion(
    files: dict[str, Path], tmp_path: Path, f0_backends_made: list[str]
) -> None:
    cache = StepCache(tmp_path / "cache")
    set_config_value("convert.f0_method", "dio")
    result = _cover(files, tmp_path, cache)
    record = _conversion_record(cache, result)
    assert record["parameters"]["f0_methods"] == ["dio"] and f0_backends_made == ["dio"]
    assert record["extra"]["f0_methods"] == ["dio"]


def test_a_request_names_everything_by_content(files: dict[str, Path], tmp_path: Path) -> None:
    request = resolve_conversion(files["model"], {"f0_method": "pm,harvest", "pitch": 3})
    assert request.f0_methods == ("pm", "harvest")
    assert request.embedder.name == "contentvec" and request.embedder.path is None
    assert len(request.voice.model_sha256) == 64
    moved = tmp_path / "Elsewhere.pth"
    moved.write_bytes(files["model"].read_bytes())
    again = resolve_conversion(moved, {"f0_method": "pm,harvest", "pitch": 3})
    # The same weights in another place are the same conversion.
    assert again.cache_parameters() == request.cache_parameters()
    assert request.with_settings(pitch=4).cache_parameters() != request.cache_parameters()
    with pytest.raises(UrvcError, match="no f0 extractor named 'pmm'"):
        resolve_conversion(files["model"], {"f0_method": "pmm"})
