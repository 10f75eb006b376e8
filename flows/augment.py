"""The ``augment`` flow: ingest -> train-GAN -> quality-check -> (gate) -> publish.

Run it with ``gan-augment run`` or ``python -m flows.augment``. TensorFlow is imported only
inside tasks, so reading this module (``prefect deploy``, the UI) stays fast.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from pydantic import Field

from flows.params import bounded, check_writable, default_of, describe_validation_error
from gan_core import __version__
from gan_core.data.splits import DataError
from gan_core.data.unlabeled import check_unlabeled_source
from gan_core.config import (
    DEFAULT_PROFILE,
    DEFAULT_WORK_ROOT,
    DURATION_PATTERN,
    MAX_STEPS,
    PROFILE_NAMES,
    ClusterConfig,
    DataConfig,
    GateThresholds,
    JudgeConfig,
    PrecisionPolicy,
    PseudoLabelConfig,
    PublishConfig,
    QualityConfig,
    TeacherConfig,
    TrainConfig,
    parse_duration,
    profile_configs,
)
from tasks.ingest import run_ingest
from tasks.pseudo_label import pseudo_label_task
from tasks.publish import publish_task
from gan_core.quality.gate import GateFailed
from tasks.quality import quality_task
from tasks.quality_dask import quality_task_on_dask
from tasks.train import train_task


# Who judges what in label-scarce mode, recorded in the manifest: the teacher made the labels the
# GAN was conditioned on, so it may reject but the label check must come from elsewhere.
LABEL_SCARCE_JUDGES = {
    "rejecting": "teacher (FixMatch on the N labeled images + the pool)",
    "label_check": "second judge (LeNet) trained on the N true labels only, no pseudo-labels",
    "accuracy_floors": "measured on the real test split's true labels",
}


class AugmentParameterError(ValueError):
    """A flow parameter is invalid; raised before any data is read or model trained."""


def _budget_seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise AugmentParameterError(f"invalid augment parameters: time_budget: {error}") from None


def default_dataset_name(source: str) -> str:
    """The published dataset's name when none is given: '<what the source names>-augmented'.

    MNIST routes give 'mnist-augmented'; a folder, Parquet path or IDX directory gives its last
    path component, a tfds source its builder, lowercased to the allowed characters.
    """
    if source in ("auto", "sample"):
        return "mnist-augmented"
    kind, _, rest = source.partition(":")
    if kind == "tfds":
        stem = rest.split(":")[0].split("/")[0]
    else:
        path = Path(rest.rstrip("/\\"))
        # A glob's own name is a pattern; its directory names the data.
        if any(char in path.name for char in "*?["):
            path = path.parent
        # Hugging Face keeps the shards in <name>/data/: the dataset is the folder above.
        stem = path.parent.name if path.name == "data" else path.stem
    slug = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")[:54]
    return f"{slug or 'dataset'}-augmented"


def build_configs(parameters: dict) -> dict:
    """Turns the flat flow parameters into one typed config per concern, validating everything.

    Raises:
        AugmentParameterError: the message names each bad parameter and what is allowed.
    """
    from pydantic import ValidationError

    p = parameters
    try:
        gate = GateThresholds(
            min_confidence=p["min_confidence"],
            max_label_fidelity_gap=p["max_label_fidelity_gap"],
            max_second_judge_gap=p["max_second_judge_gap"],
            max_fid_ratio=p["max_fid_ratio"],
            max_memorization_rate=p["max_memorization_rate"],
            min_coverage=p["min_coverage"],
            min_acceptance_rate=p["min_acceptance_rate"],
            min_judge_accuracy=p["min_judge_accuracy"],
        )
        model, train = profile_configs(p["profile"])
        # Parameters left empty keep the profile's value; the rest override it.
        overrides = {"steps": p["steps"], "batch_size": p["batch_size"], "checkpoint_every": p["checkpoint_every"]}
        overrides = {key: value for key, value in overrides.items() if value is not None}
        if p["time_budget"]:
            overrides["time_budget_seconds"] = _budget_seconds(p["time_budget"])
            # A time budget alone trains until it runs out; given steps still cap it.
            overrides.setdefault("steps", MAX_STEPS)
        configs = {
            "data": DataConfig(
                source=p["source"],
                image_size=p["image_size"],
                channels=p["channels"],
                test_fraction=p["test_fraction"],
                data_dir=p["data_dir"] or None,
                real_labeled_limit=p["real_labeled_limit"],
                seed=p["seed"],
                use_unlabeled=p["use_unlabeled"],
                unlabeled_source=p["unlabeled_source"],
            ),
            "model": model,
            "train": TrainConfig(**{**train.resolved(), **overrides, "precision": p["precision"], "seed": p["seed"]}),
            "judge": JudgeConfig(epochs=p["judge_epochs"], seed=p["seed"]),
            "quality": QualityConfig(
                samples_per_class=p["samples_per_class"],
                chunk_size=p["chunk_size"],
                gate=gate,
                gate_mode=p["gate"],
                seed=p["seed"],
                metrics=default_of(QualityConfig, "metrics") + (("cas",) if p["measure_cas"] else ()),
            ),
            "publish": PublishConfig(
                output_root=p["output_root"],
                dataset_name=p["dataset_name"] or default_dataset_name(p["source"]),
                include_real=p["include_real"],
            ),
            "cluster": ClusterConfig(workers=p["dask_workers"], address=p["dask_address"]),
            "pseudo": PseudoLabelConfig(
                teacher=TeacherConfig(**({} if p["teacher_steps"] is None else {"steps": p["teacher_steps"]})),
                min_confidence=p["pseudo_label_min_confidence"],
                max_per_class=p["pseudo_label_max_per_class"],
            ),
        }
    except ValidationError as error:
        raise AugmentParameterError(f"invalid augment parameters: {describe_validation_error(error)}") from None
    limit = configs["data"].real_labeled_limit
    draw = configs["train"].batch_size * configs["train"].discriminator_steps
    if limit is not None and limit < draw:
        raise AugmentParameterError(
            f"real_labeled_limit {limit} is smaller than the {draw} real images one training step draws "
            f"(batch_size {configs['train'].batch_size} x discriminator_steps {configs['train'].discriminator_steps}): "
            "lower batch_size or use more real images"
        )
    if configs["data"].use_unlabeled and configs["cluster"].enabled:
        raise AugmentParameterError(
            "use_unlabeled does not run the quality check on Dask yet: "
            "set dask_workers to 0 and leave dask_address empty"
        )
    if configs["data"].unlabeled_source is not None:
        try:
            check_unlabeled_source(configs["data"].unlabeled_source)
        except DataError as error:
            raise AugmentParameterError(f"unlabeled_source: {error}") from None
    for name, root in (("output_root", configs["publish"].output_root), ("work_root", Path(p["work_root"]))):
        try:
            check_writable(root)
        except OSError as error:
            raise AugmentParameterError(f"{name}: {error}") from None
    return configs


@flow(name="augment", description="Grow a labeled dataset with a class-conditional GAN, judge it, publish it.")
def augment(
    source: str = default_of(DataConfig, "source"),
    image_size: bounded(DataConfig, "image_size") = default_of(DataConfig, "image_size"),
    channels: Literal[1, 3] | None = default_of(DataConfig, "channels"),
    test_fraction: bounded(DataConfig, "test_fraction") = default_of(DataConfig, "test_fraction"),
    data_dir: str | None = default_of(DataConfig, "data_dir"),
    real_labeled_limit: bounded(DataConfig, "real_labeled_limit") = None,
    use_unlabeled: bool = default_of(DataConfig, "use_unlabeled"),
    unlabeled_source: str | None = default_of(DataConfig, "unlabeled_source"),
    dataset_name: str = "",
    output_root: str = str(default_of(PublishConfig, "output_root")),
    work_root: str = str(DEFAULT_WORK_ROOT),
    include_real: bool = default_of(PublishConfig, "include_real"),
    profile: Literal[PROFILE_NAMES] = DEFAULT_PROFILE,
    steps: bounded(TrainConfig, "steps") | None = None,
    time_budget: Annotated[str | None, Field(pattern=DURATION_PATTERN)] = None,
    batch_size: bounded(TrainConfig, "batch_size") | None = None,
    checkpoint_every: bounded(TrainConfig, "checkpoint_every") | None = None,
    precision: PrecisionPolicy = default_of(TrainConfig, "precision"),
    samples_per_class: bounded(QualityConfig, "samples_per_class") = default_of(QualityConfig, "samples_per_class"),
    judge_epochs: bounded(JudgeConfig, "epochs") = default_of(JudgeConfig, "epochs"),
    min_confidence: bounded(GateThresholds, "min_confidence") = default_of(GateThresholds, "min_confidence"),
    max_label_fidelity_gap: bounded(GateThresholds, "max_label_fidelity_gap") = default_of(
        GateThresholds, "max_label_fidelity_gap"
    ),
    max_second_judge_gap: bounded(GateThresholds, "max_second_judge_gap") = default_of(
        GateThresholds, "max_second_judge_gap"
    ),
    max_fid_ratio: bounded(GateThresholds, "max_fid_ratio") = default_of(GateThresholds, "max_fid_ratio"),
    max_memorization_rate: bounded(GateThresholds, "max_memorization_rate") = default_of(
        GateThresholds, "max_memorization_rate"
    ),
    min_coverage: bounded(GateThresholds, "min_coverage") = default_of(GateThresholds, "min_coverage"),
    min_acceptance_rate: bounded(GateThresholds, "min_acceptance_rate") = default_of(
        GateThresholds, "min_acceptance_rate"
    ),
    min_judge_accuracy: bounded(GateThresholds, "min_judge_accuracy") = default_of(
        GateThresholds, "min_judge_accuracy"
    ),
    gate: Literal["enforce", "warn"] = default_of(QualityConfig, "gate_mode"),
    measure_cas: bool = False,
    chunk_size: bounded(QualityConfig, "chunk_size") = default_of(QualityConfig, "chunk_size"),
    dask_workers: bounded(ClusterConfig, "workers") = default_of(ClusterConfig, "workers"),
    dask_address: str = default_of(ClusterConfig, "address"),
    pseudo_label_min_confidence: bounded(PseudoLabelConfig, "min_confidence") = default_of(
        PseudoLabelConfig, "min_confidence"
    ),
    pseudo_label_max_per_class: bounded(PseudoLabelConfig, "max_per_class") = default_of(
        PseudoLabelConfig, "max_per_class"
    ),
    teacher_steps: bounded(TeacherConfig, "steps") | None = None,
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = default_of(TrainConfig, "seed"),
) -> dict:
    """Grows a labeled dataset with a class-conditional GAN and publishes it if it passes the gate.

    Args:
        source: Real data: 'auto' (tfds mnist if prepared or downloadable, else the bundled
            8k/2k MNIST sample), 'sample', 'folder:DIRECTORY' (class folders: DIRECTORY/CLASS/FILE,
            or DIRECTORY/train|test/CLASS/FILE), 'parquet:FILE|DIRECTORY|GLOB' (a Hugging Face image
            dataset saved as Parquet, e.g. a version this project published), 'tfds:BUILDER'
            (any tfds image-classification builder) or 'idx:DIRECTORY' (MNIST IDX files).
        image_size: Resize every image to this square side, 16-64 (non-square images are
            center-cropped first, then resized with a Lanczos filter); empty keeps the data's own
            size, which must then be the same for every image.
        channels: Convert every image to 1 (grayscale) or 3 (RGB) channels; empty keeps the
            data's mode (grayscale if every image is grayscale, else RGB).
        test_fraction: Share of each class held out as the test split (seeded, stratified) when
            the data has no test split of its own (no test folder, file or tfds split).
        data_dir: tfds data directory; empty uses ~/tensorflow_datasets.
        real_labeled_limit: Use only this many labeled real training images (stratified);
            empty uses all. This is the limited-data case the project is for.
        use_unlabeled: Label-scarce mode (needs real_labeled_limit): keep the other training
            images as an unlabeled pool, their labels dropped at ingest; the labeled images are
            then a seeded draw that reads no label. A FixMatch teacher trained on both
            pseudo-labels the pool, the GAN trains on the labeled plus pseudo-labelled images,
            the teacher rejects samples and a second judge trained on the true labels alone
            checks their labels. Only the labeled images are ever published as real rows.
        unlabeled_source: More unlabeled images for the pool (needs use_unlabeled):
            'idx-images:FILE' (an IDX images file) or 'png-dir:DIRECTORY' (28x28 grayscale PNGs).
        dataset_name: Name of the published dataset (a directory under output_root); empty names
            it after the source, e.g. 'mnist-augmented' or '<folder name>-augmented'.
        output_root: Where published datasets live: a directory, or s3://BUCKET/PREFIX (credentials
            and endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL).
        work_root: Where snapshots, training runs, checkpoints and TensorBoard logs go.
        include_real: Also publish the real rows (train and test) beside the synthetic ones.
        profile: Training profile: 'default' (the main job, about 10 min on a 2-core CPU) or
            'quality' (about 45 min of training; what the nightly deployment runs).
        steps: GAN generator steps; empty uses the profile's. The budget does not grow with the
            dataset size.
        time_budget: Train the GAN for this long instead ('90s', '10m', '1h', '1h30m'), with a
            final checkpoint; with steps too, whichever comes first. A re-run with a larger
            budget resumes where the last one stopped.
        batch_size: GAN batch size; empty uses the profile's.
        checkpoint_every: Checkpoint every N steps; empty uses the profile's. A killed or
            failed run loses at most this many steps when run again.
        precision: 'auto' picks mixed_float16 on GPU and float32 on CPU.
        samples_per_class: Synthetic samples generated per class before rejection.
        judge_epochs: Epochs for the judge classifier trained on real data.
        min_confidence: Reject a sample whose judge confidence in its label is lower.
        max_label_fidelity_gap: Gate: the judge's accuracy on the conditioned labels may be at
            most this far below its accuracy on real test.
        max_second_judge_gap: Gate: a second judge (another architecture, no part in the
            rejection) must agree with the accepted rows' labels to within this of its own
            real-test accuracy.
        max_fid_ratio: Gate: FID(synthetic, real test) / FID(real train, real test) at most this.
        max_memorization_rate: Gate: share of near-copies of training images at most this.
        min_coverage: Gate: share of real test images whose neighbourhood holds a sample
            (Naeem et al. 2020, on judge features); low values mean mode collapse.
        min_acceptance_rate: Gate: share of samples surviving rejection at least this.
        min_judge_accuracy: Gate: floor on the judge's own accuracy on real test.
        gate: 'enforce' publishes nothing when a gate check fails; 'warn' computes every check
            and publishes anyway, marked as failed in the manifest, the card and the log.
        measure_cas: Also measure CAS: train the reference classifier on the generated samples
            alone (before rejection) and on as many real images, both tested on real test (two
            extra models, ~1 min).
        chunk_size: Samples generated, judged and staged at a time (a multiple of 1024); on
            Dask, one task per chunk.
        dask_workers: Score the samples on a local Dask cluster of this many worker processes
            (0: in this process). The output is the same for any number.
        dask_address: Scheduler address of an existing Dask cluster (tcp://HOST:PORT) to score
            the samples on; its workers need this package and the run's paths. Empty: none.
        pseudo_label_min_confidence: Label-scarce mode: a pool image joins the GAN's training
            set when the teacher's confidence in its predicted class is at least this.
        pseudo_label_max_per_class: Label-scarce mode: keep at most this many pseudo-labels per
            class, the most confident first, so easy classes do not dominate; empty keeps all.
        teacher_steps: Label-scarce mode: the teacher's training steps; empty uses the default
            (3000, about 6.5 min on a 2-core CPU).
        seed: Seed for subsetting, training, sampling, the teacher and the judge.

    Returns:
        A summary: the published version path, row counts, metrics and timings.
    """
    parameters = _parameters(locals())
    logger = get_run_logger()
    started_at = datetime.now(timezone.utc)
    wall_started = time.perf_counter()
    configs = build_configs(parameters)
    work_root_path = Path(work_root)
    cache_root, runs_root = work_root_path / "cache", work_root_path / "runs"

    stage_seconds: dict[str, float] = {}
    lap = time.perf_counter()

    def stage_done(name: str) -> None:
        nonlocal lap
        stage_seconds[name] = round(time.perf_counter() - lap, 1)
        lap = time.perf_counter()

    ingested = run_ingest(configs["data"], cache_root)
    stage_done("ingest")
    pseudo = None
    if configs["data"].use_unlabeled:
        pseudo = pseudo_label_task(ingested.snapshot_dir, configs["pseudo"], configs["data"].seed, str(cache_root))
        stage_done("pseudo_label")
    pseudo_path = None if pseudo is None else pseudo.pseudo_path
    training = train_task(ingested.snapshot_dir, configs["model"], configs["train"], str(runs_root), pseudo_path)
    stage_done("train")
    quality_args = (
        ingested.snapshot_dir,
        training.generator_dir,
        configs["judge"],
        configs["quality"],
        str(cache_root),
        training.run_dir,
        training.history,
    )
    if configs["cluster"].enabled:
        quality = quality_task_on_dask(configs["cluster"], *quality_args)
    else:
        quality = quality_task(*quality_args, None if pseudo is None else pseudo.teacher_dir, pseudo_path)
    stage_done("quality")
    if not quality.passed:
        nothing_to_publish = quality.num_accepted == 0 and not configs["publish"].include_real
        if configs["quality"].gate_mode == "enforce" or nothing_to_publish:
            raise GateFailed(quality.failures, quality.num_checks)
        logger.warning(
            "quality gate FAILED (%d of %d checks) but gate='warn': publishing anyway, marked as failed in the "
            "manifest and the card; do not train on it before reading the failures: %s",
            len(quality.failures),
            quality.num_checks,
            "; ".join(quality.failures),
        )

    # N and the unlabeled pool's size, in the manifest and the summary: what the labels were.
    labeled_data = {
        "real_labeled_limit": configs["data"].real_labeled_limit,
        "labeled_count": ingested.counts["train"]["total"],
        "use_unlabeled": configs["data"].use_unlabeled,
        "unlabeled_source": configs["data"].unlabeled_source,
        "pool_count": ingested.pool_count,
    }
    # Label-scarce mode: the teacher's real-test accuracy, tau, the count and the file's sha256.
    pseudo_labels = None if pseudo is None else {**pseudo.manifest(), "judges": LABEL_SCARCE_JUDGES}
    manifest_fields = {
        "source_requested": source,
        "source_used": ingested.source_used,
        "source_fingerprint": ingested.fingerprint,
        "split": ingested.split,
        "labeled_data": labeled_data,
        "pseudo_labels": pseudo_labels,
        "generator_hash": training.generator_hash,
        "parameters": parameters,
        # The model as trained: its class count and geometry come from the data.
        "configs": {**{name: config.resolved() for name, config in configs.items()}, "model": training.model_config},
        "training_run": Path(training.run_dir).name,
        "flow_run_id": _flow_run_id(),
        "metrics": quality.metrics,
        "metric_subsample": quality.metric_subsample,
        "label_agreement": quality.label_agreement,
        "gate": {**quality.gate, "mode": configs["quality"].gate_mode},
        "training": {
            "dtype_policy": training.dtype_policy,
            "profile": profile,
            "steps": training.steps,
            "time_budget_seconds": configs["train"].time_budget_seconds,
            "images_per_second": training.images_per_second,
            "train_seconds": training.train_seconds,
        },
        "flow_started_at": started_at.isoformat(),
    }
    published = publish_task(
        ingested.snapshot_dir, quality.accepted_path, configs["publish"], training.generator_hash, manifest_fields
    )
    stage_done("publish")
    summary = {
        "version_dir": published.version_dir,
        "version": published.version,
        "rows": published.rows,
        "rows_per_split": published.rows_per_split,
        "rows_per_source": published.rows_per_source,
        "source_used": ingested.source_used,
        "labeled_data": labeled_data,
        "pseudo_labels": pseudo_labels,
        "metrics": quality.metrics,
        "gate_passed": quality.passed,
        "images_per_second": training.images_per_second,
        "wall_seconds": round(time.perf_counter() - wall_started, 1),
        "stage_seconds": stage_seconds,
        "code_version": __version__,
    }
    logger.info("published %s: %s rows (%s)", summary["version_dir"], summary["rows"], summary["rows_per_source"])
    return summary


def _flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.get_id()


def _parameters(scope: dict) -> dict:
    names = augment.fn.__code__.co_varnames[: augment.fn.__code__.co_argcount]
    return {name: scope[name] for name in names}


if __name__ == "__main__":
    import os

    from flows.flow_cli import flow_main

    # The same settings as gan-augment (flows/cli.py), without importing it: it imports this module.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    sys.exit(flow_main(augment, sys.argv[1:], (AugmentParameterError, GateFailed), "python -m flows.augment"))
