"""The benchmark's markdown table and plot."""

from __future__ import annotations

import io
from typing import Mapping

import numpy as np

from gan_core.experiments.utility.config import ARM_NAMES


def format_table(summary: Mapping) -> str:
    """A plain-text (markdown) table of the summary rows."""
    columns = ("N", "arm", "seeds", "accuracy_mean", "accuracy_std", "gain_vs_a", "ci95_vs_a", "gain_vs_b", "ci95_vs_b")
    if any("gain_vs_g" in row for row in summary["rows"]):
        columns += ("gain_vs_g", "ci95_vs_g")  # the label-scarce arms ran
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in summary["rows"]:
        cells = [
            "" if row.get(c) is None else (f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]))
            for c in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def utility_png(summary: Mapping) -> bytes:
    """Accuracy against N per arm (log x, error bars = std over seeds) and gains against (a)."""
    from gan_core import plots  # sets the Agg backend before pyplot is imported

    plt = plots.plt
    entries = summary["sizes"]
    xs = np.array([entry["n_real"] if isinstance(entry["n_real"], int) else max(entry["n_real"]) for entry in entries])
    figure, (accuracy_axis, gain_axis) = plt.subplots(1, 2, figsize=(11, 4))
    # The label-scarce arms (e-g) are plotted at the N where they ran (not at N = all).
    arms = [arm for arm in ARM_NAMES if any(arm in entry["arms"] for entry in entries)]
    offsets = {arm: 0.94 + 0.12 * index / max(len(arms) - 1, 1) for index, arm in enumerate(arms)}  # spread error bars
    colors = {arm: f"C{index}" for index, arm in enumerate(ARM_NAMES)}  # one colour per arm in both panels
    for arm in arms:
        ran = [index for index, entry in enumerate(entries) if arm in entry["arms"]]
        means = [entries[index]["arms"][arm]["mean"] for index in ran]
        stds = [entries[index]["arms"][arm]["std"] or 0.0 for index in ran]
        accuracy_axis.errorbar(
            xs[ran] * offsets[arm],
            means,
            yerr=stds,
            marker="o",
            capsize=3,
            color=colors[arm],
            label=f"({arm}) {ARM_NAMES[arm]}",
        )
    tick_labels = [entry["label"] if entry["size"] else f"all ({x})" for entry, x in zip(entries, xs)]
    for axis in (accuracy_axis, gain_axis):
        axis.set_xscale("log")
        axis.set_xlim(xs.min() / 1.6, xs.max() * 1.6)
        axis.set_xticks(xs, tick_labels)
        axis.xaxis.set_minor_formatter(plots.matplotlib.ticker.NullFormatter())
    accuracy_axis.set_xlabel("real labeled training images N")
    accuracy_axis.set_ylabel("test accuracy")
    accuracy_axis.set_title("downstream classifier accuracy (mean ± std over seeds)")
    accuracy_axis.legend(fontsize=8)
    accuracy_axis.grid(True, which="both", alpha=0.3)
    for arm in arms[1:]:
        ran = [index for index, entry in enumerate(entries) if f"{arm}_vs_a" in entry["gains"]]
        gains = [entries[index]["gains"][f"{arm}_vs_a"] for index in ran]
        means = np.array([gain["mean"] for gain in gains])
        low = np.array([gain["mean"] - gain["ci_low"] if gain["ci_low"] is not None else 0.0 for gain in gains])
        high = np.array([gain["ci_high"] - gain["mean"] if gain["ci_high"] is not None else 0.0 for gain in gains])
        gain_axis.errorbar(
            xs[ran] * offsets[arm],
            means,
            yerr=[low, high],
            marker="o",
            capsize=3,
            color=colors[arm],
            label=f"({arm}) − (a)",
        )
    gain_axis.axhline(0.0, color="black", linewidth=0.8)
    gain_axis.set_xlabel("real labeled training images N")
    gain_axis.set_ylabel("accuracy gain over (a)")
    gain_axis.set_title("paired gain over real-only, 95 % CI")
    gain_axis.legend(fontsize=8)
    gain_axis.grid(True, which="both", alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
