"""quality-check then publish, through the task functions, with a tiny generator."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from prefect.client.orchestration import get_client
from prefect.logging import disable_run_logger
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from gan_core.config import JudgeConfig, ModelConfig, PublishConfig, QualityConfig
from gan_core.gan.models import build_generator
from gan_core.gan.sampling import export_generator
from tasks.publish import publish_task
from tasks.quality import quality_task

TINY = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)


def test_untrained_generator_fails_the_gate_then_publish_keeps_only_accepted(prefect_harness, small_snapshot, tmp_path):
    generator_dir = tmp_path / "generator"
    export_generator(build_generator(TINY), TINY, generator_dir)
    with disable_run_logger():
        quality = quality_task.fn(
            str(small_snapshot), str(generator_dir), JudgeConfig(epochs=1), QualityConfig(samples_per_class=10),
            str(tmp_path / "cache"), str(tmp_path / "run"), [],
        )
    assert quality.passed is False
    # Untrained output is far from real digits whatever the (one-epoch) judge makes of its labels.
    assert any(line.startswith("fid_ratio") and "> max 25.000" in line for line in quality.failures)
    assert Path(quality.report_path).exists()
    with get_client(sync_client=True) as client:
        reports = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["quality-report"])))
        tables = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["per-class-quality"])))
    assert "data:image/png;base64," in reports[0].data
    assert len(json.loads(tables[0].data)) == 10

    # Publishing honours the rejection mask: force a known mask into the samples file.
    with np.load(quality.samples_path) as stored:
        arrays = dict(stored)
    arrays["accepted"] = np.arange(len(arrays["labels"])) % 2 == 0
    np.savez(quality.samples_path, **arrays)
    with disable_run_logger():
        published = publish_task.fn(
            str(small_snapshot), quality.samples_path,
            PublishConfig(output_root=tmp_path / "out", dataset_name="t", include_real=False), "ab" * 32,
            {"generator_hash": "ab" * 32, "metrics": quality.metrics},
        )
    frame = pd.read_parquet(Path(published.version_dir) / "data")
    assert len(frame) == published.rows == 50
    assert set(frame["source"]) == {"synthetic"} and set(frame["split"]) == {"train"}
    assert frame["generator_version"].unique().tolist() == ["ab" * 8]
