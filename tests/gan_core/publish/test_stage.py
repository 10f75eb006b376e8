"""The publish step function, called directly: its outcome, the version it wrote, and nothing to publish."""

import json
import logging
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from gan_core.config import PublishConfig
from gan_core.data import load_snapshot
from gan_core.publish.loader import load_numpy
from gan_core.publish.stage import publish_stage
from gan_core.quality.staging import AcceptedRowsWriter, iter_staged

LOGGER = logging.getLogger("tests.stage")


def test_publish_outcome_describes_the_verified_version(ingested, trained, checked, tmp_path):
    config = PublishConfig(output_root=tmp_path / "datasets", dataset_name="stage-test")
    outcome = publish_stage(
        ingested[0].snapshot_dir, checked.accepted_path, config, trained.generator_hash, {"note": "stage test"}, LOGGER
    )
    assert Path(outcome.version_dir) == (tmp_path / "datasets" / "stage-test" / "v0001").resolve()
    assert outcome.version == 1 and outcome.rows == checked.num_accepted == 50
    assert outcome.rows_per_source == {"real": 0, "synthetic": 50} and outcome.rows_per_split == {"train": 50}
    manifest = json.loads((Path(outcome.version_dir) / "manifest.json").read_text())
    assert manifest["note"] == "stage test" and len(manifest["shards"]) == outcome.shards
    versions = pq.read_table(Path(outcome.version_dir) / "data", columns=["generator_version"]).column(0)
    assert set(versions.to_pylist()) == {trained.generator_hash[:16]}
    (staged_images, staged_labels, _), *_ = iter_staged(Path(checked.accepted_path), 1000)
    images, labels = load_numpy(Path(outcome.version_dir), "train")
    np.testing.assert_array_equal(labels, staged_labels)  # published in staged order
    np.testing.assert_array_equal(images, staged_images)


def test_publish_with_real_rows_adds_both_real_splits(ingested, trained, checked, tmp_path):
    _, splits = load_snapshot(Path(ingested[0].snapshot_dir))
    config = PublishConfig(output_root=tmp_path / "datasets", include_real=True)
    outcome = publish_stage(ingested[0].snapshot_dir, checked.accepted_path, config, trained.generator_hash, {}, LOGGER)
    real = len(splits.train_labels) + len(splits.test_labels)
    assert outcome.rows_per_source == {"synthetic": 50, "real": real}
    assert outcome.rows == 50 + real


def test_publish_of_no_accepted_samples_fails_and_writes_no_version(ingested, trained, tmp_path):
    rejected = tmp_path / "accepted.parquet"
    with AcceptedRowsWriter(rejected, (28, 28, 1)) as staged:
        staged.write(np.zeros((0, 28, 28, 1), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.float32))
    config = PublishConfig(output_root=tmp_path / "datasets")
    with pytest.raises(ValueError, match="zero rows"):
        publish_stage(ingested[0].snapshot_dir, str(rejected), config, trained.generator_hash, {}, LOGGER)
    assert not list((tmp_path / "datasets").glob("*/v*"))


def test_publish_refuses_a_missing_staging_file(ingested, trained, tmp_path):
    config = PublishConfig(output_root=tmp_path / "datasets")
    with pytest.raises(ValueError, match="run the quality check first"):
        publish_stage(
            ingested[0].snapshot_dir, str(tmp_path / "nothing.parquet"), config, trained.generator_hash, {}, LOGGER
        )
