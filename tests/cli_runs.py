"""``gan-augment run`` as a user starts it: its command line at a tiny size, its environment, its output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gan_core import publish
from tests.reliability.conftest import PROJECT, child_env

OPEN_GATE = [
    "--min-confidence", "0", "--max-label-fidelity-gap", "1", "--max-second-judge-gap", "1",
    "--max-fid-ratio", "1e9", "--max-memorization-rate", "1", "--min-acceptance-rate", "0",
    "--min-judge-accuracy", "0", "--min-coverage", "0",
]  # fmt: skip


def cli_command(tmp_path: Path, name: str, *extra: str) -> list[str]:
    """A tiny, open-gate ``gan-augment run`` writing under ``tmp_path/name``; ``extra`` flags win."""
    script = Path(sys.executable).with_name("gan-augment")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]
    return [
        *program, "run", "--source", "sample", "--real-labeled-limit", "512", "--steps", "60",
        "--batch-size", "32", "--samples-per-class", "10",
        "--judge-epochs", "1", "--dataset-name", "tiny", "--output-root", str(tmp_path / name / "datasets"),
        "--work-root", str(tmp_path / name / "work"), *OPEN_GATE, *extra,
    ]  # fmt: skip


def cli_env(tmp_path: Path) -> dict:
    """The environment of a CLI run with its own PREFECT_HOME, so its own temporary Prefect server."""
    home = tmp_path / "prefect-home"
    home.mkdir(exist_ok=True)
    env = child_env(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    env.pop("PREFECT_API_URL", None)  # each CLI run starts its own temporary server
    return env


def run_cli(command: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=900)


def published_manifest(output_root: Path, dataset: str = "tiny") -> dict:
    """The manifest of the latest version of ``dataset``, after verifying every file of it."""
    version = publish.resolve_version(output_root / dataset)
    publish.verify(version)
    return publish.read_manifest(version)
