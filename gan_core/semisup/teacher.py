"""A FixMatch-style teacher: a classifier trained on a few labeled images plus an unlabeled pool.

Per step the loss is cross-entropy on weakly augmented labeled images plus ``unlabeled_weight``
times the cross-entropy between the pseudo-labels of confident weak views of pool images and
the model's predictions on strong views of the same images (Sohn et al. 2020, "FixMatch").
The weak view is predicted in inference mode outside the gradient tape (its prediction is a
fixed target); labeled and strong views are trained on as one batch.
The network is one of the project's classifiers (:func:`gan_core.quality.judge.build_judge_model`);
an EMA of its weights, when on, is what predicts.

The pool goes in as images only, so nothing here can read a pool label: every pseudo-label is
the model's own argmax.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from gan_core import imaging
from gan_core.config import TeacherConfig
from gan_core.quality.judge import build_judge_model, seeded
from gan_core.semisup.augment import strong_view, weak_view

logger = logging.getLogger(__name__)

INFERENCE_BATCH = 2048


class SemisupError(ValueError):
    """Bad input to the teacher; the message says what to fix."""


@dataclass
class Teacher:
    """A trained teacher: class probabilities and confidence-filtered pseudo-labels for images.

    Attributes:
        model: The Keras classifier that predicts (the EMA copy when ``ema_decay`` > 0): uint8
            (N, H, W) in, logits out.
        config: The config it was trained with.
        seed: The seed it was trained with.
        history: One dict per logged step: step, losses, share of the pool batch above the threshold.
    """

    model: keras.Model
    config: TeacherConfig
    seed: int
    history: list[dict] = field(default_factory=list)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Softmax class probabilities, float32 (N, num_classes), inference mode."""
        images = imaging.check_images(images, "images", error=SemisupError)
        expected = tuple(self.model.input_shape[1:])
        if images.shape[1:] != expected:
            raise SemisupError(f"images are {images.shape[1:]} but the teacher was trained on {expected}: resize them")
        outputs = [
            tf.nn.softmax(self.model(images[start : start + INFERENCE_BATCH], training=False)).numpy()
            for start in range(0, len(images), INFERENCE_BATCH)
        ]
        if not outputs:
            return np.zeros((0, self.config.num_classes), np.float32)
        return np.concatenate(outputs).astype(np.float32)

    def pseudo_label(self, pool: np.ndarray, min_confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Labels pool images with the teacher's prediction, keeping those it is confident about.

        Args:
            pool: uint8 (N, H, W) unlabeled images.
            min_confidence: Keep an image when its top class probability is at least this, in [0, 1].

        Returns:
            (kept images uint8 (M, H, W), their labels int64 (M,), their confidences float32 (M,)),
            in pool order.

        Raises:
            SemisupError: ``min_confidence`` outside [0, 1], or malformed images.
        """
        if (
            isinstance(min_confidence, bool)
            or not isinstance(min_confidence, (int, float))
            or not (0.0 <= min_confidence <= 1.0)
        ):
            raise SemisupError(f"min_confidence must be a number in [0, 1], got {min_confidence!r}")
        pool = imaging.check_images(pool, "pool images", error=SemisupError)
        probabilities = self.predict_proba(pool)
        confidences = probabilities.max(axis=1) if len(pool) else np.zeros(0, np.float32)
        labels = probabilities.argmax(axis=1).astype(np.int64)
        keep = confidences >= min_confidence
        logger.info(
            "pseudo-labelled %d of %d pool images at confidence >= %.3f", int(keep.sum()), len(pool), min_confidence
        )
        return pool[keep], labels[keep], confidences[keep].astype(np.float32)

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Share of ``images`` whose predicted class is ``labels`` (for evaluation on real test)."""
        images = imaging.check_images(images, "images", error=SemisupError)
        labels = imaging.check_labels(labels, len(images), self.config.num_classes, "labels", error=SemisupError)
        if len(images) == 0:
            raise SemisupError("cannot measure accuracy on no images: pass at least one")
        return float(np.mean(self.predict_proba(images).argmax(axis=1) == labels))


def _validate(labeled_images, labeled_labels, pool_images, config, seed):
    if not isinstance(config, TeacherConfig):
        raise SemisupError(f"config must be a TeacherConfig, got {type(config).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SemisupError(f"seed must be a non-negative integer, got {seed!r}")
    labeled_images = imaging.check_images(labeled_images, "labeled images", error=SemisupError)
    labeled_labels = imaging.check_labels(
        labeled_labels, len(labeled_images), config.num_classes, "labeled labels", error=SemisupError
    )
    pool_images = imaging.check_images(pool_images, "pool images", error=SemisupError)
    if len(labeled_images) == 0:
        raise SemisupError("the teacher needs at least one labeled image")
    if len(pool_images) == 0:
        raise SemisupError(
            "the unlabeled pool is empty: ingest with use_unlabeled=True, or train a supervised classifier instead"
        )
    if labeled_images.shape[1:] != pool_images.shape[1:]:
        raise SemisupError(
            f"labeled images are {labeled_images.shape[1:]} but pool images are {pool_images.shape[1:]}: "
            "they must have the same size"
        )
    return labeled_images, labeled_labels, pool_images


def train_teacher(
    labeled_images: np.ndarray,
    labeled_labels: np.ndarray,
    pool_images: np.ndarray,
    config: TeacherConfig,
    seed: int,
) -> Teacher:
    """Trains a FixMatch-style teacher on labeled images plus an unlabeled pool.

    Args:
        labeled_images: uint8 (N, H, W).
        labeled_labels: int class indices (N,) in ``0..config.num_classes-1``.
        pool_images: uint8 (M, H, W) unlabeled images (no labels exist for them here).
        config: Architecture, budget and FixMatch settings.
        seed: Seeds the weights, the batches, every augmentation and dropout.

    Raises:
        SemisupError: malformed images or labels, an empty set, a bad config type or seed.
    """
    labeled_images, labeled_labels, pool_images = _validate(labeled_images, labeled_labels, pool_images, config, seed)
    started = time.perf_counter()
    with seeded(int(seed)):
        model = build_judge_model(
            tuple(int(s) for s in labeled_images.shape[1:]), config.num_classes, False, int(seed), config.architecture
        )
        ema = keras.models.clone_model(model) if config.ema_decay > 0 else None
        if ema is not None:
            ema.set_weights(model.get_weights())
        optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(config.learning_rate, config.steps))
        step_fn = _train_step(model, ema, optimizer, labeled_images, labeled_labels, pool_images, config)
        history = []
        window_started = time.perf_counter()
        for step in range(config.steps):
            losses = step_fn(tf.constant([int(seed), step], tf.int64))
            if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
                record = {"step": step + 1, **{name: float(value) for name, value in losses.items()}}
                history.append(record)
                done = step + 1 - (history[-2]["step"] if len(history) > 1 else 0)
                logger.info(
                    "teacher step %d/%d: labeled loss %.4f, pool loss %.4f, %.1f%% of pool batch above tau, "
                    "%.1f steps/s",
                    step + 1,
                    config.steps,
                    record["labeled_loss"],
                    record["pool_loss"],
                    100 * record["mask_rate"],
                    done / max(time.perf_counter() - window_started, 1e-9),
                )
                window_started = time.perf_counter()
    logger.info(
        "teacher trained on %d labeled + %d pool images for %d steps in %.1f s",
        len(labeled_images),
        len(pool_images),
        config.steps,
        time.perf_counter() - started,
    )
    return Teacher(model=ema if ema is not None else model, config=config, seed=int(seed), history=history)


def _train_step(model, ema, optimizer, labeled_images, labeled_labels, pool_images, config: TeacherConfig):
    """Builds the compiled FixMatch step: (seed, step) in, the step's losses out."""
    labeled_x = tf.constant(labeled_images)
    labeled_y = tf.constant(labeled_labels.astype(np.int32))
    pool_x = tf.constant(pool_images)
    n_labeled, n_pool = len(labeled_images), len(pool_images)
    batch, pool_batch = config.batch_size, config.batch_size * config.unlabeled_ratio
    crossentropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    # Pairs of (average, source): BatchNorm statistics are copied, trainable weights averaged.
    pairs = [] if ema is None else list(zip(ema.weights, model.weights))
    trainable = {id(variable) for variable in model.trainable_weights}

    @tf.function(reduce_retracing=True)
    def step(seed: tf.Tensor) -> dict:
        seeds = tf.random.experimental.stateless_split(seed, num=6)
        # Batches drawn with replacement: N may be far below the batch size.
        labeled_index = tf.random.stateless_uniform([batch], seeds[0], 0, n_labeled, tf.int32)
        pool_index = tf.random.stateless_uniform([pool_batch], seeds[1], 0, n_pool, tf.int32)
        labeled = weak_view(tf.gather(labeled_x, labeled_index), seeds[2], config.weak_shift_pixels)
        unlabeled = tf.gather(pool_x, pool_index)
        weak = weak_view(unlabeled, seeds[3], config.weak_shift_pixels)
        strong = strong_view(
            unlabeled, seeds[4], config.strong_shift_pixels, config.strong_rotation_degrees, config.cutout_pixels
        )
        targets = tf.gather(labeled_y, labeled_index)
        # The pseudo-label is a fixed target, so the weak view runs outside the tape, in inference
        # mode: a third less compute than FixMatch's one joint batch, and no dropout noise in the target.
        weak_probabilities = tf.nn.softmax(model(weak, training=False))
        pseudo = tf.argmax(weak_probabilities, axis=1, output_type=tf.int32)
        mask = tf.cast(tf.reduce_max(weak_probabilities, axis=1) >= config.threshold, tf.float32)
        with tf.GradientTape() as tape:
            # Labeled and strong views in one batch, so BatchNorm (the 'cnn' layout) sees both.
            logits = model(tf.concat([labeled, strong], axis=0), training=True)
            labeled_logits, strong_logits = tf.split(logits, [batch, pool_batch])
            labeled_loss = tf.reduce_mean(crossentropy(targets, labeled_logits))
            pool_loss = tf.reduce_mean(mask * crossentropy(pseudo, strong_logits))
            loss = labeled_loss + config.unlabeled_weight * pool_loss
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(gradients, model.trainable_weights))
        for average, source in pairs:
            if id(source) in trainable:
                average.assign(config.ema_decay * average + (1.0 - config.ema_decay) * source)
            else:
                average.assign(source)
        return {"labeled_loss": labeled_loss, "pool_loss": pool_loss, "mask_rate": tf.reduce_mean(mask)}

    return step
