import json

import numpy as np
import pytest
import tensorflow as tf

from gan_core.config import ModelConfig, TrainConfig
from gan_core.sampling import load_generator
from gan_core.train import ConditionalGanTrainer, TrainingError, make_input_pipeline, train_gan

TINY_MODEL = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)
TINY_TRAIN = TrainConfig(epochs=1, batch_size=16, seed=3, precision="float32")


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    labels = np.arange(64, dtype=np.int64) % 10
    return images, labels


def test_training_exports_a_loadable_generator_and_logs_history(tmp_path, digits):
    result = train_gan(*digits, TINY_MODEL, TINY_TRAIN, tmp_path / "run", class_names=tuple("abcdefghij"))
    assert [row.epoch for row in result.history] == [1]
    assert result.history[0].steps == 4
    assert np.isfinite(result.history[0].discriminator_loss) and np.isfinite(result.history[0].generator_loss)
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(result.generator_hash) == 64
    generator = load_generator(result.generator_dir)
    assert generator.class_names == tuple("abcdefghij")
    assert generator.content_hash == result.generator_hash


def test_rerun_resumes_from_the_last_checkpoint_and_extends(tmp_path, digits):
    run_dir = tmp_path / "run"
    first = train_gan(*digits, TINY_MODEL, TINY_TRAIN, run_dir)
    again = train_gan(*digits, TINY_MODEL, TINY_TRAIN, run_dir)
    assert again.resumed_from_epoch == 1
    assert len(again.history) == 1  # nothing left to train
    assert again.generator_hash == first.generator_hash
    longer = train_gan(*digits, TINY_MODEL, TINY_TRAIN.model_copy(update={"epochs": 2}), run_dir)
    assert longer.resumed_from_epoch == 1
    assert [row.epoch for row in longer.history] == [1, 2]
    assert longer.generator_hash != first.generator_hash
    assert len(list((run_dir).joinpath("history.jsonl").read_text().splitlines())) == 2


def test_resumed_training_matches_uninterrupted_training(tmp_path, digits):
    tf.config.experimental.enable_op_determinism()
    try:
        two = TINY_TRAIN.model_copy(update={"epochs": 2})
        straight = train_gan(*digits, TINY_MODEL, two, tmp_path / "straight")
        train_gan(*digits, TINY_MODEL, TINY_TRAIN, tmp_path / "resumed")
        resumed = train_gan(*digits, TINY_MODEL, two, tmp_path / "resumed")
    finally:
        tf.config.experimental.disable_op_determinism() if hasattr(
            tf.config.experimental, "disable_op_determinism") else None
    assert resumed.resumed_from_epoch == 1
    assert resumed.generator_hash == straight.generator_hash


def test_a_run_dir_with_other_settings_is_refused(tmp_path, digits):
    train_gan(*digits, TINY_MODEL, TINY_TRAIN, tmp_path / "run")
    with pytest.raises(TrainingError, match="different configuration"):
        train_gan(*digits, TINY_MODEL, TINY_TRAIN.model_copy(update={"loss": "non_saturating"}), tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["loss"] == "hinge"


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((64, 28, 28), np.float32), np.zeros(64, np.int64), "uint8"),
        (np.zeros((64, 32, 32), np.uint8), np.zeros(64, np.int64), "uint8"),
        (np.zeros((64, 28, 28), np.uint8), np.zeros(63, np.int64), "labels must have shape"),
        (np.zeros((64, 28, 28), np.uint8), np.full(64, 10, np.int64), r"labels must lie in \[0, 10\)"),
        (np.zeros((8, 28, 28), np.uint8), np.zeros(8, np.int64), "batch_size 16 is larger"),
    ],
)
def test_bad_training_data_is_rejected_before_building_models(tmp_path, images, labels, message):
    with pytest.raises(TrainingError, match=message):
        train_gan(images, labels, TINY_MODEL, TINY_TRAIN, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_input_pipeline_scales_to_minus_one_one_and_drops_the_remainder(digits):
    batches = list(make_input_pipeline(*digits, batch_size=24, seed=0))
    assert len(batches) == 2
    images, labels = batches[0]
    assert images.shape == (24, 28, 28, 1) and images.dtype == tf.float32
    assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
    assert labels.dtype == tf.int32


def test_ema_generator_tracks_the_generator_by_its_decay(digits):
    images = tf.constant((digits[0][:16, ..., None] / 127.5 - 1).astype(np.float32))
    labels = tf.constant(digits[1][:16].astype(np.int32))
    copy = ConditionalGanTrainer(TINY_MODEL, TINY_TRAIN.model_copy(update={"ema_decay": 0.0}), "float32")
    copy.train_step(images, labels)
    for ema, live in zip(copy.ema_generator.get_weights(), copy.generator.get_weights()):
        np.testing.assert_array_equal(ema, live)

    averaged = ConditionalGanTrainer(TINY_MODEL, TINY_TRAIN.model_copy(update={"ema_decay": 0.999}), "float32")
    for _ in range(20):
        averaged.train_step(images, labels)
    ema_before = averaged.ema_generator.trainable_weights[0].numpy().copy()
    averaged.train_step(images, labels)
    live = averaged.generator.trainable_weights[0].numpy()
    ema = averaged.ema_generator.trainable_weights[0].numpy()
    decay = min(0.999, (1 + 20) / (10 + 20))  # warm-up schedule at step 20
    assert not np.allclose(ema, live)  # G really trains and the average lags behind it
    np.testing.assert_allclose(ema, decay * ema_before + (1 - decay) * live, rtol=1e-5, atol=1e-6)


def test_lazy_r1_penalty_runs_and_stays_finite(digits):
    config = TINY_TRAIN.model_copy(update={"r1_gamma": 1.0, "r1_interval": 2})
    trainer = ConditionalGanTrainer(TINY_MODEL, config, "float32")
    images = tf.constant((digits[0][:16, ..., None] / 127.5 - 1).astype(np.float32))
    labels = tf.constant(digits[1][:16].astype(np.int32))
    for _ in range(3):
        d_loss, g_loss = trainer.train_step(images, labels)
        assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))
    assert int(trainer.step.numpy()) == 3
