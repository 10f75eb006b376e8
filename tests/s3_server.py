"""A real S3-protocol server for tests and benchmarks: moto's standalone server in a subprocess.

Started on 127.0.0.1 on a free port, polled until it answers, stopped by its PID (SIGTERM, then
SIGKILL). :func:`s3_env` gives the standard AWS variables that point s3fs, pandas, pyarrow (through
fsspec), duckdb and ``datasets`` at it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

START_SECONDS = 60  # about 3 s on an idle 2-core machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def s3_env(endpoint: str) -> dict[str, str]:
    """The AWS environment for the server at ``endpoint`` (moto accepts any key and secret)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Keep a developer's own ~/.aws and the EC2 metadata lookup out of the tests.
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextmanager
def moto_server(log: Path | None = None) -> Iterator[str]:
    """Runs ``python -m moto.server`` on a free loopback port; yields its endpoint URL."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    output = open(log, "wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited with code {process.returncode} (log: {log})")
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server on {endpoint} did not answer within {START_SECONDS} s") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if log:
            output.close()
