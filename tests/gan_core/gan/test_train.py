import json

import numpy as np
import pytest
import tensorflow as tf

from gan_core.config import ModelConfig, TrainConfig
from gan_core.gan.sampling import load_generator
from gan_core.gan.batches import make_training_batches
from gan_core.gan.train import TrainingError, train_gan
from gan_core.gan.trainer import ConditionalGanTrainer, LinearDecay

TINY_MODEL = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)
TINY_TRAIN = TrainConfig(
    steps=4, batch_size=16, seed=3, precision="float32", log_every=2, checkpoint_every=4, diffaugment="translation"
)


def test_training_exports_a_loadable_generator_and_logs_history(tmp_path, digits):
    result = train_gan(*digits, TINY_MODEL, TINY_TRAIN, tmp_path / "run", class_names=tuple("abcdefghij"))
    assert [row.step for row in result.history] == [2, 4]
    assert [row.interval_steps for row in result.history] == [2, 2]
    assert result.train_seconds == result.history[-1].elapsed_seconds > 0
    # 4 steps of 16 images over the whole run, checkpoints included.
    assert result.images_per_second == pytest.approx(4 * 16 / result.train_seconds)
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
    assert again.resumed_from_step == 4
    assert [row.step for row in again.history] == [2, 4]  # nothing left to train
    assert again.generator_hash == first.generator_hash
    longer = train_gan(*digits, TINY_MODEL, TINY_TRAIN.model_copy(update={"steps": 8}), run_dir)
    assert longer.resumed_from_step == 4
    assert [row.step for row in longer.history] == [2, 4, 6, 8]
    assert longer.generator_hash != first.generator_hash
    assert len(list((run_dir).joinpath("history.jsonl").read_text().splitlines())) == 4


def test_resumed_training_matches_uninterrupted_training(tmp_path, digits):
    tf.config.experimental.enable_op_determinism()
    try:
        # 6 steps over 64 images at batch 16 cross a pass boundary (4 batches per pass), and the
        # resume point (step 3) sits mid-pass, so the data order must be rebuilt exactly.
        six = TINY_TRAIN.model_copy(update={"steps": 6, "checkpoint_every": 3})
        straight = train_gan(*digits, TINY_MODEL, six, tmp_path / "straight")
        train_gan(*digits, TINY_MODEL, six.model_copy(update={"steps": 3}), tmp_path / "resumed")
        resumed = train_gan(*digits, TINY_MODEL, six, tmp_path / "resumed")
    finally:
        tf.config.experimental.disable_op_determinism() if hasattr(
            tf.config.experimental, "disable_op_determinism"
        ) else None
    assert resumed.resumed_from_step == 3
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
        (np.zeros((64, 32, 32), np.uint8), np.zeros(64, np.int64), "must be 28x28"),
        (np.zeros((64, 28, 28, 3), np.uint8), np.zeros(64, np.int64), "must have 1 channel"),
        (np.zeros((64, 28, 28), np.uint8), np.zeros(63, np.int64), "labels must be an integer array of shape"),
        (np.zeros((64, 28, 28), np.uint8), np.full(64, 10, np.int64), r"labels must lie in \[0, 9\]"),
        (np.zeros((8, 28, 28), np.uint8), np.zeros(8, np.int64), "draws 16 real images .* only 8"),
    ],
)
def test_bad_training_data_is_rejected_before_building_models(tmp_path, images, labels, message):
    with pytest.raises(TrainingError, match=message):
        train_gan(images, labels, TINY_MODEL, TINY_TRAIN, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_linear_decay_holds_then_falls_to_zero():
    schedule = LinearDecay(1e-3, total_steps=100)
    assert float(schedule(0)) == pytest.approx(1e-3) and float(schedule(50)) == pytest.approx(1e-3)
    assert float(schedule(75)) == pytest.approx(5e-4) and float(schedule(100)) == pytest.approx(0.0)


@pytest.mark.parametrize("arch", ["cbn", "resnet"])
def test_conditional_batchnorm_generators_train_with_every_regulariser(tmp_path, digits, arch):
    model = TINY_MODEL.model_copy(update={"generator_arch": arch})
    config = TINY_TRAIN.model_copy(
        update={
            "discriminator_steps": 2,
            "lecam_weight": 0.3,
            "mode_seeking_weight": 1.0,
            "lr_decay": "linear",
            "ema_start": 2,
            "diffaugment": "translation,cutout",
        }
    )
    result = train_gan(*digits, model, config, tmp_path / "run")
    assert all(np.isfinite(row.discriminator_loss) and np.isfinite(row.generator_loss) for row in result.history)
    samples, labels = load_generator(result.generator_dir).generate_per_class(2, seed=0)
    assert samples.shape == (20, 28, 28, 1) and samples.dtype == np.uint8


def test_two_discriminator_steps_draw_two_batches_per_step(digits):
    config = TINY_TRAIN.model_copy(update={"discriminator_steps": 2})
    trainer = ConditionalGanTrainer(TINY_MODEL, config, "float32")
    images, labels = next(iter(make_training_batches(*digits, batch_size=32, seed=0)))
    trainer.train_step(images, labels)
    assert int(trainer.discriminator_optimizer.iterations.numpy()) == 2
    assert int(trainer.generator_optimizer.iterations.numpy()) == 1


def test_lecam_averages_follow_the_discriminator_outputs(digits):
    trainer = ConditionalGanTrainer(TINY_MODEL, TINY_TRAIN.model_copy(update={"lecam_weight": 0.3}), "float32")
    images, labels = next(iter(make_training_batches(*digits, batch_size=16, seed=0)))
    trainer.train_step(images, labels)
    assert float(trainer.lecam_real.numpy()) != 0.0 and float(trainer.lecam_fake.numpy()) != 0.0


def test_ema_is_a_copy_of_the_generator_before_ema_start(digits):
    trainer = ConditionalGanTrainer(TINY_MODEL, TINY_TRAIN.model_copy(update={"ema_start": 5}), "float32")
    images, labels = next(iter(make_training_batches(*digits, batch_size=16, seed=0)))
    for _ in range(3):
        trainer.train_step(images, labels)
    for ema, live in zip(trainer.ema_generator.get_weights(), trainer.generator.get_weights()):
        np.testing.assert_array_equal(ema, live)


def test_ema_generator_tracks_the_generator_by_its_decay(digits):
    images = tf.constant((digits[0][:16] / 127.5 - 1).astype(np.float32))
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
    images = tf.constant((digits[0][:16] / 127.5 - 1).astype(np.float32))
    labels = tf.constant(digits[1][:16].astype(np.int32))
    for _ in range(3):
        d_loss, g_loss = trainer.train_step(images, labels)
        assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))
    assert int(trainer.step.numpy()) == 3


def test_train_gan_records_the_diffaugment_policy_auto_resolved_to(digits, tmp_path):
    config = TINY_TRAIN.model_copy(update={"diffaugment": "auto", "steps": 2, "checkpoint_every": 2})
    result = train_gan(*digits, TINY_MODEL, config, tmp_path / "run")
    recorded = json.loads((result.run_dir / "config.json").read_text())
    assert recorded["train"]["diffaugment"] == "translation"  # 64 images: a small set


def test_a_time_budget_stops_with_a_final_checkpoint_and_resumes_with_a_larger_one(tmp_path, digits):
    # Tracing the first step alone outlasts 0.5 s, so the budget, not the step cap, ends the run.
    budget = TINY_TRAIN.model_copy(update={"steps": 100_000, "checkpoint_every": 100_000, "time_budget_seconds": 0.5})
    first = train_gan(*digits, TINY_MODEL, budget, tmp_path / "run")
    assert 1 <= first.steps < 100_000 and first.history[-1].step == first.steps
    assert first.train_seconds >= 0.5
    assert json.loads((first.generator_dir / "config.json").read_text())["steps"] == first.steps
    # The budget counts the run's whole training time: the same budget again trains nothing more.
    again = train_gan(*digits, TINY_MODEL, budget, tmp_path / "run")
    assert again.resumed_from_step == first.steps == again.steps
    assert again.generator_hash == first.generator_hash
    # A larger budget resumes from the final checkpoint.
    longer = budget.model_copy(update={"time_budget_seconds": first.train_seconds + 2.0})
    extended = train_gan(*digits, TINY_MODEL, longer, tmp_path / "run")
    assert extended.resumed_from_step == first.steps < extended.steps
