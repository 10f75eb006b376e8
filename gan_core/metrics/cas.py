"""Classification Accuracy Score (Ravuri and Vinyals 2019): can a classifier learn from samples alone?

A fresh classifier of a different architecture from the judge (an MLP, so it does not share the
judge's convolutional biases) is trained on the synthetic set only and tested on real test
(``cas``). The same classifier trained on as many real train images gives ``cas_real_baseline``;
``cas_gap`` = baseline - cas. It trains two models, so it is not in the default metric list.
"""

from __future__ import annotations

import logging

import numpy as np

from gan_core.metrics import MetricContext, register

logger = logging.getLogger(__name__)

EPOCHS = 15
BATCH_SIZE = 128
HIDDEN = 256


def train_and_score(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    num_classes: int,
    seed: int = 0,
    epochs: int = EPOCHS,
) -> float:
    """Trains the CAS MLP on one set and returns its accuracy on another.

    Raises:
        ValueError: empty training set.
    """
    if len(train_images) == 0:
        raise ValueError("CAS needs at least one training image")
    import keras  # deferred: TensorFlow is only needed when this metric runs

    from gan_core.judge import seeded

    image_shape = tuple(int(side) for side in train_images.shape[1:])
    with seeded(seed):
        inputs = keras.Input(shape=image_shape, dtype="uint8")
        x = keras.layers.Rescaling(1.0 / 255.0, dtype="float32")(inputs)
        x = keras.layers.Flatten(dtype="float32")(x)
        x = keras.layers.Dense(HIDDEN, activation="relu", dtype="float32")(x)
        x = keras.layers.Dropout(0.2, seed=seed, dtype="float32")(x)
        logits = keras.layers.Dense(num_classes, dtype="float32")(x)
        model = keras.Model(inputs, logits, name="cas_mlp")
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        model.fit(train_images, train_labels, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
        logits = model.predict(test_images, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == test_labels))


@register("cas")
def compute(context: MetricContext) -> dict[str, float]:
    """CAS on real test, the real-data baseline at equal n, and the gap between them."""
    count = len(context.images("synthetic"))
    cas = train_and_score(
        context.images("synthetic"), context.labels("synthetic"),
        context.images("test"), context.labels("test"), context.num_classes, context.seed,
    )
    rows = context.subsample_indices("train", count, "cas")
    baseline = train_and_score(
        context.images("train")[rows], context.labels("train")[rows],
        context.images("test"), context.labels("test"), context.num_classes, context.seed,
    )
    if len(rows) < count:
        logger.warning("CAS baseline used all %d real train images, fewer than the %d samples", len(rows), count)
    return {"cas": cas, "cas_real_baseline": baseline, "cas_gap": baseline - cas}
