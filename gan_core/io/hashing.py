"""Content hashes: of a file, of a directory tree, and of a JSON payload (cache and run keys)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Returns the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(directory: Path) -> str:
    """Hashes every file below ``directory`` (relative path + bytes), in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def payload_digest(payload: object, length: int | None = None) -> str:
    """Returns the hex sha256 of ``payload`` as sorted-key JSON, cut to ``length`` characters.

    Values JSON cannot hold (paths, dates) are hashed as their ``str``; the keys built from this
    (cache entries, run directories) are on disk, so the encoding must never change.
    """
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
