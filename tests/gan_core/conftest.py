"""Shared fixtures for gan_core tests: the bundled real sample and one trained judge per session."""

from __future__ import annotations

import pytest

from tests.gan_core.tiny import OPEN_GATE, TINY_STAGE_MODEL, TINY_STAGE_TRAIN


@pytest.fixture(scope="session")
def mnist_sample():
    """The vendored 8k/2k MNIST sample as gan_core.data.LabeledSplits (uint8 images, int64 labels)."""
    from gan_core.data import load_bundled_sample

    return load_bundled_sample()


@pytest.fixture(scope="session")
def judge_cache_dir(tmp_path_factory):
    """A session-wide cache directory for trained judges."""
    return tmp_path_factory.mktemp("judge-cache")


def _judge_on_sample(mnist_sample, config, cache_dir):
    from gan_core.quality.judge_training import train_judge

    splits = mnist_sample
    return train_judge(
        splits.train_images,
        splits.train_labels,
        splits.test_images,
        splits.test_labels,
        config,
        cache_dir=cache_dir,
        data_fingerprint="bundled-sample",
    )


@pytest.fixture(scope="session")
def trained_judge(mnist_sample, judge_cache_dir):
    """A judge trained once per session with the default JudgeConfig on the bundled sample."""
    from gan_core.config import JudgeConfig

    return _judge_on_sample(mnist_sample, JudgeConfig(), judge_cache_dir)


@pytest.fixture(scope="session")
def second_judge(mnist_sample, judge_cache_dir):
    """The second judge (LeNet layout, another seed) trained once per session on the bundled sample."""
    from gan_core.config import JudgeConfig
    from gan_core.quality.judge_training import second_judge_config

    return _judge_on_sample(mnist_sample, second_judge_config(JudgeConfig()), judge_cache_dir)


def pytest_collection_modifyitems(items):
    """Marks every test that needs the trained judge as ``slow`` (it trains for tens of seconds)."""
    for item in items:
        if {"trained_judge", "second_judge"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# One tiny chain of the stage step functions, shared by the tests/gan_core/*/test_stage.py files:
# each stage runs once per session on the bundled sample, called directly (no Prefect).


@pytest.fixture(scope="session")
def stage_logger():
    import logging

    return logging.getLogger("tests.stage")


@pytest.fixture(scope="session")
def ingested(tmp_path_factory, stage_logger):
    """(IngestOutcome, cache root) of a 200-image stratified subset of the bundled sample."""
    from gan_core.config import DataConfig
    from gan_core.data.stage import ingest_stage

    cache_root = tmp_path_factory.mktemp("stage-cache")
    return ingest_stage(DataConfig(source="sample", real_labeled_limit=200), cache_root, stage_logger), cache_root


@pytest.fixture(scope="session")
def trained(ingested, tmp_path_factory, stage_logger):
    """TrainOutcome of four generator steps of a tiny GAN on that snapshot."""
    from gan_core.config import ModelConfig, TrainConfig
    from gan_core.gan.stage import train_stage

    runs_root = tmp_path_factory.mktemp("stage-runs")
    return train_stage(
        ingested[0].snapshot_dir,
        ModelConfig(**TINY_STAGE_MODEL),
        TrainConfig(**TINY_STAGE_TRAIN),
        str(runs_root),
        stage_logger,
    )


@pytest.fixture(scope="session")
def checked(ingested, trained, stage_logger):
    """QualityOutcome of that generator with every gate check switched off (it passes)."""
    from gan_core.config import GateThresholds, JudgeConfig, QualityConfig
    from gan_core.quality.stage import quality_stage

    outcome, cache_root = ingested
    config = QualityConfig(samples_per_class=5, gate=GateThresholds(**OPEN_GATE), second_judge=False)
    return quality_stage(
        outcome.snapshot_dir,
        trained.generator_dir,
        JudgeConfig(epochs=1),
        config,
        str(cache_root),
        trained.run_dir,
        trained.history,
        stage_logger,
    )


@pytest.fixture(scope="session")
def rgb_ingested(tmp_path_factory, stage_logger):
    """(IngestOutcome, cache root) of a tiny RGB 32x32 class folder (3 classes, a seeded test split)."""
    from gan_core.config import DataConfig
    from gan_core.data.stage import ingest_stage
    from tests.image_folders import write_class_folders

    root = write_class_folders(tmp_path_factory.mktemp("rgb-folder") / "parts", ("bolt", "nut", "washer"), 40, 32, 3)
    cache_root = tmp_path_factory.mktemp("rgb-cache")
    return ingest_stage(DataConfig(source=f"folder:{root}"), cache_root, stage_logger), cache_root


@pytest.fixture(scope="session")
def rgb_trained(rgb_ingested, tmp_path_factory, stage_logger):
    """TrainOutcome of four generator steps of a tiny GAN on the RGB folder."""
    from gan_core.config import ModelConfig, TrainConfig
    from gan_core.gan.stage import train_stage

    return train_stage(
        rgb_ingested[0].snapshot_dir,
        ModelConfig(**TINY_STAGE_MODEL),
        TrainConfig(**TINY_STAGE_TRAIN),
        str(tmp_path_factory.mktemp("rgb-runs")),
        stage_logger,
    )
