"""Does the FixMatch teacher beat a supervised classifier when only N images are labeled?

Per seed: the bundled sample goes through the real label-scarce ingest (``use_unlabeled``, N
labeled images drawn without reading any label, the rest of the 8k train split kept as an
unlabeled pool, its labels dropped). Two models then train and are scored on the real 2k test split:

- ``teacher``: :func:`gan_core.semisup.train_teacher` on the N labeled images plus the pool;
- ``supervised``: the same classifier layout (the reference LeNet) on the N labeled images
  only, with the classic shift and rotation augmentation (:func:`train_classifier`).

The teacher's pseudo-labels of the pool are scored too (how many reach the confidence cut, how
many of those are right): the pool's hidden labels are read back from the bundled sample here,
for measurement only, after both models are trained.

One JSON per seed goes to ``results/teacher/n<N>-seed<S>.json``, and ``summary.json`` gathers
every seed found there.

Usage::

    .venv/bin/python benchmarks/teacher.py                        # seeds 0 1 2, default budget
    .venv/bin/python benchmarks/teacher.py --seeds 0 --teacher-steps 400   # one reduced seed
    .venv/bin/python benchmarks/teacher.py --seeds 0 --set ema_decay=0 --output-dir results/teacher/no-ema
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger("teacher")

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "teacher"
PSEUDO_LABEL_CONFIDENCE = 0.95


def _pool_truth(pool_images, sample) -> list[int]:
    """The hidden labels of the pool, looked up by pixels in the original sample (scoring only)."""
    by_pixels = {image.tobytes(): int(label) for image, label in zip(sample.train_images, sample.train_labels)}
    return [by_pixels[image.tobytes()] for image in pool_images]


def run_seed(labeled: int, seed: int, teacher_settings: dict, baseline_min_steps: int) -> dict:
    """Ingests, trains the teacher (``TeacherConfig`` fields in ``teacher_settings``) and the supervised
    baseline for one seed; returns the result document."""
    import numpy as np

    from gan_core.config import TeacherConfig
    from gan_core.data import load_bundled_sample, load_pool, load_snapshot, write_snapshot
    from gan_core.machine import machine_info
    from gan_core.quality.classifier import evaluate, train_classifier
    from gan_core.semisup import train_teacher

    sample = load_bundled_sample()
    with tempfile.TemporaryDirectory(prefix="teacher-bench-") as cache:
        snapshot = write_snapshot(sample, Path(cache), labeled, seed, use_unlabeled=True)
        _, splits = load_snapshot(snapshot.path)
        pool = load_pool(snapshot.path)
    config = TeacherConfig(**teacher_settings)
    per_class = np.bincount(splits.train_labels, minlength=10).tolist()
    logger.info("seed %d: %d labeled (per class %s), pool %d", seed, labeled, per_class, len(pool))

    started = time.perf_counter()
    teacher = train_teacher(splits.train_images, splits.train_labels, pool, config, seed)
    teacher_seconds = time.perf_counter() - started
    teacher_accuracy = teacher.accuracy(splits.test_images, splits.test_labels)

    started = time.perf_counter()
    baseline = train_classifier(
        splits.train_images, splits.train_labels, 10, seed=seed, augment=True, min_steps=baseline_min_steps
    )
    baseline_seconds = time.perf_counter() - started
    baseline_accuracy = evaluate(baseline, splits.test_images, splits.test_labels)

    _, pseudo, confidences = teacher.pseudo_label(pool, 0.0)
    truth = np.array(_pool_truth(pool, sample))
    confident = confidences >= PSEUDO_LABEL_CONFIDENCE
    logger.info(
        "seed %d: teacher %.4f vs supervised %.4f on real test (%.0f s + %.0f s)",
        seed,
        teacher_accuracy,
        baseline_accuracy,
        teacher_seconds,
        baseline_seconds,
    )
    return {
        "benchmark": "teacher",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "labeled": labeled,
        "seed": seed,
        "labeled_per_class": per_class,
        "pool": len(pool),
        "test": int(len(splits.test_labels)),
        "snapshot_fingerprint": snapshot.fingerprint,
        "teacher": {
            "config": config.resolved(),
            "test_accuracy": teacher_accuracy,
            "train_seconds": round(teacher_seconds, 1),
            "last_log": teacher.history[-1] if teacher.history else None,
        },
        "supervised": {
            "classifier": "reference LeNet, shift+rotation augmentation",
            "min_steps": baseline_min_steps,
            "test_accuracy": baseline_accuracy,
            "train_seconds": round(baseline_seconds, 1),
        },
        "pseudo_labels": {
            "all_pool_accuracy": float(np.mean(pseudo == truth)),
            "min_confidence": PSEUDO_LABEL_CONFIDENCE,
            "kept": int(confident.sum()),
            "kept_accuracy": float(np.mean(pseudo[confident] == truth[confident])) if confident.any() else None,
        },
    }


def summarise(directory: Path) -> dict:
    """Gathers every ``n*-seed*.json`` in ``directory`` into means and spreads per N and teacher budget."""
    groups: dict[tuple[int, int], list[dict]] = {}
    for path in sorted(directory.glob("n*-seed*.json")):
        result = json.loads(path.read_text())
        groups.setdefault((result["labeled"], result["teacher"]["config"]["steps"]), []).append(result)

    def spread(values: list[float]) -> dict:
        return {
            "mean": statistics.fmean(values),
            "stdev": statistics.stdev(values) if len(values) > 1 else None,
            "values": values,
        }

    # Keyed on the budget too, so a reduced run never averages with a full one.
    return {
        f"n{labeled}-steps{steps}": {
            "seeds": [r["seed"] for r in results],
            "teacher_test_accuracy": spread([r["teacher"]["test_accuracy"] for r in results]),
            "supervised_test_accuracy": spread([r["supervised"]["test_accuracy"] for r in results]),
            "gain": spread([r["teacher"]["test_accuracy"] - r["supervised"]["test_accuracy"] for r in results]),
        }
        for (labeled, steps), results in sorted(groups.items())
    }


def main(argv: list[str] | None = None) -> dict:
    """Runs the seeds, writes one JSON per seed and the summary; returns the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labeled", type=int, default=100, help="N, the labeled images (default 100)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--teacher-steps", type=int, default=None, help="default: TeacherConfig's")
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="FIELD=VALUE",
        help="a TeacherConfig field for an ablation, e.g. --set ema_decay=0 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--baseline-min-steps", type=int, default=600)
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args(argv)
    from gan_core.io.fsutil import atomic_write_json

    settings = dict(setting.split("=", 1) for setting in arguments.settings if "=" in setting)
    if len(settings) != len(arguments.settings):
        parser.error(f"--set takes FIELD=VALUE, got {arguments.settings}")
    if arguments.teacher_steps is not None:
        settings["steps"] = arguments.teacher_steps
    for seed in arguments.seeds:
        result = run_seed(arguments.labeled, seed, settings, arguments.baseline_min_steps)
        atomic_write_json(arguments.output_dir / f"n{arguments.labeled}-seed{seed}.json", result)
    summary = summarise(arguments.output_dir)
    atomic_write_json(arguments.output_dir / "summary.json", summary)
    logger.info("summary: %s", json.dumps(summary))
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main()
