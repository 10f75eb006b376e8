"""Accepted rows staged between the quality check and publish: round trip, batches, atomic appearance."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gan_core.quality.staging import AcceptedRowsWriter, StagingError, iter_staged, staged_rows


def chunk(count, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28, 1), dtype=np.uint8)
    return images, rng.integers(0, 10, size=count), rng.uniform(size=count).astype(np.float32)


def test_rows_come_back_in_order_in_batches_of_any_size(tmp_path):
    chunks = [chunk(37, 0), chunk(0, 1), chunk(90, 2)]
    path = tmp_path / "accepted.parquet"
    with AcceptedRowsWriter(path, (28, 28, 1)) as staged:
        for images, labels, confidences in chunks:
            staged.write(images, labels, confidences)
    assert staged.rows == staged_rows(path) == 127
    expected = [np.concatenate(column) for column in zip(*chunks)]
    for batch_rows in (1, 50, 1000):
        batches = list(iter_staged(path, batch_rows))
        assert max(len(labels) for _, labels, _ in batches) <= batch_rows
        got = [np.concatenate(column) for column in zip(*batches)]
        for mine, theirs in zip(got, expected):
            np.testing.assert_array_equal(mine, theirs)
        assert got[0].dtype == np.uint8 and got[1].dtype == np.int64 and got[2].dtype == np.float32


def test_nothing_appears_when_the_stage_fails_half_way(tmp_path):
    path = tmp_path / "accepted.parquet"
    with pytest.raises(RuntimeError, match="judge crashed"):
        with AcceptedRowsWriter(path, (28, 28, 1)) as staged:
            staged.write(*chunk(5, 0))
            raise RuntimeError("judge crashed")
    assert list(tmp_path.iterdir()) == []


def test_wrong_shapes_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(StagingError, match=r"\(n, 28, 28, 1\) uint8"):
        with AcceptedRowsWriter(tmp_path / "a.parquet", (28, 28, 1)) as staged:
            staged.write(np.zeros((2, 27, 27), np.uint8), np.zeros(2), np.zeros(2))
    with pytest.raises(StagingError, match="run the quality check first"):
        staged_rows(tmp_path / "missing.parquet")
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), foreign)
    with pytest.raises(StagingError, match="not a staged-rows file"):
        next(iter_staged(foreign, 10))
