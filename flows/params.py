"""Flow parameters that reuse the bounds declared once in ``gan_core.config``.

Flows take flat parameters so a partial override (UI form, ``--param k=v``, a deployment's
defaults) changes exactly the keys it names; nested models would be replaced whole and silently
reset their other fields. The bounds still live in one place: the concern's config model.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel


def bounded(model: type[BaseModel], field: str) -> Any:
    """``Annotated[<field type>, <its constraints>]`` for a config field, for a flow signature."""
    info = model.model_fields[field]
    return Annotated[info.annotation, *info.metadata]


def default_of(model: type[BaseModel], field: str) -> Any:
    """The config field's default value."""
    return model.model_fields[field].default
