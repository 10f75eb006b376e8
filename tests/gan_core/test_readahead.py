"""read_ahead: same items in the same order, errors where they happened, no thread left behind."""

from __future__ import annotations

import threading

import pytest

from gan_core.readahead import read_ahead


def _live_producers() -> int:
    return sum(thread.name == "read-ahead" for thread in threading.enumerate())


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_items_arrive_in_order_and_all_of_them(depth):
    assert list(read_ahead(iter(range(100)), depth)) == list(range(100))
    assert list(read_ahead([], depth)) == []
    assert _live_producers() == 0


def test_items_are_produced_in_another_thread_at_most_depth_ahead():
    produced: list[int] = []
    threads: set[str] = set()
    consumed_first = threading.Event()

    def items():
        for index in range(10):
            threads.add(threading.current_thread().name)
            produced.append(index)
            if index == 3:
                # The producer cannot get here before the consumer took item 0: 1 taken, 2 queued,
                # 1 being put = index 3 at most. Waiting for the consumer proves the bound.
                assert consumed_first.wait(timeout=30)
            yield index

    iterator = read_ahead(items(), depth=2)
    assert next(iterator) == 0
    consumed_first.set()
    assert list(iterator) == list(range(1, 10))
    assert threads == {"read-ahead"}


def test_a_producer_error_is_raised_in_the_caller_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in read_ahead(items(), depth=1):
            seen.append(item)
    assert seen == [1, 2]
    assert _live_producers() == 0


def test_stopping_early_stops_and_joins_the_producer():
    produced = []

    def endless():
        index = 0
        while True:
            produced.append(index)
            yield index
            index += 1

    iterator = read_ahead(endless(), depth=2)
    assert [next(iterator) for _ in range(5)] == list(range(5))
    iterator.close()
    assert _live_producers() == 0
    assert len(produced) <= 5 + 2 + 1  # taken, queued, one being put


def test_negative_depth_is_refused():
    with pytest.raises(ValueError, match="depth must be >= 0"):
        list(read_ahead([1], -1))
