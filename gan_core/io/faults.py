"""Fault injection for the reliability tests; does nothing unless ``GAN_AUGMENT_FAULT`` is set.

The variable holds ``point=action`` pairs separated by ``;``, e.g.
``GAN_AUGMENT_FAULT="publish.before_latest=kill"``. Each point is a named place in the code
(listed in ``POINTS``); the action runs when execution reaches it:

- ``kill``: SIGKILL this process (a crash with no cleanup at all);
- ``raise``: raise :class:`InjectedFault`;
- ``enospc``: raise ``OSError(ENOSPC)``, as a full disk would;
- ``nan``: for value points (:func:`poisoned`), ask the caller to inject a non-finite value.

A ``@N`` suffix fires on the N-th arrival only (``train.checkpoint_saved=raise@1``), so a retry
in the same process gets past it. Points reached once per shard of the quality stream count
shards instead (``quality.shard_scored=raise@2`` fails the second shard, on whichever Dask worker
scores it). Tests drive real processes and signals with it; production
never sets the variable.
"""

from __future__ import annotations

import errno
import os
import signal
from collections import Counter

ENV = "GAN_AUGMENT_FAULT"

POINTS = {
    "publish.shard_written": "after each Parquet shard of a version is written into staging",
    "publish.staged": "after every shard and the manifest are staged, before the rename into place",
    "publish.before_latest": "after the version directory is renamed into place, before LATEST moves",
    "quality.shard_scored": "after a quality shard is scored and staged, before it reports back (@N: shard N)",
    "train.step": "value point: after each training step (``nan`` poisons G's weights)",
    "train.checkpoint_write": "just before a training checkpoint is written",
    "train.checkpoint_saved": "just after a training checkpoint is written",
}

_ACTIONS = ("kill", "raise", "enospc", "nan")
_arrivals: Counter = Counter()


class InjectedFault(RuntimeError):
    """Raised by the ``raise`` action at a fault point."""


def _parse(spec: str) -> dict[str, tuple[str, int | None]]:
    plan: dict[str, tuple[str, int | None]] = {}
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        point, _, action = item.partition("=")
        action, _, nth = action.partition("@")
        if point not in POINTS or action not in _ACTIONS or (nth and not nth.isdigit()):
            raise ValueError(
                f"{ENV} item {item!r} is not 'point=action[@N]': points {sorted(POINTS)}, actions {list(_ACTIONS)}"
            )
        plan[point] = (action, int(nth) if nth else None)
    return plan


def _due(point: str, arrival: int | None = None) -> str | None:
    spec = os.environ.get(ENV)
    if not spec:
        return None
    planned = _parse(spec).get(point)
    if planned is None:
        return None
    _arrivals[point] += 1
    action, nth = planned
    arrival = _arrivals[point] if arrival is None else arrival
    return action if nth is None or arrival == nth else None


def fault_point(point: str, arrival: int | None = None) -> None:
    """Runs the action planned for ``point`` (kill, raise or enospc), if any.

    Args:
        point: A name in ``POINTS``.
        arrival: Which arrival this is, for ``@N``, when the caller knows it across processes
            (a shard's number); None counts arrivals in this process.
    """
    action = _due(point, arrival)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise InjectedFault(f"fault injected at {point} ({ENV})")
    elif action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (fault injected at {point})")


def poisoned(point: str) -> bool:
    """True when the caller should inject a non-finite value at ``point`` (action ``nan``)."""
    return _due(point) == "nan"


def reset_arrivals() -> None:
    """Forgets how often each point was reached (tests run several faults in one process)."""
    _arrivals.clear()
