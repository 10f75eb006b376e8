"""benchmarks/gan_quality.py: every named configuration is valid, and the bookkeeping around a run
(CAS rows, summaries over seeds, the markdown table, the report files) is right.

Training and CAS themselves are covered by gan_core's tests; nothing here depends on timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.scripts import loaded_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gan_quality.py"


@pytest.fixture(scope="module")
def gan_quality():
    """The script loaded as a module (benchmarks/ is a folder of scripts, not a package)."""
    with loaded_script(SCRIPT, "benchmark_gan_quality") as module:
        yield module


def test_every_named_configuration_resolves_to_valid_configs(gan_quality):
    from gan_core.config import TRAINING_PROFILES, profile_configs

    names = gan_quality.candidates()
    assert set(TRAINING_PROFILES) <= set(names)
    for name in names:
        model, train = gan_quality.resolve(name, None)
        assert model.generator_arch in ("concat", "cbn", "resnet") and train.steps >= 1
    # A profile entry is exactly the profile; a step budget overrides only the steps.
    assert gan_quality.resolve("default", None) == profile_configs("default")
    model, train = gan_quality.resolve("resnet-w16-decay", 123)
    assert train.steps == 123 and train.lr_decay == "linear" and model.generator_width == 16
    with pytest.raises(SystemExit, match="unknown config"):
        gan_quality.resolve("no-such-config", None)


def test_cas_rows_take_the_first_accepted_rows_of_every_class(gan_quality):
    labels = np.repeat(np.arange(3), 4)
    images = np.arange(12)[:, None, None].astype(np.uint8) * np.ones((1, 2, 2), np.uint8)
    accepted = np.array([1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1], dtype=bool)
    kept_images, kept_labels = gan_quality.cas_rows(images, labels, accepted, per_class=2, num_classes=3)
    np.testing.assert_array_equal(kept_labels, [0, 0, 1, 2, 2])  # class 1 had one accepted row
    np.testing.assert_array_equal(kept_images[:, 0, 0], [0, 2, 7, 8, 9])


def _result(config: str, seed: int, cas: float, recall: float) -> dict:
    return {
        "config": config,
        "seed": seed,
        "budget": "100steps",
        "train": {"steps": 100},
        "cas": cas,
        "cas_raw": None,
        "cas_real_baseline": 0.98,
        "cas_gap": 0.98 - cas,
        "metrics": {"recall": recall, "second_judge_agreement": 0.99, "second_judge_accuracy": 0.98},
        "train_minutes": 1.0,
        "images_per_second_in_run": 900.0,
        "in_run_over_isolated": 0.97,
    }


def test_summary_and_table_average_over_seeds(gan_quality):
    results = [_result("a", 0, 0.90, 0.6), _result("a", 1, 0.92, 0.7), _result("b", 0, 0.95, 0.8)]
    summary = gan_quality.summarize(results)
    assert summary["a-100steps"]["seeds"] == [0, 1]
    assert summary["a-100steps"]["cas"]["mean"] == pytest.approx(0.91)
    assert summary["a-100steps"]["cas"]["std"] == pytest.approx(np.std([0.90, 0.92], ddof=1))
    assert summary["b-100steps"]["cas"]["std"] == 0.0
    assert "cas_raw" not in summary["a-100steps"]  # never measured, so not reported as 0
    table = gan_quality.markdown_table(summary).splitlines()
    assert table[2].startswith("| b | 1 | 100 |")  # best CAS first
    assert "| 0.910 ± 0.014 |" in table[3] and "| 7.0 ± 1.4 |" in table[3]


def test_report_writes_summary_table_and_curve(gan_quality, tmp_path):
    row = _result("a", 0, 0.9, 0.6)
    row["curve"] = [{"step": 50, "train_minutes": 0.5, "cas": 0.8}, {"step": 100, "train_minutes": 1.0, "cas": 0.9}]
    (tmp_path / "a-100steps-seed0.json").write_text(json.dumps(row))
    # The real command line, in its own process (it configures logging and matplotlib).
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--report", "--results-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "summary.json").read_text())["a-100steps"]["cas"]["mean"] == 0.9
    assert (tmp_path / "table.md").read_text().count("\n") == 3
    assert (tmp_path / "cas_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_checkpoint_selection_picks_by_train_proxies_and_reports_the_gain(gan_quality):
    def point(step, cas, cas_on_train, fid_to_train):
        return {"step": step, "cas": cas, "cas_on_train": cas_on_train, "fid_to_train": fid_to_train}

    row = _result("a", 0, 0.90, 0.6)
    row["curve"] = [point(10, 0.80, 0.81, 9.0), point(20, 0.93, 0.92, 7.0), point(30, 0.90, 0.91, 5.0)]
    selection = gan_quality.checkpoint_selection(row)
    assert selection["final"] == {"step": 30, "cas": 0.90}
    assert selection["by_cas_on_train"]["step"] == 20
    assert selection["by_cas_on_train"]["gain"] == pytest.approx(0.03)
    assert selection["by_fid_to_train"] == {"step": 30, "cas": 0.90, "gain": 0.0}
    assert selection["oracle"]["step"] == 20
    # Curves from before the proxies existed, or with one point, give no selection.
    row["curve"] = [{"step": 10, "cas": 0.8}, {"step": 20, "cas": 0.9}]
    assert gan_quality.checkpoint_selection(row) is None
