"""The manifest of a published version: reserved keys, JSON rules, reading it, and the git commit
it records."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from gan_core.io import store
from gan_core.io.store import Target
from gan_core.publish.schema import MANIFEST_FILE, SCHEMA_VERSION, PublishError

# Keys publish_version writes itself; manifest_fields may not use them.


RESERVED_MANIFEST_KEYS = frozenset(
    {
        "schema_version",
        "dataset_name",
        "version",
        "version_name",
        "created_at",
        "code_version",
        "class_names",
        "image_shape",
        "image_format",
        "compression",
        "rows_per_shard",
        "num_rows",
        "rows_per_split",
        "rows_per_label",
        "rows_per_source",
        "rows_per_split_source",
        "shards",
        "files",
        "arrow_schema",
        "manifest_sha256",
    }
)
# The manifest's own digest: sha256 of its canonical JSON without this key, so verify notices an
# edited manifest. Versions published before it existed carry no digest and skip that check.
MANIFEST_DIGEST_KEY = "manifest_sha256"


def read_manifest(version_dir: Target) -> dict:
    """Reads and sanity-checks ``<version_dir>/manifest.json`` (a local path or an ``s3://`` URL).

    Raises:
        FileNotFoundError: ``version_dir`` is not a published version.
        PublishError: The manifest is unreadable or from a newer schema.
    """
    path = store.join(store.as_target(version_dir), MANIFEST_FILE)
    try:
        data = store.read_bytes(path)
    except (FileNotFoundError, IsADirectoryError):
        raise FileNotFoundError(
            f"{path} not found: {version_dir} is not a published version directory "
            "(<output_root>/<dataset_name>/vNNNN); use resolve_version(dataset_dir) to pick one"
        ) from None
    try:
        manifest = json.loads(data.decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PublishError(f"{path} is not valid JSON ({exc}); restore it or re-publish") from exc
    schema_version = manifest.get("schema_version") if isinstance(manifest, dict) else None
    if not isinstance(schema_version, int):
        raise PublishError(f"{path} has no integer schema_version; it was not written by publish_version")
    if schema_version > SCHEMA_VERSION:
        raise PublishError(
            f"{path} uses manifest schema {schema_version}, newer than this gan_core "
            f"({SCHEMA_VERSION}); upgrade gan_core to read it"
        )
    return manifest


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """Returns the git commit of the gan_core checkout, or None when that is not cheap to know."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _json_default(value: Any) -> Any:
    # Callers pass metrics straight from numpy; store them as plain JSON numbers and lists.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_json(payload: Any) -> str:
    return json.dumps(payload, indent=2, sort_keys=True, default=_json_default, allow_nan=False) + "\n"


def manifest_digest(manifest: dict) -> str:
    """Returns the sha256 of ``manifest``'s canonical JSON, leaving out its own digest."""
    body = {key: value for key, value in manifest.items() if key != MANIFEST_DIGEST_KEY}
    return hashlib.sha256(dump_json(body).encode()).hexdigest()


def check_manifest_fields(manifest_fields: dict) -> dict:
    if not isinstance(manifest_fields, dict):
        raise ValueError(f"manifest_fields must be a dict, got {type(manifest_fields).__name__}")
    bad_keys = [key for key in manifest_fields if not isinstance(key, str)]
    if bad_keys:
        raise ValueError(f"manifest_fields keys must be strings, got {bad_keys!r}")
    collisions = sorted(RESERVED_MANIFEST_KEYS.intersection(manifest_fields))
    if collisions:
        raise ValueError(
            f"manifest_fields uses reserved key(s) {collisions}; publish_version writes those itself, "
            "so rename them (e.g. nest them under your own key)"
        )
    try:
        # Round-trip now so a bad value fails before anything is written, and numpy values
        # come back as plain numbers.
        return json.loads(dump_json(manifest_fields))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"manifest_fields must be JSON-serializable without NaN/inf ({exc}); convert the value, "
            "e.g. use None for a missing metric"
        ) from exc


def image_shape(manifest: dict) -> tuple[int, int, int]:
    """(H, W, C) of a version's images; versions written before RGB support record [H, W] (grayscale)."""
    height, width, *channels = manifest["image_shape"]
    return int(height), int(width), int(channels[0]) if channels else 1
