"""The step cache: keys, records, atomic entries, locks, and `urvc cache`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from urvc_core.backends import Audio
from urvc_core.cache import StepCache, StepResult, audio_digest, file_digest, step_key
from urvc_core.cli import cli
from urvc_core.errors import UrvcError


def _tone(seconds: float = 0.5, rate: int = 22050, channels: int = 2) -> Audio:
    t = np.arange(round(seconds * rate)) / rate
    samples = np.stack([0.3 * np.sin(2 * np.pi * 220 * (c + 1) * t) for c in range(channels)])
    return Audio(samples.astype(np.float32), rate)


def _compute(audio: Audio, calls: list[int] | None = None) -> Any:
    def compute(staging: Path) -> StepResult:
        if calls is not None:
            calls.append(1)
        return StepResult(audio={"Vocals": audio}, extra={"pitch_shift": 2.0})

    return compute


def _store(cache: StepCache, key: str, compute: Any, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "step": "separate.vocals",
        "backend": "dsp-center",
        "version": "urvc-core 0.1.0",
        "parameters": {"settings": {"n_fft": 4096}},
        "inputs": {"audio": "ab" * 32},
    }
    arguments.update(overrides)
    return cache.get_or_compute(key, compute, **arguments)


def test_key_names_everything_that_produced_the_result() -> None:
    base = ("mix", "urvc-mix", "1.0", {"gains": {"vocals": 0.0}, "n": (1, 2)}, {"song": "aa"})
    key = step_key(*base)
    assert key == step_key(
        "mix", "urvc-mix", "1.0", {"n": [1, 2], "gains": {"vocals": 0.0}}, {"song": "aa"}
    )
    assert (
        len(
            {
                key,
                step_key("mix2", *base[1:]),
                step_key("mix", "other", *base[2:]),
                step_key("mix", "urvc-mix", "1.1", *base[3:]),
                step_key(
                    "mix",
                    "urvc-mix",
                    "1.0",
                    {"gains": {"vocals": 1.0}, "n": (1, 2)},
                    {"song": "aa"},
                ),
                step_key(*base[:4], {"song": "ab"}),
            }
        )
        == 6
    )


def test_a_miss_computes_and_a_hit_reads_the_same_samples(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    audio = _tone()
    calls: list[int] = []
    key = "1" * 64
    _, hit = _store(cache, key, _compute(audio, calls))
    assert not hit and calls == [1]
    again, hit = _store(cache, key, _compute(audio, calls))
    assert hit and calls == [1]
    read = again.audio("Vocals")
    assert read.sample_rate == audio.sample_rate
    np.testing.assert_array_equal(read.samples, audio.samples)  # float WAV: bit-exact
    assert again.digest("Vocals") == audio_digest(audio) == audio_digest(read)

    record = json.loads((again.folder / "record.json").read_text())
    assert record["step"] == "separate.vocals"
    assert record["backend"] == "dsp-center"
    assert record["version"] == "urvc-core 0.1.0"
    assert record["parameters"] == {"settings": {"n_fft": 4096}}
    assert record["inputs"] == {"audio": "ab" * 32}
    assert record["extra"] == {"pitch_shift": 2.0}
    assert record["created"].endswith("+00:00")
    output = record["outputs"]["Vocals"]
    assert (output["sample_rate"], output["channels"], output["frames"]) == (22050, 2, 11025)
    assert again.path("Vocals").name == "vocals.wav"


def test_files_are_kept_with_their_hash(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")

    def compute(staging: Path) -> StepResult:
        (staging / "cover.mp3").write_bytes(b"not really an mp3")
        return StepResult(files={"cover": staging / "cover.mp3"})

    entry, _ = _store(cache, "2" * 64, compute, step="mix")
    assert entry.path("cover").read_bytes() == b"not really an mp3"
    assert entry.digest("cover") == file_digest(entry.path("cover"))


@pytest.mark.parametrize("interruption", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_step_that_fails_half_way_leaves_nothing_that_looks_finished(
    tmp_path: Path, interruption: BaseException
) -> None:
    cache = StepCache(tmp_path / "cache")

    def compute(staging: Path) -> StepResult:
        (staging / "vocals.wav").write_bytes(b"RIFF half a file")
        raise interruption

    with pytest.raises(type(interruption)):
        _store(cache, "3" * 64, compute)
    assert cache.lookup("3" * 64) is None
    assert cache.entries() == []
    assert not any((tmp_path / "cache" / ".staging").iterdir())
    _, hit = _store(cache, "3" * 64, _compute(_tone()))
    assert not hit


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from urvc_core.cache import StepCache, StepResult

    def compute(staging):
        (staging / "vocals.wav").write_bytes(b"RIFF" + b"0" * 1000)
        Path(sys.argv[2]).write_text("started")
        time.sleep(60)
        return StepResult()

    StepCache(Path(sys.argv[1])).get_or_compute(
        "4" * 64, compute, step="s", backend="b", version="v", parameters={}, inputs={}
    )
    """
)


def test_a_killed_process_leaves_no_entry_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    started = tmp_path / "started"
    process = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(root), str(started)])
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the writer never started"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    cache = StepCache(root)
    assert cache.lookup("4" * 64) is None and cache.entries() == []
    assert len(list((root / ".staging").iterdir())) == 1  # the dead run's, ignored
    assert len(list((root / ".locks").iterdir())) == 1
    _, hit = _store(cache, "4" * 64, _compute(_tone()))
    assert not hit
    assert list((root / ".staging").iterdir()) == []
    assert list((root / ".locks").iterdir()) == []  # removed with the lock let go
    assert cache.lookup("4" * 64) is not None


# Holds one key's lock, as a run computing that step does, until it is killed.
_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from urvc_core.cache import StepCache

    with StepCache(Path(sys.argv[1])).lock(sys.argv[2]):
        Path(sys.argv[3]).write_text("holding")
        time.sleep(120)
    """
)


def test_the_next_run_removes_dead_runs_leftovers_and_keeps_a_live_run_s(
    tmp_path: Path,
) -> None:
    root = tmp_path / "cache"
    dead, live, young = "d" * 64, "e" * 64, "f" * 64
    (root / ".locks").mkdir(parents=True)
    dead_staging = root / ".staging" / f"{dead}.0badc0de"
    dead_staging.mkdir(parents=True)
    (dead_staging / "vocals.wav").write_bytes(b"RIFF" + b"0" * 1000)
    dead_lock = root / ".locks" / f"{dead}.lock"
    dead_lock.touch()
    live_staging = root / ".staging" / f"{live}.1234abcd"
    live_staging.mkdir()
    young_staging = root / ".staging" / f"{young}.5678abcd"  # a minute old: left alone
    young_staging.mkdir()
    two_hours_ago = time.time() - 2 * 3600
    for path in (dead_staging, dead_lock, live_staging):
        os.utime(path, (two_hours_ago, two_hours_ago))
    holding = tmp_path / "holding"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(root), live, str(holding)])
    try:
        deadline = time.monotonic() + 60
        while not holding.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holding.exists(), "the holder never took the lock"

        _store(StepCache(root), "4" * 64, _compute(_tone()))

        assert sorted(p.name for p in (root / ".staging").iterdir()) == [
            live_staging.name,
            young_staging.name,
        ]
        assert [p.name for p in (root / ".locks").iterdir()] == [f"{live}.lock"]
    finally:
        holder.kill()
        holder.wait(timeout=30)


# Takes one key's lock again and again; inside, a file only one process may create.
_CONTENDER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from urvc_core.cache import StepCache

    cache, inside = StepCache(Path(sys.argv[1])), Path(sys.argv[2])
    for _ in range(150):
        with cache.lock("c" * 64):
            os.close(os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            os.unlink(inside)
    """
)


def test_lock_files_removed_on_release_never_let_two_processes_in(tmp_path: Path) -> None:
    # Each holder removes the lock file before letting go; a waiter that opened the old
    # file must notice and lock the new one, or two processes would be inside at once.
    root = tmp_path / "cache"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CONTENDER, str(root), str(tmp_path / "inside")],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    assert list((root / ".locks").iterdir()) == []


def test_a_damaged_entry_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    entry, _ = _store(cache, "5" * 64, _compute(_tone()))
    with entry.path("Vocals").open("r+b") as file:
        file.truncate(100)
    assert cache.lookup("5" * 64) is None
    calls: list[int] = []
    entry, hit = _store(cache, "5" * 64, _compute(_tone(), calls))
    assert not hit and calls == [1]
    (entry.folder / "record.json").write_text("{not json")
    assert cache.lookup("5" * 64) is None


def test_refresh_recomputes(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    calls: list[int] = []
    _store(cache, "6" * 64, _compute(_tone(), calls))
    _, hit = _store(cache, "6" * 64, _compute(_tone(0.25), calls), refresh=True)
    assert not hit and calls == [1, 1]
    refreshed = cache.lookup("6" * 64)
    assert refreshed is not None
    assert refreshed.audio("Vocals").duration == pytest.approx(0.25, abs=1e-3)


_RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from urvc_core.backends import Audio
    from urvc_core.cache import StepCache, StepResult

    root, markers, number, go = sys.argv[1:5]

    def compute(staging):
        (Path(markers) / f"computed-{number}").write_text("")
        time.sleep(0.5)  # long enough for every other process to reach the lock
        return StepResult(audio={"Vocals": Audio(np.full((2, 1000), 0.1, np.float32), 8000)})

    while not Path(go).exists():  # start together
        time.sleep(0.01)
    entry, _ = StepCache(Path(root)).get_or_compute(
        "7" * 64, compute, step="s", backend="b", version="v", parameters={}, inputs={}
    )
    print(entry.digest("Vocals"))
    """
)


def test_processes_racing_for_one_step_compute_it_once(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(tmp_path / "cache"), str(markers), str(n), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    time.sleep(0.5)
    go.write_text("")
    digests = [process.communicate(timeout=120)[0].strip() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0]
    assert len(list(markers.iterdir())) == 1
    assert len(set(digests)) == 1 and len(digests[0]) == 64
    assert len(StepCache(tmp_path / "cache").entries()) == 1


def test_clear_by_age_and_all(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    old, _ = _store(cache, "8" * 64, _compute(_tone()))
    _store(cache, "9" * 64, _compute(_tone()))
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old.folder, (ten_days_ago, ten_days_ago))
    report = cache.clear(older_than_days=5)
    assert (report.removed, report.kept) == (1, 1)
    assert report.freed_bytes > 0
    assert [e.key for e in cache.entries()] == ["9" * 64]
    assert cache.clear().removed == 1
    assert cache.entries() == []
    assert list((tmp_path / "cache" / ".locks").iterdir()) == []


def test_keys_are_found_by_prefix(tmp_path: Path) -> None:
    cache = StepCache(tmp_path / "cache")
    _store(cache, "abcd1" + "0" * 59, _compute(_tone()))
    _store(cache, "abcd2" + "0" * 59, _compute(_tone()))
    assert cache.find("abcd1").key == "abcd1" + "0" * 59
    with pytest.raises(UrvcError, match="give more characters"):
        cache.find("abcd")
    with pytest.raises(UrvcError, match="at least 4"):
        cache.find("ab")
    with pytest.raises(UrvcError, match="No cached result"):
        cache.find("ffff")


def test_the_cache_commands(urvc_home: Path) -> None:
    cache = StepCache()  # the home's
    entry, _ = _store(cache, "c" * 64, _compute(_tone()))
    runner = CliRunner()

    listed = runner.invoke(cli, ["cache", "list"])
    assert listed.exit_code == 0, listed.output
    assert "cccccccccccc" in listed.output and "separate.vocals" in listed.output
    as_json = json.loads(runner.invoke(cli, ["cache", "list", "--json"]).output)
    assert as_json[0]["key"] == "c" * 64 and as_json[0]["files"]["Vocals"] == str(
        entry.path("Vocals")
    )

    shown = json.loads(runner.invoke(cli, ["cache", "show", "cccc", "--json"]).output)
    assert shown["parameters"] == {"settings": {"n_fft": 4096}}
    assert "dsp-center" in runner.invoke(cli, ["cache", "show", "cccc"]).output

    refused = runner.invoke(cli, ["cache", "clear"])
    assert refused.exit_code == 2
    cleared = runner.invoke(cli, ["cache", "clear", "--older-than", "1"])
    assert "Removed 0" in cleared.output
    cleared = runner.invoke(cli, ["cache", "clear", "--all"])
    assert cleared.exit_code == 0 and "Removed 1" in cleared.output
    assert runner.invoke(cli, ["cache", "list"]).output.strip() == "The cache is empty."
    missing = runner.invoke(cli, ["cache", "show", "dddd"])
    assert missing.exit_code == 1 and "No cached result" in missing.output
