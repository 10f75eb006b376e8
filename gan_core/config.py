"""Typed configuration, one model per concern.

Every stage takes exactly one of these. They validate on construction, so a bad value fails
with a message naming the field before any expensive work starts. ``resolved()`` dumps are
written into run directories and manifests so a run can be reproduced.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PrecisionPolicy = Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"]
AdversarialLoss = Literal["hinge", "non_saturating"]
GeneratorArch = Literal["concat", "cbn", "resnet"]
LearningRateDecay = Literal["constant", "linear"]

# Samples are generated and judged in blocks of this size; a streaming chunk is whole blocks.
STREAM_BLOCK = 1024

_SOURCE_PATTERN = re.compile(r"^(auto|sample|tfds:[A-Za-z0-9_./:-]+|idx:.+)$")
_UNLABELED_SOURCE_PATTERN = re.compile(r"^(idx-images|png-dir):.+$")
_DATASET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _pattern_check(field: str, pattern: re.Pattern, message: str):
    """A validator of ``field`` raising ValueError(``message`` formatted with ``value``) unless ``pattern`` matches."""

    def check(cls, value: str) -> str:
        if not pattern.match(value):
            raise ValueError(message.format(value=value))
        return value

    return field_validator(field)(check)


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def resolved(self) -> dict:
        """Returns a JSON-ready dict of every field, defaults included."""
        return self.model_dump(mode="json")


class DataConfig(_Config):
    """What real data to ingest and how much of it to use."""

    source: str = Field(
        default="auto",
        description=(
            "Where real images come from: 'auto' (prepared or downloadable tfds mnist, else the "
            "bundled sample), 'sample' (the bundled 8k/2k MNIST sample), 'tfds:<builder>' or "
            "'idx:<directory of MNIST IDX files>'."
        ),
    )
    data_dir: Path | None = Field(
        default=None, description="tfds data_dir; None uses tfds' default (~/tensorflow_datasets)."
    )
    real_labeled_limit: int | None = Field(
        default=None,
        ge=10,
        description="Use only this many labeled real training images (stratified). None uses all.",
    )
    seed: int = Field(default=0, ge=0, description="Seed for the stratified subset.")
    use_unlabeled: bool = Field(
        default=False,
        description=(
            "Label-scarce mode: keep the training images beyond real_labeled_limit as an unlabeled pool "
            "(their labels are dropped at ingest). The labeled images are then a seeded sample chosen "
            "without reading any label."
        ),
    )
    unlabeled_source: str | None = Field(
        default=None,
        description=(
            "More unlabeled images for the pool: 'idx-images:<IDX images file>' or 'png-dir:<directory of "
            "28x28 grayscale PNGs>'. Needs use_unlabeled."
        ),
    )

    _check_source = _pattern_check(
        "source",
        _SOURCE_PATTERN,
        "unknown source {value!r}: use 'auto', 'sample', 'tfds:<builder name>' "
        "(e.g. 'tfds:mnist') or 'idx:<directory with MNIST IDX files>'",
    )

    @field_validator("unlabeled_source")
    @classmethod
    def _check_unlabeled_source(cls, value: str | None) -> str | None:
        # An empty string is how a form or a CLI flag says "none".
        if value is None or not value.strip():
            return None
        if not _UNLABELED_SOURCE_PATTERN.match(value):
            raise ValueError(
                f"unknown unlabeled_source {value!r}: use 'idx-images:<IDX images file>' or "
                "'png-dir:<directory of 28x28 grayscale PNGs>'"
            )
        return value

    @model_validator(mode="after")
    def _check_pool(self) -> "DataConfig":
        if self.use_unlabeled and self.real_labeled_limit is None:
            raise ValueError(
                "use_unlabeled needs real_labeled_limit: set it to the number of labeled images to keep "
                "(the rest of the training split becomes the unlabeled pool)"
            )
        if self.unlabeled_source is not None and not self.use_unlabeled:
            raise ValueError(
                f"unlabeled_source {self.unlabeled_source!r} is set but use_unlabeled is off: turn "
                "use_unlabeled on (and set real_labeled_limit), or drop unlabeled_source"
            )
        return self


class ModelConfig(_Config):
    """Architecture of the class-conditional generator and discriminator."""

    num_classes: int = Field(default=10, ge=2, le=1000)
    image_size: int = Field(default=28, description="Square image side; the models are built for 28.")
    channels: int = Field(default=1, ge=1, le=1)
    latent_dim: int = Field(default=64, ge=8, le=512)
    generator_arch: GeneratorArch = Field(
        default="resnet",
        description="'concat' (label embedding at the input), 'cbn' (conditional BatchNorm) or 'resnet' (cbn with residual blocks).",
    )
    generator_width: int = Field(default=16, ge=8, le=512, description="Base channel count of G.")
    discriminator_width: int = Field(default=32, ge=8, le=512, description="Base channel count of D.")
    spectral_norm: bool = Field(default=True, description="Spectral normalisation on D's layers.")

    @field_validator("image_size")
    @classmethod
    def _check_size(cls, value: int) -> int:
        if value != 28:
            raise ValueError(f"image_size {value} is not supported: the models are built for 28x28")
        return value


# Where 'auto' DiffAugment switches off. Translation keeps D from memorising a small set (the
# utility benchmark's GANs on 100 and 1,000 images use it); on the 8,000-image sample it cost CAS
# 0.904 -> 0.9505 (README, "How good are the samples?"). The crossover in between is not measured.
DIFFAUGMENT_AUTO_MAX_IMAGES = 2000


class TrainConfig(_Config):
    """How the GAN is trained.

    The budget is counted in generator steps, not epochs, so it does not grow with the dataset:
    each step draws ``discriminator_steps`` batches of ``batch_size`` real images.
    """

    steps: int = Field(
        default=3388,
        ge=1,
        le=10_000_000,
        description="Generator steps to train for (the default is 5 minutes of the bare step on a 2-core CPU).",
    )
    batch_size: int = Field(default=64, ge=8, le=4096)
    discriminator_steps: int = Field(default=1, ge=1, le=5, description="D updates per G update.")
    generator_lr: float = Field(default=2e-4, gt=0, le=1e-1)
    discriminator_lr: float = Field(default=2e-4, gt=0, le=1e-1)
    beta_1: float = Field(default=0.0, ge=0, lt=1)
    beta_2: float = Field(default=0.99, gt=0, lt=1)
    lr_decay: LearningRateDecay = Field(
        default="constant", description="'linear' decays both rates to 0 over the second half of the steps."
    )
    loss: AdversarialLoss = "hinge"
    r1_gamma: float = Field(default=0.0, ge=0, description="R1 penalty weight; 0 disables it.")
    r1_interval: int = Field(default=4, ge=1, description="Apply R1 every N steps (lazy R1).")
    lecam_weight: float = Field(
        default=0.0, ge=0, description="LeCam regularisation of D (Tseng et al. 2021); 0 disables it."
    )
    mode_seeking_weight: float = Field(
        default=0.1, ge=0, description="Mode-seeking term of G (MSGAN, Mao et al. 2019); 0 disables it."
    )
    diffaugment: str = Field(
        default="auto",
        description=(
            "Comma-separated DiffAugment policies (color, translation, cutout); '' disables; 'auto' is "
            f"translation below {DIFFAUGMENT_AUTO_MAX_IMAGES:,} training images and off from there."
        ),
    )
    ema_decay: float = Field(default=0.999, ge=0, lt=1, description="EMA of G's weights; 0 disables.")
    ema_start: int = Field(default=0, ge=0, description="Step at which the EMA starts averaging (a copy of G before).")
    precision: PrecisionPolicy = "auto"
    seed: int = Field(default=0, ge=0)
    checkpoint_every: int = Field(default=1000, ge=1, description="Checkpoint (and sample grid) every N steps.")
    log_every: int = Field(default=250, ge=1, description="Log losses and throughput every N steps.")
    checkpoint_keep: int = Field(default=3, ge=1, le=100)

    @field_validator("diffaugment")
    @classmethod
    def _check_policies(cls, value: str) -> str:
        if value == "auto":
            return value
        known = {"color", "translation", "cutout"}
        unknown = [p for p in value.split(",") if p and p not in known]
        if unknown:
            raise ValueError(f"unknown DiffAugment policies {unknown}: choose from {sorted(known)}")
        return value

    def for_training_set(self, num_images: int) -> "TrainConfig":
        """This config with ``diffaugment='auto'`` resolved for a training set of ``num_images``."""
        if self.diffaugment != "auto":
            return self
        policy = "translation" if num_images < DIFFAUGMENT_AUTO_MAX_IMAGES else ""
        return self.model_copy(update={"diffaugment": policy})


# TrainConfig fields a run may change and still resume: more steps extend it, and how often it
# logs or checkpoints does not change what it computes.
EXTENDABLE_TRAIN_FIELDS = ("steps", "log_every", "checkpoint_every", "checkpoint_keep")


class JudgeConfig(_Config):
    """The real-data classifier that scores synthetic samples."""

    architecture: Literal["cnn", "lenet"] = Field(
        default="cnn",
        description="'cnn' (the rejecting judge) or 'lenet' (the reference classifier's layout; the second judge).",
    )
    epochs: int = Field(default=15, ge=1, le=200)
    batch_size: int = Field(default=128, ge=8, le=4096)
    learning_rate: float = Field(default=2e-3, gt=0, le=1, description="Peak Adam rate, cosine-decayed to 0.")
    augment: bool = Field(default=True, description="Random shifts while training the judge.")
    seed: int = Field(default=0, ge=0)


class TeacherConfig(_Config):
    """The semi-supervised teacher (FixMatch-style) trained on few labels plus the unlabeled pool.

    Each step draws ``batch_size`` labeled and ``unlabeled_ratio * batch_size`` pool images. A pool
    image's prediction on a weak view (small shifts) becomes its pseudo-label when its confidence
    reaches ``threshold``, and the model is trained to predict it on a strong view (shifts,
    rotation, scale, shear, contrast, cutout): Sohn et al. 2020.
    """

    architecture: Literal["cnn", "lenet"] = Field(
        default="lenet",
        description="'lenet' (the reference classifier's layout, the faster) or 'cnn' (the judge's, with BatchNorm).",
    )
    num_classes: int = Field(default=10, ge=2, le=1000)
    steps: int = Field(
        default=3000,
        ge=1,
        le=10_000_000,
        description="Optimizer steps (7.7 steps/s was measured on a busy 2-core CPU: 3000 take about 6.5 minutes).",
    )
    batch_size: int = Field(default=32, ge=1, le=4096, description="Labeled images per step.")
    unlabeled_ratio: int = Field(default=5, ge=1, le=64, description="mu: pool images per labeled image in a step.")
    threshold: float = Field(default=0.95, ge=0, le=1, description="tau: confidence a pseudo-label needs to count.")
    unlabeled_weight: float = Field(default=1.0, ge=0, le=100, description="lambda_u: weight of the pool's loss.")
    learning_rate: float = Field(default=2e-3, gt=0, le=1, description="Peak Adam rate, cosine-decayed to 0.")
    ema_decay: float = Field(default=0.99, ge=0, lt=1, description="EMA of the weights used to predict; 0 disables.")
    weak_shift_pixels: int = Field(default=2, ge=0, le=8, description="Weak view: integer shifts up to this.")
    strong_shift_pixels: int = Field(default=4, ge=0, le=10, description="Strong view: shifts up to this.")
    strong_rotation_degrees: float = Field(default=25.0, ge=0, le=90, description="Strong view: rotations up to this.")
    cutout_pixels: int = Field(
        default=10, ge=0, le=28, description="Strong view: side of the blanked square; 0 disables."
    )
    log_every: int = Field(default=100, ge=1, description="Log losses and the pseudo-label rate every N steps.")


class PseudoLabelConfig(_Config):
    """Label-scarce mode: which of the teacher's pool predictions become GAN training labels."""

    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    min_confidence: float = Field(
        default=0.95,
        ge=0,
        le=1,
        description="A pool image is pseudo-labelled when the teacher's top class probability is at least this.",
    )
    max_per_class: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="Keep at most this many pseudo-labels per class, the most confident first; None keeps all.",
    )


def _fraction(default: float | None, description: str):
    """A threshold that is a share, in [0, 1]."""
    return Field(default=default, ge=0, le=1, description=description)


class GateThresholds(_Config):
    """Quality bar a run must clear before anything is published.

    Each ``min_*`` / ``max_*`` check may be set to None to switch it off explicitly; a check that
    is on but whose metric was not computed fails the gate instead of passing silently.
    """

    min_confidence: float = _fraction(
        0.9,
        "Per-sample rejection: drop samples whose judge confidence in their label is lower.",
    )
    max_label_fidelity_gap: float | None = _fraction(
        0.1,
        (
            "The judge's accuracy on the conditioned labels (before rejection) may fall at most this far "
            "below its accuracy on real test: relative, so it holds for datasets harder than MNIST."
        ),
    )
    max_second_judge_gap: float | None = _fraction(
        0.03,
        (
            "A second judge that did no rejection (another architecture) must agree with the accepted rows' "
            "labels to within this of its own accuracy on real test."
        ),
    )
    max_fid_ratio: float | None = Field(
        default=25.0,
        gt=0,
        description="FID(synthetic, real test) may be at most this multiple of FID(real train, real test).",
    )
    max_memorization_rate: float | None = _fraction(
        0.05,
        "Share of samples closer to a train image than the 1st percentile of test-to-train distances.",
    )
    min_coverage: float | None = _fraction(
        0.5,
        "Coverage (Naeem et al. 2020) of real test by the samples: catches within-class mode collapse.",
    )
    min_acceptance_rate: float | None = Field(
        default=0.5, ge=0, le=1, description="Share of samples that must survive rejection."
    )
    min_judge_accuracy: float | None = _fraction(
        0.85,
        "Floor on the judge's own accuracy on real test: below it, its scores are not worth gating on.",
    )


def _default_metrics() -> tuple[str, ...]:
    # The registry keeps the one list; imported on use so config does not import it at import time.
    from gan_core.quality.metrics import DEFAULT_METRICS

    return DEFAULT_METRICS


class QualityConfig(_Config):
    """How synthetic samples are generated and scored."""

    samples_per_class: int = Field(default=500, ge=1, le=100_000)
    metrics: tuple[str, ...] = Field(
        default_factory=_default_metrics,
        description="Registered metric names to compute (see gan_core.quality.metrics.available()); 'cas' trains two extra models.",
    )
    gate: GateThresholds = GateThresholds()
    second_judge: bool = Field(
        default=True, description="Train a second judge (LeNet layout) and report its agreement with the accepted rows."
    )
    chunk_size: int = Field(
        default=16 * STREAM_BLOCK,
        ge=STREAM_BLOCK,
        le=1024 * STREAM_BLOCK,
        description=(
            f"Samples generated, judged and staged at a time (a multiple of {STREAM_BLOCK}); peak memory "
            "grows with it, never with samples_per_class."
        ),
    )
    metric_subsample: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description=(
            "Metrics over pairs of points (FID, precision/recall, density/coverage, memorization, C_T) use "
            "at most this many samples, drawn with the seed; counts use every sample."
        ),
    )
    seed: int = Field(default=0, ge=0)

    @field_validator("chunk_size")
    @classmethod
    def _check_chunk(cls, value: int) -> int:
        # Generation and the judge both work in blocks of STREAM_BLOCK; whole blocks per chunk keep
        # every sample (and so every published byte) the same whatever the chunk size.
        if value % STREAM_BLOCK:
            lower = max(STREAM_BLOCK, value // STREAM_BLOCK * STREAM_BLOCK)
            raise ValueError(
                f"chunk_size {value} is not a multiple of {STREAM_BLOCK}: use {lower} or "
                f"{lower + STREAM_BLOCK} (chunks are whole blocks of {STREAM_BLOCK} samples)"
            )
        return value

    @field_validator("metrics")
    @classmethod
    def _check_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Imported here: the registry module is light (numpy only) but config must not depend on
        # it at import time.
        from gan_core.quality import metrics

        unknown = [name for name in value if name not in metrics.available()]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}: choose from {metrics.available()}")
        return value


class PublishConfig(_Config):
    """Where and how the dataset is published."""

    output_root: Path | str = Field(
        default=Path("outputs/datasets"),
        description="A local directory (a Path) or an object-store URL s3://BUCKET/PREFIX (a str).",
    )
    dataset_name: str = Field(default="mnist-augmented")
    include_real: bool = Field(default=False, description="Also publish the real rows (train and test).")
    rows_per_shard: int = Field(default=10_000, ge=100, le=1_000_000)

    _check_name = _pattern_check(
        "dataset_name",
        _DATASET_NAME_PATTERN,
        "dataset_name {value!r} is not allowed: use 1-64 lowercase "
        "letters, digits, '-' or '_', starting with a letter or digit (it becomes a directory name)",
    )

    @field_validator("output_root", mode="before")
    @classmethod
    def _parse_root(cls, value: object) -> object:
        from gan_core.io.store import as_target

        # Local strings become Paths and URLs are checked (scheme, bucket) without any request.
        return as_target(value, "output_root") if isinstance(value, (str, Path)) else value

    @model_validator(mode="after")
    def _check_root(self) -> "PublishConfig":
        if isinstance(self.output_root, Path) and self.output_root.exists() and not self.output_root.is_dir():
            raise ValueError(f"output_root {self.output_root} exists and is not a directory")
        return self


_DASK_ADDRESS_PATTERN = re.compile(r"^(tcp|tls|ucx)://[A-Za-z0-9_.\-\[\]:]+:[0-9]{1,5}$")


class ClusterConfig(_Config):
    """Where the quality stage's shards run: in process, on a local Dask cluster, or on an existing one."""

    workers: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Dask worker processes of a LocalCluster started for the run; 0 scores in process.",
    )
    address: str = Field(
        default="",
        description="Scheduler of an existing Dask cluster, e.g. 'tcp://10.0.0.5:8786'; empty starts none.",
    )

    _check_address = _pattern_check(
        "address",
        re.compile(f"^$|{_DASK_ADDRESS_PATTERN.pattern}"),
        "dask_address {value!r} is not a scheduler address: use 'tcp://HOST:PORT' (or tls://, ucx://), "
        "or leave it empty",
    )

    @model_validator(mode="after")
    def _one_cluster(self) -> "ClusterConfig":
        if self.address and self.workers:
            raise ValueError(
                f"dask_workers is {self.workers} but dask_address is set: an existing cluster brings its own "
                "workers, so leave dask_workers at 0"
            )
        return self

    @property
    def enabled(self) -> bool:
        """True when shards run on Dask."""
        return bool(self.workers or self.address)


# Where snapshots, the ingest and judge caches and training runs go: a path of the whole run, so
# it belongs to no one stage's config.
DEFAULT_WORK_ROOT = Path("outputs/work")
DEFAULT_PROFILE = "default"

PROFILE_NAMES = Literal["default", "quality"]

# Named training budgets, each one parameter away (flow parameter ``profile``). Values are the
# fields that differ from the config defaults; README "How good are the samples?" shows the
# measurements that chose them.
TRAINING_PROFILES: dict[str, dict[str, dict]] = {
    "default": {"model": {}, "train": {}},
    # The default's settings for about 45 minutes of the bare step here. Measured with translation DiffAugment at 30,000 steps; 'auto' (off on 8k) is measured only at
    # the default's 3,388, and a longer run is where D overfits most, so it stays pinned here.
    "quality": {"model": {}, "train": {"steps": 30000, "diffaugment": "translation"}},
}


def profile_configs(name: str) -> tuple[ModelConfig, TrainConfig]:
    """The (ModelConfig, TrainConfig) of a named training profile.

    Raises:
        ValueError: unknown profile name.
    """
    if name not in TRAINING_PROFILES:
        raise ValueError(f"unknown training profile {name!r}: choose from {sorted(TRAINING_PROFILES)}")
    profile = TRAINING_PROFILES[name]
    return ModelConfig(**profile["model"]), TrainConfig(**profile["train"])
