"""The base of every config model and a pattern-validator factory shared by several of them."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator


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
