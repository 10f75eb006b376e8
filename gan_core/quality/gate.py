"""The publish gate: one check per threshold in :class:`gan_core.config.GateThresholds`, and the one
exception (:class:`GateFailed`) a failed gate raises, in gan_core and in the flow alike."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

from gan_core.config import GateThresholds


Op = Literal[">=", "<="]

_NEEDS_SECOND_JUDGE = "set QualityConfig.second_judge"

# (metric key, GateThresholds field, comparison, what computes the key: a registered metric's
# name, a hint, or None when evaluate() always computes it).
_GATE_CHECKS: tuple[tuple[str, str, Op, str | None], ...] = (
    ("label_fidelity_gap", "max_label_fidelity_gap", "<=", "label_fidelity"),
    ("second_judge_gap", "max_second_judge_gap", "<=", _NEEDS_SECOND_JUDGE),
    ("fid_ratio", "max_fid_ratio", "<=", "fid"),
    ("memorization_rate", "max_memorization_rate", "<=", "memorization"),
    ("coverage", "min_coverage", ">=", "density_coverage"),
    ("acceptance_rate", "min_acceptance_rate", ">=", None),
    ("judge_accuracy", "min_judge_accuracy", ">=", None),
)


@dataclass(frozen=True)
class GateCheck:
    """One threshold comparison. ``value`` is None when its metric was not computed."""

    name: str
    value: float | None
    threshold: float
    op: Op
    passed: bool
    source_metric: str | None = None
    note: str | None = None

    @property
    def message(self) -> str:
        """A human-readable line, e.g. 'label_fidelity 0.412 < min 0.900'."""
        if self.note is not None:
            return self.note
        bound = "min" if self.op == ">=" else "max"
        if self.value is None:
            fix = (
                self.source_metric
                if self.source_metric == _NEEDS_SECOND_JUDGE
                else f"add {self.source_metric!r} to QualityConfig.metrics"
            )
            return (
                f"{self.name} was not computed (needs {bound} {self.threshold:.3f}): {fix}, "
                "or set the threshold to None to skip it"
            )
        if math.isnan(self.value):
            return f"{self.name} is NaN (needs {bound} {self.threshold:.3f})"
        if self.passed:
            return f"{self.name} {self.value:.3f} {self.op} {bound} {self.threshold:.3f}"
        broken = "<" if self.op == ">=" else ">"
        return f"{self.name} {self.value:.3f} {broken} {bound} {self.threshold:.3f}"


@dataclass(frozen=True)
class GateResult:
    """The outcome of every enabled check."""

    passed: bool
    checks: list[GateCheck]

    @property
    def failures(self) -> list[str]:
        """One line per failed check."""
        return [check.message for check in self.checks if not check.passed]


class GateFailed(RuntimeError):
    """The quality gate refused the run; the message lists each failed check and its threshold.

    Attributes:
        failures: One line per failed check.
        report: The full evaluation when it is at hand (in gan_core), else None (in the flow).
    """

    def __init__(self, failures: Sequence[str], checks: int, report: object | None = None):
        self.failures = list(failures)
        self.report = report
        lines = "\n".join(f"  - {line}" for line in self.failures)
        super().__init__(
            f"quality gate failed ({len(self.failures)} of {checks} checks), nothing was published:\n{lines}"
        )


def apply_gate(values: dict[str, float], thresholds: GateThresholds) -> GateResult:
    """Compares metric values with the thresholds; a missing or NaN value fails its check."""
    checks = []
    for key, field, op, source in _GATE_CHECKS:
        threshold = getattr(thresholds, field)
        if threshold is None:
            continue
        value = values.get(key)
        if value is None or math.isnan(value):
            passed = False
        else:
            passed = value >= threshold if op == ">=" else value <= threshold
        checks.append(GateCheck(key, None if value is None else float(value), float(threshold), op, passed, source))
    if values.get("acceptance_rate") == 0 and not any(c.name == "acceptance_rate" and not c.passed for c in checks):
        # Zero accepted rows leave nothing to publish, so this fails even with the check off.
        threshold = thresholds.min_acceptance_rate or 0.0
        checks = [check for check in checks if check.name != "acceptance_rate"]
        note = (
            f"acceptance_rate 0.000 < min {threshold:.3f} and no sample was accepted: there is nothing to publish "
            "(zero accepted fails even with min_acceptance_rate off); lower min_confidence or train longer"
        )
        checks.append(GateCheck("acceptance_rate", 0.0, float(threshold), ">=", False, None, note))
    return GateResult(passed=all(check.passed for check in checks), checks=checks)
