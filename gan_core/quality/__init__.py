"""Quality check of synthetic samples: the judge, the metrics, per-sample rejection and the gate.

Modules: ``judge`` (the judge CNN, its features and probabilities), ``judge_training`` (training
and the judge cache), ``classifier`` (the reference classifier for CAS and the utility
benchmark), ``metrics/`` (plug-in metrics, registered by name), ``gate`` (threshold checks and
:class:`GateFailed`), ``report`` (:func:`evaluate` and the markdown report), ``streaming`` (the
scoring, chunk by chunk, with pairwise metrics on a seeded subsample), ``staging`` (accepted
rows staged on disk for publish) and ``stage`` (the flow's quality step with its typed result).
This package re-exports the gate and report names; ``judge``, ``judge_training`` and
``classifier`` import TensorFlow, so import them directly.
"""

from gan_core.quality.gate import GateCheck, GateFailed, GateResult, apply_gate
from gan_core.quality.report import (
    QualityReport,
    enforce_gate,
    evaluate,
    label_agreement,
    label_confidences,
    report_markdown,
)

__all__ = [
    "GateCheck",
    "GateFailed",
    "GateResult",
    "QualityReport",
    "apply_gate",
    "enforce_gate",
    "evaluate",
    "label_agreement",
    "label_confidences",
    "report_markdown",
]
