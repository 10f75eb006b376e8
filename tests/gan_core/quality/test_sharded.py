"""The quality stage cut into shards (scored in any order, as workers would) gives the in-process result."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from gan_core.config import GateThresholds, JudgeConfig, QualityConfig
from gan_core.io import faults
from gan_core.quality.sharded import QualityInputs, merge_shards, plan_shards, score_shard
from gan_core.quality.stage import quality_stage
from gan_core.quality.staging import iter_staged
from tests.gan_core.tiny import OPEN_GATE

LOG = logging.getLogger("tests.sharded")


def _config(**overrides) -> QualityConfig:
    gate = GateThresholds(**{**OPEN_GATE, "min_confidence": 0.1})  # a one-epoch judge: ~0.1 on every class
    # 2,500 samples in shards of 1,024: the last one partial; a subsample of 1,000 spread over all three.
    return QualityConfig(samples_per_class=250, gate=gate, chunk_size=1024, metric_subsample=1000, **overrides)


def _staged(path: str) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate(column) for column in zip(*iter_staged(Path(path), 10_000)))


def test_shards_scored_in_any_order_merge_into_the_in_process_result(ingested, trained, tmp_path):
    outcome, cache_root = ingested
    config, judges = _config(), JudgeConfig(epochs=1)
    args = (outcome.snapshot_dir, trained.generator_dir, judges, config, str(cache_root))
    whole = quality_stage(*args, str(tmp_path / "whole"), [], LOG)

    inputs = QualityInputs(*args, str(tmp_path / "sharded"), [])
    plan = plan_shards(inputs, LOG)
    assert plan.ranges == [(0, 1024), (1024, 2048), (2048, 2500)] and plan.second_judge_dir
    results = [score_shard(plan, inputs, index, LOG) for index in (2, 0, 1)]
    merged = merge_shards(plan, results, inputs, LOG)

    assert 0 < merged.num_accepted < merged.num_samples == 2500
    assert merged.metrics == whole.metrics  # every float, bit for bit
    assert merged.per_class == whole.per_class and merged.metric_subsample == whole.metric_subsample
    for ours, theirs in zip(_staged(merged.accepted_path), _staged(whole.accepted_path)):
        np.testing.assert_array_equal(ours, theirs)
    assert json.loads(Path(merged.report_path).read_text()) == json.loads(Path(whole.report_path).read_text())


def test_rgb_shards_merge_into_the_in_process_result(rgb_ingested, rgb_trained, tmp_path):
    outcome, cache_root = rgb_ingested
    config = QualityConfig(
        samples_per_class=700, gate=GateThresholds(**OPEN_GATE), chunk_size=1024, metric_subsample=500
    )
    args = (outcome.snapshot_dir, rgb_trained.generator_dir, JudgeConfig(epochs=1), config, str(cache_root))
    whole = quality_stage(*args, str(tmp_path / "whole"), [], LOG)
    inputs = QualityInputs(*args, str(tmp_path / "sharded"), [])
    plan = plan_shards(inputs, LOG)
    assert plan.image_shape == (32, 32, 3) and len(plan.ranges) == 3
    merged = merge_shards(plan, [score_shard(plan, inputs, index, LOG) for index in (1, 2, 0)], inputs, LOG)
    assert merged.metrics == whole.metrics and merged.num_samples == 2100
    ours, theirs = _staged(merged.accepted_path), _staged(whole.accepted_path)
    assert ours[0].shape == (2100, 32, 32, 3)
    for mine, other in zip(ours, theirs):
        np.testing.assert_array_equal(mine, other)


def test_a_merge_refuses_missing_shards(ingested, trained, tmp_path):
    outcome, cache_root = ingested
    config, judges = _config(second_judge=False), JudgeConfig(epochs=1)
    args = (outcome.snapshot_dir, trained.generator_dir, judges, config, str(cache_root))
    inputs = QualityInputs(*args, str(tmp_path), [])
    plan = plan_shards(inputs, LOG)
    with pytest.raises(ValueError, match="do not cover the 3 planned shards"):
        merge_shards(plan, [score_shard(plan, inputs, 0, LOG)], inputs, LOG)


def test_the_shard_fault_point_counts_shards_not_arrivals(monkeypatch):
    monkeypatch.setenv(faults.ENV, "quality.shard_scored=raise@2")
    faults.reset_arrivals()
    faults.fault_point("quality.shard_scored", arrival=1)
    faults.fault_point("quality.shard_scored", arrival=3)
    with pytest.raises(faults.InjectedFault, match="quality.shard_scored"):
        faults.fault_point("quality.shard_scored", arrival=2)
