"""grappler_remapping: the setting holds inside the block and the previous one comes back."""

from __future__ import annotations

import pytest
import tensorflow as tf

from gan_core.gan.grappler import grappler_remapping


def _remapping() -> bool:
    return tf.config.optimizer.get_experimental_options().get("remapping", True)


def test_setting_holds_inside_and_is_restored_after_an_error():
    before = _remapping()
    with pytest.raises(RuntimeError):
        with grappler_remapping(enabled=not before):
            assert _remapping() is (not before)
            raise RuntimeError("boom")
    assert _remapping() is before


def test_decorated_function_runs_with_remapping_off_each_call():
    @grappler_remapping(enabled=False)
    def inside() -> bool:
        return _remapping()

    before = _remapping()
    assert inside() is False and inside() is False  # a fresh context for every call
    assert _remapping() is before
