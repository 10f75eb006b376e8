"""Arms e-g of a label-scarce experiment: the FixMatch teacher, its pseudo-labels and the GAN trained on them.

:func:`label_scarce_arms` takes one :class:`ScarceInputs` (what the experiment already drew and
chose) and returns the arms' training data and the facts the result file records.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_core.config import ModelConfig, TrainConfig
from gan_core.experiments.utility.config import UtilityConfig
from gan_core.experiments.utility.mixing import mix_real_and_synthetic

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScarceInputs:
    """One experiment's data, draw and GAN settings, as the label-scarce arms need them.

    Attributes:
        train_images: All real uint8 training images; the N labeled ones are drawn from them and
            the rest is the unlabeled pool.
        train_labels: Their labels (the pool's are read only to score the pseudo-labels).
        test_images: The real test split the teacher is tested on.
        test_labels: Their labels.
        num_classes: Number of classes.
        size: N, the real labeled images (not 0: with all of them there is no pool).
        seed: Seeds the draw, the teacher, the GAN and sampling.
        config: The benchmark's budgets and the teacher's settings.
        model_config: The GAN architecture of the experiment's other GAN.
        train_config: Its training config, reused for the label-scarce GAN.
        work_dir: The experiment's directory; the label-scarce GAN runs go below it.
        class_names: Written into the exported generator.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    num_classes: int
    size: int
    seed: int
    config: UtilityConfig
    model_config: ModelConfig
    train_config: TrainConfig
    work_dir: Path
    class_names: tuple[str, ...] | None = None


def label_scarce_arms(inputs: ScarceInputs, seconds: dict[str, float]) -> dict:
    """Teacher, pseudo-labels and the label-scarce GAN for arms e-g; returns their data and facts.

    The pool is every training image outside the stratified N (the same draw as the other
    arms'). Its labels are read once, after every model here is trained, only to score the
    pseudo-labels for the result file. The stages' durations are added to ``seconds``.
    """
    from gan_core.data import stratified_subset
    from gan_core.gan.sampling import load_generator
    from gan_core.gan.train import train_gan
    from gan_core.quality.judge import arrays_fingerprint
    from gan_core.quality.report import label_confidences
    from gan_core.semisup import train_teacher
    from gan_core.semisup.stage import confident_rows

    config, num_classes, seed = inputs.config, inputs.num_classes, inputs.seed
    train_images, train_labels = inputs.train_images, inputs.train_labels
    pseudo_config = config.teacher_config()
    # The stratified draw on row numbers gives the rows of the other arms' N images.
    chosen = stratified_subset(np.arange(len(train_labels)), train_labels, inputs.size, seed)[0]
    labeled_images, labeled_labels = train_images[chosen], train_labels[chosen].astype(np.int64)
    pool_rows = np.setdiff1d(np.arange(len(train_labels)), chosen)
    pool = train_images[pool_rows]
    tick = time.perf_counter()
    teacher = train_teacher(
        labeled_images,
        labeled_labels,
        pool,
        pseudo_config.teacher.model_copy(update={"num_classes": num_classes}),
        seed,
    )
    teacher_accuracy = teacher.accuracy(inputs.test_images, inputs.test_labels)
    probabilities = teacher.predict_proba(pool)
    confident = confident_rows(probabilities, pseudo_config.min_confidence, pseudo_config.max_per_class)
    pseudo_images, pseudo_labels = pool[confident], probabilities[confident].argmax(axis=1).astype(np.int64)
    seconds["teacher"] = time.perf_counter() - tick
    logger.info(
        "N=%d seed %d teacher: test accuracy %.4f; %d of %d pool images pseudo-labelled",
        inputs.size,
        seed,
        teacher_accuracy,
        len(pseudo_labels),
        len(pool),
    )

    # The GAN of this mode: real N + pseudo-labelled pool; its own run directory per pseudo set.
    tick = time.perf_counter()
    pseudo_digest = arrays_fingerprint(pseudo_images, pseudo_labels)[:12]
    trained = train_gan(
        np.concatenate([labeled_images, pseudo_images]),
        np.concatenate([labeled_labels, pseudo_labels]),
        inputs.model_config.for_data(num_classes, labeled_images.shape[1:]),
        inputs.train_config,
        inputs.work_dir / f"gan-scarce-{pseudo_digest}",
        class_names=inputs.class_names,
    )
    synthetic_images, synthetic_labels = load_generator(trained.generator_dir).generate_per_class(
        config.synthetic_per_class, seed
    )
    synthetic_probabilities = teacher.predict_proba(synthetic_images)
    accepted = label_confidences(synthetic_probabilities, synthetic_labels) >= config.min_confidence
    seconds["scarce_gan_sample_and_judge"] = time.perf_counter() - tick

    f_images, f_labels = mix_real_and_synthetic(
        labeled_images, labeled_labels, synthetic_images[accepted], synthetic_labels[accepted], config.real_share
    )
    g_images, g_labels = mix_real_and_synthetic(
        labeled_images, labeled_labels, pseudo_images, pseudo_labels, config.real_share
    )
    # Evaluation only, after every model above is trained: how right were the pseudo-labels?
    hidden = train_labels[pool_rows][confident]
    return {
        "arm_data": {"f": (f_images, f_labels, True), "g": (g_images, g_labels, True)},
        "teacher_test_accuracy": teacher_accuracy,
        "pool_count": int(len(pool)),
        "pseudo_config": pseudo_config.resolved(),
        "pseudo_labels": int(len(pseudo_labels)),
        "pseudo_per_class": np.bincount(pseudo_labels, minlength=num_classes).tolist(),
        "pseudo_label_accuracy": float(np.mean(hidden == pseudo_labels)) if len(hidden) else None,
        "gan_generator_hash": trained.generator_hash,
        "synthetic": {
            "generated": int(len(synthetic_labels)),
            "accepted": int(accepted.sum()),
            "acceptance_rate": float(accepted.mean()) if len(accepted) else 0.0,
            "label_fidelity_before_rejection": float(
                np.mean(np.argmax(synthetic_probabilities, axis=1) == synthetic_labels)
            ),
        },
    }
