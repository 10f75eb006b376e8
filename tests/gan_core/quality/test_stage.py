"""The quality-check step function, called directly: its outcome, the files it owns, a failed gate."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from gan_core.quality.staging import iter_staged, staged_rows

from gan_core.config import GateThresholds, JudgeConfig, QualityConfig
from gan_core.gan.sampling import GeneratorLoadError
from gan_core.quality.stage import quality_stage


def test_quality_outcome_matches_the_files_it_wrote(trained, checked):
    out_dir = Path(trained.run_dir) / "quality" / trained.generator_hash[:16]
    assert Path(checked.accepted_path) == out_dir / "accepted.parquet"
    assert Path(checked.report_path) == out_dir / "report.json"
    assert (out_dir / "accepted_grid.png").read_bytes().startswith(b"\x89PNG")
    assert (out_dir / "training_curves.png").is_file()  # the run logged a history
    # min_confidence 0 keeps all 50 samples, staged in generation order.
    (images, labels, confidences), *more = iter_staged(Path(checked.accepted_path), 1000)
    assert more == [] and images.shape == (50, 28, 28, 1) and images.dtype == np.uint8
    assert labels.tolist() == np.repeat(np.arange(10), 5).tolist()
    assert staged_rows(Path(checked.accepted_path)) == checked.num_accepted == checked.num_samples == 50
    assert confidences.dtype == np.float32 and np.all((confidences >= 0) & (confidences <= 1))
    assert checked.metric_subsample == {"size": 50, "total": 50, "max_size": 10_000, "seed": 0, "all_samples": True}
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
    assert Path(result.accepted_path).is_file() and Path(result.report_path).is_file()
    assert not (Path(result.accepted_path).parent / "training_curves.png").exists()  # no history given


def test_quality_refuses_a_directory_that_is_not_a_generator(ingested, tmp_path):
    outcome, cache_root = ingested
    with pytest.raises(GeneratorLoadError, match="not an exported generator"):
        quality_stage(
            outcome.snapshot_dir, str(tmp_path / "nothing"), JudgeConfig(epochs=1), QualityConfig(second_judge=False),
            str(cache_root), str(tmp_path / "run"), [], logging.getLogger("tests.stage"),
        )  # fmt: skip
    assert not (tmp_path / "run").exists()


def test_same_seed_stages_and_publishes_the_same_rows_whatever_the_chunk_size(ingested, trained, tmp_path):
    from gan_core.config import PublishConfig
    from gan_core.publish.stage import publish_stage
    from tests.gan_core.tiny import OPEN_GATE

    outcome, cache_root = ingested
    gate = GateThresholds(**{**OPEN_GATE, "min_confidence": 0.1})  # a one-epoch judge: ~0.1 on every class
    runs = {}
    for chunk_size, subsample in ((1024, 10_000), (2048, 1000)):
        config = QualityConfig(
            samples_per_class=250, gate=gate, second_judge=False, chunk_size=chunk_size, metric_subsample=subsample
        )
        result = quality_stage(
            outcome.snapshot_dir, trained.generator_dir, JudgeConfig(epochs=1), config, str(cache_root),
            str(tmp_path / f"run-{chunk_size}"), [], logging.getLogger("tests.stage"),
        )  # fmt: skip
        published = publish_stage(
            outcome.snapshot_dir, result.accepted_path,
            PublishConfig(output_root=tmp_path / f"out-{chunk_size}", rows_per_shard=500),
            trained.generator_hash, {}, logging.getLogger("tests.stage"),
        )  # fmt: skip
        manifest = json.loads((Path(published.version_dir) / "manifest.json").read_text())
        runs[chunk_size] = result, [(shard["path"], shard["sha256"]) for shard in manifest["shards"]]
    (small, small_shards), (large, large_shards) = runs[1024], runs[2048]
    assert 0 < small.num_accepted < small.num_samples == 2500  # the threshold rejects some
    (_, _, confidences), *_ = iter_staged(Path(small.accepted_path), 10_000)
    assert len(confidences) == small.num_accepted and np.all(confidences >= 0.1)
    assert small_shards == large_shards and len(small_shards) == -(-small.num_accepted // 500)
    assert large.metric_subsample == {"size": 1000, "total": 2500, "max_size": 1000, "seed": 0, "all_samples": False}
    assert large.metrics["fid_num_samples"] == 200  # min(subsample, the 200 real train images)
    for key in ("acceptance_rate", "label_fidelity", "label_fidelity_accepted", "class_balance_min_share"):
        assert large.metrics[key] == small.metrics[key], key
