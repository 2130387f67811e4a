"""Atomic writes: a file appears whole or not at all, and nothing else is left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from urvc_core.atomic_files import (
    atomic_destination,
    copy_file_atomically,
    write_bytes_atomically,
    write_text_atomically,
)


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_contents_land_whole(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    target = tmp_path / "model.pth"

    assert write_bytes_atomically(target, data) == target

    assert target.read_bytes() == data
    assert files_in(tmp_path) == ["model.pth"]


def test_text_is_written_as_given(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"

    write_text_atomically(target, 'device = "cpu"\nname = "Café"\n')

    # No newline translation, on any platform: the bytes are the text's.
    assert target.read_bytes() == 'device = "cpu"\nname = "Café"\n'.encode()


def test_an_existing_file_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "pitch.csv"
    target.write_text("old\n")

    write_text_atomically(target, "new\n")

    assert target.read_text() == "new\n"
    assert files_in(tmp_path) == ["pitch.csv"]


def test_a_copy_lands_whole(tmp_path: Path) -> None:
    source = tmp_path / "cache" / "cover.wav"
    source.parent.mkdir()
    source.write_bytes(os.urandom(100_000))
    target = tmp_path / "covers" / "song (cover).wav"

    assert copy_file_atomically(source, target) == target

    assert target.read_bytes() == source.read_bytes()
    assert files_in(target.parent) == ["song (cover).wav"]


def test_missing_parent_folders_are_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "index.index"

    write_bytes_atomically(target, b"faiss")

    assert target.read_bytes() == b"faiss"


def test_the_temporary_file_is_hidden_beside_the_target_and_keeps_its_suffix(
    tmp_path: Path,
) -> None:
    target = tmp_path / "song.flac"

    with atomic_destination(target) as temporary:
        # Writers such as ffmpeg and torch.onnx.export choose a format from the suffix.
        assert temporary.suffix == ".flac"
        assert temporary.parent == tmp_path
        assert temporary.name.startswith(".song.flac.")
        assert temporary.exists(), "the temporary file is there to be written"
        assert not target.exists(), "the target appears only at the end"
        temporary.write_bytes(b"fLaC")

    assert target.read_bytes() == b"fLaC"


def test_an_error_in_the_middle_leaves_the_previous_file_intact_and_no_temporary_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "model.pth"
    target.write_bytes(b"the previous model")

    with pytest.raises(RuntimeError, match="disk full"), atomic_destination(target) as temporary:
        temporary.write_bytes(b"half of a new mo")
        raise RuntimeError("disk full")

    assert target.read_bytes() == b"the previous model"
    assert files_in(tmp_path) == ["model.pth"]


def test_a_keyboard_interrupt_leaves_the_previous_file_intact_and_no_temporary_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "song.wav"
    target.write_bytes(b"RIFF the previous song")

    with pytest.raises(KeyboardInterrupt), atomic_destination(target) as temporary:
        temporary.write_bytes(b"RIFF")
        raise KeyboardInterrupt

    assert target.read_bytes() == b"RIFF the previous song"
    assert files_in(tmp_path) == ["song.wav"]


def test_a_failed_copy_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.wav"

    with pytest.raises(FileNotFoundError):
        copy_file_atomically(tmp_path / "missing.wav", target)

    assert files_in(tmp_path) == []


def test_a_failed_rename_leaves_the_previous_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Windows does when another program has the target open.
    def refuse(source: object, destination: object) -> None:
        raise PermissionError(13, "Permission denied")

    target = tmp_path / "preset.toml"
    target.write_text("old = true\n")
    monkeypatch.setattr(os, "replace", refuse)

    with pytest.raises(PermissionError):
        write_text_atomically(target, "new = true\n")

    assert target.read_text() == "old = true\n"
    assert files_in(tmp_path) == ["preset.toml"]


def test_a_folder_in_the_way_is_refused_before_any_writing(tmp_path: Path) -> None:
    target = tmp_path / "song.wav"
    target.mkdir()
    written: list[Path] = []

    with pytest.raises(IsADirectoryError), atomic_destination(target) as temporary:
        written.append(temporary)

    assert not written
    assert files_in(tmp_path) == ["song.wav"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_a_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "pitch.csv"

    write_text_atomically(target, "time_s,f0_hz\n")

    # Not mkstemp's 0600: the umask decides, as for any file a program creates.
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_text("old\n")
    target.chmod(0o600)

    write_text_atomically(target, "new\n")

    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_the_module_imports_only_the_standard_library() -> None:
    import subprocess
    import sys

    # Plugins import it, so it must cost nothing beyond what urvc_core already loads.
    code = (
        "import sys, urvc_core; before = set(sys.modules); import urvc_core.atomic_files; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} "
        "- set(sys.stdlib_module_names) - {'urvc_core'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
