"""Shared fixtures for gan_core tests: the bundled real sample and one trained judge per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mnist_sample():
    """The vendored 8k/2k MNIST sample as gan_core.data.LabeledSplits (uint8 images, int64 labels)."""
    from gan_core.data import load_bundled_sample

    return load_bundled_sample()


@pytest.fixture(scope="session")
def judge_cache_dir(tmp_path_factory):
    """A session-wide cache directory for trained judges."""
    return tmp_path_factory.mktemp("judge-cache")


@pytest.fixture(scope="session")
def trained_judge(mnist_sample, judge_cache_dir):
    """A judge trained once per session with the default JudgeConfig on the bundled sample."""
    from gan_core.config import JudgeConfig
    from gan_core.quality.judge_training import train_judge

    return train_judge(
        mnist_sample.train_images,
        mnist_sample.train_labels,
        mnist_sample.test_images,
        mnist_sample.test_labels,
        JudgeConfig(),
        cache_dir=judge_cache_dir,
        data_fingerprint="bundled-sample",
    )


@pytest.fixture(scope="session")
def second_judge(mnist_sample, judge_cache_dir):
    """The second judge (LeNet layout, another seed) trained once per session on the bundled sample."""
    from gan_core.config import JudgeConfig
    from gan_core.quality.judge_training import second_judge_config, train_judge

    return train_judge(
        mnist_sample.train_images,
        mnist_sample.train_labels,
        mnist_sample.test_images,
        mnist_sample.test_labels,
        second_judge_config(JudgeConfig()),
        cache_dir=judge_cache_dir,
        data_fingerprint="bundled-sample",
    )


def pytest_collection_modifyitems(items):
    """Marks every test that needs the trained judge as ``slow`` (it trains for tens of seconds)."""
    for item in items:
        if {"trained_judge", "second_judge"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
