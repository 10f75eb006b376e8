"""What real data to ingest: :class:`DataConfig` and the source patterns it checks."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from gan_core.config._base import _Config, _pattern_check

_SOURCE_PATTERN = re.compile(r"^(auto|sample|tfds:[A-Za-z0-9_./:-]+|idx:.+)$")
_UNLABELED_SOURCE_PATTERN = re.compile(r"^(idx-images|png-dir):.+$")


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
