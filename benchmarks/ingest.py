"""Ingest of a ``folder:`` source: cold throughput per decoding engine, peak memory, and the cached re-run.

Builds (once, cached under ``--work-dir``) folders of small PNGs in class folders: 28x28 grayscale
digits (the bundled sample's, repeated) and 32x32 RGB images (smooth colour blocks with grain,
compressing like small photos). For each folder and each decoding engine (worker processes, the
default; threads; a serial loop in this process, the baseline) it times ``ingest_stage`` cold (a
fresh cache root) ``--runs`` times, each run in its own child process so its peak RSS is its own.
It reports the median images per second, the ratio of each engine to the serial baseline, the peak
RSS next to the image array's size (the RSS before ingest subtracted), and the cached re-run: the
time of what a flow re-run does before skipping ingest (``inputs_key`` and
``cached_snapshot_present``: a listing, no image read). The load average is recorded before and
after, since the two cores may be shared.

Usage::

    .venv/bin/python benchmarks/ingest.py --runs 3
    .venv/bin/python benchmarks/ingest.py --count 2000 --runs 1 --kinds gray28   # a quick look
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger("ingest_benchmark")

RESULTS = Path(__file__).resolve().parent / "results" / "ingest"
WORK_DIR = Path(tempfile.gettempdir()) / "gan-augment-bench" / "ingest"
KINDS = ("gray28", "rgb32")
ENGINES = ("processes", "threads", "serial")
BASELINE = "serial"


def build_folder(root: Path, kind: str, count: int, seed: int = 0) -> Path:
    """Writes ``count`` PNGs of ``kind`` into ``root/<class>/`` once; a finished folder is reused.

    A ``.complete`` marker (hidden, so ingest ignores it) records what was written, so an
    interrupted build is redone rather than half used.
    """
    from gan_core.data import load_bundled_sample
    from gan_core.imaging import encode_pngs

    marker = root / ".complete"
    if marker.is_file() and marker.read_text() == f"{kind} {count} {seed}":
        return root
    shutil.rmtree(root, ignore_errors=True)
    sample = load_bundled_sample()
    labels = np.resize(sample.train_labels, count)
    if kind == "gray28":
        images = np.resize(sample.train_images, (count, 28, 28, 1))
    else:
        rng = np.random.default_rng(seed)
        blocks = np.repeat(np.repeat(rng.integers(0, 256, (count, 8, 8, 3), dtype=np.uint8), 4, axis=1), 4, axis=2)
        images = np.clip(blocks.astype(np.int16) + rng.integers(-8, 9, blocks.shape), 0, 255).astype(np.uint8)
    for name in sample.class_names:
        (root / f"class {name}").mkdir(parents=True, exist_ok=True)
    for index, (png, label) in enumerate(zip(encode_pngs(images), labels)):
        (root / f"class {sample.class_names[label]}" / f"{index:06d}.png").write_bytes(png)
    marker.write_text(f"{kind} {count} {seed}")
    return root


def _rss_mb(field: str) -> float:
    """This process's ``VmRSS`` (now) or ``VmHWM`` (peak) in MB, from /proc (0 where there is none).

    Not ``ru_maxrss``: Linux carries it over from the forking parent, so a child started from a
    large parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_once(folder: Path, cache_root: Path, engine: str) -> dict:
    """One cold ingest of ``folder`` with ``engine``, then the cached re-run's checks; a result row."""
    from gan_core.config import DataConfig
    from gan_core.data import images
    from gan_core.data.stage import cached_snapshot_present, ingest_stage, inputs_key

    config = DataConfig(source=f"folder:{folder}")
    shutil.rmtree(cache_root, ignore_errors=True)
    before_mb = _rss_mb("VmRSS")
    default, images.DEFAULT_ENGINE = images.DEFAULT_ENGINE, engine
    try:
        started = time.perf_counter()
        outcome = ingest_stage(config, cache_root, logger)
        seconds = time.perf_counter() - started
    finally:
        images.DEFAULT_ENGINE = default  # in-process runs (tests) must not leave it changed
    peak_mb = _rss_mb("VmHWM")
    count = outcome.counts["train"]["total"] + outcome.counts["test"]["total"]
    started = time.perf_counter()
    inputs_key(config, cache_root)
    cached = cached_snapshot_present(config, cache_root)
    cached_seconds = time.perf_counter() - started
    return {
        "engine": engine,
        "images": count,
        "image_shape": outcome.image_shape,
        "seconds": round(seconds, 3),
        "images_per_second": round(count / seconds, 1),
        "array_mb": round(count * int(np.prod(outcome.image_shape)) / 2**20, 2),
        "rss_before_mb": round(before_mb, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "cached_rerun_seconds": round(cached_seconds, 4),
        "cached_snapshot_present": cached,
    }


def _child(folder: Path, cache_root: Path, engine: str) -> dict:
    """Runs :func:`run_once` in a fresh interpreter, so its peak RSS is this run's alone."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(folder), str(cache_root), engine]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({finished.returncode}): {finished.stderr[-2000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def summarize(rows: list[dict]) -> dict:
    """Medians per engine and each engine's speed relative to the serial baseline."""
    by_engine: dict[str, list[dict]] = {}
    for row in rows:
        by_engine.setdefault(row["engine"], []).append(row)
    summary = {}
    for engine, runs in by_engine.items():
        array_mb = runs[0]["array_mb"]
        peak_over = statistics.median(run["peak_rss_mb"] - run["rss_before_mb"] for run in runs)
        summary[engine] = {
            "median_images_per_second": round(statistics.median(run["images_per_second"] for run in runs), 1),
            "median_seconds": round(statistics.median(run["seconds"] for run in runs), 3),
            "array_mb": array_mb,
            "median_peak_rss_mb": round(statistics.median(run["peak_rss_mb"] for run in runs), 1),
            "median_peak_rss_above_start_mb": round(peak_over, 1),
            "peak_above_start_over_array": round(peak_over / array_mb, 2) if array_mb else None,
            "median_cached_rerun_seconds": round(statistics.median(run["cached_rerun_seconds"] for run in runs), 4),
        }
    if BASELINE in summary:
        base = summary[BASELINE]["median_images_per_second"]
        for values in summary.values():
            values["speed_vs_serial"] = round(values["median_images_per_second"] / base, 2)
    return summary


def main(argv: list[str] | None = None) -> dict:
    """Builds the folders, times every engine on each, writes and returns the result document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--in-process", action="store_true", help="run in this process (tests: no child, no RSS)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("gan_core").setLevel(logging.WARNING)

    from gan_core.machine import cpu_model, load_average

    load_before = load_average()
    document = {
        "created_at": datetime.now(timezone.utc).isoformat(),
        "count": arguments.count,
        "runs": arguments.runs,
        "baseline": BASELINE,
        "machine": {
            "cpu_model": cpu_model(),
            "nproc": len(os.sched_getaffinity(0)),
            "load_average_before": load_before,
        },
        "kinds": {},
    }
    for kind in arguments.kinds:
        folder = build_folder(arguments.work_dir / f"{kind}-{arguments.count}", kind, arguments.count)
        rows = []
        for run in range(arguments.runs):
            # Engines interleaved, order flipped every run, so drift on a shared machine hits all alike.
            engines = arguments.engines if run % 2 == 0 else list(reversed(arguments.engines))
            for engine in engines:
                cache_root = arguments.work_dir / "cache" / f"{kind}-{engine}"
                row = (
                    run_once(folder, cache_root, engine) if arguments.in_process else _child(folder, cache_root, engine)
                )
                rows.append(row)
                logger.info(
                    "%s %-9s run %d: %8.0f img/s, peak RSS %6.1f MB (array %.1f MB), cached re-run %.3f s", kind, engine,
                    run + 1, row["images_per_second"], row["peak_rss_mb"], row["array_mb"], row["cached_rerun_seconds"],
                )  # fmt: skip
        document["kinds"][kind] = {"folder": str(folder), "summary": summarize(rows), "runs": rows}
    document["machine"]["load_average_after"] = load_average()
    arguments.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = arguments.results / f"ingest-{arguments.count}-{stamp}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    logger.info("wrote %s", path)
    return document


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(run_once(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])))
    else:
        main()
