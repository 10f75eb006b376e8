"""Hugging Face image datasets saved as Parquet: ``parquet:<file | directory | glob>``.

Each file holds an ``image`` column, ``struct<bytes: binary, path: string>`` as the HF ``Image``
feature writes it (when ``bytes`` is null the image is read from ``path``, relative to the Parquet
file's directory), and an integer ``label`` column. Class names come from the schema's
``huggingface`` metadata (``{"info": {"features": {"label": {"_type": "ClassLabel", "names": [...]}}}}``)
when present; otherwise the label ids, sorted, become the names (as strings). A label outside the
class names (or null) is a :class:`DataError` naming the file and the row.

A directory is searched recursively for ``*.parquet`` (hidden names ignored); a published dataset
of this project (a folder with ``LATEST``) is read at its latest version. Each file's split comes
from its name, as the HF hub tells splits apart: a word ``train``/``training``, ``test``/``testing``
or ``validation``/``valid``/``val``/``dev`` between separators (``-._ /`` or digits), checked in the
file name first, then its folders (``data/train-00000-of-00001.parquet``,
``default/test/0000.parquet``). Without a ``test`` file, ``validation`` files are the test split
(with both, a warning says validation is ignored); with no split names at all, or ``train`` alone,
the test split is a seeded stratified draw. Extra columns (a published version's ``source``,
``split``, ``sample_id``, ...) are ignored; the row counts by ``source`` are logged.
Decoding and conversion follow :mod:`gan_core.data.images`.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from gan_core.config import DataConfig
from gan_core.data.folder import ImageFile, listing_digest
from gan_core.data.images import Geometry, ImagePool, pool_or_own, quiet_bomb_warnings, resolve_geometry
from gan_core.data.splits import DataError, LabeledSplits, check_class_count
from gan_core.data.subset import arrange_splits

logger = logging.getLogger(__name__)


def _arrow():
    """Imports pyarrow on first use, so importing gan_core.data (and every decoding worker) stays free of it.

    Returns:
        (pyarrow, pyarrow.parquet).
    """
    import pyarrow
    import pyarrow.parquet

    return pyarrow, pyarrow.parquet


# Rows decoded per step: large enough for the worker pool, small next to the image array.
_BATCH_ROWS = 8192
_SPLIT_WORDS = {
    "train": ("train", "training"),
    "test": ("test", "testing"),
    "validation": ("validation", "valid", "val", "dev"),
}
_SPLIT_PATTERNS = {
    split: re.compile(rf"(?:^|[-._ ])(?:{'|'.join(words)})(?:[-._ 0-9]|$)") for split, words in _SPLIT_WORDS.items()
}


@dataclass(frozen=True)
class ParquetFile:
    """One Parquet file of the source, before any image is read."""

    path: Path
    split: str | None  # 'train', 'test', 'validation' or None (the name says none)
    rows: int
    class_names: tuple[str, ...] | None  # from the schema's huggingface metadata
    has_source: bool


def split_of(relative: str) -> str | None:
    """The split a Parquet file's path names (file name first, then its folders), or None."""
    parts = Path(relative).with_suffix("").parts
    for part in reversed(parts):
        for split, pattern in _SPLIT_PATTERNS.items():
            if pattern.search(part.lower()):
                return split
    return None


def parquet_paths(spec: str) -> tuple[Path, list[Path]]:
    """(base directory, Parquet files) of a ``parquet:`` spec: a file, a directory or a glob.

    Raises:
        DataError: nothing matches.
    """
    path = Path(spec).expanduser()
    if path.is_file():
        return path.parent.absolute(), [path.absolute()]
    if path.is_dir():
        latest = path / "LATEST"
        if latest.is_file() and (path / latest.read_text().strip()).is_dir():
            path = path / latest.read_text().strip()  # a published dataset: its latest version
        base = path.absolute()
        files = sorted(
            file
            for file in base.rglob("*.parquet")
            if not any(part.startswith(".") for part in file.relative_to(base).parts)
        )
    else:
        files = sorted(
            Path(match).absolute() for match in glob.glob(str(path), recursive=True) if match.endswith(".parquet")
        )
        base = Path(os.path.commonpath([file.parent for file in files])) if files else path.parent
    if not files:
        raise DataError(
            f"parquet source {spec!r} matches no .parquet file; pass parquet:<a .parquet file, a directory holding "
            "them (e.g. a Hugging Face dataset's data/ folder) or a glob such as data/*.parquet>"
        )
    return base, files


def _class_names(schema) -> tuple[str, ...] | None:
    raw = (schema.metadata or {}).get(b"huggingface")
    if raw is None:
        return None
    try:
        label = json.loads(raw)["info"]["features"]["label"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(label, dict) or label.get("_type") != "ClassLabel" or not isinstance(label.get("names"), list):
        return None
    return tuple(str(name) for name in label["names"])


def _describe(path: Path, base: Path) -> ParquetFile:
    pa, pq = _arrow()
    try:
        metadata = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{path}: not a readable Parquet file ({error}); re-download or re-export it") from error
    schema = metadata.schema_arrow
    names = schema.names
    if "image" not in names or "label" not in names:
        raise DataError(
            f"{path}: columns {names} lack 'image' and/or 'label'; a Hugging Face image-classification dataset "
            "has an Image column 'image' and a ClassLabel column 'label'"
        )
    image_type, label_type = schema.field("image").type, schema.field("label").type
    image_ok = (
        pa.types.is_binary(image_type)
        or pa.types.is_large_binary(image_type)
        or (pa.types.is_struct(image_type) and image_type.get_field_index("bytes") >= 0)
    )
    if not image_ok or not pa.types.is_integer(label_type):
        raise DataError(
            f"{path}: column 'image' is {image_type} and 'label' is {label_type}; expected the Hugging Face Image "
            "struct<bytes: binary, path: string> and an integer ClassLabel"
        )
    return ParquetFile(
        path,
        split_of(str(path.relative_to(base))),
        metadata.metadata.num_rows,
        _class_names(schema),
        "source" in names,
    )


def _choose_files(files: list[ParquetFile]) -> tuple[list[ParquetFile], str | None]:
    """The files to read and the split serving as test ('test', 'validation', or None: drawn)."""
    named = {file.split for file in files}
    if named == {None}:
        return files, None
    unnamed = [file.path for file in files if file.split is None]
    if unnamed:
        raise DataError(
            f"{unnamed[0]}: its name says no split while others do; name every file after its split "
            "(train-*.parquet, test-*.parquet) or point parquet: at one split's files"
        )
    if "train" not in named:
        raise DataError(
            f"parquet files {[str(file.path) for file in files][:3]} hold split(s) {sorted(named)} but no train "
            "split; add the train files (a name with 'train')"
        )
    test = "test" if "test" in named else ("validation" if "validation" in named else None)
    if test == "test" and "validation" in named:
        ignored = [str(file.path) for file in files if file.split == "validation"]
        logger.warning("parquet source: using the test files as the test split; ignoring validation files %s", ignored)
    return [file for file in files if file.split in ("train", test)], test


def _read_labels(file: ParquetFile) -> tuple[np.ndarray, list | None]:
    _, pq = _arrow()
    columns = ["label"] + (["source"] if file.has_source else [])
    table = pq.read_table(file.path, columns=columns)
    labels = table.column("label")
    if labels.null_count:
        row = int(np.flatnonzero(np.asarray(labels.is_null()))[0])
        raise DataError(f"{file.path} row {row}: the label is null; give every row a class label or drop the row")
    sources = table.column("source").to_pylist() if file.has_source else None
    return labels.to_numpy().astype(np.int64), sources


def _resolve_labels(files: list[ParquetFile], labels: list[np.ndarray]) -> tuple[tuple[str, ...], np.ndarray]:
    """Class names and labels as indices into them (module docstring), checked row by row."""
    declared = {file.class_names for file in files if file.class_names is not None}
    if len(declared) > 1:
        raise DataError(f"parquet files disagree on the class names: {sorted(declared)[:2]}; use files of one dataset")
    names = next(iter(declared)) if declared else None
    if names is None:
        ids = np.unique(np.concatenate(labels))
        valid = ids[ids >= 0]  # -1 is how HF marks a missing label
        names = tuple(str(value) for value in valid)
    else:
        valid = np.arange(len(names))
    for file, part in zip(files, labels):
        bad = np.flatnonzero(~np.isin(part, valid))
        if bad.size:
            raise DataError(
                f"{file.path} row {int(bad[0])}: label {int(part[bad[0]])} is outside the {len(names)} class names "
                f"{list(names)[:10]}; fix the label or the huggingface ClassLabel names in the schema"
            )
    combined = np.concatenate(labels)
    if not declared:
        combined = np.searchsorted(np.asarray([int(name) for name in names]), combined)
    return names, combined


def _image_batches(file: ParquetFile):
    """Yields (first row, encoded images or paths, names) per batch of ``file``'s image column."""
    pa, pq = _arrow()
    row = 0
    parquet = pq.ParquetFile(file.path)
    for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=["image"]):
        column = batch.column(0)
        if pa.types.is_struct(column.type):
            data = column.field("bytes").to_pylist()
            paths = column.field("path").to_pylist() if column.type.get_field_index("path") >= 0 else [None] * len(data)
        else:
            data, paths = column.to_pylist(), [None] * len(column)
        items, names = [], []
        for offset, (blob, path) in enumerate(zip(data, paths)):
            name = f"{file.path} row {row + offset}"
            if blob is None:
                if not path:
                    raise DataError(f"{name}: the image has neither bytes nor a path; re-export the dataset")
                target = Path(path) if os.path.isabs(path) else file.path.parent / path
                if not target.is_file():
                    raise DataError(f"{name}: the image path {target} does not exist; put the file there")
                blob = str(target)
                name = f"{name} ({target})"
            items.append(blob)
            names.append(name)
        yield row, items, names
        row += len(items)


def parquet_signature(spec: str) -> str:
    """:func:`~gan_core.data.folder.listing_digest` of the matched Parquet files: a cache key that reads no row.

    Images a row references by path (null ``bytes``) are not covered.
    """

    def files() -> Iterator[ImageFile]:
        base, paths = parquet_paths(spec)
        for path in paths:
            stat = path.stat()
            yield ImageFile(str(path), str(path.relative_to(base)), stat.st_size, stat.st_mtime_ns)

    return listing_digest("parquet-v1", files)


def load_parquet(spec: str, config: DataConfig, pool: ImagePool | None = None) -> LabeledSplits:
    """Reads a ``parquet:`` source into labeled splits (rules in the module docstring).

    Two passes over the image column: image headers first (geometry), then decoding straight into
    the preallocated array, a batch at a time, so the encoded images are never all in memory.

    Raises:
        DataError: naming the file (and row) and the fix, before anything is written.
    """
    base, paths = parquet_paths(spec)
    files, test_split = _choose_files([_describe(path, base) for path in paths])
    read = [_read_labels(file) for file in files]
    class_names, labels = _resolve_labels(files, [part for part, _ in read])
    where = f"parquet source {spec}"
    check_class_count(class_names, where)
    in_test = np.concatenate([np.full(file.rows, file.split == test_split) for file in files])
    arrangement = arrange_splits(
        labels, in_test if test_split else None, config.test_fraction, config.seed, test_split or "test"
    )
    sources = [source for _, source in read if source is not None]
    if sources:
        logger.info("%s: rows by source %s", where, dict(Counter(value for part in sources for value in part)))
    with pool_or_own(pool) as workers, quiet_bomb_warnings():
        images = _decode(files, arrangement.destination, config, workers)
    splits = arrangement.splits(images, labels, class_names, f"parquet:{spec}")
    logger.info(
        "%s: %d rows from %d files, %d classes, %s, as %s",
        where,
        len(labels),
        len(files),
        len(class_names),
        f"test split from the {test_split!r} files" if test_split else "seeded stratified test split",
        "x".join(map(str, splits.image_shape)),
    )
    return splits


def _decode(files: list[ParquetFile], destination: np.ndarray, config: DataConfig, pool: ImagePool) -> np.ndarray:
    """Decodes every row into its ``destination`` row of one preallocated array."""
    if config.image_size is not None and config.channels is not None:
        geometry = Geometry(config.image_size, config.channels, fit=True)
    else:
        headers, names = [], []
        for file in files:
            for _, items, batch_names in _image_batches(file):
                headers.append(pool.headers(items, batch_names))
                names += batch_names
        geometry = resolve_geometry(np.concatenate(headers), names, config.image_size, config.channels)
    out = np.empty((len(destination), *geometry.shape), np.uint8)
    buffer = np.empty((min(_BATCH_ROWS, len(destination)), *geometry.shape), np.uint8)
    offset = 0
    for file in files:
        for row, items, names in _image_batches(file):
            block = buffer[: len(items)]
            pool.decode(items, names, geometry, block)
            out[destination[offset + row : offset + row + len(items)]] = block
        offset += file.rows
    return out
