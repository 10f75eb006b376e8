"""benchmarks/remapper.py: a tiny run in its own process writes both arms and a consistent ratio."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "remapper.py"


def test_tiny_run_writes_both_arms_and_their_ratio(tmp_path):
    output = tmp_path / "remapper.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "2", "--steps", "2", "--output", str(output)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    result = json.loads(output.read_text())
    on = result["images_per_second"]["remapper_on"]["rounds"]
    off = result["images_per_second"]["remapper_off"]["rounds"]
    assert len(on) == len(off) == 2 and min(on + off) > 0
    ratios = [b / a for a, b in zip(on, off)]
    assert result["per_round_ratio_off_over_on"] == pytest.approx(ratios, rel=1e-12)
    assert result["ratio_off_over_on_median"] == pytest.approx(statistics.median(ratios), rel=1e-12)
