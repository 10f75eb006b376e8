"""The train-gan task's Prefect retry resumes from the checkpoint instead of starting over."""

from __future__ import annotations

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from gan_core import data
from gan_core.config import DataConfig, ModelConfig, TrainConfig
from gan_core.io import faults
from tasks.train import train_task

TINY = ModelConfig(latent_dim=8, generator_width=8, discriminator_width=8)
CONFIG = TrainConfig(steps=8, batch_size=32, checkpoint_every=4, log_every=2, diffaugment="")


@flow
def _train_once(snapshot_dir: str, runs_root: str):
    # The task's own retry policy (retries=1), with the 10 s delay cut for the test.
    return train_task.with_options(retry_delay_seconds=0)(snapshot_dir, TINY, CONFIG, runs_root)


def test_retry_resumes_from_the_checkpoint(prefect_harness, tmp_path, monkeypatch):
    assert train_task.retries == 1
    snapshot = data.ingest(DataConfig(source="sample", real_labeled_limit=256), tmp_path / "cache").path
    faults.reset_arrivals()
    # The first attempt fails right after its first checkpoint (step 4); the retry must not.
    monkeypatch.setenv(faults.ENV, "train.checkpoint_saved=raise@1")
    state = _train_once(str(snapshot), str(tmp_path / "runs"), return_state=True)
    outcome = state.result()
    assert outcome.resumed_from_step == 4
    assert [row["step"] for row in outcome.history] == [2, 4, 6, 8]
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    (train_run,) = [run for run in runs if run.name.startswith("train-gan")]
    assert train_run.run_count == 2 and train_run.state.name == "Completed"


@pytest.fixture(autouse=True)
def _fresh_fault_counts():
    faults.reset_arrivals()
    yield
    faults.reset_arrivals()
