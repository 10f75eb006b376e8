import numpy as np
import pytest

from gan_core.quality.metrics.label_fidelity import label_fidelity


def test_accuracy_and_confidence():
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    labels = np.array([0, 1, 1, 0])
    accuracy, confidence = label_fidelity(probabilities, labels)
    assert accuracy == 0.5
    assert confidence == pytest.approx((0.9 + 0.7 + 0.4 + 0.2) / 4)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="labels"):
        label_fidelity(np.zeros((3, 2)), np.zeros(4, dtype=int))
