"""Generator quality: can a classifier learn from the samples alone, and at what training cost?

For one named configuration and a budget (steps, or minutes measured against this machine's
speed), it trains the cGAN on the bundled sample's 8,000 real train digits, then reports:

- CAS: the reference classifier (``gan_core.quality.classifier``, LeNet-style, not the judge's
  architecture) trained on 8,000 synthetic rows only (800 per class, drawn from the rows the
  judge accepted, as published), beside the same classifier trained on the 8,000 real train
  images; both tested on the 2,000 real test digits. ``cas_raw`` is the same on 8,000
  unfiltered samples.
- FID ratio, precision/recall, density/coverage and C_T on the rejecting judge's features
  (``gan_core.quality.evaluate``, as the flow computes them).
- Label fidelity measured by a second judge that did not do the rejection (the LeNet
  architecture, another seed), beside that judge's own accuracy on real test.
- Training wall time, in-run img/s, and the isolated step's img/s measured in the same process
  after training (the ratio says what checkpoints, grids and logs cost).

With ``--curve`` the EMA generator is snapshotted at every checkpoint and CAS is measured at
each, giving CAS against training minutes. Results are one JSON per (config, seed) in
``--results-dir``; a finished one is reused and an interrupted training run resumes.

Usage::

    .venv/bin/python benchmarks/gan_quality.py --config default --seeds 0 1 2
    .venv/bin/python benchmarks/gan_quality.py --config quality --seeds 0 1 --curve
    .venv/bin/python benchmarks/gan_quality.py --config cbn-w32 --minutes 6 --seeds 0
    .venv/bin/python benchmarks/gan_quality.py --list
    .venv/bin/python benchmarks/gan_quality.py --report         # summary.json, table.md, grids/, cas_curve.png
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger("gan_quality")

RESULTS_DIR = Path(__file__).resolve().parent / "results" / "gan_quality"
CAS_ROWS_PER_CLASS = 800  # 8,000 rows: as many as the real train split
GENERATED_PER_CLASS = 1000  # enough that 800 per class survive rejection
PROBE_STEPS = 40


# The sweep's base: the defaults before the sweep chose new ones (embedding-concat G of width 32,
# no mode seeking). Every variant names its fields relative to it, so a later change of the
# defaults does not change what a variant name means.
_BASE_MODEL = {"generator_arch": "concat", "generator_width": 32, "discriminator_width": 32}
_BASE_TRAIN = {"mode_seeking_weight": 0.0, "diffaugment": "translation"}
# Variants tried for the README's table: (name, model fields, train fields).
_CONCAT = {"generator_arch": "concat"}
_RESNET16 = {"generator_arch": "resnet", "generator_width": 16}
_VARIANTS: tuple[tuple[str, dict, dict], ...] = (
    ("concat-w32", _CONCAT, {}),
    ("concat-w64", {**_CONCAT, "generator_width": 64, "discriminator_width": 64}, {}),
    ("cbn-w32", {"generator_arch": "cbn", "generator_width": 32}, {}),
    ("cbn-w16", {"generator_arch": "cbn", "generator_width": 16}, {}),
    ("resnet-w16", _RESNET16, {}),
    ("resnet-w24", {**_RESNET16, "generator_width": 24}, {}),
    ("resnet-w16-d64", {**_RESNET16, "discriminator_width": 64}, {}),
)
# The same switches on either base: (suffix, train fields).
_SWITCHES: tuple[tuple[str, dict], ...] = (
    ("lecam", {"lecam_weight": 0.3}),
    ("ms", {"mode_seeking_weight": 1.0}),
    ("ms03", {"mode_seeking_weight": 0.3}),
    ("ms01", {"mode_seeking_weight": 0.1}),
    ("decay", {"lr_decay": "linear"}),
    ("ttur", {"generator_lr": 1e-4, "discriminator_lr": 4e-4}),
    ("2d", {"discriminator_steps": 2}),
    ("cutout", {"diffaugment": "translation,cutout"}),
    ("noaug", {"diffaugment": ""}),
    ("b128", {"batch_size": 128}),
    ("ema9999", {"ema_decay": 0.9999}),
    ("adam05", {"beta_1": 0.5, "beta_2": 0.999}),
)

# Switches that measured well alone, tried together on the resnet base.
_COMBINATIONS: tuple[tuple[str, ...], ...] = (
    ("lecam", "ms03"),
    ("lecam", "ms01"),
    ("lecam", "ms03", "decay"),
    ("ms01", "noaug"),
)


def candidates() -> dict[str, dict]:
    """Named configurations: a training profile plus overrides of its model/train fields."""
    from gan_core.config import TRAINING_PROFILES

    named = {name: {"profile": name, "model": {}, "train": {}} for name in TRAINING_PROFILES}

    def variant(model: dict, train: dict) -> dict:
        return {"profile": "default", "model": {**_BASE_MODEL, **model}, "train": {**_BASE_TRAIN, **train}}

    for name, model, train in _VARIANTS:
        named[name] = variant(model, train)
    for base, model in (("concat-w32", _CONCAT), ("resnet-w16", _RESNET16)):
        for suffix, train in _SWITCHES:
            named[f"{base}-{suffix}"] = variant(model, train)
    switches = dict(_SWITCHES)
    for combination in _COMBINATIONS:
        train = {key: value for suffix in combination for key, value in switches[suffix].items()}
        named["resnet-w16-" + "-".join(combination)] = variant(_RESNET16, train)
    return named


def resolve(name: str, steps: int | None):
    """(ModelConfig, TrainConfig) for a named candidate, with an optional step budget."""
    from gan_core.config import profile_configs

    if name not in candidates():
        raise SystemExit(f"unknown config {name!r}: see --list")
    spec = candidates()[name]
    model, train = profile_configs(spec["profile"])
    model = model.model_copy(update=spec["model"])
    train = train.model_copy(update=spec["train"])
    if steps is not None:
        train = train.model_copy(update={"steps": steps})
    # Validate the merged fields (model_copy does not).
    return type(model)(**model.resolved()), type(train)(**train.resolved())


def isolated_rate(model_config, train_config, images, labels, steps: int = PROBE_STEPS, rounds: int = 3) -> float:
    """Median img/s of the bare training step (no checkpoints, logs or grids) in this process."""
    from gan_core.gan.batches import make_training_batches
    from gan_core.gan.grappler import grappler_remapping
    from gan_core.gan.trainer import ConditionalGanTrainer

    train_config = train_config.for_training_set(len(images))
    trainer = ConditionalGanTrainer(model_config, train_config.model_copy(update={"precision": "float32"}), "float32")
    draw = train_config.batch_size * train_config.discriminator_steps
    batches = iter(make_training_batches(images, labels, draw, train_config.seed))
    rates = []
    with grappler_remapping(enabled=False):  # the graph train_gan runs
        for _ in range(3):  # trace and warm up
            trainer.train_step(*next(batches))
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(steps):
                result = trainer.train_step(*next(batches))
            float(result[0])  # wait for the last step
            rates.append(steps * train_config.batch_size / (time.perf_counter() - started))
    return float(np.median(rates))


def cas_rows(images, labels, accepted, per_class: int, num_classes: int):
    """The first ``per_class`` accepted rows of every class (fewer where fewer survived)."""
    keep = []
    for label in range(num_classes):
        rows = np.flatnonzero(accepted & (labels == label))[:per_class]
        keep.append(rows)
    rows = np.concatenate(keep)
    return images[rows], labels[rows]


def selection_proxies(model, images, splits, judge) -> dict:
    """Cheap checkpoint-selection scores on real train data, never the test split.

    ``cas_on_train``: the synthetic-trained classifier's accuracy on the 8,000 real train digits.
    ``fid_to_train``: FID between the samples and the real train digits in the judge's features.
    """
    from gan_core.quality import classifier
    from gan_core.quality.metrics.fid import frechet_distance

    return {
        "cas_on_train": classifier.evaluate(model, splits.train_images, splits.train_labels),
        "fid_to_train": frechet_distance(judge.features(images), judge.features(splits.train_images)),
    }


def evaluate_generator(
    generator_dir: Path, splits, judge, second_judge, seed: int, full: bool, raw: bool = False
) -> dict:
    """CAS (accepted and raw rows) and, with ``full``, every quality metric and second-judge agreement."""
    from gan_core import quality
    from gan_core.quality import classifier
    from gan_core.config import QualityConfig
    from gan_core.gan.sampling import load_generator

    num_classes = len(splits.class_names)
    generator = load_generator(generator_dir)
    images, labels = generator.generate_per_class(GENERATED_PER_CLASS, seed)
    config = QualityConfig(samples_per_class=GENERATED_PER_CLASS, seed=seed)
    if full:
        report = quality.evaluate(
            images, labels, splits, judge, config, num_classes, splits.class_names, second_judge=second_judge
        )
        metrics, accepted = dict(report.metrics), report.accepted
    else:
        accepted = quality.label_confidences(judge.predict_proba(images), labels) >= config.gate.min_confidence
        metrics = {"acceptance_rate": float(np.mean(accepted))}
    cas_images, cas_labels = cas_rows(images, labels, accepted, CAS_ROWS_PER_CLASS, num_classes)
    metrics["cas_rows"] = len(cas_labels)
    model = classifier.train_classifier(cas_images, cas_labels, num_classes, seed=seed)
    metrics["cas"] = classifier.evaluate(model, splits.test_images, splits.test_labels)
    metrics.update(selection_proxies(model, images, splits, judge))
    if raw:
        everything = np.ones(len(labels), dtype=bool)
        raw_images, raw_labels = cas_rows(images, labels, everything, CAS_ROWS_PER_CLASS, num_classes)
        metrics["cas_raw"] = classifier.train_and_score(
            raw_images, raw_labels, splits.test_images, splits.test_labels, num_classes, seed
        )
    return metrics


CURVE_KEYS = ("cas", "acceptance_rate", "cas_on_train", "fid_to_train")


def curve_point(metrics: dict) -> dict:
    """The numbers the curve keeps for one snapshot."""
    return {key: metrics[key] for key in CURVE_KEYS}


def run_one(
    name: str, seed: int, steps: int | None, minutes: float | None, curve: bool, results_dir: Path, raw: bool = False
) -> dict:
    """Trains and evaluates one (config, seed); returns the JSON-ready result and writes it."""
    from gan_core import data
    from gan_core.quality import classifier
    from gan_core.config import JudgeConfig
    from gan_core.io.fsutil import atomic_write_json
    from gan_core.quality.judge_training import train_judges
    from gan_core.machine import machine_info
    from gan_core.gan.sampling import export_generator
    from gan_core.gan.train import train_gan

    budget = f"{steps}steps" if steps else (f"{minutes:g}min" if minutes else "profile")
    key = f"{name}-{budget}-seed{seed}"
    result_path = results_dir / f"{key}.json"
    if result_path.exists():
        logger.info("reusing %s", result_path)
        return json.loads(result_path.read_text())

    splits = data.load_bundled_sample()
    num_classes = len(splits.class_names)
    run_dir = results_dir / "runs" / key
    model_config, train_config = resolve(name, steps)
    train_config = train_config.model_copy(update={"seed": seed, "precision": "float32"})
    stored = run_dir / "config.json"
    if minutes and stored.exists():
        # A resumed time-budget run keeps the step count it was given the first time.
        train_config = train_config.model_copy(update={"steps": json.loads(stored.read_text())["train"]["steps"]})
    elif minutes:
        rate = isolated_rate(model_config, train_config, splits.train_images, splits.train_labels)
        budget_steps = max(1, int(minutes * 60 * rate / train_config.batch_size))
        logger.info("%s: probe %.0f img/s -> %d steps for %.1f min", name, rate, budget_steps, minutes)
        train_config = train_config.model_copy(update={"steps": budget_steps})
    if curve:
        train_config = train_config.model_copy(update={"checkpoint_every": max(1, train_config.steps // 8)})

    snapshots: list[tuple[int, float, Path]] = []
    started = time.perf_counter()

    def snapshot(step: int, trainer) -> None:
        if curve:
            directory = run_dir / "snapshots" / f"step-{step:07d}"
            export_generator(trainer.ema_generator, model_config, directory, class_names=splits.class_names)
            snapshots.append((step, time.perf_counter() - started, directory))

    logger.info("training %s seed %d for %d steps", name, seed, train_config.steps)
    train = functools.partial(train_gan, class_names=splits.class_names, on_checkpoint=snapshot)
    trained = train(splits.train_images, splits.train_labels, model_config, train_config, run_dir)
    train_seconds, in_run_rate = trained.train_seconds, trained.images_per_second

    cache = results_dir / "cache"
    judge, second_judge = train_judges(splits, JudgeConfig(), cache)
    baseline_path = cache / f"cas-real-baseline-seed{seed}.json"
    if baseline_path.exists():
        baseline = json.loads(baseline_path.read_text())["cas_real_baseline"]
    else:
        baseline = classifier.train_and_score(
            splits.train_images, splits.train_labels, splits.test_images, splits.test_labels, num_classes, seed
        )
        atomic_write_json(baseline_path, {"cas_real_baseline": baseline})

    tick = time.perf_counter()
    metrics = evaluate_generator(trained.generator_dir, splits, judge, second_judge, seed, full=True, raw=raw)
    eval_seconds = time.perf_counter() - tick
    curve_rows = []
    for step, seconds, directory in snapshots[:-1]:
        row = evaluate_generator(directory, splits, judge, second_judge, seed, full=False)
        curve_rows.append({"step": step, "train_minutes": seconds / 60, **curve_point(row)})
        logger.info("curve: step %d (%.1f min) CAS %.4f", step, seconds / 60, row["cas"])
    if curve:
        curve_rows.append({"step": train_config.steps, "train_minutes": train_seconds / 60, **curve_point(metrics)})
    isolated = isolated_rate(model_config, train_config, splits.train_images, splits.train_labels)

    result = {
        "config": name,
        "seed": seed,
        "budget": budget,
        "model": model_config.resolved(),
        "train": train_config.resolved(),
        "cas": metrics["cas"],
        "cas_raw": metrics.get("cas_raw"),
        "cas_real_baseline": baseline,
        "cas_gap": baseline - metrics["cas"],
        "metrics": metrics,
        "train_seconds": train_seconds,
        "train_minutes": train_seconds / 60,
        "eval_seconds": eval_seconds,
        "images_per_second_in_run": in_run_rate,
        "images_per_second_isolated": isolated,
        "in_run_over_isolated": in_run_rate / isolated if in_run_rate else None,
        "curve": curve_rows,
        "machine": machine_info(),
        "wall_seconds": time.perf_counter() - started,
    }
    atomic_write_json(result_path, result)
    logger.info(
        "%s: CAS %.4f (raw %.4f) vs real %.4f, gap %.2f pt, %.1f min training",
        key,
        result["cas"],
        result["cas_raw"] or float("nan"),
        baseline,
        100 * result["cas_gap"],
        result["train_minutes"],
    )
    return result


def summarize(results: list[dict]) -> dict:
    """Mean and std over seeds of the headline numbers, per config and step budget."""
    groups: dict[str, list[dict]] = {}
    for row in results:
        # Grouped by steps: a --minutes budget is turned into steps once, so runs with the same
        # steps are the same experiment whichever way the budget was given.
        groups.setdefault(f"{row['config']}-{row['train']['steps']}steps", []).append(row)
    keys = {
        "cas": lambda r: r["cas"],
        "cas_raw": lambda r: r["cas_raw"],
        "cas_real_baseline": lambda r: r["cas_real_baseline"],
        "cas_gap": lambda r: r["cas_gap"],
        "second_judge_agreement": lambda r: r["metrics"].get("second_judge_agreement"),
        "second_judge_accuracy": lambda r: r["metrics"].get("second_judge_accuracy"),
        "recall": lambda r: r["metrics"].get("recall"),
        "coverage": lambda r: r["metrics"].get("coverage"),
        "precision": lambda r: r["metrics"].get("precision"),
        "density": lambda r: r["metrics"].get("density"),
        "fid_ratio": lambda r: r["metrics"].get("fid_ratio"),
        "data_copying_ct": lambda r: r["metrics"].get("data_copying_ct"),
        "label_fidelity": lambda r: r["metrics"].get("label_fidelity"),
        "train_minutes": lambda r: r["train_minutes"],
        "images_per_second_in_run": lambda r: r["images_per_second_in_run"],
        "in_run_over_isolated": lambda r: r["in_run_over_isolated"],
    }
    summary = {}
    for group, rows in groups.items():
        entry = {"seeds": [r["seed"] for r in rows], "steps": rows[0]["train"]["steps"]}
        for key, read in keys.items():
            values = [read(r) for r in rows if read(r) is not None]
            if values:
                entry[key] = {
                    "mean": float(np.mean(values)),
                    "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                }
        summary[group] = entry
    return summary


SELECTION_PROXIES = {"cas_on_train": max, "fid_to_train": min}


def checkpoint_selection(row: dict) -> dict | None:
    """What keeping the proxy-best snapshot would have given, against keeping the last one.

    Proxies are scored on real train data only; CAS (real test) is read only to report the
    outcome. ``oracle`` is the best CAS on the curve, an upper bound no proxy can beat.
    """
    curve = [point for point in row.get("curve") or [] if all(key in point for key in SELECTION_PROXIES)]
    if len(curve) < 2:
        return None
    final = curve[-1]
    selection = {"final": {"step": final["step"], "cas": final["cas"]}}
    for proxy, best in SELECTION_PROXIES.items():
        chosen = best(curve, key=lambda point: point[proxy])
        selection[f"by_{proxy}"] = {"step": chosen["step"], "cas": chosen["cas"], "gain": chosen["cas"] - final["cas"]}
    oracle = max(curve, key=lambda point: point["cas"])
    selection["oracle"] = {"step": oracle["step"], "cas": oracle["cas"], "gain": oracle["cas"] - final["cas"]}
    return selection


def curve_png(results: list[dict]) -> bytes:
    """CAS against training minutes, one line per (config, seed) that has a curve."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4))
    for row in results:
        if not row.get("curve"):
            continue
        minutes = [point["train_minutes"] for point in row["curve"]]
        axis.plot(
            minutes, [point["cas"] for point in row["curve"]], marker="o", label=f"{row['config']} seed {row['seed']}"
        )
        axis.axhline(row["cas_real_baseline"], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("training minutes (2-core CPU)")
    axis.set_ylabel("CAS on real test (8,000 synthetic rows)")
    axis.set_title("CAS against training time (dotted: same classifier on 8,000 real)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action="append", help="named configuration (repeatable); see --list")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="generator steps (default: the profile's)")
    budget.add_argument("--minutes", type=float, help="training minutes, converted to steps by a speed probe")
    parser.add_argument("--curve", action="store_true", help="CAS at every checkpoint (CAS against minutes)")
    parser.add_argument("--raw", action="store_true", help="also CAS on 8,000 unfiltered samples")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--list", action="store_true", help="list the named configurations and exit")
    parser.add_argument("--report", action="store_true", help="only rewrite the summary, table, curve and grids")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if arguments.list:
        for name, spec in candidates().items():
            print(f"{name:18s} profile={spec['profile']} model={spec['model']} train={spec['train']}")
        return 0
    if not arguments.config and not arguments.report:
        parser.error("--config or --report is required (see --list)")
    arguments.results_dir.mkdir(parents=True, exist_ok=True)
    for name in arguments.config or []:
        for seed in arguments.seeds:
            run_one(
                name, seed, arguments.steps, arguments.minutes, arguments.curve, arguments.results_dir, arguments.raw
            )
    write_report(arguments.results_dir)
    return 0


def write_report(results_dir: Path) -> None:
    """Writes summary.json, table.md, the CAS curve and one sample grid per run into ``results_dir``."""
    from gan_core.io.fsutil import atomic_write_bytes, atomic_write_json

    results = [
        json.loads(path.read_text())
        for path in sorted(results_dir.glob("*.json"))
        if path.name not in ("summary.json", "checkpoint_selection.json")
    ]
    summary = summarize(results)
    selections = {
        f"{row['config']}-{row['budget']}-seed{row['seed']}": selection
        for row in results
        if (selection := checkpoint_selection(row))
    }
    if selections:
        atomic_write_json(results_dir / "checkpoint_selection.json", selections)
    atomic_write_json(results_dir / "summary.json", summary)
    (results_dir / "table.md").write_text(markdown_table(summary))
    if any(row.get("curve") for row in results):
        atomic_write_bytes(results_dir / "cas_curve.png", curve_png(results))
    for row in results:
        key = f"{row['config']}-{row['budget']}-seed{row['seed']}"
        grid_path, generator_dir = results_dir / "grids" / f"{key}.png", results_dir / "runs" / key / "generator"
        if not grid_path.exists() and generator_dir.exists():
            from gan_core.gan.sampling import grid_png, load_generator  # TensorFlow: only when there is a grid to draw

            grid_path.parent.mkdir(exist_ok=True)
            atomic_write_bytes(grid_path, grid_png(load_generator(generator_dir), seed=0))
    for group, entry in summary.items():
        cells = ", ".join(f"{k} {v['mean']:.4g}±{v['std']:.2g}" for k, v in entry.items() if isinstance(v, dict))
        logger.info("%s: %s", group, cells)


def markdown_table(summary: dict) -> str:
    """One row per (config, budget): mean ± std over seeds of the headline numbers."""

    def cell(entry: dict, key: str, scale: float = 1.0, digits: int = 3) -> str:
        if key not in entry:
            return "-"
        mean, std = entry[key]["mean"] * scale, entry[key]["std"] * scale
        return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if len(entry["seeds"]) > 1 else "")

    lines = [
        "| config | seeds | steps | train min | CAS | CAS gap (pt) | 2nd judge agreement / accuracy "
        "| recall | coverage | precision | FID ratio | C_T |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for group, entry in sorted(summary.items(), key=lambda item: -item[1]["cas"]["mean"]):
        config = group.rsplit("-", 1)[0]
        lines.append(
            f"| {config} | {len(entry['seeds'])} | {entry['steps']} | {cell(entry, 'train_minutes', digits=1)} "
            f"| {cell(entry, 'cas')} | {cell(entry, 'cas_gap', 100, 1)} "
            f"| {cell(entry, 'second_judge_agreement')} / {cell(entry, 'second_judge_accuracy')} "
            f"| {cell(entry, 'recall')} | {cell(entry, 'coverage')} | {cell(entry, 'precision')} "
            f"| {cell(entry, 'fid_ratio', digits=1)} | {cell(entry, 'data_copying_ct', digits=2)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
