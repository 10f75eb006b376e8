"""Training under faults: NaN injected into the weights, an absurd learning rate, a full disk.

Each runs the real training loop on a tiny model; faults come from ``GAN_AUGMENT_FAULT`` (see
``gan_core.io.faults``) or from a real, full tmpfs.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gan_core.config import ModelConfig, TrainConfig
from gan_core.io import faults

TINY = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)


def _config(**overrides) -> TrainConfig:
    settings = dict(steps=12, batch_size=16, checkpoint_every=4, log_every=2, checkpoint_keep=10, diffaugment="")
    return TrainConfig(**{**settings, **overrides})


@pytest.fixture
def data(mnist_sample):
    return mnist_sample.train_images[:256], mnist_sample.train_labels[:256]


@pytest.fixture(autouse=True)
def fresh_fault_counts():
    faults.reset_arrivals()
    yield
    faults.reset_arrivals()


def _checkpoints_finite(run_dir: Path) -> list[int]:
    """Loads every checkpoint left in ``run_dir`` and asserts all its float values are finite."""
    import tensorflow as tf

    steps = []
    for index in sorted((run_dir / "checkpoints").glob("ckpt-*.index")):
        prefix = str(index)[: -len(".index")]
        reader = tf.train.load_checkpoint(prefix)
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype.is_floating:
                assert np.all(np.isfinite(reader.get_tensor(name))), f"{prefix} holds a non-finite {name}"
        steps.append(int(prefix.rsplit("-", 1)[1]))
    return sorted(steps)


def test_nan_in_weights_rolls_back_and_retries_with_lower_learning_rate(tmp_path, data, monkeypatch, caplog):
    from gan_core.gan.train import train_gan

    monkeypatch.setenv(faults.ENV, "train.step=nan@6")  # poisons G after step 6; checked at step 6
    result = train_gan(*data, TINY, _config(), tmp_path / "run")
    assert "rolled back to step 4" in caplog.text
    assert (tmp_path / "run" / "divergence.json").exists()
    assert _checkpoints_finite(tmp_path / "run") == [4, 8, 12]
    assert [row.step for row in result.history] == [2, 4, 6, 8, 10, 12]
    assert all(np.isfinite(row.generator_loss) for row in result.history)


def test_absurd_learning_rate_fails_clearly_and_exports_nothing(tmp_path, data):
    from gan_core.gan.train import TrainingError, train_gan

    # The config refuses such a rate from users; the loop must still survive one.
    with pytest.raises(ValueError, match="generator_lr"):
        TrainConfig(generator_lr=1e6)
    absurd = _config().model_copy(update={"generator_lr": 1e30, "discriminator_lr": 1e30})
    with pytest.raises(TrainingError, match="training diverged again .* after rolling back"):
        train_gan(*data, TINY, absurd, tmp_path / "run")
    assert not (tmp_path / "run" / "generator").exists()
    _checkpoints_finite(tmp_path / "run")


def test_disk_full_at_checkpoint_keeps_the_previous_one_and_resumes(tmp_path, data, monkeypatch):
    from gan_core.gan.train import TrainingError, train_gan

    monkeypatch.setenv(faults.ENV, "train.checkpoint_write=enospc@2")
    with pytest.raises(TrainingError, match="the disk is full: could not write the checkpoint for step 8") as info:
        train_gan(*data, TINY, _config(), tmp_path / "run")
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert _checkpoints_finite(tmp_path / "run") == [4]
    monkeypatch.delenv(faults.ENV)
    result = train_gan(*data, TINY, _config(), tmp_path / "run")
    assert result.resumed_from_step == 4


def _mount_tmpfs(target: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    target.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True)
    return done.returncode == 0


def test_disk_full_on_a_real_tmpfs(tmp_path, data):
    """A real 4 MB tmpfs, filled up after the first checkpoint: the run stops with a clear error."""
    from gan_core.gan.train import TrainingError, train_gan

    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("needs root and tmpfs to mount a small real disk (the fault-hook test above covers ENOSPC)")
    try:

        def fill(step, trainer):
            if step == 4:  # after the first checkpoint, take every byte left
                with open(disk / "filler", "wb") as handle:
                    try:
                        while True:
                            handle.write(b"\0" * 65536)
                            handle.flush()
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC

        with pytest.raises((TrainingError, OSError)) as info:
            train_gan(*data, TINY, _config(), disk / "run", on_checkpoint=fill)
        message = str(info.value)
        assert "disk is full" in message or "No space left" in message
        assert _checkpoints_finite(disk / "run")[0] == 4
        (disk / "filler").unlink()
        result = train_gan(*data, TINY, _config(), disk / "run")
        assert result.resumed_from_step >= 4
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
