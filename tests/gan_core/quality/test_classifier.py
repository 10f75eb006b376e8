"""The reference downstream classifier: it learns, augments only in training, refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest

from gan_core.quality import classifier
from gan_core.quality.classifier import ClassifierError


def test_training_steps_has_a_floor_for_small_sets():
    assert classifier.training_steps(100, epochs=20, batch_size=128, min_steps=600) == 600
    assert classifier.training_steps(8000, epochs=20, batch_size=128, min_steps=600) == 20 * 63
    assert classifier.training_steps(129, epochs=0, batch_size=128, min_steps=7) == 7


@pytest.mark.slow  # 120 training steps
def test_classifier_learns_a_1k_subset_well_above_chance(mnist_sample):
    from gan_core.data import stratified_subset

    images, labels = stratified_subset(mnist_sample.train_images, mnist_sample.train_labels, 1000, seed=0)
    model = classifier.train_classifier(images, labels, 10, epochs=0, batch_size=64, seed=0, min_steps=120)
    accuracy = classifier.evaluate(model, mnist_sample.test_images, mnist_sample.test_labels)
    assert accuracy > 0.75  # chance is 0.10; about 0.9 after these 120 steps
    assert accuracy == pytest.approx(
        classifier.evaluate(model, mnist_sample.test_images, mnist_sample.test_labels)
    )  # evaluation is deterministic: no augmentation or dropout outside training


def test_classic_augmentation_changes_inputs_only_in_training(mnist_sample):
    import keras

    images = mnist_sample.train_images[:16]
    model = classifier.build_classifier((28, 28, 1), 10, augment=True, seed=3)
    stage = keras.Model(model.input, model.get_layer(classifier.AUGMENT_LAYERS[-1]).output)
    plain = images.astype(np.float32) / 255.0

    inference = np.asarray(stage(images, training=False))
    np.testing.assert_allclose(inference, plain, atol=1e-6)  # identity at evaluation
    trained = np.asarray(stage(images, training=True))
    assert trained.shape == plain.shape
    moved = np.abs(trained - plain).reshape(len(images), -1).max(axis=1)
    assert (moved > 0.1).mean() >= 0.5  # most digits were shifted or rotated
    assert np.allclose(trained.sum(axis=(1, 2, 3)), plain.sum(axis=(1, 2, 3)), rtol=0.35)  # still the digit

    without = classifier.build_classifier((28, 28, 1), 10, augment=False)
    names = {layer.name for layer in without.layers}
    assert not names & set(classifier.AUGMENT_LAYERS)
    assert set(classifier.AUGMENT_LAYERS) <= {layer.name for layer in model.layers}


def test_architecture_differs_from_the_judge():
    from gan_core.quality.judge import build_judge_model

    ours = {type(layer).__name__ for layer in classifier.build_classifier((28, 28, 1), 10, augment=False).layers}
    judge = {type(layer).__name__ for layer in build_judge_model((28, 28, 1), 10, augment=False).layers}
    assert "AveragePooling2D" in ours and "MaxPooling2D" not in ours and "BatchNormalization" not in ours
    assert "MaxPooling2D" in judge and "BatchNormalization" in judge


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"labels": np.full(8, 10)}, "outside 0..9"),
        ({"images": np.zeros((8, 28, 28), np.float32)}, "uint8"),
        ({"labels": np.zeros(7, np.int64)}, "shape"),
        ({"epochs": 0, "min_steps": 0}, "nothing would be trained"),
        ({"batch_size": 0}, "batch_size"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_bad_training_input_is_refused(kwargs, message):
    arguments = {"images": np.zeros((8, 28, 28), np.uint8), "labels": np.zeros(8, np.int64), "num_classes": 10}
    arguments.update(kwargs)
    with pytest.raises(ClassifierError, match=message):
        classifier.train_classifier(**arguments)


def test_evaluate_refuses_an_empty_test_set():
    model = classifier.build_classifier((28, 28, 1), 10, augment=False)
    with pytest.raises(ClassifierError, match="empty"):
        classifier.evaluate(model, np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64))
