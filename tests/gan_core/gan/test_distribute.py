"""Data-parallel training (MirroredStrategy) checked for correctness on two logical CPUs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from gan_core.config import ModelConfig, TrainConfig
from gan_core.gan.distribute import DistributeError, check_global_batch, resolve_strategy
from gan_core.gan.trainer import ConditionalGanTrainer

WORKER = Path(__file__).with_name("distributed_worker.py")


def test_one_device_uses_the_default_strategy_unchanged():
    # This machine has no GPU: training must not wrap itself in a strategy.
    strategy = resolve_strategy()
    assert strategy is tf.distribute.get_strategy() and strategy.num_replicas_in_sync == 1
    assert resolve_strategy(["/cpu:0"]).num_replicas_in_sync == 1
    trainer = ConditionalGanTrainer(ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8),
                                    TrainConfig(batch_size=8, diffaugment="translation"), "float32")
    assert trainer.replicas == 1
    dataset = tf.data.Dataset.range(3)
    assert trainer.distribute(dataset) is dataset


def test_a_batch_that_does_not_split_over_the_replicas_is_refused():
    check_global_batch(7, tf.distribute.get_strategy())  # one replica takes any batch
    # Only the replica count matters here; the real two-replica run is the test below.
    two_replicas = type("TwoReplicas", (), {"num_replicas_in_sync": 2})()
    with pytest.raises(DistributeError, match="batch_size 7 does not split evenly over 2 replicas: use a multiple of 2"):
        check_global_batch(7, two_replicas)
    check_global_batch(8, two_replicas)


@pytest.mark.slow  # a fresh TensorFlow process with two logical CPUs; ~30 s
def test_two_replicas_train_resume_and_stay_mirrored(tmp_path):
    done = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path / "run")], capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["replicas"] == 2
    # Replica gradients are summed, so each replica's loss is scaled to 1/2 of the global mean.
    assert report["scaled_loss_summed_over_replicas"] == pytest.approx(3.0)
    assert all(abs(loss) < 1e3 for loss in report["first_losses"])
    assert report["resumed_from_step"] == 2 and report["logged_steps"] == [2, 4]
    assert report["step"] == 4  # 2 + 2 global steps, counted once, not once per replica
    assert report["replicas_agree"] == {
        "generator": True, "discriminator": True, "ema_generator": True, "optimizers": True,
    }
    assert report["generator_changed"]
    assert report["samples"] == [[20, 28, 28, 1], "uint8", [label for label in range(10) for _ in range(2)]]
    assert "does not split evenly over 2 replicas" in report["odd_batch_error"]
