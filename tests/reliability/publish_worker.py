"""A publisher process for the reliability tests: publishes a small in-memory table, no GAN.

``python -m tests.reliability.publish_worker OUTPUT_ROOT DATASET [--count N] [--ready DIR] [--go FILE]``
publishes ``--count`` versions in a row (0 means until killed). With ``--ready`` it drops a file
named after its pid into DIR once its imports are done; with ``--go`` it then waits for that file
to exist, so several workers start publishing at the same moment.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from gan_core.publish import Rows, publish_version

ROWS = 240
ROWS_PER_SHARD = 20  # many small shards: a wide window for a kill to land mid-write


def rows(seed: int) -> list[Rows]:
    """A synthetic train part of ``ROWS`` random digits-sized images."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(ROWS, 28, 28), dtype=np.uint8)
    labels = np.arange(ROWS, dtype=np.int64) % 10
    return [Rows(images, labels, source="synthetic", split="train", judge_confidence=np.ones(ROWS, np.float32))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output_root", help="a directory or an s3://bucket/prefix URL")
    parser.add_argument("dataset")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--go", type=Path)
    parser.add_argument("--ready", type=Path, help="directory to drop a file in once imports are done")
    arguments = parser.parse_args()
    if arguments.ready is not None:
        (arguments.ready / str(os.getpid())).touch()
    if arguments.go is not None:
        deadline = time.monotonic() + 120
        while not arguments.go.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{arguments.go} never appeared")
            time.sleep(0.005)
    names = [str(i) for i in range(10)]
    done = 0
    while arguments.count == 0 or done < arguments.count:
        published = publish_version(
            arguments.output_root,
            arguments.dataset,
            rows(os.getpid() + done),
            names,
            {"worker_pid": os.getpid()},
            rows_per_shard=ROWS_PER_SHARD,
        )
        print(published.version, flush=True)
        done += 1


if __name__ == "__main__":
    main()
