"""benchmarks/utility_benchmark.py: a tiny --quick run writes JSON + PNG; bad flags are refused.

No assertion here depends on how fast anything ran or on accuracy levels.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scripts import loaded_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "utility_benchmark.py"
TINY_FLAGS = [
    "--quick", "--sizes", "20", "--seeds", "1", "--gan-steps", "2", "--gan-batch-size", "16",
    "--synthetic-per-class", "5", "--min-confidence", "0", "--judge-epochs", "1", "--judge-min-steps", "2",
    "--classifier-epochs", "1", "--classifier-min-steps", "3",
]


@pytest.fixture(scope="module")
def benchmark_module():
    """The script loaded as a module (benchmarks/ is a folder of scripts, not a package)."""
    with loaded_script(SCRIPT, "benchmark_utility") as module:
        yield module


@pytest.mark.slow  # trains a GAN, a judge and four classifiers (tiny, but tens of seconds)
def test_quick_run_writes_json_and_png(benchmark_module, prefect_harness, tmp_path, capsys):
    results = tmp_path / "results"
    returned = benchmark_module.main([*TINY_FLAGS, "--results-dir", str(results), "--work-root", str(tmp_path / "work")])

    document = json.loads((results / "utility_quick.json").read_text())
    assert document == json.loads(json.dumps(returned))
    assert (results / "utility_quick.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (results / "utility-quick" / "experiments" / "n20-seed0.json").exists()
    assert document["config"]["gan_steps"] == 2 and document["config"]["synthetic_per_class"] == 5
    assert document["config"]["judge_epochs"] == 1  # an explicit flag beats the quick preset
    assert len(document["rows"]) == 4 and len(document["experiments"]) == 1
    assert document["experiment_seconds"]["total"] > 0 and document["wall_seconds"] > 0
    assert document["machine"]["nproc"] >= 1
    assert "evaluate-augmentation" in document["runner"]
    assert "(d) real + synthetic + classic aug" in capsys.readouterr().out


@pytest.mark.parametrize(("flags", "message"), [(["--sizes", "ten"], "bad size"), (["--seeds", "x"], "invalid int")])
def test_bad_flags_are_refused(benchmark_module, tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        benchmark_module.main([*TINY_FLAGS, *flags, "--results-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "utility_quick.json").exists()


def test_out_of_range_budget_is_refused_before_training(benchmark_module, prefect_harness, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        benchmark_module.main([*TINY_FLAGS, "--sizes", "5", "--results-dir", str(tmp_path), "--work-root", str(tmp_path / "w")])
    assert exit_info.value.code == 2
    assert "N >= 10" in capsys.readouterr().err
    assert not (tmp_path / "w" / "utility").exists()
