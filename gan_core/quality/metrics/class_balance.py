"""Class balance of the synthetic set.

``count_class_<k>`` and ``class_balance_min_share`` use the conditioned labels (what was asked
for). ``class_balance_predicted_min_share`` uses the judge's predicted classes, which exposes a
generator that draws one digit whatever it is asked for.
"""

from __future__ import annotations

import numpy as np

from gan_core.quality.metrics import MetricContext, register


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Returns the number of labels per class, int64 (num_classes,).

    Raises:
        ValueError: a label is outside 0..num_classes-1.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels {labels.min()}..{labels.max()} are outside 0..{num_classes - 1}")
    return np.bincount(labels, minlength=num_classes).astype(np.int64)


def min_share_ratio(counts: np.ndarray) -> float:
    """Returns the smallest class share divided by the uniform share: 1 is perfectly balanced."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return float("nan")
    return float(counts.min() / total * len(counts))


@register("class_balance")
def compute(context: MetricContext) -> dict[str, float]:
    """Per-class counts of the conditioned labels, and min-share ratios (conditioned, predicted)."""
    counts = class_counts(context.labels("synthetic"), context.num_classes)
    predicted = class_counts(np.argmax(context.probabilities("synthetic"), axis=1), context.num_classes)
    results = {f"count_class_{k}": float(count) for k, count in enumerate(counts)}
    results["class_balance_min_share"] = min_share_ratio(counts)
    results["class_balance_predicted_min_share"] = min_share_ratio(predicted)
    return results
