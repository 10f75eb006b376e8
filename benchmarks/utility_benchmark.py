"""Downstream utility: does GAN data help a classifier trained on N real labeled images?

Runs the ``evaluate-augmentation`` Prefect flow (``flows/evaluate_augmentation.py``; without
``PREFECT_API_URL`` it starts an ephemeral Prefect server), so the table and the report also
appear as Prefect artifacts. For N in {100, 1000, all} real images and 3 seeds it trains the
cGAN on those N only and compares four arms of the reference classifier on the real test split:
(a) real, (b) real + classic augmentation, (c) real + synthetic, (d) real + synthetic + classic
augmentation. See ``gan_core/experiments/utility/`` for the protocol and the statistics.

Writes ``benchmarks/results/utility.json`` and ``utility.png`` (``utility_quick.*`` with
``--quick``); per-experiment results and the flow's own copy go to
``benchmarks/results/utility[-quick]/``, GAN runs to ``--work-root``. Re-running the same command
reuses finished experiments and resumes a half-trained GAN.

Usage::

    .venv/bin/python benchmarks/utility_benchmark.py             # full: N in {100, 1000, all}, 3 seeds
    .venv/bin/python benchmarks/utility_benchmark.py --quick     # N=100, 2 seeds, tiny budgets (minutes)
    .venv/bin/python benchmarks/utility_benchmark.py --sizes 100,500 --seeds 5 --gan-steps 3000
    .venv/bin/python benchmarks/utility_benchmark.py --label-scarce --sizes 100,1000   # + arms e-g

With ``--label-scarce`` (arms e-g: FixMatch teacher, the label-scarce GAN, the pseudo-labelled
pool) the files are ``utility_scarce.*`` and ``utility-scarce/``.
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

# Flow parameters this script sets itself: the flow writes its own copy under --results-dir.
_OWN_PARAMETERS = ("output_dir",)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    from flows.evaluate_augmentation import evaluate_augmentation
    from flows.flow_cli import add_flow_arguments

    parser = argparse.ArgumentParser(
        description="Downstream-utility benchmark: classifier accuracy with and without GAN data per real N.",
    )
    # The same flags as `gan-augment evaluate-augmentation`, derived from the flow's signature.
    add_flow_arguments(parser, evaluate_augmentation, exclude=_OWN_PARAMETERS)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON and PNG go")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Runs the flow from command-line arguments, prints the table and writes JSON + PNG.

    Returns:
        The document written to ``<results-dir>/utility[_quick].json``.
    """
    args = _parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

    from flows.evaluate_augmentation import EvaluateParameterError, evaluate_augmentation
    from flows.flow_cli import flow_parameters
    from gan_core.experiments import utility
    from gan_core.io.fsutil import atomic_write_json
    from gan_core.machine import load_average, machine_info

    # The label-scarce arms get their own files, so the four-arm results are never overwritten.
    stem = ("utility_quick" if args.quick else "utility") + ("_scarce" if args.label_scarce else "")
    flow_dir = Path(args.results_dir) / stem.replace("_", "-")
    parameters = {**flow_parameters(evaluate_augmentation, args, exclude=_OWN_PARAMETERS), "output_dir": str(flow_dir)}
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
