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


def test_the_outcome_carries_shape_and_split(ingested):
    outcome, _ = ingested
    assert outcome.image_shape == [28, 28, 1]
    assert outcome.split == {"method": "given", "test_split": "test", "test_fraction": None, "seed": None}


def test_a_folder_cache_key_reads_no_image_and_follows_edits(tmp_path, monkeypatch):
    import os

    from PIL import Image

    from tests.gan_core.data.builders import class_folder, save

    class_folder(tmp_path / "images", {"a": 3, "b": 3}, side=16, channels=3)
    config = DataConfig(source=f"folder:{tmp_path / 'images'}")
    cache_root = tmp_path / "cache"
    outcome = ingest_stage(config, cache_root, logging.getLogger("tests.stage"))
    assert outcome.image_shape == [16, 16, 3] and outcome.split["method"] == "seeded-stratified"

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached re-run must not open an image")

    with monkeypatch.context() as patch:
        patch.setattr(Image, "open", no_decoding)
        key = inputs_key(config, cache_root)
        assert cached_snapshot_present(config, cache_root)  # a re-run would reuse it, reading nothing
    assert inputs_key(config, cache_root) == key
    image = tmp_path / "images" / "a" / "000.png"
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # edited in place
    assert inputs_key(config, cache_root) != key
    key = inputs_key(config, cache_root)
    save(tmp_path / "images" / "b" / "new.png", Image.new("RGB", (16, 16)))
    assert inputs_key(config, cache_root) != key
    assert not cached_snapshot_present(config, cache_root)  # an edited folder re-ingests
