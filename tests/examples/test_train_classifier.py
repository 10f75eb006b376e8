"""The downstream example trains from a real published version through the tf.data loader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.scripts import loaded_script

from gan_core import publish

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "train_classifier.py"
CLASSES = [str(digit) for digit in range(10)]


with loaded_script(EXAMPLE, "train_classifier_example") as example:
    pass  # the module object stays usable after it leaves sys.modules


def _patterns(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Digits a small CNN can learn in an epoch or two: class k is a bright bar at rows 2k..2k+3, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int64) % 10
    images = rng.integers(0, 40, size=(count, 28, 28), dtype=np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 * label + 4 : 2 * label + 8, 4:24] = 255
    return images, labels


def _publish(root: Path, with_test: bool) -> Path:
    synthetic_images, synthetic_labels = _patterns(300, seed=1)
    real_images, real_labels = _patterns(200, seed=2)
    parts = [
        publish.Rows(
            synthetic_images, synthetic_labels, source="synthetic", split="train",
            judge_confidence=np.full(300, 0.95, np.float32), generator_version="test",
        ),
        publish.Rows(real_images, real_labels, source="real", split="train"),
    ]
    if with_test:
        test_images, test_labels = _patterns(100, seed=3)
        parts.append(publish.Rows(test_images, test_labels, source="real", split="test"))
    publish.publish_version(root, "digits", parts, CLASSES, {"note": "test"}, rows_per_shard=256)
    return root / "digits"


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return _publish(tmp_path_factory.mktemp("with-test"), with_test=True)


def test_trains_on_latest_and_evaluates_on_the_published_test_split(published, tmp_path):
    summary = example.train_classifier(published, epochs=2, batch_size=64, save_to=tmp_path / "model.keras")

    assert summary["version"] == 1 and summary["version_dir"] == str((published / "v0001").resolve())
    assert summary["train_rows"] == 500
    assert summary["evaluated_on"] == example.PUBLISHED_TEST and summary["test_rows"] == 100
    # The bars are trivially separable; chance is 0.1.
    assert summary["test_accuracy"] >= 0.8, summary
    assert (tmp_path / "model.keras").is_file()


def test_real_share_mixes_real_and_synthetic_rows_per_batch(published):
    summary = example.train_classifier(published, version="1", epochs=2, batch_size=64, real_share=0.5)

    assert summary["real_share"] == 0.5 and summary["train_rows"] == 500
    assert summary["test_accuracy"] >= 0.8, summary
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        example.train_classifier(published, version="1", epochs=1, real_share=1.5)


def test_picks_up_a_new_latest_and_can_pin_a_version(published):
    # A second, synthetic-only version moves LATEST; the example follows it unless pinned.
    images, labels = _patterns(120, seed=4)
    publish.publish_version(
        published.parent, "digits",
        [publish.Rows(images, labels, source="synthetic", split="train", judge_confidence=np.full(120, 0.5, np.float32))],
        CLASSES, {},
    )
    latest = example.train_classifier(published, epochs=1, batch_size=64, sources=("synthetic",))
    pinned = example.train_classifier(published, version="1", epochs=1, batch_size=64, sources=("real",))

    assert latest["version"] == 2 and latest["train_rows"] == 120
    # Version 2 has no test split, so the bundled real sample is the test set.
    assert latest["evaluated_on"] == example.BUNDLED_TEST and latest["test_rows"] == 2000
    assert pinned["version"] == 1 and pinned["train_rows"] == 200 and pinned["evaluated_on"] == example.PUBLISHED_TEST


def test_cli_prints_a_json_summary_and_rejects_an_empty_directory(published, tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(published / "v0001"), "--epochs", "1", "--batch-size", "128",
         "--sources", "synthetic", "--min-confidence", "0.9"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["version"] == 1 and summary["sources"] == ["synthetic"] and summary["min_confidence"] == 0.9
    assert "test accuracy" in done.stderr

    assert example.main([str(tmp_path / "nothing-here")]) == 2
    with pytest.raises(ValueError, match="no train rows"):
        example.train_classifier(published / "v0002", sources=("real",))
