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
