"""Downstream consumer: train a small Keras classifier on the latest published dataset version.

This is how a training pipeline picks up what the ``augment`` flow publishes:

    python examples/train_classifier.py outputs/datasets/mnist-augmented --epochs 3

The dataset directory's ``LATEST`` file is resolved once, at start, to a version directory
(``v0007``), and everything after reads that directory only, so a publish that lands mid-training
does not change the data under the model. The summary printed at the end (JSON) names the
version, so the result can be traced back to its manifest. Pass ``--version 3`` to pin one.

Evaluation uses the published real ``test`` split when the version has one (the flow was run
with ``include_real``), otherwise the bundled MNIST sample's 2k test images.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402 - after the TF log level is set
import tensorflow as tf  # noqa: E402

from gan_core import data, publish  # noqa: E402
from gan_core.publish import loader
from gan_core.publish.manifest import image_shape  # noqa: E402

logger = logging.getLogger("train_classifier")

BUNDLED_TEST = "bundled-sample:test"
PUBLISHED_TEST = "published:test"


def resolve(dataset: Path, version: str = "latest") -> Path:
    """Returns the version directory to train on: ``dataset`` itself if it is one, else its LATEST (or ``version``)."""
    dataset = Path(dataset)
    if (dataset / publish.MANIFEST_FILE).is_file():
        return dataset
    return publish.resolve_version(dataset, version)


def build_model(num_classes: int, seed: int, image_shape: Sequence[int] = (28, 28, 1)):
    """A small CNN for (H, W, C) images in [0, 1]: two conv blocks and a dense head, logits out."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=tuple(image_shape)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(128, activation="relu"),
            layers.Dense(num_classes),
        ],
        name="downstream_classifier",
    )


def _evaluation_data(version_dir: Path, manifest: dict, batch_size: int):
    """The real test set: the version's own if published, else the bundled sample's."""
    if manifest["rows_per_split_source"].get("test", {}).get("real", 0) > 0:
        dataset = loader.make_dataset(version_dir, "test", batch_size=batch_size, shuffle=False, sources=("real",))
        return dataset, PUBLISHED_TEST, manifest["rows_per_split_source"]["test"]["real"]
    sample = data.load_bundled_sample()
    if list(sample.class_names) != list(manifest["class_names"]):
        raise ValueError(
            f"{version_dir} has classes {manifest['class_names']} and no real test split, and the bundled "
            f"sample's classes {list(sample.class_names)} differ; publish with include_real=True to get a test split"
        )
    images = sample.test_images.astype("float32") / 255.0
    dataset = tf.data.Dataset.from_tensor_slices((images, sample.test_labels)).batch(batch_size)
    return dataset, BUNDLED_TEST, len(sample.test_labels)


def train_classifier(
    dataset: Path,
    version: str = "latest",
    epochs: int = 3,
    batch_size: int = 128,
    sources: Sequence[str] = ("real", "synthetic"),
    min_confidence: float | None = None,
    seed: int = 0,
    save_to: Path | None = None,
    real_share: float | None = None,
) -> dict:
    """Trains on the train split of a published version and evaluates on real test images.

    Args:
        dataset: ``<output_root>/<dataset_name>`` (its LATEST is used) or a version directory.
        version: "latest" or a version number/name, when ``dataset`` is a dataset directory.
        epochs: Passes over the train split.
        batch_size: Examples per batch.
        sources: Train rows to use: "real", "synthetic" or both.
        min_confidence: Drop synthetic rows whose judge confidence is below this.
        seed: Seed for shuffling and weights.
        save_to: If set, the trained model is saved there (a ``.keras`` file).
        real_share: If set, every batch draws real rows with this probability (0.5 is what the
            utility benchmark mixes at); an epoch is still ``train_rows / batch_size`` steps.

    Returns:
        A JSON-ready summary: the version trained on, row counts, accuracies, timing.

    Raises:
        FileNotFoundError: Nothing is published at ``dataset``.
        ValueError: A bad argument, or a version with no train rows for ``sources``.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    started = time.perf_counter()
    version_dir = resolve(dataset, version)
    manifest = publish.read_manifest(version_dir)
    train_rows = sum(manifest["rows_per_split_source"].get("train", {}).get(s, 0) for s in sources)
    if train_rows == 0:
        raise ValueError(
            f"{version_dir} has no train rows from sources {list(sources)} "
            f"(it has {manifest['rows_per_split_source']}); choose other sources or another version"
        )
    logger.info("training on %s (%s): %d train rows from %s", version_dir, manifest["version_name"], train_rows, list(sources))

    train = loader.make_dataset(
        version_dir, "train", batch_size=batch_size, shuffle=True, seed=seed,
        sources=sources, min_confidence=min_confidence, real_share=real_share, repeat=real_share is not None,
    )
    # A mixed dataset repeats forever, so an epoch is sized here; otherwise it is one pass.
    steps_per_epoch = math.ceil(train_rows / batch_size) if real_share is not None else None
    evaluation, evaluated_on, eval_rows = _evaluation_data(version_dir, manifest, batch_size)

    model = build_model(len(manifest["class_names"]), seed, image_shape(manifest))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # The loader already shuffles (rows and shard order, per epoch); Keras cannot shuffle a Dataset.
    history = model.fit(
        train, epochs=epochs, steps_per_epoch=steps_per_epoch, shuffle=False, verbose=0, callbacks=[EpochLog()]
    )
    _, test_accuracy = model.evaluate(evaluation, verbose=0)
    if save_to is not None:
        Path(save_to).parent.mkdir(parents=True, exist_ok=True)
        model.save(save_to)
    summary = {
        "dataset_name": manifest["dataset_name"],
        "version": manifest["version"],
        "version_dir": str(Path(version_dir).resolve()),
        "sources": list(sources),
        "min_confidence": min_confidence,
        "real_share": real_share,
        "train_rows": train_rows if min_confidence is None else None,
        "epochs": epochs,
        "train_accuracy": round(float(history.history["accuracy"][-1]), 4),
        "evaluated_on": evaluated_on,
        "test_rows": int(eval_rows),
        "test_accuracy": round(float(test_accuracy), 4),
        "saved_model": str(save_to) if save_to is not None else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    logger.info("test accuracy %.4f on %d images (%s)", summary["test_accuracy"], eval_rows, evaluated_on)
    return summary


class EpochLog(keras.callbacks.Callback):
    """Logs loss and accuracy after each epoch (fit runs with verbose=0)."""

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        logger.info("epoch %d: loss %.4f, accuracy %.4f", epoch + 1, logs.get("loss", float("nan")), logs.get("accuracy", float("nan")))


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dataset", nargs="?", type=Path, default=Path("outputs/datasets/mnist-augmented"),
        help="dataset directory (its LATEST is used) or a version directory (default: %(default)s)",
    )
    parser.add_argument("--version", default="latest", help="'latest' or a version number such as 3 (default: latest)")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default: %(default)s)")
    parser.add_argument(
        "--sources", default="real,synthetic",
        help="comma-separated train rows to use: real, synthetic (default: %(default)s)",
    )
    parser.add_argument("--min-confidence", type=float, default=None, help="drop synthetic rows below this judge confidence")
    parser.add_argument(
        "--real-share", type=float, default=None,
        help="draw real rows with this probability per example, e.g. 0.5 (needs a version published with include_real)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    parser.add_argument("--save", type=Path, default=None, help="save the trained model to this .keras file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the example; prints the JSON summary on stdout. Returns 0, or 2 on bad input."""
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    try:
        summary = train_classifier(
            arguments.dataset, version=arguments.version, epochs=arguments.epochs, batch_size=arguments.batch_size,
            sources=tuple(s.strip() for s in arguments.sources.split(",") if s.strip()),
            min_confidence=arguments.min_confidence, seed=arguments.seed, save_to=arguments.save,
            real_share=arguments.real_share,
        )
    except (FileNotFoundError, ValueError, publish.PublishError) as error:
        print(f"train_classifier: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
