"""The real prefect.yaml on a real server and worker: API-triggered runs, a scheduled run, the limits."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml

from gan_core import publish
from tests.e2e.conftest import ROOT, TINY, wait_until

pytestmark = pytest.mark.e2e


def _check_published(version_dir: Path, samples_per_class: int, include_real: bool) -> dict:
    """Re-hashes every shard against the manifest and checks the row counts the parameters imply."""
    verified = publish.verify(version_dir)
    manifest = publish.read_manifest(version_dir)
    synthetic = 10 * samples_per_class  # min_confidence 0: every sample is accepted
    expected = {"train": {"synthetic": synthetic}}
    if include_real:
        expected = {"train": {"synthetic": synthetic, "real": TINY["real_labeled_limit"]}, "test": {"real": 2000}}
    counts = {split: {s: n for s, n in by_source.items() if n} for split, by_source in manifest["rows_per_split_source"].items()}
    assert counts == expected
    assert verified["rows"] == sum(sum(by_source.values()) for by_source in expected.values())
    assert verified["shards"] == len(manifest["shards"]) >= 1
    return manifest


def test_prefect_yaml_deploys_as_designed(deployed):
    nightly = deployed["deployments"]["augment-nightly"]
    on_demand = deployed["deployments"]["augment-on-demand"]

    [schedule] = nightly["schedules"]
    assert schedule["active"] and schedule["schedule"]["cron"] and schedule["schedule"]["timezone"]
    assert on_demand["schedules"] == []
    for deployment in (nightly, on_demand):
        assert deployment["enforce_parameter_schema"] is True
        assert deployment["work_pool_name"] == deployed["pool"]
        # The pull step was templated at deploy time into this checkout's absolute path.
        [step] = deployment["pull_steps"]
        assert step["prefect.deployments.steps.set_working_directory"]["directory"] == str(ROOT)
        schema = deployment["parameter_openapi_schema"]["properties"]
        # Flat parameters only: every default a deployment sets is a top-level scalar parameter.
        for name, value in deployment["parameters"].items():
            assert name in schema and not isinstance(value, (dict, list)), name
        # The UI form shows descriptions, bounds and defaults.
        assert {"description", "minimum", "maximum", "default"} <= set(schema["samples_per_class"])
        assert schema["min_confidence"]["minimum"] == 0 and schema["min_confidence"]["maximum"] == 1


def test_enforced_schema_rejects_an_out_of_bounds_override(deployed, api):
    deployment_id = deployed["deployments"]["augment-on-demand"]["id"]
    with pytest.raises(httpx.HTTPStatusError) as raised:
        api.create_run(deployment_id, {"samples_per_class": 0})
    assert raised.value.response.status_code in (409, 422)
    assert "samples_per_class" in raised.value.response.text


def test_on_demand_runs_publish_and_train_one_at_a_time(deployed, worker, api, timings, tmp_path):
    deployment = deployed["deployments"]["augment-on-demand"]
    output_root = tmp_path / "datasets"
    overrides = [
        {**TINY, "dataset_name": "e2e-api", "output_root": str(output_root), "work_root": str(tmp_path / f"work-{i}")}
        for i in range(2)
    ]
    triggered_at = time.time()
    created = [api.create_run(deployment["id"], parameters) for parameters in overrides]
    finished = [api.wait_final(run["id"]) for run in created]
    for run in finished:
        timings.add("api", triggered_at, run)

    # Partial overrides kept the deployment's own default (include_real) and the flow's defaults.
    for run in finished:
        assert run["parameters"]["include_real"] is True and run["parameters"]["samples_per_class"] == 20
        assert "seed" not in run["parameters"]

    dataset_dir = output_root / "e2e-api"
    assert publish.list_versions(dataset_dir) == [1, 2]
    assert publish.resolve_version(dataset_dir) == dataset_dir / "v0002"
    for version in ("v0001", "v0002"):
        manifest = _check_published(dataset_dir / version, TINY["samples_per_class"], include_real=True)
        assert manifest["parameters"]["samples_per_class"] == 20 and manifest["gate"]["passed"] is True

    # The gan-training tag limit of 1: the two train-gan task runs never overlapped.
    training = []
    for run in finished:
        [task_run] = [t for t in api.task_runs(run["id"]) if t["name"].startswith("train-gan")]
        assert "gan-training" in task_run["tags"] and task_run["state_type"] == "COMPLETED"
        training.append((datetime.fromisoformat(task_run["start_time"]), datetime.fromisoformat(task_run["end_time"])))
    first, second = sorted(training)
    assert first[1] <= second[0], f"train-gan runs overlapped: {training}"

    # The artifacts each run leaves, and TensorBoard logs in its run directory.
    for index, run in enumerate(finished):
        artifacts = api.artifacts(run["id"])
        assert artifacts["gan-training-progress"]["type"] == "progress" and artifacts["gan-training-progress"]["data"] == 100
        report = artifacts["quality-report"]["data"]
        assert "PASS" in report and "| metric | value | threshold | result |" in report
        assert report.count("data:image/png;base64,") >= 2  # sample grid, curves
        per_class = artifacts["per-class-quality"]
        rows = json.loads(per_class["data"])  # table artifacts are stored as a JSON string
        assert per_class["type"] == "table" and [row["label"] for row in rows] == list(range(10))
        assert all(row["generated"] == 20 for row in rows)
        link = artifacts["published-dataset"]
        assert link["type"] == "markdown" and "file://" in link["data"] and "e2e-api" in link["data"]
        assert list((tmp_path / f"work-{index}" / "runs").glob("*/tensorboard/events.out.tfevents.*"))


def test_a_schedule_fires_a_run_without_a_trigger(prefect_server, deployed, worker, api, timings, tmp_path):
    """The nightly definition, copied with a cron that fires every minute, runs on its own."""
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    [nightly] = [d for d in config["deployments"] if d["name"] == "augment-nightly"]
    nightly["name"] = "augment-nightly-e2e"
    nightly["schedules"][0]["cron"] = "* * * * *"
    nightly["parameters"].update(TINY, dataset_name="e2e-scheduled", output_root=str(tmp_path / "datasets"),
                                 work_root=str(tmp_path / "work"))
    config["deployments"] = [nightly]
    copy = tmp_path / "prefect.yaml"
    copy.write_text(yaml.safe_dump(config, sort_keys=False))
    prefect_server.cli("--no-prompt", "deploy", "--all", "--prefect-file", str(copy))
    deployment = api.deployment("augment/augment-nightly-e2e")
    assert deployment["schedules"][0]["schedule"]["timezone"] == nightly["schedules"][0]["timezone"]

    def started():
        runs = [r for r in api.flow_runs_of(deployment["id"]) if r["state_type"] not in ("SCHEDULED",)]
        return runs[0] if runs else None

    run = wait_until(started, 240, "the scheduler to start a run of augment-nightly-e2e", interval=2)
    # One scheduled run is enough: pausing deletes the runs queued for the next minutes.
    api.post(f"/deployments/{deployment['id']}/pause_deployment")
    finished = api.wait_final(run["id"])
    timings.add("scheduled", datetime.fromisoformat(finished["expected_start_time"]).timestamp(), finished)

    assert finished["auto_scheduled"] is True
    assert datetime.fromisoformat(finished["expected_start_time"]).second == 0  # a cron minute boundary
    assert [r["id"] for r in api.flow_runs_of(deployment["id"])] == [finished["id"]]
    _check_published(tmp_path / "datasets" / "e2e-scheduled" / "v0001", TINY["samples_per_class"], include_real=True)


def test_an_rgb_folder_runs_through_the_deployment(deployed, worker, api, tmp_path):
    """A user's own RGB class folders, triggered the way the UI does, publish RGB rows under their names."""
    from tests.image_folders import write_class_folders

    classes = ("bolt", "nut", "washer")
    root = write_class_folders(tmp_path / "parts", classes, 0, 32, 3, splits={"train": 24, "test": 6})
    parameters = {
        **TINY,
        "source": f"folder:{root}",
        "real_labeled_limit": None,
        "batch_size": 16,
        "dataset_name": "e2e-rgb",
        "output_root": str(tmp_path / "datasets"),
        "work_root": str(tmp_path / "work"),
    }
    run = api.wait_final(api.create_run(deployed["deployments"]["augment-on-demand"]["id"], parameters)["id"])
    assert run["state_type"] == "COMPLETED", run["state"]
    version_dir = tmp_path / "datasets" / "e2e-rgb" / "v0001"
    publish.verify(version_dir)
    manifest = publish.read_manifest(version_dir)
    assert manifest["image_shape"] == [32, 32, 3] and manifest["class_names"] == list(classes)
    assert manifest["rows_per_split_source"]["test"]["real"] == 18
    assert manifest["rows_per_source"]["synthetic"] == 3 * TINY["samples_per_class"]  # min_confidence 0
    assert "32x32 RGB images" in (version_dir / "README.md").read_text()
