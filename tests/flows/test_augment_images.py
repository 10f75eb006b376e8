"""Bring your own images: the augment flow end to end on class folders and Hugging Face Parquet.

Each run is tiny (20 GAN steps, one judge epoch, an open gate): these tests are about every
stage following the data's geometry and names, not about sample quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flows.augment import augment
from flows.exit_codes import exit_code, one_line
from gan_core.publish import loader
from gan_core.data import DataError
from tests.flows.test_augment import OPEN_GATE
from tests.image_folders import class_images, write_class_folders, write_hf_parquet

RGB_CLASSES = ("zebra", "red car", "Ünïcode ß")  # sorted as torchvision sorts: by code point
GRAY_CLASSES = ("crack", "scratch")


def _run(tmp_path: Path, source: str, **overrides) -> dict:
    parameters = dict(
        source=source,
        steps=20,
        batch_size=16,
        samples_per_class=12,
        judge_epochs=1,
        include_real=True,
        output_root=str(tmp_path / "datasets"),
        work_root=str(tmp_path / "work"),
        **OPEN_GATE,
    )
    return augment(**{**parameters, **overrides})


def _manifest(summary: dict) -> dict:
    return json.loads((Path(summary["version_dir"]) / "manifest.json").read_text())


@pytest.fixture(scope="module")
def rgb_run(prefect_harness, tmp_path_factory):
    """An RGB 32x32 folder with train/ and test/ split folders, run through the flow once."""
    tmp_path = tmp_path_factory.mktemp("rgb")
    root = write_class_folders(tmp_path / "parts", RGB_CLASSES, 0, 32, 3, splits={"train": 24, "test": 6})
    return root, _run(tmp_path, f"folder:{root}")


def test_an_rgb_folder_publishes_rgb_rows_under_its_own_class_names(rgb_run, tmp_path):
    root, summary = rgb_run
    manifest = _manifest(summary)
    names = sorted(RGB_CLASSES)
    assert manifest["dataset_name"] == "parts-augmented"  # named after the folder
    assert manifest["image_shape"] == [32, 32, 3] and manifest["class_names"] == names
    assert manifest["split"]["method"] == "given"
    model = manifest["configs"]["model"]  # the GAN as trained: classes and geometry from the data
    assert (model["num_classes"], model["image_size"], model["channels"]) == (3, 32, 3)
    assert manifest["rows_per_split_source"]["train"]["real"] == 3 * 24
    assert manifest["rows_per_split_source"]["test"]["real"] == 3 * 6
    assert 0 < manifest["rows_per_source"]["synthetic"] <= 3 * 12
    card = (Path(summary["version_dir"]) / "README.md").read_text()
    assert "32x32 RGB images" in card and f"Classes: {', '.join(names)}." in card

    # The real test rows are the folder's pixels, under the folder's class names.
    images, labels = loader.load_numpy(summary["version_dir"], "test", sources=("real",))
    assert images.shape == (18, 32, 32, 3)
    for label, name in enumerate(names):
        expected = class_images(RGB_CLASSES.index(name), 6, 32, 3, seed=7)
        assert {image.tobytes() for image in images[labels == label]} == {image.tobytes() for image in expected}

    datasets = pytest.importorskip("datasets")
    shards = sorted(str(p) for p in (Path(summary["version_dir"]) / "data").glob("train-*.parquet"))
    loaded = datasets.load_dataset("parquet", data_files={"train": shards}, cache_dir=str(tmp_path / "hf"))["train"]
    assert loaded.features["label"].names == names
    assert loaded[0]["image"].mode == "RGB" and loaded[0]["image"].size == (32, 32)


def test_the_tf_data_loader_yields_rgb_batches(rgb_run):
    _, summary = rgb_run
    batch, labels = next(iter(loader.make_dataset(summary["version_dir"], batch_size=8, shuffle=False)))
    assert tuple(batch.shape) == (8, 32, 32, 3) and labels.shape == (8,)


def test_a_published_version_is_valid_input_again(rgb_run, tmp_path):
    import logging

    from gan_core.config import DataConfig
    from gan_core.data.stage import ingest_stage

    _, summary = rgb_run
    source = f"parquet:{summary['version_dir']}/data"
    again = ingest_stage(DataConfig(source=source), tmp_path / "cache", logging.getLogger("test"))
    assert again.image_shape == [32, 32, 3]
    assert again.counts["test"]["total"] == 18
    assert set(again.counts["train"]["per_class"]) == set(RGB_CLASSES)


def test_a_grayscale_64_folder_without_split_folders_gets_a_recorded_seeded_split(prefect_harness, tmp_path):
    root = write_class_folders(tmp_path / "scans", GRAY_CLASSES, 30, 64, 1)
    summary = _run(tmp_path, f"folder:{root}", dataset_name="scans")
    manifest = _manifest(summary)
    assert manifest["image_shape"] == [64, 64, 1] and manifest["class_names"] == list(GRAY_CLASSES)
    assert manifest["split"]["method"] == "seeded-stratified" and manifest["split"]["test_fraction"] == 0.2
    assert manifest["rows_per_split_source"]["test"]["real"] == 2 * 6
    assert manifest["rows_per_split_source"]["train"]["real"] == 2 * 24
    images, _ = loader.load_numpy(summary["version_dir"], "train", sources=("synthetic",))
    assert images.shape[1:] == (64, 64, 1) and len(images) == manifest["rows_per_source"]["synthetic"]


def test_a_hugging_face_parquet_dataset_publishes_in_label_scarce_mode(prefect_harness, tmp_path):
    data = write_hf_parquet(tmp_path / "leaves", ("healthy", "rust", "spot"), {"train": 20, "test": 5}, 16, 3)
    summary = _run(
        tmp_path,
        f"parquet:{data}",
        use_unlabeled=True,
        real_labeled_limit=30,
        teacher_steps=3,
        pseudo_label_min_confidence=0.0,
    )
    manifest = _manifest(summary)
    assert manifest["dataset_name"] == "leaves-augmented"
    assert manifest["image_shape"] == [16, 16, 3] and manifest["class_names"] == ["healthy", "rust", "spot"]
    assert manifest["rows_per_split_source"]["test"]["real"] == 15
    # 30 of the 60 training images keep their labels; the teacher pseudo-labels the other 30 (RGB, 16x16).
    assert manifest["labeled_data"]["labeled_count"] == 30 and manifest["labeled_data"]["pool_count"] == 30
    assert manifest["pseudo_labels"]["count"] == 30
    assert manifest["rows_per_split_source"]["train"]["real"] == 30


def test_mixed_sizes_are_refused_without_image_size_and_published_at_it_with_it(prefect_harness, tmp_path):
    root = write_class_folders(tmp_path / "mixed", ("a", "b"), 20, 32, 3)
    odd = root / "b" / "odd.png"
    from PIL import Image

    Image.fromarray(class_images(1, 1, 40, 3, seed=5)[0]).save(odd)
    with pytest.raises(DataError) as refused:
        _run(tmp_path, f"folder:{root}", dataset_name="mixed")
    line = one_line(refused.value)
    assert exit_code(refused.value) == 3 and "odd.png" in line and "image_size" in line
    assert not (tmp_path / "datasets" / "mixed").exists()

    summary = _run(tmp_path, f"folder:{root}", dataset_name="mixed", image_size=24, channels=1)
    manifest = _manifest(summary)
    assert manifest["image_shape"] == [24, 24, 1]
    images, _ = loader.load_numpy(summary["version_dir"], "train", sources=("real",))
    assert (
        images.shape == (len(images), 24, 24, 1) and len(images) == manifest["rows_per_split_source"]["train"]["real"]
    )
    assert np.unique(images).size > 2  # resized pixels, not an empty canvas
