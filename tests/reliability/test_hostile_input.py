"""Hostile data files and parameters: each is refused before training with one clear line.

Data goes through the flow's ingest step (``ingest_stage``), parameters through the flow's
``build_configs``; each error is classified as the CLI does (``flows.exit_codes``): the right exit
code and a single line naming the file, class or parameter. Nothing is cached or published.
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flows.exit_codes import exit_code, one_line
from gan_core.config import DataConfig
from gan_core.data import DataError
from gan_core.data.stage import INDEX_DIR, ingest_stage
from tests.gan_core.data.builders import (
    _write,
    class_folder,
    random_digits,
    refuse_listing,
    save,
    write_hf_parquet,
    write_idx_dir,
    write_images,
    write_labels,
)

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"


def _labels_only(*classes: int):
    def write(directory: Path) -> None:
        images, _ = random_digits(30, seed=1)
        write_images(directory / TRAIN_IMAGES, images)
        write_labels(directory / TRAIN_LABELS, np.array(classes * 30)[:30])

    return write


def _idx_of_side(side: int):
    def write(directory: Path) -> None:
        write_images(directory / TRAIN_IMAGES, random_digits(30, 1, side=side)[0])
        write_images(directory / TEST_IMAGES, random_digits(12, 2, side=side)[0])

    return write


def _assert_refused(config: DataConfig, cache_root: Path, expected: str) -> None:
    """The ingest step refuses with exit code 3, in one line, having written nothing at all."""
    with pytest.raises(DataError, match=expected) as info:
        ingest_stage(config, cache_root, logging.getLogger("test"))
    assert exit_code(info.value) == 3
    assert "\n" not in one_line(info.value)
    assert not (cache_root / INDEX_DIR).exists()  # nothing cached for the flow to reuse


DATA_CASES = {
    "bad magic": (lambda d: write_images(d / TRAIN_IMAGES, random_digits(30, 1)[0], magic=2049), "bad magic number"),
    "8x8 images": (_idx_of_side(8), r"images are 8x8 \(outside 16-64 px\).*image_size"),
    "80x80 images": (_idx_of_side(80), r"images are 80x80 \(outside 16-64 px\)"),
    "train and test sizes differ": (
        lambda d: write_images(d / TRAIN_IMAGES, random_digits(30, 1, side=32)[0]),
        r"images differ in size: .*train-images-idx3-ubyte is 32x32 but .*t10k-images-idx3-ubyte is 28x28",
    ),
    "truncated images": (lambda d: write_images(d / TRAIN_IMAGES, random_digits(30, 1)[0], cut=7), "truncated"),
    "trailing bytes": (
        lambda d: write_images(d / TRAIN_IMAGES, random_digits(30, 1)[0], extra=b"\0"),
        "trailing bytes",
    ),
    "not gzip": (lambda d: _write(d / TRAIN_IMAGES, b"\x1f\x8bnot gzip", False), "gzip"),
    "empty file": (lambda d: _write(d / TRAIN_IMAGES, b"", False), TRAIN_IMAGES),
    "label 10": (lambda d: write_labels(d / TRAIN_LABELS, np.array([10] * 30)), "outside 0..9"),
    "mislabeled count": (lambda d: write_labels(d / TRAIN_LABELS, np.arange(29) % 10), "29 labels"),
    "missing labels file": (lambda d: (d / TRAIN_LABELS).unlink(), "lacks the train labels file"),
    "one digit only": (_labels_only(3), r"no images of class\(es\) \['0', '1', '2', '4'"),
    "three digits missing": (_labels_only(0, 1, 2, 3, 4, 5, 6), r"no images of class\(es\) \['7', '8', '9'\]"),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_hostile_data_file_is_refused_in_one_line(tmp_path, case):
    _, directory = write_idx_dir(tmp_path / "idx", compress=False)
    corrupt, expected = DATA_CASES[case]
    corrupt(directory)
    _assert_refused(DataConfig(source=f"idx:{directory}"), tmp_path / "cache", expected)
    assert not (tmp_path / "cache" / "snapshots").exists()  # refused before the snapshot, too


def _good_folder(root: Path) -> Path:
    class_folder(root, {"cat": 3, "dog": 3}, side=32, channels=3)
    return root


def _png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``: what a decompression bomb looks like to a reader."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _loop(root: Path) -> Path:
    _good_folder(root)
    os.symlink(root / "cat", root / "cat" / "loop")
    return root


def _two_sizes(root: Path) -> Path:
    _good_folder(root)
    save(root / "dog" / "big.png", np.zeros((40, 40, 3), np.uint8))
    return root


def _parquet_label_outside(root: Path) -> Path:
    png = root.parent / "one.png"
    save(png, np.zeros((16, 16), np.uint8))
    write_hf_parquet(root / "train-00000-of-00001.parquet", [png.read_bytes()] * 4, [0, 1, 2, 1], ("a", "b"))
    return root


FOLDER_CASES = {
    "empty folder": (lambda root: root, "holds no class folders"),
    "not a folder": (lambda root: root / "absent", "does not exist or is not a directory"),
    "unreadable folder": (None, r"cannot be listed \(Permission denied\)"),
    "class folder without images": (
        lambda root: _good_folder(root) and (root / "empty class").mkdir() or root,
        r"class folder .*empty class holds no images",
    ),
    "one class only": (lambda root: class_folder(root, {"cat": 4}, side=32, channels=3) and root, "one class"),
    "truncated image": (
        lambda root: (
            _good_folder(root)
            and (root / "cat" / "cut.png").write_bytes((root / "cat" / "000.png").read_bytes()[:60])
            and root
        ),
        r"cut\.png: cannot be decoded",
    ),
    "zero-byte image": (
        lambda root: _good_folder(root) and (root / "dog" / "zero.jpg").write_bytes(b"") or root,
        r"zero\.jpg: is empty \(0 bytes\)",
    ),
    "decompression bomb": (
        lambda root: (
            _good_folder(root) and (root / "cat" / "bomb.png").write_bytes(_png_header_claiming(20000, 20000)) and root
        ),
        r"bomb\.png: .*MAX_IMAGE_PIXELS",
    ),
    "only non-image files": (
        lambda root: (root / "cat").mkdir() or (root / "cat" / "notes.txt").write_text("x") and root,
        r"holds no images \(1 other files\)",
    ),
    "symlink loop": (_loop, r"symlink loop"),
    "80x80 images": (
        lambda root: class_folder(root, {"a": 2, "b": 2}, side=80, channels=1) and root,
        r"images are 80x80 \(outside 16-64 px\); .*--image-size",
    ),
    "mixed sizes": (_two_sizes, r"images differ in size: .*is 32x32 but .*big\.png is 40x40; set image_size"),
    "parquet label outside the class names": (
        _parquet_label_outside,
        r"train-00000-of-00001\.parquet row 2: label 2 is outside the 2 class names",
    ),
}


@contextmanager
def _no_bomb_warning():
    """Fails if Pillow's DecompressionBombWarning reaches the warnings machinery (the console)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


@pytest.mark.parametrize("case", list(FOLDER_CASES))
def test_hostile_image_folder_is_refused_in_one_line(tmp_path, monkeypatch, case):
    root = tmp_path / "images"
    root.mkdir()
    make, expected = FOLDER_CASES[case]
    if make is None:  # an unreadable folder
        _good_folder(root)
        refuse_listing(monkeypatch, "dog")
        target = root
    else:
        target = make(root)
    kind = "parquet" if "parquet" in case else "folder"
    with _no_bomb_warning():
        _assert_refused(DataConfig(source=f"{kind}:{target}"), tmp_path / "cache", expected)
    assert not (tmp_path / "cache" / "snapshots").exists()


def test_non_image_files_among_images_are_skipped_not_refused(tmp_path, caplog):
    root = _good_folder(tmp_path / "images")
    (root / "cat" / "Thumbs.db").write_bytes(b"\0" * 10)
    (root / "dog" / "labels.csv").write_text("a,b")
    with caplog.at_level(logging.INFO, logger="gan_core.data.folder"):
        outcome = ingest_stage(DataConfig(source=f"folder:{root}"), tmp_path / "cache", logging.getLogger("test"))
    assert outcome.counts["train"]["total"] + outcome.counts["test"]["total"] == 6
    assert "skipped 2 non-image files" in caplog.text


def _defaults() -> dict:
    import inspect

    from flows.augment import augment

    return {name: p.default for name, p in inspect.signature(augment.fn).parameters.items()}


PARAMETER_CASES = {
    "path traversal in dataset_name": ({"dataset_name": "../../etc"}, "dataset_name"),
    "slash in dataset_name": ({"dataset_name": "a/b"}, "dataset_name"),
    "upper-case dataset_name": ({"dataset_name": "Parts"}, "dataset_name"),
    "image_size below 16": ({"image_size": 8}, "image_size"),
    "image_size above 64": ({"image_size": 128}, "image_size"),
    "two channels": ({"channels": 2}, "channels"),
    "test_fraction 0.9": ({"test_fraction": 0.9}, "test_fraction"),
    "zero samples_per_class": ({"samples_per_class": 0}, "samples_per_class"),
    "min_confidence above 1": ({"min_confidence": 1.5}, "min_confidence"),
    "zero steps": ({"steps": 0}, "steps"),
    "batch_size 3": ({"batch_size": 3}, "batch_size"),
    "limit below one batch": ({"real_labeled_limit": 20, "batch_size": 64}, "real_labeled_limit 20"),
    "zero judge_epochs": ({"judge_epochs": 0}, "epochs"),
    "unknown source": ({"source": "ftp:somewhere"}, "source"),
    "output_root is a file": (None, "output_root"),
    "zero checkpoint_every": ({"checkpoint_every": 0}, "checkpoint_every"),
}


@pytest.mark.parametrize("case", list(PARAMETER_CASES))
def test_hostile_parameter_is_refused_in_one_line(tmp_path, case):
    from flows.augment import AugmentParameterError, build_configs

    overrides, expected = PARAMETER_CASES[case]
    if overrides is None:
        (tmp_path / "file").write_text("not a directory")
        overrides = {"output_root": str(tmp_path / "file" / "datasets")}
    parameters = {**_defaults(), "work_root": str(tmp_path / "work"), "output_root": str(tmp_path / "out")}
    with pytest.raises(AugmentParameterError) as info:
        build_configs({**parameters, **overrides})
    assert exit_code(info.value) == 2
    line = one_line(info.value)
    assert "\n" not in line and expected in line
    assert not (tmp_path / "out").exists()  # nothing published
