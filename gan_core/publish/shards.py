"""Rows to Arrow tables, and Parquet shards written one at a time, as soon as each fills.

A split's rows arrive block by block (:class:`gan_core.publish.rows.RowStream`); only the rows
of the shard being filled are held. Each shard is one ``pq.write_table`` of a single table, so
its bytes depend on its rows alone, never on how they were cut into blocks.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gan_core.imaging import encode_pngs
from gan_core.io import store
from gan_core.io.faults import fault_point
from gan_core.io.hashing import sha256_file
from gan_core.io.store import Target
from gan_core.publish.rows import CheckedPart
from gan_core.publish.schema import COMPRESSION, DATA_DIR, SOURCES


def write_listed(directory: Target, relative: str, data: bytes) -> dict:
    """Writes ``data`` to ``<directory>/<relative>``; returns its manifest entry (path, bytes, sha256).

    The digest is taken from the bytes written, so it costs no read-back (on an object store, no
    second download).
    """
    store.write_bytes(store.join(directory, *relative.split("/")), data)
    return {"path": relative, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def part_table(part: CheckedPart, schema: pa.Schema) -> pa.Table:
    """Encodes a checked block of rows (PNG images) as an Arrow table of ``schema``."""
    count = len(part.labels)
    image = pa.StructArray.from_arrays(
        [
            pa.array(encode_pngs(part.images), type=pa.binary()),
            pa.array([f"{sample_id}.png" for sample_id in part.sample_ids], type=pa.string()),
        ],
        fields=list(schema.field("image").type),
    )
    confidence = (
        pa.nulls(count, pa.float32())
        if part.judge_confidence is None
        else pa.array(part.judge_confidence, type=pa.float32())
    )
    return pa.Table.from_arrays(
        [
            image,
            pa.array(part.labels, type=pa.int64()),
            pa.array([part.source] * count, type=pa.string()),
            pa.array([part.split] * count, type=pa.string()),
            pa.array(part.sample_ids, type=pa.string()),
            confidence,
            pa.array([part.generator_version] * count, type=pa.string()),
        ],
        schema=schema,
    )


class VersionCounts:
    """Row counts of a version (per split, label, source), added up block by block."""

    def __init__(self, class_names: list[str]):
        self.class_names = class_names
        self.per_split: Counter = Counter()
        self.per_source: Counter = Counter()
        self.per_split_source: dict[str, Counter] = {}
        self.per_label = np.zeros(len(class_names), dtype=np.int64)

    def declare(self, split: str, source: str) -> None:
        """Registers a split and source, so one without rows still shows with 0."""
        self.per_split[split] += 0
        self.per_split_source.setdefault(split, Counter())[source] += 0

    def add(self, part: CheckedPart) -> None:
        """Counts one block."""
        count = len(part.labels)
        self.per_split[part.split] += count
        self.per_source[part.source] += count
        self.per_split_source.setdefault(part.split, Counter())[part.source] += count
        self.per_label += np.bincount(part.labels, minlength=len(self.class_names))

    def result(self) -> dict:
        """The manifest's count fields."""
        return {
            "num_rows": int(sum(self.per_split.values())),
            "rows_per_split": dict(sorted(self.per_split.items())),
            "rows_per_label": {name: int(n) for name, n in zip(self.class_names, self.per_label)},
            "rows_per_source": {source: self.per_source.get(source, 0) for source in SOURCES},
            "rows_per_split_source": {
                split: {source: counter.get(source, 0) for source in SOURCES}
                for split, counter in sorted(self.per_split_source.items())
            },
        }


class SplitShards:
    """Writes one split's rows into ``<staging>/data/<split>-NNNNN-of-MMMMM.parquet`` as shards fill.

    Args:
        staging: The version's staging directory (local) or its URL (an object store).
        split: The split's name.
        num_rows: Rows the split will get in all (the shard count is in every file name).
        rows_per_shard: Rows per shard; the last one holds the rest.
    """

    def __init__(self, staging: Target, split: str, num_rows: int, rows_per_shard: int):
        self.staging, self.split, self.num_rows, self.rows_per_shard = staging, split, num_rows, rows_per_shard
        # An empty split still gets one (empty) shard so its schema and name stay visible.
        self.num_shards = max(1, math.ceil(num_rows / rows_per_shard))
        self.shards: list[dict] = []
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._written_rows = 0

    def add(self, table: pa.Table) -> None:
        """Takes one block's rows; writes every shard that is now full."""
        if self._written_rows + self._pending_rows + table.num_rows > self.num_rows:
            raise ValueError(f"split {self.split!r} got more rows than the {self.num_rows} it announced")
        self._pending.append(table)
        self._pending_rows += table.num_rows
        while self._pending_rows >= self.rows_per_shard:
            self._flush(self.rows_per_shard)

    def close(self, schema: pa.Schema) -> list[dict]:
        """Writes the last shard; returns the manifest entries of every shard of the split.

        Raises:
            ValueError: fewer rows arrived than announced.
        """
        if self._pending_rows or not self.shards:
            self._pending.append(schema.empty_table())
            self._flush(self._pending_rows)
        if self._written_rows != self.num_rows:
            raise ValueError(f"split {self.split!r} got {self._written_rows} rows but announced {self.num_rows}")
        return self.shards

    def _flush(self, rows: int) -> None:
        combined = pa.concat_tables(self._pending).combine_chunks()
        chunk, rest = combined.slice(0, rows), combined.slice(rows)
        self._pending, self._pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        relative = f"{DATA_DIR}/{self.split}-{len(self.shards):05d}-of-{self.num_shards:05d}.parquet"
        path = store.join(self.staging, *relative.split("/"))
        if store.is_remote(path):
            # No file to write into: encode in memory (one shard, a few MB) and upload the bytes.
            buffer = pa.BufferOutputStream()
            pq.write_table(chunk, buffer, compression=COMPRESSION)
            entry = write_listed(self.staging, relative, buffer.getvalue().to_pybytes())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(chunk, path, compression=COMPRESSION)
            entry = {"path": relative, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
        self._written_rows += chunk.num_rows
        self.shards.append({**entry, "split": self.split, "rows": chunk.num_rows})
        fault_point("publish.shard_written")
