"""The ingest step function, called directly: its outcome, its snapshot and cache index, and a bad source."""

import json
import logging
from pathlib import Path

import pytest

from gan_core.config import DataConfig
from gan_core.data import DataError, load_snapshot
from gan_core.data.stage import INDEX_DIR, cached_snapshot_present, ingest_stage, inputs_key


def test_ingest_outcome_names_the_snapshot_it_wrote_and_indexes_it(ingested):
    outcome, cache_root = ingested
    snapshot, splits = load_snapshot(Path(outcome.snapshot_dir))
    assert outcome.fingerprint == snapshot.fingerprint
    assert outcome.source_used.startswith("sample")
    assert outcome.counts["train"]["total"] == len(splits.train_labels) == 200
    assert outcome.counts["test"]["total"] == len(splits.test_labels)
    config = DataConfig(source="sample", real_labeled_limit=200)
    index = cache_root / INDEX_DIR / f"{inputs_key(config, cache_root)}.json"
    assert json.loads(index.read_text()) == {"snapshot": outcome.snapshot_dir}
    assert cached_snapshot_present(config, cache_root)
    assert not cached_snapshot_present(DataConfig(source="sample", real_labeled_limit=300), cache_root)


def test_ingest_of_a_missing_idx_directory_fails_and_indexes_nothing(tmp_path):
    config = DataConfig(source=f"idx:{tmp_path / 'absent'}")
    with pytest.raises(DataError, match="does not exist"):
        ingest_stage(config, tmp_path / "cache", logging.getLogger("tests.stage"))
    assert not (tmp_path / "cache" / INDEX_DIR).exists()
    assert not cached_snapshot_present(config, tmp_path / "cache")
