"""Downstream-utility experiment: statistics with known answers, the plot, and one tiny real run."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from gan_core.experiments import utility
from gan_core.experiments.utility import ARMS, UtilityConfig, UtilityError

TINY = dict(
    sizes=(20,),
    seeds=1,
    gan_steps=2,
    gan_batch_size=16,
    synthetic_per_class=5,
    min_confidence=0.0,
    judge_epochs=1,
    judge_min_steps=2,
    classifier_epochs=1,
    classifier_min_steps=3,
)


def _t_cdf(x: float, dof: int) -> float:
    """Student t CDF by trapezoid integration of the density (independent of the table)."""
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    grid = np.linspace(0.0, x, 200_001)
    density = np.exp(log_norm - (dof + 1) / 2 * np.log1p(grid**2 / dof))
    return 0.5 + float(np.sum((density[1:] + density[:-1]) * np.diff(grid)) / 2)


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 9, 17, 30, 31, 45, 120, 1000])
def test_t_quantile_is_the_975_point_of_the_t_distribution(dof):
    assert _t_cdf(utility.t_quantile_975(dof), dof) == pytest.approx(0.975, abs=2e-5)


def test_t_quantile_known_values_and_bad_dof():
    assert utility.t_quantile_975(1) == pytest.approx(12.7062, abs=1e-4)
    assert utility.t_quantile_975(2) == pytest.approx(4.3027, abs=1e-4)
    assert utility.t_quantile_975(10**6) == pytest.approx(1.96, abs=1e-3)
    with pytest.raises(UtilityError, match="two seeds"):
        utility.t_quantile_975(0)


def test_constant_gain_has_a_zero_width_interval():
    baseline = [0.81, 0.84, 0.79]
    gain = utility.paired_gain([b + 0.05 for b in baseline], baseline)
    assert gain["mean"] == pytest.approx(0.05)
    assert gain["std"] == pytest.approx(0.0, abs=1e-12)
    assert gain["ci_low"] == pytest.approx(0.05) and gain["ci_high"] == pytest.approx(0.05)
    assert gain["significant"] is True


def test_paired_gain_known_interval():
    # Differences 1, 2, 3: mean 2, sd 1, half-width t(0.975, 2) / sqrt(3) = 4.302653 / 1.732051.
    gain = utility.paired_gain([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert (gain["mean"], gain["std"], gain["n"]) == (pytest.approx(2.0), pytest.approx(1.0), 3)
    assert gain["ci_low"] == pytest.approx(2.0 - 2.484138, abs=1e-6)
    assert gain["ci_high"] == pytest.approx(2.0 + 2.484138, abs=1e-6)
    assert gain["significant"] is False
    assert utility.paired_gain([0.5], [0.4])["ci_low"] is None  # one seed: no interval
    with pytest.raises(UtilityError, match="equally long"):
        utility.paired_gain([0.5, 0.6], [0.4])


def _fake_result(size: int, seed: int, accuracy: dict) -> dict:
    return {
        "size": size,
        "n_real": size or 8000,
        "seed": seed,
        "accuracy": accuracy,
        "synthetic": {"accepted": 90, "acceptance_rate": 0.9},
        "seconds": {"total": 10.0},
    }


def test_summarize_means_stds_gains_and_table():
    results = []
    for seed in range(3):
        results.append(_fake_result(0, seed, {"a": 0.97, "b": 0.98, "c": 0.97, "d": 0.985}))
        base = 0.80 + 0.01 * seed
        results.append(
            _fake_result(100, seed, {"a": base, "b": base + 0.05, "c": base + 0.02 * seed, "d": base + 0.08})
        )
    summary = utility.summarize(results)
    assert [entry["label"] for entry in summary["sizes"]] == ["100", "all"]  # "all" sorts last
    small = summary["sizes"][0]
    assert small["seeds"] == [0, 1, 2] and small["n_real"] == 100
    assert small["arms"]["a"]["mean"] == pytest.approx(0.81)
    assert small["arms"]["a"]["std"] == pytest.approx(0.01)
    assert small["gains"]["d_vs_b"]["mean"] == pytest.approx(0.03)
    assert small["gains"]["d_vs_b"]["ci_low"] == pytest.approx(0.03)  # constant paired gain
    assert small["gains"]["c_vs_a"]["mean"] == pytest.approx(0.02)
    assert small["gains"]["c_vs_a"]["ci_low"] < 0 < small["gains"]["c_vs_a"]["ci_high"]
    assert set(small["gains"]) == {"b_vs_a", "c_vs_a", "d_vs_a", "c_vs_b", "d_vs_b"}
    assert len(summary["rows"]) == 2 * len(ARMS)
    first = summary["rows"][0]
    assert first["N"] == "100" and first["gain_vs_a"] is None and first["ci95_vs_b"] is None
    assert summary["rows"][3]["ci95_vs_b"] == "[+0.0300, +0.0300]"
    json.dumps(summary, allow_nan=False)  # JSON-ready, no NaN
    table = utility.format_table(summary)
    assert table.count("\n") == 1 + 2 * len(ARMS) and "all (8000)" in table

    png = utility.utility_png(summary)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.width > 600


def test_summarize_adds_the_label_scarce_arms_and_their_gains_where_they_ran():
    results = []
    for seed in range(3):
        results.append(_fake_result(0, seed, {"a": 0.97, "b": 0.98, "c": 0.97, "d": 0.985}))  # no pool at N=all
        base = 0.80 + 0.01 * seed
        accuracy = {
            "a": base,
            "b": base + 0.05,
            "c": base,
            "d": base + 0.06,
            "e": 0.95,
            "f": base + 0.12,
            "g": base + 0.1,
        }
        scarce = {"teacher_test_accuracy": 0.95, "pseudo_labels": 7000 + seed, "pool_count": 7900}
        results.append({**_fake_result(100, seed, accuracy), "label_scarce": scarce})
    summary = utility.summarize(results)
    small, full = summary["sizes"]
    assert set(small["arms"]) == set(ARMS) | {"e", "f", "g"} and set(full["arms"]) == set(ARMS)
    assert small["gains"]["f_vs_b"]["mean"] == pytest.approx(0.07)
    assert small["gains"]["f_vs_g"]["mean"] == pytest.approx(0.02)
    assert small["gains"]["g_vs_b"]["ci_low"] == pytest.approx(0.05)  # constant paired gain
    assert "f_vs_g" not in full["gains"] and "label_scarce" not in full
    assert small["label_scarce"]["pseudo_labels"] == pytest.approx(7001)
    assert summary["arms"]["e"].startswith("teacher")
    assert len(summary["rows"]) == 7 + 4
    f_row = next(row for row in summary["rows"] if row["arm"].startswith("(f)"))
    assert f_row["gain_vs_g"] == pytest.approx(0.02) and f_row["ci95_vs_g"] == "[+0.0200, +0.0200]"
    table = utility.format_table(summary)
    assert "gain_vs_g" in table.splitlines()[0] and table.count("\n") == 1 + 11
    json.dumps(summary, allow_nan=False)
    with Image.open(io.BytesIO(utility.utility_png(summary))) as image:
        assert image.format == "PNG"


def test_label_scarce_fields_leave_the_four_arm_key_alone():
    plain = UtilityConfig().experiment_key()
    assert UtilityConfig(teacher_steps=5, pseudo_label_max_per_class=3).experiment_key() == plain
    scarce = UtilityConfig(label_scarce=True)
    assert scarce.experiment_key() != plain and scarce.gan_key() == UtilityConfig().gan_key()
    assert UtilityConfig(label_scarce=True, teacher_steps=5).experiment_key() != scarce.experiment_key()
    assert scarce.arms() == (*ARMS, "e", "f", "g") and UtilityConfig().arms() == ARMS
    assert UtilityConfig(teacher_steps=5).teacher_config().teacher.steps == 5


def test_summarize_refuses_missing_arms_and_empty_input():
    with pytest.raises(UtilityError, match="no experiment results"):
        utility.summarize([])
    with pytest.raises(UtilityError, match=r"lacks arms \['d'\]"):
        utility.summarize([_fake_result(100, 0, {"a": 0.8, "b": 0.8, "c": 0.8})])


def test_preset_quick_overrides_and_validation():
    quick = utility.preset(True)
    assert quick.sizes == utility.QUICK["sizes"] and quick.gan_steps == utility.QUICK["gan_steps"]
    assert utility.preset(True, UtilityConfig(gan_steps=7)).gan_steps == 7
    assert utility.preset(True, UtilityConfig(gan_steps=7)).seeds == utility.QUICK["seeds"]
    assert utility.preset(False) == utility.preset(False, UtilityConfig()) == UtilityConfig()
    with pytest.raises(ValidationError, match="N >= 10"):
        UtilityConfig(sizes=(5,))
    with pytest.raises(ValidationError, match="repeat"):
        UtilityConfig(sizes=(100, 100))
    with pytest.raises(ValidationError, match="unknown DiffAugment policies"):
        UtilityConfig(diffaugment="colour")
    assert UtilityConfig(diffaugment="").diffaugment == ""
    # sizes and seeds do not change one experiment's result; budgets do.
    assert UtilityConfig(sizes=(50,), seeds=9).experiment_key() == UtilityConfig().experiment_key()
    assert UtilityConfig(gan_steps=10).experiment_key() != UtilityConfig().experiment_key()
    # Classifier-side settings change the result but not the GAN, so GAN runs are reused.
    assert UtilityConfig(real_share=0.2).experiment_key() != UtilityConfig().experiment_key()
    assert UtilityConfig(real_share=0.2, min_confidence=0.5).gan_key() == UtilityConfig().gan_key()
    assert UtilityConfig(gan_steps=10).gan_key() != UtilityConfig().gan_key()
    assert UtilityConfig(diffaugment="color").gan_key() != UtilityConfig().gan_key()


def _rows(count: int, label: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((count, 4, 4), label, np.uint8), np.full(count, label, np.int64)


def test_mix_repeats_real_rows_whole_until_they_reach_the_share():
    real_images, real_labels = _rows(10, 1)
    synthetic_images, synthetic_labels = _rows(90, 2)
    images, labels = utility.mix_real_and_synthetic(real_images, real_labels, synthetic_images, synthetic_labels, 0.5)
    assert np.count_nonzero(labels == 1) == 90 and np.count_nonzero(labels == 2) == 90
    assert images.shape == (180, 4, 4) and np.array_equal(images[:, 0, 0], labels)
    # Whole repetitions: 25 % of 90 synthetic needs 30 real rows, i.e. the 10 repeated 3 times.
    _, labels = utility.mix_real_and_synthetic(real_images, real_labels, synthetic_images, synthetic_labels, 0.25)
    assert np.count_nonzero(labels == 1) == 30
    # Share 0 appends; real rows already above the share are never dropped.
    _, labels = utility.mix_real_and_synthetic(real_images, real_labels, synthetic_images, synthetic_labels, 0.0)
    assert np.count_nonzero(labels == 1) == 10 and len(labels) == 100
    _, labels = utility.mix_real_and_synthetic(synthetic_images, synthetic_labels, real_images, real_labels, 0.5)
    assert len(labels) == 100
    with pytest.raises(UtilityError, match=r"real_share must be in \[0, 1\)"):
        utility.mix_real_and_synthetic(real_images, real_labels, synthetic_images, synthetic_labels, 1.0)


@pytest.mark.slow  # trains a GAN, a judge and four classifiers (tiny, but tens of seconds)
def test_tiny_experiment_runs_all_four_arms_and_is_reused(mnist_sample, tmp_path):
    config = UtilityConfig(**TINY)
    result, path, reused = utility.run_or_load(
        mnist_sample, "fp-test", 20, 0, config, tmp_path / "experiments", tmp_path / "work"
    )
    assert not reused and path == tmp_path / "experiments" / "n20-seed0.json"
    assert set(result["accuracy"]) == set(ARMS)
    assert all(0.0 <= result["accuracy"][arm] <= 1.0 for arm in ARMS)
    assert result["n_real"] == 20 and result["gan"]["steps"] == 2
    synthetic = result["synthetic"]
    assert synthetic["generated"] == 50 and synthetic["accepted"] == 50  # min_confidence 0 keeps all
    # real_share 0.5: the 20 real rows are repeated (3x = 60) to outweigh the 50 synthetic ones.
    assert result["train_sizes"] == {"a": 20, "b": 20, "c": 110, "d": 110}
    assert result["judge"]["train_images"] == 20  # the judge saw the N real images only
    assert json.loads(path.read_text()) == result

    again, _, reused = utility.run_or_load(
        mnist_sample, "fp-test", 20, 0, config, tmp_path / "experiments", tmp_path / "work"
    )
    assert reused and again == result
    assert utility.load_result(path, config.model_copy(update={"gan_steps": 3}), "fp-test") is None
    assert utility.load_result(path, config, "other-data") is None


@pytest.mark.slow  # adds a teacher and a second GAN to the tiny experiment
def test_tiny_label_scarce_experiment_runs_seven_arms(mnist_sample, tmp_path):
    config = UtilityConfig(
        **TINY, label_scarce=True, teacher_steps=2, pseudo_label_min_confidence=0.0, pseudo_label_max_per_class=3
    )
    result, _, reused = utility.run_or_load(
        mnist_sample, "fp-test", 20, 0, config, tmp_path / "experiments", tmp_path / "work"
    )
    assert not reused and set(result["accuracy"]) == set(ARMS) | {"e", "f", "g"}
    scarce = result["label_scarce"]
    # The pool is every training image outside the N; confidence 0 keeps every prediction, capped
    # at 3 per class (a 2-step teacher predicts only some classes).
    count = scarce["pseudo_labels"]
    assert scarce["pool_count"] == 8000 - 20 and 0 < count == sum(scarce["pseudo_per_class"])
    assert max(scarce["pseudo_per_class"]) == 3
    assert scarce["teacher_test_accuracy"] == result["accuracy"]["e"] and 0 <= scarce["pseudo_label_accuracy"] <= 1
    assert scarce["synthetic"]["generated"] == 50 and scarce["synthetic"]["accepted"] == 50
    # real_share 0.5: f mixes like d (20 real x3 + 50 synthetic), g the same way with the pseudo-labelled rows.
    assert result["train_sizes"]["f"] == 110 and result["train_sizes"]["g"] == 20 * math.ceil(count / 20) + count
    assert result["train_sizes"]["e"] == 8000
    assert utility.run_or_load(mnist_sample, "fp-test", 20, 0, config, tmp_path / "experiments", tmp_path / "work")[2]


def test_size_larger_than_the_data_is_refused(mnist_sample, tmp_path):
    with pytest.raises(UtilityError, match="larger than the 8000"):
        utility.run_experiment(
            mnist_sample.train_images,
            mnist_sample.train_labels,
            mnist_sample.test_images,
            mnist_sample.test_labels,
            10,
            9000,
            0,
            UtilityConfig(**TINY),
            tmp_path,
        )
