from pathlib import Path

import pytest

from gan_core import data
from gan_core.config import DataConfig


@pytest.fixture(scope="module")
def small_snapshot(tmp_path_factory) -> Path:
    """A 256-image stratified snapshot of the bundled sample."""
    root = tmp_path_factory.mktemp("cache")
    return data.ingest(DataConfig(source="sample", real_labeled_limit=256), root).path
