"""Downstream utility: does GAN data help a classifier trained on N real labeled images?

Runs the ``evaluate-augmentation`` Prefect flow (``flows/evaluate_augmentation.py``; without
``PREFECT_API_URL`` it starts an ephemeral Prefect server), so the table and the report also
appear as Prefect artifacts. For N in {100, 1000, all} real images and 3 seeds it trains the
cGAN on those N only and compares four arms of the reference classifier on the real test split:
(a) real, (b) real + classic augmentation, (c) real + synthetic, (d) real + synthetic + classic
augmentation. See ``gan_core/utility.py`` for the protocol and the statistics.

Writes ``benchmarks/results/utility.json`` and ``utility.png`` (``utility_quick.*`` with
``--quick``); per-experiment results and the flow's own copy go to
``benchmarks/results/utility[-quick]/``, GAN runs to ``--work-root``. Re-running the same command
reuses finished experiments and resumes a half-trained GAN.

Usage::

    .venv/bin/python benchmarks/utility_benchmark.py             # full: N in {100, 1000, all}, 3 seeds
    .venv/bin/python benchmarks/utility_benchmark.py --quick     # N=100, 2 seeds, tiny budgets (minutes)
    .venv/bin/python benchmarks/utility_benchmark.py --sizes 100,500 --seeds 5 --gan-steps 3000
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

logger = logging.getLogger(__name__)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_WORK_ROOT = Path("outputs/work")

# Flag -> UtilityConfig field; each flag left out takes the full (or --quick) preset's value.
_BUDGET_FLAGS: dict[str, type] = {
    "seeds": int,
    "gan_steps": int,
    "gan_batch_size": int,
    "synthetic_per_class": int,
    "min_confidence": float,
    "real_share": float,
    "judge_epochs": int,
    "judge_min_steps": int,
    "classifier_epochs": int,
    "classifier_min_steps": int,
}


def _sizes(text: str) -> list:
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        if item in ("all", "0"):
            sizes.append("all")
        elif item.isdigit():
            sizes.append(int(item))
        else:
            raise argparse.ArgumentTypeError(f"bad size {item!r}: use positive integers or 'all', comma-separated")
    return sizes


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    from gan_core.experiments.utility import QUICK, UtilityConfig

    full = UtilityConfig()
    parser = argparse.ArgumentParser(
        description="Downstream-utility benchmark: classifier accuracy with and without GAN data per real N.",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"minutes, not hours: {', '.join(f'{k}={v}' for k, v in QUICK.items())}")
    parser.add_argument("--sizes", type=_sizes, default=None,
                        help="comma-separated N, 'all' for every real image (default 100,1000,all; quick 100)")
    for name, kind in _BUDGET_FLAGS.items():
        field = UtilityConfig.model_fields[name]
        parser.add_argument(
            "--" + name.replace("_", "-"), type=kind, default=None,
            help=f"{field.description or name} (default {getattr(full, name)}; quick {QUICK.get(name, getattr(full, name))})",
        )
    parser.add_argument("--diffaugment", default=None,
                        help="GAN DiffAugment policies, e.g. color,translation,cutout; '' off (default: TrainConfig's)")
    parser.add_argument("--precision", default=None, choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
                        help="GAN dtype policy (default auto = float32 on CPU)")
    parser.add_argument("--source", default="sample", help="real data: sample (bundled 8k/2k MNIST), auto, tfds:<name>, idx:<dir>")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON and PNG go")
    parser.add_argument("--work-root", type=Path, default=DEFAULT_WORK_ROOT, help="snapshots and GAN runs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Runs the flow from command-line arguments, prints the table and writes JSON + PNG.

    Returns:
        The document written to ``<results-dir>/utility[_quick].json``.
    """
    args = _parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

    from flows.evaluate_augmentation import EvaluateParameterError, evaluate_augmentation
    from gan_core.experiments import utility
    from gan_core.io.fsutil import atomic_write_json
    from gan_core.machine import load_average, machine_info

    stem = "utility_quick" if args.quick else "utility"
    flow_dir = Path(args.results_dir) / stem.replace("_", "-")
    parameters = {
        "sizes": args.sizes,
        **{name: getattr(args, name) for name in _BUDGET_FLAGS},
        "diffaugment": args.diffaugment,
        "precision": args.precision,
        "source": args.source,
        "output_dir": str(flow_dir),
        "work_root": str(args.work_root),
        "quick": args.quick,
    }
    machine = machine_info()
    started_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    try:
        summary = evaluate_augmentation(**parameters)
    except EvaluateParameterError as error:
        print(f"utility_benchmark: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    wall = time.perf_counter() - started
    machine["load_average_after_1_5_15"] = load_average()

    import json

    flow_document = json.loads(Path(summary["json_path"]).read_text())
    per_experiment = [row["seconds"]["total"] for row in flow_document["experiments"]]
    document = {
        "benchmark": "utility",
        "created_utc": started_at.isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])],
        "runner": "Prefect flow evaluate-augmentation (flows/evaluate_augmentation.py)",
        "machine": machine,
        "wall_seconds": round(wall, 1),
        "experiment_seconds": {
            "total": round(sum(per_experiment), 1),
            "mean": round(sum(per_experiment) / len(per_experiment), 1),
            "max": round(max(per_experiment), 1),
        },
        "flow_output_dir": str(flow_dir),
        **flow_document,
    }
    json_path = Path(args.results_dir) / f"{stem}.json"
    png_path = Path(args.results_dir) / f"{stem}.png"
    atomic_write_json(json_path, document)
    shutil.copyfile(summary["png_path"], png_path)
    print(utility.format_table(document))
    print(f"wall time {wall / 60:.1f} min; wrote {json_path} and {png_path}")
    return document


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported: hide grappler noise
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("httpx", "absl"):  # one line per API call / checkpoint otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    main()
