"""Publish's PNG encoder against Pillow's, the encoder it replaced, on the bundled sample's digits.

Both encode the same 8,000 real digits in interleaved rounds (the order flips every round, so
drift on a busy machine hits both alike); the script reports the median microseconds per image,
the Pillow/ours ratio (>1: ours is faster) and the mean PNG size of each, and checks that every
PNG decodes back to its pixels. Pillow is timed at its default level (6, what publish used
before) and at level 1.

Usage::

    .venv/bin/python benchmarks/png_encode.py --rounds 7
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger("png_encode")

RESULTS = Path(__file__).resolve().parent / "results" / "png_encode.json"


def pillow_encoder(level: int) -> Callable[[np.ndarray], list[bytes]]:
    """Pillow's PNG encoder, one image at a time, as publish ran it before."""
    from PIL import Image

    def encode(images: np.ndarray) -> list[bytes]:
        encoded = []
        for image in images:
            buffer = io.BytesIO()
            Image.fromarray(image.reshape(image.shape[:2]), mode="L").save(buffer, format="PNG", compress_level=level)
            encoded.append(buffer.getvalue())
        return encoded

    return encode


def main(argv: list[str] | None = None) -> dict:
    """Times the encoders; writes and returns the result document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--results", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from gan_core.data import load_bundled_sample
    from gan_core.imaging import PNG_COMPRESS_LEVEL, decode_png, encode_pngs
    from gan_core.machine import machine_info

    images = load_bundled_sample().train_images
    encoders = {
        f"ours (zlib level {PNG_COMPRESS_LEVEL}, no filter)": encode_pngs,
        "pillow (level 6, default)": pillow_encoder(6),
        "pillow (level 1)": pillow_encoder(1),
    }
    seconds: dict[str, list[float]] = {name: [] for name in encoders}
    sizes = {}
    for round_index in range(arguments.rounds):
        order = list(encoders) if round_index % 2 == 0 else list(reversed(encoders))
        for name in order:
            started = time.perf_counter()
            encoded = encoders[name](images)
            seconds[name].append(time.perf_counter() - started)
            sizes[name] = float(np.mean([len(data) for data in encoded]))
        logger.info("round %d of %d done", round_index + 1, arguments.rounds)
    ours = next(iter(encoders))
    for data, image in zip(encode_pngs(images), images):
        if not np.array_equal(decode_png(data), image):
            raise SystemExit("an encoded PNG does not decode to its pixels")
    results = {
        name: {
            "median_us_per_image": round(statistics.median(times) / len(images) * 1e6, 2),
            "rounds_seconds": [round(value, 4) for value in times],
            "mean_png_bytes": round(sizes[name], 1),
            "slower_than_ours": round(statistics.median(times) / statistics.median(seconds[ours]), 2),
        }
        for name, times in seconds.items()
    }
    document = {"images": len(images), "rounds": arguments.rounds, "encoders": results, "machine": machine_info()}
    arguments.results.parent.mkdir(parents=True, exist_ok=True)
    arguments.results.write_text(json.dumps(document, indent=2) + "\n")
    for name, result in results.items():
        logger.info(
            "%-34s %7.1f us/image  %6.1f bytes  %.2fx ours", name, result["median_us_per_image"],
            result["mean_png_bytes"], result["slower_than_ours"],
        )  # fmt: skip
    return document


if __name__ == "__main__":
    main()
