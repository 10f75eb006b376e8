"""Does switching grappler's remapper off (as ``train_gan`` does) cost training speed?

Two copies of the project's trainer (``train_throughput.build_project``, default configs, the
bundled 8k sample) run in one process: one traced and timed with the remapper on (TensorFlow's
default, which prints ``E0000 ... remapper failed``), one with it off. Rounds are interleaved and
the order flips every round, so drift on a shared machine hits both alike. Nothing asserts on
time.

Usage::

    .venv/bin/python benchmarks/remapper.py                 # 7 rounds x 30 steps -> results/remapper.json
    .venv/bin/python benchmarks/remapper.py --rounds 2 --steps 3 --output /tmp/remapper.json
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

logger = logging.getLogger("remapper")

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "remapper.json"
ARMS = {"remapper_on": True, "remapper_off": False}


def run(rounds: int, steps: int) -> dict:
    """Times both arms in interleaved rounds; returns the result document."""
    from train_throughput import WARMUP_STEPS, _run_steps, _summary, build_project

    from gan_core.config import ModelConfig, TrainConfig
    from gan_core.data import load_bundled_sample
    from gan_core.gan.grappler import grappler_remapping
    from gan_core.machine import machine_info

    sample = load_bundled_sample()
    model_config, train_config = ModelConfig(), TrainConfig(precision="float32")
    arms = {}
    for name, enabled in ARMS.items():
        arms[name] = build_project(model_config, train_config, "float32", sample.train_images, sample.train_labels)
        with grappler_remapping(enabled):
            _run_steps(arms[name], WARMUP_STEPS)  # traces and instantiates under this setting

    rates: dict[str, list[float]] = {name: [] for name in ARMS}
    for index in range(rounds):
        order = list(ARMS) if index % 2 == 0 else list(reversed(ARMS))
        for name in order:
            with grappler_remapping(ARMS[name]):
                seen, seconds = _run_steps(arms[name], steps)
            rates[name].append(seen / seconds)
            logger.info("round %d/%d %-12s %7.1f img/s", index + 1, rounds, name, seen / seconds)
    per_round = [off / on for on, off in zip(rates["remapper_on"], rates["remapper_off"])]
    return {
        "benchmark": "remapper",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "rounds": rounds,
        "steps_per_round": steps,
        "batch_size": train_config.batch_size,
        "model": model_config.resolved(),
        "images_per_second": {name: _summary(values) | {"rounds": values} for name, values in rates.items()},
        "per_round_ratio_off_over_on": per_round,
        "ratio_off_over_on_median": statistics.median(per_round),
    }


def main(argv: list[str] | None = None) -> dict:
    """Runs the comparison and writes its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args(argv)
    from gan_core.io.fsutil import atomic_write_json

    result = run(arguments.rounds, arguments.steps)
    atomic_write_json(arguments.output, result)
    logger.info(
        "remapper off / on, median of per-round ratios: %.3f (wrote %s)",
        result["ratio_off_over_on_median"],
        arguments.output,
    )
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main()
