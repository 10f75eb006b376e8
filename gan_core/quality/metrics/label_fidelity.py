"""Label fidelity: does the judge see the class the generator was asked for?"""

from __future__ import annotations

import numpy as np

from gan_core.quality.metrics import MetricContext, register


def label_fidelity(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Returns (share whose argmax equals the label, mean probability given to the label).

    Raises:
        ValueError: shapes do not pair up.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probabilities.ndim != 2 or labels.shape != (len(probabilities),):
        raise ValueError(f"need probabilities (n, C) and labels (n,), got {probabilities.shape} and {labels.shape}")
    if len(labels) == 0:
        return float("nan"), float("nan")
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels))
    confidence = float(np.mean(probabilities[np.arange(len(labels)), labels]))
    return accuracy, confidence


@register("label_fidelity")
def compute(context: MetricContext) -> dict[str, float]:
    """Judge accuracy against the conditioned labels, and its mean confidence in them."""
    accuracy, confidence = label_fidelity(context.probabilities("synthetic"), context.labels("synthetic"))
    return {"label_fidelity": accuracy, "label_fidelity_mean_confidence": confidence}
