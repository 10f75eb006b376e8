"""Small PNG charts for reports: training curves and per-class bars (matplotlib, Agg backend)."""

from __future__ import annotations

import io
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # headless: no display on workers or CI
import matplotlib.pyplot as plt  # noqa: E402


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def training_curves_png(history: Sequence[Mapping[str, float]]) -> bytes:
    """Discriminator/generator loss and throughput per logged interval, from ``IntervalStats``-like rows."""
    epochs = [row["step"] for row in history]
    figure, (losses, speed) = plt.subplots(1, 2, figsize=(9, 3))
    losses.plot(epochs, [row["discriminator_loss"] for row in history], marker="o", label="discriminator")
    losses.plot(epochs, [row["generator_loss"] for row in history], marker="o", label="generator")
    losses.set_xlabel("step")
    losses.set_title("adversarial losses")
    losses.legend()
    speed.plot(epochs, [row["images_per_second"] for row in history], marker="o", color="tab:green")
    speed.set_xlabel("step")
    speed.set_title("training images / s")
    speed.set_ylim(bottom=0)
    return _png(figure)


def per_class_png(per_class: Sequence[Mapping], value_key: str, title: str) -> bytes:
    """A bar per class for one per-class column (e.g. acceptance rate)."""
    names = [str(row["class_name"]) for row in per_class]
    figure, axis = plt.subplots(figsize=(6, 2.6))
    axis.bar(names, [row[value_key] for row in per_class], color="tab:blue")
    axis.set_ylim(0, 1.05)
    axis.set_title(title)
    return _png(figure)
