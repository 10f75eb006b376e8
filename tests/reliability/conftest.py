"""Helpers for the reliability tests: run project code in real subprocesses, and check versions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gan_core import publish
from gan_core.publish.versions import read_latest

PROJECT = Path(__file__).resolve().parents[2]


def child_env(**extra: str) -> dict:
    """The environment for a child process: this checkout first on the path, plus ``extra``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT), os.environ.get("PYTHONPATH", "")])}
    env.pop("GAN_AUGMENT_FAULT", None)
    env.update(extra)
    return env


def start_publisher(output_root: Path, dataset: str, *args: str, **env: str) -> subprocess.Popen:
    """Starts ``tests.reliability.publish_worker`` as a real process."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.publish_worker", str(output_root), dataset, *args],
        cwd=PROJECT,
        env=child_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    """Polls ``condition`` until it returns a truthy value or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def check_dataset(dataset_dir: Path, verified: set[int] | None = None) -> list[int]:
    """Asserts no partial version is visible: every vNNNN verifies, LATEST is valid and highest.

    Args:
        dataset_dir: The dataset directory.
        verified: Versions already verified (skipped, since versions are immutable); the ones
            verified now are added to it.

    Returns:
        The visible version numbers.
    """
    verified = set() if verified is None else verified
    versions = publish.list_versions(dataset_dir)
    for number in versions:
        if number not in verified:
            publish.verify(dataset_dir / publish.version_name(number))  # raises on a partial version
            verified.add(number)
    latest = read_latest(dataset_dir) if dataset_dir.exists() else None
    if latest is not None:
        publish.verify(publish.resolve_version(dataset_dir))
        # A kill between the rename and LATEST leaves a complete, verified version above it.
        assert latest <= max(versions)
    else:
        assert versions == [] or all(n <= len(versions) for n in versions)
    return versions


def staging_leftovers(dataset_dir: Path) -> list[str]:
    """Hidden entries that killed publishers left behind."""
    if not dataset_dir.exists():
        return []
    return sorted(entry.name for entry in dataset_dir.iterdir() if entry.name.startswith(".v"))


@pytest.fixture(scope="session")
def mnist_sample():
    """The vendored 8k/2k MNIST sample (uint8 images, int64 labels)."""
    from gan_core.data import load_bundled_sample

    return load_bundled_sample()
