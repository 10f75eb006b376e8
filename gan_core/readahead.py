"""Computing the next items of an iterator in a background thread while the caller uses this one.

The quality check generates a chunk of samples, then judges and stages it. TensorFlow releases
the GIL inside its kernels, so the generator's forward pass for the next chunk can run while the
caller judges and writes this one (benchmarks/generation_scale.py measures the gain).
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

Item = TypeVar("Item")

_END = object()
# How often a blocked producer checks whether the consumer has gone away.
_PUT_POLL_SECONDS = 0.1


def read_ahead(items: Iterable[Item], depth: int = 1) -> Iterator[Item]:
    """Yields ``items`` in order while a background thread computes up to ``depth`` of the next ones.

    The items are produced in the same order by the same code, so the results are the ones the
    plain loop gives. An exception in the producer is raised in the caller at the item where it
    happened; when the caller stops early, the producer stops too and is joined.

    Args:
        items: The iterable to read ahead of; it is consumed by the background thread only.
        depth: How many items may wait ready; 0 iterates in the caller's thread, no thread at all.

    Raises:
        ValueError: ``depth`` is negative.
    """
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    if depth == 0:
        yield from items
        return
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=_PUT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put((_END, error))

    producer = threading.Thread(target=produce, name="read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        producer.join()
