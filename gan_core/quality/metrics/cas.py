"""Classification Accuracy Score (Ravuri and Vinyals 2019): can a classifier learn from samples alone?

The reference downstream classifier (gan_core.quality.classifier: a LeNet-style CNN, a different
architecture from the judge, so the samples are not scored by the model that filtered them) is trained on the synthetic set only and tested on real test
(``cas``). The same classifier trained on as many real train images gives ``cas_real_baseline``;
``cas_gap`` = baseline - cas. It trains two models, so it is not in the default metric list.
"""

from __future__ import annotations

import logging

from gan_core.quality.classifier import train_and_score
from gan_core.quality.metrics import MetricContext, register

logger = logging.getLogger(__name__)

@register("cas")
def compute(context: MetricContext) -> dict[str, float]:
    """CAS on real test, the real-data baseline at equal n, and the gap between them."""
    count = len(context.images("synthetic"))
    cas = train_and_score(
        context.images("synthetic"), context.labels("synthetic"),
        context.images("test"), context.labels("test"), context.num_classes, context.seed,
    )
    rows = context.subsample_indices("train", count, "cas")
    baseline = train_and_score(
        context.images("train")[rows], context.labels("train")[rows],
        context.images("test"), context.labels("test"), context.num_classes, context.seed,
    )
    if len(rows) < count:
        logger.warning("CAS baseline used all %d real train images, fewer than the %d samples", len(rows), count)
    return {"cas": cas, "cas_real_baseline": baseline, "cas_gap": baseline - cas}
