"""Shared test setup: quiet TF logs, keep TF to the 2 cores, and one Prefect harness per session."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A subprocess test starts its own temporary server; 90 s was seen to run out on a loaded machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import pytest


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One Prefect test server for the whole session (entering it takes ~17 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-protocol server (moto, in a subprocess) for the session; yields its endpoint.

    While it runs, the standard AWS variables point every client in this process at it.
    """
    from tests.s3_server import moto_server, s3_env

    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in s3_env(endpoint).items():
                patch.setenv(name, value)
            yield endpoint
            import s3fs

            # Cached filesystems hold this server's endpoint; drop them with it.
            s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_bucket(s3_server) -> str:
    """A new empty bucket on the session's S3 server; returns ``s3://<bucket>``."""
    import uuid

    import fsspec

    name = f"test-{uuid.uuid4().hex[:16]}"
    fsspec.filesystem("s3", use_listings_cache=False).mkdir(name)
    return f"s3://{name}"
