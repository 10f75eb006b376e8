"""The evaluate-augmentation flow on a tiny config, under the session-scoped Prefect test harness."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import pytest
from PIL import Image
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

from flows.evaluate_augmentation import EvaluateParameterError, build_config, evaluate_augmentation, resolve_sizes
from gan_core.experiments.utility import ARMS, QUICK

TINY = dict(
    sizes=[20], seeds=1, gan_steps=2, gan_batch_size=16, synthetic_per_class=5,
    min_confidence=0.0, judge_epochs=1, judge_min_steps=2, classifier_epochs=1, classifier_min_steps=3,
)


def _defaults(tmp_path: Path, **overrides) -> dict:
    parameters = {name: p.default for name, p in inspect.signature(evaluate_augmentation.fn).parameters.items()}
    parameters.update(output_dir=str(tmp_path / "out"), work_root=str(tmp_path / "work"), **overrides)
    return parameters


def test_flow_defaults_are_the_config_defaults(tmp_path, monkeypatch):
    from gan_core.config import DEFAULT_WORK_ROOT, DataConfig
    from gan_core.experiments.utility import DEFAULT_OUTPUT_DIR, DEFAULT_SOURCE, UtilityConfig

    monkeypatch.chdir(tmp_path)  # the default output and work roots are relative
    defaults = {name: p.default for name, p in inspect.signature(evaluate_augmentation.fn).parameters.items()}
    assert build_config(defaults) == UtilityConfig()
    assert (defaults["source"], defaults["data_dir"]) == (DEFAULT_SOURCE, DataConfig().data_dir)
    assert (defaults["output_dir"], defaults["work_root"]) == (str(DEFAULT_OUTPUT_DIR), str(DEFAULT_WORK_ROOT))


def test_module_import_does_not_load_tensorflow():
    import subprocess

    code = "import sys, flows.evaluate_augmentation; print('tensorflow' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


def test_parameters_render_with_descriptions_and_bounds():
    schema = evaluate_augmentation.parameters.model_dump()["properties"]
    assert all(schema[name].get("description") for name in schema)
    seeds = next(option for option in schema["seeds"]["anyOf"] if option.get("type") == "integer")
    assert seeds["minimum"] == 1
    items = next(option for option in schema["sizes"]["anyOf"] if option.get("type") == "array")["items"]["anyOf"]
    assert {"const": "all", "type": "string"} in items


def test_sizes_and_presets_resolve(tmp_path):
    assert resolve_sizes([100, "all", 0, "ALL"]) == (100, 0, 0, 0)
    assert resolve_sizes(None) is None
    quick = build_config(_defaults(tmp_path, quick=True))
    assert quick.sizes == QUICK["sizes"] and quick.seeds == QUICK["seeds"]
    full = build_config(_defaults(tmp_path, sizes=[100, 1000, "all"], gan_steps=50))
    assert full.sizes == (100, 1000, 0) and full.gan_steps == 50 and full.seeds == 3


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"sizes": [5]}, "N >= 10"),
        ({"sizes": ["some"]}, "sizes entry 'some'"),
        ({"source": "ftp://example"}, "unknown source"),
    ],
)
def test_bad_parameters_fail_before_any_work(tmp_path, overrides, message):
    with pytest.raises(EvaluateParameterError, match=message):
        build_config(_defaults(tmp_path, **overrides))
    assert not (tmp_path / "work" / "cache").exists()


@pytest.mark.slow  # trains a GAN, a judge and four classifiers (tiny, but tens of seconds)
def test_flow_writes_json_png_and_artifacts(prefect_harness, tmp_path):
    state = evaluate_augmentation(**TINY, output_dir=str(tmp_path / "out"), work_root=str(tmp_path / "work"),
                                  return_state=True)
    summary = state.result()
    json_path, png_path = Path(summary["json_path"]), Path(summary["png_path"])
    assert json_path == tmp_path / "out" / "utility.json" and png_path.exists()
    document = json.loads(json_path.read_text())
    assert document["config"]["gan_steps"] == 2 and document["config"]["sizes"] == [20]
    (entry,) = document["sizes"]
    assert entry["size"] == 20 and entry["seeds"] == [0]
    assert all(0.0 <= entry["arms"][arm]["mean"] <= 1.0 for arm in ARMS)
    assert (tmp_path / "out" / "experiments" / "n20-seed0.json").exists()
    with Image.open(png_path) as image:
        assert image.format == "PNG"

    flow_run = ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
    with get_client(sync_client=True) as client:
        tables = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["utility-benchmark"]), flow_run_id=flow_run)
        )
        reports = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["utility-report"]), flow_run_id=flow_run)
        )
    rows = json.loads(tables[0].data)
    assert [row["arm"][:3] for row in rows] == ["(a)", "(b)", "(c)", "(d)"]
    assert rows[0]["accuracy_mean"] == pytest.approx(entry["arms"]["a"]["mean"], abs=1e-4)
    assert "data:image/png;base64," in reports[0].data and "(d) real + synthetic" in reports[0].data
