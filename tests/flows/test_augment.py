"""The augment flow end to end on a tiny config, under one session-scoped Prefect test harness."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.augment import AugmentParameterError, augment, build_configs
from gan_core import publish
from gan_core.quality.gate import GateFailed as GateFailedError

OPEN_GATE = dict(
    min_confidence=0.0,
    max_label_fidelity_gap=1.0,
    max_second_judge_gap=1.0,
    max_fid_ratio=1e9,
    max_memorization_rate=1.0,
    min_acceptance_rate=0.0,
    min_judge_accuracy=0.0,
    min_coverage=0.0,
)


def _tiny(tmp_path: Path, **overrides) -> dict:
    parameters = dict(
        source="sample",
        real_labeled_limit=512,
        steps=20,
        batch_size=32,
        samples_per_class=20,
        judge_epochs=1,
        output_root=str(tmp_path / "datasets"),
        work_root=str(tmp_path / "work"),
        dataset_name="tiny",
    )
    return {**parameters, **overrides}


def test_flow_defaults_are_the_config_defaults(tmp_path, monkeypatch):
    import inspect

    from gan_core.config import (
        DEFAULT_PROFILE,
        ClusterConfig,
        DEFAULT_WORK_ROOT,
        DataConfig,
        JudgeConfig,
        PseudoLabelConfig,
        PublishConfig,
        QualityConfig,
        profile_configs,
    )

    monkeypatch.chdir(tmp_path)  # the default output and work roots are relative
    defaults = {name: p.default for name, p in inspect.signature(augment.fn).parameters.items()}
    model, train = profile_configs(DEFAULT_PROFILE)
    assert build_configs(defaults) == {
        "data": DataConfig(),
        "model": model,
        "train": train,
        "judge": JudgeConfig(),
        "quality": QualityConfig(),
        "publish": PublishConfig(),
        "cluster": ClusterConfig(),
        "pseudo": PseudoLabelConfig(),
    }
    assert defaults["profile"] == DEFAULT_PROFILE and defaults["work_root"] == str(DEFAULT_WORK_ROOT)


def _task_states(flow_run_id) -> dict[str, str]:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {run.name.rsplit("-", 1)[0]: run.state.name for run in runs}


def test_parameters_render_with_descriptions_and_bounds():
    schema = augment.parameters.model_dump()["properties"]
    # Optional parameters (None = the profile's value, or a switched-off check) keep their bounds in anyOf.
    step_bounds = [option for option in schema["steps"]["anyOf"] if option.get("type") == "integer"]
    assert step_bounds[0]["minimum"] == 1 and "description" in schema["steps"]
    assert schema["profile"]["enum"] == ["default", "quality"]
    fidelity_bounds = [option for option in schema["max_label_fidelity_gap"]["anyOf"] if option.get("type") == "number"]
    assert fidelity_bounds[0]["maximum"] == 1 and fidelity_bounds[0]["minimum"] == 0
    assert schema["precision"]["enum"] == ["auto", "float32", "mixed_bfloat16", "mixed_float16"]
    assert all(schema[name].get("description") for name in schema)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"source": "ftp://example"}, "unknown source"),
        ({"dataset_name": "../escape"}, "dataset_name"),
        ({"real_labeled_limit": 20, "batch_size": 64}, "smaller than the 64 real images one training step draws"),
        ({"dask_address": "localhost:8786"}, "dask_address 'localhost:8786' is not a scheduler address"),
        ({"dask_address": "tcp://10.0.0.5:8786", "dask_workers": 2}, "dask_workers is 2 but dask_address is set"),
        ({"dask_workers": -1}, "workers"),
        ({"chunk_size": 1500}, "chunk_size 1500 is not a multiple of 1024"),
        ({"use_unlabeled": True, "real_labeled_limit": None}, "use_unlabeled needs real_labeled_limit"),
        ({"unlabeled_source": "png-dir:/x"}, "unlabeled_source 'png-dir:/x' is set but use_unlabeled is off"),
        ({"use_unlabeled": True, "unlabeled_source": "png-dir:/no/such/dir"}, "unlabeled_source: .*does not exist"),
        ({"use_unlabeled": True, "unlabeled_source": "pngs:/x"}, "unknown unlabeled_source 'pngs:/x'"),
        ({"use_unlabeled": True, "dask_workers": 2}, "use_unlabeled does not run the quality check on Dask"),
        ({"pseudo_label_min_confidence": 1.5}, "min_confidence"),
        ({"pseudo_label_max_per_class": 0}, "max_per_class"),
        ({"teacher_steps": 0}, "steps"),
        ({"time_budget": "0s"}, "time_budget: time budget '0s' is zero"),
    ],
)
def test_bad_parameters_fail_before_any_work(tmp_path, override, message):
    parameters = {name: p.default for name, p in __import__("inspect").signature(augment.fn).parameters.items()}
    parameters.update(_tiny(tmp_path), **override)
    with pytest.raises(AugmentParameterError, match=message):
        build_configs(parameters)
    assert not (tmp_path / "work" / "cache").exists()


def test_a_bad_image_in_the_unlabeled_source_fails_before_any_work(tmp_path):
    from PIL import Image

    pngs = tmp_path / "pngs"
    pngs.mkdir()
    parameters = {name: p.default for name, p in __import__("inspect").signature(augment.fn).parameters.items()}
    parameters.update(_tiny(tmp_path), use_unlabeled=True, unlabeled_source=f"folder:{pngs}")
    with pytest.raises(AugmentParameterError, match="unlabeled_source: .*holds no image files"):
        build_configs(parameters)
    (pngs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # a signature and nothing else
    with pytest.raises(AugmentParameterError, match=r"broken\.png"):
        build_configs(parameters)
    (pngs / "broken.png").unlink()
    # Any size and mode is fine: the pool is converted to the labeled data's geometry at ingest.
    Image.new("RGB", (40, 30)).save(pngs / "colour.png")
    assert build_configs(parameters)["data"].unlabeled_source == f"folder:{pngs}"
    assert not (tmp_path / "work" / "cache").exists()


def test_a_time_budget_replaces_the_step_budget_unless_steps_are_given(tmp_path):
    parameters = {name: p.default for name, p in __import__("inspect").signature(augment.fn).parameters.items()}
    parameters.update(_tiny(tmp_path), steps=None, time_budget="1h30m")
    train = build_configs(parameters)["train"]
    assert train.time_budget_seconds == 5400 and train.steps == 10_000_000
    parameters.update(steps=500)
    assert build_configs(parameters)["train"].steps == 500


def test_measure_cas_adds_the_cas_metric_to_the_defaults(tmp_path):
    parameters = {name: p.default for name, p in __import__("inspect").signature(augment.fn).parameters.items()}
    parameters.update(_tiny(tmp_path))
    default_metrics = build_configs(parameters)["quality"].metrics
    assert "cas" not in default_metrics  # two extra models: opt in
    parameters["measure_cas"] = True
    assert build_configs(parameters)["quality"].metrics == (*default_metrics, "cas")


def test_profile_sets_the_training_config_and_overrides_change_only_their_key(tmp_path):
    from gan_core.config import profile_configs

    defaults = {name: p.default for name, p in __import__("inspect").signature(augment.fn).parameters.items()}
    defaults.update(output_root=str(tmp_path / "datasets"), work_root=str(tmp_path / "work"))
    for name in ("default", "quality"):
        model, train = profile_configs(name)
        configs = build_configs({**defaults, "profile": name})
        assert configs["model"] == model
        assert configs["train"].steps == train.steps and configs["train"].batch_size == train.batch_size
    quality_model, quality_train = profile_configs("quality")
    overridden = build_configs({**defaults, "profile": "quality", "steps": 7})
    assert overridden["train"].steps == 7
    # Every other profile field survives the partial override.
    assert overridden["train"].model_copy(
        update={"steps": quality_train.steps, "seed": 0, "precision": "auto"}
    ) == quality_train.model_copy(update={"seed": 0, "precision": "auto"})
    assert overridden["model"] == quality_model


def test_profile_names_match_the_defined_profiles():
    import typing

    from gan_core.config import PROFILE_NAMES, TRAINING_PROFILES

    assert set(typing.get_args(PROFILE_NAMES)) == set(TRAINING_PROFILES)


def test_unwritable_output_root_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    parameters = {name: p.default for name, p in __import__("inspect").signature(augment.fn).parameters.items()}
    parameters.update(_tiny(tmp_path), output_root=str(blocker / "sub"))
    with pytest.raises(AugmentParameterError, match="output_root|cannot write"):
        build_configs(parameters)


def test_flow_publishes_readable_verified_shards_and_caches_ingest(prefect_harness, tmp_path):
    state = augment(**_tiny(tmp_path, include_real=True, **OPEN_GATE), return_state=True)
    summary = state.result()
    version_dir = Path(summary["version_dir"])
    assert version_dir == tmp_path / "datasets" / "tiny" / "v0001"
    assert (tmp_path / "datasets" / "tiny" / "LATEST").read_text().strip() == "v0001"

    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert manifest["source_used"] == "sample:mnist-sample"
    assert manifest["parameters"]["real_labeled_limit"] == 512
    assert manifest["labeled_data"] == {
        "real_labeled_limit": 512,
        "labeled_count": 512,
        "use_unlabeled": False,
        "unlabeled_source": None,
        "pool_count": 0,
    }
    assert manifest["rows_per_source"]["real"] == 512 + 2000
    assert 0 < manifest["rows_per_source"]["synthetic"] <= 200
    # The independent judge's agreement is recorded beside the rejecting judge's.
    second = manifest["label_agreement"]["second judge (LeNet, no rejection)"]
    assert set(second) == {"real_test_accuracy", "all_samples", "accepted_rows"}
    assert second["accepted_rows"] == manifest["metrics"]["second_judge_agreement"]
    assert manifest["training"]["profile"] == "default" and manifest["training"]["steps"] == 20
    assert manifest["metric_subsample"] == {
        "size": 200,
        "total": 200,
        "max_size": 10_000,
        "seed": 0,
        "all_samples": True,
    }
    assert manifest["flow_run_id"] == str(state.state_details.flow_run_id) and manifest["training_run"]
    card = (version_dir / "README.md").read_text()
    assert manifest["generator_hash"] in card and manifest["flow_run_id"] in card
    assert publish.verify(version_dir)["rows"] == summary["rows"]

    frame = pd.read_parquet(version_dir / "data")
    assert len(frame) == summary["rows"]
    assert set(frame["source"]) == {"real", "synthetic"}
    assert frame.loc[frame.source == "real", "judge_confidence"].isna().all()

    datasets = pytest.importorskip("datasets")
    shards = sorted(str(p) for p in (version_dir / "data").glob("train-*.parquet"))
    loaded = datasets.load_dataset("parquet", data_files={"train": shards}, cache_dir=str(tmp_path / "hf"))["train"]
    assert loaded.features["label"].names == [str(i) for i in range(10)]
    assert np.asarray(loaded[0]["image"]).shape == (28, 28)

    first_states = _task_states(state.state_details.flow_run_id)
    assert first_states["ingest"] == "Completed"
    second = augment(**_tiny(tmp_path, include_real=True, **OPEN_GATE), return_state=True)
    assert second.result()["version"] == 2  # a new version, never an overwrite
    assert _task_states(second.state_details.flow_run_id)["ingest"] == "Cached"


def test_failed_gate_fails_the_flow_and_publishes_nothing(prefect_harness, tmp_path):
    with pytest.raises(GateFailedError) as failure:
        augment(**_tiny(tmp_path))  # 20 steps on 512 images: an untrained generator
    message = str(failure.value)
    assert "nothing was published" in message
    # A one-epoch judge on 512 images is near chance, so the relative label check cannot blame
    # the generator for the judge's errors; the floor on the judge and the empty acceptance do.
    assert "judge_accuracy 0." in message and "< min 0.850" in message
    assert "acceptance_rate 0.000 < min 0.500" in message
    assert not (tmp_path / "datasets" / "tiny").exists() or not publish.list_versions(tmp_path / "datasets" / "tiny")


def test_gate_warn_publishes_a_failed_run_marked_as_failed(prefect_harness, tmp_path, caplog):
    # The untrained generator of the test above; min_confidence 0 leaves rows to publish.
    summary = augment(**_tiny(tmp_path, gate="warn", min_confidence=0.0))
    assert summary["gate_passed"] is False and summary["version"] == 1
    manifest = publish.read_manifest(Path(summary["version_dir"]))
    assert manifest["gate"]["passed"] is False and manifest["gate"]["mode"] == "warn"
    assert any(not check["passed"] for check in manifest["gate"]["checks"])
    card = (Path(summary["version_dir"]) / "README.md").read_text()
    assert "## Quality gate: failed" in card and "Published although the gate failed" in card
    assert "quality gate FAILED" in caplog.text and "gate='warn'" in caplog.text


def test_label_scarce_run_trains_on_pseudo_labels_and_publishes_only_true_labels_as_real(prefect_harness, tmp_path):
    from gan_core.imaging import decode_png
    from gan_core.io.hashing import sha256_file
    from gan_core.semisup.stage import load_pseudo_labels

    parameters = _tiny(
        tmp_path,
        use_unlabeled=True,
        include_real=True,
        real_labeled_limit=200,
        teacher_steps=3,
        pseudo_label_min_confidence=0.0,
        pseudo_label_max_per_class=30,
        **OPEN_GATE,
    )
    summary = augment(**parameters)
    labeled = summary["labeled_data"]
    assert labeled["labeled_count"] == 200 and labeled["use_unlabeled"] is True
    assert 7000 < labeled["pool_count"] <= 8000 - 200
    version_dir = Path(summary["version_dir"])
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert manifest["labeled_data"] == labeled and manifest["configs"]["pseudo"]["teacher"]["steps"] == 3
    pseudo = manifest["pseudo_labels"]
    assert pseudo == summary["pseudo_labels"]
    assert pseudo["pool_count"] == labeled["pool_count"] and pseudo["threshold"] == 0.95
    assert pseudo["min_confidence"] == 0.0 and pseudo["max_per_class"] == 30
    assert 0.0 <= pseudo["teacher_test_accuracy"] <= 1.0
    # Confidence 0 keeps every prediction, the cap of 30 then bounds each class.
    assert sum(pseudo["per_class"]) == pseudo["count"] and max(pseudo["per_class"]) == 30
    assert pseudo["judges"]["label_check"].startswith("second judge")
    files = list((tmp_path / "work" / "cache" / "pseudo").glob("*/pseudo.npz"))
    assert len(files) == 1
    assert sha256_file(files[0]) == pseudo["pseudo_sha256"]

    # Only the N labeled images and the test split go out as real rows; no pseudo-labelled image.
    assert manifest["rows_per_source"]["real"] == 200 + 2000
    frame = pd.read_parquet(version_dir / "data")
    real = frame[frame.source == "real"]
    pseudo_images, _, _ = load_pseudo_labels(files[0])
    published = {decode_png(image["bytes"]).tobytes() for image in real["image"]}
    assert len(pseudo_images) == pseudo["count"] > 0
    assert not published & {image.tobytes() for image in pseudo_images}
    # The teacher rejected: its real-test accuracy is the rejecting judge's.
    assert manifest["metrics"]["judge_accuracy"] == pytest.approx(pseudo["teacher_test_accuracy"])
    assert "second_judge_gap" in manifest["metrics"]
