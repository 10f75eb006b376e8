"""Tiny labeled image sets on disk, as users keep them: class folders and Hugging Face Parquet.

Each class draws a bright block at its own place on a dark, noisy background, so a judge can
tell the classes apart after a little training; RGB classes also differ in colour.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def class_images(label: int, count: int, side: int, channels: int, seed: int) -> np.ndarray:
    """``count`` uint8 (side, side, channels) images of class ``label``."""
    rng = np.random.default_rng([seed, label])
    images = rng.integers(0, 40, size=(count, side, side, channels), dtype=np.uint8)
    block = max(2, side // 4)
    top = (label * block) % (side - block)
    left = (label * 3 * block // 2) % (side - block)
    colour = np.full(channels, 230, np.uint8)
    if channels == 3:
        colour = np.roll(np.array([230, 120, 30], np.uint8), label)
    images[:, top : top + block, left : left + block] = colour
    return images


def _save(image: np.ndarray, path: Path) -> None:
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)


def write_class_folders(
    root: Path,
    classes: Sequence[str],
    per_class: int,
    side: int,
    channels: int,
    splits: dict[str, int] | None = None,
    suffix: str = ".png",
    seed: int = 0,
) -> Path:
    """Writes ``root/<class>/<n><suffix>``, or ``root/<split>/<class>/...`` with ``splits`` {split: per_class}.

    Returns:
        ``root``.
    """
    layout = splits or {"": per_class}
    for split_index, (split, count) in enumerate(layout.items()):
        for label, name in enumerate(classes):
            directory = root / split / name if split else root / name
            directory.mkdir(parents=True, exist_ok=True)
            for index, image in enumerate(class_images(label, count, side, channels, seed + 7 * split_index)):
                _save(image, directory / f"{index:04d}{suffix}")
    return root


def write_hf_parquet(
    directory: Path, classes: Sequence[str], per_class: dict[str, int], side: int, channels: int, seed: int = 0
) -> Path:
    """Writes a Hugging Face image dataset as ``push_to_hub`` lays it out: ``data/<split>-00000-of-00001.parquet``.

    Columns ``image`` (struct bytes/path, PNG) and ``label`` (int64), the ClassLabel names in the
    schema's ``huggingface`` metadata.

    Returns:
        The ``data`` directory.
    """
    features = {"image": {"_type": "Image"}, "label": {"names": list(classes), "_type": "ClassLabel"}}
    schema = pa.schema(
        [pa.field("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])), pa.field("label", pa.int64())],
        metadata={b"huggingface": json.dumps({"info": {"features": features}}).encode()},
    )
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    for split_index, (split, count) in enumerate(per_class.items()):
        images, labels = [], []
        for label in range(len(classes)):
            for index, image in enumerate(class_images(label, count, side, channels, seed + 7 * split_index)):
                buffer = io.BytesIO()
                Image.fromarray(image[..., 0] if channels == 1 else image).save(buffer, format="PNG")
                images.append({"bytes": buffer.getvalue(), "path": f"{split}-{label}-{index}.png"})
                labels.append(label)
        table = pa.Table.from_pydict({"image": images, "label": labels}, schema=schema)
        pq.write_table(table, data / f"{split}-00000-of-00001.parquet", row_group_size=100)
    return data
