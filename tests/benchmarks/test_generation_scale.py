"""benchmarks/generation_scale.py: a tiny real run writes its result and table, then is skipped when run again.

No assertion here depends on how fast anything ran.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts import loaded_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "generation_scale.py"
TINY = ["--prepare-steps", "4", "--judge-epochs", "1", "--chunk-size", "1024", "--metric-subsample", "500"]


def run(results_dir: Path, *flags: str) -> subprocess.CompletedProcess:
    # Its own process, as a user runs it: the children it starts are what it measures.
    command = [sys.executable, str(SCRIPT), "--results-dir", str(results_dir), *TINY, *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=SCRIPT.parents[1])


@pytest.mark.slow
def test_a_tiny_size_is_measured_once_and_resumed_after(tmp_path):
    first = run(tmp_path, "--sizes", "1500")
    assert first.returncode == 0, first.stderr[-3000:]
    result = json.loads((tmp_path / "samples-1500.json").read_text())
    assert result["samples"] == 1500 and result["rows_published"] == result["accepted"] == 1500  # gate open
    assert result["metric_subsample"] == {"size": 500, "total": 1500, "max_size": 500, "seed": 0, "all_samples": False}
    assert result["peak_rss_bytes"] > 100 * 2**20  # a whole TensorFlow process, not the parent
    assert result["samples_per_second"] == pytest.approx(
        1500 / (result["quality_seconds"] + result["publish_seconds"]), rel=0.01
    )
    assert not (tmp_path / "work" / "run-1500").exists()  # outputs removed unless --keep-outputs
    assert "| 1,500 |" in (tmp_path / "table.md").read_text()

    again = run(tmp_path, "--sizes", "1500")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already measured: [1500]" in again.stderr
    assert json.loads((tmp_path / "samples-1500.json").read_text()) == result


def test_sizes_must_split_evenly_over_the_classes():
    with loaded_script(SCRIPT, "benchmark_generation_scale") as module:
        with pytest.raises(SystemExit):
            module.parse_arguments(["--sizes", "1000", "1005"])
        assert module.parse_arguments(["--sizes", "1000"]).sizes == [1000]


def test_the_read_mode_times_both_loaders_locally_and_on_s3(tmp_path):
    done = run(tmp_path, "--read", "600", "--passes", "2", "--batch-size", "64", "--rows-per-shard", "250")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "read-600.json").read_text())
    assert result["rows"] == 600 and result["batch_size"] == 64
    for where in ("local", "s3"):
        for name in ("before", "after"):
            measured = result[where][name]
            assert len(measured["passes"]) == 2 and min(measured["passes"]) > 0
            assert measured["median_images_per_second"] == pytest.approx(sum(measured["passes"]) / 2)
        assert result[where]["speedup"] == pytest.approx(
            result[where]["after"]["median_images_per_second"] / result[where]["before"]["median_images_per_second"],
            abs=0.01,
        )
    assert not list(tmp_path.glob("work*"))  # the published copies lived in a temporary directory


@pytest.mark.slow
def test_the_read_ahead_mode_times_both_variants_on_identical_staged_rows(tmp_path):
    done = run(tmp_path, "--read-ahead-ab", "3000", "--rounds", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "read-ahead-3000.json").read_text())
    assert result["samples"] == 3000 and result["rounds"] == 2 and result["read_ahead_chunks"] >= 1
    assert {name: len(values) for name, values in result["seconds"].items()} == {"serial": 2, "read-ahead": 2}
    assert result["staged_rows_identical"] is True  # reading ahead changes no sample
    assert result["speedup"] == pytest.approx(
        result["median_seconds"]["serial"] / result["median_seconds"]["read-ahead"], abs=0.001
    )
    assert not (tmp_path / "work" / "run-ab-3000").exists()
