"""A progress line on stderr for long runs: rows, rows/s, % and ETA when the total is known."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def progress_line(quiet: bool, label: str) -> tuple[Callable[[int, int | None], None] | None, Callable[[], None]]:
    """``(update(rows, total), done())``; ``update`` is None when quiet or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    start = time.perf_counter()

    def update(rows: int, total: int | None) -> None:
        rate = rows / max(time.perf_counter() - start, 1e-9)
        extra = ""
        if total:
            extra = f" {100 * rows / total:5.1f}%  ETA {max(total - rows, 0) / max(rate, 1):6.0f}s"
        sys.stderr.write(f"\r{label}: {rows:>12,} rows  {rate:>10,.0f} rows/s{extra}")
        sys.stderr.flush()

    def done() -> None:
        sys.stderr.write("\n")

    return update, done
