"""TensorFlow graph-optimizer (grappler) settings the training loop runs under."""

from __future__ import annotations

import contextlib
from typing import Iterator

import tensorflow as tf


@contextlib.contextmanager
def grappler_remapping(enabled: bool) -> Iterator[None]:
    """Runs the body with grappler's remapper pass on or off, then restores the previous setting.

    Training runs with it off: the remapper tries to fuse D's LeakyReLU gradient through the
    spectral-norm layers, fails, prints ``E0000 ... meta_optimizer.cc ... remapper failed:
    INVALID_ARGUMENT`` and drops its rewrite of the training graph anyway. Skipping the pass runs
    the same graph without the alarming line (``benchmarks/remapper.py`` times both). Usable as a
    decorator too.
    """
    previous = tf.config.optimizer.get_experimental_options().get("remapping", True)
    tf.config.optimizer.set_experimental_options({"remapping": enabled})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": previous})
