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

_SOURCE_PATTERN = re.compile(r"^(auto|sample|tfds:[A-Za-z0-9_./:-]+|idx:.+)$")
_DATASET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


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

    @field_validator("source")
    @classmethod
    def _check_source(cls, value: str) -> str:
        if not _SOURCE_PATTERN.match(value):
            raise ValueError(
                f"unknown source {value!r}: use 'auto', 'sample', 'tfds:<builder name>' "
                "(e.g. 'tfds:mnist') or 'idx:<directory with MNIST IDX files>'"
            )
        return value


class ModelConfig(_Config):
    """Architecture of the class-conditional generator and discriminator."""

    num_classes: int = Field(default=10, ge=2, le=1000)
    image_size: int = Field(default=28, description="Square image side; the models are built for 28.")
    channels: int = Field(default=1, ge=1, le=1)
    latent_dim: int = Field(default=64, ge=8, le=512)
    generator_width: int = Field(default=32, ge=8, le=512, description="Base channel count of G.")
    discriminator_width: int = Field(default=32, ge=8, le=512, description="Base channel count of D.")
    spectral_norm: bool = Field(default=True, description="Spectral normalisation on D's layers.")

    @field_validator("image_size")
    @classmethod
    def _check_size(cls, value: int) -> int:
        if value != 28:
            raise ValueError(f"image_size {value} is not supported: the models are built for 28x28")
        return value


class TrainConfig(_Config):
    """How the GAN is trained."""

    epochs: int = Field(default=30, ge=1, le=1000)
    batch_size: int = Field(default=64, ge=8, le=4096)
    generator_lr: float = Field(default=2e-4, gt=0, le=1e-1)
    discriminator_lr: float = Field(default=2e-4, gt=0, le=1e-1)
    beta_1: float = Field(default=0.0, ge=0, lt=1)
    beta_2: float = Field(default=0.99, gt=0, lt=1)
    loss: AdversarialLoss = "hinge"
    r1_gamma: float = Field(default=0.0, ge=0, description="R1 penalty weight; 0 disables it.")
    r1_interval: int = Field(default=4, ge=1, description="Apply R1 every N steps (lazy R1).")
    diffaugment: str = Field(
        default="translation",
        description="Comma-separated DiffAugment policies (color, translation, cutout); '' disables.",
    )
    ema_decay: float = Field(default=0.999, ge=0, lt=1, description="EMA of G's weights; 0 disables.")
    precision: PrecisionPolicy = "auto"
    seed: int = Field(default=0, ge=0)
    checkpoint_keep: int = Field(default=3, ge=1, le=100)
    steps_per_epoch: int | None = Field(
        default=None, ge=1, description="Cap on steps per epoch; None runs the whole data once."
    )

    @field_validator("diffaugment")
    @classmethod
    def _check_policies(cls, value: str) -> str:
        known = {"color", "translation", "cutout"}
        unknown = [p for p in value.split(",") if p and p not in known]
        if unknown:
            raise ValueError(f"unknown DiffAugment policies {unknown}: choose from {sorted(known)}")
        return value


class JudgeConfig(_Config):
    """The real-data classifier that scores synthetic samples."""

    epochs: int = Field(default=15, ge=1, le=200)
    batch_size: int = Field(default=128, ge=8, le=4096)
    learning_rate: float = Field(default=2e-3, gt=0, le=1, description="Peak Adam rate, cosine-decayed to 0.")
    augment: bool = Field(default=True, description="Random shifts while training the judge.")
    seed: int = Field(default=0, ge=0)


class GateThresholds(_Config):
    """Quality bar a run must clear before anything is published.

    Each ``min_*`` / ``max_*`` check may be set to None to switch it off explicitly; a check that
    is on but whose metric was not computed fails the gate instead of passing silently.
    """

    min_confidence: float = Field(
        default=0.9, ge=0, le=1,
        description="Per-sample rejection: drop samples whose judge confidence in their label is lower.",
    )
    min_label_fidelity: float | None = Field(
        default=0.9, ge=0, le=1,
        description="Judge accuracy on the conditioned labels, before rejection, must reach this.",
    )
    max_fid_ratio: float | None = Field(
        default=25.0, gt=0,
        description="FID(synthetic, real test) may be at most this multiple of FID(real train, real test).",
    )
    max_memorization_rate: float | None = Field(
        default=0.05, ge=0, le=1,
        description="Share of samples closer to a train image than the 1st percentile of test-to-train distances.",
    )
    min_coverage: float | None = Field(
        default=0.5, ge=0, le=1,
        description="Coverage (Naeem et al. 2020) of real test by the samples: catches within-class mode collapse.",
    )
    min_acceptance_rate: float | None = Field(
        default=0.5, ge=0, le=1, description="Share of samples that must survive rejection."
    )
    min_judge_accuracy: float | None = Field(
        default=0.95, ge=0, le=1, description="The judge itself must be at least this accurate on real test."
    )


class QualityConfig(_Config):
    """How synthetic samples are generated and scored."""

    samples_per_class: int = Field(default=500, ge=1, le=100_000)
    metrics: tuple[str, ...] = Field(
        default=(
            "label_fidelity",
            "fid",
            "memorization",
            "class_balance",
            "classifier_score",
            "precision_recall",
            "density_coverage",
            "data_copying",
        ),
        description="Registered metric names to compute (see gan_core.metrics.available()); 'cas' trains two extra models.",
    )
    gate: GateThresholds = GateThresholds()
    seed: int = Field(default=0, ge=0)

    @field_validator("metrics")
    @classmethod
    def _check_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Imported here: the registry module is light (numpy only) but config must not depend on
        # it at import time.
        from gan_core import metrics

        unknown = [name for name in value if name not in metrics.available()]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}: choose from {metrics.available()}")
        return value


class PublishConfig(_Config):
    """Where and how the dataset is published."""

    output_root: Path = Field(default=Path("outputs/datasets"))
    dataset_name: str = Field(default="mnist-augmented")
    include_real: bool = Field(default=False, description="Also publish the real rows (train and test).")
    rows_per_shard: int = Field(default=10_000, ge=100, le=1_000_000)

    @field_validator("dataset_name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _DATASET_NAME_PATTERN.match(value):
            raise ValueError(
                f"dataset_name {value!r} is not allowed: use 1-64 lowercase letters, digits, '-' "
                "or '_', starting with a letter or digit (it becomes a directory name)"
            )
        return value

    @model_validator(mode="after")
    def _check_root(self) -> "PublishConfig":
        if self.output_root.exists() and not self.output_root.is_dir():
            raise ValueError(f"output_root {self.output_root} exists and is not a directory")
        return self
