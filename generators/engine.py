"""Deterministic, vectorised dataset generation in fixed-size batches.

Batch ``b`` of table ``t`` is drawn from ``numpy.random.SeedSequence([seed, crc32(t), b])`` and has
exactly :data:`BATCH_ROWS` rows before the last one is cut, so the same seed gives byte-identical
files on any machine and ``--rows 1000`` is the first 1,000 rows of ``--rows 1000000``.
Memory stays flat: one batch at a time is generated and written.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

BATCH_ROWS = 100_000

#: dataset -> table -> generator(rng, first_row_index, rows, state) -> RecordBatch
DATASETS: dict[str, dict[str, Callable[..., pa.RecordBatch]]] = {}


def register(dataset: str, table: str):
    """Decorator registering a table generator (plug-in style, like Faker providers)."""

    def deco(fn: Callable[..., pa.RecordBatch]) -> Callable[..., pa.RecordBatch]:
        DATASETS.setdefault(dataset, {})[table] = fn
        return fn

    return deco


def tables_of(dataset: str) -> list[str]:
    from . import datasets  # noqa: F401 - registers the built-in datasets

    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; available: {', '.join(sorted(DATASETS))}")
    return list(DATASETS[dataset])


def _lookup(dataset: str, table: str) -> Callable[..., pa.RecordBatch]:
    if table not in tables_of(dataset):
        raise ValueError(f"dataset {dataset!r} has no table {table!r}; tables: {', '.join(DATASETS[dataset])}")
    return DATASETS[dataset][table]


def iter_table(dataset: str, table: str, rows: int, seed: int) -> Iterator[pa.RecordBatch]:
    if rows < 0:
        raise ValueError("rows must be >= 0")
    fn = _lookup(dataset, table)
    state: dict[str, Any] = {}
    tag = zlib.crc32(f"{dataset}/{table}".encode())
    done = 0
    batch_index = 0
    while done < rows:
        rng = np.random.default_rng(np.random.SeedSequence([seed, tag, batch_index]))
        batch = fn(rng, batch_index * BATCH_ROWS, BATCH_ROWS, state)
        take = min(BATCH_ROWS, rows - done)
        yield batch.slice(0, take) if take < BATCH_ROWS else batch
        done += take
        batch_index += 1


def generate_table(dataset: str, table: str, rows: int, seed: int = 0) -> pa.Table:
    """A whole table in memory (for tests, fixtures and small datasets)."""
    batches = list(iter_table(dataset, table, rows, seed))
    if not batches:
        first = next(iter_table(dataset, table, 1, seed))
        return pa.Table.from_batches([first.slice(0, 0)])
    return pa.Table.from_batches(batches)


def generate_dataset(
    dataset: str, out_dir: str | Path, rows: int, seed: int = 0, fmt: str = "parquet",
    tables: list[str] | None = None, progress: Callable[[str, int], None] | None = None,
) -> dict[str, Path]:
    """Write each table to ``out_dir/<table>.<fmt>`` atomically, batch by batch."""
    from tokenize_kit.io import BatchWriter, TextEncoding, atomic_output

    names = tables or tables_of(dataset)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in names:
        _lookup(dataset, name)
        path = out_dir / f"{name}.{fmt}"
        with atomic_output(path) as fh:
            writer = BatchWriter(fh, fmt, TextEncoding("utf-8", bom=False, newline="\n"))
            for batch in iter_table(dataset, name, rows, seed):
                writer.write(batch)
                if progress:
                    progress(name, batch.num_rows)
            writer.close()
        written[name] = path
    return written
