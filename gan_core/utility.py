"""Downstream-utility experiment: does GAN data help a classifier trained on N real images?

One experiment is one (N, seed):

1. Draw N real training images, stratified by class, with ``seed`` (N = 0 means all of them).
2. Train the class-conditional GAN (the default training profile) on those N images only, for
   a fixed number of generator steps (``gan_steps``) whatever N is: the budget is counted in
   steps, so N = 100 gets as many updates as N = 8000.
3. Generate ``synthetic_per_class`` samples per class and reject those a judge is not confident
   about (``min_confidence``). The judge is trained on the same N real images only. The real test
   split is passed to it solely to report its accuracy; no other real image (and no test image)
   reaches any model's weights, so the synthetic arms get no information the real-only arms lack.
4. Train the reference classifier (:mod:`gan_core.classifier`) on four arms:

   - ``a``: real N;
   - ``b``: real N + classic augmentation (shifts, rotations);
   - ``c``: real N + accepted synthetic;
   - ``d``: real N + accepted synthetic + classic augmentation.

   In ``c`` and ``d`` the real rows are repeated whole until they are at least ``real_share``
   of the set (:func:`mix_real_and_synthetic`), so the samples do not drown them.

   Every arm of one experiment gets the same seed and the same number of optimizer steps
   (sized for the largest arm), so a gain is not bought with more updates, and seeds pair arms.
5. Test every arm on the real test split.

:func:`summarize` turns the per-experiment results into mean +- std per (N, arm) and the 95 %
confidence interval of each arm's paired (by seed) gain against ``a`` and against ``b``
(Student t, two-sided). :func:`utility_png` plots accuracy against N.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gan_core.config import PrecisionPolicy
from gan_core.fsutil import atomic_write_json

logger = logging.getLogger(__name__)

ARMS: tuple[str, ...] = ("a", "b", "c", "d")
ARM_NAMES: dict[str, str] = {
    "a": "real",
    "b": "real + classic aug",
    "c": "real + synthetic",
    "d": "real + synthetic + classic aug",
}
BASELINES: tuple[str, ...] = ("a", "b")
RESULT_FORMAT = 1

# Two-sided 95 % Student t quantiles t_{0.975, dof} for dof 1..30 (scipy is not a dependency).
_T_975: tuple[float, ...] = (
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
    2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
    2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272,
)
_Z_975 = 1.959963984540054


class UtilityError(ValueError):
    """Bad input to the utility experiment or its statistics; the message says the fix."""


class UtilityConfig(BaseModel):
    """Sizes, seeds and budgets of the downstream-utility benchmark."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sizes: tuple[int, ...] = Field(
        default=(100, 1000, 0), min_length=1,
        description="Real labeled training set sizes N (stratified); 0 means all real training images.",
    )
    seeds: int = Field(default=3, ge=1, le=50, description="Seeds 0..seeds-1 per N; arms are paired by seed.")
    gan_steps: int | None = Field(
        default=None, ge=1, le=200_000, description="GAN generator steps, whatever N is; None uses the default profile's."
    )
    gan_batch_size: int = Field(default=64, ge=8, le=4096, description="GAN batch size (capped at N).")
    diffaugment: str | None = Field(default=None, description="DiffAugment policies for the GAN; None keeps TrainConfig's.")
    precision: PrecisionPolicy = "auto"
    synthetic_per_class: int = Field(default=300, ge=1, le=100_000, description="Samples generated per class.")
    min_confidence: float = Field(default=0.9, ge=0, le=1, description="Reject samples the judge trusts less.")
    real_share: float = Field(
        default=0.5, ge=0, le=0.95,
        description="Least share of real rows in the synthetic arms' training set (real rows are repeated to reach it); 0 just appends the synthetic rows.",
    )
    judge_epochs: int = Field(default=10, ge=1, le=200, description="Epochs of the rejection judge.")
    judge_min_steps: int = Field(default=300, ge=0, le=100_000, description="Step floor for the judge on small N.")
    classifier_epochs: int = Field(default=10, ge=0, le=500, description="Epochs over the largest arm's data.")
    classifier_batch_size: int = Field(default=128, ge=8, le=4096)
    classifier_min_steps: int = Field(default=500, ge=0, le=200_000, description="Step floor per arm.")

    @field_validator("sizes")
    @classmethod
    def _check_sizes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [size for size in value if size < 0 or 0 < size < 10]
        if bad:
            raise ValueError(f"sizes {bad} are not allowed: use N >= 10 (every class needs an image) or 0 for all")
        if len(set(value)) != len(value):
            raise ValueError(f"sizes {list(value)} repeat a value: list each N once")
        return value

    @field_validator("diffaugment")
    @classmethod
    def _check_diffaugment(cls, value: str | None) -> str | None:
        from gan_core.config import TrainConfig

        if value is not None:
            TrainConfig(diffaugment=value)  # its validator names unknown policies
        return value

    def resolved(self) -> dict:
        """Returns a JSON-ready dict of every field, defaults included."""
        return self.model_dump(mode="json")

    def experiment_key(self) -> str:
        """Hashes everything that changes one experiment's result (not ``sizes`` and ``seeds``)."""
        from gan_core.config import JudgeConfig

        payload = {k: v for k, v in self.resolved().items() if k not in ("sizes", "seeds")}
        payload["defaults"] = {**self._gan_defaults(), "judge": JudgeConfig().resolved()}
        return _short_hash(payload)

    def gan_key(self) -> str:
        """Hashes only what changes the trained GAN, so classifier-side changes reuse GAN runs."""
        payload = {name: getattr(self, name) for name in GAN_FIELDS}
        payload["defaults"] = self._gan_defaults()
        return _short_hash(payload)

    @staticmethod
    def _gan_defaults() -> dict:
        # The GAN settings this config does not name come from their defaults, so a changed
        # default must not let an old result or GAN run be reused.
        from gan_core.config import profile_configs

        model, train = profile_configs("default")
        return {"model": model.resolved(), "train": train.resolved()}


GAN_FIELDS: tuple[str, ...] = ("gan_steps", "gan_batch_size", "diffaugment", "precision")


def _short_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


QUICK = dict(
    sizes=(100,), seeds=2, gan_steps=300, synthetic_per_class=100, judge_epochs=5,
    judge_min_steps=100, classifier_epochs=5, classifier_min_steps=200,
)


def preset(quick: bool, **overrides) -> UtilityConfig:
    """The full (or ``quick``) configuration, with ``overrides`` that are not None applied.

    Raises:
        pydantic.ValidationError: an override is out of bounds.
    """
    base = dict(QUICK) if quick else {}
    base.update({key: value for key, value in overrides.items() if value is not None})
    return UtilityConfig(**base)


# ---------------------------------------------------------------------------------------------
# Statistics


def t_quantile_975(dof: int) -> float:
    """Two-sided 95 % Student t critical value t_{0.975, dof}.

    Exact to 6 decimals for dof <= 30 (table); above that a Cornish-Fisher expansion of the
    normal quantile, within 1e-4 of the exact value.

    Raises:
        UtilityError: ``dof`` below 1.
    """
    if isinstance(dof, bool) or not isinstance(dof, (int, np.integer)) or dof < 1:
        raise UtilityError(f"degrees of freedom must be an integer >= 1, got {dof!r}: a CI needs two seeds")
    if dof <= len(_T_975):
        return _T_975[dof - 1]
    z = _Z_975
    return (
        z
        + (z**3 + z) / (4 * dof)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * dof**3)
    )


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def mean_std(values: Sequence[float]) -> dict:
    """Mean and sample standard deviation (ddof=1; None with fewer than two values)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise UtilityError("mean_std needs at least one value")
    std = float(np.std(array, ddof=1)) if array.size > 1 else None
    return {"mean": float(np.mean(array)), "std": std, "n": int(array.size)}


def paired_gain(treatment: Sequence[float], baseline: Sequence[float]) -> dict:
    """Mean paired difference ``treatment - baseline`` and its two-sided 95 % t confidence interval.

    The CI is ``mean +- t_{0.975, n-1} * sd / sqrt(n)`` over the per-seed differences; with one
    pair it is None. ``significant`` says whether the CI excludes zero.

    Raises:
        UtilityError: the sequences are empty or of different lengths.
    """
    treatment = np.asarray(treatment, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    if treatment.shape != baseline.shape or treatment.ndim != 1 or treatment.size == 0:
        raise UtilityError(
            f"paired_gain needs two equally long non-empty 1-D sequences (one value per seed), got "
            f"{treatment.shape} and {baseline.shape}"
        )
    diffs = treatment - baseline
    n = int(diffs.size)
    mean = float(np.mean(diffs))
    if n < 2:
        return {"mean": mean, "std": None, "n": n, "ci_low": None, "ci_high": None, "significant": None}
    std = float(np.std(diffs, ddof=1))
    half = t_quantile_975(n - 1) * std / math.sqrt(n)
    low, high = mean - half, mean + half
    return {"mean": mean, "std": std, "n": n, "ci_low": low, "ci_high": high, "significant": bool(low > 0 or high < 0)}


def summarize(results: Sequence[Mapping]) -> dict:
    """Aggregates experiment results into per-N statistics per arm and paired gains.

    Returns:
        ``{"sizes": [{"size", "n_real", "seeds", "arms": {arm: {mean, std, n, values}},
        "gains": {"b_vs_a": {...}, ...}, ...}], "rows": [table rows]}``, JSON-ready.

    Raises:
        UtilityError: no results, or a result misses an arm.
    """
    if not results:
        raise UtilityError("no experiment results to summarize: run at least one (N, seed) experiment")
    by_size: dict[int, dict[int, Mapping]] = {}
    for result in results:
        missing = [arm for arm in ARMS if arm not in result.get("accuracy", {})]
        if missing:
            raise UtilityError(f"result for N={result.get('size')} seed={result.get('seed')} lacks arms {missing}")
        by_size.setdefault(int(result["size"]), {})[int(result["seed"])] = result
    sizes = []
    rows = []
    # "all" (0) sorts last: it is the largest N.
    for size in sorted(by_size, key=lambda s: (s == 0, s)):
        seeded = by_size[size]
        seeds = sorted(seeded)
        accuracy = {arm: [float(seeded[seed]["accuracy"][arm]) for seed in seeds] for arm in ARMS}
        arms = {arm: {**mean_std(accuracy[arm]), "values": accuracy[arm]} for arm in ARMS}
        gains = {
            f"{arm}_vs_{base}": paired_gain(accuracy[arm], accuracy[base])
            for base in BASELINES for arm in ARMS if ARMS.index(arm) > ARMS.index(base)
        }
        n_real = sorted({int(seeded[seed]["n_real"]) for seed in seeds})
        entry = {
            "size": size,
            "label": "all" if size == 0 else str(size),
            "n_real": n_real[0] if len(n_real) == 1 else n_real,
            "seeds": seeds,
            "arms": arms,
            "gains": gains,
            "synthetic_accepted_mean": float(np.mean([seeded[s]["synthetic"]["accepted"] for s in seeds])),
            "acceptance_rate_mean": float(np.mean([seeded[s]["synthetic"]["acceptance_rate"] for s in seeds])),
            "seconds_mean": float(np.mean([seeded[s]["seconds"]["total"] for s in seeds])),
        }
        sizes.append(entry)
        for arm in ARMS:
            row = {
                "N": entry["label"] if size != 0 else f"all ({entry['n_real']})",
                "arm": f"({arm}) {ARM_NAMES[arm]}",
                "seeds": len(seeds),
                "accuracy_mean": round(arms[arm]["mean"], 4),
                "accuracy_std": None if arms[arm]["std"] is None else round(arms[arm]["std"], 4),
            }
            for base in BASELINES:
                gain = gains.get(f"{arm}_vs_{base}")
                row[f"gain_vs_{base}"] = None if gain is None else round(gain["mean"], 4)
                row[f"ci95_vs_{base}"] = None if gain is None or gain["ci_low"] is None else (
                    f"[{gain['ci_low']:+.4f}, {gain['ci_high']:+.4f}]"
                )
            rows.append(row)
    return {"arms": dict(ARM_NAMES), "sizes": sizes, "rows": rows}


def format_table(summary: Mapping) -> str:
    """A plain-text (markdown) table of the summary rows."""
    columns = ("N", "arm", "seeds", "accuracy_mean", "accuracy_std", "gain_vs_a", "ci95_vs_a", "gain_vs_b", "ci95_vs_b")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in summary["rows"]:
        cells = ["" if row[c] is None else (f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c])) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def utility_png(summary: Mapping) -> bytes:
    """Accuracy against N per arm (log x, error bars = std over seeds) and gains against (a)."""
    from gan_core import plots  # sets the Agg backend before pyplot is imported

    plt = plots.plt
    entries = summary["sizes"]
    xs = np.array([entry["n_real"] if isinstance(entry["n_real"], int) else max(entry["n_real"]) for entry in entries])
    figure, (accuracy_axis, gain_axis) = plt.subplots(1, 2, figsize=(11, 4))
    offsets = {"a": 0.96, "b": 0.985, "c": 1.015, "d": 1.04}  # spread markers so error bars do not overlap
    colors = {arm: f"C{index}" for index, arm in enumerate(ARMS)}  # one colour per arm in both panels
    for arm in ARMS:
        means = [entry["arms"][arm]["mean"] for entry in entries]
        stds = [entry["arms"][arm]["std"] or 0.0 for entry in entries]
        accuracy_axis.errorbar(
            xs * offsets[arm], means, yerr=stds, marker="o", capsize=3, color=colors[arm], label=f"({arm}) {ARM_NAMES[arm]}"
        )
    tick_labels = [entry["label"] if entry["size"] else f"all ({x})" for entry, x in zip(entries, xs)]
    for axis in (accuracy_axis, gain_axis):
        axis.set_xscale("log")
        axis.set_xlim(xs.min() / 1.6, xs.max() * 1.6)
        axis.set_xticks(xs, tick_labels)
        axis.xaxis.set_minor_formatter(plots.matplotlib.ticker.NullFormatter())
    accuracy_axis.set_xlabel("real labeled training images N")
    accuracy_axis.set_ylabel("test accuracy")
    accuracy_axis.set_title("downstream classifier accuracy (mean ± std over seeds)")
    accuracy_axis.legend(fontsize=8)
    accuracy_axis.grid(True, which="both", alpha=0.3)
    for arm in ARMS[1:]:
        gains = [entry["gains"][f"{arm}_vs_a"] for entry in entries]
        means = np.array([gain["mean"] for gain in gains])
        low = np.array([gain["mean"] - gain["ci_low"] if gain["ci_low"] is not None else 0.0 for gain in gains])
        high = np.array([gain["ci_high"] - gain["mean"] if gain["ci_high"] is not None else 0.0 for gain in gains])
        gain_axis.errorbar(
            xs * offsets[arm], means, yerr=[low, high], marker="o", capsize=3, color=colors[arm], label=f"({arm}) − (a)"
        )
    gain_axis.axhline(0.0, color="black", linewidth=0.8)
    gain_axis.set_xlabel("real labeled training images N")
    gain_axis.set_ylabel("accuracy gain over (a)")
    gain_axis.set_title("paired gain over real-only, 95 % CI")
    gain_axis.legend(fontsize=8)
    gain_axis.grid(True, which="both", alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# One experiment


def _repeat_to(images: np.ndarray, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Repeats the rows whole until there are at least ``count`` (an epoch covers each row equally)."""
    times = max(1, math.ceil(count / len(images)))
    return np.concatenate([images] * times), np.concatenate([labels] * times)


def mix_real_and_synthetic(
    real_images: np.ndarray,
    real_labels: np.ndarray,
    synthetic_images: np.ndarray,
    synthetic_labels: np.ndarray,
    real_share: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Real plus synthetic rows, with real rows repeated whole until they are >= ``real_share``.

    Appending thousands of synthetic rows to 100 real ones would leave the real images a few
    percent of every batch; repeating them keeps each batch (in expectation) at least
    ``real_share`` real, the usual way to mix generated data in.
    """
    if not 0 <= real_share < 1:
        raise UtilityError(f"real_share must be in [0, 1), got {real_share}")
    wanted = math.ceil(real_share / (1 - real_share) * len(synthetic_labels))
    if wanted > len(real_labels):
        real_images, real_labels = _repeat_to(real_images, real_labels, wanted)
    return np.concatenate([real_images, synthetic_images]), np.concatenate([real_labels, synthetic_labels])


def experiment_name(size: int, seed: int) -> str:
    """File-name-safe name of one experiment, e.g. ``n100-seed0`` or ``nall-seed2``."""
    return f"n{'all' if size == 0 else size}-seed{seed}"


def _gan_configs(config: UtilityConfig, n_real: int, seed: int):
    from gan_core.config import TrainConfig, profile_configs

    batch = min(config.gan_batch_size, n_real)
    if batch < 8:
        raise UtilityError(f"N={n_real} is too small for GAN training (batch size >= 8): use N >= 10")
    model, train = profile_configs("default")
    overrides = {"batch_size": batch, "seed": seed, "precision": config.precision}
    if config.gan_steps is not None:
        overrides["steps"] = config.gan_steps
    if config.diffaugment is not None:
        overrides["diffaugment"] = config.diffaugment
    if batch * train.discriminator_steps > n_real:
        overrides["discriminator_steps"] = 1
    return model, TrainConfig(**{**train.resolved(), **overrides})


def run_experiment(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    num_classes: int,
    size: int,
    seed: int,
    config: UtilityConfig,
    work_dir: Path,
    class_names: tuple[str, ...] | None = None,
    data_fingerprint: str = "",
) -> dict:
    """Runs one (N, seed) experiment end to end; returns a JSON-ready result.

    Args:
        train_images: All real uint8 training images; N of them are drawn.
        train_labels: Their labels.
        test_images: The real test split every arm is tested on.
        test_labels: Their labels.
        num_classes: Number of classes.
        size: N, the real labeled images used; 0 uses all.
        seed: Seeds the subset, the GAN, sampling, the judge and every classifier.
        config: Budgets.
        work_dir: Where the GAN run goes; an interrupted experiment resumes its GAN from here.
        class_names: Written into the exported generator.
        data_fingerprint: Identifies the real data in the result.

    Raises:
        UtilityError: N is larger than the training split or too small to train on.
    """
    from gan_core import classifier
    from gan_core.config import JudgeConfig
    from gan_core.data import stratified_subset
    from gan_core.judge import train_judge
    from gan_core.sampling import load_generator
    from gan_core.train import train_gan

    if size > len(train_labels):
        raise UtilityError(
            f"N={size} is larger than the {len(train_labels)} real training images: use at most "
            f"{len(train_labels)} or 0 for all"
        )
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    real_images, real_labels = (
        (train_images, train_labels) if size == 0 else stratified_subset(train_images, train_labels, size, seed)
    )
    real_labels = real_labels.astype(np.int64)
    n_real = len(real_labels)
    logger.info("experiment N=%d (%d real images), seed %d in %s", size, n_real, seed, work_dir)

    # 1. The GAN sees the N real images only; repeating them fills each epoch to the step budget.
    model_config, train_config = _gan_configs(config, n_real, seed)
    tick = time.perf_counter()
    trained = train_gan(
        real_images, real_labels, model_config.model_copy(update={"num_classes": num_classes}), train_config,
        Path(work_dir) / "gan", class_names=class_names,
    )
    seconds["gan"] = time.perf_counter() - tick
    gan_steps = train_config.steps

    # 2. Sample, then reject with a judge that saw the same N real images and nothing else.
    tick = time.perf_counter()
    generator = load_generator(trained.generator_dir)
    synthetic_images, synthetic_labels = generator.generate_per_class(config.synthetic_per_class, seed)
    judge_config = JudgeConfig(epochs=config.judge_epochs, seed=seed, augment=True)
    judge_images, judge_labels = _repeat_to(
        real_images, real_labels, math.ceil(config.judge_min_steps * judge_config.batch_size / config.judge_epochs)
    )
    judge = train_judge(
        judge_images, judge_labels, test_images, test_labels, judge_config, cache_dir=None, num_classes=num_classes,
    )
    probabilities = judge.predict_proba(synthetic_images)
    confidence = probabilities[np.arange(len(synthetic_labels)), synthetic_labels]
    accepted = confidence >= config.min_confidence
    label_fidelity = float(np.mean(np.argmax(probabilities, axis=1) == synthetic_labels))
    seconds["sample_and_judge"] = time.perf_counter() - tick
    per_class_accepted = np.bincount(synthetic_labels[accepted], minlength=num_classes)

    # 3. Four arms, one seed and one step budget, tested on the real test split.
    kept_images, kept_labels = synthetic_images[accepted], synthetic_labels[accepted]
    mixed_images, mixed_labels = mix_real_and_synthetic(
        real_images, real_labels, kept_images, kept_labels, config.real_share
    )
    steps = classifier.training_steps(
        len(mixed_labels), config.classifier_epochs, config.classifier_batch_size, config.classifier_min_steps
    )
    arm_data = {
        "a": (real_images, real_labels, False),
        "b": (real_images, real_labels, True),
        "c": (mixed_images, mixed_labels, False),
        "d": (mixed_images, mixed_labels, True),
    }
    accuracy, train_sizes = {}, {}
    for arm, (images, labels, augment) in arm_data.items():
        tick = time.perf_counter()
        model = classifier.train_classifier(
            images, labels, num_classes, epochs=0, batch_size=config.classifier_batch_size, seed=seed,
            augment=augment, min_steps=steps,
        )
        accuracy[arm] = classifier.evaluate(model, test_images, test_labels)
        train_sizes[arm] = int(len(labels))
        seconds[f"classifier_{arm}"] = time.perf_counter() - tick
        logger.info("N=%d seed %d arm (%s) %s: test accuracy %.4f", size, seed, arm, ARM_NAMES[arm], accuracy[arm])
    seconds["total"] = time.perf_counter() - started
    return {
        "format_version": RESULT_FORMAT,
        "size": int(size),
        "n_real": int(n_real),
        "seed": int(seed),
        "accuracy": accuracy,
        "train_sizes": train_sizes,
        "classifier_steps": int(steps),
        "gan": {
            "steps": int(gan_steps),
            "batch_size": train_config.batch_size,
            "model_config": model_config.resolved(),
            "dtype_policy": trained.dtype_policy,
            "train_config": train_config.resolved(),
            "generator_hash": trained.generator_hash,
            "final_discriminator_loss": trained.history[-1].discriminator_loss if trained.history else None,
            "final_generator_loss": trained.history[-1].generator_loss if trained.history else None,
        },
        "judge": {"test_accuracy": judge.test_accuracy, "train_images": n_real},
        "synthetic": {
            "generated": int(len(synthetic_labels)),
            "accepted": int(accepted.sum()),
            "acceptance_rate": float(accepted.mean()) if len(accepted) else 0.0,
            "label_fidelity_before_rejection": label_fidelity,
            "accepted_per_class": per_class_accepted.tolist(),
        },
        "seconds": seconds,
        "config": config.resolved(),
        "experiment_key": config.experiment_key(),
        "data_fingerprint": data_fingerprint,
    }


def load_result(path: Path, config: UtilityConfig, data_fingerprint: str) -> dict | None:
    """A finished result at ``path`` for this config and data, or None (missing or stale)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
    except ValueError:
        logger.warning("ignoring unreadable experiment result %s", path)
        return None
    if (
        result.get("format_version") != RESULT_FORMAT
        or result.get("experiment_key") != config.experiment_key()
        or result.get("data_fingerprint") != data_fingerprint
    ):
        return None
    return result


def save_result(path: Path, result: Mapping) -> Path:
    """Writes one experiment result atomically."""
    atomic_write_json(Path(path), dict(result))
    return Path(path)


def run_or_load(
    splits,
    data_fingerprint: str,
    size: int,
    seed: int,
    config: UtilityConfig,
    results_dir: Path,
    work_root: Path,
) -> tuple[dict, Path, bool]:
    """Runs one experiment on ``splits`` (a LabeledSplits) unless its result is already saved.

    The result goes to ``results_dir/<experiment_name>.json``; the GAN run to
    ``work_root/<data>-gan-<GAN key>/<experiment_name>/``, so an interrupted benchmark re-run
    skips finished experiments and resumes a half-trained GAN.

    Returns:
        (result, result path, whether it was reused).
    """
    name = experiment_name(size, seed)
    path = Path(results_dir) / f"{name}.json"
    existing = load_result(path, config, data_fingerprint)
    if existing is not None:
        logger.info("reusing finished experiment %s", path)
        return existing, path, True
    work_dir = Path(work_root) / f"{data_fingerprint[:12]}-gan-{config.gan_key()}" / name
    result = run_experiment(
        splits.train_images, splits.train_labels, splits.test_images, splits.test_labels,
        len(splits.class_names), size, seed, config, work_dir, class_names=splits.class_names,
        data_fingerprint=data_fingerprint,
    )
    save_result(path, result)
    return result, path, False
