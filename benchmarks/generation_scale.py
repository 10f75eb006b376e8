"""Generation at scale: wall time, samples/s and peak memory of generate -> judge -> score -> write.

For each size (samples in all, split evenly over the 10 classes) one child process runs the
flow's own quality step (``gan_core.quality.stage.quality_stage``: chunked generation, judging,
counts, metrics on the seeded subsample, accepted rows staged) and publish step
(``gan_core.publish.stage.publish_stage``: shards written as they fill, the dataset card), with
one generator and one pair of judges prepared up front. The parent reads the child's peak RSS
from ``os.wait4`` (the rusage of that child alone, so sizes do not mix) and times it.

The gate is open and ``min_confidence`` is 0, so every sample is published: the write side is
measured at its largest, and a tiny generator's poor samples do not shrink it. A result per size
is written to ``--results-dir`` as it finishes; a size already measured is skipped (resumable),
unless ``--force``. ``table.md`` summarises every size measured so far.

``--read-ahead-ab SAMPLES`` times the quality step alone, without and with the chunk read-ahead
(:mod:`gan_core.readahead`), in alternating rounds in one process; ``read-ahead-<SAMPLES>.json``
holds the medians, the ratio and whether the staged rows were byte-identical.

``--read ROWS`` measures the read side instead: the tf.data loader's decode throughput (img/s,
the median of ``--passes`` passes) over a version of ROWS real digits (the bundled sample,
repeated), published locally and to ``s3://`` on a moto server the benchmark starts. The loader
before part 4a of issue 11 (one tf.data element per row) is kept here as the baseline and timed in
the same process, pass for pass beside the current one; ``read-<ROWS>.json`` holds the result.

Usage::

    .venv/bin/python benchmarks/generation_scale.py --read 20000 --passes 5   # loader img/s
    .venv/bin/python benchmarks/generation_scale.py --read-ahead-ab 100000 --rounds 3 --generator-dir DIR
    .venv/bin/python benchmarks/generation_scale.py                          # 10k, 100k, 1M
    .venv/bin/python benchmarks/generation_scale.py --sizes 10000 100000 --generator-dir outputs/work/runs/<run>/generator
    .venv/bin/python benchmarks/generation_scale.py --sizes 2000 --prepare-steps 20 --judge-epochs 1 \\
        --results-dir /tmp/scale-smoke                                       # smoke test
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger("generation_scale")

RESULTS_DIR = Path(__file__).resolve().parent / "results" / "generation_scale"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
NUM_CLASSES = 10
# A small generator trained briefly: the benchmark measures the pipeline, not sample quality.
TINY_MODEL = {"latent_dim": 64, "generator_width": 16, "discriminator_width": 16}


def _configs(arguments: argparse.Namespace):
    from gan_core.config import GateThresholds, JudgeConfig, QualityConfig

    gate = GateThresholds(
        min_confidence=0.0, max_label_fidelity_gap=None, max_second_judge_gap=None, max_fid_ratio=None,
        max_memorization_rate=None, min_coverage=None, min_acceptance_rate=None, min_judge_accuracy=None,
    )  # fmt: skip

    def quality(size: int) -> QualityConfig:
        return QualityConfig(
            samples_per_class=size // NUM_CLASSES,
            gate=gate,
            chunk_size=arguments.chunk_size,
            metric_subsample=arguments.metric_subsample,
        )

    return JudgeConfig(epochs=arguments.judge_epochs), quality


def prepare(arguments: argparse.Namespace) -> dict:
    """Ingests the bundled sample, trains (or takes) the generator and the judges; returns their paths."""
    from gan_core.config import DataConfig, ModelConfig, TrainConfig
    from gan_core.data.snapshot import load_snapshot
    from gan_core.data.stage import ingest_stage
    from gan_core.quality.judge_training import train_judges

    work = Path(arguments.results_dir) / "work"
    ingested = ingest_stage(DataConfig(source="sample"), work / "cache", logger)
    generator_dir = arguments.generator_dir
    if generator_dir is None:
        from gan_core.gan.stage import train_stage

        train = TrainConfig(
            steps=arguments.prepare_steps, checkpoint_every=arguments.prepare_steps, precision="float32"
        )
        trained = train_stage(ingested.snapshot_dir, ModelConfig(**TINY_MODEL), train, str(work / "runs"), logger)
        generator_dir = trained.generator_dir
    snapshot, splits = load_snapshot(Path(ingested.snapshot_dir))
    judge_config, _ = _configs(arguments)
    train_judges(splits, judge_config, work / "cache" / "judges", snapshot.fingerprint, second=True)
    return {"snapshot_dir": ingested.snapshot_dir, "generator_dir": str(generator_dir), "work": str(work)}


def measure(arguments: argparse.Namespace, size: int, prepared: dict) -> dict:
    """Runs the quality and publish steps for ``size`` samples in this process; returns their timings."""
    from gan_core.config import PublishConfig
    from gan_core.gan.sampling import load_generator
    from gan_core.machine import machine_info
    from gan_core.publish.stage import publish_stage
    from gan_core.quality.stage import quality_stage

    judge_config, quality = _configs(arguments)
    work = Path(prepared["work"])
    run_dir, output_root = work / f"run-{size}", work / f"datasets-{size}"
    started = time.perf_counter()
    checked = quality_stage(
        prepared["snapshot_dir"], prepared["generator_dir"], judge_config, quality(size),
        str(work / "cache"), str(run_dir), [], logger,
    )  # fmt: skip
    quality_seconds = time.perf_counter() - started
    generator_hash = load_generator(Path(prepared["generator_dir"])).content_hash
    config = PublishConfig(output_root=output_root, dataset_name="scale", rows_per_shard=arguments.rows_per_shard)
    started = time.perf_counter()
    published = publish_stage(prepared["snapshot_dir"], checked.accepted_path, config, generator_hash, {}, logger)
    publish_seconds = time.perf_counter() - started
    stored = sum(path.stat().st_size for path in Path(published.version_dir).rglob("*") if path.is_file())
    if not arguments.keep_outputs:
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(output_root, ignore_errors=True)
    return {
        "quality_seconds": round(quality_seconds, 2),
        "publish_seconds": round(publish_seconds, 2),
        "accepted": checked.num_accepted,
        "metric_subsample": checked.metric_subsample,
        "rows_published": published.rows,
        "shards": published.shards,
        "published_bytes": stored,
        "machine": machine_info(),
    }


def run_child(arguments: argparse.Namespace, mode: list[str]) -> tuple[dict, float, int]:
    """Runs this script as a child with ``mode``; returns (its JSON answer, wall seconds, peak RSS bytes)."""
    answer = Path(arguments.results_dir) / f".answer-{os.getpid()}.json"
    command = [sys.executable, __file__, *mode, "--answer", str(answer), *_shared_flags(arguments)]
    started = time.perf_counter()
    child = subprocess.Popen(command)
    # wait4 gives this child's own rusage: RUSAGE_CHILDREN would mix every size measured so far.
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(mode)} failed with exit code {child.returncode}; see its output above")
    result = json.loads(answer.read_text())
    answer.unlink()
    return result, wall, usage.ru_maxrss * 1024  # Linux reports kilobytes


def _shared_flags(arguments: argparse.Namespace) -> list[str]:
    flags = [
        "--results-dir", str(arguments.results_dir), "--chunk-size", str(arguments.chunk_size),
        "--metric-subsample", str(arguments.metric_subsample), "--rows-per-shard", str(arguments.rows_per_shard),
        "--prepare-steps", str(arguments.prepare_steps), "--judge-epochs", str(arguments.judge_epochs),
    ]  # fmt: skip
    if arguments.generator_dir is not None:
        flags += ["--generator-dir", str(arguments.generator_dir)]
    return flags + (["--keep-outputs"] if arguments.keep_outputs else [])


def write_table(results_dir: Path) -> Path:
    """Writes ``table.md`` from every ``samples-*.json`` in ``results_dir``; returns its path."""
    rows = sorted(
        (json.loads(path.read_text()) for path in results_dir.glob("samples-*.json")), key=lambda r: r["samples"]
    )
    lines = [
        "| samples | wall s (child) | quality s | publish s | samples/s | peak RSS MB | accepted | shards | metric subsample |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['samples']:,} | {r['wall_seconds']:.1f} | {r['quality_seconds']:.1f} | {r['publish_seconds']:.1f} "
            f"| {r['samples_per_second']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['accepted']:,} | {r['shards']} "
            f"| {r['metric_subsample']['size']:,} |"
        )
    path = results_dir / "table.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def legacy_dataset(version_dir, batch_size: int, seed: int = 0, shuffle_buffer: int = 10_000):
    """The loader's pipeline before part 4a (unbatch, shuffle and batch per row), as the baseline."""
    import numpy as np
    import tensorflow as tf

    from gan_core.publish import SOURCES, loader

    paths = loader.shard_paths(version_dir, "train")
    order_rng = np.random.default_rng(seed)

    def generate():
        yield from loader._iter_rows([paths[i] for i in order_rng.permutation(len(paths))], SOURCES, None)

    spec = (tf.TensorSpec(shape=(None,), dtype=tf.string), tf.TensorSpec(shape=(None,), dtype=tf.int64))
    rows = tf.data.Dataset.from_generator(generate, output_signature=spec).unbatch()
    rows = rows.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    image_spec = tf.TensorSpec(shape=(28, 28, 1), dtype=tf.uint8)

    def decode(pngs, labels):
        images = tf.map_fn(lambda png: tf.io.decode_png(png, channels=1), pngs, fn_output_signature=image_spec)
        return tf.cast(images, tf.float32) / 255.0, labels

    return rows.batch(batch_size).map(decode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _images_per_second(dataset) -> float:
    started, count = time.perf_counter(), 0
    for _, labels in dataset:
        count += int(labels.shape[0])
    return count / (time.perf_counter() - started)


def measure_read(arguments: argparse.Namespace) -> dict:
    """Publishes ``--read`` rows locally and to a moto S3 server; times both loaders on both, pass by pass."""
    import numpy as np

    from gan_core.data import load_bundled_sample
    from gan_core.machine import machine_info
    from gan_core.publish import Rows, loader, publish_version
    from tests.s3_server import moto_server, s3_env

    rows, batch_size = arguments.read, arguments.batch_size
    sample = load_bundled_sample()
    repeats = -(-rows // len(sample.train_labels))
    images = np.concatenate([sample.train_images] * repeats)[:rows]
    labels = np.concatenate([sample.train_labels] * repeats)[:rows]
    parts = [Rows(images, labels, source="real", split="train")]
    work = Path(tempfile.mkdtemp(prefix="read-benchmark-"))
    load_before = os.getloadavg()
    result = {"rows": rows, "batch_size": batch_size, "passes": arguments.passes, "shuffle": True}
    with moto_server(work / "moto.log") as endpoint:
        os.environ.update(s3_env(endpoint))
        import fsspec

        fsspec.filesystem("s3").mkdir("bench")
        versions = {}
        for where, root in (("local", work / "datasets"), ("s3", "s3://bench/read")):
            started = time.perf_counter()
            versions[where] = publish_version(
                root, "read", parts, sample.class_names, {}, rows_per_shard=arguments.rows_per_shard
            ).path
            logger.info("published %d rows to %s in %.1f s", rows, versions[where], time.perf_counter() - started)
        loaders = {
            "before": lambda path: legacy_dataset(path, batch_size),
            "after": lambda path: loader.make_dataset(path, batch_size=batch_size, check_integrity=False),
        }
        for where, path in versions.items():
            rates = {name: [] for name in loaders}
            datasets = {name: build(path) for name, build in loaders.items()}
            for dataset in datasets.values():
                for _ in dataset.take(2):  # trace the graphs outside the timed passes
                    pass
            for _ in range(arguments.passes):
                for name, dataset in datasets.items():  # alternate, so a load change hits both
                    rates[name].append(round(_images_per_second(dataset)))
            result[where] = {
                name: {"median_images_per_second": float(np.median(values)), "passes": values}
                for name, values in rates.items()
            }
            result[where]["speedup"] = round(
                result[where]["after"]["median_images_per_second"]
                / result[where]["before"]["median_images_per_second"],
                2,
            )
            logger.info("%s: %s", where, result[where])
    result.update(load_average_before=load_before, load_average_after=os.getloadavg(), machine=machine_info())
    shutil.rmtree(work, ignore_errors=True)
    return result


def measure_read_ahead(arguments: argparse.Namespace, prepared: dict) -> dict:
    """Times the quality step on ``--read-ahead-ab`` samples without and with read-ahead, round by round.

    Both run in this process, alternating (the order flips every round), on the same generator and
    judges; the staged accepted rows of every run must be byte-identical.
    """
    import numpy as np

    from gan_core.io.hashing import sha256_file
    from gan_core.machine import machine_info
    from gan_core.quality.stage import READ_AHEAD_CHUNKS, quality_stage

    judge_config, quality = _configs(arguments)
    work, size = Path(prepared["work"]), arguments.read_ahead_ab
    depths = {"serial": 0, "read-ahead": READ_AHEAD_CHUNKS}
    seconds: dict[str, list[float]] = {name: [] for name in depths}
    digests = set()
    load_before = os.getloadavg()
    for round_index in range(arguments.rounds):
        order = list(depths) if round_index % 2 == 0 else list(reversed(depths))
        for name in order:
            started = time.perf_counter()
            checked = quality_stage(
                prepared["snapshot_dir"], prepared["generator_dir"], judge_config, quality(size),
                str(work / "cache"), str(work / f"run-ab-{size}"), [], logger, read_ahead_chunks=depths[name],
            )  # fmt: skip
            seconds[name].append(round(time.perf_counter() - started, 2))
            digests.add(sha256_file(Path(checked.accepted_path)))
            logger.info("round %d %s: %.1f s", round_index + 1, name, seconds[name][-1])
    shutil.rmtree(work / f"run-ab-{size}", ignore_errors=True)
    medians = {name: float(np.median(values)) for name, values in seconds.items()}
    return {
        "samples": size,
        "rounds": arguments.rounds,
        "read_ahead_chunks": READ_AHEAD_CHUNKS,
        "seconds": seconds,
        "median_seconds": medians,
        "median_samples_per_second": {name: round(size / value, 1) for name, value in medians.items()},
        "speedup": round(medians["serial"] / medians["read-ahead"], 3),
        "staged_rows_identical": len(digests) == 1,
        "generator_dir": prepared["generator_dir"],
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "machine": machine_info(),
    }


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="samples in all, per run")
    parser.add_argument("--generator-dir", type=Path, help="an exported generator; default: train a tiny one")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--chunk-size", type=int, default=16_384)
    parser.add_argument("--metric-subsample", type=int, default=10_000)
    parser.add_argument("--rows-per-shard", type=int, default=10_000)
    parser.add_argument("--prepare-steps", type=int, default=300, help="steps of the tiny generator")
    parser.add_argument("--judge-epochs", type=int, default=3)
    parser.add_argument("--read", type=int, help="measure the loader's img/s over a version of this many rows")
    parser.add_argument("--passes", type=int, default=5, help="timed passes per loader (--read)")
    parser.add_argument("--batch-size", type=int, default=256, help="loader batch size (--read)")
    parser.add_argument(
        "--read-ahead-ab", type=int, help="time the quality step on this many samples without and with read-ahead"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per variant (--read-ahead-ab)")
    parser.add_argument("--force", action="store_true", help="measure sizes that already have a result")
    parser.add_argument("--keep-outputs", action="store_true", help="keep the staged and published rows")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--answer", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    bad = [size for size in arguments.sizes if size < NUM_CLASSES or size % NUM_CLASSES]
    if bad:
        parser.error(f"--sizes {bad}: each size must be a positive multiple of {NUM_CLASSES} (samples per class x 10)")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results_dir = Path(arguments.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    if arguments.read is not None:
        result = measure_read(arguments)
        path = results_dir / f"read-{arguments.read}.json"
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(json.dumps({key: result[key] for key in ("local", "s3")}, indent=2))
        return 0
    if arguments.read_ahead_ab is not None:
        prepared_path = results_dir / "work" / "prepared.json"
        if arguments.generator_dir is not None or not prepared_path.exists():
            prepared, _, _ = run_child(arguments, ["--prepare"])
            prepared_path.parent.mkdir(exist_ok=True)
            prepared_path.write_text(json.dumps(prepared))
        result = measure_read_ahead(arguments, json.loads(prepared_path.read_text()))
        path = results_dir / f"read-ahead-{arguments.read_ahead_ab}.json"
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        logger.info("read-ahead: %s", {key: result[key] for key in ("median_samples_per_second", "speedup")})
        return 0
    if arguments.prepare or arguments.measure is not None:  # a child: do the work, answer in JSON
        prepared = json.loads((results_dir / "work" / "prepared.json").read_text()) if arguments.measure else None
        answer = prepare(arguments) if arguments.prepare else measure(arguments, arguments.measure, prepared)
        arguments.answer.write_text(json.dumps(answer))
        return 0

    todo = [size for size in arguments.sizes if arguments.force or not (results_dir / f"samples-{size}.json").exists()]
    logger.info("sizes to measure: %s (already measured: %s)", todo, sorted(set(arguments.sizes) - set(todo)))
    if todo:
        prepared, _, _ = run_child(arguments, ["--prepare"])
        (results_dir / "work").mkdir(exist_ok=True)
        (results_dir / "work" / "prepared.json").write_text(json.dumps(prepared))
    for size in todo:
        measured, wall, peak = run_child(arguments, ["--measure", str(size)])
        stage_seconds = measured["quality_seconds"] + measured["publish_seconds"]
        result = {
            "samples": size,
            "wall_seconds": round(wall, 2),
            "samples_per_second": round(size / stage_seconds, 1),
            "peak_rss_bytes": peak,
            "peak_rss_mb": round(peak / 2**20, 1),
            "chunk_size": arguments.chunk_size,
            "rows_per_shard": arguments.rows_per_shard,
            "generator_dir": prepared["generator_dir"],
            **measured,
        }
        (results_dir / f"samples-{size}.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        logger.info(
            "%d samples: %.1f s in the child, %.0f samples/s (quality + publish), peak RSS %.0f MB",
            size, wall, result["samples_per_second"], result["peak_rss_mb"],
        )  # fmt: skip
    print(write_table(results_dir).read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
