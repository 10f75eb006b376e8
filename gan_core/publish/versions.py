"""Version names (``v0003``), the LATEST pointer, and resolving "latest" to a version directory.

``latest`` always means "read LATEST" (``resolve_version(dataset_dir)``), never "the highest
``vNNNN`` directory": LATEST moves only after a version directory is complete and in place.
A version is a ``vNNNN`` directory holding ``manifest.json``: on an object store the manifest is
written last, so a version whose upload is still running (or died) is invisible. The readers here
take a local ``Path`` or an ``s3://`` URL (:mod:`gan_core.io.store`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from gan_core.io import store
from gan_core.io.fsutil import atomic_write_bytes
from gan_core.io.store import Target
from gan_core.publish.schema import MANIFEST_FILE, PublishError

logger = logging.getLogger(__package__)  # the package logger, as before the split into modules

LATEST_FILE = "LATEST"
LOCK_FILE = ".lock"
_VERSION_PATTERN = re.compile(r"^v(\d{4,})$")
# Leftovers of a publisher killed mid-way: a staging or rollback directory, or a LATEST temp file.
_STALE_PATTERN = re.compile(r"^\.(v\d{4,}\.(tmp|rollback)|LATEST\.tmp)\.[0-9a-f]{32}$")


def version_name(version: int) -> str:
    """Returns the directory name of a version number, e.g. 3 -> "v0003"."""
    return f"v{version:04d}"


def parse_version_name(name: str) -> int | None:
    """The number of a version name ("v0003" -> 3), or None if ``name`` is not one."""
    match = _VERSION_PATTERN.match(name)
    return int(match.group(1)) if match else None


def list_versions(dataset_dir: Target) -> list[int]:
    """Returns the published version numbers in ``dataset_dir``, ascending ([] if none).

    Only ``vNNNN`` directories holding a manifest count, so an upload in progress never shows.
    """
    dataset_dir = store.as_target(dataset_dir)
    versions = []
    for name, is_directory in store.list_dir(dataset_dir):
        # Hidden staging directories (".v0003.tmp.<uuid>") do not match the pattern.
        number = parse_version_name(name)
        if number and is_directory and store.is_file(store.join(dataset_dir, name, MANIFEST_FILE)):
            versions.append(number)
    return sorted(versions)


def _parse_version(version: str | int) -> int:
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise ValueError(f"version must be 'latest', an int or a 'v0003'-style name, got {version!r}")
    if isinstance(version, str):
        match = re.fullmatch(r"v?(\d+)", version.strip())
        if not match:
            raise ValueError(f"version {version!r} is not 'latest', a number or a 'v0003'-style name")
        version = int(match.group(1))
    if version < 1:
        raise ValueError(f"version numbers start at 1, got {version}")
    return version


def read_latest(dataset_dir: Target) -> int | None:
    """The version number LATEST names, or None if there is no LATEST."""
    pointer = store.join(store.as_target(dataset_dir), LATEST_FILE)
    try:
        text = store.read_bytes(pointer).decode(errors="replace").strip()
    except (FileNotFoundError, IsADirectoryError):
        return None
    match = _VERSION_PATTERN.match(text)
    if not match:
        raise PublishError(
            f"{pointer} holds {text!r}, not a version name like 'v0003'; write the name of an "
            f"existing version directory into it (available: {list_versions(dataset_dir)})"
        )
    return int(match.group(1))


def resolve_version(dataset_dir: Target, version: str | int = "latest") -> Target:
    """Returns the directory of one published version.

    Args:
        dataset_dir: ``<output_root>/<dataset_name>``: a local path or an ``s3://`` URL.
        version: "latest" (reads the LATEST file), a number (3) or a name ("v0003" or "3").

    Returns:
        The version directory: a ``Path``, or a URL string for a remote dataset.

    Raises:
        FileNotFoundError: Nothing is published there, or that version does not exist.
        PublishError: LATEST exists but does not hold a version name.
    """
    dataset_dir = store.as_target(dataset_dir)
    if version == "latest":
        number = read_latest(dataset_dir)
        if number is None:
            raise FileNotFoundError(
                f"{store.join(dataset_dir, LATEST_FILE)} does not exist, so nothing is published in "
                f"{dataset_dir} yet (version directories: {list_versions(dataset_dir)}); run "
                "publish_version first or pass an explicit version"
            )
    else:
        number = _parse_version(version)
    path = store.join(dataset_dir, version_name(number))
    if not store.is_file(store.join(path, MANIFEST_FILE)):
        raise FileNotFoundError(
            f"version {version_name(number)} is not published in {dataset_dir} "
            f"(available: {list_versions(dataset_dir)})"
        )
    return path


def point_latest(dataset_dir: Path, final: Path, version: int) -> None:
    current = read_latest(dataset_dir)
    if current is not None and current > version:
        # A concurrent publisher already moved LATEST past us; do not move it backwards.
        logger.warning("LATEST already points to %s; leaving it (published %s)", version_name(current), final)
        return
    try:
        atomic_write_bytes(dataset_dir / LATEST_FILE, f"{version_name(version)}\n".encode())
    except BaseException as exc:
        # Keep the promise that a failed publish leaves no visible version: take it back out
        # with one rename (atomic for readers), then delete it.
        trash = final.with_name(f".{final.name}.rollback.{uuid.uuid4().hex}")
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
        if isinstance(exc, OSError):
            raise PublishError(
                f"could not update {dataset_dir / LATEST_FILE} ({exc}); {final.name} was removed again, "
                "so nothing was published. Fix the cause and publish again"
            ) from exc
        raise


@contextmanager
def dataset_lock(dataset_dir: Path) -> Iterator[None]:
    """Holds an exclusive ``flock`` on ``<dataset_dir>/.lock`` for one publish transaction.

    Publishers pick a number, stage, rename and move LATEST under the lock, so two of them can
    never interleave a read and a write of LATEST. The kernel drops the lock when its holder
    dies, even by SIGKILL, so a crashed publisher never blocks the next one.
    """
    dataset_dir = Path(dataset_dir)
    dataset_dir.mkdir(parents=True, exist_ok=True)
    with open(dataset_dir / LOCK_FILE, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def remove_stale_staging(dataset_dir: Path) -> list[str]:
    """Deletes what killed publishers left behind (hidden staging dirs, LATEST temp files).

    Call it only while holding :func:`dataset_lock`: then no live publisher owns any of them.
    Readers never see these entries either way (they are hidden and never match ``vNNNN``).

    Returns:
        The names removed.
    """
    removed = []
    for entry in Path(dataset_dir).iterdir():
        if _STALE_PATTERN.match(entry.name):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
    if removed:
        logger.warning("removed %d leftover(s) of interrupted publishes in %s: %s", len(removed), dataset_dir, removed)
    return removed
