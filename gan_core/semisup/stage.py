"""The pseudo-label stage of label-scarce mode: teacher on labeled + pool, confident labels out.

The stage owns ``<cache_root>/pseudo/<snapshot fingerprint[:12]>-<settings digest>/``:
``pseudo.npz`` (``images`` uint8, ``labels`` int64, ``confidences`` float32), ``teacher/`` (the
teacher saved as a :class:`gan_core.quality.judge.Judge`, its real-test accuracy inside, so the
quality stage can reject with it) and ``pseudo.json`` (the facts below). The directory is
content-addressed like the judge cache: the same snapshot and settings reuse it, and it is
written through a staged rename, so a killed run leaves nothing half-written.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_core.config import PseudoLabelConfig
from gan_core.io.fsutil import npz_bytes, staged_directory
from gan_core.io.hashing import payload_digest, sha256_file

PSEUDO_FILE = "pseudo.npz"
TEACHER_DIR = "teacher"
META_FILE = "pseudo.json"
# Part of the cache key: bump when the stage's output for the same inputs changes.
STAGE_VERSION = 1


@dataclass(frozen=True)
class PseudoLabelOutcome:
    """A pseudo-labelled pool, as plain serialisable values.

    Attributes:
        pseudo_path: ``pseudo.npz``: images, labels, confidences.
        teacher_dir: The teacher, loadable with ``Judge.load``.
        pseudo_sha256: sha256 of ``pseudo.npz`` (a content hash: the npz bytes are stable).
        count: Pseudo-labelled images kept.
        per_class: Kept images per class, indexed by label.
        pool_count: Pool images the teacher saw.
        teacher_test_accuracy: The teacher's accuracy on the real test split (true labels).
        threshold: tau, the confidence a pool prediction needed to train the teacher.
        min_confidence: The confidence a pool prediction needed to be kept here.
        max_per_class: The per-class cap, or None.
    """

    pseudo_path: str
    teacher_dir: str
    pseudo_sha256: str
    count: int
    per_class: list[int]
    pool_count: int
    teacher_test_accuracy: float
    threshold: float
    min_confidence: float
    max_per_class: int | None

    def manifest(self) -> dict:
        """The facts a published version records (no local paths)."""
        return {
            "teacher_test_accuracy": self.teacher_test_accuracy,
            "threshold": self.threshold,
            "min_confidence": self.min_confidence,
            "max_per_class": self.max_per_class,
            "pool_count": self.pool_count,
            "count": self.count,
            "per_class": self.per_class,
            "pseudo_sha256": self.pseudo_sha256,
        }


def pseudo_key(snapshot_fingerprint: str, config: PseudoLabelConfig, seed: int) -> str:
    """Names a pseudo-labelled set by its snapshot, its settings and the seed."""
    settings = {"config": config.resolved(), "seed": int(seed), "version": STAGE_VERSION}
    return f"{snapshot_fingerprint[:12]}-{payload_digest(settings, 12)}"


def cap_per_class(
    labels: np.ndarray, confidences: np.ndarray, num_classes: int, max_per_class: int | None
) -> np.ndarray:
    """Indices (ascending) of the rows kept when each class keeps its ``max_per_class`` most confident.

    Ties are broken by position, so the choice is deterministic; None keeps every row.
    """
    if max_per_class is None:
        return np.arange(len(labels))
    kept = []
    for label in range(num_classes):
        rows = np.flatnonzero(labels == label)
        order = np.argsort(-confidences[rows], kind="stable")
        kept.append(rows[order[:max_per_class]])
    return np.sort(np.concatenate(kept)) if kept else np.zeros(0, np.int64)


def confident_rows(probabilities: np.ndarray, min_confidence: float, max_per_class: int | None) -> np.ndarray:
    """Rows (ascending) whose top class probability reaches ``min_confidence``, capped per predicted class."""
    confidences, labels = probabilities.max(axis=1), probabilities.argmax(axis=1)
    rows = np.flatnonzero(confidences >= min_confidence)
    return rows[cap_per_class(labels[rows], confidences[rows], probabilities.shape[1], max_per_class)]


def load_pseudo_labels(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8, labels int64, confidences float32) from a ``pseudo.npz``."""
    with np.load(Path(path), allow_pickle=False) as data:
        return data["images"], data["labels"].astype(np.int64), data["confidences"].astype(np.float32)


def pseudo_label_stage(
    snapshot_dir: str,
    config: PseudoLabelConfig,
    seed: int,
    cache_root: str,
    logger: logging.Logger | logging.LoggerAdapter,
) -> PseudoLabelOutcome:
    """Trains the teacher on the snapshot's N labeled images plus its pool and keeps its confident labels.

    Reused from ``<cache_root>/pseudo/<key>/`` when the same snapshot and settings ran before.

    Raises:
        DataError: the snapshot has no pool (ingested without use_unlabeled) or is corrupt.
    """
    from gan_core.data.snapshot import load_pool, load_snapshot

    snapshot, splits = load_snapshot(Path(snapshot_dir))
    out_dir = Path(cache_root) / "pseudo" / pseudo_key(snapshot.fingerprint, config, seed)
    if (out_dir / META_FILE).exists():
        logger.info("pseudo-labels reused from %s", out_dir)
        return _outcome(out_dir)
    pool = load_pool(Path(snapshot_dir))
    from gan_core.quality.judge import Judge  # TensorFlow: only when the teacher is trained
    from gan_core.semisup.teacher import train_teacher

    num_classes = len(splits.class_names)
    teacher_config = config.teacher.model_copy(update={"num_classes": num_classes})
    logger.info(
        "training the teacher on %d labeled + %d pool images for %d steps",
        len(splits.train_labels),
        len(pool),
        teacher_config.steps,
    )
    teacher = train_teacher(splits.train_images, splits.train_labels, pool, teacher_config, seed)
    accuracy = teacher.accuracy(splits.test_images, splits.test_labels)
    probabilities = teacher.predict_proba(pool)
    keep = confident_rows(probabilities, config.min_confidence, config.max_per_class)
    images, labels = pool[keep], probabilities[keep].argmax(axis=1).astype(np.int64)
    confidences = probabilities[keep].max(axis=1).astype(np.float32)
    per_class = np.bincount(labels, minlength=num_classes).tolist()
    logger.info(
        "teacher real-test accuracy %.4f; %d of %d pool images pseudo-labelled (per class %s)",
        accuracy,
        len(labels),
        len(pool),
        per_class,
    )
    meta = {
        "snapshot_fingerprint": snapshot.fingerprint,
        "config": config.resolved(),
        "seed": int(seed),
        "count": len(labels),
        "per_class": per_class,
        "pool_count": len(pool),
        "teacher_test_accuracy": accuracy,
        "threshold": teacher_config.threshold,
        "min_confidence": config.min_confidence,
        "max_per_class": config.max_per_class,
    }
    try:
        with staged_directory(out_dir) as staging:
            (staging / PSEUDO_FILE).write_bytes(
                npz_bytes({"images": images, "labels": labels, "confidences": confidences})
            )
            meta["pseudo_sha256"] = sha256_file(staging / PSEUDO_FILE)
            Judge(teacher.model, accuracy, {"role": "teacher", "seed": int(seed)}).save(staging / TEACHER_DIR)
            (staging / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    except FileExistsError:
        # Another run finished the same set first; it is equivalent, use it.
        logger.info("pseudo-labels %s appeared while training; using that copy", out_dir)
    return _outcome(out_dir)


def _outcome(out_dir: Path) -> PseudoLabelOutcome:
    meta = json.loads((out_dir / META_FILE).read_text())
    if sha256_file(out_dir / PSEUDO_FILE) != meta["pseudo_sha256"]:
        raise ValueError(f"{out_dir / PSEUDO_FILE} does not match its recorded sha256: delete {out_dir} and run again")
    recorded = {field.name for field in dataclasses.fields(PseudoLabelOutcome)} - {"pseudo_path", "teacher_dir"}
    return PseudoLabelOutcome(
        pseudo_path=str(out_dir / PSEUDO_FILE),
        teacher_dir=str(out_dir / TEACHER_DIR),
        **{name: meta[name] for name in recorded},
    )
