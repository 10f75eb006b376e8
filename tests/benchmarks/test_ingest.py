"""benchmarks/ingest.py on a tiny folder: the folder it builds, its rows, summary and JSON (no timing checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scripts import loaded_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ingest.py"


@pytest.fixture(scope="module")
def ingest_benchmark():
    """The script loaded as a module (benchmarks/ is a folder of scripts, not a package)."""
    with loaded_script(SCRIPT, "benchmark_ingest") as module:
        yield module


def test_the_benchmark_runs_end_to_end_on_a_tiny_folder(tmp_path, ingest_benchmark):
    document = ingest_benchmark.main(
        [
            "--count",
            "40",
            "--runs",
            "1",
            "--engines",
            "serial",
            "threads",
            "--work-dir",
            str(tmp_path / "work"),
            "--results",
            str(tmp_path / "results"),
            "--in-process",
        ]
    )
    for kind, shape in (("gray28", [28, 28, 1]), ("rgb32", [32, 32, 3])):
        result = document["kinds"][kind]
        assert [row["image_shape"] for row in result["runs"]] == [shape, shape]
        assert all(row["images"] == 40 and row["cached_snapshot_present"] for row in result["runs"])
        assert result["summary"]["serial"]["speed_vs_serial"] == 1.0
        assert set(result["summary"]) == {"serial", "threads"}
    written = list((tmp_path / "results").glob("ingest-40-*.json"))
    assert len(written) == 1 and json.loads(written[0].read_text())["machine"]["load_average_after"]
    # The folder is built once: a second build leaves it as it is.
    folder = Path(document["kinds"]["gray28"]["folder"])
    stamp = (folder / ".complete").stat().st_mtime_ns
    ingest_benchmark.build_folder(folder, "gray28", 40)
    assert (folder / ".complete").stat().st_mtime_ns == stamp


def test_a_child_run_reports_its_own_peak_memory(tmp_path, ingest_benchmark):
    folder = ingest_benchmark.build_folder(tmp_path / "gray", "gray28", 30)
    row = ingest_benchmark._child(folder, tmp_path / "cache", "processes")
    assert row["images"] == 30 and row["peak_rss_mb"] >= row["rss_before_mb"] > 0
