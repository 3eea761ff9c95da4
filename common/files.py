"""Files: atomic writes (a reader sees the old file or the whole new one), digests, probes."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, flush it to disk, then rename it over.

    The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return _finite(value.item())
    return value


def write_json(path: str | Path, data: Any) -> None:
    """Write `data` as indented JSON, atomically; NaN and infinities become null."""
    write_text(path, json.dumps(_finite(data), indent=2, ensure_ascii=False) + "\n")


# What a killed writer leaves behind: `.<name>.<random>.tmp` (write_text, the HTML report),
# `.<pid>.tmp.weights.h5` (tuner checkpoints), `.<folder>.<token>.tmp` / `.old` (model export).
_TEMPORARY = re.compile(r"^\..+\.(tmp|old)(\.weights\.h5)?$")


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files and folders that killed atomic writes left in `folder`.

    Only call it when no other process writes to `folder` (e.g. before a resumed search).

    Returns:
        What was removed.
    """
    removed = []
    for path in sorted(Path(folder).rglob(".*")):
        if _TEMPORARY.match(path.name) and path.exists():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as hex.

    Raises:
        OSError: if the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def nearest_existing(path: str | Path) -> Path:
    """`path` itself if it exists, else its nearest ancestor that does: where making it starts."""
    probe = Path(path)
    while not probe.exists():
        probe = probe.parent
    return probe


def can_create_in(folder: str | Path) -> bool:
    """True when this process may create files in `folder`, making it (and any missing folders
    above it) first if need be."""
    probe = nearest_existing(folder)
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)
