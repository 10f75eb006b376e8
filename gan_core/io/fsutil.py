"""Crash-safe writes: temp file + fsync + ``os.replace``, and directories staged then renamed."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def fsync_dir(directory: Path) -> None:
    """Flushes a directory entry so a rename inside it survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` so readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp.{uuid.uuid4().hex}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_dir(path.parent)


def atomic_write_json(path: Path, payload: object) -> None:
    """Writes JSON atomically, pretty-printed with sorted keys."""
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n").encode())


def fsync_tree(directory: Path) -> None:
    """Flushes every file and directory below ``directory``."""
    for path in sorted(Path(directory).rglob("*"), reverse=True):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        else:
            fsync_dir(path)
    fsync_dir(directory)


@contextmanager
def staged_directory(final: Path) -> Iterator[Path]:
    """Yields a hidden sibling directory that is renamed to ``final`` only if the block succeeds.

    Raises:
        FileExistsError: ``final`` already exists; nothing is overwritten.
    """
    final = Path(final)
    if final.exists():
        raise FileExistsError(f"{final} already exists and is never overwritten")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.with_name(f".{final.name}.tmp.{uuid.uuid4().hex}")
    staging.mkdir()
    try:
        yield staging
        fsync_tree(staging)
        # os.rename onto an existing directory fails on Linux only if it is non-empty, so check
        # again right before the rename to keep the never-overwrite promise.
        if final.exists():
            raise FileExistsError(f"{final} appeared while staging and is never overwritten")
        os.rename(staging, final)
        fsync_dir(final.parent)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


_NPZ_CHUNK = 1 << 20


def _write_npz_members(handle, arrays: dict) -> None:
    """Writes ``arrays`` as an uncompressed ``.npz`` into a seekable binary ``handle``, deterministically.

    Every member gets a fixed stamp and no pickles, written here rather than left to ``np.savez``,
    so the bytes are a content hash whatever numpy version wrote them. Each array goes out in 1 MiB
    slices of its own buffer, so nothing but the arrays themselves is held in memory.
    """
    import zipfile

    import numpy as np

    with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            array = np.asanyarray(array)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                if array.flags.c_contiguous and not array.dtype.hasobject:
                    # The bytes write_array writes, without its 16 MiB buffer and the copy of it.
                    np.lib.format.write_array_header_1_0(member, np.lib.format.header_data_from_array_1_0(array))
                    data = memoryview(array.reshape(-1)).cast("B")
                    for start in range(0, len(data), _NPZ_CHUNK):
                        member.write(data[start : start + _NPZ_CHUNK])
                else:
                    np.lib.format.write_array(member, array, allow_pickle=False)


def npz_bytes(arrays: dict) -> bytes:
    """The bytes of an uncompressed ``.npz`` of ``arrays``; the same arrays always give the same bytes."""
    import io

    buffer = io.BytesIO()
    _write_npz_members(buffer, arrays)
    return buffer.getvalue()


def write_npz(path: Path, arrays: dict) -> None:
    """Writes :func:`npz_bytes`' bytes to ``path``, streaming: no second copy of the arrays in memory.

    Not atomic by itself: meant for a file inside :func:`staged_directory`, whose rename is.
    """
    with open(path, "wb") as handle:
        _write_npz_members(handle, arrays)
