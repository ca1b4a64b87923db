"""Output paths fail early and in one line; an output never replaces an input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.fsutil import atomic_write, ensure_folder, ensure_writable


def test_ensure_writable_names_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    cases = {tmp_path / "adir": "is a directory", tmp_path / "afile" / "x.json": "is a file, not a folder",
             tmp_path / "afile" / "y" / "x.json": "is a file, not a folder"}
    for path, message in cases.items():
        with pytest.raises(InputError, match=message):
            ensure_writable(path, "scan result")
    with pytest.raises(InputError, match="would overwrite an input"):
        ensure_writable(tmp_path / "." / "afile", "scan result", protect=[tmp_path / "afile"])
    assert (tmp_path / "afile").read_text() == "x"
    new = ensure_writable(tmp_path / "new" / "deeper" / "out.json")
    assert new.parent.is_dir() and not new.exists() and list(new.parent.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_ensure_writable_refuses_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InputError, match="cannot write the report"):
            ensure_writable(folder / "x.html", "report")
    finally:
        folder.chmod(0o700)


def test_atomic_write_turns_os_errors_into_input_errors(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="afile is a file"):
        atomic_write(tmp_path / "afile" / "x.json", "{}")
    with pytest.raises(InputError, match="is a directory"):
        atomic_write(tmp_path, "{}")
    atomic_write(tmp_path / "ok.json", "{}")
    assert (tmp_path / "ok.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "ok.json"]  # no temporary left behind


def test_ensure_folder_makes_it_or_says_why_not(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="--out must be a folder, and this is a file"):
        ensure_folder(tmp_path / "afile", "--out")
    with pytest.raises(InputError, match="afile is a file, not a folder"):
        ensure_folder(tmp_path / "afile" / "sub")
    made = ensure_folder(tmp_path / "new" / "sub")
    assert made.is_dir() and (tmp_path / "afile").read_text() == "x"
