import numpy as np
import pytest

from gan_core.quality.metrics.class_balance import class_counts, min_share_ratio


def test_exact_counts_include_empty_classes():
    counts = class_counts(np.array([0, 0, 2, 2, 2, 4]), 5)
    np.testing.assert_array_equal(counts, [2, 0, 3, 0, 1])
    assert counts.dtype == np.int64


def test_min_share_ratio():
    assert min_share_ratio(np.array([10, 10, 10])) == 1.0
    assert min_share_ratio(np.array([5, 10, 15])) == pytest.approx(5 / 30 * 3)
    assert min_share_ratio(np.array([0, 10])) == 0.0


def test_out_of_range_label_is_an_error():
    with pytest.raises(ValueError, match="outside 0..2"):
        class_counts(np.array([0, 3]), 3)
