"""The quality-check step function, called directly: its outcome, the files it owns, a failed gate."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from gan_core.config import GateThresholds, JudgeConfig, QualityConfig
from gan_core.gan.sampling import GeneratorLoadError
from gan_core.quality.stage import quality_stage


def test_quality_outcome_matches_the_files_it_wrote(trained, checked):
    out_dir = Path(trained.run_dir) / "quality" / trained.generator_hash[:16]
    assert Path(checked.samples_path) == out_dir / "samples.npz"
    assert Path(checked.report_path) == out_dir / "report.json"
    assert (out_dir / "accepted_grid.png").read_bytes().startswith(b"\x89PNG")
    assert (out_dir / "training_curves.png").is_file()  # the run logged a history
    with np.load(checked.samples_path) as samples:
        assert len(samples["labels"]) == 50 and np.bincount(samples["labels"]).tolist() == [5] * 10
        assert int(samples["accepted"].sum()) == checked.num_accepted == 50  # min_confidence 0 keeps all
    report = json.loads(Path(checked.report_path).read_text())
    assert report["metrics"] == checked.metrics and report["passed"] is checked.passed is True
    assert checked.failures == [] and checked.gate["passed"] is True
    assert {"fid_ratio", "precision", "coverage", "data_copying_ct"} <= set(checked.metrics)
    assert set(checked.label_agreement) == {"rejecting judge"} and len(checked.per_class) == 10  # no second judge
    assert "Training curves" in checked.markdown


def test_a_failed_gate_is_an_outcome_with_its_reasons_not_an_error(ingested, trained, tmp_path):
    outcome, cache_root = ingested
    strict = QualityConfig(
        samples_per_class=5, gate=GateThresholds(min_confidence=0.0, min_acceptance_rate=1.0, max_fid_ratio=1e-6),
        second_judge=False,
    )  # fmt: skip
    run_dir = tmp_path / "run"
    result = quality_stage(
        outcome.snapshot_dir, trained.generator_dir, JudgeConfig(epochs=1), strict, str(cache_root), str(run_dir), [],
        logging.getLogger("tests.stage"),
    )  # fmt: skip
    assert result.passed is False and result.num_checks > 0
    assert any("fid_ratio" in failure for failure in result.failures)
    assert Path(result.samples_path).is_file() and Path(result.report_path).is_file()
    assert not (Path(result.samples_path).parent / "training_curves.png").exists()  # no history given


def test_quality_refuses_a_directory_that_is_not_a_generator(ingested, tmp_path):
    outcome, cache_root = ingested
    with pytest.raises(GeneratorLoadError, match="not an exported generator"):
        quality_stage(
            outcome.snapshot_dir, str(tmp_path / "nothing"), JudgeConfig(epochs=1), QualityConfig(second_judge=False),
            str(cache_root), str(tmp_path / "run"), [], logging.getLogger("tests.stage"),
        )  # fmt: skip
    assert not (tmp_path / "run").exists()
