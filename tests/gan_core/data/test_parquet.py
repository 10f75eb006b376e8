"""parquet:<file|dir|glob>: Hugging Face image Parquet (pyarrow- and datasets-written), and our own versions."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from gan_core.config import DataConfig
from gan_core.data import DataError, load_parquet, load_source
from gan_core.data.parquet import split_of
from tests.gan_core.data.builders import image_bytes, random_image, write_hf_parquet

NAMES = ("airplane", "bird", "cat")


def _pngs(count: int, side: int, channels: int, seed: int) -> tuple[list[bytes], np.ndarray]:
    rng = np.random.default_rng(seed)
    pixels = np.stack([random_image(rng, side, channels) for _ in range(count)])
    return [image_bytes(Image.fromarray(p[..., 0] if channels == 1 else p)) for p in pixels], pixels


def _rows(images: np.ndarray) -> set[bytes]:
    return {image.tobytes() for image in images}


def test_hf_layout_with_metadata_names_splits_by_file_name(tmp_path):
    train_png, train_pixels = _pngs(9, 32, 3, seed=0)
    test_png, test_pixels = _pngs(3, 32, 3, seed=1)
    write_hf_parquet(tmp_path / "data" / "train-00000-of-00002.parquet", train_png[:5], [0, 1, 2, 0, 1], NAMES)
    write_hf_parquet(tmp_path / "data" / "train-00001-of-00002.parquet", train_png[5:], [2, 0, 1, 2], NAMES)
    write_hf_parquet(tmp_path / "data" / "test-00000-of-00001.parquet", test_png, [0, 1, 2], NAMES)
    splits = load_source(DataConfig(source=f"parquet:{tmp_path}"))
    assert splits.class_names == NAMES and splits.image_shape == (32, 32, 3)
    assert splits.class_counts("train").tolist() == [3, 3, 3] and splits.class_counts("test").tolist() == [1, 1, 1]
    assert splits.split["method"] == "given" and splits.split["test_split"] == "test"
    assert _rows(splits.train_images) == _rows(train_pixels) and _rows(splits.test_images) == _rows(test_pixels)
    # Each image keeps its label: the first train row is class 0.
    where = {image.tobytes(): label for image, label in zip(splits.train_images, splits.train_labels)}
    assert where[train_pixels[0].tobytes()] == 0 and where[train_pixels[8].tobytes()] == 2
    # A glob and a single file select the same way.
    by_glob = load_parquet(str(tmp_path / "data" / "*.parquet"), DataConfig())
    assert np.array_equal(by_glob.train_images, splits.train_images)


def test_datasets_written_parquet_reads_back(tmp_path):
    datasets = pytest.importorskip("datasets")
    pixels = [random_image(np.random.default_rng(index), 20, 1)[..., 0] for index in range(6)]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["no", "yes"])})
    dataset = datasets.Dataset.from_dict(
        {"image": [Image.fromarray(p) for p in pixels], "label": [0, 1, 0, 1, 0, 1]}, features=features
    )
    dataset.to_parquet(str(tmp_path / "dataset.parquet"))
    splits = load_parquet(str(tmp_path / "dataset.parquet"), DataConfig(test_fraction=0.5, seed=1))
    assert splits.class_names == ("no", "yes") and splits.image_shape == (20, 20, 1)
    assert splits.split["method"] == "seeded-stratified"  # one file, no split in its name
    assert splits.class_counts("test").tolist() == [2, 2]  # round(3 * 0.5) = 2 per class
    assert _rows(np.concatenate([splits.train_images, splits.test_images])[..., 0]) == _rows(np.stack(pixels))


def test_without_metadata_label_ids_become_names_and_paths_replace_missing_bytes(tmp_path):
    pngs, pixels = _pngs(6, 16, 1, seed=3)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "second.png").write_bytes(pngs[1])
    write_hf_parquet(
        tmp_path / "all.parquet",
        [pngs[0], None, *pngs[2:]],
        [5, 9, 5, 9, 5, 9],
        None,
        paths=[None, "images/second.png", None, None, None, None],
    )
    splits = load_parquet(str(tmp_path / "all.parquet"), DataConfig(test_fraction=0.34))
    assert splits.class_names == ("5", "9")
    assert splits.class_counts("train").tolist() == [2, 2] and splits.class_counts("test").tolist() == [1, 1]
    assert _rows(np.concatenate([splits.train_images, splits.test_images])) == _rows(pixels)


def test_a_published_version_with_extra_columns_is_valid_input(tmp_path, caplog):
    dataset = tmp_path / "digits"
    version = dataset / "v0002"
    train_png, _ = _pngs(6, 28, 1, seed=4)
    test_png, _ = _pngs(2, 28, 1, seed=5)
    extra = {
        "source": ["real"] * 4 + ["synthetic"] * 2,
        "split": ["train"] * 6,
        "sample_id": [f"id{i}" for i in range(6)],
        "judge_confidence": [None] * 4 + [0.9, 0.95],
    }
    write_hf_parquet(
        version / "data" / "train-00000-of-00001.parquet", train_png, [0, 1, 0, 1, 0, 1], ("0", "1"), extra=extra
    )
    write_hf_parquet(
        version / "data" / "test-00000-of-00001.parquet",
        test_png,
        [0, 1],
        ("0", "1"),
        extra={
            "source": ["real", "real"],
            "split": ["test", "test"],
            "sample_id": ["t0", "t1"],
            "judge_confidence": [None, None],
        },
    )
    (version / "README.md").write_text("card")
    write_hf_parquet(dataset / "v0001" / "data" / "train-00000-of-00001.parquet", train_png[:2], [0, 1], ("0", "1"))
    (dataset / "LATEST").write_text("v0002\n")
    with caplog.at_level(logging.INFO, logger="gan_core.data.parquet"):
        splits = load_parquet(str(dataset), DataConfig())  # the dataset folder: its LATEST version
    assert len(splits.train_labels) == 6 and len(splits.test_labels) == 2 and splits.image_shape == (28, 28, 1)
    assert "{'real': 6, 'synthetic': 2}" in caplog.text


def test_validation_files_serve_as_test_unless_test_files_exist(tmp_path, caplog):
    pngs, _ = _pngs(8, 16, 1, seed=6)
    write_hf_parquet(tmp_path / "train.parquet", pngs[:4], [0, 1, 0, 1], ("a", "b"))
    write_hf_parquet(tmp_path / "validation.parquet", pngs[4:6], [0, 1], ("a", "b"))
    assert load_parquet(str(tmp_path), DataConfig()).split["test_split"] == "validation"
    write_hf_parquet(tmp_path / "test.parquet", pngs[6:], [0, 1], ("a", "b"))
    with caplog.at_level(logging.WARNING, logger="gan_core.data.parquet"):
        splits = load_parquet(str(tmp_path), DataConfig())
    assert splits.split["test_split"] == "test" and "ignoring validation files" in caplog.text


@pytest.mark.parametrize(
    ("relative", "split"),
    [
        ("data/train-00000-of-00001.parquet", "train"),
        ("test-00003-of-00004.parquet", "test"),
        ("default/validation/0000.parquet", "validation"),
        ("mnist_val.parquet", "validation"),
        ("training_set.parquet", "train"),
        ("interval.parquet", None),
        ("contest.parquet", None),
        ("everything.parquet", None),
    ],
)
def test_split_of_matches_split_words_between_separators(relative, split):
    assert split_of(relative) == split


@pytest.mark.parametrize(
    ("write", "fragments"),
    [
        (
            lambda d, png: write_hf_parquet(d / "train.parquet", png, [0, 1, 3, 0], ("a", "b")),
            ["train.parquet row 2", "label 3 is outside the 2 class names"],
        ),
        (lambda d, png: write_hf_parquet(d / "train.parquet", png, [0, 1, -1, 0], None), ["row 2", "label -1"]),
        (lambda d, png: write_hf_parquet(d / "train.parquet", png, [0, 0, 0, 0], ("a",)), ["one class ('a')"]),
        (lambda d, png: None, ["matches no .parquet file"]),
        (lambda d, png: write_hf_parquet(d / "test.parquet", png, [0, 1, 0, 1], ("a", "b")), ["no train split"]),
        (
            lambda d, png: (
                write_hf_parquet(d / "train.parquet", png, [0, 1, 0, 1], ("a", "b"))
                and write_hf_parquet(d / "extra.parquet", png, [0, 1, 0, 1], ("a", "b"))
            ),
            ["extra.parquet", "says no split"],
        ),
        (lambda d, png: (d / "train.parquet").write_bytes(b"PAR1 not really"), ["not a readable Parquet file"]),
        (
            lambda d, png: write_hf_parquet(d / "train.parquet", [png[0], b"", *png[2:]], [0, 1, 0, 1], ("a", "b")),
            ["train.parquet row 1", "is empty (0 bytes)"],
        ),
    ],
    ids=[
        "label-outside-names",
        "no-label",
        "one-class",
        "nothing",
        "test-only",
        "unnamed-file",
        "not-parquet",
        "empty-image",
    ],
)
def test_bad_parquet_is_refused_in_one_line(tmp_path, write, fragments):
    pngs, _ = _pngs(4, 16, 1, seed=7)
    write(tmp_path, pngs)
    with pytest.raises(DataError) as raised:
        load_parquet(str(tmp_path), DataConfig())
    message = str(raised.value)
    assert "\n" not in message and all(fragment in message for fragment in fragments), message
