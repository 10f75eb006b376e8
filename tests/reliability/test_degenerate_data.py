"""Degenerate runs: zero accepted samples is a gate failure of its own, whatever the thresholds."""

from __future__ import annotations

import pytest

from gan_core.config import GateThresholds
from gan_core.quality.gate import apply_gate

OPEN = dict(
    max_label_fidelity_gap=None,
    max_second_judge_gap=None,
    max_fid_ratio=None,
    max_memorization_rate=None,
    min_coverage=None,
    min_judge_accuracy=None,
)


@pytest.mark.parametrize("minimum, shown", [(None, "0.000"), (0.0, "0.000"), (0.5, "0.500")])
def test_zero_accepted_fails_the_gate_even_with_the_check_off(minimum, shown):
    result = apply_gate({"acceptance_rate": 0.0}, GateThresholds(min_acceptance_rate=minimum, **OPEN))
    assert not result.passed
    (line,) = result.failures
    assert line.startswith(f"acceptance_rate 0.000 < min {shown}")


def test_some_accepted_passes_an_open_gate():
    assert apply_gate({"acceptance_rate": 0.01}, GateThresholds(min_acceptance_rate=None, **OPEN)).passed
