"""Streamed publishing: shards written as they fill hold the same bytes as rows published from memory."""

from __future__ import annotations

import pytest

from gan_core import publish
from gan_core.io.hashing import sha256_file
from gan_core.publish import RowStream, Rows

from tests.gan_core.publish.test_writer import CLASS_NAMES, NAME, make_rows, visible_entries

SHAPE = (28, 28, 1)


def blocks_of(rows: Rows, size: int):
    """A re-iterable stream of ``rows`` cut into blocks of ``size``."""

    def blocks():
        for start in range(0, len(rows), size):
            cut = slice(start, start + size)
            confidence = None if rows.judge_confidence is None else rows.judge_confidence[cut]
            yield Rows(rows.images[cut], rows.labels[cut], rows.source, rows.split,
                       judge_confidence=confidence, generator_version=rows.generator_version)  # fmt: skip

    return RowStream(rows.source, rows.split, len(rows), blocks)


def shard_hashes(version) -> list[tuple[str, str]]:
    return [(shard["path"], sha256_file(version.path / shard["path"])) for shard in version.manifest["shards"]]


def test_streamed_blocks_give_the_bytes_of_rows_published_from_memory(tmp_path):
    parts = [make_rows(250, "synthetic", "train", seed=2), make_rows(30, "real", "test", seed=3)]
    whole = publish.publish_version(tmp_path / "a", NAME, parts, CLASS_NAMES, {}, rows_per_shard=100)
    for block in (7, 100, 1000):
        streamed = publish.publish_streams(
            tmp_path / f"b{block}",
            NAME,
            [blocks_of(part, block) for part in parts],
            CLASS_NAMES,
            {},
            rows_per_shard=100,
            image_shape=SHAPE,
        )
        assert shard_hashes(streamed) == shard_hashes(whole)
        assert [shard["rows"] for shard in streamed.manifest["shards"]] == [30, 100, 100, 50]
        assert publish.verify(streamed.path)["rows"] == 280


def test_a_stream_that_breaks_its_word_publishes_nothing(tmp_path):
    publish.publish_version(tmp_path, NAME, [make_rows(3)], CLASS_NAMES, {})
    rows = make_rows(50, "synthetic", seed=4)
    short = RowStream("synthetic", "train", 60, blocks_of(rows, 20).blocks)
    with pytest.raises(ValueError, match="got 50 rows but announced 60"):
        publish.publish_streams(tmp_path, NAME, [short], CLASS_NAMES, {}, rows_per_shard=40, image_shape=SHAPE)
    long = RowStream("synthetic", "train", 30, blocks_of(rows, 20).blocks)
    with pytest.raises(ValueError, match="more rows than the 30 it announced"):
        publish.publish_streams(tmp_path, NAME, [long], CLASS_NAMES, {}, image_shape=SHAPE)
    mislabelled = RowStream("synthetic", "test", 50, blocks_of(rows, 20).blocks)
    with pytest.raises(ValueError, match="'synthetic'/'test' but yielded a 'synthetic'/'train' block"):
        publish.publish_streams(tmp_path, NAME, [mislabelled], CLASS_NAMES, {}, image_shape=SHAPE)
    assert visible_entries(tmp_path / NAME) == ["LATEST", "v0001"]
    with pytest.raises(ValueError, match="streams is empty"):
        publish.publish_streams(tmp_path, NAME, [], CLASS_NAMES, {}, image_shape=SHAPE)
