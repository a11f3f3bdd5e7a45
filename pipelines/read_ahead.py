"""Produce the next chunk of a stream while the current one is consumed: a generator run in a thread of
its own, at most `depth` items ahead (memory stays bounded by the chunks in flight).

The stages a chunk goes through (Arrow's CSV parser, polars, Parquet writers, DuckDB) release Python's
lock while they work, so on two cores reading the next chunk and writing the current one overlap.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_END = object()


def read_ahead(items: Iterable, depth: int = 1) -> Iterator:
    """Yield what `items` yields, in order, producing up to `depth` items ahead in a background thread.
    An exception raised by `items` is raised here, where the item would have come."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                ready.put((item, None))
            ready.put((_END, None))
        except BaseException as exc:  # handed to the consumer
            ready.put((_END, exc))

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
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
        while worker.is_alive():  # let a producer blocked on a full queue see the stop
            try:
                ready.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()
