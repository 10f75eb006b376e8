"""The augment flow with its quality shards on Dask: real LocalClusters of worker processes, real Prefect runs."""

import json
from pathlib import Path

import pytest

from flows.augment import augment
from gan_core import publish
from gan_core.io import faults
from tests.flows.test_augment import OPEN_GATE, _tiny

pytestmark = pytest.mark.slow  # each run starts worker processes that import TensorFlow (~15 s)


@pytest.fixture(scope="module")
def work_root(tmp_path_factory) -> Path:
    """One work root for the module: the snapshot, the trained GAN and the judges are made once."""
    return tmp_path_factory.mktemp("work")


def _sharded(tmp_path: Path, work_root: Path, name: str, **overrides) -> dict:
    # 4,000 samples in chunks of 1,024: four shards, the last partial. The metric subsample (all
    # 4,000 here) is gathered from every shard; tests/gan_core/quality/test_sharded.py covers a smaller one.
    gate = {**OPEN_GATE, "min_confidence": 0.1}  # a one-epoch judge: ~0.1 on every class, so some are rejected
    parameters = _tiny(tmp_path, samples_per_class=400, chunk_size=1024, dataset_name=name, **gate)
    parameters["work_root"] = str(work_root)
    return {**parameters, **overrides}


def _shard_hashes(summary: dict) -> list[tuple[str, str]]:
    manifest = json.loads((Path(summary["version_dir"]) / "manifest.json").read_text())
    return [(shard["path"], shard["sha256"]) for shard in manifest["shards"]]


def test_published_shards_are_the_same_on_one_worker_two_workers_and_in_process(prefect_harness, tmp_path, work_root):
    from distributed import Client, LocalCluster, get_task_stream

    in_process = augment(**_sharded(tmp_path, work_root, "in-process"))
    one_worker = augment(**_sharded(tmp_path, work_root, "one-worker", dask_workers=1))
    cluster_kwargs = dict(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with LocalCluster(**cluster_kwargs, env={"TF_NUM_INTRAOP_THREADS": "1"}) as cluster, Client(cluster) as client:
        with get_task_stream(client) as stream:
            two_workers = augment(
                **_sharded(tmp_path, work_root, "two-workers", dask_address=cluster.scheduler_address)
            )
    assert len({task["worker"] for task in stream.data}) == 2  # both worker processes scored shards

    hashes = _shard_hashes(two_workers)
    assert hashes and _shard_hashes(one_worker) == hashes == _shard_hashes(in_process)
    assert 0 < two_workers["rows"] < 4000  # the threshold rejected some, so acceptance is exercised
    assert one_worker["metrics"] == two_workers["metrics"] == in_process["metrics"]
    for summary in (one_worker, two_workers):
        manifest = json.loads((Path(summary["version_dir"]) / "manifest.json").read_text())
        assert manifest["metric_subsample"]["total"] == 4000 and publish.verify(summary["version_dir"])


def test_a_failed_shard_fails_the_run_and_publishes_nothing(prefect_harness, tmp_path, work_root, monkeypatch):
    monkeypatch.setenv(faults.ENV, "quality.shard_scored=raise@2")  # the second shard, on whichever worker
    with pytest.raises(faults.InjectedFault, match="quality.shard_scored"):
        augment(**_sharded(tmp_path, work_root, "faulty", dask_workers=2))
    dataset = tmp_path / "datasets" / "faulty"
    assert not dataset.exists() or (not publish.list_versions(dataset) and not (dataset / "LATEST").exists())
