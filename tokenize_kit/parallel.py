"""Worker threads with an explicit count: no process-wide pool, no environment variable, no nested pools.

Most of the work of a batch runs in numpy, Arrow and OpenSSL, which release the GIL, so a batch split over
threads uses several cores.  Every API that splits work takes ``threads=`` (``None``: one per CPU) and
makes its pool for the duration of the call; nothing is left running in the caller's process.

A thread of such a pool never opens another one (:func:`in_worker`): work already split over the CPUs
is not split again inside each part.

>>> with worker_pool(2, "example") as pool:
...     sorted(pool.map(lambda x: x * x, range(4)))
[0, 1, 4, 9]
>>> resolve_threads(None) >= 1, resolve_threads(3)
(True, 3)
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_local = threading.local()


def default_threads() -> int:
    """One thread per CPU the process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int | None) -> int:
    """``threads`` checked (a positive int), or :func:`default_threads` for ``None``."""
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError("threads must be a positive integer (or None for one per CPU)")
    return threads


def in_worker() -> bool:
    """Whether the calling thread belongs to a :func:`worker_pool`."""
    return getattr(_local, "worker", False)


def _mark_worker() -> None:
    _local.worker = True


def worker_pool(threads: int, name: str) -> ThreadPoolExecutor:
    """A pool of ``threads`` worker threads named ``tokenize-kit-{name}``; use it as a context manager."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"tokenize-kit-{name}",
                              initializer=_mark_worker)
