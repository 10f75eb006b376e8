"""Tests for gan_core.publish: layout, schema, read-back by pyarrow/pandas/datasets, atomicity."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import gan_core
from gan_core import publish
from gan_core.imaging import decode_png
from gan_core.publish import PublishError, Rows

CLASS_NAMES = [f"digit_{i}" for i in range(10)]
NAME = "mnist-test"


def make_rows(count: int, source: str = "real", split: str = "train", seed: int = 0, **overrides) -> Rows:
    rng = np.random.default_rng(seed)
    fields = {
        "images": rng.integers(0, 256, size=(count, 28, 28, 1), dtype=np.uint8),
        "labels": rng.integers(0, 10, size=count).astype(np.int64),
        "source": source,
        "split": split,
    }
    if source == "synthetic":
        fields["judge_confidence"] = rng.uniform(0, 1, size=count).astype(np.float32)
        fields["generator_version"] = "gen-abc123"
    fields.update(overrides)
    return Rows(**fields)


def standard_parts() -> list[Rows]:
    return [
        make_rows(250, "real", "train", seed=1),
        make_rows(40, "synthetic", "train", seed=2),
        make_rows(30, "real", "test", seed=3),
    ]


def publish_standard(root: Path, **kwargs) -> publish.PublishedVersion:
    fields = {"source_fingerprint": "abc", "metrics": {"fid": np.float32(1.5)}}
    return publish.publish_version(
        root, NAME, standard_parts(), CLASS_NAMES, fields, rows_per_shard=kwargs.pop("rows_per_shard", 100)
    )


def expected_by_id(parts: list[Rows]) -> dict[str, tuple[np.ndarray, int, str, float | None]]:
    """Maps the auto-assigned sample ids to (pixels, label, source, confidence)."""
    expected = {}
    counters: dict[tuple[str, str], int] = {}
    for part in parts:
        prefix = "real" if part.source == "real" else "syn"
        start = counters.get((part.source, part.split), 0)
        for i in range(len(part)):
            confidence = None if part.judge_confidence is None else float(part.judge_confidence[i])
            expected[f"{prefix}-{part.split}-{start + i:06d}"] = (
                part.images[i],
                int(part.labels[i]),
                part.source,
                confidence,
            )
        counters[(part.source, part.split)] = start + len(part)
    return expected


def visible_entries(dataset_dir: Path) -> list[str]:
    # The publish lock file stays between publishes by design (flock needs a stable inode).
    return sorted(p.name for p in dataset_dir.iterdir() if p.name != ".lock") if dataset_dir.exists() else []


def test_layout_manifest_and_latest(tmp_path):
    result = publish_standard(tmp_path)
    dataset_dir = tmp_path / NAME
    assert result.path == dataset_dir / "v0001"
    assert result.version == 1
    assert (dataset_dir / "LATEST").read_text() == "v0001\n"
    assert visible_entries(dataset_dir) == ["LATEST", "v0001"]
    assert sorted(p.name for p in (result.path / "data").iterdir()) == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00003.parquet",
        "train-00001-of-00003.parquet",
        "train-00002-of-00003.parquet",
    ]

    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest == result.manifest
    assert manifest["schema_version"] == 1
    assert manifest["version"] == 1 and manifest["version_name"] == "v0001"
    assert manifest["dataset_name"] == NAME
    assert manifest["class_names"] == CLASS_NAMES
    assert manifest["code_version"]["gan_core"] == gan_core.__version__
    assert datetime.fromisoformat(manifest["created_at"]).utcoffset().total_seconds() == 0
    assert manifest["num_rows"] == 320
    assert manifest["rows_per_split"] == {"test": 30, "train": 290}
    assert manifest["rows_per_source"] == {"real": 280, "synthetic": 40}
    assert manifest["rows_per_split_source"] == {
        "test": {"real": 30, "synthetic": 0},
        "train": {"real": 250, "synthetic": 40},
    }
    all_labels = np.concatenate([part.labels for part in standard_parts()])
    assert manifest["rows_per_label"] == {
        name: int(n) for name, n in zip(CLASS_NAMES, np.bincount(all_labels, minlength=10))
    }
    assert [(s["path"], s["split"], s["rows"]) for s in manifest["shards"]] == [
        ("data/test-00000-of-00001.parquet", "test", 30),
        ("data/train-00000-of-00003.parquet", "train", 100),
        ("data/train-00001-of-00003.parquet", "train", 100),
        ("data/train-00002-of-00003.parquet", "train", 90),
    ]
    for shard in manifest["shards"]:
        assert shard["bytes"] == (result.path / shard["path"]).stat().st_size
        assert len(shard["sha256"]) == 64
    assert "judge_confidence: float" in manifest["arrow_schema"]
    # Caller fields are kept under their own keys, numpy values as plain JSON numbers.
    assert manifest["source_fingerprint"] == "abc"
    assert manifest["metrics"] == {"fid": 1.5}
    assert set(manifest) - {"source_fingerprint", "metrics"} == publish.RESERVED_MANIFEST_KEYS


def test_read_back_with_pyarrow_and_pandas(tmp_path):
    result = publish_standard(tmp_path)
    expected = expected_by_id(standard_parts())

    table = pq.read_table(result.path / "data")
    assert table.num_rows == 320
    assert table.schema.equals(publish.arrow_schema(CLASS_NAMES), check_metadata=False)
    assert b"huggingface" in pq.read_schema(result.path / "data/train-00000-of-00003.parquet").metadata
    rows = table.to_pylist()
    assert len({row["sample_id"] for row in rows}) == 320
    assert {row["sample_id"] for row in rows} == set(expected)
    for row in rows:
        pixels, label, source, confidence = expected[row["sample_id"]]
        np.testing.assert_array_equal(decode_png(row["image"]["bytes"]), pixels)
        assert row["image"]["path"] == f"{row['sample_id']}.png"
        assert (row["label"], row["source"]) == (label, source)
        assert row["split"] in ("train", "test") and row["sample_id"].split("-")[1] == row["split"]
        if source == "real":
            assert row["judge_confidence"] is None and row["generator_version"] is None
        else:
            assert row["judge_confidence"] == pytest.approx(confidence)
            assert row["generator_version"] == "gen-abc123"

    frame = pd.read_parquet(result.path / "data")
    assert len(frame) == 320
    assert frame["sample_id"].is_unique
    assert frame["source"].value_counts().to_dict() == {"real": 280, "synthetic": 40}
    first = frame.iloc[0]
    np.testing.assert_array_equal(decode_png(first["image"]["bytes"]), expected[first["sample_id"]][0])


def test_hf_datasets_decodes_images_and_class_names(tmp_path):
    datasets = pytest.importorskip("datasets")
    result = publish_standard(tmp_path)
    data = result.path / "data"
    loaded = datasets.load_dataset(
        "parquet",
        data_files={
            "train": sorted(str(p) for p in data.glob("train-*.parquet")),
            "test": [str(data / "test-00000-of-00001.parquet")],
        },
        cache_dir=str(tmp_path / "hf-cache"),
    )
    assert loaded["train"].num_rows == 290 and loaded["test"].num_rows == 30
    features = loaded["train"].features
    assert isinstance(features["label"], datasets.ClassLabel)
    assert features["label"].names == CLASS_NAMES
    assert isinstance(features["image"], datasets.Image)
    assert features["judge_confidence"].dtype == "float32"

    expected = expected_by_id(standard_parts())
    train = loaded["train"]
    assert len(set(train["sample_id"])) == 290
    for index in (0, 150, 289):  # first real shard, middle, the synthetic tail
        row = train[index]
        pixels, label, source, confidence = expected[row["sample_id"]]
        assert row["image"].mode == "L"  # HF decodes a grayscale PIL image
        np.testing.assert_array_equal(np.array(row["image"])[..., None], pixels)
        assert row["label"] == label
        assert features["label"].int2str(row["label"]) == CLASS_NAMES[label]
        assert row["source"] == source
        assert (row["judge_confidence"] is None) == (source == "real")


def test_versions_increment_latest_moves_and_old_versions_stay(tmp_path):
    dataset_dir = tmp_path / NAME
    first = publish_standard(tmp_path)
    first_manifest = (first.path / "manifest.json").read_bytes()
    first_shard = (first.path / "data/train-00000-of-00003.parquet").read_bytes()

    second = publish.publish_version(tmp_path, NAME, [make_rows(5, seed=9)], CLASS_NAMES, {})
    assert (second.path.name, second.version) == ("v0002", 2)
    assert (dataset_dir / "LATEST").read_text() == "v0002\n"
    assert publish.list_versions(dataset_dir) == [1, 2]
    assert publish.resolve_version(dataset_dir) == second.path
    assert publish.resolve_version(dataset_dir, 1) == first.path
    assert publish.resolve_version(dataset_dir, "v0001") == first.path
    assert publish.resolve_version(dataset_dir, "2") == second.path
    # The first version is untouched.
    assert (first.path / "manifest.json").read_bytes() == first_manifest
    assert (first.path / "data/train-00000-of-00003.parquet").read_bytes() == first_shard
    assert publish.verify(first.path)["rows"] == 320
    assert publish.read_manifest(second.path)["num_rows"] == 5


def test_taken_names_are_skipped_never_overwritten(tmp_path):
    dataset_dir = tmp_path / NAME
    dataset_dir.mkdir()
    # A stray file with a version's name is not a version, but its name is still taken.
    (dataset_dir / "v0001").write_text("not a version")
    # A leftover staging directory of a crashed publisher is ignored.
    (dataset_dir / ".v0007.tmp.deadbeef").mkdir()

    result = publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {})
    assert result.path.name == "v0002"
    assert (dataset_dir / "v0001").read_text() == "not a version"
    assert (dataset_dir / "LATEST").read_text() == "v0002\n"


def test_version_numbers_are_not_reused_after_the_latest_dir_is_deleted(tmp_path):
    dataset_dir = tmp_path / NAME
    publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {})
    second = publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {})
    os.rename(second.path, dataset_dir / ".deleted")
    third = publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {})
    assert third.path.name == "v0003"


def test_invalid_second_part_leaves_nothing_visible(tmp_path):
    dataset_dir = tmp_path / NAME
    publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {})
    before = visible_entries(dataset_dir)
    bad = make_rows(4, split="test", images=np.zeros((4, 28, 27), np.uint8))
    with pytest.raises(ValueError, match=r"parts\[1\]\.images must be 28x28, got 28x27"):
        publish.publish_version(tmp_path, NAME, [make_rows(10), bad], CLASS_NAMES, {})
    assert visible_entries(dataset_dir) == before == ["LATEST", "v0001"]
    assert (dataset_dir / "LATEST").read_text() == "v0001\n"


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_write_failure_in_second_shard_leaves_nothing_visible(tmp_path):
    dataset_dir = tmp_path / NAME
    publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {})
    # Shards are written split by split in sorted order: a small "test" shard (~10 kB) first,
    # then a ~200 kB "train" shard that a real 64 kB file size limit makes the kernel refuse.
    parts = [make_rows(10, split="test"), make_rows(200, split="train")]
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG, not a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(PublishError, match="file size limit") as caught:
            publish.publish_version(tmp_path, NAME, parts, CLASS_NAMES, {}, rows_per_shard=1000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert "Nothing was published" in str(caught.value)
    # No new version, no leftover staging directory, LATEST unchanged, old version intact.
    assert visible_entries(dataset_dir) == ["LATEST", "v0001"]
    assert (dataset_dir / "LATEST").read_text() == "v0001\n"
    assert publish.verify(dataset_dir / "v0001")["rows"] == 3


def test_disk_full_raises_publish_error_and_publishes_nothing(tmp_path, monkeypatch):
    dataset_dir = tmp_path / NAME
    publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {})
    real_write_table = pq.write_table
    calls = []

    def fill_disk_on_second_shard(table, where, **kwargs):
        # Fault injection at the pyarrow boundary (this box has no /dev/full): the first shard
        # is written for real, the second stops half-way with the kernel's ENOSPC.
        calls.append(where)
        if len(calls) < 2:
            return real_write_table(table, where, **kwargs)
        Path(where).write_bytes(b"PAR1" + bytes(1000))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", fill_disk_on_second_shard)
    with pytest.raises(PublishError, match="disk is full") as caught:
        publish.publish_version(tmp_path, NAME, standard_parts(), CLASS_NAMES, {}, rows_per_shard=100)
    message = str(caught.value)
    assert "bytes" in message and "Nothing was published" in message
    assert len(calls) == 2
    assert visible_entries(dataset_dir) == ["LATEST", "v0001"]
    assert (dataset_dir / "LATEST").read_text() == "v0001\n"


def test_verify_summary(tmp_path):
    result = publish_standard(tmp_path)
    summary = publish.verify(result.path)
    assert summary["shards"] == 4 and summary["rows"] == 320 and summary["version"] == 1
    assert summary["rows_per_split"] == {"test": 30, "train": 290}
    assert summary["bytes"] == sum(s["bytes"] for s in result.manifest["shards"])


def test_verify_detects_a_flipped_byte(tmp_path):
    result = publish_standard(tmp_path)
    shard = result.path / "data/train-00001-of-00003.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    with pytest.raises(PublishError, match=r"data/train-00001-of-00003\.parquet does not match its sha256"):
        publish.verify(result.path)


def test_verify_detects_a_deleted_shard(tmp_path):
    result = publish_standard(tmp_path)
    (result.path / "data/train-00002-of-00003.parquet").unlink()
    with pytest.raises(PublishError, match=r"train-00002-of-00003\.parquet is missing.*restore"):
        publish.verify(result.path)


def test_verify_detects_an_extra_file_and_a_wrong_row_count(tmp_path):
    result = publish_standard(tmp_path)
    extra = result.path / "data/train-00003-of-00003.parquet"
    extra.write_bytes((result.path / "data/train-00000-of-00003.parquet").read_bytes())
    with pytest.raises(PublishError, match=r"train-00003-of-00003\.parquet .* not listed in the manifest"):
        publish.verify(result.path)
    extra.unlink()

    manifest_path = result.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["shards"][0]["rows"] += 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(PublishError, match=r"manifest\.json was edited after publishing"):
        publish.verify(result.path)
    # Without its digest (as in versions published before it existed) the row count still fails.
    del manifest["manifest_sha256"]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(PublishError, match=r"test-00000-of-00001\.parquet has 30 rows, the manifest says 31"):
        publish.verify(result.path)


def test_reserved_manifest_keys_are_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"reserved key\(s\) \['shards', 'version'\]"):
        publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {"version": 9, "shards": []})
    assert not (tmp_path / NAME).exists()


@pytest.mark.parametrize("fields", [{"metric": float("nan")}, {"blob": object()}, {3: "x"}])
def test_manifest_fields_must_be_plain_json(tmp_path, fields):
    with pytest.raises(ValueError, match="manifest_fields"):
        publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, fields)
    assert not (tmp_path / NAME).exists()


@pytest.mark.parametrize(
    ("parts", "kwargs", "match"),
    [
        ([], {}, "parts is empty"),
        ([make_rows(0)], {}, "zero rows"),
        ([make_rows(3, images=np.zeros((3, 28, 28), np.float32))], {}, "uint8"),
        ([make_rows(3, labels=np.array([0, 1]))], {}, r"labels must be an integer array of shape \(3,\)"),
        ([make_rows(3, labels=np.array([0, 1, 10]))], {}, r"labels must lie in \[0, 9\]"),
        ([make_rows(3, labels=np.array([0.0, 1.0, 2.0]))], {}, "integer array"),
        ([make_rows(3, source="fake")], {}, "source must be one of"),
        ([make_rows(3, split="train-a")], {}, "split 'train-a' is not allowed"),
        ([make_rows(3, judge_confidence=np.ones(3))], {}, "is real but has judge_confidence"),
        (
            [make_rows(3, "synthetic", judge_confidence=np.ones(2))],
            {},
            r"judge_confidence must be a float array of shape \(3,\)",
        ),
        ([make_rows(3, "synthetic", judge_confidence=np.array([0.1, 1.5, 0.2]))], {}, r"within \[0, 1\]"),
        ([make_rows(3, sample_ids=["a", "b"])], {}, "sample_ids has 2 entries for 3 images"),
        (
            [make_rows(2, sample_ids=["a", "b"]), make_rows(2, "synthetic", sample_ids=["c", "a"])],
            {},
            "'a' appears more than once",
        ),
        ([make_rows(3)], {"class_names": ["a", "a"]}, "class_names must be unique"),
        ([make_rows(3)], {"dataset_name": "../escape"}, "dataset_name '../escape' is not allowed"),
        ([make_rows(3)], {"rows_per_shard": 0}, "rows_per_shard must be a positive integer"),
    ],
)
def test_invalid_input_is_rejected_before_writing(tmp_path, parts, kwargs, match):
    arguments = {"class_names": CLASS_NAMES, "dataset_name": NAME, **kwargs}
    with pytest.raises(ValueError, match=match):
        publish.publish_version(
            tmp_path / "out",
            arguments["dataset_name"],
            parts,
            arguments["class_names"],
            {},
            rows_per_shard=kwargs.get("rows_per_shard", 100),
        )
    assert not (tmp_path / "out").exists()


def test_sample_ids_are_numbered_per_source_and_split_and_no_channel_axis_is_grayscale(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(2, 28, 28), dtype=np.uint8)
    parts = [
        make_rows(2, "synthetic"),
        make_rows(3, "synthetic"),
        make_rows(2, "synthetic", split="test", images=images),
        make_rows(1, "real", sample_ids=["mnist-train-42"]),
    ]
    result = publish.publish_version(tmp_path, NAME, parts, CLASS_NAMES, {})
    table = pq.read_table(result.path / "data")
    assert sorted(table.column("sample_id").to_pylist()) == sorted(
        ["syn-train-000000", "syn-train-000001", "syn-train-000002", "syn-train-000003", "syn-train-000004",
         "syn-test-000000", "syn-test-000001", "mnist-train-42"]
    )
    test_rows = pq.read_table(result.path / "data/test-00000-of-00001.parquet").to_pylist()
    np.testing.assert_array_equal(decode_png(test_rows[1]["image"]["bytes"]), images[1, :, :, None])


def test_an_empty_part_still_gets_one_empty_shard(tmp_path):
    result = publish.publish_version(
        tmp_path, NAME, [make_rows(4), make_rows(0, "synthetic", split="test")], CLASS_NAMES, {}
    )
    assert result.manifest["rows_per_split"] == {"test": 0, "train": 4}
    assert pq.read_table(result.path / "data/test-00000-of-00001.parquet").num_rows == 0
    assert publish.verify(result.path)["rows"] == 4


def test_resolve_and_read_errors_name_the_fix(tmp_path):
    dataset_dir = tmp_path / NAME
    assert publish.list_versions(dataset_dir) == []
    with pytest.raises(FileNotFoundError, match="run publish_version first"):
        publish.resolve_version(dataset_dir)
    with pytest.raises(FileNotFoundError, match="not a published version directory"):
        publish.read_manifest(tmp_path)
    publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {})
    with pytest.raises(FileNotFoundError, match=r"v0005 is not published .*available: \[1\]"):
        publish.resolve_version(dataset_dir, 5)
    with pytest.raises(ValueError, match="not 'latest', a number"):
        publish.resolve_version(dataset_dir, "newest")
    (dataset_dir / "LATEST").write_text("garbage\n")
    with pytest.raises(PublishError, match="holds 'garbage'"):
        publish.resolve_version(dataset_dir)
