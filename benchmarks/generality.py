"""Generality: the main job, as a new user runs it, on datasets other than the MNIST it was tuned on.

Four datasets, each written to disk in a layout users keep and read through its source route:

| dataset | what | route |
| --- | --- | --- |
| ``mnist-sample`` | the bundled 8k/2k MNIST sample, 28x28 gray | ``sample`` |
| ``mnist-colour-32`` | the same digits, padded to 32x32 and coloured (seeded hues on a dark background) | ``folder:`` with train/test folders |
| ``sklearn-digits-32`` | scikit-learn's 1,797 8x8 digits upscaled to 32x32 (a truly small set) | ``parquet:`` (HF layout, no split: seeded split) |
| ``textures-32`` | 32x32 patches of scikit-image's brick, grass and gravel textures; test patches from a disjoint strip | ``folder:`` with train/test folders |

Arms per dataset: ``default`` (no flags but the source; ``--measure-cas`` adds the CAS pair and
``--gate warn`` publishes whatever the verdict, so every metric is kept) and ``untrained``
(``--steps 20``, the control a gate must refuse). Each run is ``gan-augment run`` in its own
process with its own Prefect home; its JSON summary, the manifest's metrics and gate checks,
wall time per stage and peak RSS go to ``--results-dir/<dataset>-<arm>.json`` as it finishes.
A finished run is skipped on the next call (resumable) unless ``--force``.

Usage::

    .venv/bin/python benchmarks/generality.py                          # every dataset and arm
    .venv/bin/python benchmarks/generality.py --datasets textures-32 --arms default
    .venv/bin/python benchmarks/generality.py --prepare-only           # just write the datasets
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger("generality")

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results" / "generality"
WORK_DIR = ROOT / "outputs" / "bench" / "generality"
ARMS = {"default": [], "untrained": ["--steps", "20"]}
# Every run keeps its metrics whatever the verdict; the verdict itself is recorded.
COMMON_FLAGS = ["--measure-cas", "--gate", "warn"]
TEXTURES = ("brick", "grass", "gravel")


def _write_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image).save(path)


def colourize(digits: np.ndarray, seed: int) -> np.ndarray:
    """(N, 28, 28[, 1]) gray digits -> (N, 32, 32, 3): padded by 2 px, a seeded bright hue on a dark background."""
    import colorsys

    gray = digits.reshape(len(digits), 28, 28).astype(np.float32) / 255.0
    padded = np.pad(gray, ((0, 0), (2, 2), (2, 2)))[..., None]
    rng = np.random.default_rng(seed)
    hues = rng.uniform(size=(len(digits), 2))
    foreground = np.array([colorsys.hsv_to_rgb(h, 0.8, 1.0) for h in hues[:, 0]], np.float32)
    background = np.array([colorsys.hsv_to_rgb(h, 0.6, 0.25) for h in hues[:, 1]], np.float32)
    mixed = padded * foreground[:, None, None, :] + (1.0 - padded) * background[:, None, None, :]
    return np.clip(np.rint(mixed * 255.0), 0, 255).astype(np.uint8)


def prepare_mnist_colour(directory: Path) -> str:
    from gan_core.data import load_bundled_sample

    sample = load_bundled_sample()
    for split, images, labels, seed in (
        ("train", sample.train_images, sample.train_labels, 0),
        ("test", sample.test_images, sample.test_labels, 1),
    ):
        for index, (image, label) in enumerate(zip(colourize(images, seed), labels)):
            _write_png(image, directory / split / sample.class_names[label] / f"{index:05d}.png")
    return f"folder:{directory}"


def prepare_sklearn_digits(directory: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = []
    for index, (image, label) in enumerate(zip(digits.images, digits.target)):
        small = Image.fromarray(np.clip(np.rint(image * 255.0 / 16.0), 0, 255).astype(np.uint8))
        buffer = io.BytesIO()
        small.resize((32, 32), Image.Resampling.BICUBIC).save(buffer, format="PNG")
        rows.append(({"bytes": buffer.getvalue(), "path": f"{index:04d}.png"}, int(label)))
    features = {
        "image": {"_type": "Image"},
        "label": {"names": [str(k) for k in range(10)], "_type": "ClassLabel"},
    }
    schema = pa.schema(
        [pa.field("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), pa.field("label", pa.int64())],
        metadata={b"huggingface": json.dumps({"info": {"features": features}}).encode()},
    )
    table = pa.Table.from_pydict({"image": [r[0] for r in rows], "label": [r[1] for r in rows]}, schema=schema)
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    # One file named for no split: the ingest draws its seeded, stratified test split.
    pq.write_table(table, data / "digits-00000-of-00001.parquet", row_group_size=100)
    return f"parquet:{data}"


def texture_patches(texture: np.ndarray, columns: slice, stride: int, side: int = 32) -> np.ndarray:
    """Every ``side`` x ``side`` patch at ``stride`` inside ``texture[:, columns]``."""
    region = texture[:, columns]
    tops = range(0, region.shape[0] - side + 1, stride)
    lefts = range(0, region.shape[1] - side + 1, stride)
    return np.stack([region[top : top + side, left : left + side] for top in tops for left in lefts])


def prepare_textures(directory: Path) -> str:
    import skimage.data

    for name in TEXTURES:
        texture = getattr(skimage.data, name)()
        # Train and test patches come from disjoint column strips, so no test patch overlaps a train one.
        for split, columns, stride in (("train", slice(0, 400), 8), ("test", slice(408, 512), 8)):
            for index, patch in enumerate(texture_patches(texture, columns, stride)):
                _write_png(patch, directory / split / name / f"{index:05d}.png")
    return f"folder:{directory}"


DATASETS = {
    "mnist-sample": None,
    "mnist-colour-32": prepare_mnist_colour,
    "sklearn-digits-32": prepare_sklearn_digits,
    "textures-32": prepare_textures,
}


def prepare(name: str, work: Path) -> str:
    """Writes dataset ``name`` under ``work/data`` once; returns its ``--source``."""
    builder = DATASETS[name]
    if builder is None:
        return "sample"
    directory = work / "data" / name
    marker = directory / ".complete"
    if marker.exists():
        return marker.read_text().strip()
    started = time.perf_counter()
    source = builder(directory)
    marker.write_text(source + "\n")
    logger.info("wrote %s in %.1f s: %s", name, time.perf_counter() - started, source)
    return source


def _environment(home: Path) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    return env


def run_arm(dataset: str, arm: str, source: str, work: Path) -> dict:
    """Runs ``gan-augment run`` for one dataset and arm in a child process; returns the result document."""
    from gan_core import publish
    from gan_core.machine import machine_info

    run_root = work / "runs" / f"{dataset}-{arm}"
    command = [
        sys.executable, "-m", "flows.cli", "run", "--source", source, "--dataset-name", f"{dataset}-{arm}",
        "--output-root", str(run_root / "datasets"), "--work-root", str(run_root / "work"),
        *COMMON_FLAGS, *ARMS[arm],
    ]  # fmt: skip
    logger.info("running %s", " ".join(command))
    run_root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(run_root.with_suffix(".log"), "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=_environment(run_root / "prefect"), stdout=subprocess.PIPE,
                                   stderr=log, text=True)  # fmt: skip
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    document = {
        "dataset": dataset,
        "arm": arm,
        "source": source,
        "command": command,
        "exit_code": code,
        "wall_seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "machine": machine_info(),
        "load_average": os.getloadavg(),
    }
    if code != 0:
        document["error"] = stdout[-2000:] + run_root.with_suffix(".log").read_text()[-2000:]
        return document
    summary = json.loads(stdout[stdout.index("{") :])
    manifest = publish.read_manifest(Path(summary["version_dir"]))
    document.update(
        summary=summary,
        gate=manifest["gate"],
        metrics=manifest["metrics"],
        image_shape=manifest["image_shape"],
        class_names=manifest["class_names"],
        split=manifest.get("split"),
        rows_per_split=manifest["rows_per_split"],
    )
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR)
    parser.add_argument("--force", action="store_true", help="run again even if a result exists")
    parser.add_argument("--prepare-only", action="store_true", help="write the datasets and stop")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    arguments.results_dir.mkdir(parents=True, exist_ok=True)
    for dataset in arguments.datasets:
        source = prepare(dataset, arguments.work_dir)
        if arguments.prepare_only:
            continue
        for arm in arguments.arms:
            path = arguments.results_dir / f"{dataset}-{arm}.json"
            if path.exists() and not arguments.force:
                logger.info("%s exists; skipping (--force runs it again)", path)
                continue
            document = run_arm(dataset, arm, source, arguments.work_dir)
            path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
            verdict = document.get("gate", {}).get("passed")
            logger.info(
                "%s %s: exit %s, gate %s, %.0f s, %.0f MB", dataset, arm, document["exit_code"],
                {True: "passed", False: "FAILED", None: "-"}[verdict], document["wall_seconds"],
                document["peak_rss_mb"],
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
