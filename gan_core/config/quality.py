"""Judging and gating samples, and where the quality stage's shards run (:class:`ClusterConfig`)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gan_core.config._base import _Config, _pattern_check

# Samples are generated and judged in blocks of this size; a streaming chunk is whole blocks.
STREAM_BLOCK = 1024


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
    gate_mode: Literal["enforce", "warn"] = Field(
        default="enforce",
        description=(
            "'enforce' publishes nothing when a gate check fails; 'warn' computes every check and publishes "
            "anyway, marked as failed in the manifest, the card and the log (for exploration and plumbing tests)."
        ),
    )
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
