"""Prefect wrappers for the downstream-utility benchmark: one task per (N, seed), one aggregate task."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

EXPERIMENTS_DIR = "experiments"
SUMMARY_JSON = "utility.json"
SUMMARY_PNG = "utility.png"


# A retry resumes the GAN from its last epoch checkpoint; finished experiments are reused.
@task(name="utility-experiment", task_run_name="utility-n{size}-seed{seed}", retries=1, retry_delay_seconds=10)
def experiment_task(snapshot_dir: str, size: int, seed: int, config, output_dir: str, work_root: str) -> str:
    """Runs (or reuses) one (N, seed) experiment; returns the path of its result JSON."""
    from gan_core import data
    from gan_core.experiments import utility

    logger = get_run_logger()
    snapshot, splits = data.load_snapshot(Path(snapshot_dir))
    result, path, reused = utility.run_or_load(
        splits,
        snapshot.fingerprint,
        size,
        seed,
        config,
        Path(output_dir) / EXPERIMENTS_DIR,
        Path(work_root) / "utility",
    )
    accuracy = ", ".join(f"({arm}) {value:.4f}" for arm, value in result["accuracy"].items())
    logger.info(
        "N=%s (%d real) seed %d%s: %s; %d/%d synthetic accepted; %.0f s",
        "all" if size == 0 else size,
        result["n_real"],
        seed,
        " [reused]" if reused else "",
        accuracy,
        result["synthetic"]["accepted"],
        result["synthetic"]["generated"],
        result["seconds"]["total"],
    )
    return str(path)


@task(name="utility-aggregate")
def aggregate_task(result_paths: list[str], config, output_dir: str) -> dict:
    """Writes ``utility.json`` and ``utility.png``, a table and a markdown artifact; returns the summary."""
    from gan_core import imaging
    from gan_core.experiments import utility
    from gan_core.io.fsutil import atomic_write_bytes, atomic_write_json

    logger = get_run_logger()
    results = [json.loads(Path(path).read_text()) for path in result_paths]
    summary = utility.summarize(results)
    png = utility.utility_png(summary)
    output = Path(output_dir)
    json_path, png_path = output / SUMMARY_JSON, output / SUMMARY_PNG
    document = {
        **summary,
        "config": config.resolved(),
        "experiments": [
            {
                key: result[key]
                for key in (
                    "size",
                    "n_real",
                    "seed",
                    "accuracy",
                    "train_sizes",
                    "classifier_steps",
                    "gan",
                    "judge",
                    "synthetic",
                    "seconds",
                    "label_scarce",
                )
                if key in result
            }
            for result in results
        ],
        "experiment_seconds_total": sum(result["seconds"]["total"] for result in results),
    }
    atomic_write_json(json_path, document)
    atomic_write_bytes(png_path, png)
    table = utility.format_table(summary)
    create_table_artifact(
        key="utility-benchmark",
        table=summary["rows"],
        description="Downstream accuracy per N and arm: mean, std over seeds, paired gain vs (a) and (b), 95 % CI",
    )
    create_markdown_artifact(
        key="utility-report",
        markdown=(
            "## Does synthetic data help?\n\n"
            "Arms: (a) real N, (b) real N + classic augmentation, (c) real N + synthetic, "
            "(d) real N + synthetic + classic augmentation"
            + (
                "; label-scarce: (e) the FixMatch teacher on real N + the pool, (f) real N + samples of the GAN "
                "trained on the teacher's pseudo-labels, rejected by it, + classic augmentation, (g) real N + "
                "the pseudo-labelled pool + classic augmentation"
                if config.label_scarce
                else ""
            )
            + "; every arm tested on the real test split.\n\n"
            f"{table}\n\n![accuracy against N]({imaging.png_data_uri(png)})\n"
        ),
        description="Downstream-utility benchmark: table and plot",
    )
    logger.info("wrote %s and %s\n%s", json_path, png_path, table)
    return {**summary, "json_path": str(json_path), "png_path": str(png_path)}
