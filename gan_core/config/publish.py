"""Where and how the dataset is published: :class:`PublishConfig`."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from gan_core.config._base import _Config, _pattern_check

_DATASET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


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
