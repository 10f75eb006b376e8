"""folder:<dir>: both ImageFolder layouts, class names, hidden and non-image files, and every refusal."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from gan_core.config import DataConfig
from gan_core.data import DataError, load_folder, load_source, scan_folder
from tests.gan_core.data.builders import class_folder, refuse_listing, save


def _rows(images: np.ndarray) -> set[bytes]:
    return {image.tobytes() for image in images}


def test_rgb_with_split_folders_keeps_every_pixel_and_the_given_split(tmp_path):
    train = class_folder(tmp_path / "train", {"cat": 4, "dog": 3}, side=32, channels=3, seed=1)
    test = class_folder(tmp_path / "test", {"cat": 2, "dog": 1}, side=32, channels=3, seed=2)
    splits = load_source(DataConfig(source=f"folder:{tmp_path}"))
    assert splits.class_names == ("cat", "dog") and splits.image_shape == (32, 32, 3)
    assert splits.class_counts("train").tolist() == [4, 3] and splits.class_counts("test").tolist() == [2, 1]
    assert splits.split == {"method": "given", "test_split": "test", "test_fraction": None, "seed": None}
    assert splits.source_used == f"folder:{tmp_path}"
    for label, name in enumerate(splits.class_names):
        assert _rows(splits.train_images[splits.train_labels == label]) == _rows(np.stack(train[name]))
        assert _rows(splits.test_images[splits.test_labels == label]) == _rows(np.stack(test[name]))


def test_gray_without_split_folders_gets_a_seeded_stratified_split(tmp_path):
    class_folder(tmp_path, {"a": 10, "b": 5, "c": 2}, side=64, channels=1)
    config = DataConfig(source=f"folder:{tmp_path}", seed=3)
    splits = load_folder(tmp_path, config)
    assert splits.image_shape == (64, 64, 1)
    # round(n * 0.2), at least one of a class with two or more images, never all of them.
    assert splits.class_counts("test").tolist() == [2, 1, 1] and splits.class_counts("train").tolist() == [8, 4, 1]
    assert splits.split == {"method": "seeded-stratified", "test_split": None, "test_fraction": 0.2, "seed": 3}
    again = load_folder(tmp_path, config)
    assert np.array_equal(again.test_images, splits.test_images)
    other = [load_folder(tmp_path, DataConfig(source=f"folder:{tmp_path}", seed=seed)).test_images for seed in (4, 5)]
    assert any(_rows(images) != _rows(splits.test_images) for images in other)
    half = load_folder(tmp_path, DataConfig(source=f"folder:{tmp_path}", test_fraction=0.5))
    assert half.class_counts("test").tolist() == [5, 2, 1]  # round half to even: 2.5 -> 2


def test_class_names_are_kept_as_written_and_sorted_like_torchvision(tmp_path):
    names = ["zebra", "Äpfel", "ёж", "cat dog", "Cat", "猫"]
    class_folder(tmp_path, {name: 2 for name in names}, side=16, channels=1)
    assert scan_folder(tmp_path).class_names == tuple(sorted(names))
    splits = load_folder(tmp_path, DataConfig(source=f"folder:{tmp_path}"))
    assert splits.class_names == tuple(sorted(names)) and splits.class_counts("train").tolist() == [1] * 6


def test_hidden_and_non_image_files_are_ignored_and_counted(tmp_path, caplog):
    class_folder(tmp_path, {"a": 2, "b": 2}, side=16, channels=1)
    (tmp_path / "a" / ".DS_Store").write_bytes(b"\0junk")
    (tmp_path / "a" / "._0.png").write_bytes(b"AppleDouble, not a PNG")  # hidden: never opened
    (tmp_path / ".cache").mkdir()
    save(tmp_path / ".cache" / "x.png", np.zeros((16, 16), np.uint8))  # a hidden folder is no class
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "b" / "labels.csv").write_text("file,label")
    save(tmp_path / "b" / "UPPER.PNG", np.zeros((16, 16), np.uint8))  # suffixes are case-insensitive
    with caplog.at_level(logging.INFO, logger="gan_core.data.folder"):
        splits = load_folder(tmp_path, DataConfig(source=f"folder:{tmp_path}"))
    assert splits.class_names == ("a", "b")
    assert len(splits.train_labels) + len(splits.test_labels) == 5
    lines = [record.getMessage() for record in caplog.records if "skipped" in record.getMessage()]
    assert len(lines) == 1 and "skipped 2 non-image files" in lines[0]


def test_nested_class_folders_and_symlinks_are_followed(tmp_path):
    class_folder(tmp_path / "data", {"a": 2, "b": 2}, side=16, channels=1)
    save(tmp_path / "data" / "a" / "deeper" / "x.png", np.full((16, 16), 7, np.uint8))
    elsewhere = class_folder(tmp_path / "elsewhere", {"c": 2}, side=16, channels=1)
    os.symlink(tmp_path / "elsewhere" / "c", tmp_path / "data" / "c")
    splits = load_folder(tmp_path / "data", DataConfig(source="folder:x"))
    assert splits.class_names == ("a", "b", "c")
    assert (splits.class_counts("train") + splits.class_counts("test")).tolist() == [3, 2, len(elsewhere["c"])]


def test_validation_serves_as_test_and_is_ignored_next_to_test(tmp_path, caplog):
    class_folder(tmp_path / "train", {"a": 3, "b": 3}, side=16, channels=1)
    class_folder(tmp_path / "validation", {"a": 1, "b": 1}, side=16, channels=1, seed=1)
    splits = load_folder(tmp_path, DataConfig(source="folder:x"))
    assert splits.split["test_split"] == "validation" and len(splits.test_labels) == 2
    class_folder(tmp_path / "test", {"a": 2, "b": 2}, side=16, channels=1, seed=2)
    with caplog.at_level(logging.WARNING, logger="gan_core.data.folder"):
        splits = load_folder(tmp_path, DataConfig(source="folder:x"))
    assert splits.split["test_split"] == "test" and len(splits.test_labels) == 4
    assert "ignoring the split folder(s) ['validation']" in caplog.text


def test_train_alone_draws_its_test_split(tmp_path):
    class_folder(tmp_path / "train", {"a": 5, "b": 5}, side=16, channels=1)
    splits = load_folder(tmp_path, DataConfig(source="folder:x"))
    assert splits.split["method"] == "seeded-stratified" and splits.class_counts("test").tolist() == [1, 1]


def _loop(root):
    class_folder(root, {"a": 2, "b": 2}, side=16, channels=1)
    os.symlink(root / "a", root / "a" / "again")
    return root


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda root: root / "absent", ["does not exist or is not a directory", "folder:<directory"]),
        (lambda root: root, ["holds no class folders", "<dir>/<class>/<image>"]),
        (
            lambda root: (root / "only").mkdir() or (root / "other").mkdir() or root,
            ["class folder", "only", "holds no images"],
        ),
        (
            lambda root: class_folder(root, {"solo": 3}, side=16, channels=1) and root,
            ["one class ('solo')", "at least 2 classes"],
        ),
        (_loop, ["symlink loop", "again"]),
        (
            lambda root: (
                class_folder(root / "train", {"a": 2}, side=16, channels=1)
                and class_folder(root, {"b": 2}, side=16, channels=1)
                and root
            ),
            ["mixes split folders ['train'] with other folders ['b']"],
        ),
        (
            lambda root: class_folder(root / "test", {"a": 2, "b": 2}, side=16, channels=1) and root,
            ["no 'train' folder"],
        ),
        (
            lambda root: (
                class_folder(root / "train", {"a": 2, "b": 2}, side=16, channels=1)
                and class_folder(root / "test", {"a": 1, "z": 1}, side=16, channels=1)
                and root
            ),
            ["['z']", "lacks"],
        ),
    ],
    ids=[
        "missing",
        "empty",
        "class-without-images",
        "one-class",
        "symlink-loop",
        "mixed-layout",
        "test-only",
        "test-class-not-in-train",
    ],
)
def test_bad_folders_are_refused_in_one_line(tmp_path, make, fragments):
    root = tmp_path / "root"
    root.mkdir()
    target = make(root)
    with pytest.raises(DataError) as raised:
        load_folder(target, DataConfig(source="folder:x"))
    message = str(raised.value)
    assert "\n" not in message and all(fragment in message for fragment in fragments), message


def test_an_unreadable_folder_is_named(tmp_path, monkeypatch):
    class_folder(tmp_path, {"a": 2, "b": 2}, side=16, channels=1)
    refuse_listing(monkeypatch, "b")
    with pytest.raises(DataError, match=r"/b: cannot be listed \(Permission denied\); check the path"):
        load_folder(tmp_path, DataConfig(source="folder:x"))


def test_a_folder_of_every_format_and_mode_converts_by_the_rules(tmp_path):
    from PIL import Image

    flat = {  # (file, image, save options): every image one flat colour, so each rule shows in a pixel
        "png-rgba.png": (Image.new("RGBA", (30, 30), (200, 100, 50, 128)), {}),
        "gif-palette.gif": (Image.new("RGB", (30, 30), (0, 0, 255)).convert("P"), {}),
        "png-16bit.png": (Image.frombytes("I;16", (30, 30), np.full((30, 30), 25700, "<u2").tobytes()), {}),
        "jpeg-cmyk.jpg": (Image.new("CMYK", (30, 30), (0, 255, 255, 0)), {"quality": 95}),
        "bmp-gray.bmp": (Image.new("L", (30, 30), 77), {}),
        "tiff-rgb.tif": (Image.new("RGB", (30, 30), (1, 2, 3)), {}),
        "webp-la.webp": (Image.new("RGBA", (30, 30), (90, 90, 90, 255)), {"lossless": True}),
    }
    for name, (image, options) in flat.items():
        save(tmp_path / "train" / "flat" / name, image, **options)
    pixels = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high, left half white: rotated by EXIF below
    pixels[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    save(tmp_path / "train" / "rotated" / "photo.jpg", Image.fromarray(pixels), quality=95, exif=exif.tobytes())
    save(tmp_path / "train" / "rotated" / "again.jpg", Image.fromarray(pixels), quality=95, exif=exif.tobytes())
    splits = load_folder(tmp_path, DataConfig(source="folder:x", image_size=16))
    assert splits.image_shape == (16, 16, 3) and splits.split["method"] == "seeded-stratified"
    images = np.concatenate([splits.train_images, splits.test_images])
    labels = np.concatenate([splits.train_labels, splits.test_labels])
    centers = {tuple(int(v) for v in image[8, 8]) for image in images[labels == splits.class_names.index("flat")]}
    expected = {(100, 50, 25), (0, 0, 255), (100, 100, 100), (77, 77, 77), (1, 2, 3), (90, 90, 90)}
    assert expected <= centers  # alpha on black, palette, 16-bit, BMP gray, TIFF, WebP
    cmyk = [c for c in centers - expected]
    assert len(cmyk) == 1 and cmyk[0][0] > 240 and max(cmyk[0][1:]) < 15  # CMYK red
    rotated = images[labels == splits.class_names.index("rotated")]
    # Upright, the 20x40 photo is 40 high and 20 wide, white on top; the center crop keeps its middle.
    assert all(image[:3].mean() > 150 and image[-3:].mean() < 100 for image in rotated)
