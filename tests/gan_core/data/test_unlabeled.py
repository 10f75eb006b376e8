"""The label-scarce pool: unlabeled sources, the pool in the snapshot, and the label firewall.

The firewall rule under test: with ``use_unlabeled``, which images are labeled is decided from
pixels and the seed alone, and only the labels of those images are read. So any change to the
other images' labels (permuted among them, or replaced by garbage) leaves every ingest output
byte-identical, while a change to a labeled image's label does change it.
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from gan_core import data
from gan_core.config import DataConfig
from gan_core.data import DataError
from gan_core.data.stage import ingest_stage, inputs_key
from gan_core.imaging import encode_png
from tests.gan_core.data.builders import class_folder, save, write_images, write_labels

LIMIT = 100
SHAPE = (28, 28, 1)  # the bundled sample's
LOGGER = logging.getLogger("tests.unlabeled")


def _sample_idx_dir(directory: Path, train_labels: np.ndarray | None = None) -> Path:
    """The bundled sample as raw IDX files, optionally with other train labels."""
    directory.mkdir(parents=True)
    for name in data.SAMPLE_SHA256:
        (directory / name.removesuffix(".gz")).write_bytes(gzip.decompress((data.SAMPLE_DIR / name).read_bytes()))
    if train_labels is not None:
        write_labels(directory / "train-labels-idx1-ubyte", train_labels)
    return directory


def _ingest(tmp_path: Path, name: str, train_labels: np.ndarray | None = None, **config) -> data.Snapshot:
    directory = _sample_idx_dir(tmp_path / f"{name}-idx", train_labels)
    config = DataConfig(source=f"idx:{directory}", real_labeled_limit=LIMIT, use_unlabeled=True, **config)
    return data.ingest(config, tmp_path / f"{name}-cache")


def _files(snapshot: data.Snapshot) -> dict[str, bytes]:
    return {name: (snapshot.path / name).read_bytes() for name in ("arrays.npz", data.POOL_FILE)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, mnist_sample):
    """(snapshot, sample train indices of its labeled images) of the unmodified sample."""
    snapshot = _ingest(tmp_path_factory.mktemp("reference"), "ref")
    _, splits = data.load_snapshot(snapshot.path)
    where = {image.tobytes(): index for index, image in enumerate(mnist_sample.train_images)}
    labeled = np.array(sorted(where[image.tobytes()] for image in splits.train_images))
    return snapshot, labeled


# --- the pool in the snapshot ---


def test_pool_is_the_rest_of_train_stored_as_images_only(reference, mnist_sample):
    snapshot, labeled = reference
    _, splits = data.load_snapshot(snapshot.path)
    pool = data.load_pool(snapshot.path)
    with np.load(snapshot.pool_path) as archive:
        assert archive.files == ["images"]  # no label array at all
    assert sorted(p.name for p in snapshot.path.iterdir()) == ["arrays.npz", "meta.json", data.POOL_FILE]
    assert len(labeled) == LIMIT and splits.train_images.shape == (LIMIT, 28, 28, 1)
    assert np.array_equal(np.sort(mnist_sample.train_labels[labeled]), np.sort(splits.train_labels))
    labeled_bytes = {image.tobytes() for image in splits.train_images}
    pool_bytes = {image.tobytes() for image in pool}
    assert not labeled_bytes & pool_bytes
    facts = snapshot.pool
    assert facts["from_train_split"] == len(mnist_sample.train_labels) - LIMIT
    dropped = sum(facts["dropped_duplicates"].values())
    assert facts["count"] == len(pool) == facts["from_train_split"] - dropped
    assert pool.dtype == np.uint8 and pool.shape[1:] == (28, 28, 1)
    meta = json.loads((snapshot.path / "meta.json").read_text())
    assert meta["pool"]["labeled_selection"] == "label-blind" and meta["counts"]["train"]["total"] == LIMIT


def test_the_labeled_choice_is_seeded_and_differs_from_the_stratified_one(tmp_path, reference, mnist_sample):
    snapshot, _ = reference
    again = data.write_snapshot(mnist_sample, tmp_path / "a", LIMIT, seed=0, use_unlabeled=True)
    other_seed = data.write_snapshot(mnist_sample, tmp_path / "b", LIMIT, seed=1, use_unlabeled=True)
    stratified = data.write_snapshot(mnist_sample, tmp_path / "c", LIMIT, seed=0)
    assert again.fingerprint == snapshot.fingerprint  # sample route == idx route
    assert other_seed.fingerprint != snapshot.fingerprint
    assert stratified.pool is None and stratified.pool_path is None
    with pytest.raises(DataError, match="no unlabeled pool"):
        data.load_pool(stratified.path)


def test_firewall_pool_labels_permuted_or_garbage_change_nothing(tmp_path, reference, mnist_sample):
    snapshot, labeled = reference
    truth = mnist_sample.train_labels  # the sample's IDX rows are in this order
    pool_rows = np.setdiff1d(np.arange(len(truth)), labeled)
    rng = np.random.default_rng(123)

    permuted = truth.copy()
    permuted[pool_rows] = truth[rng.permutation(pool_rows)]
    garbage = truth.copy()
    garbage[pool_rows] = (truth[pool_rows] + rng.integers(1, 10, size=len(pool_rows))) % 10  # every one wrong
    assert np.mean(permuted[pool_rows] != truth[pool_rows]) > 0.8 and np.all(garbage[pool_rows] != truth[pool_rows])

    for name, labels in (("permuted", permuted), ("garbage", garbage)):
        changed = _ingest(tmp_path, name, labels)
        assert changed.fingerprint == snapshot.fingerprint, name
        assert changed.path.name == snapshot.path.name and changed.counts == snapshot.counts
        assert _files(changed) == _files(snapshot), name  # byte for byte, pool and labeled arrays

    # The control: the labels of the labeled images are read, so changing one changes the output.
    control = truth.copy()
    control[labeled[0]] = (truth[labeled[0]] + 1) % 10
    assert _ingest(tmp_path, "control", control).fingerprint != snapshot.fingerprint


# --- unlabeled sources ---


def _png_dir(directory: Path, images: np.ndarray) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        (directory / f"img{index:05d}.png").write_bytes(encode_png(image))
    return directory


def test_png_dir_and_idx_images_sources_join_the_pool_alike(tmp_path, reference, mnist_sample):
    snapshot, _ = reference
    rng = np.random.default_rng(7)
    extra = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    with_test_copies = np.concatenate([extra, mnist_sample.test_images[:3, ..., 0]])
    pngs = _png_dir(tmp_path / "pngs", with_test_copies)
    idx_file = write_images(tmp_path / "extra-images-idx3-ubyte", with_test_copies[::-1].copy())

    data.check_unlabeled_source(f"png-dir:{pngs}")
    assert np.array_equal(data.read_unlabeled_source(f"png-dir:{pngs}", SHAPE)[..., 0], with_test_copies)
    via_png = data.write_snapshot(
        mnist_sample,
        tmp_path / "png",
        LIMIT,
        0,
        use_unlabeled=True,
        extra_pool=data.read_unlabeled_source(f"png-dir:{pngs}", SHAPE),
        pool_source=f"png-dir:{pngs}",
    )
    via_idx = data.write_snapshot(
        mnist_sample,
        tmp_path / "idx",
        LIMIT,
        0,
        use_unlabeled=True,
        extra_pool=data.read_unlabeled_source(f"idx-images:{idx_file}", SHAPE),
        pool_source=f"idx-images:{idx_file}",
    )
    assert via_png.fingerprint == via_idx.fingerprint != snapshot.fingerprint
    assert via_png.pool["from_unlabeled_source"] == 15
    # Test images in a pool would leak evaluation data into training: they are dropped.
    assert via_png.pool["dropped_duplicates"]["of_test"] >= 3
    assert via_png.pool["count"] == snapshot.pool["count"] + 12
    pool = {image.tobytes() for image in data.load_pool(via_png.path)}
    assert {image.tobytes() for image in extra[..., None]} <= pool
    assert not {image.tobytes() for image in mnist_sample.test_images} & pool


def test_an_external_pool_with_every_train_image_labeled(tmp_path, mnist_sample):
    pngs = _png_dir(tmp_path / "pngs", np.random.default_rng(3).integers(0, 256, (5, 28, 28), dtype=np.uint8))
    snapshot = data.write_snapshot(
        mnist_sample,
        tmp_path / "c",
        10**6,
        0,
        use_unlabeled=True,
        extra_pool=data.read_unlabeled_source(f"png-dir:{pngs}", SHAPE),
        pool_source=f"png-dir:{pngs}",
    )
    assert snapshot.counts["train"]["total"] == len(mnist_sample.train_labels) and snapshot.pool["count"] == 5
    with pytest.raises(DataError, match="unlabeled pool is empty.*lower real_labeled_limit or give unlabeled_source"):
        data.write_snapshot(mnist_sample, tmp_path / "d", 10**6, 0, use_unlabeled=True)


@pytest.mark.parametrize(
    "make, fragments",
    [
        (lambda d: d / "absent", ["does not exist", "png-dir:<existing directory"]),
        (lambda d: (d / "notes.txt").write_text("x") and d, ["holds no .png files", "1 other entries"]),
        (lambda d: (d / "fake.png").write_bytes(b"GIF89a not a png at all") and d, ["fake.png", "cannot be decoded"]),
        (lambda d: (d / "zero.png").write_bytes(b"") or d, ["zero.png", "is empty (0 bytes)"]),
    ],
    ids=["missing-dir", "no-png", "not-an-image", "zero-bytes"],
)
def test_hostile_png_dirs_fail_at_the_cheap_preflight(tmp_path, make, fragments):
    directory = tmp_path / "pngs"
    directory.mkdir()
    spec = f"png-dir:{make(directory)}"
    for step in (data.check_unlabeled_source, lambda spec: data.read_unlabeled_source(spec, SHAPE)):
        with pytest.raises(DataError) as error:
            step(spec)
        message = str(error.value)
        assert "\n" not in message and all(fragment in message for fragment in fragments), message


def test_a_corrupt_png_body_is_named_at_decode(tmp_path):
    directory = tmp_path / "pngs"
    directory.mkdir()
    good = encode_png(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8))
    (directory / "cut.png").write_bytes(good[: len(good) // 2])  # a valid header, a truncated stream
    data.check_unlabeled_source(f"png-dir:{directory}")  # the cheap pre-flight only reads headers
    with pytest.raises(DataError, match=r"cut\.png: cannot be decoded .*remove it"):
        data.read_unlabeled_source(f"png-dir:{directory}", SHAPE)


def test_folder_pools_of_any_size_and_mode_take_the_labeled_geometry(tmp_path):
    rng = np.random.default_rng(4)
    directory = tmp_path / "pool"
    save(directory / "big-rgb.jpg", rng.integers(0, 256, (100, 80, 3), dtype=np.uint8), quality=90)
    save(directory / "gray.png", np.full((28, 28), 50, np.uint8))
    save(directory / "flat.webp", np.full((40, 40, 3), 10, np.uint8), lossless=True)
    (directory / "README.md").write_text("not an image")
    (directory / "nested").mkdir()  # a flat folder: sub-folders are not read
    save(directory / "nested" / "x.png", np.zeros((28, 28), np.uint8))
    spec = f"folder:{directory}"
    data.check_unlabeled_source(spec)
    gray = data.read_unlabeled_source(spec, (28, 28, 1))
    assert gray.shape == (3, 28, 28, 1)
    assert {50, 10} <= {int(image.max()) for image in gray}  # the flat images keep their levels
    assert data.read_unlabeled_source(spec, (32, 32, 3)).shape == (3, 32, 32, 3)
    idx = write_images(tmp_path / "pool-idx3-ubyte", rng.integers(0, 256, (4, 20, 20), dtype=np.uint8))
    assert data.read_unlabeled_source(f"idx-images:{idx}", (32, 32, 3)).shape == (4, 32, 32, 3)


def test_an_rgb_label_scarce_ingest_with_a_folder_pool(tmp_path):
    class_folder(tmp_path / "labeled", {"a": 12, "b": 12}, side=32, channels=3)
    extra = class_folder(tmp_path / "extra", {"pool": 5}, side=48, channels=3, seed=9)
    config = DataConfig(
        source=f"folder:{tmp_path / 'labeled'}",
        real_labeled_limit=10,
        use_unlabeled=True,
        unlabeled_source=f"folder:{tmp_path / 'extra' / 'pool'}",
    )
    outcome = ingest_stage(config, tmp_path / "cache", LOGGER)
    assert outcome.image_shape == [32, 32, 3] and outcome.split["method"] == "seeded-stratified"
    train = outcome.counts["train"]["total"]
    # 24 images, 2 x round(12 * 0.2) = 4 held out; 20 train: 10 labeled, 10 pooled, plus the 5 extra.
    assert train == 10 and outcome.pool_count == 10 + len(extra["pool"])
    assert data.load_pool(Path(outcome.snapshot_dir)).shape == (outcome.pool_count, 32, 32, 3)


def test_hostile_idx_image_sources(tmp_path):
    with pytest.raises(DataError, match="does not exist or is not a file"):
        data.check_unlabeled_source(f"idx-images:{tmp_path / 'absent'}")
    empty = write_images(tmp_path / "empty-idx3-ubyte", np.zeros((0, 28, 28), np.uint8))
    with pytest.raises(DataError, match="holds no images"):
        data.read_unlabeled_source(f"idx-images:{empty}", SHAPE)
    labels = write_labels(tmp_path / "labels-idx1-ubyte", np.zeros(40))
    with pytest.raises(DataError, match="swap the images and labels"):
        data.check_unlabeled_source(f"idx-images:{labels}")
    with pytest.raises(DataError, match="unknown unlabeled_source"):
        data.check_unlabeled_source(f"jpg-dir:{tmp_path}")
    with pytest.raises(DataError, match="not square"):
        data.read_unlabeled_source(f"idx-images:{labels}", (28, 20, 1))


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(use_unlabeled=True), "use_unlabeled needs real_labeled_limit"),
        (dict(real_labeled_limit=100, unlabeled_source="png-dir:/x"), "use_unlabeled is off"),
        (dict(real_labeled_limit=100, use_unlabeled=True, unlabeled_source="dir:/x"), "unknown unlabeled_source"),
    ],
)
def test_data_config_refuses_an_incomplete_label_scarce_setup(fields, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(source="sample", **fields)
    assert (
        DataConfig(source="sample", real_labeled_limit=100, use_unlabeled=True, unlabeled_source="").unlabeled_source
        is None
    )


def test_corrupt_pool_is_detected(tmp_path, mnist_sample):
    snapshot = data.write_snapshot(mnist_sample, tmp_path, 7000, 0, use_unlabeled=True)
    raw = bytearray(snapshot.pool_path.read_bytes())
    raw[-50] ^= 0xFF
    snapshot.pool_path.write_bytes(bytes(raw))
    for load in (data.load_pool, data.load_snapshot):
        with pytest.raises(DataError, match=rf"pool.npz sha256 .*delete {snapshot.path}"):
            load(snapshot.path)
    snapshot.pool_path.unlink()
    with pytest.raises(DataError, match="pool.npz is missing"):
        data.load_snapshot(snapshot.path)


def test_stage_outcome_points_at_the_pool_and_the_cache_key_follows_the_files(tmp_path):
    pngs = _png_dir(tmp_path / "pngs", np.random.default_rng(5).integers(0, 256, (4, 28, 28), dtype=np.uint8))
    config = DataConfig(
        source="sample", real_labeled_limit=7990, use_unlabeled=True, unlabeled_source=f"png-dir:{pngs}"
    )
    outcome = ingest_stage(config, tmp_path / "cache", LOGGER)
    assert outcome.pool_count == 14 and outcome.counts["train"]["total"] == 7990
    assert Path(outcome.pool_path) == Path(outcome.snapshot_dir) / data.POOL_FILE
    assert len(data.load_pool(Path(outcome.snapshot_dir))) == 14
    key = inputs_key(config, tmp_path / "cache")
    assert key == inputs_key(config, tmp_path / "cache")
    (pngs / "new.png").write_bytes(encode_png(np.ones((28, 28), np.uint8)))
    assert inputs_key(config, tmp_path / "cache") != key


def test_label_blind_split():
    labeled, pool = data.label_blind_split(50, 10, seed=4)
    assert len(labeled) == 10 and len(pool) == 40 and not set(labeled) & set(pool)
    assert np.array_equal(np.sort(np.concatenate([labeled, pool])), np.arange(50))
    assert np.array_equal(labeled, data.label_blind_split(50, 10, seed=4)[0])
    assert not np.array_equal(labeled, data.label_blind_split(50, 10, seed=5)[0])
    everything, nothing = data.label_blind_split(5, 9, seed=0)
    assert list(everything) == [0, 1, 2, 3, 4] and len(nothing) == 0
    with pytest.raises(DataError, match="positive integer"):
        data.label_blind_split(5, 0, seed=0)
