"""quality-check then publish, through the task functions, with a tiny generator."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from prefect.client.orchestration import get_client
from prefect.logging import disable_run_logger
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from gan_core.config import GateThresholds, JudgeConfig, ModelConfig, PublishConfig, QualityConfig
from gan_core.gan.models import build_generator
from gan_core.gan.sampling import export_generator
from gan_core.quality.staging import iter_staged
from tasks.publish import publish_task
from tasks.quality import quality_task

TINY = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)


def test_untrained_generator_fails_the_gate_then_publish_keeps_only_accepted(prefect_harness, small_snapshot, tmp_path):
    generator_dir = tmp_path / "generator"
    export_generator(build_generator(TINY), TINY, generator_dir)
    with disable_run_logger():
        quality = quality_task.fn(
            str(small_snapshot),
            str(generator_dir),
            JudgeConfig(epochs=1),
            # A one-epoch judge gives every class about 0.1, so this threshold accepts some and rejects some.
            QualityConfig(samples_per_class=10, gate=GateThresholds(min_confidence=0.1)),
            str(tmp_path / "cache"),
            str(tmp_path / "run"),
            [],
        )
    assert quality.passed is False
    # Untrained output is far from real digits whatever the (one-epoch) judge makes of its labels.
    assert any(line.startswith("fid_ratio") and "> max 25.000" in line for line in quality.failures)
    assert Path(quality.report_path).exists()
    with get_client(sync_client=True) as client:
        reports = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["quality-report"])))
        tables = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["per-class-quality"]))
        )
    assert "data:image/png;base64," in reports[0].data
    assert len(json.loads(tables[0].data)) == 10

    # Publish takes exactly the rows the quality check staged as accepted, in staged order.
    batches = list(iter_staged(Path(quality.accepted_path), 10_000))
    staged_labels = np.concatenate([np.zeros(0, np.int64)] + [labels for _, labels, _ in batches])
    assert len(staged_labels) == quality.num_accepted
    assert all(np.all(confidences >= 0.1) for _, _, confidences in batches)
    with disable_run_logger():
        published = publish_task.fn(
            str(small_snapshot),
            quality.accepted_path,
            PublishConfig(output_root=tmp_path / "out", dataset_name="t", include_real=True),
            "ab" * 32,
            {"generator_hash": "ab" * 32, "metrics": quality.metrics},
        )
    frame = pd.read_parquet(Path(published.version_dir) / "data")
    synthetic = frame[frame["source"] == "synthetic"]
    assert len(synthetic) == published.rows_per_source["synthetic"] == quality.num_accepted
    assert synthetic["label"].tolist() == staged_labels.tolist()
    assert set(synthetic["split"]) == {"train"} and set(frame["source"]) <= {"real", "synthetic"}
    assert set(synthetic["generator_version"]) <= {"ab" * 8}
