"""A training run's directory: its settings, history and checkpoints.

A run directory holds ``config.json`` (the resolved configs), ``history.jsonl`` (one line per
logged interval), ``checkpoints/`` and, after a divergence, ``divergence.json``. The checkpoint
is the truth: history rows past it are dropped when the run resumes.
"""

from __future__ import annotations

import errno
import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import tensorflow as tf

from gan_core.config import EXTENDABLE_TRAIN_FIELDS
from gan_core.io.faults import fault_point
from gan_core.io.fsutil import atomic_write_json

logger = logging.getLogger(__name__)

_EXTENDABLE_FIELDS = set(EXTENDABLE_TRAIN_FIELDS)


class TrainingError(RuntimeError):
    """Training cannot start or continue; the message says why and what to do."""


@dataclass(frozen=True)
class IntervalStats:
    """What the steps since the previous log line did."""

    step: int
    steps: int
    interval_steps: int
    discriminator_loss: float
    generator_loss: float
    images_per_second: float
    interval_seconds: float
    elapsed_seconds: float


def check_run_dir(run_dir: Path, resolved: dict) -> None:
    config_path = run_dir / "config.json"
    if not config_path.exists():
        atomic_write_json(config_path, resolved)
        return
    previous = json.loads(config_path.read_text())

    def fixed(configs: dict) -> dict:
        return {
            section: {k: v for k, v in values.items() if k not in _EXTENDABLE_FIELDS}
            for section, values in configs.items()
        }

    if fixed(previous) != fixed(resolved):
        raise TrainingError(
            f"{run_dir} holds a run with a different configuration; resume needs the same settings "
            f"(only {sorted(_EXTENDABLE_FIELDS)} may change). Use another run directory or delete this one."
        )
    atomic_write_json(config_path, resolved)


def read_history(path: Path, up_to_step: int) -> list[IntervalStats]:
    if not path.exists():
        return []
    rows = [IntervalStats(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    # A crash between a log line and the next checkpoint leaves rows past it; the checkpoint is
    # the truth, so keep one row per step up to it.
    by_step = {row.step: row for row in rows if row.step <= up_to_step}
    return [by_step[step] for step in sorted(by_step)]


def rewrite_history(path: Path, history: list[IntervalStats]) -> None:
    path.write_text("".join(json.dumps(asdict(row)) + "\n" for row in history))


def append_history(path: Path, stats: IntervalStats) -> None:
    """Adds one logged interval to the run's history file."""
    with open(path, "a") as handle:
        handle.write(json.dumps(asdict(stats)) + "\n")


def save_checkpoint(manager: tf.train.CheckpointManager, step: int, run_dir: Path) -> None:
    """Saves a checkpoint; a full disk becomes a TrainingError that says the last one is intact."""
    try:
        fault_point("train.checkpoint_write")
        manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as exc:
        disk_full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc)
        if not disk_full:
            raise
        for partial in (run_dir / "checkpoints").glob(f"ckpt-{step}[._]*"):
            # TF writes the data before the index, and the 'checkpoint' state file last, so the
            # previous checkpoint is still the latest; remove what this attempt left behind.
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
            else:
                partial.unlink(missing_ok=True)
        cause = exc if isinstance(exc, OSError) else OSError(errno.ENOSPC, str(exc))
        raise TrainingError(
            f"the disk is full: could not write the checkpoint for step {step} in {run_dir / 'checkpoints'}. "
            f"The previous checkpoint ({manager.latest_checkpoint or 'none yet'}) is intact; free some space "
            "and run the same command again to resume from it"
        ) from cause
    fault_point("train.checkpoint_saved")
