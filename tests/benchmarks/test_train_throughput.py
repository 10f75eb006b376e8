"""benchmarks/train_throughput.py: a --quick run writes one consistent JSON; bad flags are refused.

No assertion here depends on how fast anything ran.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from tests.scripts import loaded_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"
TINY_FLAGS = ["--quick", "--generator-width", "8", "--discriminator-width", "8", "--batch-size", "16"]


@pytest.fixture(scope="module")
def benchmark_module():
    """The script loaded as a module (benchmarks/ is a folder of scripts, not a package)."""
    with loaded_script(SCRIPT, "benchmark_train_throughput") as module:
        yield module


def test_quick_run_writes_both_arms_and_a_consistent_summary(benchmark_module, tmp_path, capsys):
    import tensorflow as tf

    from gan_core.config import TrainConfig
    from gan_core.gan.diffaugment import parse_policy

    output = tmp_path / "results" / "train_throughput.json"  # the folder does not exist yet
    returned = benchmark_module.main([*TINY_FLAGS, "--output", str(output)])

    result = json.loads(output.read_text())
    assert result == returned
    assert set(result["arms"]) == {"baseline", "project"}
    for arm in result["arms"].values():
        assert [row["images"] for row in arm["rounds"]] == [3 * 16, 3 * 16]  # 2 rounds x 3 steps x batch 16
        rates = [row["images_per_second"] for row in arm["rounds"]]
        summary = arm["images_per_second"]
        assert math.isfinite(summary["median"]) and summary["median"] > 0
        assert summary["min"] == min(rates) and summary["max"] == max(rates)
        assert summary["min"] <= summary["median"] <= summary["max"]
    baseline = result["arms"]["baseline"]["images_per_second"]["median"]
    project = result["arms"]["project"]["images_per_second"]["median"]
    assert result["ratio_project_over_baseline"] == pytest.approx(project / baseline, rel=1e-12)
    pairs = zip(result["arms"]["baseline"]["rounds"], result["arms"]["project"]["rounds"])
    per_round = [p["images_per_second"] / b["images_per_second"] for b, p in pairs]
    assert result["per_round_ratio"] == pytest.approx(per_round, rel=1e-12)
    assert result["per_round_ratio_median"] == pytest.approx(statistics.median(per_round), rel=1e-12)

    config = result["config"]
    assert (config["rounds"], config["steps_per_round"], config["batch_size"], config["quick"]) == (2, 3, 16, True)
    assert config["model"]["generator_width"] == 8 and config["model"]["discriminator_width"] == 8
    assert config["train"]["batch_size"] == 16 and config["train"]["precision"] == "float32"
    assert config["generator_params"] > 0 and config["discriminator_params"] > 0
    assert result["precision"] == {"requested": "float32", "dtype_policy": "float32"}
    features = result["arms"]["project"]["features"]
    resolved = TrainConfig().for_training_set(config["data"]["train_images"]).diffaugment
    assert config["train"]["diffaugment"] == resolved != "auto"
    assert features["diffaugment"] == (list(parse_policy(resolved)) or None)
    assert features["ema"] == (TrainConfig().ema_decay > 0)
    assert result["arms"]["baseline"]["features"]["diffaugment"] is None
    machine = result["machine"]
    assert machine["tensorflow"] == tf.__version__
    assert machine["nproc"] >= 1 and machine["cpu_model"]
    assert "ratio project/baseline" in capsys.readouterr().out


def test_mixed_float16_is_refused_without_a_gpu(benchmark_module, tmp_path, capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible, so mixed_float16 is allowed")
    output = tmp_path / "out.json"
    with pytest.raises(SystemExit) as exit_info:
        benchmark_module.main([*TINY_FLAGS, "--precision", "mixed_float16", "--output", str(output)])
    assert exit_info.value.code == 2
    assert "needs a GPU" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rounds", "0"], "--rounds must be at least 1"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--batch-size", "4"], "batch_size"),
        (["--generator-width", "4"], "generator_width"),
    ],
)
def test_bad_flags_are_refused_before_any_training(benchmark_module, tmp_path, capsys, flags, message):
    output = tmp_path / "out.json"
    with pytest.raises(SystemExit) as exit_info:
        benchmark_module.main([*TINY_FLAGS, *flags, "--output", str(output)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not output.exists()
