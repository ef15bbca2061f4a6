"""Run a dataset schema: deterministic, vectorised, batch-streamed, parallel.

The main table is cut into batches of :data:`BATCH_ROWS` rows; batch ``k`` of every table is drawn
from random streams seeded by ``(seed, dataset, table, k, stream)`` only, and child rows (loans of a
customer, bills of a meter) are generated in the same batch as their parent row.  Hence

* the same seed gives byte-identical files on any machine, in any thread schedule;
* ``--rows 1000`` is exactly the first 1,000 rows (and their children) of ``--rows 1000000``;
* batches are independent: two worker threads generate ahead while the main thread writes, memory
  stays flat (a few batches in flight), and Spark can generate batch ``k`` on partition ``k``
  (:func:`tokenize_kit.spark.generate`) with the same result.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import schema as schema_mod
from .columns import KINDS, Batch
from .schema import Schema, TableDef

BATCH_ROWS = 50_000


def _schema(dataset: str | Path | Schema) -> Schema:
    return dataset if isinstance(dataset, Schema) else schema_mod.load(dataset)


def tables_of(dataset: str | Path | Schema) -> list[str]:
    return list(_schema(dataset).tables)


def _child_counts(b: Batch, t: TableDef, parent: Batch) -> np.ndarray:
    pp = t.per_parent
    if "fixed" in pp:
        return np.full(parent.n, int(pp["fixed"]), dtype=np.int64)
    if "column" in pp:
        return np.asarray(parent.cols[pp["column"]].to_numpy(zero_copy_only=False), dtype=np.int64)
    counts = b.rng("per_parent").poisson(float(pp["poisson"]), parent.n) + int(pp.get("plus", 0))
    if "max" in pp:
        counts = np.minimum(counts, int(pp["max"]))
    return counts


def _fill(b: Batch, t: TableDef) -> None:
    for c in t.columns:
        # the rows this column leaves null (its own random stream, or an earlier column): known before the kind
        # runs, so that a kind can leave them out of its work (Batch.null_rows)
        mask = None
        if c.null_rate > 0:
            mask = b.rng(f"{c.name}#null").random(b.n) < c.null_rate
        if c.when is not None:
            keep = b.equals(c.when["column"], c.when["equals"])
            mask = ~keep if mask is None else (mask | ~keep)
        b.null_rows = mask if mask is not None and mask.any() else None
        b.nulls_applied = False
        try:
            arr = KINDS[c.kind].fn(b, c.name, **c.params)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"table {t.name!r}, column {c.name!r}: {exc}") from None
        if b.null_rows is not None and not b.nulls_applied:
            arr = pc.if_else(pa.array(b.null_rows), pa.nulls(len(arr), arr.type), arr)
        b.null_rows = None
        b.cols[c.name] = arr


def generate_batch(schema: Schema, index: int, seed: int, wanted: list[str] | None = None,
                   rows: int | None = None) -> dict[str, pa.RecordBatch]:
    """All tables of batch ``index`` (visible columns), cut to the first ``rows`` main-table rows if given."""
    wanted = wanted or list(schema.tables)
    needed = set(wanted)
    for w in wanted:
        needed.update(schema.ancestors(w))
    batches: dict[str, Batch] = {}
    keep: dict[str, int] = {}
    out: dict[str, pa.RecordBatch] = {}
    for name, t in schema.tables.items():
        if name not in needed:
            continue
        if t.parent is None:
            b = Batch(schema.name, name, index, seed, BATCH_ROWS, index * BATCH_ROWS, schema.reference_date)
            keep[name] = BATCH_ROWS if rows is None else max(0, min(BATCH_ROWS, rows - index * BATCH_ROWS))
        else:
            parent = batches[t.parent]
            b = Batch(schema.name, name, index, seed, 0, 0, schema.reference_date, parent=parent)
            counts = _child_counts(b, t, parent)
            b.n = int(counts.sum())
            b.parent_index = np.repeat(np.arange(parent.n, dtype=np.int64), counts)
            starts = np.cumsum(counts) - counts
            b.seq = np.arange(b.n, dtype=np.int64) - np.repeat(starts, counts)
            keep[name] = int(counts[: keep[t.parent]].sum())
        _fill(b, t)
        batches[name] = b
        if name in wanted:
            visible = t.visible
            rb = pa.RecordBatch.from_arrays([b.cols[c] for c in visible], names=visible)
            out[name] = rb.slice(0, keep[name]) if keep[name] < rb.num_rows else rb
    return out


def iter_batches(dataset: str | Path | Schema, rows: int, seed: int = 0, tables: list[str] | None = None,
                 threads: int | None = None) -> Iterator[dict[str, pa.RecordBatch]]:
    """Batches in order (dict table -> RecordBatch), generated ahead by ``threads`` workers."""
    s = _schema(dataset)
    if rows < 0:
        raise ValueError("rows must be >= 0")
    wanted = tables or list(s.tables)
    unknown = [t for t in wanted if t not in s.tables]
    if unknown:
        raise ValueError(f"dataset {s.name!r} has no table {unknown[0]!r}; tables: {', '.join(s.tables)}")
    n_batches = -(-rows // BATCH_ROWS)
    threads = threads or min(2, os.cpu_count() or 1)
    if threads <= 1 or n_batches <= 1:
        for k in range(n_batches):
            yield generate_batch(s, k, seed, wanted, rows)
        return
    with ThreadPoolExecutor(threads) as pool:
        pending: deque = deque()
        nxt = 0
        while nxt < n_batches or pending:
            while nxt < n_batches and len(pending) < threads + 1:
                pending.append(pool.submit(generate_batch, s, nxt, seed, wanted, rows))
                nxt += 1
            yield pending.popleft().result()


def iter_table(dataset: str | Path | Schema, table: str, rows: int, seed: int = 0) -> Iterator[pa.RecordBatch]:
    for batch in iter_batches(dataset, rows, seed, [table]):
        yield batch[table]


def generate_table(dataset: str | Path | Schema, table: str, rows: int, seed: int = 0) -> pa.Table:
    """A whole table in memory (for tests, fixtures and small datasets)."""
    s = _schema(dataset)
    batches = list(iter_table(s, table, rows, seed))
    if not batches:
        empty = generate_batch(s, 0, seed, [table], 0)[table]
        return pa.Table.from_batches([empty])
    return pa.Table.from_batches(batches)


class _ParquetSink:
    """Parquet with dictionary encoding only where it pays (low-cardinality columns: gender, city ...).

    Dictionary-encoding unique strings such as IDs and full names costs a hash table per column for
    nothing; deciding per column from the first batch keeps files small and writing fast, and the
    choice depends only on the data, so output stays byte-identical for a seed.
    """

    def __init__(self, fh, first: pa.RecordBatch) -> None:
        import pyarrow.parquet as pq

        dict_cols = []
        for name, col in zip(first.schema.names, first.columns, strict=True):
            if first.num_rows and (pa.types.is_string(col.type) or pa.types.is_integer(col.type)):
                if pc.count_distinct(col).as_py() <= max(64, first.num_rows // 100):
                    dict_cols.append(name)
        # min/max statistics only where a reader can use them (dates, numbers, low-cardinality labels),
        # not on unique strings such as IDs and names, where they cost time and prune nothing
        stats = [n for n, c in zip(first.schema.names, first.columns, strict=True)
                 if n in dict_cols or not (pa.types.is_string(c.type) or pa.types.is_large_string(c.type))]
        self._writer = pq.ParquetWriter(fh, first.schema, use_dictionary=dict_cols, compression="snappy",
                                        write_statistics=stats)

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()


class _Sink:
    """One output file: Parquet through :class:`_ParquetSink`, other formats through the tokenizer's writer."""

    def __init__(self, fh, fmt: str, encoding) -> None:
        from tokenize_kit.io import BatchWriter

        self.fh = fh
        self._impl: Any = None if fmt == "parquet" else BatchWriter(fh, fmt, encoding)

    def write(self, batch: pa.RecordBatch) -> None:
        if self._impl is None:
            self._impl = _ParquetSink(self.fh, batch)
        self._impl.write(batch)

    def close(self) -> None:
        self._impl.close()


def generate_dataset(
    dataset: str | Path | Schema, out_dir: str | Path, rows: int, seed: int = 0, fmt: str = "parquet",
    tables: list[str] | None = None, progress: Callable[[str, int], None] | None = None,
    dirty: float = 0.0, overwrite: bool = False,
) -> dict[str, Path]:
    """Write each table to ``out_dir/<table>.<fmt>`` atomically, batch by batch.

    With ``dirty > 0`` defects are injected (see :mod:`generators.dirty`) and ``out_dir/_truth.csv``
    lists each one: table, row, column, defect and the clean value.  The files are one commit
    (:class:`tokenize_kit.commit.CommitSet`): all appear together at the end, or none; an existing file is an
    error (:class:`~tokenize_kit.commit.OutputExists`, before anything is generated) unless ``overwrite``.
    """
    from tokenize_kit.commit import CommitSet
    from tokenize_kit.io import BatchWriter, TextEncoding

    from .dirty import TRUTH_SCHEMA, inject

    s = _schema(dataset)
    names = tables or list(s.tables)
    for n in names:
        if n not in s.tables:
            raise ValueError(f"dataset {s.name!r} has no table {n!r}; tables: {', '.join(s.tables)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {n: out_dir / f"{n}.{fmt}" for n in names}
    enc = TextEncoding("utf-8", bom=False, newline="\n")
    offsets = dict.fromkeys(names, 0)
    truth_path = out_dir / "_truth.csv"
    with CommitSet([*paths.values(), *([truth_path] if dirty > 0 else [])], overwrite=overwrite) as commit:
        writers = {n: _Sink(commit.open(p), fmt, enc) for n, p in paths.items()}
        truth_writer = None
        if dirty > 0:
            truth_writer = BatchWriter(commit.open(truth_path), "csv", enc)
        for k, batch in enumerate(iter_batches(s, rows, seed, names)):
            for n in names:
                rb = batch[n]
                if dirty > 0:
                    rb, truth = inject(s.tables[n], rb, dirty, seed, k, offsets[n])
                    if truth.num_rows and truth_writer is not None:
                        truth_writer.write(truth)
                writers[n].write(rb)
                offsets[n] += rb.num_rows
                if progress:
                    progress(n, rb.num_rows)
        if truth_writer is not None:
            truth_writer.write(pa.RecordBatch.from_pylist([], schema=TRUTH_SCHEMA))  # header even if empty
            truth_writer.close()
        for n, w in writers.items():
            if offsets[n] == 0:
                w.write(generate_batch(s, 0, seed, [n], 0)[n])
            w.close()
        commit.commit()
    return paths
