"""What goes into a staged version directory: shards as they fill, the dataset card, the manifest.

The caller (:mod:`gan_core.publish.writer`) owns the transaction around it: the version number,
the staging directory, the rename into place and LATEST.
"""

from __future__ import annotations

import json
from collections import Counter

from gan_core.imaging import FirstPerClass, encode_png, upscale
from gan_core.io.faults import fault_point
from gan_core.io.store import Target
from gan_core.publish.card import CARD_FILE, GRID_FILE, GRID_PER_CLASS, render_card
from gan_core.publish.manifest import MANIFEST_DIGEST_KEY, dump_json, manifest_digest
from gan_core.publish.rows import CheckedPart, RowStream, check_part, with_sample_ids
from gan_core.publish.schema import MANIFEST_FILE, SOURCES, arrow_schema
from gan_core.publish.shards import SplitShards, VersionCounts, part_table, write_listed


def _checked_block(
    index: int, block, stream: RowStream, num_classes: int, image_shape: tuple[int, int, int]
) -> CheckedPart:
    part = check_part(index, block, num_classes, image_shape)
    if (part.source, part.split) != (stream.source, stream.split):
        raise ValueError(
            f"streams[{index}] is {stream.source!r}/{stream.split!r} but yielded a {part.source!r}/{part.split!r} "
            "block; give each source and split its own stream"
        )
    if part.sample_ids is not None:
        raise ValueError(
            f"streams[{index}] yielded explicit sample_ids; streamed rows are numbered automatically "
            "(uniqueness across a stream is not checked), so pass sample_ids=None"
        )
    return part


def write_contents(
    staging: Target,
    streams: list[RowStream],
    prechecked: bool,
    names: list[str],
    image_shape: tuple[int, int, int],
    rows_per_shard: int,
    head: dict,
) -> dict:
    """Writes a version's shards, dataset card, sample grid and manifest into ``staging``; returns the manifest.

    The manifest is written last: on an object store, where nothing is renamed, its arrival is
    what makes the version visible.

    Args:
        staging: The empty staging directory of the version, or the version's URL on an object store.
        streams: The rows, split by split in sorted order; streams of one split in their order.
        prechecked: The blocks are already checked :class:`CheckedPart` s (rows from memory).
        names: Class names.
        image_shape: (H, W, C) of every image.
        rows_per_shard: Rows per shard.
        head: The manifest fields known before any row is written.
    """
    schema = arrow_schema(names)
    counts = VersionCounts(names)
    grids = {source: FirstPerClass(len(names), GRID_PER_CLASS, image_shape) for source in SOURCES}
    numbering: Counter = Counter()
    shards = []
    for split in sorted({stream.split for stream in streams}):
        mine = [(index, stream) for index, stream in enumerate(streams) if stream.split == split]
        writer = SplitShards(staging, split, sum(stream.num_rows for _, stream in mine), rows_per_shard)
        for index, stream in mine:
            counts.declare(split, stream.source)
            for block in stream.blocks():
                part = block if prechecked else _checked_block(index, block, stream, len(names), image_shape)
                part = with_sample_ids(part, numbering)
                counts.add(part)
                grids[part.source].add(part.images, part.labels)
                writer.add(part_table(part, schema))
        shards += writer.close(schema)
    manifest = {**head, **counts.result(), "shards": shards}
    # The card shows the synthetic rows when there are any: they are what this dataset adds.
    grid = grids["synthetic"] if grids["synthetic"].count else grids["real"]
    files = []
    if grid.count:
        files.append(write_listed(staging, GRID_FILE, encode_png(upscale(grid.grid(), 2))))
    card = render_card(manifest, has_grid=bool(files))
    files.insert(0, write_listed(staging, CARD_FILE, card.encode()))
    manifest["files"] = files
    manifest[MANIFEST_DIGEST_KEY] = manifest_digest(manifest)
    text = dump_json(manifest)
    write_listed(staging, MANIFEST_FILE, text.encode())
    fault_point("publish.staged")
    return json.loads(text)
