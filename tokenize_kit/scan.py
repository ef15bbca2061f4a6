"""Find raw PII in a table or file: per column, which types, how many cells, with what confidence.

Reports never contain a value.  ``confidence`` is the share of non-empty cells valid for the type;
PII inside free text (IDs and phones written in notes) is counted separately as ``in_text``.

Because tokens look like real IDs by design, a tokenized delivery is checked differently:
``covered`` (the policy's columns) are not reported, so only a column someone forgot shows up;
``against`` (the raw input) proves that no raw value of the covered columns, and no ID or phone found
in the input's free text, appears anywhere in the output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .pii import registry
from .pii.free_text import find, find_spans
from .table import EMPTY_MARKERS
from .utf8 import group_bytes

#: a column is reported as holding a type when at least this share of its non-empty cells are valid
MIN_CONFIDENCE = 0.05
MIN_CELLS = 1


@dataclass
class ColumnFinding:
    column: str
    cells: int = 0
    non_empty: int = 0
    types: dict[str, int] = field(default_factory=dict)
    in_text: dict[str, int] = field(default_factory=dict)

    def confidence(self, type_name: str) -> float:
        return self.types.get(type_name, 0) / self.non_empty if self.non_empty else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "cells": self.cells,
            "non_empty": self.non_empty,
            "types": {t: {"count": n, "confidence": round(self.confidence(t), 4)} for t, n in self.types.items()},
            "in_text": dict(self.in_text),
        }

    @property
    def found(self) -> bool:
        return bool(self.in_text) or any(
            n >= MIN_CELLS and self.confidence(t) >= MIN_CONFIDENCE for t, n in self.types.items()
        )


@dataclass
class ScanResult:
    columns: dict[str, ColumnFinding] = field(default_factory=dict)
    rows: int = 0
    leaks: dict[str, int] = field(default_factory=dict)  # column -> raw values of the input found in their own row
    collisions: dict[str, int] = field(default_factory=dict)  # column -> tokens equal to another row's raw value

    @property
    def found(self) -> bool:
        return any(c.found for c in self.columns.values()) or bool(self.leaks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "pii_found": self.found,
            "columns": [c.to_dict() for c in self.columns.values() if c.found],
            "raw_values_found": dict(self.leaks),
            "token_collisions_with_other_rows": dict(self.collisions),
        }


def _text(col: pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_string(col.type):
        return col
    if pa.types.is_large_string(col.type) or pa.types.is_integer(col.type) or pa.types.is_dictionary(col.type):
        return pc.cast(col, pa.string())
    if pa.types.is_union(col.type):  # an .xlsx column mixing text and numbers
        from .io import as_text

        return as_text(col)
    return None


def _non_empty(text: pa.Array) -> pa.Array:
    core = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
    keep = pc.invert(pc.is_in(core, value_set=pa.array(EMPTY_MARKERS, pa.string())))
    return core.filter(keep)


def scan_batch(batch: pa.RecordBatch | pa.Table, result: ScanResult, covered: Iterable[str] = ()) -> None:
    """Add one batch's findings to ``result`` (columns in ``covered`` are skipped)."""
    covered = set(covered)
    result.rows += batch.num_rows
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if name in covered:
            continue
        finding = result.columns.setdefault(name, ColumnFinding(name))
        finding.cells += len(col)
        text = _text(col)
        if text is None:
            continue
        values = _non_empty(text)
        finding.non_empty += len(values)
        if len(values) == 0:
            continue
        uniq = pc.unique(values)
        counts = pc.value_counts(values)
        order = pc.index_in(uniq, value_set=counts.field("values"))
        per_value = counts.field("counts").take(order).to_numpy(zero_copy_only=False)
        whole = np.zeros(len(uniq), dtype=bool)
        for t in registry.detectors():
            mask = t.valid_mask(uniq)
            if mask.any():
                finding.types[t.name] = finding.types.get(t.name, 0) + int(per_value[mask].sum())
                whole |= mask
        rest = uniq.filter(pa.array(~whole))
        if len(rest):
            for _, _, _, type_name in find(rest):
                finding.in_text[type_name] = finding.in_text.get(type_name, 0) + 1


#: multiplier of the polynomial string hash (odd, so every byte position matters modulo 2**64)
_HASH_BASE = np.uint64(0x100000001B3)
_HASH_LENGTH = np.uint64(0x9E3779B97F4A7C15)
_EMPTY = pa.array([], pa.string())


@cache
def _hash_powers(size: int) -> np.ndarray:
    """``_HASH_BASE ** k`` modulo 2**64 for k < size (size: a power of two, so few tables are cached)."""
    powers = np.ones(size, dtype=np.uint64)
    np.cumprod(np.full(size - 1, _HASH_BASE, dtype=np.uint64), out=powers[1:])
    return powers


#: strings hashed per step (bounds the temporary arrays: 16 bytes per byte of text)
HASH_CHUNK = 1 << 16


def _hash64(values: pa.Array) -> np.ndarray:
    """A 64-bit polynomial hash of each string (wrapping uint64 arithmetic): only narrows a lookup; every hit
    is confirmed by comparing the strings themselves."""
    n = len(values)
    if n > HASH_CHUNK:
        return np.concatenate([_hash64(values.slice(i, HASH_CHUNK)) for i in range(0, n, HASH_CHUNK)])
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    data = group_bytes(values)
    off32 = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1 + values.offset)[values.offset :]
    off = off32.astype(np.int64) - int(off32[0])
    lengths = np.diff(off)
    pos = np.arange(len(data), dtype=np.int64) - np.repeat(off[:-1], lengths)
    powers = _hash_powers(1 << max(int(lengths.max()), 1).bit_length())
    sums = np.zeros(len(data) + 1, dtype=np.uint64)
    np.cumsum((data.astype(np.uint64) + np.uint64(1)) * powers[pos], out=sums[1:])
    return (sums[off[1:]] - sums[off[:-1]]) ^ (lengths.astype(np.uint64) * _HASH_LENGTH)


def raw_pairs(batch: pa.RecordBatch | pa.Table, columns: Iterable[str], text_columns: Iterable[str] = (),
              row_numbers: np.ndarray | None = None) -> tuple[np.ndarray, pa.Array]:
    """(rows, values) of the raw input: covered columns' values (trimmed) and the PII spans in their text.

    ``row_numbers`` gives each row of ``batch`` its row number in the file (default: 0, 1, 2 ...).

    For ``text_columns`` (free text) only the PII spans count: the rest of a note is not sensitive and
    legitimately stays the same.  Values shorter than 4 characters and empty markers ("N/A" ...) are not
    counted: they are not identifying and would match by chance.
    """
    text_columns = set(text_columns)
    number = np.arange(batch.num_rows, dtype=np.int64) if row_numbers is None else row_numbers
    rows: list[np.ndarray] = []
    values: list[pa.Array] = []
    for name in columns:
        if name not in batch.schema.names:
            continue
        text = _text(batch.column(batch.schema.get_field_index(name)))
        if text is None:
            continue
        core = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
        if name not in text_columns:
            keep = pc.and_(pc.greater_equal(pc.utf8_length(core), 4),
                           pc.invert(pc.is_in(core, value_set=pa.array(EMPTY_MARKERS, pa.string()))))
            idx = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
            rows.append(number[idx])
            values.append(core.take(pa.array(idx)))
        span_rows, spans = find_spans(core)
        rows.append(number[span_rows])
        values.append(spans)
    if not rows:
        return np.zeros(0, dtype=np.int64), _EMPTY
    return np.concatenate(rows), pa.concat_arrays(values)


def _pair_keys(rows: np.ndarray, values: pa.Array) -> pa.Array:
    """One string per (row, value) pair: the row number, a unit separator, the value (unambiguous)."""
    return pc.binary_join_element_wise(pc.cast(pa.array(rows, pa.int64()), pa.string()), values, "\x1f")


class RawIndex:
    """The raw input's covered values, for ``scan --against``: streamed and vectorised.

    A first pass over the input keeps each distinct raw value once (as Arrow strings, sorted by a 64-bit
    hash), so every output cell and PII span is looked up in the whole input at once.  A hit is then told
    apart by a second pass that reads the input again in step with the output's rows, looking only at the
    rows with hits: in its own row, the value passed through (a leak); in another row, a realistic token
    happens to equal someone else's value (a coincidence, counted for information).  Memory holds the
    distinct raw values of the covered columns and about one batch of the input, not the file.
    """

    def __init__(self, open_input: Callable[[], Iterable[pa.RecordBatch]], columns: Iterable[str],
                 text_columns: Iterable[str] = ()) -> None:
        self._columns, self._text_columns = list(columns), list(text_columns)
        parts = []
        for batch in open_input():
            _, values = raw_pairs(batch, self._columns, self._text_columns)
            if len(values):
                parts.append(pc.unique(values))
        everything = pa.concat_arrays(parts) if parts else _EMPTY
        parts.clear()
        distinct = pc.unique(everything)
        del everything
        hashes = _hash64(distinct)
        order = np.argsort(hashes, kind="stable")
        self._hashes, self._values = hashes[order], distinct.take(pa.array(order))
        del distinct, order
        self._cursor = iter(open_input())
        self._buffered: list[tuple[int, pa.RecordBatch]] = []  # (first row, batch) of the input, in order
        self._read_to = 0

    def found(self, values: pa.Array) -> np.ndarray:
        """Which of ``values`` equal a raw value of the input (in any row)."""
        hit = np.zeros(len(values), dtype=bool)
        if not len(values) or not len(self._hashes):
            return hit
        h = _hash64(values)
        # searched in sorted order: consecutive probes land near each other in the (large) sorted table
        order = np.argsort(h)
        lo = np.empty(len(h), dtype=np.int64)
        lo[order] = np.searchsorted(self._hashes, h[order], "left")
        hi = lo.copy()
        maybe = np.flatnonzero(self._hashes[np.minimum(lo, len(self._hashes) - 1)] == h)
        hi[maybe] = np.searchsorted(self._hashes, h[maybe], "right")
        one = np.flatnonzero(hi - lo == 1)  # the usual case: one raw value with this hash, compare with it
        if len(one):
            same = pc.equal(values.take(pa.array(one)), self._values.take(pa.array(lo[one])))
            hit[one] = same.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(hi - lo > 1).tolist():  # several raw values share the hash (rare)
            hit[i] = bool(pc.any(pc.equal(self._values.slice(lo[i], hi[i] - lo[i]), values[i])).as_py())
        return hit

    def pairs_of_rows(self, rows: np.ndarray) -> pa.Array:
        """The raw (row, value) pairs of the given rows as :func:`_pair_keys`; ask in row order (each call's
        rows at or after the previous call's)."""
        stop = int(rows.max()) + 1 if len(rows) else 0
        while self._read_to < stop:
            batch = next(self._cursor, None)
            if batch is None:
                break
            self._buffered.append((self._read_to, batch))
            self._read_to += batch.num_rows
        start = int(rows.min()) if len(rows) else self._read_to
        self._buffered = [(first, b) for first, b in self._buffered if first + b.num_rows > start]
        keys = []
        for first, batch in self._buffered:
            mine = np.unique(rows[(rows >= first) & (rows < first + batch.num_rows)])
            if len(mine):
                pair_rows, values = raw_pairs(batch.take(pa.array(mine - first)), self._columns,
                                              self._text_columns, mine)
                keys.append(_pair_keys(pair_rows, values))
        return pa.concat_arrays(keys) if keys else _EMPTY


def leaks_in(batch: pa.RecordBatch | pa.Table, raw: RawIndex, result: ScanResult, row_offset: int = 0) -> None:
    """Count raw values of the input found in the SAME row of the output (a value that passed through).

    Every cell of every output column, and every ID or phone found inside its text, is looked up.  A token
    equal to a raw value of ANOTHER row is a coincidence, not a leak: realistic tokens live in the same
    space as real values (about n**2 / domain such pairs for n values); they are counted in
    ``result.collisions`` for information.
    """
    hits = []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        text = _text(col)
        if text is None:
            continue
        cells = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
        cell_hit = np.flatnonzero(raw.found(cells))
        span_rows, spans = find_spans(cells)
        span_hit = np.flatnonzero(raw.found(spans))
        if len(cell_hit) or len(span_hit):
            rows = np.concatenate([cell_hit, span_rows[span_hit]]) + row_offset
            values = pa.concat_arrays([cells.take(pa.array(cell_hit)), spans.take(pa.array(span_hit))])
            hits.append((name, rows, values))
    if not hits:
        return
    own = raw.pairs_of_rows(np.concatenate([rows for _, rows, _ in hits]))
    for name, rows, values in hits:
        same_row = int(pc.sum(pc.is_in(_pair_keys(rows, values), value_set=own)).as_py() or 0)
        if same_row:
            result.leaks[name] = result.leaks.get(name, 0) + same_row
        if len(rows) > same_row:
            result.collisions[name] = result.collisions.get(name, 0) + len(rows) - same_row
