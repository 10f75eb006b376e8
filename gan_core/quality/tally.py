"""Counts over every sample of a stream, summed per block so they do not depend on how it was cut."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from gan_core.config import STREAM_BLOCK
from gan_core.quality.metrics.class_balance import min_share_ratio
from gan_core.quality.metrics.classifier_score import classifier_score_from_sums
from gan_core.quality.report import json_float


class SampleTally:
    """Counts over every sample of the stream: per class, and the sums the stream-exact metrics need.

    Sums are taken per block of ``STREAM_BLOCK`` rows counted from the start of the stream, and
    blocks are added in order, so the float results do not depend on how the stream was chunked.
    """

    def __init__(self, num_classes: int):
        zeros = lambda dtype=np.int64: np.zeros(num_classes, dtype=dtype)  # noqa: E731
        self.generated, self.accepted, self.correct, self.predicted = zeros(), zeros(), zeros(), zeros()
        self.correct_accepted = 0
        self.confidence_sums = zeros(np.float64)
        self.probability_sums = zeros(np.float64)
        self.plogp_sum = 0.0
        self.second_agrees = 0
        self.second_agrees_accepted = 0
        self.total = 0
        self.blocks: list[dict] = []  # each block's counts, so tallies of consecutive shards merge exactly
        self._pending: list[tuple] = []

    def add(self, labels, probabilities, confidences, accepted, second_agrees=None) -> None:
        """Takes one chunk: its labels, the judge's probabilities and the rejection decisions."""
        if second_agrees is None:
            second_agrees = np.zeros(len(labels), dtype=bool)
        self._pending.append((labels, probabilities, confidences, accepted, second_agrees))
        self.total += len(labels)
        pending = sum(len(part[0]) for part in self._pending)
        if pending >= STREAM_BLOCK:
            columns = [np.concatenate(column) for column in zip(*self._pending)]
            whole = pending // STREAM_BLOCK * STREAM_BLOCK
            for start in range(0, whole, STREAM_BLOCK):
                self._count(*(column[start : start + STREAM_BLOCK] for column in columns))
            self._pending = [tuple(column[whole:] for column in columns)] if whole < pending else []

    def close(self) -> None:
        """Counts the last, partial block; call once the stream has ended."""
        if self._pending:
            self._count(*(np.concatenate(column) for column in zip(*self._pending)))
        self._pending = []

    def _count(self, labels, probabilities, confidences, accepted, second_agrees) -> None:
        size = len(self.generated)
        probabilities = probabilities.astype(np.float64)
        predicted = np.argmax(probabilities, axis=1)
        correct = predicted == labels
        positive = probabilities[probabilities > 0]
        self._absorb(
            {
                "generated": np.bincount(labels, minlength=size),
                "accepted": np.bincount(labels[accepted], minlength=size),
                "correct": np.bincount(labels[correct], minlength=size),
                "predicted": np.bincount(predicted, minlength=size),
                "correct_accepted": int(np.sum(correct & accepted)),
                "confidence_sums": np.bincount(labels, weights=confidences.astype(np.float64), minlength=size),
                "probability_sums": probabilities.sum(axis=0),
                "plogp_sum": float(np.sum(positive * np.log(positive))),
                "second_agrees": int(np.sum(second_agrees)),
                "second_agrees_accepted": int(np.sum(second_agrees & accepted)),
            }
        )

    def _absorb(self, block: dict) -> None:
        for name, value in block.items():
            setattr(self, name, getattr(self, name) + value)
        self.blocks.append(block)

    def merge(self, other: "SampleTally") -> None:
        """Appends a closed tally of the samples that follow this one's (the next shard of the stream).

        Blocks are added one by one in stream order, as one tally over the whole stream adds them,
        so the float sums are the same bit for bit.

        Raises:
            ValueError: this tally has a partial block pending, or ``other`` is not closed.
        """
        if self._pending or other._pending:
            raise ValueError("only closed tallies of whole blocks merge; close() the shard's tally first")
        self.total += other.total
        for block in other.blocks:
            self._absorb(block)

    def stream_metrics(self) -> dict[str, float]:
        """The registry metrics that are counts or sums, over every sample (keys as the registry names them)."""
        total = self.total
        values = {
            "label_fidelity": self.correct.sum() / total,
            # The label's probability is the confidence, summed in float64 as label_fidelity() does.
            "label_fidelity_mean_confidence": self.confidence_sums.sum() / total,
            **{f"count_class_{k}": float(count) for k, count in enumerate(self.generated)},
            "class_balance_min_share": min_share_ratio(self.generated),
            "class_balance_predicted_min_share": min_share_ratio(self.predicted),
            "classifier_score": classifier_score_from_sums(self.plogp_sum, self.probability_sums, total),
        }
        return {key: float(value) for key, value in values.items()}

    def per_class(self, class_names: Sequence[str]) -> list[dict]:
        """One row per class: generated, accepted, acceptance rate, label fidelity, mean confidence."""

        def share(part: np.ndarray, label: int) -> float | None:
            generated = self.generated[label]
            return json_float(float(part[label] / generated) if generated else float("nan"))

        return [
            {
                "label": label,
                "class_name": str(class_names[label]),
                "generated": int(self.generated[label]),
                "accepted": int(self.accepted[label]),
                "acceptance_rate": share(self.accepted, label),
                "label_fidelity": share(self.correct, label),
                "mean_confidence": share(self.confidence_sums, label),
            }
            for label in range(len(self.generated))
        ]
