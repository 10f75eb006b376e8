"""The train-GAN step function, called directly: its outcome, its run directory, and too little data."""

import json
import logging
import shutil
from pathlib import Path

import pytest

from gan_core.config import ModelConfig, TrainConfig
from gan_core.data import load_snapshot
from gan_core.gan.sampling import load_generator
from gan_core.gan.stage import run_key, train_stage
from gan_core.gan.train import TrainingError
from tests.gan_core.tiny import TINY_STAGE_MODEL, TINY_STAGE_TRAIN


def test_train_outcome_points_at_its_run_and_exported_generator(ingested, trained):
    snapshot, splits = load_snapshot(Path(ingested[0].snapshot_dir))
    model, train = ModelConfig(**TINY_STAGE_MODEL), TrainConfig(**TINY_STAGE_TRAIN)
    # The key names the DiffAugment policy 'auto' resolved to for this training set.
    resolved = train.for_training_set(len(splits.train_labels))
    assert Path(trained.run_dir).name == run_key(snapshot.fingerprint, model, resolved)
    recorded = json.loads((Path(trained.run_dir) / "config.json").read_text())["train"]
    assert recorded["steps"] == 4 and recorded["diffaugment"] == resolved.diffaugment != "auto"
    generator = load_generator(Path(trained.generator_dir))
    assert generator.content_hash == trained.generator_hash
    assert trained.dtype_policy == "float32" and trained.resumed_from_step == 0
    assert [row["step"] for row in trained.history] == [2, 4]
    assert trained.train_seconds > 0 and trained.images_per_second > 0


def test_train_with_more_steps_resumes_the_same_run(ingested, trained, tmp_path):
    # A copy: the session's run stays at four steps for the other stage tests.
    copied = shutil.copytree(trained.run_dir, tmp_path / Path(trained.run_dir).name)
    longer = TrainConfig(**{**TINY_STAGE_TRAIN, "steps": 6})
    outcome = train_stage(
        ingested[0].snapshot_dir, ModelConfig(**TINY_STAGE_MODEL), longer, str(tmp_path), logging.getLogger("t")
    )
    assert outcome.run_dir == str(copied) and outcome.resumed_from_step == 4
    assert [row["step"] for row in outcome.history] == [2, 4, 6]
    assert outcome.generator_hash != trained.generator_hash


def test_train_refuses_a_batch_larger_than_the_data_before_creating_the_run(ingested, tmp_path):
    too_big = TrainConfig(**{**TINY_STAGE_TRAIN, "batch_size": 256})
    with pytest.raises(TrainingError, match="draws 256 real images"):
        train_stage(
            ingested[0].snapshot_dir, ModelConfig(**TINY_STAGE_MODEL), too_big, str(tmp_path), logging.getLogger("t")
        )
    assert list(tmp_path.iterdir()) == []
