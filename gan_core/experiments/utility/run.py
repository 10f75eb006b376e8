"""One downstream-utility experiment and its result cache: does GAN data help a classifier trained on N real images?

One experiment is one (N, seed):

1. Draw N real training images, stratified by class, with ``seed`` (N = 0 means all of them).
2. Train the class-conditional GAN (the default training profile) on those N images only, for
   a fixed number of generator steps (``gan_steps``) whatever N is: the budget is counted in
   steps, so N = 100 gets as many updates as N = 8000.
3. Generate ``synthetic_per_class`` samples per class and reject those a judge is not confident
   about (``min_confidence``). The judge is trained on the same N real images only. The real test
   split is passed to it solely to report its accuracy; no other real image (and no test image)
   reaches any model's weights, so the synthetic arms get no information the real-only arms lack.
4. Train the reference classifier (:mod:`gan_core.quality.classifier`) on four arms:

   - ``a``: real N;
   - ``b``: real N + classic augmentation (shifts, rotations);
   - ``c``: real N + accepted synthetic;
   - ``d``: real N + accepted synthetic + classic augmentation.

   In ``c`` and ``d`` the real rows are repeated whole until they are at least ``real_share``
   of the set (:func:`mix_real_and_synthetic`), so the samples do not drown them.

   Every arm of one experiment gets the same seed and the same number of optimizer steps
   (sized for the largest arm), so a gain is not bought with more updates, and seeds pair arms.
5. Test every arm on the real test split.

With ``label_scarce`` the rest of the training split (its labels never read by any model) is an
unlabeled pool, and three arms join, on the same N, seed and step budget:

   - ``e``: the FixMatch teacher (:mod:`gan_core.semisup`) trained on real N + the pool;
   - ``f``: real N + samples of a GAN trained on real N + the teacher's confident
     pseudo-labels over the pool, rejected by the teacher, + classic augmentation;
   - ``g``: real N + the pool with the teacher's pseudo-labels + classic augmentation (no GAN).

   ``f`` and ``g`` mix with ``real_share`` like ``d``. With N = all there is no pool, so they
   are skipped there.

:func:`summarize` turns the per-experiment results into mean +- std per (N, arm) and the 95 %
confidence interval of each arm's paired (by seed) gain against ``a`` and against ``b``
(Student t, two-sided). :func:`utility_png` plots accuracy against N.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Mapping

import numpy as np

from gan_core.experiments.utility.config import ARM_NAMES, RESULT_FORMAT, UtilityConfig, UtilityError
from gan_core.experiments.utility.label_scarce import ScarceInputs, label_scarce_arms
from gan_core.experiments.utility.mixing import mix_real_and_synthetic, repeat_to
from gan_core.io.fsutil import atomic_write_json

logger = logging.getLogger(__name__)


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
    from gan_core.quality import classifier
    from gan_core.config import JudgeConfig
    from gan_core.data import stratified_subset
    from gan_core.quality.judge_training import train_judge
    from gan_core.gan.sampling import load_generator
    from gan_core.quality.report import label_confidences
    from gan_core.gan.train import train_gan

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
        real_images,
        real_labels,
        model_config.for_data(num_classes, real_images.shape[1:]),
        train_config,
        Path(work_dir) / "gan",
        class_names=class_names,
    )
    seconds["gan"] = time.perf_counter() - tick
    gan_steps = train_config.steps

    # 2. Sample, then reject with a judge that saw the same N real images and nothing else.
    tick = time.perf_counter()
    generator = load_generator(trained.generator_dir)
    synthetic_images, synthetic_labels = generator.generate_per_class(config.synthetic_per_class, seed)
    judge_config = JudgeConfig(epochs=config.judge_epochs, seed=seed, augment=True)
    judge_images, judge_labels = repeat_to(
        real_images, real_labels, math.ceil(config.judge_min_steps * judge_config.batch_size / config.judge_epochs)
    )
    judge = train_judge(
        judge_images,
        judge_labels,
        test_images,
        test_labels,
        judge_config,
        cache_dir=None,
        num_classes=num_classes,
    )
    probabilities = judge.predict_proba(synthetic_images)
    accepted = label_confidences(probabilities, synthetic_labels) >= config.min_confidence
    label_fidelity = float(np.mean(np.argmax(probabilities, axis=1) == synthetic_labels))
    seconds["sample_and_judge"] = time.perf_counter() - tick
    per_class_accepted = np.bincount(synthetic_labels[accepted], minlength=num_classes)

    # 3. Four arms, one seed and one step budget, tested on the real test split.
    kept_images, kept_labels = synthetic_images[accepted], synthetic_labels[accepted]
    mixed_images, mixed_labels = mix_real_and_synthetic(
        real_images, real_labels, kept_images, kept_labels, config.real_share
    )
    arm_data = {
        "a": (real_images, real_labels, False),
        "b": (real_images, real_labels, True),
        "c": (mixed_images, mixed_labels, False),
        "d": (mixed_images, mixed_labels, True),
    }
    accuracy, train_sizes, scarce = {}, {}, None
    if config.label_scarce and size != 0:
        inputs = ScarceInputs(
            train_images=train_images,
            train_labels=train_labels,
            test_images=test_images,
            test_labels=test_labels,
            num_classes=num_classes,
            size=size,
            seed=seed,
            config=config,
            model_config=model_config,
            train_config=train_config,
            work_dir=Path(work_dir),
            class_names=class_names,
        )
        scarce = label_scarce_arms(inputs, seconds)
        arm_data.update(scarce.pop("arm_data"))
        accuracy["e"], train_sizes["e"] = scarce["teacher_test_accuracy"], n_real + scarce["pool_count"]
    elif config.label_scarce:
        logger.info("N=all leaves no unlabeled pool: the label-scarce arms are skipped")
    # Sized for the largest arm, so no arm's gain is bought with more updates.
    steps = classifier.training_steps(
        max(len(labels) for _, labels, _ in arm_data.values()),
        config.classifier_epochs,
        config.classifier_batch_size,
        config.classifier_min_steps,
    )
    for arm, (images, labels, augment) in arm_data.items():
        tick = time.perf_counter()
        model = classifier.train_classifier(
            images,
            labels,
            num_classes,
            epochs=0,
            batch_size=config.classifier_batch_size,
            seed=seed,
            augment=augment,
            min_steps=steps,
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
        **({} if scarce is None else {"label_scarce": scarce}),
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
        splits.train_images,
        splits.train_labels,
        splits.test_images,
        splits.test_labels,
        len(splits.class_names),
        size,
        seed,
        config,
        work_dir,
        class_names=splits.class_names,
        data_fingerprint=data_fingerprint,
    )
    save_result(path, result)
    return result, path, False
