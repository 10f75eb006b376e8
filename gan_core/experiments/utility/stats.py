"""Statistics of the benchmark: mean +- std per (N, arm) and paired-by-seed gains with t intervals."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

from gan_core.experiments.utility.config import ARM_NAMES, ARMS, BASELINES, SCARCE_ARMS, SCARCE_GAINS, UtilityError


def t_quantile_975(dof: int) -> float:
    """Two-sided 95 % Student t critical value t_{0.975, dof}, from ``scipy.stats.t``.

    Raises:
        UtilityError: ``dof`` below 1.
    """
    if isinstance(dof, bool) or not isinstance(dof, (int, np.integer)) or dof < 1:
        raise UtilityError(f"degrees of freedom must be an integer >= 1, got {dof!r}: a CI needs two seeds")
    return float(scipy_stats.t.ppf(0.975, dof))


def mean_std(values: Sequence[float]) -> dict:
    """Mean and sample standard deviation (ddof=1; None with fewer than two values)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise UtilityError("mean_std needs at least one value")
    std = float(np.std(array, ddof=1)) if array.size > 1 else None
    return {"mean": float(np.mean(array)), "std": std, "n": int(array.size)}


def paired_gain(treatment: Sequence[float], baseline: Sequence[float]) -> dict:
    """Mean paired difference ``treatment - baseline`` and its two-sided 95 % t confidence interval.

    The CI is ``mean +- t_{0.975, n-1} * sd / sqrt(n)`` over the per-seed differences; with one
    pair it is None. ``significant`` says whether the CI excludes zero.

    Raises:
        UtilityError: the sequences are empty or of different lengths.
    """
    treatment = np.asarray(treatment, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    if treatment.shape != baseline.shape or treatment.ndim != 1 or treatment.size == 0:
        raise UtilityError(
            f"paired_gain needs two equally long non-empty 1-D sequences (one value per seed), got "
            f"{treatment.shape} and {baseline.shape}"
        )
    diffs = treatment - baseline
    n = int(diffs.size)
    mean = float(np.mean(diffs))
    if n < 2:
        return {"mean": mean, "std": None, "n": n, "ci_low": None, "ci_high": None, "significant": None}
    std = float(np.std(diffs, ddof=1))
    half = t_quantile_975(n - 1) * std / math.sqrt(n)
    low, high = mean - half, mean + half
    return {"mean": mean, "std": std, "n": n, "ci_low": low, "ci_high": high, "significant": bool(low > 0 or high < 0)}


def summarize(results: Sequence[Mapping]) -> dict:
    """Aggregates experiment results into per-N statistics per arm and paired gains.

    Returns:
        ``{"sizes": [{"size", "n_real", "seeds", "arms": {arm: {mean, std, n, values}},
        "gains": {"b_vs_a": {...}, ...}, ...}], "rows": [table rows]}``, JSON-ready.

    Raises:
        UtilityError: no results, or a result misses an arm.
    """
    if not results:
        raise UtilityError("no experiment results to summarize: run at least one (N, seed) experiment")
    by_size: dict[int, dict[int, Mapping]] = {}
    for result in results:
        missing = [arm for arm in ARMS if arm not in result.get("accuracy", {})]
        if missing:
            raise UtilityError(f"result for N={result.get('size')} seed={result.get('seed')} lacks arms {missing}")
        by_size.setdefault(int(result["size"]), {})[int(result["seed"])] = result
    sizes = []
    rows = []
    # "all" (0) sorts last: it is the largest N.
    for size in sorted(by_size, key=lambda s: (s == 0, s)):
        seeded = by_size[size]
        seeds = sorted(seeded)
        # The label-scarce arms count when every seed of this N ran them (never at N = all).
        present = ARMS + tuple(arm for arm in SCARCE_ARMS if all(arm in seeded[s]["accuracy"] for s in seeds))
        accuracy = {arm: [float(seeded[seed]["accuracy"][arm]) for seed in seeds] for arm in present}
        arms = {arm: {**mean_std(accuracy[arm]), "values": accuracy[arm]} for arm in present}
        gains = {
            f"{arm}_vs_{base}": paired_gain(accuracy[arm], accuracy[base])
            for base in BASELINES
            for arm in present
            if present.index(arm) > present.index(base)
        }
        gains.update(
            {
                f"{arm}_vs_{base}": paired_gain(accuracy[arm], accuracy[base])
                for arm, base in SCARCE_GAINS
                if arm in present and base in present
            }
        )
        n_real = sorted({int(seeded[seed]["n_real"]) for seed in seeds})
        entry = {
            "size": size,
            "label": "all" if size == 0 else str(size),
            "n_real": n_real[0] if len(n_real) == 1 else n_real,
            "seeds": seeds,
            "arms": arms,
            "gains": gains,
            "synthetic_accepted_mean": float(np.mean([seeded[s]["synthetic"]["accepted"] for s in seeds])),
            "acceptance_rate_mean": float(np.mean([seeded[s]["synthetic"]["acceptance_rate"] for s in seeds])),
            "seconds_mean": float(np.mean([seeded[s]["seconds"]["total"] for s in seeds])),
        }
        if len(present) > len(ARMS):
            entry["label_scarce"] = {
                key: float(np.mean([seeded[s]["label_scarce"][key] for s in seeds]))
                for key in ("teacher_test_accuracy", "pseudo_labels", "pool_count")
            }
        sizes.append(entry)
        for arm in present:
            row = {
                "N": entry["label"] if size != 0 else f"all ({entry['n_real']})",
                "arm": f"({arm}) {ARM_NAMES[arm]}",
                "seeds": len(seeds),
                "accuracy_mean": round(arms[arm]["mean"], 4),
                "accuracy_std": None if arms[arm]["std"] is None else round(arms[arm]["std"], 4),
            }
            # Against g only when the label-scarce arms ran, so the four-arm table keeps its columns.
            for base in BASELINES + (("g",) if "f_vs_g" in gains else ()):
                gain = gains.get(f"{arm}_vs_{base}")
                row[f"gain_vs_{base}"] = None if gain is None else round(gain["mean"], 4)
                row[f"ci95_vs_{base}"] = (
                    None
                    if gain is None or gain["ci_low"] is None
                    else (f"[{gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}]")
                )
            rows.append(row)
    ran = [arm for arm in ARM_NAMES if any(arm in entry["arms"] for entry in sizes)]
    return {"arms": {arm: ARM_NAMES[arm] for arm in ran}, "sizes": sizes, "rows": rows}
