"""The reference downstream classifier: what the utility benchmark (and CAS) train and test.

It is deliberately a different architecture from the judge (:mod:`gan_core.quality.judge`), so samples
the judge filtered are not scored by a model sharing its biases: a LeNet-5-style CNN with 5x5
convolutions, average pooling and no BatchNorm, where the judge uses 3x3 convolutions, max
pooling and BatchNorm.

"Classic augmentation" is random shifts (up to 3 px) and rotations (up to 10 degrees) done by
Keras preprocessing layers inside the model, so it is active only while training
(``training=True``) and never at evaluation.

Training runs for a number of optimizer steps, not only epochs: ``max(min_steps, epochs *
ceil(n / batch_size))``. With 100 images and batch 128 an epoch is one step; the step floor
keeps a tiny set from getting a handful of updates. Everything is seeded.
"""

from __future__ import annotations

import logging
import math
import time

import keras
import numpy as np
import tensorflow as tf

from gan_core import imaging
from gan_core.quality.judge import seeded

logger = logging.getLogger(__name__)

SHIFT_PIXELS = 3
ROTATION_DEGREES = 10.0
DEFAULT_EPOCHS = 20
DEFAULT_BATCH_SIZE = 128
DEFAULT_MIN_STEPS = 600
DEFAULT_LEARNING_RATE = 2e-3
INFERENCE_BATCH = 2048
AUGMENT_LAYERS = ("shift", "rotate")

# Pinned so a global mixed-precision policy left by GAN training cannot change the classifier.
_F32 = {"dtype": "float32"}


class ClassifierError(ValueError):
    """Bad input to the reference classifier; the message says what to fix."""


def build_classifier(
    image_shape: tuple[int, int, int], num_classes: int, augment: bool, seed: int = 0
) -> keras.Model:
    """Builds the LeNet-5-style CNN: uint8 (H, W, C) in, class logits out.

    conv 5x5 (16, same) -> avg-pool -> conv 5x5 (32, valid) -> avg-pool -> dense 128 -> dropout
    -> logits: LeNet-5's layout with ReLU instead of tanh and somewhat wider layers (117 k
    parameters). The Caffe widths (20/50/256) cost twice the time per step on this CPU.
    With ``augment`` the layers named ``shift`` and ``rotate`` come first; Keras runs them only
    when ``training=True``.
    """
    layers = keras.layers
    height, width = image_shape[:2]
    inputs = keras.Input(shape=tuple(image_shape), dtype="uint8", name="images")
    x = layers.Rescaling(1.0 / 255.0, name="scale", **_F32)(inputs)
    if augment:
        x = layers.RandomTranslation(
            SHIFT_PIXELS / height, SHIFT_PIXELS / width, fill_mode="constant", seed=seed, name="shift", **_F32
        )(x)
        # RandomRotation takes a fraction of a full turn.
        x = layers.RandomRotation(
            ROTATION_DEGREES / 360.0, fill_mode="constant", seed=seed + 1, name="rotate", **_F32
        )(x)
    x = layers.Conv2D(16, 5, padding="same", activation="relu", name="conv1", **_F32)(x)
    x = layers.AveragePooling2D(2, name="pool1", **_F32)(x)
    x = layers.Conv2D(32, 5, padding="valid", activation="relu", name="conv2", **_F32)(x)
    x = layers.AveragePooling2D(2, name="pool2", **_F32)(x)
    x = layers.Flatten(name="flatten", **_F32)(x)
    # Named "features" so a LeNet can also serve as a judge (gan_core.quality.judge.FEATURES_LAYER).
    x = layers.Dense(128, activation="relu", name="features", **_F32)(x)
    x = layers.Dropout(0.4, seed=seed + 2, name="dropout", **_F32)(x)
    logits = layers.Dense(num_classes, name="logits", **_F32)(x)
    return keras.Model(inputs, logits, name="lenet_classifier")


def training_steps(count: int, epochs: int, batch_size: int, min_steps: int) -> int:
    """Optimizer steps for ``count`` images: ``epochs`` passes, but never fewer than ``min_steps``."""
    return max(int(min_steps), int(epochs) * math.ceil(count / batch_size))


def _validate(images, labels, num_classes, epochs, batch_size, min_steps) -> tuple[np.ndarray, np.ndarray]:
    if num_classes < 2:
        raise ClassifierError(f"num_classes must be at least 2, got {num_classes}")
    for name, value, low in (("epochs", epochs, 0), ("batch_size", batch_size, 1), ("min_steps", min_steps, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ClassifierError(f"{name} must be an integer >= {low}, got {value!r}")
    if epochs == 0 and min_steps == 0:
        raise ClassifierError("epochs and min_steps are both 0, so nothing would be trained: raise one of them")
    images = imaging.check_images(images, "train images", error=ClassifierError)
    labels = imaging.check_labels(labels, len(images), num_classes, "train labels", error=ClassifierError)
    if len(images) == 0:
        raise ClassifierError("the classifier needs at least one training image")
    return images, labels


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    augment: bool = False,
    min_steps: int = DEFAULT_MIN_STEPS,
    learning_rate: float = DEFAULT_LEARNING_RATE,
) -> keras.Model:
    """Trains the reference classifier on uint8 images; returns the Keras model (logits out).

    Args:
        images: uint8 (N, H, W, C) training images.
        labels: int class indices, shape (N,).
        num_classes: number of classes.
        epochs: passes over the data (before the ``min_steps`` floor).
        batch_size: images per step.
        seed: seeds weights, shuffling, dropout and augmentation.
        augment: classic augmentation (shifts, rotations) while training.
        min_steps: floor on optimizer steps, so small sets still train properly.
        learning_rate: peak Adam rate, cosine-decayed to 0 over the steps.

    Raises:
        ClassifierError: malformed images or labels, or an impossible budget.
    """
    images, labels = _validate(images, labels, num_classes, epochs, batch_size, min_steps)
    steps = training_steps(len(images), epochs, batch_size, min_steps)
    started = time.perf_counter()
    with seeded(seed):
        model = build_classifier(tuple(int(s) for s in images.shape[1:]), num_classes, augment, seed)
        dataset = (
            tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
            .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(batch_size, drop_remainder=len(images) >= batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        model.compile(
            optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps)),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(dataset, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)  # tf.data shuffles
    logger.info(
        "classifier trained on %d images for %d steps (augment=%s) in %.1f s",
        len(images), steps, augment, time.perf_counter() - started,
    )
    return model


def predict_logits(model: keras.Model, images: np.ndarray, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """Class logits for uint8 images, inference mode (no augmentation, no dropout)."""
    images = imaging.check_images(images, "images", error=ClassifierError)
    outputs = [
        np.asarray(model(images[start : start + batch_size], training=False))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, int(model.output_shape[-1])), np.float32)


def evaluate(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of ``model`` on (images, labels), in [0, 1].

    Raises:
        ClassifierError: no images to evaluate on.
    """
    if len(images) == 0:
        raise ClassifierError("cannot evaluate on an empty set: pass at least one test image")
    logits = predict_logits(model, images)
    labels = imaging.check_labels(labels, len(logits), logits.shape[-1], "test labels", error=ClassifierError)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def train_and_score(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    num_classes: int,
    seed: int = 0,
    augment: bool = False,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    min_steps: int = DEFAULT_MIN_STEPS,
) -> float:
    """Trains the reference classifier on one set and returns its accuracy on another (CAS-ready)."""
    model = train_classifier(
        train_images, train_labels, num_classes, epochs=epochs, batch_size=batch_size, seed=seed,
        augment=augment, min_steps=min_steps,
    )
    return evaluate(model, test_images, test_labels)
