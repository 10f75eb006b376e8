"""Seeded random ``Rows`` for the publish tests; numpy only, so the S3 tests stay free of TensorFlow."""

from __future__ import annotations

import numpy as np

from gan_core.publish import Rows


def rows(count: int, source: str, split: str, seed: int) -> Rows:
    """``count`` random 28x28 rows of ``source`` and ``split``; synthetic ones carry a confidence and a generator."""
    rng = np.random.default_rng(seed)
    synthetic = source == "synthetic"
    return Rows(
        images=rng.integers(0, 256, size=(count, 28, 28, 1), dtype=np.uint8),
        labels=rng.integers(0, 10, size=count).astype(np.int64),
        source=source,
        split=split,
        judge_confidence=np.linspace(0, 1, count, dtype=np.float32) if synthetic else None,
        generator_version="gen-1" if synthetic else None,
    )
