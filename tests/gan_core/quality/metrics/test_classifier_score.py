import numpy as np
import pytest

from gan_core.quality.metrics.classifier_score import classifier_score, classifier_score_from_sums


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


def test_the_score_from_streamed_sums_equals_the_score_of_all_rows():
    probabilities = np.random.default_rng(3).dirichlet(np.full(10, 0.3), size=500)
    probabilities[:7, 4] = 0.0  # exact zeros contribute nothing, as 0 log 0 = 0
    probabilities[:7] /= probabilities[:7].sum(axis=1, keepdims=True)
    plogp, sums = 0.0, np.zeros(10)
    for chunk in np.array_split(probabilities, 7):
        positive = chunk[chunk > 0]
        plogp += float(np.sum(positive * np.log(positive)))
        sums += chunk.sum(axis=0)
    assert classifier_score_from_sums(plogp, sums, 500) == pytest.approx(classifier_score(probabilities), rel=1e-12)
    with pytest.raises(ValueError, match="at least one sample"):
        classifier_score_from_sums(0.0, sums, 0)
