"""The publish transaction on an object store (``s3://``), where nothing can be renamed.

The same promise as on a local disk, kept with conditional PUTs instead of rename and flock:

1. **Claim** the next version number with a create-only PUT of ``<dataset>/.claims/vNNNN``
   (``If-None-Match: *``): of publishers racing for a number exactly one gets it, and the claim
   outlives a failed publish, so a number is never used twice.
2. **Upload** the shards, the dataset card and its grid under ``vNNNN/``, then ``manifest.json``
   last. Readers and ``verify`` only see a ``vNNNN/`` that holds a manifest, so a version still
   uploading (or abandoned by a killed publisher) is invisible.
3. **Move LATEST** with a compare-and-swap PUT (``If-Match`` on the ETag read just before, or
   ``If-None-Match: *`` for the first version), never backwards.

A publish that fails deletes what it uploaded, manifest first; one killed outright leaves
manifest-less objects under its claimed number, invisible and never reused (delete them by hand).

Limits: this needs a store that honours conditional PUTs (AWS S3 since 2024, MinIO, moto). A store
that ignores ``If-None-Match`` silently gives two concurrent publishers the same number; one at a
time per dataset is then the rule. Reading LATEST and then the version it names is two requests,
so a reader can see a version that LATEST has already moved past, never a partial one.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime, timezone
from typing import Callable

from gan_core.io import store
from gan_core.publish.schema import MANIFEST_FILE, PublishError
from gan_core.publish.versions import LATEST_FILE, parse_version_name, read_latest, version_name

logger = logging.getLogger(__package__)

CLAIMS_DIR = ".claims"
# Rounds of "read, then conditional PUT" before giving up when other publishers keep winning.
_MAX_ATTEMPTS = 10


def _conflict(error: OSError) -> bool:
    """Whether a PUT lost a race: its precondition failed (412) or a concurrent one did (409)."""
    if isinstance(error, FileExistsError):
        return True
    response = getattr(error.__cause__, "response", None) or {}
    return response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict")


def taken_numbers(dataset: str) -> set[int]:
    """Every number in use: claims, ``vNNNN/`` prefixes with or without a manifest, and LATEST."""
    numbers = set()
    for directory in (dataset, store.join(dataset, CLAIMS_DIR)):
        numbers.update(parse_version_name(name) or 0 for name, _ in store.list_dir(directory))
    latest = read_latest(dataset)
    return (numbers | {latest or 0}) - {0}


def claim_version(dataset: str) -> int:
    """Claims the next free version number of ``dataset`` with a create-only PUT; returns it.

    Raises:
        PublishError: Other publishers took every number tried.
    """
    version = 0
    for _ in range(_MAX_ATTEMPTS):
        version = max(version, *taken_numbers(dataset), 0) + 1
        fs, claim = store.filesystem(store.join(dataset, CLAIMS_DIR, version_name(version)))
        owner = {"host": socket.gethostname(), "pid": os.getpid(), "at": datetime.now(timezone.utc).isoformat()}
        try:
            fs.pipe_file(claim, json.dumps(owner).encode(), mode="create")
            return version
        except OSError as error:
            if not _conflict(error):
                raise
            logger.warning("%s was claimed by another publisher; trying the next number", version_name(version))
    raise PublishError(
        f"could not claim a new version number in {dataset} after {_MAX_ATTEMPTS} attempts (other publishers "
        "keep taking them); nothing was published, try again"
    )


def move_latest(dataset: str, version: int) -> None:
    """Points LATEST at ``version`` unless it already names a newer one (compare-and-swap)."""
    fs, pointer = store.filesystem(store.join(dataset, LATEST_FILE))
    data = f"{version_name(version)}\n".encode()
    for _ in range(_MAX_ATTEMPTS):
        try:
            etag = fs.info(pointer)["ETag"]
        except FileNotFoundError:
            etag = None
        current = read_latest(dataset)
        if current is not None and current > version:
            logger.warning("LATEST already points to %s; leaving it (published %s)", version_name(current), version)
            return
        try:
            # The PUT succeeds only if LATEST is still what was just read, so it never moves backwards.
            if etag is None:
                fs.pipe_file(pointer, data, mode="create")
            else:
                fs.pipe_file(pointer, data, IfMatch=etag)
            return
        except OSError as error:
            if not _conflict(error):
                raise
    raise PublishError(f"LATEST in {dataset} kept changing under {_MAX_ATTEMPTS} attempts to move it")


def _discard(version_url: str) -> None:
    """Deletes an unfinished version's objects, manifest first so it turns invisible at once."""
    fs, path = store.filesystem(version_url)
    try:
        fs.rm(f"{path}/{MANIFEST_FILE}")
    except FileNotFoundError:
        pass
    except Exception:  # the cleanup must not hide the error that caused it
        logger.exception("could not delete the manifest of %s; delete the prefix by hand", version_url)
        return
    try:
        fs.rm(path, recursive=True)
    except FileNotFoundError:
        pass
    except Exception:
        logger.exception("could not delete %s (invisible without its manifest); delete it by hand", version_url)


def publish_remote(
    dataset: str, write: Callable[[str, dict], dict], head: dict, before_latest: Callable[[], None]
) -> tuple[str, int, dict]:
    """Claims a number, uploads the version through ``write`` (manifest last), then moves LATEST.

    Args:
        dataset: ``s3://bucket/prefix/<dataset_name>``.
        write: Uploads the version's files under the URL it gets; returns the manifest.
        head: Manifest fields known up front; the version fields are filled in here.
        before_latest: Called between the manifest upload and the LATEST move (a fault point).

    Returns:
        (version URL, version number, manifest).
    """
    version = claim_version(dataset)
    final = store.join(dataset, version_name(version))
    head.update(
        version=version,
        version_name=version_name(version),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    try:
        manifest = write(final, head)
        before_latest()
        move_latest(dataset, version)
    except BaseException as exc:
        _discard(final)
        if isinstance(exc, Exception):
            exc.add_note(
                f"nothing was published to {dataset}: {version_name(version)} was removed again and stays claimed "
                "(its number is never reused)"
            )
        raise
    return final, version, manifest
