"""Where published data lives: a local directory (a ``Path``) or an object-store URL (``s3://bucket/prefix``).

A *target* is either a ``pathlib.Path`` (local) or a URL string (remote); :func:`as_target` turns
user input into one, and :func:`filesystem` is the one place that turns a target into an fsspec
``(filesystem, path)`` pair. The small helpers below (read, write, list, hash) work on both, so
readers have one code path. Local publishing keeps its own crash-safe transaction
(:mod:`gan_core.io.fsutil`: staging, fsync, rename, flock); only the remote one is written against
this module's primitives.

Credentials and the endpoint come from the standard AWS environment, which s3fs (botocore) reads:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` (for a non-AWS server such as
MinIO or moto), ``AWS_DEFAULT_REGION`` or a profile in ``~/.aws``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Union

import fsspec

logger = logging.getLogger(__name__)

Target = Union[Path, str]
# Object stores the publish transaction knows how to write safely (conditional PUTs). Readers
# would work on any fsspec protocol, but one list keeps the promise simple.
REMOTE_PROTOCOLS = ("s3",)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$")
# S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens, starting and ending alphanumeric.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HASH_BLOCK = 1 << 20
# The write probe must fail fast on a wrong endpoint instead of retrying for a minute.
_PROBE_CONFIG = {"connect_timeout": 5, "read_timeout": 10, "retries": {"max_attempts": 1}}


def is_remote(target: object) -> bool:
    """Whether ``target`` is an object-store URL (a string with a scheme other than ``file``)."""
    if not isinstance(target, str):
        return False
    match = _SCHEME.match(target)
    return bool(match) and match.group(1).lower() != "file"


def as_target(value: str | Path, what: str = "path") -> Target:
    """Turns a local path or a URL into a target: a ``Path``, or a normalised ``s3://bucket/prefix``.

    Args:
        value: A local path (``str`` or ``Path``), ``file://...`` or ``s3://bucket[/prefix]``.
        what: The parameter's name, for the error message.

    Raises:
        ValueError: An unsupported scheme, or an S3 URL without a valid bucket name.
    """
    if isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a path or a URL string, got {type(value).__name__}")
    match = _SCHEME.match(value)
    if not match:
        return Path(value)
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "file":
        return Path(rest)
    if scheme not in REMOTE_PROTOCOLS:
        raise ValueError(
            f"{what} {value!r} uses the unsupported scheme {scheme!r}: use a local directory or s3://BUCKET/PREFIX"
        )
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise ValueError(
            f"{what} {value!r} names no valid bucket ({bucket!r}): use s3://BUCKET/PREFIX with a bucket name "
            "of 3-63 lowercase letters, digits, '.' or '-'"
        )
    parts = [part for part in prefix.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise ValueError(f"{what} {value!r} has '.' or '..' in its key prefix: write the prefix out plainly")
    return "/".join([f"{scheme}://{bucket}", *parts])


def filesystem(target: Target) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem of ``target`` and the path on it (no scheme).

    Remote filesystems are shared per process (fsspec caches instances) and never cache
    listings, so a version another process published is seen at once.
    """
    if not is_remote(target):
        return fsspec.filesystem("file"), str(Path(target).absolute())
    protocol, _, path = str(target).partition("://")
    return fsspec.filesystem(protocol, use_listings_cache=False), path


def join(target: Target, *parts: str) -> Target:
    """``target / part / ...`` for a Path or a URL."""
    if is_remote(target):
        return "/".join([str(target).rstrip("/"), *parts])
    return Path(target).joinpath(*parts)


def name_of(target: Target) -> str:
    """The last component of a target (``v0003`` of ``s3://b/ds/v0003``)."""
    return str(target).rstrip("/").rsplit("/", 1)[-1] if is_remote(target) else Path(target).name


def is_file(target: Target) -> bool:
    fs, path = filesystem(target)
    return fs.isfile(path)


def read_bytes(target: Target) -> bytes:
    fs, path = filesystem(target)
    return fs.cat_file(path)


def size(target: Target) -> int:
    fs, path = filesystem(target)
    return fs.size(path)


def write_bytes(target: Target, data: bytes) -> None:
    """Writes one file (local: creating its directory) or one object. Not atomic on its own."""
    if not is_remote(target):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_bytes(data)
        return
    fs, path = filesystem(target)
    fs.pipe_file(path, data)


def list_dir(target: Target) -> list[tuple[str, bool]]:
    """``(name, is_directory)`` of each entry directly in ``target``; [] if it does not exist."""
    fs, path = filesystem(target)
    try:
        entries = fs.ls(path, detail=True)
    except FileNotFoundError:
        return []
    # A remote "directory" is a common key prefix; ls of a key that is a file lists the file itself.
    return [
        (entry["name"].rstrip("/").rsplit("/", 1)[-1], entry["type"] == "directory")
        for entry in entries
        if entry["name"].rstrip("/") != path.rstrip("/")
    ]


def find_files(target: Target) -> list[str]:
    """Every file below ``target``, as posix paths relative to it, sorted."""
    fs, path = filesystem(target)
    root = path.rstrip("/") + "/"
    return sorted(found[len(root) :] for found in fs.find(path) if found.startswith(root))


def sha256(target: Target) -> str:
    """Hex sha256 of a file's bytes, streamed."""
    fs, path = filesystem(target)
    digest = hashlib.sha256()
    with fs.open(path, "rb", block_size=_HASH_BLOCK) as handle:
        for chunk in iter(lambda: handle.read(_HASH_BLOCK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def open_file(target: Target):
    """A seekable binary file object (remote: fetched in ranges as it is read)."""
    fs, path = filesystem(target)
    return fs.open(path, "rb")


def open_input(target: Target):
    """Something ``pyarrow.parquet.ParquetFile`` reads: the local path, or a remote object's bytes.

    A remote shard is fetched whole in one GET (shards are a few MB), which beats the many
    small range reads Parquet makes on a seekable remote file.
    """
    if not is_remote(target):
        return str(target)
    import pyarrow as pa

    return pa.BufferReader(read_bytes(target))


def check_credentials(url: str) -> None:
    """Fails fast, offline, when botocore finds no credentials for an S3 URL.

    Raises:
        ValueError: Naming the environment variables to set.
    """
    import botocore.session

    if botocore.session.get_session().get_credentials() is None:
        raise ValueError(
            f"no S3 credentials found for {url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
            "AWS_ENDPOINT_URL for a server other than AWS), or an AWS profile"
        )


def check_remote_writable(url: str) -> None:
    """Proves an object can be written and deleted under ``url`` (credentials, endpoint, bucket).

    Raises:
        ValueError: With a one-line message naming the problem and the fix.
    """
    check_credentials(url)
    protocol, _, path = url.partition("://")
    bucket = path.split("/", 1)[0]
    # A private instance with few retries: a wrong endpoint should fail in seconds, not a minute.
    fs = fsspec.filesystem(protocol, skip_instance_cache=True, use_listings_cache=False, config_kwargs=_PROBE_CONFIG)
    probe = f"{path.rstrip('/')}/.write-probe-{time.time_ns()}"
    try:
        fs.pipe_file(probe, b"")
        fs.rm_file(probe)
    except FileNotFoundError:
        raise ValueError(f"cannot write to {url}: bucket {bucket!r} does not exist; create it first") from None
    except PermissionError as error:
        raise ValueError(
            f"cannot write to {url}: access denied ({error}); check the credentials and the bucket policy"
        ) from None
    except Exception as error:  # connection refused, DNS, bad signature: botocore raises many kinds
        endpoint = fs.client_kwargs.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL") or "the AWS endpoint"
        raise ValueError(
            f"cannot write to {url} ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            f"check that {endpoint} is reachable and the credentials are right"
        ) from None
