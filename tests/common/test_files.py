from __future__ import annotations

import json
import os
import stat

import pytest

from common.files import write_json, write_text


def test_atomic_write_replaces_whole_and_keeps_usual_permissions(tmp_path):
    path = tmp_path / "metrics.json"
    write_text(path, "old")
    write_json(path, {"loss": float("nan"), "n": 3})
    assert json.loads(path.read_text()) == {"loss": None, "n": 3}
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "trials.csv"
    write_text(path, "complete,old\n")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_text(path, "new")
    assert path.read_text() == "complete,old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["trials.csv"]


def test_sha256_is_the_files_digest(tmp_path):
    import hashlib

    from common.files import sha256

    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * (3 << 20))  # several of its blocks
    assert sha256(path) == hashlib.sha256(b"x" * (3 << 20)).hexdigest()


def test_can_create_in_refuses_a_path_below_a_file(tmp_path):
    from common.files import can_create_in

    (tmp_path / "file").write_text("")
    assert not can_create_in(tmp_path / "file" / "sub")
    assert can_create_in(tmp_path / "a" / "b")
