"""The policy methods ``generalize`` and ``date_shift`` on whole columns (see :mod:`tokenize_kit.quasi` for the
policy syntax, :mod:`tokenize_kit.generalize` for the hierarchies).

``generalize`` is irreversible and keyless: each value is replaced by its class label (``1987``, ``[5000, 10000)``,
``Giza``); detokenize leaves it as it is.

``date_shift`` moves every date of one entity (a person, named by an entity column such as the national ID) by the
same number of days, drawn from ``[-max_days, -1]`` and ``[1, max_days]`` (never 0, so no date is delivered as it
was), so intervals between one person's dates (birth to loan, due date to payment) are kept exactly while the
calendar dates are not.  The shift is a keyed pseudo-random function of the entity's raw value (trimmed text; the
AES-based PRF of :mod:`tokenize_kit.primitives`, one evaluation per distinct entity):

* ``reversible: true`` (the default): the PRF is keyed by the keyset's date-shift subkey, so the key holder
  reverses the shift with the entity's raw value (detokenize does it, reading the entity column after it has
  been detokenized; the same entity gets the same shift in every file and every run).
* ``reversible: false``: the PRF is keyed by a random secret made for the run and never stored, so nobody, the
  key holder included, can reverse it; shifts are consistent within one run (one pipeline job, one
  ``tokenize_table`` call, one Spark job) but differ between runs.

The entity column is read as it came in, before it is tokenized in the same run.  A row without an entity value
gets no date (null): a shift cannot be derived for it, and the raw date must not pass.
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import generalize as gen
from .primitives import prf_u16x32
from .subkeys import DATE_SHIFT
from .table import DEFAULT_MARKER, ColumnReport, TokenizeError, distinct
from .utf8 import group_bytes

#: subkey domain of reversible date shifts (one subkey for every policy of a key: shifts join across files)
SHIFT_DOMAIN = "date_shift"
_RUN_SECRETS: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def needs_entity(spec: Any) -> str | None:
    """The entity column a policy column's transform reads, if any."""
    return spec.options.get("entity") if spec.method == "date_shift" else None


def transform_column(col: pa.Array, spec: Any, crypto: Any, decrypt: bool, row_offset: int = 0,
                     entity: pa.Array | None = None) -> tuple[pa.Array, ColumnReport]:
    """Generalise or date-shift one column (or reverse a shift); returns the new column and its counts."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    rep = ColumnReport(spec.method, spec.type)
    irreversible = spec.method == "generalize" or not spec.options.get("reversible", True)
    if decrypt and irreversible:
        missing = gen.missing_mask(col)
        rep.empty, rep.left_as_is, rep.output_type = int(missing.sum()), int((~missing).sum()), str(col.type)
        return col, rep
    try:
        if spec.method == "generalize":
            return _generalize(col, spec, row_offset, rep)
        if entity is None:
            raise TokenizeError(f"column {spec.column!r}: date_shift needs its entity column "
                                f"{spec.options['entity']!r}")
        return _date_shift(col, spec, crypto, decrypt, row_offset, entity, rep)
    except gen.BadValue as exc:
        raise TokenizeError(str(exc)) from None


def _invalid(spec: Any, invalid: np.ndarray, expected: str, row_offset: int, rep: ColumnReport) -> str:
    """How invalid cells are handled (``null`` or ``redact``); raises for ``error`` (the default)."""
    handling = "error" if spec.on_invalid == "generic" else spec.on_invalid
    if not invalid.any():
        return handling
    if handling == "error":
        raise TokenizeError(
            f"column {spec.column!r}, row {gen.first_row(invalid, row_offset)}: not {expected} "
            f"({int(invalid.sum())} such row(s) in this batch); fix the data or set on_invalid: null|redact")
    rep.invalid[handling] = int(invalid.sum())
    return handling


def _finish(out: pa.Array, col: pa.Array, missing: np.ndarray, invalid: np.ndarray, handling: str,
            rep: ColumnReport) -> tuple[pa.Array, ColumnReport]:
    """Missing cells keep their value (empty markers are left as they are), invalid ones are nulled or redacted."""
    if missing.any() and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        if col.type != out.type:
            col = col.cast(out.type)
        out = pc.if_else(pa.array(missing), col, out)
    if invalid.any() and handling == "redact":
        marker = pa.scalar(DEFAULT_MARKER, pa.string())
        out = pc.if_else(pa.array(invalid), marker, out.cast(pa.string()))
    rep.empty = int(missing.sum())
    rep.tokenized = len(col) - rep.empty - sum(rep.invalid.values())
    rep.output_type = str(out.type)
    return out, rep


def _generalize(col: pa.Array, spec: Any, row_offset: int, rep: ColumnReport) -> tuple[pa.Array, ColumnReport]:
    g = gen.apply(col, spec.type, dict(spec.options), spec.column)
    handling = _invalid(spec, g.invalid, g.expected, row_offset, rep)
    return _finish(g.labels, col, g.missing, g.invalid, handling, rep)


# ------------------------------------------------------------------------------------------------- date shift
def _run_secret(crypto: Any) -> bytes:
    """The random secret of this run (irreversible shifts): made once per run's Crypto, never stored.  On Spark
    the driver makes it and ships it with the derived subkeys (``run_secret``), so every executor agrees."""
    shipped = getattr(getattr(crypto, "_keyset", None), "run_secret", None)
    if shipped:
        return shipped
    with _LOCK:
        secret = _RUN_SECRETS.get(crypto)
        if secret is None:
            secret = _RUN_SECRETS[crypto] = os.urandom(32)
        return secret


#: entity texts up to this many UTF-8 bytes are the PRF's message as they are (after a length byte)
_SHORT = 31


def entity_prf(key: bytes, values: pa.Array) -> np.ndarray:
    """A keyed pseudo-random uint64 per null-free string: :func:`~tokenize_kit.primitives.prf_u16x32` of the
    32-byte message ``length || UTF-8 bytes`` (zero-padded), or, for a text longer than 31 bytes,
    ``0xFF || SHA-256(text)[:31]``.  Distinct texts give distinct messages (up to a SHA-256 collision)."""
    n = len(values)
    off = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1 + values.offset)[values.offset:].astype(
        np.int64)
    off -= off[0]
    lengths = np.diff(off)
    data = group_bytes(values)
    msgs = np.zeros((n, _SHORT + 1), dtype=np.uint8)
    short = lengths <= _SHORT
    msgs[:, 0] = np.where(short, lengths, 0xFF)
    lens = np.where(short, lengths, 0)
    rows = np.repeat(np.arange(n), lens)  # one entry per byte of the short texts
    pos = np.arange(len(rows)) - np.repeat(np.cumsum(lens) - lens, lens)  # the byte's place in its text
    msgs[rows, pos + 1] = data[np.repeat(off[:-1], lens) + pos]
    for i in np.flatnonzero(~short).tolist():  # rare: long entity texts are digested first (keyless)
        msgs[i, 1:] = np.frombuffer(hashlib.sha256(bytes(data[off[i]:off[i + 1]])).digest()[:_SHORT], np.uint8)
    words = prf_u16x32(key, msgs)[:, :4].astype(np.uint64)
    out = words[:, 0]
    for j in (1, 2, 3):
        out = (out << np.uint64(16)) | words[:, j]
    return out


def shifts(entities: pa.Array, key: bytes, max_days: int) -> np.ndarray:
    """Days of shift per row for null-free, trimmed entity texts: in ``[-max_days, -1]`` or ``[1, max_days]``,
    equal for equal entities.  The PRF runs once per distinct entity.

    >>> s = shifts(pa.array(["29801010123456", "30001010123458", "29801010123456"]), bytes(32), 30)
    >>> bool(s[0] == s[2]), bool(0 < abs(s[0]) <= 30 and 0 < abs(s[1]) <= 30)
    (True, True)
    """
    uniq, pos = distinct(entities)
    r = (entity_prf(key, uniq) % np.uint64(2 * max_days)).astype(np.int64) - max_days
    r[r >= 0] += 1
    return r[pos]


def entity_text(entity: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(trimmed text of each entity value, missing): the form a shift is keyed on."""
    if isinstance(entity, pa.ChunkedArray):
        entity = entity.combine_chunks()
    text = entity if pa.types.is_string(entity.type) else entity.cast(pa.string())
    missing = gen.missing_mask(text)
    return pc.utf8_trim_whitespace(pc.fill_null(text, "")), missing


def _date_shift(col: pa.Array, spec: Any, crypto: Any, decrypt: bool, row_offset: int, entity: pa.Array,
                rep: ColumnReport) -> tuple[pa.Array, ColumnReport]:
    opts = spec.options
    fmt = opts.get("format")
    p = gen.parse_dates(col, spec.column, fmt)
    handling = _invalid(spec, p.invalid, f"a date in the format {fmt or gen.ISO_DATE}", row_offset, rep)
    ent, no_entity = entity_text(entity)
    work = ~p.missing & ~p.invalid & ~no_entity
    key = crypto.key(DATE_SHIFT, SHIFT_DOMAIN) if opts.get("reversible", True) else _run_secret(crypto)
    delta = np.zeros(len(col), dtype=np.int64)
    idx = np.flatnonzero(work)
    if len(idx):
        sub = ent if len(idx) == len(ent) else ent.take(pa.array(idx))
        delta[idx] = shifts(sub, key, int(opts["max_days"]))
    if decrypt:
        delta = -delta
    orphan = ~p.missing & ~p.invalid & no_entity  # a date whose row names no entity: no shift, so no date
    if orphan.any():
        rep.invalid["no_entity"] = int(orphan.sum())
    t = col.type
    if pa.types.is_timestamp(t):
        out = pc.add(col, pa.array(delta * 86_400, pa.duration("s")).cast(pa.duration(t.unit)))
    else:
        out = pa.array((p.days + delta).astype("datetime64[D]"), pa.date32())
        if pa.types.is_date(t):
            out = out.cast(t)
        else:  # text: written back in its format, the time of day kept
            out = pc.strftime(out, format=fmt or gen.ISO_DATE)
            if p.suffix is not None:
                out = pc.binary_join_element_wise(out, p.suffix, "")
    out = pc.if_else(pa.array(work), out, pa.nulls(len(col), out.type))
    return _finish(out, col, p.missing, p.invalid, handling, rep)
