"""The FixMatch teacher on tiny configs: it trains, pseudo-labels, filters, and refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from gan_core.config import TeacherConfig
from gan_core.data import label_blind_split
from gan_core.semisup import SemisupError, Teacher, train_teacher

# threshold 0: every pseudo-label counts, so the pool's loss is exercised from the first step.
TINY = TeacherConfig(steps=8, batch_size=8, unlabeled_ratio=2, log_every=4, ema_decay=0.5, threshold=0.0)


@pytest.fixture(scope="module")
def scarce(mnist_sample):
    """(labeled images, labels, pool images, the pool's hidden true labels) from the bundled sample."""
    labeled, pool = label_blind_split(len(mnist_sample.train_labels), 100, seed=0)
    pool = pool[:400]
    images, labels = mnist_sample.train_images, mnist_sample.train_labels
    return images[labeled], labels[labeled], images[pool], labels[pool]


@pytest.fixture(scope="module")
def teacher(scarce) -> Teacher:
    labeled_images, labeled_labels, pool_images, _ = scarce
    return train_teacher(labeled_images, labeled_labels, pool_images, TINY, seed=0)


def test_it_trains_and_logs_its_progress(teacher, caplog):
    assert [record["step"] for record in teacher.history] == [4, 8]
    for record in teacher.history:
        assert set(record) == {"step", "labeled_loss", "pool_loss", "mask_rate"}
        assert np.isfinite(record["labeled_loss"]) and record["pool_loss"] > 0 and record["mask_rate"] == 1.0
    assert teacher.seed == 0 and teacher.config == TINY


def test_pseudo_labels_have_the_right_shapes_and_come_from_the_model(teacher, scarce):
    _, _, pool_images, hidden_truth = scarce
    probabilities = teacher.predict_proba(pool_images)
    assert probabilities.shape == (400, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)

    images, labels, confidences = teacher.pseudo_label(pool_images, 0.0)
    assert images.shape == (400, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (400,) and labels.dtype == np.int64
    assert confidences.shape == (400,) and confidences.dtype == np.float32
    assert np.array_equal(images, pool_images)
    # The labels are the teacher's argmax: after 8 steps it is far from the hidden truth, which a
    # leak of pool labels would match exactly.
    assert np.array_equal(labels, probabilities.argmax(axis=1))
    np.testing.assert_allclose(confidences, probabilities.max(axis=1))
    assert np.mean(labels == hidden_truth) < 0.95


def test_the_threshold_filters(teacher, scarce):
    _, _, pool_images, _ = scarce
    _, _, every = teacher.pseudo_label(pool_images, 0.0)
    cut = float(np.median(every))
    kept_images, kept_labels, kept = teacher.pseudo_label(pool_images, cut)
    assert 0 < len(kept) < len(every) and np.all(kept >= cut)
    assert len(kept) == int(np.sum(every >= cut)) == len(kept_images) == len(kept_labels)
    assert np.array_equal(kept_images, pool_images[every >= cut])
    above_all = teacher.pseudo_label(pool_images, 1.0)
    assert len(above_all[0]) == int(np.sum(every >= 1.0))


def test_same_seed_same_teacher(teacher, scarce):
    labeled_images, labeled_labels, pool_images, _ = scarce
    again = train_teacher(labeled_images, labeled_labels, pool_images, TINY, seed=0)
    np.testing.assert_allclose(again.predict_proba(pool_images), teacher.predict_proba(pool_images), atol=1e-5)
    for mine, theirs in zip(again.history, teacher.history, strict=True):
        assert mine == pytest.approx(theirs, rel=1e-5)


@pytest.mark.parametrize(
    "fields, name",
    [
        (dict(threshold=1.5), "threshold"),
        (dict(unlabeled_ratio=0), "unlabeled_ratio"),
        (dict(architecture="resnet"), "architecture"),
        (dict(steps=0), "steps"),
        (dict(surprise=1), "surprise"),
    ],
)
def test_a_bad_config_names_its_field(fields, name):
    with pytest.raises(ValidationError, match=name):
        TeacherConfig(**fields)


def test_bad_inputs_are_refused_clearly(scarce, teacher):
    labeled_images, labeled_labels, pool_images, _ = scarce
    cases = [
        ((labeled_images, labeled_labels, pool_images[:0], TINY, 0), "unlabeled pool is empty"),
        ((labeled_images, labeled_labels + 10, pool_images, TINY, 0), r"labeled labels range .* outside 0..9"),
        ((labeled_images, labeled_labels[:5], pool_images, TINY, 0), "labeled labels must be an integer array"),
        ((labeled_images, labeled_labels, pool_images.astype(np.float32), TINY, 0), "pool images must be uint8"),
        ((labeled_images, labeled_labels, np.zeros((3, 32, 32), np.uint8), TINY, 0), "same size"),
        ((labeled_images, labeled_labels, pool_images, {"steps": 8}, 0), "must be a TeacherConfig"),
        ((labeled_images, labeled_labels, pool_images, TINY, -1), "seed must be a non-negative integer"),
    ]
    for arguments, message in cases:
        with pytest.raises(SemisupError, match=message):
            train_teacher(*arguments)
    with pytest.raises(SemisupError, match=r"min_confidence must be a number in \[0, 1\]"):
        teacher.pseudo_label(pool_images, 1.5)
    with pytest.raises(SemisupError, match="trained on"):
        teacher.predict_proba(np.zeros((2, 32, 32), np.uint8))


def test_the_judge_layout_with_batchnorm_trains_too(scarce):
    labeled_images, labeled_labels, pool_images, _ = scarce
    config = TINY.model_copy(update={"architecture": "cnn", "steps": 2, "log_every": 1})
    cnn = train_teacher(labeled_images, labeled_labels, pool_images, config, seed=1)
    assert [record["step"] for record in cnn.history] == [1, 2]
    assert any("moving_mean" in weight.path for weight in cnn.model.weights)
    np.testing.assert_allclose(cnn.predict_proba(pool_images[:5]).sum(axis=1), 1.0, atol=1e-5)
