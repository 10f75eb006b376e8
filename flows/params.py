"""Flow parameters that reuse the bounds declared once in ``gan_core.config``.

Flows take flat parameters so a partial override (UI form, ``--param k=v``, a deployment's
defaults) changes exactly the keys it names; nested models would be replaced whole and silently
reset their other fields. The bounds still live in one place: the concern's config model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError


def bounded(model: type[BaseModel], field: str) -> Any:
    """``Annotated[<field type>, <its constraints>]`` for a config field, for a flow signature."""
    info = model.model_fields[field]
    return Annotated[info.annotation, *info.metadata]


def default_of(model: type[BaseModel], field: str) -> Any:
    """The config field's default value (a default factory is called)."""
    return model.model_fields[field].get_default(call_default_factory=True)


def describe_validation_error(error: ValidationError) -> str:
    """One line naming every invalid field and why, for a user-facing error."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in error.errors())


def check_writable(directory: Path | str) -> None:
    """Creates ``directory`` if needed and proves a file can be written in it.

    An ``s3://`` URL gets the same proof with a small object (and an offline credentials check
    first), so a wrong endpoint, bucket or key fails here, before any training.

    Raises:
        OSError: with a message naming the directory (or URL) and the fix.
    """
    from gan_core.io import store

    if store.is_remote(directory):
        try:
            store.check_remote_writable(directory)
        except ValueError as error:
            raise OSError(str(error)) from None
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-probe-{time.time_ns()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise OSError(f"cannot write to {directory} ({error.strerror}): choose a writable directory") from None
