"""benchmarks/teacher.py: a tiny run in its own process writes a per-seed result and the summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "teacher.py"


def test_tiny_run_writes_both_arms_and_the_summary(tmp_path):
    subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--labeled",
            "20",
            "--seeds",
            "3",
            "--teacher-steps",
            "3",
            "--baseline-min-steps",
            "2",
            "--output-dir",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    result = json.loads((tmp_path / "n20-seed3.json").read_text())
    assert result["labeled"] == 20 and sum(result["labeled_per_class"]) == 20
    assert result["pool"] + 20 <= 8000 and result["pool"] > 7900
    for arm in ("teacher", "supervised"):
        assert 0.0 <= result[arm]["test_accuracy"] <= 1.0
    assert result["teacher"]["config"]["steps"] == 3 and result["supervised"]["min_steps"] == 2
    assert 0 <= result["pseudo_labels"]["kept"] <= result["pool"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    gain = result["teacher"]["test_accuracy"] - result["supervised"]["test_accuracy"]
    assert summary["n20-steps3"]["seeds"] == [3] and summary["n20-steps3"]["gain"]["values"] == [gain]
