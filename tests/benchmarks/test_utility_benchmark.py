"""benchmarks/utility_benchmark.py: a tiny --quick run writes JSON + PNG; bad flags are refused.

No assertion here depends on how fast anything ran or on accuracy levels.
"""

from __future__ import annotations

import json
import sys
import subprocess
import os
from pathlib import Path

import pytest

from tests.scripts import loaded_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "utility_benchmark.py"
TINY_FLAGS = [
    "--quick",
    "--sizes",
    "20",
    "--seeds",
    "1",
    "--gan-steps",
    "2",
    "--gan-batch-size",
    "16",
    "--synthetic-per-class",
    "5",
    "--min-confidence",
    "0",
    "--judge-epochs",
    "1",
    "--judge-min-steps",
    "2",
    "--classifier-epochs",
    "1",
    "--classifier-min-steps",
    "3",
]


def _environment(tmp_path) -> dict:
    """The script's environment: its own Prefect home, and this checkout's packages first (the
    venv may have another checkout installed in editable mode)."""
    root = str(SCRIPT.parents[1])
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": "", "PYTHONPATH": path}


@pytest.fixture(scope="module")
def benchmark_module():
    """The script loaded as a module (benchmarks/ is a folder of scripts, not a package)."""
    with loaded_script(SCRIPT, "benchmark_utility") as module:
        yield module


@pytest.mark.slow  # trains a GAN, a judge and four classifiers (tiny, but tens of seconds)
def test_quick_run_writes_json_and_png(tmp_path):
    # The real command in its own process: the CLI sets up Prefect logging and exit handlers that
    # must not leak into the test session.
    results = tmp_path / "results"
    environment = _environment(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            *TINY_FLAGS,
            "--results-dir",
            str(results),
            "--work-root",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    document = json.loads((results / "utility_quick.json").read_text())
    assert (results / "utility_quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (results / "utility-quick" / "experiments" / "n20-seed0.json").exists()
    assert document["config"]["gan_steps"] == 2 and document["config"]["synthetic_per_class"] == 5
    assert document["config"]["judge_epochs"] == 1  # an explicit flag beats the quick preset
    assert len(document["rows"]) == 4 and len(document["experiments"]) == 1
    assert document["experiment_seconds"]["total"] > 0 and document["wall_seconds"] > 0
    assert document["machine"]["nproc"] >= 1
    assert "evaluate-augmentation" in document["runner"]
    assert "(d) real + synthetic + classic aug" in done.stdout


@pytest.mark.slow  # adds a teacher and a second GAN to the tiny run
def test_label_scarce_run_writes_its_own_files_with_seven_arms(tmp_path):
    results = tmp_path / "results"
    scarce = [
        "--label-scarce",
        "--teacher-steps",
        "2",
        "--pseudo-label-min-confidence",
        "0",
        "--pseudo-label-max-per-class",
        "3",
    ]
    done = _run(tmp_path, *scarce, "--results-dir", str(results), "--work-root", str(tmp_path / "work"))
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads((results / "utility_quick_scarce.json").read_text())
    assert not (results / "utility_quick.json").exists()  # the four-arm files are left alone
    assert (results / "utility-quick-scarce" / "experiments" / "n20-seed0.json").exists()
    assert document["config"]["label_scarce"] is True and document["config"]["teacher_steps"] == 2
    assert len(document["rows"]) == 7 and set(document["sizes"][0]["gains"]) >= {"f_vs_b", "f_vs_g", "g_vs_b"}
    assert 0 < document["experiments"][0]["label_scarce"]["pseudo_labels"] <= 30  # at most 3 per class
    assert "(g) real + pseudo-labelled pool + classic aug" in done.stdout and "gain_vs_g" in done.stdout


def _run(tmp_path, *flags):
    environment = _environment(tmp_path)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *TINY_FLAGS, *flags], capture_output=True, text=True, env=environment, timeout=600
    )


@pytest.mark.parametrize(("flags", "message"), [(["--sizes", "ten"], "bad size"), (["--seeds", "x"], "invalid int")])
def test_bad_flags_are_refused(tmp_path, flags, message):
    done = _run(tmp_path, *flags, "--results-dir", str(tmp_path))
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "utility_quick.json").exists()


def test_out_of_range_budget_is_refused_before_training(tmp_path):
    done = _run(tmp_path, "--sizes", "5", "--results-dir", str(tmp_path), "--work-root", str(tmp_path / "w"))
    assert done.returncode == 2
    assert "N >= 10" in done.stderr
    assert not (tmp_path / "w" / "utility").exists()
