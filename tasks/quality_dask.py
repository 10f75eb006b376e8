"""The quality check on Dask: plan, one Prefect task per shard on the workers, then merge and gate.

The subflow ``quality-check-dask`` runs under a ``DaskTaskRunner`` chosen from the run's
``ClusterConfig``: a ``LocalCluster`` of ``workers`` processes started for the run, or the
existing cluster at ``address``. Tasks pass paths and plain values only; each worker loads the
generator and the judges from the run's files, so every worker must see them (a shared filesystem).
"""

from __future__ import annotations

import os

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.futures import wait
from prefect.utilities.annotations import unmapped

from gan_core.config import ClusterConfig
from gan_core.io.faults import ENV as FAULT_ENV
from tasks.quality import report_quality


def worker_environment(workers: int, cores: int) -> dict[str, str]:
    """Thread settings for each local worker, read by TensorFlow when it is imported there.

    TensorFlow otherwise sizes its pools to every core in every worker, so n workers would run n
    times as many threads as there are cores.
    """
    threads = str(max(1, cores // workers))
    env = {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads, "OMP_NUM_THREADS": threads}
    if os.environ.get(FAULT_ENV):
        # Spawned workers inherit the environment, but say it outright: the reliability tests rely on it.
        env[FAULT_ENV] = os.environ[FAULT_ENV]
    return env


def task_runner(cluster: ClusterConfig):
    """The ``DaskTaskRunner`` for ``cluster`` (imported here: distributed is slow to import)."""
    from prefect_dask import DaskTaskRunner

    if cluster.address:
        return DaskTaskRunner(address=cluster.address)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": cluster.workers,
            "threads_per_worker": 1,  # one shard at a time per process; TF threads within it
            "processes": True,
            "dashboard_address": None,
            "env": worker_environment(cluster.workers, cores),
        }
    )


@task(name="quality-plan", cache_policy=NONE)
def plan_task(inputs):
    """Trains or loads the judges and cuts the stream into shards; returns a ``ShardPlan``."""
    from gan_core.quality.sharded import plan_shards  # TensorFlow: imported where the task runs

    return plan_shards(inputs, get_run_logger())


@task(name="quality-shard", cache_policy=NONE)
def shard_task(plan, inputs, index: int):
    """Generates, judges and stages one shard; returns a ``ShardResult``."""
    from gan_core.quality.sharded import score_shard

    return score_shard(plan, inputs, index, get_run_logger())


@task(name="quality-merge", cache_policy=NONE)
def merge_task(plan, results, inputs):
    """Merges the shards, applies the gate and reports it; returns a ``QualityOutcome``."""
    from gan_core.quality.sharded import merge_shards

    logger = get_run_logger()
    outcome = merge_shards(plan, results, inputs, logger)
    report_quality(outcome, logger)
    return outcome


@flow(name="quality-check-dask")
def quality_on_dask(inputs):
    """Scores the sample stream shard by shard on the task runner's workers; any failed shard fails it."""
    plan = plan_task.submit(inputs).result()
    shards = shard_task.map(unmapped(plan), unmapped(inputs), list(range(len(plan.ranges))))
    # Let every shard finish before raising, so no worker is still writing when the run fails.
    wait(shards)
    results = [future.result() for future in shards]
    return merge_task.submit(plan, results, inputs).result()


def quality_task_on_dask(cluster: ClusterConfig, *args):
    """Runs :func:`quality_on_dask` on ``cluster``; ``args`` are ``quality_task``'s, in its order."""
    from gan_core.quality.sharded import QualityInputs

    get_run_logger().info("quality check on Dask: %s", cluster.address or f"LocalCluster of {cluster.workers}")
    return quality_on_dask.with_options(task_runner=task_runner(cluster))(QualityInputs(*args))
