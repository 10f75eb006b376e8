"""The pseudo-label stage: teacher on a real label-scarce snapshot, a content-addressed pseudo.npz."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from gan_core.config import DataConfig, PseudoLabelConfig, TeacherConfig
from gan_core.data.splits import DataError
from gan_core.data.stage import ingest_stage
from gan_core.io.hashing import sha256_file
from gan_core.quality.judge import Judge
from gan_core.semisup.stage import cap_per_class, confident_rows, load_pseudo_labels, pseudo_label_stage

LOGGER = logging.getLogger(__name__)
TINY = PseudoLabelConfig(
    teacher=TeacherConfig(steps=3, batch_size=8, unlabeled_ratio=2, log_every=3), min_confidence=0.0, max_per_class=20
)


@pytest.fixture(scope="module")
def snapshot_dir(tmp_path_factory) -> str:
    config = DataConfig(source="sample", real_labeled_limit=100, use_unlabeled=True)
    return ingest_stage(config, tmp_path_factory.mktemp("cache"), LOGGER).snapshot_dir


def test_cap_keeps_the_most_confident_per_class_in_order():
    labels = np.array([0, 1, 0, 0, 1, 2])
    confidences = np.array([0.5, 0.9, 0.9, 0.7, 0.8, 0.1], np.float32)
    assert cap_per_class(labels, confidences, 3, 2).tolist() == [1, 2, 3, 4, 5]
    assert cap_per_class(labels, confidences, 3, 1).tolist() == [1, 2, 5]
    assert cap_per_class(labels, confidences, 3, None).tolist() == list(range(6))


def test_confident_rows_filter_then_cap_by_predicted_class():
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.97, 0.03], [0.2, 0.8], [0.5, 0.5]], np.float32)
    assert confident_rows(probabilities, 0.7, None).tolist() == [0, 2, 3]
    assert confident_rows(probabilities, 0.7, 1).tolist() == [2, 3]
    assert confident_rows(probabilities, 0.0, 1).tolist() == [2, 3]


def test_stage_writes_a_verified_set_and_a_teacher_then_reuses_them(snapshot_dir, tmp_path):
    outcome = pseudo_label_stage(snapshot_dir, TINY, 0, str(tmp_path), LOGGER)
    images, labels, confidences = load_pseudo_labels(outcome.pseudo_path)
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28, 1) and len(images) == outcome.count
    assert np.bincount(labels, minlength=10).tolist() == outcome.per_class and max(outcome.per_class) <= 20
    assert confidences.dtype == np.float32 and np.all((confidences >= 0) & (confidences <= 1))
    assert sha256_file(Path(outcome.pseudo_path)) == outcome.pseudo_sha256
    assert outcome.pool_count > 7000 and outcome.threshold == 0.95 and outcome.max_per_class == 20
    teacher = Judge.load(Path(outcome.teacher_dir))
    assert teacher.test_accuracy == pytest.approx(outcome.teacher_test_accuracy)

    again = pseudo_label_stage(snapshot_dir, TINY, 0, str(tmp_path), LOGGER)
    assert again == outcome  # reused: no second teacher
    other = pseudo_label_stage(snapshot_dir, TINY.model_copy(update={"max_per_class": 5}), 0, str(tmp_path), LOGGER)
    assert other.pseudo_path != outcome.pseudo_path and max(other.per_class) <= 5

    Path(outcome.pseudo_path).write_bytes(b"edited")
    with pytest.raises(ValueError, match="does not match its recorded sha256"):
        pseudo_label_stage(snapshot_dir, TINY, 0, str(tmp_path), LOGGER)


def test_a_snapshot_without_a_pool_is_refused(tmp_path):
    config = DataConfig(source="sample", real_labeled_limit=100)
    snapshot = ingest_stage(config, tmp_path / "cache", LOGGER).snapshot_dir
    with pytest.raises(DataError, match="use_unlabeled"):
        pseudo_label_stage(snapshot, TINY, 0, str(tmp_path), LOGGER)
