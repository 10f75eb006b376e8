import logging

import keras
import numpy as np
import pytest

from gan_core.config import JudgeConfig
from gan_core.quality.judge import (
    FEATURES_LAYER,
    Judge,
    JudgeError,
    build_judge_model,
)
from gan_core.quality.judge_training import cache_key, train_judge
from gan_core.quality.metrics import softmax

TINY = JudgeConfig(epochs=1, batch_size=64, augment=False, seed=3)


def test_default_judge_reaches_98_percent_on_the_sample(trained_judge, mnist_sample):
    assert trained_judge.test_accuracy >= 0.98
    # test_accuracy is what the model really scores, not a stale number from training logs.
    assert trained_judge.accuracy(mnist_sample.test_images, mnist_sample.test_labels) == pytest.approx(
        trained_judge.test_accuracy
    )
    assert trained_judge.metadata["config"] == JudgeConfig().resolved()


def test_outputs_have_documented_shapes_and_agree(trained_judge, mnist_sample):
    images = mnist_sample.test_images[:300]
    logits = trained_judge.predict_logits(images)
    probabilities = trained_judge.predict_proba(images)
    features = trained_judge.features(images)
    assert logits.shape == (300, 10) and logits.dtype == np.float32
    assert features.shape == (300, trained_judge.feature_dim) and features.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probabilities, softmax(logits), rtol=1e-5)
    # Batching is an implementation detail: odd batch sizes give the same numbers.
    small_features, small_logits = trained_judge.embed(images, batch_size=7, cache=False)
    np.testing.assert_allclose(small_logits, logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(small_features, features, rtol=1e-4, atol=1e-4)
    # Grayscale without a channel axis is accepted as (N, H, W, 1).
    np.testing.assert_allclose(trained_judge.predict_logits(images[..., 0]), logits, atol=1e-5)


def test_embeddings_are_cached_by_content_and_read_only(trained_judge, mnist_sample):
    images = mnist_sample.test_images[:100]
    first = trained_judge.embed(images)
    again = trained_judge.embed(images.copy())  # equal bytes, another array
    assert again[0] is first[0] and again[1] is first[1]
    with pytest.raises(ValueError, match="read-only"):
        first[0][0, 0] = 1.0
    other = trained_judge.embed(mnist_sample.test_images[100:200])
    assert not np.array_equal(other[1], first[1])


def test_cache_hit_loads_the_same_judge(trained_judge, mnist_sample, judge_cache_dir, caplog):
    with caplog.at_level(logging.INFO, logger="gan_core.quality.judge"):
        again = train_judge(
            mnist_sample.train_images, mnist_sample.train_labels,
            mnist_sample.test_images, mnist_sample.test_labels,
            JudgeConfig(), cache_dir=judge_cache_dir, data_fingerprint="bundled-sample",
        )
    assert "cache hit" in caplog.text
    assert "judge epoch" not in caplog.text
    assert again.test_accuracy == trained_judge.test_accuracy
    images = mnist_sample.test_images[:64]
    np.testing.assert_allclose(again.predict_logits(images), trained_judge.predict_logits(images), atol=1e-5)
    cached = judge_cache_dir / f"judge-{cache_key('bundled-sample', JudgeConfig())}"
    assert sorted(p.name for p in cached.iterdir()) == ["judge.json", "judge.keras"]


def test_cache_key_depends_on_data_and_config():
    base = cache_key("a", JudgeConfig())
    assert cache_key("b", JudgeConfig()) != base
    assert cache_key("a", JudgeConfig(seed=1)) != base
    assert cache_key("a", JudgeConfig()) == base


def test_save_and_load_round_trip_and_never_overwrite(trained_judge, mnist_sample, tmp_path):
    target = tmp_path / "judge"
    trained_judge.save(target)
    loaded = Judge.load(target)
    images = mnist_sample.test_images[:50]
    np.testing.assert_allclose(loaded.features(images), trained_judge.features(images), atol=1e-5)
    assert loaded.test_accuracy == trained_judge.test_accuracy
    with pytest.raises(FileExistsError):
        trained_judge.save(target)


def test_load_rejects_a_directory_that_is_not_a_judge(tmp_path):
    with pytest.raises(JudgeError, match="not a saved judge"):
        Judge.load(tmp_path)


def test_tiny_training_is_seeded_and_caches_by_array_hash(mnist_sample, tmp_path, caplog):
    args = (mnist_sample.train_images[:128], mnist_sample.train_labels[:128],
            mnist_sample.test_images[:64], mnist_sample.test_labels[:64])
    first = train_judge(*args, TINY, cache_dir=tmp_path)
    second = train_judge(*args, TINY)
    images = mnist_sample.test_images[:32]
    np.testing.assert_allclose(first.predict_logits(images), second.predict_logits(images), atol=1e-4)
    # Without a fingerprint the arrays' hash names the cache entry, so the same arrays hit it.
    with caplog.at_level(logging.INFO, logger="gan_core.quality.judge"):
        third = train_judge(*args, TINY, cache_dir=tmp_path)
    assert "cache hit" in caplog.text
    assert len(list(tmp_path.glob("judge-*"))) == 1
    np.testing.assert_allclose(third.predict_logits(images), first.predict_logits(images), atol=1e-5)


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (np.zeros((4, 28, 28), np.float32), np.zeros(4, np.int64), "uint8"),
        (np.zeros((4, 784), np.uint8), np.zeros(4, np.int64), r"\(N, H, W, C\)"),
        (np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.int64), "shape"),
        (np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 2, 10]), "outside 0..9"),
        (np.zeros((4, 28, 28), np.uint8), np.array([0.0, 1.0, 2.0, 3.0]), "integer"),
    ],
)
def test_train_judge_rejects_bad_input(mnist_sample, images, labels, match):
    with pytest.raises(JudgeError, match=match):
        train_judge(images, labels, mnist_sample.test_images, mnist_sample.test_labels, TINY, num_classes=10)


def test_judge_rejects_images_of_another_size(trained_judge):
    with pytest.raises(JudgeError, match="trained on"):
        trained_judge.features(np.zeros((2, 32, 32), np.uint8))


def test_judge_stays_float32_under_a_global_mixed_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_judge_model((28, 28, 1), 10, augment=True)
    finally:
        keras.config.set_dtype_policy(previous)
    assert all(layer.compute_dtype == "float32" for layer in model.layers[1:])
    assert model.get_layer(FEATURES_LAYER).output.dtype == "float32"
