"""Find raw PII in a table or file: per column, which types, how many cells, with what confidence.

Reports never contain a value.  ``confidence`` is the share of non-empty cells valid for the type;
PII inside free text (IDs and phones written in notes) is counted separately as ``in_text``.

Because tokens look like real IDs by design, a tokenized delivery is checked differently:
``covered`` (the policy's columns) are not reported, so only a column someone forgot shows up;
``against`` (the raw input) proves that no raw value of the covered columns, and no ID or phone found
in the input's free text, appears anywhere in the output.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .pii import registry
from .pii.free_text import find
from .table import EMPTY_MARKERS

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


def raw_values(
    batch: pa.RecordBatch | pa.Table, columns: Iterable[str], text_columns: Iterable[str] = (), row_offset: int = 0
) -> set[tuple[int, str]]:
    """(row, value) pairs of the raw input: covered columns' values (trimmed) and the PII spans in their text.

    For ``text_columns`` (free text) only the PII spans count: the rest of a note is not sensitive and
    legitimately stays the same.
    """
    out: set[tuple[int, str]] = set()
    text_columns = set(text_columns)
    for name in columns:
        if name not in batch.schema.names:
            continue
        text = _text(batch.column(batch.schema.get_field_index(name)))
        if text is None:
            continue
        core = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
        cells = core.to_pylist()
        if name not in text_columns:
            out.update((row_offset + i, v) for i, v in enumerate(cells) if len(v) >= 4 and v not in EMPTY_MARKERS)
        for row, s, e, _ in find(core):
            out.add((row_offset + row, cells[row][s:e]))
    return out


def leaks_in(
    batch: pa.RecordBatch | pa.Table, raw: set[tuple[int, str]], result: ScanResult, row_offset: int = 0
) -> None:
    """Count raw values of the input found in the SAME row of the output (a value that passed through).

    A token equal to a raw value of ANOTHER row is a coincidence, not a leak: realistic tokens live in
    the same space as real values (about n**2 / domain such pairs for n values); they are counted in
    ``result.collisions`` for information.
    """
    if not raw:
        return
    raw_values_only = {v for _, v in raw}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        text = _text(col)
        if text is None:
            continue
        cells = pc.utf8_trim_whitespace(pc.fill_null(text, "")).to_pylist()
        candidates = [(row_offset + i, v) for i, v in enumerate(cells) if v in raw_values_only]
        candidates += [(row_offset + row, cells[row][s:e]) for row, s, e, _ in find(pa.array(cells, pa.string()))
                       if cells[row][s:e] in raw_values_only]
        same_row = sum(1 for pair in candidates if pair in raw)
        if same_row:
            result.leaks[name] = result.leaks.get(name, 0) + same_row
        if len(candidates) > same_row:
            result.collisions[name] = result.collisions.get(name, 0) + len(candidates) - same_row
