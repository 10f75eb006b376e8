"""The judge: a small CNN trained on real images that scores synthetic samples.

The judge is independent of the GAN: it never sees synthetic data while training. Quality
metrics use its softmax (label fidelity, classifier score) and its penultimate-layer features
(FID, precision/recall, data copying), the way FID uses Inception, but trained on the domain.

Trained judges are cached by (data fingerprint, config hash) as a directory holding
``judge.keras`` and ``judge.json``, published atomically, so a flow re-run loads instead of
re-training; :mod:`gan_core.quality.judge_training` trains and caches them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import keras
import numpy as np
import tensorflow as tf

from gan_core import imaging
from gan_core.config import STREAM_BLOCK, JudgeConfig
from gan_core.io.fsutil import staged_directory
from gan_core.io.exports import read_export_meta
from gan_core.io.hashing import payload_digest
from gan_core.quality.metrics import softmax

logger = logging.getLogger(__name__)

# Bump when build_judge_model changes, so cached judges of the old architecture are not reused.
ARCHITECTURE_VERSION = 2
FORMAT_VERSION = 1
MODEL_FILE = "judge.keras"
META_FILE = "judge.json"
FEATURES_LAYER = "features"
INFERENCE_BATCH = STREAM_BLOCK  # whole stream blocks: chunked scoring equals scoring all at once
EMBED_CACHE_ENTRIES = 4
# Long work says how far it is at least this often (judge training on 60k images takes minutes).
PROGRESS_SECONDS = 15.0

# Every layer is pinned to float32 so a global mixed-precision policy set by GAN training does
# not change the judge (its scores must not depend on what ran before it in the process).
_F32 = {"dtype": "float32"}


class JudgeError(ValueError):
    """Bad input to the judge, or a judge directory that cannot be read; the message says the fix."""


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seeds Python, NumPy, TensorFlow and Keras; restores the Python and NumPy RNG states after.

    TensorFlow's global seed cannot be read back, so it stays set to ``seed`` afterwards.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def build_judge_model(
    image_shape: tuple[int, int, int], num_classes: int, augment: bool, seed: int = 0, architecture: str = "cnn"
) -> keras.Model:
    """Builds the judge CNN: uint8 (H, W, C) in, class logits out.

    ``architecture='lenet'`` builds the reference classifier's layout instead
    (:func:`gan_core.quality.classifier.build_classifier`, shifts and rotations when augmenting): the
    second judge, which never filters samples, so its agreement with the labels is independent
    evidence.

    Three 3x3 conv blocks of 32, 32 and 64 channels, each followed by 2x2 max-pooling (a 2-conv
    baseline plateaued near 97 % on the 8k sample; this reaches about 98.7 % with shifts), then
    dropout around the 128-wide ``features`` layer whose output is the embedding the metrics use.
    Pixels are scaled to [0, 1] inside, so callers pass raw uint8 images.
    """
    if architecture == "lenet":
        from gan_core.quality.classifier import build_classifier  # classifier imports this module

        return build_classifier(image_shape, num_classes, augment, seed)
    layers = keras.layers
    inputs = keras.Input(shape=tuple(image_shape), dtype="uint8", name="images")
    x = layers.Rescaling(1.0 / 255.0, name="scale", **_F32)(inputs)
    if augment:
        # Only active in training; +-10 % shifts (about 3 px) are what MNIST-style digits vary by.
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed, name="shift", **_F32)(x)
    # The full-resolution conv goes without BatchNorm: on this CPU BatchNorm at 28x28 about
    # doubled that block's training time. Widths are kept small for the same reason.
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1", **_F32)(x)
    x = layers.MaxPooling2D(name="pool1", **_F32)(x)
    for index, width in ((2, 32), (3, 64)):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{index}", **_F32)(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{index}", **_F32)(x)
        x = layers.ReLU(name=f"relu{index}", **_F32)(x)
        x = layers.MaxPooling2D(name=f"pool{index}", **_F32)(x)
    x = layers.Flatten(name="flatten", **_F32)(x)
    x = layers.Dropout(0.3, seed=seed, name="dropout1", **_F32)(x)
    features = layers.Dense(128, activation="relu", name=FEATURES_LAYER, **_F32)(x)
    x = layers.Dropout(0.3, seed=seed + 1, name="dropout2", **_F32)(features)
    logits = layers.Dense(num_classes, name="logits", **_F32)(x)
    return keras.Model(inputs, logits, name="judge")


def config_hash(config: JudgeConfig) -> str:
    """Hashes the judge config together with the architecture version."""
    return payload_digest({"config": config.resolved(), "architecture": ARCHITECTURE_VERSION})


def arrays_fingerprint(*arrays: np.ndarray) -> str:
    """Hashes arrays' shapes, dtypes and bytes; the fallback cache key when none is given."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}|{array.dtype}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class Judge:
    """A trained judge classifier with batched ``tf.function`` inference.

    Args:
        model: The Keras model built by :func:`build_judge_model` (uint8 images in, logits out).
        test_accuracy: Accuracy on the real test split it was trained against.
        metadata: Free-form JSON-ready facts written into ``judge.json`` (config, fingerprint).
    """

    def __init__(self, model: keras.Model, test_accuracy: float, metadata: dict | None = None):
        self._model = model
        self.test_accuracy = float(test_accuracy)
        self.metadata = dict(metadata or {})
        self.image_shape: tuple[int, int, int] = tuple(int(side) for side in model.input_shape[1:4])
        self.num_classes = int(model.output_shape[-1])
        embedding = keras.Model(
            model.inputs, [model.get_layer(FEATURES_LAYER).output, model.output], name="judge_embed"
        )
        signature = [tf.TensorSpec([None, *self.image_shape], tf.uint8)]
        # One traced graph for every batch size: the batch axis is left unknown.
        self._infer = tf.function(lambda x: embedding(x, training=False), input_signature=signature)
        # Content-addressed: the same real train set is scored by every quality check of a run,
        # and hashing 60k images takes ~0.1 s against seconds of inference.
        self._embed_cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    @property
    def model(self) -> keras.Model:
        """The underlying Keras model (logits output)."""
        return self._model

    @property
    def feature_dim(self) -> int:
        """Width of the penultimate-layer features."""
        return int(self._model.get_layer(FEATURES_LAYER).output.shape[-1])

    def embed(
        self, images: np.ndarray, batch_size: int = INFERENCE_BATCH, cache: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns (features (n, d), logits (n, C)) as read-only float32 arrays, in one pass.

        With ``cache`` the last few results are kept by content, so scoring the same images again
        is free; ``cache=False`` always runs the model.
        """
        images = imaging.check_images(images, error=JudgeError)
        if images.shape[1:] != self.image_shape:
            raise JudgeError(
                f"the judge was trained on {self.image_shape} images, got {images.shape[1:]}; "
                "train a judge on images of this size"
            )
        key = arrays_fingerprint(images) if cache else None
        if key in self._embed_cache:
            self._embed_cache.move_to_end(key)
            return self._embed_cache[key]
        features = np.zeros((len(images), self.feature_dim), dtype=np.float32)
        logits = np.zeros((len(images), self.num_classes), dtype=np.float32)
        started = last_report = time.perf_counter()
        for start in range(0, len(images), batch_size):
            batch_features, batch_logits = self._infer(images[start : start + batch_size])
            features[start : start + batch_size] = batch_features.numpy()
            logits[start : start + batch_size] = batch_logits.numpy()
            if time.perf_counter() - last_report >= PROGRESS_SECONDS:
                last_report = time.perf_counter()
                done = min(start + batch_size, len(images))
                logger.info(
                    "judge scored %d of %d images (%.0f img/s)", done, len(images), done / (last_report - started)
                )
        features.flags.writeable = False
        logits.flags.writeable = False
        if key is not None:
            self._embed_cache[key] = (features, logits)
            if len(self._embed_cache) > EMBED_CACHE_ENTRIES:
                self._embed_cache.popitem(last=False)
        return features, logits

    def predict_logits(self, images: np.ndarray) -> np.ndarray:
        """Returns class logits, (n, C) float32."""
        return self.embed(images)[1]

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Returns class probabilities (softmax of the logits), (n, C) float32."""
        return softmax(self.predict_logits(images))

    def features(self, images: np.ndarray) -> np.ndarray:
        """Returns penultimate-layer features, (n, d) float32."""
        return self.embed(images)[0]

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Returns the share of ``images`` whose argmax class equals ``labels``."""
        logits = self.predict_logits(images)
        labels = imaging.check_labels(labels, len(logits), self.num_classes, error=JudgeError)
        return float(np.mean(np.argmax(logits, axis=1) == labels)) if len(labels) else float("nan")

    def save(self, directory: Path) -> Path:
        """Writes ``judge.keras`` and ``judge.json`` into a new directory, atomically.

        Raises:
            FileExistsError: ``directory`` exists; judges are never overwritten.
        """
        directory = Path(directory)
        with staged_directory(directory) as staging:
            self._model.save(staging / MODEL_FILE)
            meta = {
                "format_version": FORMAT_VERSION,
                "architecture_version": ARCHITECTURE_VERSION,
                "test_accuracy": self.test_accuracy,
                "num_classes": self.num_classes,
                "image_shape": list(self.image_shape),
                "keras_version": keras.__version__,
                **self.metadata,
            }
            (staging / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return directory

    @classmethod
    def load(cls, directory: Path) -> "Judge":
        """Loads a judge written by :meth:`save`.

        Raises:
            JudgeError: files missing or written by an incompatible version.
        """
        directory = Path(directory)
        meta = read_export_meta(
            directory,
            META_FILE,
            (MODEL_FILE,),
            FORMAT_VERSION,
            JudgeError,
            "a saved judge",
            f"delete {directory} and train the judge again",
        )
        model_path = directory / MODEL_FILE
        model = keras.models.load_model(model_path, compile=False)
        known = {
            "format_version",
            "architecture_version",
            "test_accuracy",
            "num_classes",
            "image_shape",
            "keras_version",
        }
        return cls(model, meta["test_accuracy"], {k: v for k, v in meta.items() if k not in known})
