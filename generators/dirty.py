"""``--dirty RATE``: the defects real extracts have, injected at known places, with a truth file.

Pipelines (scanners, tokenizers, validators) are tested against known answers: every injected defect
is listed in ``_truth.csv`` with its table, 0-based data row, column, defect name and the clean value.

Defects (each applied only where it makes sense for the cell):

==================  =====================================================================
arabic_digits       ASCII digits typed as Arabic-Indic digits (٠١٢...)
lost_leading_zero   a leading 0 dropped, as Excel does to a phone number stored as a number
stray_spaces        a leading/trailing space and a doubled inner space
not_available       the cell replaced by a placeholder: ``N/A``
scientific          a long digit string as Excel writes it in scientific notation (2.9001011234567E+13)
wrong_column        the value of another PII column of the same row (a shifted paste)
==================  =====================================================================

By default the PII columns are eligible (kinds that produce IDs, phones, names, e-mails and
addresses); a schema column can opt in or out with ``dirty: true|false``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .columns import stream_rng, to_arabic_indic
from .schema import TableDef

DEFECTS = ("arabic_digits", "lost_leading_zero", "stray_spaces", "not_available", "scientific", "wrong_column")
DEFAULT_KINDS = frozenset({"eg_national_id", "sa_national_id", "mobile", "email", "person_name", "eg_address", "iban"})
TRUTH_SCHEMA = pa.schema([("table", pa.string()), ("row", pa.int64()), ("column", pa.string()),
                          ("defect", pa.string()), ("clean_value", pa.string())])


def eligible(table: TableDef) -> list[str]:
    return [c.name for c in table.columns
            if not c.hidden and (c.dirty if c.dirty is not None else c.kind in DEFAULT_KINDS)]


def _scientific(values: pa.Array) -> pa.Array:
    """Excel's rendering of a long integer: d.ddddE+NN with trailing zeros of the mantissa dropped."""
    head = pc.utf8_slice_codeunits(values, 0, 1)
    tail = pc.utf8_rtrim(pc.utf8_slice_codeunits(values, 1), "0")
    exp = pc.cast(pc.subtract(pc.utf8_length(values), 1), pa.string())
    mant = pc.if_else(pc.equal(pc.utf8_length(tail), 0), head, pc.binary_join_element_wise(head, tail, "."))
    return pc.binary_join_element_wise(mant, "E+", exp, "")


def inject(table: TableDef, batch: pa.RecordBatch, rate: float, seed: int, batch_index: int,
           row_offset: int) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    """Return the dirtied batch and its truth rows."""
    cols = [c for c in eligible(table) if pa.types.is_string(batch.schema.field(c).type)]
    n = batch.num_rows
    if not cols or n == 0:
        return batch, pa.RecordBatch.from_pylist([], schema=TRUTH_SCHEMA)
    arrays = {name: batch.column(name) for name in batch.schema.names}
    truth = []
    for name in cols:
        rng = stream_rng(seed, f"dirty/{table.name}", batch_index, name)
        clean = batch.column(name)
        valid = pc.is_valid(clean).to_numpy(zero_copy_only=False)
        hit = (rng.random(n) < rate) & valid
        if not hit.any():
            continue
        filled = pc.fill_null(clean, "")
        has_digit = pc.match_substring_regex(filled, "[0-9]").to_numpy(zero_copy_only=False)
        leading_zero = pc.starts_with(filled, "0").to_numpy(zero_copy_only=False)
        long_number = pc.match_substring_regex(filled, "^[1-9][0-9]{11,}$").to_numpy(zero_copy_only=False)
        others = [c for c in cols if c != name]
        applicable = np.stack([has_digit, leading_zero, np.ones(n, bool), np.ones(n, bool), long_number,
                               np.full(n, bool(others))], axis=1)
        # pick uniformly among the defects that apply to each cell
        score = rng.random((n, len(DEFECTS))) * applicable
        defect = np.where(hit, score.argmax(axis=1), -1)
        out = clean
        variants = {
            0: to_arabic_indic(filled),
            1: pc.utf8_slice_codeunits(filled, 1),
            2: pc.binary_join_element_wise(" ", pc.replace_substring(filled, " ", "  ", max_replacements=1), " ",
                                           ""),
            3: pa.repeat(pa.scalar("N/A"), n),
            4: _scientific(filled),
        }
        if others:
            other = rng.integers(0, len(others), n)
            swapped = pa.nulls(n, pa.string())
            for j, o in enumerate(others):
                swapped = pc.if_else(pa.array(other == j), batch.column(o), swapped)
            variants[5] = pc.fill_null(swapped, "N/A")
        for d, variant in variants.items():
            sel = defect == d
            if sel.any():
                out = pc.if_else(pa.array(sel), variant, out)
        rows = np.flatnonzero(defect >= 0)
        truth.append(pa.RecordBatch.from_arrays([
            pa.repeat(pa.scalar(table.name), len(rows)),
            pa.array(rows + row_offset, pa.int64()),
            pa.repeat(pa.scalar(name), len(rows)),
            pa.array(np.array(DEFECTS)[defect[rows]], pa.string()),
            clean.take(pa.array(rows)),
        ], schema=TRUTH_SCHEMA))
        arrays[name] = out
    new = pa.RecordBatch.from_arrays([arrays[c] for c in batch.schema.names], schema=batch.schema)
    if not truth:
        return new, pa.RecordBatch.from_pylist([], schema=TRUTH_SCHEMA)
    t = pa.Table.from_batches(truth).combine_chunks()
    return new, t.to_batches()[0] if t.num_rows else pa.RecordBatch.from_pylist([], schema=TRUTH_SCHEMA)
