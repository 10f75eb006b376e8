"""Scoring a stream of synthetic samples in chunks, in memory that does not grow with the stream.

:class:`StreamingEvaluation` takes chunks of (images, labels) as they are generated. For every
sample it judges the label, decides rejection and counts (acceptance, per-class rows, label
fidelity, class balance, classifier score, the second judge's agreement). Metrics over pairs of
points (FID, precision/recall, density/coverage, memorization, C_T, near duplicates) run at the
end on a seeded subsample of at most ``QualityConfig.metric_subsample`` samples, chosen up front
because the total is known. When the stream is no longer than the subsample, the subsample is
every sample in order, so every metric is what :func:`evaluate` computed on the whole set before
streaming existed.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Sequence

import numpy as np

from gan_core.config import QualityConfig
from gan_core.quality import metrics as metric_registry
from gan_core.quality.gate import apply_gate
from gan_core.quality.metrics import FeatureExtractor, MetricContext, judge_outputs
from gan_core.quality.report import QualityReport, label_confidences
from gan_core.quality.tally import SampleTally

logger = logging.getLogger(__name__)


def subsample_rows(total: int, size: int, seed: int) -> np.ndarray:
    """Returns the sorted rows of a stream of ``total`` that the pairwise metrics use (all if ``total <= size``)."""
    if total <= size:
        return np.arange(total)
    digest = hashlib.sha256(f"{seed}:metric_subsample".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return np.sort(rng.choice(total, size=size, replace=False))


def _real_arrays(real) -> dict[str, np.ndarray]:
    arrays = {}
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        if not hasattr(real, name):
            raise ValueError(
                f"real data has no {name!r}: pass an object with train_images, train_labels, "
                "test_images and test_labels (e.g. gan_core.data.LabeledSplits)"
            )
        arrays[name] = getattr(real, name)
    return arrays


def judge_chunk(judge, second_judge, images, labels, min_confidence: float) -> tuple:
    """Judges one chunk: (probabilities, confidences, accepted, second judge agrees or None) per sample."""
    probabilities = judge_outputs(judge, images, cache=False)[1]
    confidences = label_confidences(probabilities, labels)
    accepted = confidences >= min_confidence
    second_agrees = None
    if second_judge is not None:
        second = judge_outputs(second_judge, images, cache=False)[1]
        second_agrees = np.argmax(second, axis=1) == labels
    return probabilities, confidences, accepted, second_agrees


class StreamingEvaluation:
    """Scores synthetic samples chunk by chunk and applies the gate at the end.

    Args:
        real: Object with train_images/train_labels/test_images/test_labels arrays.
        judge: The trained judge (``predict_proba`` and ``features``).
        config: Metrics, gate thresholds, seed and ``metric_subsample``.
        num_classes: Number of classes.
        class_names: Names indexed by label; None uses the label numbers.
        second_judge: A classifier that rejects nothing; its agreement with the accepted rows'
            labels is independent evidence that they are right.
        total: How many samples the stream will bring (to choose the subsample up front).

    Raises:
        ValueError: class_names of the wrong length or real data without its arrays.
    """

    def __init__(
        self,
        real,
        judge: FeatureExtractor,
        config: QualityConfig,
        num_classes: int,
        class_names: Sequence[str] | None,
        second_judge: FeatureExtractor | None,
        total: int,
    ):
        if class_names is None:
            class_names = [str(label) for label in range(num_classes)]
        if len(class_names) != num_classes:
            raise ValueError(f"class_names has {len(class_names)} entries but num_classes is {num_classes}")
        self.real = _real_arrays(real)
        self.judge, self.second_judge, self.config = judge, second_judge, config
        self.num_classes, self.class_names, self.total = int(num_classes), list(class_names), int(total)
        self.subsample = subsample_rows(self.total, config.metric_subsample, config.seed)
        self.tally = SampleTally(self.num_classes)
        self._kept_images: list[np.ndarray] = []
        self._kept_labels: list[np.ndarray] = []

    def add(self, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Judges one chunk; returns its (confidences float32, accepted bool) per sample.

        Raises:
            ValueError: the chunk would take the stream past ``total``.
        """
        labels = np.asarray(labels, dtype=np.int64)
        start = self.tally.total
        if start + len(labels) > self.total:
            raise ValueError(f"the stream brought more than the {self.total} samples it announced")
        probabilities, confidences, accepted, second_agrees = judge_chunk(
            self.judge, self.second_judge, images, labels, self.config.gate.min_confidence
        )
        self.tally.add(labels, probabilities, confidences, accepted, second_agrees)
        lo, hi = np.searchsorted(self.subsample, [start, start + len(labels)])
        rows = self.subsample[lo:hi] - start
        self._kept_images.append(np.asarray(images)[rows])
        self._kept_labels.append(labels[rows])
        return confidences, accepted

    def add_shard(self, tally: SampleTally, images: np.ndarray, labels: np.ndarray) -> None:
        """Takes a shard scored elsewhere: its closed tally and its rows of the subsample, in stream order.

        Raises:
            ValueError: the shard would take the stream past ``total``.
        """
        if self.tally.total + tally.total > self.total:
            raise ValueError(f"the stream brought more than the {self.total} samples it announced")
        self.tally.merge(tally)
        self._kept_images.append(np.asarray(images))
        self._kept_labels.append(np.asarray(labels, dtype=np.int64))

    def subsample_info(self) -> dict:
        """What the pairwise metrics saw: ``size`` of ``total`` samples, drawn with ``seed``."""
        return {
            "size": len(self.subsample),
            "total": self.total,
            "max_size": self.config.metric_subsample,
            "seed": self.config.seed,
            "all_samples": len(self.subsample) == self.total,
        }

    def finish(self) -> QualityReport:
        """Computes the metrics (pairwise ones on the subsample) and applies the gate.

        Raises:
            ValueError: fewer samples arrived than announced, or none at all.
        """
        tally = self.tally
        if tally.total != self.total:
            raise ValueError(f"the stream announced {self.total} samples but brought {tally.total}")
        tally.close()
        empty = (np.zeros((0, *self.real["test_images"].shape[1:]), np.uint8), np.zeros(0, np.int64))
        context = MetricContext(
            synthetic_images=np.concatenate(self._kept_images) if self._kept_images else empty[0],
            synthetic_labels=np.concatenate(self._kept_labels) if self._kept_labels else empty[1],
            real_train_images=self.real["train_images"],
            real_train_labels=self.real["train_labels"],
            real_test_images=self.real["test_images"],
            real_test_labels=self.real["test_labels"],
            num_classes=self.num_classes,
            judge=self.judge,
            seed=self.config.seed,
        )
        self._kept_images, self._kept_labels = [], []
        values = metric_registry.compute(self.config.metrics, context)
        if len(self.subsample) < self.total:
            # Counts and sums are exact over the whole stream; keep those, not the subsample's.
            values.update({key: value for key, value in tally.stream_metrics().items() if key in values})
        num_accepted = int(tally.accepted.sum())
        values["acceptance_rate"] = num_accepted / self.total
        values["label_fidelity_accepted"] = tally.correct_accepted / num_accepted if num_accepted else float("nan")
        test_predictions = np.argmax(context.probabilities("test"), axis=1)
        values["judge_accuracy"] = float(np.mean(test_predictions == context.labels("test")))
        if "label_fidelity" in values:
            # Relative to what the judge achieves on real data, so a harder dataset (where the judge
            # itself reaches ~90 %) is not refused for the judge's own errors.
            values["label_fidelity_gap"] = values["judge_accuracy"] - values["label_fidelity"]
        if self.second_judge is not None:
            values.update(self._second_judge_values(context))
        gate = apply_gate(values, self.config.gate)
        report = QualityReport(
            values, tally.per_class(self.class_names), None, None, gate, self.total, num_accepted, self.subsample_info()
        )
        if gate.passed:
            logger.info("quality gate passed: %d of %d samples accepted", num_accepted, self.total)
        else:
            logger.warning("quality gate failed: %s", "; ".join(gate.failures))
        return report

    def _second_judge_values(self, context: MetricContext) -> dict[str, float]:
        tally = self.tally
        test_probabilities = judge_outputs(self.second_judge, context.images("test"))[1]
        test_accuracy = float(np.mean(np.argmax(test_probabilities, axis=1) == context.labels("test")))
        accepted = int(tally.accepted.sum())
        agreement = tally.second_agrees_accepted / accepted if accepted else float("nan")
        return {
            "second_judge_accuracy": test_accuracy,
            "second_judge_agreement": agreement,
            "second_judge_agreement_all": tally.second_agrees / tally.total,
            "second_judge_gap": test_accuracy - agreement,
        }
