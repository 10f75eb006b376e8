"""Classifier score: the Inception-score formula on the judge's softmax.

``exp(E_x[KL(p(y|x) || p(y))])`` is high when each sample is confidently one class and the
classes are spread out; it ranges from 1 (uniform or identical predictions) to num_classes.
"""

from __future__ import annotations

import numpy as np

from gan_core.quality.metrics import MetricContext, register


def classifier_score(probabilities: np.ndarray) -> float:
    """Returns exp(mean KL(p(y|x) || p(y))) for (n, C) probabilities.

    Raises:
        ValueError: not a non-empty 2-D array.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"need non-empty (n, C) probabilities, got shape {p.shape}")
    marginal = p.mean(axis=0, keepdims=True)
    # 0 * log 0 is 0: only positive entries contribute.
    positive = p > 0
    terms = np.zeros_like(p)
    terms[positive] = p[positive] * (np.log(p[positive]) - np.log(np.broadcast_to(marginal, p.shape)[positive]))
    return float(np.exp(np.mean(terms.sum(axis=1))))


def classifier_score_from_sums(plogp_sum: float, probability_sums: np.ndarray, count: int) -> float:
    """The classifier score from sums over samples, for a stream that never holds them all.

    ``mean KL(p || m) = (sum p log p - sum_c P_c log m_c) / n`` with ``P_c`` the summed
    probabilities and ``m = P / n`` the marginal; it equals :func:`classifier_score` up to rounding.

    Args:
        plogp_sum: Sum over samples and classes of ``p log p`` (0 where p is 0).
        probability_sums: (C,) summed probabilities per class.
        count: Number of samples.

    Raises:
        ValueError: ``count`` is not positive.
    """
    if count < 1:
        raise ValueError(f"the classifier score needs at least one sample, got {count}")
    sums = np.asarray(probability_sums, dtype=np.float64)
    positive = sums > 0
    cross = float(np.sum(sums[positive] * np.log(sums[positive] / count)))
    return float(np.exp((plogp_sum - cross) / count))


@register("classifier_score")
def compute(context: MetricContext) -> dict[str, float]:
    """Classifier score of the synthetic set and, for scale, of the real test set."""
    return {
        "classifier_score": classifier_score(context.probabilities("synthetic")),
        "classifier_score_real": classifier_score(context.probabilities("test")),
    }
