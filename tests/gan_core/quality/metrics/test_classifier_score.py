import numpy as np
import pytest

from gan_core.quality.metrics.classifier_score import classifier_score


def test_uniform_predictions_score_one():
    assert classifier_score(np.full((50, 10), 0.1)) == pytest.approx(1.0)


def test_identical_confident_predictions_score_one():
    probabilities = np.zeros((20, 10))
    probabilities[:, 3] = 1.0
    assert classifier_score(probabilities) == pytest.approx(1.0)


def test_confident_and_balanced_predictions_score_num_classes():
    probabilities = np.eye(10)[np.repeat(np.arange(10), 7)]
    assert classifier_score(probabilities) == pytest.approx(10.0)


def test_half_the_classes_scores_five():
    probabilities = np.eye(10)[np.repeat(np.arange(5), 4)]
    assert classifier_score(probabilities) == pytest.approx(5.0)


def test_rejects_empty():
    with pytest.raises(ValueError, match="non-empty"):
        classifier_score(np.zeros((0, 10)))
