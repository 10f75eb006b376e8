"""What real data to ingest: :class:`DataConfig` and the source patterns it checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gan_core.config._base import _Config, _pattern_check

_SOURCE_PATTERN = re.compile(r"^(auto|sample|tfds:[A-Za-z0-9_./:-]+|(idx|folder|parquet):.+)$")
_UNLABELED_SOURCE_PATTERN = re.compile(r"^(idx-images|png-dir|folder):.+$")
# The square sides every stage is built for (gan_core.imaging.MIN_SIDE / MAX_SIDE).
_MIN_SIDE, _MAX_SIDE = 16, 64


class DataConfig(_Config):
    """What real data to ingest and how much of it to use."""

    source: str = Field(
        default="auto",
        description=(
            "Where real images come from: 'auto' (prepared or downloadable tfds mnist, else the "
            "bundled sample), 'sample' (the bundled 8k/2k MNIST sample), 'folder:<dir>' (class folders, "
            "<dir>/<class>/<file> or <dir>/<split>/<class>/<file>), 'parquet:<file|dir|glob>' (a Hugging "
            "Face image dataset saved as Parquet), 'tfds:<builder>' or 'idx:<directory of MNIST IDX files>'."
        ),
    )
    image_size: int | None = Field(
        default=None,
        ge=_MIN_SIDE,
        le=_MAX_SIDE,
        description=(
            "Resize every image to this square side (center crop of non-square images first, then Lanczos); "
            "None keeps the data's own size, which must then be uniform, square and 16-64 px."
        ),
    )
    channels: Literal[1, 3] | None = Field(
        default=None,
        description=(
            "Convert every image to 1 (grayscale) or 3 (RGB) channels; None keeps the data's own: 1 if every "
            "image is grayscale, else 3 (grayscale images replicated)."
        ),
    )
    test_fraction: float = Field(
        default=0.2,
        ge=0.05,
        le=0.5,
        description=(
            "Share of each class held out as the test split (seeded, stratified) when the data has no test "
            "split of its own."
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
            "More unlabeled images for the pool: 'folder:<directory of images>' (any size and mode, converted "
            "like the labeled data), 'idx-images:<IDX images file>' or 'png-dir:<directory of PNGs>'. Needs "
            "use_unlabeled."
        ),
    )

    _check_source = _pattern_check(
        "source",
        _SOURCE_PATTERN,
        "unknown source {value!r}: use 'auto', 'sample', 'folder:<directory of class folders>', "
        "'parquet:<file, directory or glob>', 'tfds:<builder name>' (e.g. 'tfds:mnist') or "
        "'idx:<directory with MNIST IDX files>'",
    )

    @field_validator("unlabeled_source")
    @classmethod
    def _check_unlabeled_source(cls, value: str | None) -> str | None:
        # An empty string is how a form or a CLI flag says "none".
        if value is None or not value.strip():
            return None
        if not _UNLABELED_SOURCE_PATTERN.match(value):
            raise ValueError(
                f"unknown unlabeled_source {value!r}: use 'folder:<directory of images>', "
                "'idx-images:<IDX images file>' or 'png-dir:<directory of PNGs>'"
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
