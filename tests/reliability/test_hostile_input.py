"""Hostile data files and parameters: each is refused before training with one clear line.

Data goes through the flow's ingest step (``ingest_stage``), parameters through the flow's
``build_configs``; each error is classified as the CLI does (``flows.exit_codes``): the right exit
code and a single line naming the file, class or parameter. Nothing is cached or published.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from flows.exit_codes import exit_code, one_line
from gan_core.config import DataConfig
from gan_core.data import DataError
from gan_core.data.stage import INDEX_DIR, ingest_stage
from tests.gan_core.data.test_snapshot import _write, random_digits, write_idx_dir, write_images, write_labels

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


def _labels_only(*classes: int):
    def write(directory: Path) -> None:
        images, _ = random_digits(30, seed=1)
        write_images(directory / TRAIN_IMAGES, images)
        write_labels(directory / TRAIN_LABELS, np.array(classes * 30)[:30])

    return write


DATA_CASES = {
    "bad magic": (lambda d: write_images(d / TRAIN_IMAGES, random_digits(30, 1)[0], magic=2049), "bad magic number"),
    "32x32 images": (lambda d: write_images(d / TRAIN_IMAGES, np.zeros((30, 32, 32), np.uint8)), "32x32"),
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
    with pytest.raises(DataError, match=expected) as info:
        ingest_stage(DataConfig(source=f"idx:{directory}"), tmp_path / "cache", logging.getLogger("test"))
    assert exit_code(info.value) == 3
    assert "\n" not in one_line(info.value)
    assert not (tmp_path / "cache" / INDEX_DIR).exists()  # nothing cached for the flow to reuse


def _defaults() -> dict:
    import inspect

    from flows.augment import augment

    return {name: p.default for name, p in inspect.signature(augment.fn).parameters.items()}


PARAMETER_CASES = {
    "path traversal in dataset_name": ({"dataset_name": "../../etc"}, "dataset_name"),
    "slash in dataset_name": ({"dataset_name": "a/b"}, "dataset_name"),
    "empty dataset_name": ({"dataset_name": ""}, "dataset_name"),
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
