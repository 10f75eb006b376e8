"""The ``evaluate-augmentation`` flow: does GAN data help a classifier trained on N real images?

For each N in ``sizes`` and each seed it trains the cGAN on those N images only, rejects its
samples with a judge trained on the same N, and trains the reference classifier on four arms
(real; real + classic augmentation; real + synthetic; real + synthetic + classic augmentation),
all tested on the real test split (see :mod:`gan_core.experiments.utility`). A final task writes
``utility.json`` and ``utility.png`` and the Prefect table and markdown artifacts.

Run it with ``python -m flows.evaluate_augmentation`` or ``benchmarks/utility_benchmark.py``.
TensorFlow is imported only inside tasks, so reading this module stays fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from pydantic import Field

from flows.params import bounded, check_writable, default_of, describe_validation_error
from gan_core import __version__
from gan_core.config import DEFAULT_WORK_ROOT, DataConfig, PrecisionPolicy
from gan_core.experiments.utility import DEFAULT_OUTPUT_DIR, DEFAULT_SOURCE, UtilityConfig, experiment_name, preset
from tasks.evaluate import aggregate_task, experiment_task
from tasks.ingest import run_ingest


class EvaluateParameterError(ValueError):
    """A flow parameter is invalid; raised before any data is read or model trained."""


def _optional(field: str):
    return bounded(UtilityConfig, field) | None


def resolve_sizes(sizes: list) -> tuple[int, ...] | None:
    """Maps the flow's sizes (ints, 0 or "all" for all images) to UtilityConfig sizes (0 = all).

    Raises:
        EvaluateParameterError: an entry is neither a non-negative integer nor "all".
    """
    if sizes is None:
        return None
    resolved = []
    for size in sizes:
        if isinstance(size, str) and size.strip().lower() == "all":
            resolved.append(0)
        elif isinstance(size, int) and not isinstance(size, bool) and size >= 0:
            resolved.append(size)
        else:
            raise EvaluateParameterError(f"sizes entry {size!r} is not allowed: use a positive integer N, or 0 / 'all'")
    return tuple(resolved)


def build_config(parameters: dict) -> UtilityConfig:
    """Turns the flat flow parameters into a validated UtilityConfig (quick preset + overrides).

    Raises:
        EvaluateParameterError: the message names each bad parameter and what is allowed.
    """
    from pydantic import ValidationError

    p = dict(parameters)
    try:
        # The flow's budget parameters are UtilityConfig's fields; the empty ones keep the preset's.
        given = {name: p.get(name) for name in UtilityConfig.model_fields} | {"sizes": resolve_sizes(p.get("sizes"))}
        overrides = UtilityConfig.model_validate({name: value for name, value in given.items() if value is not None})
        config = preset(bool(p.get("quick")), overrides)
        DataConfig(source=p["source"], data_dir=p.get("data_dir"))
    except ValidationError as error:
        raise EvaluateParameterError(
            f"invalid evaluate-augmentation parameters: {describe_validation_error(error)}"
        ) from None
    for root in (Path(p["output_dir"]), Path(p["work_root"])):
        try:
            check_writable(root)
        except OSError as error:
            raise EvaluateParameterError(str(error)) from None
    return config


@flow(
    name="evaluate-augmentation",
    description="Downstream utility: classifier accuracy with and without GAN data, for N real images.",
)
def evaluate_augmentation(
    sizes: list[Annotated[int, Field(ge=0)] | Literal["all"]] | None = None,
    seeds: _optional("seeds") = None,
    gan_steps: _optional("gan_steps") = None,
    gan_batch_size: _optional("gan_batch_size") = None,
    diffaugment: str | None = None,
    synthetic_per_class: _optional("synthetic_per_class") = None,
    min_confidence: _optional("min_confidence") = None,
    real_share: _optional("real_share") = None,
    judge_epochs: _optional("judge_epochs") = None,
    judge_min_steps: _optional("judge_min_steps") = None,
    classifier_epochs: _optional("classifier_epochs") = None,
    classifier_min_steps: _optional("classifier_min_steps") = None,
    precision: PrecisionPolicy | None = None,
    label_scarce: bool = False,
    teacher_steps: _optional("teacher_steps") = None,
    pseudo_label_min_confidence: _optional("pseudo_label_min_confidence") = None,
    pseudo_label_max_per_class: _optional("pseudo_label_max_per_class") = None,
    source: str = DEFAULT_SOURCE,
    data_dir: str | None = default_of(DataConfig, "data_dir"),
    output_dir: str = str(DEFAULT_OUTPUT_DIR),
    work_root: str = str(DEFAULT_WORK_ROOT),
    quick: bool = False,
) -> dict:
    """Measures whether GAN samples improve a classifier trained on N real labeled images.

    Empty budget parameters take the full benchmark's values, or the quick preset's when
    ``quick`` is set (see ``gan_core.experiments.utility.UtilityConfig`` and ``QUICK``).

    Args:
        sizes: Real training set sizes N (stratified); 0 or "all" means every real training
            image. Empty: [100, 1000, "all"] (quick: [100]).
        seeds: Seeds per N (0..seeds-1); arms are paired by seed. Empty: 3 (quick: 2).
        gan_steps: GAN generator steps for every N; empty uses the default profile's.
        gan_batch_size: GAN batch size (capped at N).
        diffaugment: DiffAugment policies for the GAN, comma-separated from color, translation,
            cutout; '' switches it off. Empty keeps the training default.
        synthetic_per_class: Synthetic samples generated per class before rejection.
        min_confidence: Reject a sample whose judge confidence in its label is lower; the judge
            is trained on the same N real images only.
        real_share: Least share of real rows in the synthetic arms (c, d): the N real images
            are repeated to reach it, so thousands of samples do not drown them. 0 appends.
        judge_epochs: Epochs of that judge.
        judge_min_steps: Step floor of that judge (small N is repeated to reach it).
        classifier_epochs: Epochs of the reference classifier over the largest arm's data; all
            four arms get the same number of steps.
        classifier_min_steps: Step floor of the reference classifier (for small N).
        precision: GAN dtype policy; 'auto' is float32 on CPU.
        label_scarce: Also run the label-scarce arms where N < all: the rest of the training
            split is an unlabeled pool (labels never read), (e) a FixMatch teacher on real +
            pool, (f) real + samples of a GAN trained on real + the teacher's pseudo-labels,
            rejected by the teacher, + classic aug, (g) real + the pseudo-labelled pool + classic
            aug. Costs a teacher and a second GAN per experiment.
        teacher_steps: Label-scarce arms: teacher steps; empty uses the default (3000).
        pseudo_label_min_confidence: Label-scarce arms: a pool image is pseudo-labelled at this
            teacher confidence (empty: 0.95).
        pseudo_label_max_per_class: Label-scarce arms: at most this many pseudo-labels per
            class, most confident first; empty keeps all.
        source: Real data: 'sample' (the bundled 8k/2k MNIST sample), 'auto', 'tfds:<builder>'
            or 'idx:<directory>'.
        data_dir: tfds data directory; empty uses ~/tensorflow_datasets.
        output_dir: Where utility.json, utility.png and experiments/*.json are written.
        work_root: Where snapshots and the GAN runs (checkpoints) go.
        quick: Minutes instead of hours: one N, two seeds, tiny budgets.

    Returns:
        The summary: per-N statistics per arm, paired gains with 95 % CIs, table rows and the
        output paths.
    """
    parameters = {name: value for name, value in locals().items()}
    logger = get_run_logger()
    started = time.perf_counter()
    config = build_config(parameters)
    logger.info("utility benchmark config: %s", config.resolved())

    cache_root = Path(work_root) / "cache"
    snapshot_dir = run_ingest(DataConfig(source=source, data_dir=data_dir or None), cache_root).snapshot_dir
    paths = []
    for size in config.sizes:
        for seed in range(config.seeds):
            logger.info("experiment %s", experiment_name(size, seed))
            paths.append(experiment_task(snapshot_dir, size, seed, config, output_dir, work_root))
    summary = aggregate_task(paths, config, output_dir)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    summary["code_version"] = __version__
    return summary


if __name__ == "__main__":
    import os

    from flows.flow_cli import flow_main

    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    sys.exit(
        flow_main(
            evaluate_augmentation, sys.argv[1:], (EvaluateParameterError,), "python -m flows.evaluate_augmentation"
        )
    )
