"""Column generators ("kinds"): the plug-ins a dataset schema wires together.

A schema column names a kind and its parameters, e.g. ``{kind: mobile, country: eg}``.  Each kind is a
function ``fn(batch, column_name, **params) -> pyarrow.Array`` registered with :func:`kind`, which also
declares its parameters so that :mod:`generators.schema` can reject a bad schema before any data is
drawn.  Parameters listed in ``columns=`` name other columns: ``"x"`` is an earlier column of the same
table, ``"parent.x"`` a column of the parent row.

Every kind is *stateless*: what it draws depends only on (seed, dataset, table, batch index, stream
key), so batches can be generated in any order, in parallel, or on Spark executors, and the same seed
always gives the same values.  Two columns that give the same ``stream`` draw the same random indices:
that is how an Arabic name and its English transliteration, or a region and its city, stay consistent.

All work is on whole batches (numpy + pyarrow compute); no kind calls Python once per row, except
:func:`hijri_date`, which converts each *distinct* date once per process (a few tens of thousands in all) into a
table that every later batch reads by day number.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit import refdata
from tokenize_kit.pii.iban import COUNTRIES as IBAN_COUNTRIES
from tokenize_kit.pii.iban import set_check_digits
from tokenize_kit.pii.text import ascii_digit_matrix
from tokenize_kit.utf8 import encode_fixed

from . import reference as ref


# --------------------------------------------------------------------------------------------- batches
def stream_rng(seed: int, scope: str, index: int, stream: str) -> np.random.Generator:
    """The random stream ``stream`` of batch ``index`` of ``scope`` (a table) for any integer seed."""
    s = seed & (2**64 - 1)
    return np.random.default_rng(np.random.SeedSequence(
        [s & 0xFFFFFFFF, s >> 32, zlib.crc32(scope.encode()), index, zlib.crc32(stream.encode())]))



@dataclass
class Batch:
    """One batch of one table while it is being generated."""

    dataset: str
    table: str
    index: int
    seed: int
    n: int
    #: global row number of the batch's first row (root table only; child tables use parent keys)
    first: int
    reference_date: np.datetime64
    cols: dict[str, pa.Array] = field(default_factory=dict)
    #: per column, the reference-table indices it was drawn from (so a city can follow its region)
    index_of: dict[str, np.ndarray] = field(default_factory=dict)
    parent: Batch | None = None
    parent_index: np.ndarray | None = None
    #: ordinal of each child row within its parent (0-based)
    seq: np.ndarray | None = None
    #: intermediate draws a column leaves for the columns derived from it (ID parts, name indices)
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per label column, its labels and each row's index into them (so ``equals`` needs no string compare)
    codes: dict[str, tuple[tuple[str, ...], np.ndarray]] = field(default_factory=dict)
    _masks: dict[tuple[str, Any], np.ndarray] = field(default_factory=dict, repr=False)
    _memo: dict[tuple, Any] = field(default_factory=dict, repr=False)
    #: the rows the column being generated will hold null (its ``null_rate`` and ``when``), set by the engine
    #: before it calls the column's kind (None: no row).  A kind may leave these rows out of its work (it still
    #: draws its random numbers for every row, so the other rows keep their values) and return them null
    #: through :func:`with_nulls` / :func:`fixed_with_nulls`; otherwise the engine nulls them afterwards.
    null_rows: np.ndarray | None = None
    #: set by :func:`with_nulls` / :func:`fixed_with_nulls`: the kind's array already holds :attr:`null_rows`
    nulls_applied: bool = False

    def rng(self, stream: str) -> np.random.Generator:
        return stream_rng(self.seed, f"{self.dataset}/{self.table}", self.index, stream)

    @property
    def ordinal(self) -> np.ndarray:
        """:attr:`seq`, which only a child table's batch has."""
        if self.seq is None:
            raise ValueError(f"table {self.table!r} is not a child table: its rows have no ordinal within a parent")
        return self.seq

    def col(self, ref_name: str) -> pa.Array:
        """``"x"``: this table's column; ``"parent.x"``: the parent row's value repeated per child row."""
        if ref_name.startswith("parent."):
            if self.parent is None:
                raise ValueError(f"table {self.table!r} has no parent for {ref_name!r}")
            return self.parent.col(ref_name[7:]).take(pa.array(self.parent_index))
        return self.cols[ref_name]

    def idx(self, ref_name: str) -> np.ndarray:
        """The reference-table indices behind a column (a region, a governorate ...)."""
        if ref_name.startswith("parent."):
            if self.parent is None:
                raise ValueError(f"table {self.table!r} has no parent for {ref_name!r}")
            out: np.ndarray = self.parent.idx(ref_name[7:])[self.parent_index]
            return out
        if ref_name not in self.index_of:
            raise ValueError(f"column {ref_name!r} of table {self.table!r} is not a reference-table column")
        return self.index_of[ref_name]

    def equals(self, ref_name: str, value: Any) -> np.ndarray:
        """Boolean mask of column ``ref_name`` == ``value`` (null rows False), like :func:`_eq`, computed once per
        batch: from the column's label codes where a kind left them (no string comparison), else by Arrow.
        The mask is shared: read-only."""
        key = (ref_name, value)
        hit = self._masks.get(key)
        if hit is None:
            if ref_name.startswith("parent."):
                if self.parent is None:
                    raise ValueError(f"table {self.table!r} has no parent for {ref_name!r}")
                hit = self.parent.equals(ref_name[7:], value)[self.parent_index]
            else:
                codes = self.codes.get(ref_name)
                arr = self.cols[ref_name]
                if codes is not None and isinstance(value, str) and arr.null_count == 0:
                    labels, idx = codes
                    at = [k for k, x in enumerate(labels) if x == value]
                    hit = idx == at[0] if len(at) == 1 else np.isin(idx, at)
                else:
                    hit = _eq(arr, value)
            hit.flags.writeable = False
            self._masks[key] = hit
        return hit

    def memo(self, key: tuple, make: Callable[[], Any]) -> Any:
        """``make()``, once per batch for ``key``: a draw shared by the Arabic and English columns of a place."""
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = make()
        return hit

    def set_codes(self, name: str, labels: Sequence[Any], idx: np.ndarray) -> None:
        """Record that column ``name`` is ``labels[idx]`` (string labels only; see :meth:`equals`)."""
        if all(isinstance(x, str) for x in labels):
            self.codes[name] = (tuple(labels), idx)

    def global_rows(self) -> np.ndarray:
        return self.first + np.arange(self.n, dtype=np.int64)


def _validity(valid: np.ndarray) -> pa.Buffer:
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def with_nulls(b: Batch, kept: pa.Array) -> pa.Array:
    """The strings ``kept`` of the rows that are not :attr:`Batch.null_rows` (in order), spread over all rows
    with those rows null and empty (what nulling them afterwards gives); the strings' bytes are not copied."""
    if b.null_rows is None:
        return kept
    if kept.null_count or not pa.types.is_string(kept.type):
        raise ValueError("with_nulls needs a string array without nulls")
    valid = ~b.null_rows
    bufs = kept.buffers()
    inner = np.frombuffer(bufs[1], dtype=np.int32, count=len(kept) + 1, offset=4 * kept.offset)
    offsets = np.empty(b.n + 1, dtype=np.int32)
    offsets[0] = inner[0]
    offsets[1:] = inner[np.cumsum(valid)]  # a null row ends where the kept row before it ends
    b.nulls_applied = True
    return pa.StringArray.from_buffers(b.n, pa.py_buffer(offsets), bufs[2], _validity(valid), b.n - len(kept))


def fixed_with_nulls(b: Batch, chars: np.ndarray) -> pa.Array:
    """Strings of ``chars`` (a (rows, width) ASCII matrix) for the rows that are not :attr:`Batch.null_rows`,
    those rows null; ``chars`` holds either every row or only the non-null rows, in order."""
    if b.null_rows is None:
        return encode_fixed(chars)
    valid = ~b.null_rows
    kept = int(valid.sum())
    if len(chars) != kept:
        chars = chars[valid]
    width = chars.shape[1]
    offsets = np.zeros(b.n + 1, dtype=np.int32)
    np.cumsum(valid, out=offsets[1:])
    offsets *= width
    b.nulls_applied = True
    return pa.StringArray.from_buffers(b.n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars).ravel()),
                                       _validity(valid), b.n - kept)


@dataclass(frozen=True)
class Kind:
    name: str
    fn: Callable[..., pa.Array]
    required: tuple[str, ...]
    optional: Mapping[str, Any]
    columns: tuple[str, ...]
    root_only: bool


KINDS: dict[str, Kind] = {}


def kind(name: str, *, required: tuple[str, ...] = (), optional: Mapping[str, Any] | None = None,
         columns: tuple[str, ...] = (), root_only: bool = False):
    """Register a column generator (plug-in).  ``columns`` lists the parameters that name columns."""

    def deco(fn: Callable[..., pa.Array]) -> Callable[..., pa.Array]:
        KINDS[name] = Kind(name, fn, required, dict(optional or {}), columns, root_only)
        return fn

    return deco


# --------------------------------------------------------------------------------------------- helpers
def _date(value: Any, ref_date: np.datetime64) -> np.datetime64:
    """``"reference"``, an ISO date, or an offset from the reference date: ``-36M``, ``-2Y``, ``-10D``."""
    text = str(value)
    if text == "reference":
        return ref_date
    if text[:1] in "+-" and text[-1:].upper() in "DMY":
        k = int(text[:-1])
        unit = text[-1].upper()
        if unit == "D":
            return ref_date + np.timedelta64(k, "D")
        months = k * (12 if unit == "Y" else 1)
        return _add_months(np.array([ref_date]), np.array([months]))[0]
    return np.datetime64(text, "D")


#: first and last day of :func:`months_of`'s table (outside it, numpy's calendar arithmetic)
_TABLE_FIRST, _TABLE_LAST = np.datetime64("1900-01-01", "D"), np.datetime64("2100-12-31", "D")


@cache
def _month_table() -> np.ndarray:
    days = _TABLE_FIRST + np.arange(int((_TABLE_LAST - _TABLE_FIRST).astype(np.int64)) + 1).astype("timedelta64[D]")
    return days.astype("datetime64[M]").astype(np.int64)


def months_of(dates: np.ndarray) -> np.ndarray:
    """``dates.astype("datetime64[M]")`` by table lookup (numpy's conversion works out the calendar per value)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    off = d.astype(np.int64) - _TABLE_FIRST.astype(np.int64)
    table = _month_table()
    if len(off) and off.min() >= 0 and off.max() < len(table):  # (NaT is the smallest int64: not taken here)
        out: np.ndarray = table[off].view("datetime64[M]")
        return out
    return d.astype("datetime64[M]")


def _add_months(dates: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Calendar month arithmetic, day clipped to the end of a shorter month (Jan 31 + 1 month = Feb 28/29)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    m = d.astype("datetime64[M]")
    day = (d - m.astype("datetime64[D]")).astype(np.int64)
    target = m + np.asarray(months, dtype=np.int64).astype("timedelta64[M]")
    length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64)
    return target.astype("datetime64[D]") + np.minimum(day, length - 1).astype("timedelta64[D]")


def _birth_window(ref_date: np.datetime64, min_age: int, max_age: int) -> tuple[np.datetime64, int]:
    """(first birth date, number of dates) giving an age in [min_age, max_age) on ``ref_date``."""
    lo = _add_months(np.array([ref_date]), np.array([-12 * max_age]))[0] + np.timedelta64(1, "D")
    hi = _add_months(np.array([ref_date]), np.array([-12 * min_age]))[0]
    return lo, int((hi - lo).astype(np.int64)) + 1


def _eq(arr: pa.Array, value: Any) -> np.ndarray:
    """Boolean mask of ``arr == value`` (Arrow kernel: no Python string objects per row)."""
    return pc.fill_null(pc.equal(arr, pa.scalar(value, arr.type)), False).to_numpy(zero_copy_only=False)


def _digit_matrix(values: np.ndarray, width: int, prefix: str = "") -> np.ndarray:
    """Non-negative integers as rows of zero-padded ASCII digits after an ASCII ``prefix``."""
    v = np.asarray(values, dtype=np.int64)
    if len(v) and (v.min() < 0 or v.max() >= 10**width):
        raise ValueError(f"a value does not fit {width} digits")
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    out = np.empty((len(v), len(head) + width), dtype=np.uint8)
    out[:, : len(head)] = head
    out[:, len(head):] = ascii_digit_matrix(v, width)
    return out


def _digits(values: np.ndarray, width: int, prefix: str = "") -> pa.Array:
    """Non-negative integers as zero-padded decimal strings after an ASCII ``prefix`` (one numpy pass)."""
    return encode_fixed(_digit_matrix(values, width, prefix))


def _concat(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


#: largest combined vocabulary :func:`join_drawn` precomputes (all pairs of two parts' strings): a pair table
#: saves a string per row in the take, but a large one (a street and apartment table of 64,000 strings, 2 MB)
#: is read at random and misses the cache on every row, which costs more than the string it saves
PAIR_LIMIT = 10_000
_PAIRS: dict[tuple[int, int, str], tuple[pa.Array, pa.Array, pa.Array]] = {}


def _pairs(a: pa.Array, b: pa.Array, sep: str) -> pa.Array:
    """Every ``a[i] + sep + b[j]`` at index ``i * len(b) + j`` (cached per pair of reference arrays)."""
    key = (id(a), id(b), sep)
    hit = _PAIRS.get(key)
    if hit is None or hit[0] is not a or hit[1] is not b:
        if len(_PAIRS) >= 64:
            _PAIRS.clear()
        ia = pa.array(np.repeat(np.arange(len(a)), len(b)))
        ib = pa.array(np.tile(np.arange(len(b)), len(a)))
        hit = (a, b, pc.binary_join_element_wise(a.take(ia), b.take(ib), sep))
        _PAIRS[key] = hit
    return hit[2]


@cache
def _literal(text: str) -> pa.Array:
    return pa.array([text], pa.string())


_FLAT: dict[tuple[tuple[int, ...], str], tuple[list[pa.Array], pa.Array, np.ndarray]] = {}


def _flat_vocabulary(vocabs: list[pa.Array], sep: str) -> tuple[pa.Array, np.ndarray]:
    """All parts' strings in one array, each but the last part's followed by ``sep``, and where each part
    starts in it (cached per tuple of reference arrays).  Parts drawn from the same array (a name's parts)
    share one copy of its strings (one with ``sep``, one without), which keeps the array small."""
    key = (tuple(id(v) for v in vocabs), sep)
    hit = _FLAT.get(key)
    if hit is None or any(a is not b for a, b in zip(hit[0], vocabs, strict=True)):
        if len(_FLAT) >= 64:
            _FLAT.clear()
        last = len(vocabs) - 1
        at: dict[tuple[int, bool], int] = {}
        arrays: list[pa.Array] = []
        starts = np.empty(len(vocabs), dtype=np.int64)
        pos = 0
        for k, v in enumerate(vocabs):
            with_sep = bool(sep) and k < last
            if (id(v), with_sep) not in at:
                at[(id(v), with_sep)] = pos
                arrays.append((pc.binary_join_element_wise(v, sep, "") if with_sep else v).cast(pa.string()))
                pos += len(v)
            starts[k] = at[(id(v), with_sep)]
        hit = (list(vocabs), pa.concat_arrays(arrays), starts)
        _FLAT[key] = hit
    return hit[1], hit[2]


_GROUPED: dict[tuple[int, ...], tuple[list[pa.Array], pa.Array, np.ndarray]] = {}


def _grouped_vocabulary(flats: list[pa.Array]) -> tuple[pa.Array, np.ndarray]:
    """The groups' flat vocabularies one after the other and then one empty string (a row's unused parts), and
    where each group's starts (cached per tuple of flat vocabularies)."""
    key = tuple(id(f) for f in flats)
    hit = _GROUPED.get(key)
    if hit is None or any(a is not b for a, b in zip(hit[0], flats, strict=True)):
        if len(_GROUPED) >= 64:
            _GROUPED.clear()
        bases = np.cumsum([0] + [len(f) for f in flats[:-1]]).astype(np.int64)
        hit = (list(flats), pa.concat_arrays([*flats, pa.array([""], pa.string())]), bases)
        _GROUPED[key] = hit
    return hit[1], hit[2]


Part = str | tuple[pa.Array, np.ndarray]


def _merge(parts: Sequence[Part], sep: str) -> list[tuple[pa.Array, np.ndarray | None]]:
    """Parts as (strings, row indices or None for a literal), adjacent parts merged into a table of all their
    pairs while it stays within :data:`PAIR_LIMIT` strings."""
    if all(isinstance(p, str) for p in parts):
        raise ValueError("join_drawn needs at least one drawn part (it gives the number of rows)")
    merged: list[tuple[pa.Array, np.ndarray | None]] = []
    for part in parts:
        vocab, idx = (_literal(part), None) if isinstance(part, str) else part
        if merged and len(merged[-1][0]) * len(vocab) <= PAIR_LIMIT:
            prev, prev_idx = merged.pop()
            if prev_idx is None and idx is None:
                vocab, idx = _literal(prev[0].as_py() + sep + vocab[0].as_py()), None
            else:
                n = len(prev_idx) if prev_idx is not None else len(idx) if idx is not None else 0
                pi = prev_idx if prev_idx is not None else np.zeros(n, np.int64)
                ci = idx if idx is not None else np.zeros(n, np.int64)
                vocab, idx = _pairs(prev, vocab, sep), pi * len(vocab) + ci
        merged.append((vocab, idx))
    return merged


def _laid(combined: pa.Array, inter: np.ndarray) -> pa.Array:
    """One ``take`` of ``combined`` at a (rows, k) index matrix: its bytes are the joined strings, and every
    k-th of its offsets delimits a row."""
    n, k = inter.shape
    laid = combined.take(pa.array(inter.reshape(-1)))
    offsets = np.frombuffer(laid.buffers()[1], dtype=np.int32, count=n * k + 1, offset=4 * laid.offset)
    return pa.StringArray.from_buffers(n, pa.py_buffer(np.ascontiguousarray(offsets[::k])), laid.buffers()[2])


def join_drawn(parts: Sequence[Part], sep: str = "") -> pa.Array:
    """Strings built from drawn parts: each part a literal or (reference strings, each row's index into them).

    Adjacent parts whose combined table stays under :data:`PAIR_LIMIT` strings are first merged into one table
    of all their pairs (e.g. house number + street name).  Then one ``take`` from all parts' strings (each
    followed by ``sep``) with the rows' indices interleaved (row 0's parts, row 1's parts ...) lays every
    row's parts out one after the other: that take's bytes are already the joined strings, and every K-th of
    its offsets (K parts) delimits a row.  One take instead of K takes and an element-wise join; the result
    is the same as joining the parts one by one.
    """
    merged = _merge(parts, sep)
    n = next(len(i) for _, i in merged if i is not None)
    if len(merged) == 1:
        only, idx = merged[0]
        return only.take(pa.array(idx))
    combined, starts = _flat_vocabulary([v for v, _ in merged], sep)
    if combined.null_count or n == 0:  # (never for reference tables) the element-wise join keeps nulls
        return pc.binary_join_element_wise(*[v[0] if i is None else v.take(pa.array(i)) for v, i in merged], sep)
    k = len(merged)
    inter = np.empty((n, k), dtype=np.int64)
    for j, (_, i) in enumerate(merged):
        inter[:, j] = starts[j] if i is None else i + starts[j]
    return _laid(combined, inter)


_PRESENT: dict[tuple[tuple[int, ...], str], tuple[list[pa.Array], pa.Array, np.ndarray, np.ndarray]] = {}


def _present_vocabulary(vocabs: list[pa.Array], sep: str) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Each part's strings followed by ``sep`` and as they are (one copy per distinct array), then one empty
    string; where each part's two copies start (cached per tuple of reference arrays)."""
    key = (tuple(id(v) for v in vocabs), sep)
    hit = _PRESENT.get(key)
    if hit is None or any(a is not b for a, b in zip(hit[0], vocabs, strict=True)):
        if len(_PRESENT) >= 64:
            _PRESENT.clear()
        at: dict[int, tuple[int, int]] = {}
        arrays: list[pa.Array] = []
        pos = 0
        for v in vocabs:
            if id(v) not in at:
                at[id(v)] = (pos, pos + len(v))
                arrays += [pc.binary_join_element_wise(v, sep, "").cast(pa.string()), v.cast(pa.string())]
                pos += 2 * len(v)
        arrays.append(pa.array([""], pa.string()))
        hit = (list(vocabs), pa.concat_arrays(arrays), np.array([at[id(v)][0] for v in vocabs], dtype=np.int64),
               np.array([at[id(v)][1] for v in vocabs], dtype=np.int64))
        _PRESENT[key] = hit
    return hit[1], hit[2], hit[3]


def join_present(parts: Sequence[tuple[pa.Array, np.ndarray]], sep: str) -> pa.Array:
    """Each row's parts joined by ``sep``, leaving out the parts whose index is negative (absent), as
    ``sep.join(present parts)`` does; one ``take`` as in :func:`join_drawn`: a present part is taken with the
    separator after it unless no later part of its row is present, an absent one as an empty string."""
    combined, with_sep, bare = _present_vocabulary([v for v, _ in parts], sep)
    n, k = len(parts[0][1]), len(parts)
    if combined.null_count or n == 0:
        raise ValueError("join_present needs reference strings without nulls and at least one row")
    inter = np.empty((n, k), dtype=np.int64)
    later = np.zeros(n, dtype=bool)  # a present part after this one
    for j in range(k - 1, -1, -1):
        idx = parts[j][1]
        present = idx >= 0
        inter[:, j] = np.where(present, idx + np.where(later, with_sep[j], bare[j]), len(combined) - 1)
        later |= present
    return _laid(combined, inter)


def join_drawn_rows(groups: Sequence[tuple[np.ndarray, Sequence[Part]]], n: int, sep: str = "") -> pa.Array:
    """:func:`join_drawn` for rows built in different ways (an urban and a village address; names of four and
    of three parts): each group gives its rows (positions among the ``n`` rows, together covering each row
    once) and their parts.  One ``take`` lays out all rows in row order, a row with fewer parts than another
    group's padded with empty strings; the result is the same as joining each group's rows apart."""
    groups = [(np.asarray(rows, dtype=np.int64), parts) for rows, parts in groups if len(rows)]
    if not groups:
        return pa.array([], pa.string())
    merged = [(rows, _merge(parts, sep)) for rows, parts in groups]
    flats = [_flat_vocabulary([v for v, _ in m], sep) for _, m in merged]
    combined, bases = _grouped_vocabulary([f for f, _ in flats])
    if combined.null_count:  # (never for reference tables) each group apart, then put in row order
        order = np.empty(n, dtype=np.int64)
        pos = 0
        for rows, _ in groups:
            order[rows] = pos + np.arange(len(rows))
            pos += len(rows)
        return pa.concat_arrays([join_drawn(parts, sep) for _, parts in groups]).take(pa.array(order))
    k = max(len(m) for _, m in merged)
    inter = np.full((n, k), len(combined) - 1, dtype=np.int64)
    for (rows, m), (_, starts), base in zip(merged, flats, bases, strict=True):
        for j, (_, i) in enumerate(m):
            inter[rows, j] = base + starts[j] + (0 if i is None else i)
    return _laid(combined, inter)


def _weights(weights: list | None) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


#: up to this many boundaries, :func:`search_right` counts by comparisons instead of a binary search
_COMPARE_MAX = 24
#: from this many boundaries on, :func:`search_right` starts each search from a guide table
_GUIDE_MIN = 512
_GUIDES: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}


def _guide(cum: np.ndarray) -> tuple[np.ndarray, int]:
    """For ``q`` equal slices of [0, 1), the number of boundaries of ``cum`` at or below the slice's start
    (cached per boundary array: the callers' arrays are cached tables)."""
    hit = _GUIDES.get(id(cum))
    if hit is None or hit[0] is not cum:
        if len(_GUIDES) >= 64:
            _GUIDES.clear()
        q = 4 * len(cum)
        hit = (cum, np.searchsorted(cum, np.arange(q) / q, side="right"), q)
        _GUIDES[id(cum)] = hit
    return hit[1], hit[2]


def search_right(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cum, u, side="right")`` for non-decreasing ``cum`` (and, from _GUIDE_MIN boundaries on,
    ``u`` in [0, 1)), the same result,
    faster: a short ``cum`` by counting the boundaries at or below each ``u`` (no unpredictable branches), a
    long one (an age pyramid over days) from a guide table (Chen and Asau 1974) and a few steps forward
    instead of a binary search that misses the cache at every level."""
    k = len(cum)
    if k <= _COMPARE_MAX:
        out = np.zeros(len(u), dtype=np.int64)
        for c in cum.tolist():
            out += u >= c
        return out
    if k < _GUIDE_MIN:
        return np.searchsorted(cum, u, side="right")
    guide, q = _guide(cum)
    # one slice back from the slice of u: u * q may round up into the next slice, never past it
    at = guide[np.clip((u * q).astype(np.int64) - 1, 0, q - 1)]
    todo = np.flatnonzero(at < k)
    todo = todo[cum[at[todo]] <= u[todo]]
    while len(todo):
        at[todo] += 1
        todo = todo[at[todo] < k]
        todo = todo[cum[at[todo]] <= u[todo]]
    return at


def _choose(rng: np.random.Generator, k: int, n: int, p: np.ndarray | None) -> np.ndarray:
    if p is None:
        return rng.integers(0, k, n)
    return np.minimum(search_right(np.cumsum(p), rng.random(n)), k - 1)


_ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"


def to_arabic_indic(values: pa.Array) -> pa.Array:
    """ASCII digits -> Arabic-Indic digits (as typed on Arabic keyboards)."""
    for d, a in zip("0123456789", _ARABIC_INDIC, strict=True):
        values = pc.replace_substring(values, d, a)
    return values


def permute(seed: int, domain: str, values: np.ndarray, size: int) -> np.ndarray:
    """A seeded bijection of ``range(size)``: 6-round Feistel on ``2k`` bits + cycle walking.

    Used to give every row a *distinct* slot of an ID space without any shared state.  The seed is not a
    secret, so a fast integer mixing function stands in for AES here (it only has to look random).
    """
    half = max(1, ((int(size) - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    digest = hashlib.sha256(f"tokenize-kit/generators/{domain}/{seed}".encode()).digest()
    keys = np.frombuffer(digest[:48], dtype="<u8")

    def feistel(x: np.ndarray) -> np.ndarray:
        left, right = x >> np.uint64(half), x & mask
        for k in keys:
            f = (right ^ k) * np.uint64(0x9E3779B97F4A7C15)
            f ^= f >> np.uint64(29)
            f *= np.uint64(0xBF58476D1CE4E5B9)
            f ^= f >> np.uint64(32)
            left, right = right, left ^ (f & mask)
        return (left << np.uint64(half)) | right

    with np.errstate(over="ignore"):
        out = feistel(np.asarray(values, dtype=np.uint64))
        todo = np.flatnonzero(out >= size)
        while len(todo):
            out[todo] = feistel(out[todo])
            todo = todo[out[todo] >= size]
    return out.astype(np.int64)


# --------------------------------------------------------------------------------------------- generic
@kind("sequence", optional={"prefix": "", "width": 9, "start": 1}, root_only=True)
def sequence(b: Batch, name: str, prefix: str, width: int, start: int) -> pa.Array:
    """Row number + start, zero-padded, after a prefix: C000000001, C000000002 ..."""
    return _digits(b.global_rows() + start, width, prefix)


@kind("child_id", required=("parent_key",), optional={"prefix": "", "strip": 0, "sep": "-", "width": 2},
      columns=("parent_key",))
def child_id(b: Batch, name: str, parent_key: str, prefix: str, strip: int, sep: str, width: int) -> pa.Array:
    """The parent's key (first ``strip`` characters replaced by ``prefix``) + sep + ordinal: L000000001-01."""
    key = b.col(parent_key)
    if strip:
        key = pc.utf8_slice_codeunits(key, strip)
    return _concat(prefix, key, sep, _digits(b.ordinal + 1, width))


@kind("parent", required=("column",))
def parent(b: Batch, name: str, column: str) -> pa.Array:
    """The parent row's value of ``column``."""
    return b.col(f"parent.{column}")


@kind("ordinal", optional={"start": 1})
def ordinal(b: Batch, name: str, start: int) -> pa.Array:
    """The child row's position within its parent: 1, 2, 3 ..."""
    return pa.array(b.ordinal + start)


@kind("choice", required=("values",), optional={"weights": None, "stream": None, "by": None, "weights_by": None},
      columns=("by",))
def choice(b: Batch, name: str, values: list, weights: list | None, stream: str | None, by: str | None,
           weights_by: Mapping[str, list] | None) -> pa.Array:
    """One of ``values``, with optional ``weights``; or weights that depend on another column (``by``).

    Columns sharing a ``stream`` (and the same weights) draw the same indices: use it for a label and
    its translation (``values: [تسريب, ...]`` / ``values: [leak, ...]``).
    """
    rng = b.rng(stream or name)
    if by is not None:
        u = rng.random(b.n)
        idx = np.zeros(b.n, dtype=np.int64)
        for key, w in (weights_by or {}).items():
            sel = b.equals(by, key)
            p = np.cumsum(np.asarray(_weights(w)))
            idx[sel] = np.minimum(search_right(p, u[sel]), len(values) - 1)
    else:
        idx = _choose(rng, len(values), b.n, _weights(weights))
    b.index_of[name] = idx
    b.set_codes(name, values, idx)
    return pa.array(values).take(pa.array(idx))


@kind("uniform_int", required=("low", "high"), optional={"as_string": False, "stream": None})
def uniform_int(b: Batch, name: str, low: int, high: int, as_string: bool, stream: str | None) -> pa.Array:
    """An integer in [low, high], uniform; ``as_string`` zero-pads to the width of ``high``."""
    v = b.rng(stream or name).integers(low, high + 1, b.n)
    return _digits(v, len(str(high))) if as_string else pa.array(v)


@kind("lognormal", required=("median", "sigma"), optional={"round": 1, "min": None, "max": None})
def lognormal(b: Batch, name: str, median: float, sigma: float, round: float, min: float | None,
              max: float | None) -> pa.Array:
    """Right-skewed amounts (incomes, loan principals, consumption): lognormal around a median."""
    v = b.rng(name).lognormal(np.log(median), sigma, b.n)
    if min is not None or max is not None:
        v = np.clip(v, min, max)
    v = np.round(v / round) * round
    return pa.array(v.astype(np.int64)) if float(round).is_integer() else pa.array(v)


@kind("date_between", required=("start", "end"), optional={"stream": None})
def date_between(b: Batch, name: str, start: Any, end: Any, stream: str | None) -> pa.Array:
    """A date uniform in [start, end]; dates are ISO, ``reference`` or offsets such as ``-36M``."""
    lo, hi = _date(start, b.reference_date), _date(end, b.reference_date)
    span = int((hi - lo).astype(np.int64))
    days = b.rng(stream or name).integers(0, span + 1, b.n)
    return pa.array(lo + days.astype("timedelta64[D]"))


@kind("age_date", required=("min_age", "max_age"),
      optional={"table": None, "group": None, "groups": None, "sex": None, "male": "M"},
      columns=("group", "sex"))
def age_date(b: Batch, name: str, min_age: int, max_age: int, table: str | None, group: str | None,
             groups: Mapping[str, str] | None, sex: str | None, male: str) -> pa.Array:
    """A birth date giving an age in [min_age, max_age) on the reference date.

    Uniform over the ages, or, with ``table``, following an age pyramid (:func:`reference.age_weights`):
    ``group`` names the column choosing the pyramid (``groups`` maps its values to the table's groups,
    e.g. ``{citizen: saudi, resident: non_saudi}``) and ``sex`` the column choosing its male or female
    half, so a resident woman's age follows the non-Saudi women's pyramid.
    """
    lo, dates = _birth_window(b.reference_date, min_age, max_age)
    rng = b.rng(name)
    if table is None:
        return pa.array(lo + rng.integers(0, dates, b.n).astype("timedelta64[D]"))
    is_male = b.equals(sex, male) if sex else np.ones(b.n, bool)
    u = rng.random(b.n)
    days = np.zeros(b.n, dtype=np.int64)
    pyramids: list[tuple[str | None, str | None]] = list(groups.items()) if groups else [(None, None)]
    for key, grp in pyramids:
        sel = b.equals(group, key) if group and key is not None else np.ones(b.n, bool)
        for m in (True, False):
            rows = np.flatnonzero(sel & (is_male == m))
            if len(rows):
                cum = ref.birth_day_cdf(table, grp, "males" if m else "females", str(b.reference_date), min_age,
                                        max_age)
                days[rows] = np.minimum(search_right(cum, u[rows]), dates - 1)
    return pa.array(lo + days.astype("timedelta64[D]"))


@kind("offset_date", required=("column",), optional={"min_days": 0, "max_days": 30, "not_after_reference": True},
      columns=("column",))
def offset_date(b: Batch, name: str, column: str, min_days: int, max_days: int,
                not_after_reference: bool) -> pa.Array:
    """``column`` + a uniform number of days; null where that would fall after the reference date."""
    base = _dates(b.col(column))
    out = base + b.rng(name).integers(min_days, max_days + 1, b.n).astype("timedelta64[D]")
    mask = np.isnat(base)
    if not_after_reference:
        mask |= out > b.reference_date
    return pa.array(out, mask=mask)


def _dates(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.cast(pa.date32()).to_numpy(zero_copy_only=False), dtype="datetime64[D]")


@kind("add_months", required=("column",), optional={"plus": 1}, columns=("column",))
def add_months(b: Batch, name: str, column: str, plus: int) -> pa.Array:
    """``column`` + (ordinal within parent + plus) calendar months: instalment due dates, bill periods."""
    return pa.array(_add_months(_dates(b.col(column)), b.ordinal + plus))


@kind("month_start", required=("start",))
def month_start(b: Batch, name: str, start: Any) -> pa.Array:
    """First day of the month ``start`` + ordinal within parent (bill periods)."""
    first = _date(start, b.reference_date).astype("datetime64[M]")
    return pa.array((first + b.ordinal.astype("timedelta64[M]")).astype("datetime64[D]"))


@kind("flag", required=("column",), optional={"gt": 0}, columns=("column",))
def flag(b: Batch, name: str, column: str, gt: float) -> pa.Array:
    """1 where ``column`` > gt, else 0 (a child-count driver, e.g. loans sent to collection)."""
    return pc.cast(pc.greater(b.col(column), gt), pa.int64())


# --------------------------------------------------------------------------------------------- people
@kind("eg_national_id", optional={"min_age": 21, "max_age": 70, "male_share": 0.5, "table": None},
      root_only=True)
def eg_national_id(b: Batch, name: str, min_age: int, max_age: int, male_share: float,
                   table: str | None) -> pa.Array:
    """Unique valid Egyptian IDs: birth dates uniform over the ages or following the age table ``table``
    (:func:`reference.age_weights`), governorates by population.

    Statelessly unique: the ID space is laid out as (birth date, governorate, gender, serial slot), each
    (governorate, gender) owning a number of serial slots proportional to its share; global row ``i``
    takes slot ``permutation(i)`` of that space (keyed by the seed), so no two rows can share an ID
    and the shares follow the weights.  A birth date owns ``k`` units of that layout (``k`` from 1 to
    :data:`reference.MAX_UNITS`, proportional to the weight of its age), and unit ``j`` of a date takes
    its own share of the 5,000 serials, so dates are drawn by age weight and IDs stay distinct.  The
    other fields of the row are read back from the ID with ``eg_id_part``, so birth date, gender and
    governorate always agree with it.
    """
    gov = ref.eg_governorates()
    w = np.outer(gov.weights, [1 - male_share, male_share]).ravel()  # cells: (governorate, female/male)
    cap = np.maximum(1, np.floor(5000 // ref.MAX_UNITS * w / w.max()).astype(np.int64))
    cum = np.cumsum(cap)
    per_date = int(cum[-1])
    lo, _ = _birth_window(b.reference_date, min_age, max_age)
    # each birth date owns a number of units (proportional to its age's weight), each unit ``per_date`` slots
    units, per_day = ref.birth_day_units(table, str(b.reference_date), min_age, max_age)
    size = int(units[-1]) * per_date
    rows = b.global_rows()
    if len(rows) and rows[-1] >= size:
        raise ValueError(f"eg_national_id: at most {size:,} unique IDs fit these ages; ask for fewer rows")
    slot = permute(b.seed, "eg_national_id", rows, size)
    unit, r = np.divmod(slot, per_date)
    date_idx = ref.birth_day_of_unit(table, str(b.reference_date), min_age, max_age)[unit]
    k = per_day[date_idx]
    j = unit - (units[date_idx] - k)  # which of the date's units
    cell = np.repeat(np.arange(len(cap)), cap)[r]  # = np.searchsorted(cum, r, side="right"), by lookup
    within = r - (cum[cell] - cap[cell])
    serial_hi = (j * cap[cell] + within) * 5000 // (k * cap[cell])  # spread the used slots over 0..4999
    g, male = np.divmod(cell, 2)
    serial = serial_hi * 2 + male  # the 13th digit (last of the serial) is odd for men
    check = b.rng(name).integers(0, 10, b.n)  # no public algorithm: any digit (the type's default "none")
    birth = lo + date_idx.astype("timedelta64[D]")
    b.extra[name] = {"birth_date": birth, "male": male.astype(bool), "governorate": g}
    # the ID's 14 ASCII digits (as compose_arrow writes them), four bytes per table lookup: "0GGS" first (the
    # governorate and the serial's first digit), whose 0 the birth date's "MMDD" then overwrites
    head, tail = _eg_id_dates(str(lo), len(per_day))
    out = np.empty((b.n, 14), dtype=np.uint8)
    out[:, 6:10].view(np.uint32)[:, 0] = _DIGITS4_U32[gov.codes[g] * 10 + serial // 1000]
    out[:, 0:4].view(np.uint32)[:, 0] = head[date_idx]  # century digit, YY, first digit of MM
    out[:, 3:7].view(np.uint32)[:, 0] = tail[date_idx]  # MM DD
    out[:, 10:14].view(np.uint32)[:, 0] = _DIGITS4_U32[serial % 1000 * 10 + check]
    return encode_fixed(out)


@cache
def _eg_id_dates(first: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """For ``count`` days from ``first``: the ID's first four digits (century digit, YY, first month digit) and
    its digits 4-7 (MM DD) as native uint32 rows of ASCII, as :func:`tokenize_kit.pii.eg_national_id.compose_arrow`
    writes them."""
    days = np.datetime64(first, "D") + np.arange(count).astype("timedelta64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    ymd = np.where(years >= 2000, 3, 2) * 10**6 + (years % 100) * 10**4 + months * 100 + dom  # C YY MM DD
    return _DIGITS4_U32[ymd // 1000], _DIGITS4_U32[ymd % 10_000]


@kind("eg_id_part", required=("id", "part"), optional={"labels": ["M", "F"]}, columns=("id",))
def eg_id_part(b: Batch, name: str, id: str, part: str, labels: list) -> pa.Array:
    """A field of the row's Egyptian ID (an ``eg_national_id`` column of this table): ``birth_date``,
    ``gender`` (``labels`` for male, female) or ``governorate_code``; taken from the ID's own draw."""
    drawn = b.extra.get(id)
    if drawn is None or "male" not in drawn:
        raise ValueError(f"eg_id_part needs id to be an eg_national_id column of this table, not {id!r}")
    if part == "gender":
        code = (~drawn["male"]).astype(np.int8)
        b.set_codes(name, labels[:2], code)
        return pa.array(labels, pa.string()).take(pa.array(code))
    if part == "governorate_code":
        b.index_of[name] = drawn["governorate"]
        return pa.array(ref.eg_governorates().codes[drawn["governorate"]])
    if part == "birth_date":
        return pa.array(drawn["birth_date"])
    raise ValueError(f"unknown part {part!r}; choose birth_date, gender or governorate_code")


@kind("sa_national_id", required=("residency",), optional={"citizen": "citizen"}, columns=("residency",),
      root_only=True)
def sa_national_id(b: Batch, name: str, residency: str, citizen: str) -> pa.Array:
    """Unique Luhn-valid Saudi IDs: 1... for citizens, 2... (Iqama) for residents.

    The 8-digit body is a keyed permutation of the global row number, so IDs are unique across the whole
    dataset however it is split into batches or partitions.
    """
    rows = b.global_rows()
    if len(rows) and rows[-1] >= 10**8:
        raise ValueError("sa_national_id: at most 100,000,000 unique IDs")
    body = permute(b.seed, "sa_national_id", rows, 10**8)
    return _compose_sa_id(np.where(b.equals(residency, citizen), 1, 2), body)


#: "0000" .. "9999" as native uint32 rows of four ASCII digits
_DIGITS4 = (np.arange(10_000)[:, None] // np.array([1000, 100, 10, 1])[None, :] % 10 + 0x30).astype(np.uint8)
_DIGITS4_U32 = np.ascontiguousarray(_DIGITS4).view(np.uint32).ravel()
#: for 0 .. 9999 written with four digits: their Luhn sum with the last and the third-last digits doubled
_LUHN4 = (np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9])[_DIGITS4.astype(np.int64) - 0x30] * [0, 1, 0, 1]
          + (_DIGITS4.astype(np.int64) - 0x30) * [1, 0, 1, 0]).sum(axis=1)
_LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int64)


def _compose_sa_id(kind: np.ndarray, body: np.ndarray) -> pa.Array:
    """The strings :func:`tokenize_kit.pii.sa_national_id.compose` builds (first digit, 8-digit body, Luhn check
    digit), by 4-digit tables: the body's two halves give both its Luhn sum and its text."""
    high, low = np.divmod(np.asarray(body, dtype=np.int64), 10_000)
    total = _LUHN4[high] + _LUHN4[low] + _LUHN_DOUBLED[kind]
    out = np.empty((len(body), 10), dtype=np.uint8)
    out[:, 0] = kind + 0x30
    out[:, 1:5].view(np.uint32)[:, 0] = _DIGITS4_U32[high]
    out[:, 5:9].view(np.uint32)[:, 0] = _DIGITS4_U32[low]
    out[:, 9] = (10 - total % 10) % 10 + 0x30
    return encode_fixed(out)


def _email_safe(arr: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(pc.utf8_lower(arr), r"[^a-z0-9]", "")


@kind("email", required=("from_name",),
      optional={"domains": ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"], "weights": None},
      columns=("from_name",))
def email(b: Batch, name: str, from_name: str, domains: list, weights: list | None) -> pa.Array:
    """first.last + two digits @ a common provider, from a person_name column of the same row."""
    rng = b.rng(name)
    drawn = b.extra.get(from_name)
    if drawn is None or "vocab" not in drawn:
        raise ValueError("email needs from_name to be a person_name column of this table")
    dom = _choose(rng, len(domains), b.n, _weights(weights))
    parts: list[Part] = [(drawn["vocab"], drawn["first"]), ".", (drawn["vocab"], drawn["last"]),
                         (_small_numbers(100, 2), rng.integers(1, 100, b.n)), (_domains(tuple(domains)), dom)]
    if b.null_rows is None:
        return join_drawn(parts)
    keep = ~b.null_rows  # only the addresses that stay
    return with_nulls(b, join_drawn([p if isinstance(p, str) else (p[0], p[1][keep]) for p in parts]))


@cache
def _domains(domains: tuple[str, ...]) -> pa.Array:
    return pa.array(["@" + d for d in domains], pa.string())


@cache
def _operator_prefixes(country: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Mobile network codes (digits after the trunk 0) and their market shares, where published."""
    if country == "eg":
        t = refdata.table("eg_mobile_operators")
        codes = np.array([int(p) for p in t.column("prefix").to_pylist()], dtype=np.int64)  # 010 -> 10
        share = np.asarray(t.column("share").to_pylist(), dtype=np.float64)
        return codes, share / share.sum()
    # Saudi: the mobile codes libphonenumber accepts (5[013-689]); no sourced operator-to-code table, so
    # codes are uniform (see refdata/SOURCES.md, sa_mobile_operators.csv)
    return np.array([50, 51, 53, 54, 55, 56, 58, 59], dtype=np.int64), None


@kind("mobile", required=("country",), optional={"format": "national", "stream": None}, root_only=False)
def mobile(b: Batch, name: str, country: str, format: str, stream: str | None) -> pa.Array:
    """A valid mobile number: Egypt 01X + 8 digits by operator share; Saudi 05X + 7 digits.

    ``format``: ``national`` (01012345678 / 0551234567), ``e164`` (+201012345678) or ``intl00`` (00...).
    """
    rng = b.rng(stream or name)
    codes, share = _operator_prefixes(country)
    code = codes[_choose(rng, len(codes), b.n, share)]
    sub_len = 8 if country == "eg" else 7
    cc = {"eg": "20", "sa": "966"}[country]
    lead = {"national": "0", "e164": "+" + cc, "intl00": "00" + cc}[format]
    number = code * 10**sub_len + rng.integers(0, 10**sub_len, b.n)
    if b.null_rows is not None:  # only the numbers that stay
        number = number[~b.null_rows]
    return fixed_with_nulls(b, _digit_matrix(number, sub_len + 2, lead))


# --------------------------------------------------------------------------------------------- places
@kind("eg_governorate", required=("code",), optional={"script": "ar"}, columns=("code",))
def eg_governorate(b: Batch, name: str, code: str, script: str) -> pa.Array:
    """The governorate's name for a governorate-code column (Arabic or English)."""
    idx = b.idx(code)
    gov = ref.eg_governorates()
    b.index_of[name] = idx
    return (gov.ar if script == "ar" else gov.en).take(pa.array(idx))


#: where each country's cities come from, grouped by the parent place (governorate / region) index
_CITIES = {"eg": ref.eg_cities, "sa": ref.sa_cities}


@kind("city", required=("country", "within"), optional={"script": "ar", "stream": None, "rural_share": 0.0},
      columns=("within",))
def city(b: Batch, name: str, country: str, within: str, script: str, stream: str | None,
         rural_share: float) -> pa.Array:
    """A city / district of the row's governorate (``country: eg``) or region (``sa``), by population where
    the reference tables give it (Saudi cities), else uniform within the parent.

    Egypt: ``rural_share`` of rows live in a village (``eg_villages.csv``); their city is the village's
    markaz (rural district) and ``eg_address`` writes a village-style address.  The share is applied within
    the governorates that have villages, scaled so the national share matches.
    """
    cities = _CITIES[country]()
    key = f"#city:{stream or country + '_city'}"
    args = (country, within, rural_share)
    hit = b.extra.get(key)
    if hit is None or hit["args"] != args:  # the Arabic and English columns share one draw
        rng = b.rng(stream or f"{country}_city")
        parent = b.idx(within)
        hit = b.extra[key] = {"args": args, "idx": cities.draw(parent, rng.random(b.n))}
        if country == "eg" and rural_share > 0:
            vil = ref.eg_villages()
            gov = ref.eg_governorates()
            has = vil.groups.count > 0
            p_rural = min(1.0, rural_share / float(gov.weights[has].sum()))
            rural = has[parent] & (rng.random(b.n) < p_rural)
            v = np.zeros(b.n, dtype=np.int64)
            if rural.any():
                v[rural] = vil.groups.draw(parent[rural], rng.random(int(rural.sum())))
            hit.update(rural=rural, village=v)
    idx = hit["idx"]
    b.index_of[name] = idx
    if "rural" not in hit:
        return (cities.ar if script == "ar" else cities.en).take(pa.array(idx))
    rural, v = hit["rural"], hit["village"]
    b.extra[name] = {"rural": rural, "village": v}
    # one take from the cities followed by the villages' markaz names
    return _cities_and_markaz(script).take(pa.array(np.where(rural, len(cities.ar) + v, idx)))


@cache
def _cities_and_markaz(script: str) -> pa.Array:
    """Egyptian cities, then the markaz of each village (``city`` of a rural row: its village's markaz)."""
    vil = ref.eg_villages()
    cities = ref.eg_cities()
    return pa.concat_arrays([cities.ar, vil.markaz_ar] if script == "ar" else [cities.en, vil.markaz_en])


@kind("street", required=("country",), optional={"script": "ar", "stream": "street", "city": None},
      columns=("city",))
def street(b: Batch, name: str, country: str, script: str, stream: str, city: str | None) -> pa.Array:
    """A street of the row's ``city`` (each city has its own list of STREETS_PER_CITY streets, so no street
    takes more than about 1% of a city's rows), or of the whole vocabulary without ``city``."""
    names = ref.street_vocabulary(country)

    def draw() -> np.ndarray:
        u = b.rng(stream).random(b.n)
        if city is None:
            return np.minimum((u * len(names.ar)).astype(np.int64), len(names.ar) - 1)
        lists = ref.city_streets(country, len(_CITIES[country]().ar))
        k = lists.shape[1]
        return lists.reshape(-1)[b.idx(city) * k + np.minimum((u * k).astype(np.int64), k - 1)]  # lists[c, drawn]

    idx = b.memo(("street", country, stream, city), draw)
    b.index_of[name] = idx
    return (names.ar if script == "ar" else names.en).take(pa.array(idx))


@cache
def _small_numbers(count: int, width: int = 0) -> pa.Array:
    """"0" .. ``count - 1`` as strings, zero-padded to ``width``: a ``take`` is much cheaper than formatting
    each batch's integers (and a small table keeps :func:`join_drawn`'s pair tables small)."""
    return pa.array([str(i).zfill(width) for i in range(count)], pa.string())


@cache
def _optional_part(label: str, count: int) -> pa.Array:
    """``""``, then ``label + "1"`` .. ``label + str(count - 1)``: index 0 leaves the part out (no apartment)."""
    return pa.array([""] + [f"{label}{i}" for i in range(1, count)], pa.string())


@kind("eg_address", required=("governorate", "city"),
      optional={"script": "ar", "stream": "eg_address", "apartment_share": 0.6}, columns=("governorate", "city"))
def eg_address(b: Batch, name: str, governorate: str, city: str, script: str, stream: str,
               apartment_share: float) -> pa.Array:
    """A street address in the row's city and governorate, e.g. ``12 شارع التحرير، شقة 5، الدقي، الجيزة``;
    for a row the ``city`` column placed in a village: ``قرية ميت بدر حلاوة، مركز سمنود، الغربية``."""
    rng = b.rng(stream)
    streets = ref.street_vocabulary("eg")
    g, c = b.idx(governorate), b.idx(city)
    lists = ref.city_streets("eg", len(ref.eg_cities().ar))
    st = lists.reshape(-1)[c * lists.shape[1] + rng.integers(0, lists.shape[1], b.n)]  # lists[c, drawn]
    number = (_small_numbers(250), rng.integers(1, 250, b.n))
    apt = rng.integers(1, 40, b.n)
    apt[rng.random(b.n) >= apartment_share] = 0  # 0: no apartment part
    gov, cities = ref.eg_governorates(), ref.eg_cities()
    drawn = b.extra.get(city) or {}
    rural = drawn["rural"] if "rural" in drawn else np.zeros(b.n, bool)
    u = np.flatnonzero(~rural)  # urban rows: build their addresses only
    number = (number[0], number[1][u])
    urban: list[Part]
    if script == "ar":
        urban = [number, " شارع ", (streets.ar, st[u]), (_optional_part("، شقة ", 40), apt[u]),
                 "، ", (cities.ar, c[u]), "، ", (gov.ar, g[u])]
    else:
        urban = [number, " ", (streets.en, st[u]), " St.", (_optional_part(", Apt ", 40), apt[u]),
                 ", ", (cities.en, c[u]), ", ", (gov.en, g[u])]
    if len(u) == b.n:
        return join_drawn(urban)
    r = np.flatnonzero(rural)
    # a village address names the lane or the household (منزل ...) before the village, as rural addresses do
    lead = ref.village_leads(script)
    li = rng.integers(0, len(lead), b.n)
    village: list[Part] = [(lead, li[r]), (ref.village_lines(script), drawn["village"][r])]
    return join_drawn_rows([(u, urban), (r, village)], b.n)


@kind("sa_region", optional={"script": "ar", "stream": "sa_region"})
def sa_region(b: Batch, name: str, script: str, stream: str) -> pa.Array:
    """A Saudi region, weighted by Census 2022 population."""
    regions = ref.sa_regions()
    idx = b.memo(("sa_region", stream), lambda: _choose(b.rng(stream), len(regions.weights), b.n, regions.weights))
    b.index_of[name] = idx
    return (regions.ar if script == "ar" else regions.en).take(pa.array(idx))


@cache
def _sa_city_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per city index: district span (start, count; count 0 = none listed) and postal band (lo, hi; 0 = none)."""
    cities = ref.sa_cities().en.to_pylist()
    spans, _, _ = ref.sa_districts()
    postal = ref.sa_postal_ranges()
    start = np.array([spans.get(c, (0, 0))[0] for c in cities], dtype=np.int64)
    count = np.array([spans.get(c, (0, 0))[1] for c in cities], dtype=np.int64)
    lo = np.array([postal.get(c, (0, 0))[0] for c in cities], dtype=np.int64)
    hi = np.array([postal.get(c, (0, 0))[1] for c in cities], dtype=np.int64)
    return start, count, lo, hi


@kind("sa_district", required=("city",), optional={"script": "ar", "stream": "sa_district"}, columns=("city",))
def sa_district(b: Batch, name: str, city: str, script: str, stream: str) -> pa.Array:
    """A district (حي) of the row's own city (``sa_city_districts.csv``), uniform within the city: no
    district populations are published.  Every city the generator draws has a district list."""
    start, count, _, _ = _sa_city_tables()
    _, ar, en = ref.sa_districts()

    def draw() -> np.ndarray:
        c = b.idx(city)
        cnt = count[c]
        if (cnt == 0).any():
            raise ValueError("a city without a district list was drawn (sa_city_districts.csv)")
        u = b.rng(stream).random(b.n)
        out: np.ndarray = start[c] + np.minimum((u * cnt).astype(np.int64), cnt - 1)
        return out

    idx = b.memo(("sa_district", stream, city), draw)
    return (ar if script == "ar" else en).take(pa.array(idx))


@kind("sa_postal_code", required=("region", "city"), columns=("region", "city"))
def sa_postal_code(b: Batch, name: str, region: str, city: str) -> pa.Array:
    """5 digits: within the city's observed band where known, else the region's postal digit + 4 digits."""
    _, _, lo, hi = _sa_city_tables()
    c = b.idx(city)
    digit = ref.sa_regions().postal_digit[b.idx(region)]
    rng = b.rng(name)
    u = rng.random(b.n)
    banded = lo[c] + (u * (hi[c] - lo[c] + 1)).astype(np.int64)
    fallback = digit * 10000 + rng.integers(1000, 10000, b.n)
    return _digits(np.where(hi[c] > 0, banded, fallback), 5)


@kind("sa_short_address", required=("building_number",), columns=("building_number",))
def sa_short_address(b: Batch, name: str, building_number: str) -> pa.Array:
    """National short address: 4 letters + the building number (letters random: codes are not published)."""
    letters = b.rng(name).integers(65, 91, (b.n, 4)).astype(np.uint8)
    number = b.col(building_number)
    digits = _fixed_width(number)
    if digits is None:
        return _concat(encode_fixed(letters), number)
    return encode_fixed(np.concatenate([letters, digits], axis=1))


def _fixed_width(arr: pa.Array) -> np.ndarray | None:
    """A string array without nulls whose strings all have the same number of bytes as a (rows, bytes) uint8
    matrix (no copy), else None."""
    if not pa.types.is_string(arr.type) or arr.null_count or not len(arr):
        return None
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=len(arr) + 1, offset=4 * arr.offset)
    width = int(offsets[1] - offsets[0])
    if int(offsets[-1] - offsets[0]) != width * len(arr) or (np.diff(offsets) != width).any():
        return None
    data = np.frombuffer(bufs[2], dtype=np.uint8, count=int(offsets[-1]))[int(offsets[0]):]
    return data.reshape(len(arr), width)


class _HijriTable:
    """Umm al-Qura dates as ``YYYY-MM-DD`` ASCII rows, one per Gregorian day from ``first``, each converted once
    (``hijridate``) the first time a batch holds it; a batch then takes its rows by day number (no Python per
    row, no sort).  Shared by the worker threads: filled under a lock, and rows once filled never change."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.first = 0
        self.rows = np.zeros((0, 10), dtype=np.uint8)
        self.known = np.zeros(0, dtype=bool)

    def lookup(self, days: np.ndarray) -> np.ndarray:
        """(len(days), 10) ASCII matrix of the Hijri dates of ``days`` (days since 1970-01-01)."""
        from hijridate import Gregorian

        lo, hi = int(days.min()), int(days.max())
        with self.lock:
            if lo < self.first or hi >= self.first + len(self.rows):  # widen the table to cover the batch
                first = min(lo, self.first) if len(self.rows) else lo
                end = max(hi + 1, self.first + len(self.rows))
                rows = np.zeros((end - first, 10), dtype=np.uint8)
                known = np.zeros(end - first, dtype=bool)
                at = self.first - first
                rows[at:at + len(self.rows)] = self.rows
                known[at:at + len(self.known)] = self.known
                self.first, self.rows, self.known = first, rows, known
            first, rows, known = self.first, self.rows, self.known
            off = days - first
            todo = np.flatnonzero(~known[lo - first:hi - first + 1]) + lo - first
            if len(todo):
                todo = todo[np.isin(todo, off)]  # only the days this batch holds
            for k in todo.tolist():
                g = np.datetime64(first + k, "D").astype(object)
                h = Gregorian(g.year, g.month, g.day).to_hijri()
                text = f"{h.year:04d}-{h.month:02d}-{h.day:02d}".encode("ascii")
                if len(text) != 10:
                    raise ValueError(f"Hijri date {text!r} is not YYYY-MM-DD")
                rows[k] = np.frombuffer(text, dtype=np.uint8)
                known[k] = True
        out: np.ndarray = rows[off]
        return out


_HIJRI = _HijriTable()


@kind("hijri_date", required=("date",), columns=("date",))
def hijri_date(b: Batch, name: str, date: str) -> pa.Array:
    """The Umm al-Qura (Hijri) date of a Gregorian date column, ``YYYY-MM-DD`` (``hijridate`` package); null
    where the date is null."""
    dates = _dates(b.col(date))
    nat = np.isnat(dates)
    if not nat.any():  # (only the rows that stay: a `when` leaves the others null)
        days = (dates if b.null_rows is None else dates[~b.null_rows]).astype(np.int64)
        return fixed_with_nulls(b, _HIJRI.lookup(days) if len(days) else np.zeros((0, 10), np.uint8))
    valid = ~nat
    days = dates[valid].astype(np.int64)
    if not len(days):
        return pa.nulls(b.n, pa.string())
    return encode_fixed(_HIJRI.lookup(days)).take(pa.array(np.cumsum(valid) - 1, mask=nat))


# --------------------------------------------------------------------------------------------- finance
@kind("annuity", required=("principal", "annual_rate_pct", "tenor"), columns=("principal", "annual_rate_pct",
                                                                             "tenor"))
def annuity(b: Batch, name: str, principal: str, annual_rate_pct: str, tenor: str) -> pa.Array:
    """Fixed monthly instalment of an amortising loan: P * r / (1 - (1 + r)^-n), r = annual rate / 12."""
    p = np.asarray(b.col(principal).to_numpy(zero_copy_only=False), dtype=np.float64)
    r = np.asarray(b.col(annual_rate_pct).to_numpy(zero_copy_only=False), dtype=np.float64) / 1200
    n = np.asarray(b.col(tenor).to_numpy(zero_copy_only=False), dtype=np.float64)
    return pa.array(np.round(p * r / (1 - (1 + r) ** -n), 2))


def _months_between(start: np.ndarray, end: np.datetime64) -> np.ndarray:
    """Monthly anniversaries of each start date that fall strictly before ``end``."""
    sm = start.astype("datetime64[M]").astype(np.int64)
    em = np.int64(end.astype("datetime64[M]").astype(np.int64))
    sd = (start - start.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    ed = int((end - end.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64))
    return em - sm - (ed <= sd)


@kind("instalments_due", required=("start", "tenor"), columns=("start", "tenor"))
def instalments_due(b: Batch, name: str, start: str, tenor: str) -> pa.Array:
    """Instalments fallen due before the reference date: monthly from a month after disbursement."""
    months = _months_between(_dates(b.col(start)), b.reference_date)
    return pa.array(np.clip(months, 0, np.asarray(b.col(tenor).to_numpy(zero_copy_only=False))))


@kind("instalments_overdue", required=("due", "buckets"), columns=("due",))
def instalments_overdue(b: Batch, name: str, due: str, buckets: list) -> pa.Array:
    """How many of the latest due instalments are unpaid: drawn from ``buckets`` ([low, high, weight] ...),
    never more than have fallen due."""
    rng = b.rng(name)
    w = np.array([bk[2] for bk in buckets], dtype=np.float64)
    which = _choose(rng, len(buckets), b.n, w / w.sum())
    low = np.array([bk[0] for bk in buckets])[which]
    high = np.array([bk[1] for bk in buckets])[which]
    k = low + (rng.random(b.n) * (high - low + 1)).astype(np.int64)
    return pa.array(np.minimum(k, np.asarray(b.col(due).to_numpy(zero_copy_only=False))))


@kind("days_past_due", required=("start", "due", "overdue"), columns=("start", "due", "overdue"))
def days_past_due(b: Batch, name: str, start: str, due: str, overdue: str) -> pa.Array:
    """Days since the oldest unpaid instalment fell due (0 when nothing is overdue).

    Derived from the schedule, so a loan's arrears, its unpaid instalments and its status always agree.
    """
    k = np.asarray(b.col(overdue).to_numpy(zero_copy_only=False))
    n_due = np.asarray(b.col(due).to_numpy(zero_copy_only=False))
    oldest_unpaid = _add_months(_dates(b.col(start)), n_due - k + 1)
    return pa.array(np.where(k > 0, (b.reference_date - oldest_unpaid).astype(np.int64), 0))


@kind("loan_status", required=("due", "tenor", "days_past_due"), columns=("due", "tenor", "days_past_due"))
def loan_status(b: Batch, name: str, due: str, tenor: str, days_past_due: str) -> pa.Array:
    """closed (all paid), current, delinquent (1-90 days) or default (over 90 days), from the loan's facts."""
    dpd = np.asarray(b.col(days_past_due).to_numpy(zero_copy_only=False))
    done = np.asarray(b.col(due).to_numpy(zero_copy_only=False)) >= np.asarray(
        b.col(tenor).to_numpy(zero_copy_only=False))
    status = np.where(dpd > 90, "default", np.where(dpd > 0, "delinquent", np.where(done, "closed", "current")))
    return pa.array(status)


@kind("payment_date", required=("due_date", "instalment_no", "due", "overdue"), optional={"max_delay_days": 10},
      columns=("due_date", "instalment_no", "due", "overdue"))
def payment_date(b: Batch, name: str, due_date: str, instalment_no: str, due: str, overdue: str,
                 max_delay_days: int) -> pa.Array:
    """When an instalment was paid: up to ``max_delay_days`` after it fell due (never after the reference
    date); null for the loan's overdue instalments (the latest ones)."""
    d = _dates(b.col(due_date))
    no = np.asarray(b.col(instalment_no).to_numpy(zero_copy_only=False))
    unpaid = no > np.asarray(b.col(due).to_numpy(zero_copy_only=False)) - np.asarray(
        b.col(overdue).to_numpy(zero_copy_only=False))
    paid = np.minimum(d + b.rng(name).integers(0, max_delay_days + 1, b.n).astype("timedelta64[D]"),
                      b.reference_date)
    return pa.array(paid, mask=unpaid)


@kind("overdue_amount", required=("instalment", "overdue"), optional={"partial": None},
      columns=("instalment", "overdue", "partial"))
def overdue_amount(b: Batch, name: str, instalment: str, overdue: str, partial: str | None) -> pa.Array:
    """Arrears: the instalment times the number of unpaid instalments, less what was paid towards them."""
    inst = np.asarray(b.col(instalment).to_numpy(zero_copy_only=False), dtype=np.float64)
    k = np.asarray(b.col(overdue).to_numpy(zero_copy_only=False))
    paid = 0.0 if partial is None else np.asarray(b.col(partial).to_numpy(zero_copy_only=False), dtype=np.float64)
    return pa.array(np.round(inst * k - paid, 2))


@kind("days_before_reference", required=("days",), optional={"min_offset": 0}, columns=("days",))
def days_before_reference(b: Batch, name: str, days: str, min_offset: int) -> pa.Array:
    """A date between (reference - days + min_offset) and the reference date (e.g. collection hand-over)."""
    d = np.asarray(b.col(days).to_numpy(zero_copy_only=False))
    span = np.maximum(d - min_offset, 0)
    back = (b.rng(name).random(b.n) * (span + 1)).astype(np.int64)
    return pa.array(b.reference_date - back.astype("timedelta64[D]"))


@kind("tiered_amount", required=("column", "tiers"), optional={"fixed": 0.0}, columns=("column",))
def tiered_amount(b: Batch, name: str, column: str, tiers: list, fixed: float) -> pa.Array:
    """Progressive tariff: ``tiers`` = [[up_to, price_per_unit], ...] (last up_to may be null = no limit)."""
    q = np.asarray(b.col(column).to_numpy(zero_copy_only=False), dtype=np.float64)
    total = np.full(b.n, float(fixed))
    lower = 0.0
    for up_to, price in tiers:
        top = np.inf if up_to is None else float(up_to)
        total += np.clip(q - lower, 0, top - lower) * float(price)
        lower = top
    return pa.array(np.round(total, 2))


# --------------------------------------------------------------------------------------------- text
@kind("complaint_text", required=("category", "templates"),
      optional={"pii_share": 0.3, "phone": None, "national_id": None, "mentions": None,
                "arabic_digits_share": 0.3},
      columns=("category", "phone", "national_id"))
def complaint_text(b: Batch, name: str, category: str, templates: Mapping[str, list], pii_share: float,
                   phone: str | None, national_id: str | None, mentions: list | None,
                   arabic_digits_share: float) -> pa.Array:
    """A free-text description for the row's category; ``pii_share`` of rows mention the customer's
    phone number or ID, as real complaint logs do (sometimes in Arabic-Indic digits)."""
    rng = b.rng(name)
    text = pa.nulls(b.n, pa.string())
    u = rng.random(b.n)
    for cat, options in templates.items():
        sel = b.equals(category, cat)
        if sel.any():
            pick = pa.array(options).take(pa.array(np.minimum((u * len(options)).astype(np.int64), len(options) - 1)))
            text = pc.if_else(pa.array(sel), pick, text)
    text = pc.fill_null(text, "")
    mentions = mentions or []
    if not mentions or pii_share <= 0:
        return text
    which = rng.integers(0, len(mentions), b.n)
    mention = pa.nulls(b.n, pa.string())
    for j, m in enumerate(mentions):
        value_col = phone if "{phone}" in m else national_id
        if value_col is None:
            continue
        value = b.col(value_col)
        script = pa.array(rng.random(b.n) < arabic_digits_share)
        value = pc.if_else(script, to_arabic_indic(value), value)
        before, _, after = m.replace("{national_id}", "{phone}").partition("{phone}")
        mention = pc.if_else(pa.array(which == j), _concat(before, value, after), mention)
    with_pii = pa.array(rng.random(b.n) < pii_share)
    return pc.if_else(pc.and_(with_pii, pc.is_valid(mention)), pc.binary_join_element_wise(text, mention, " "),
                      text)


@kind("copy_if", required=("value", "present"), columns=("value", "present"))
def copy_if(b: Batch, name: str, value: str, present: str) -> pa.Array:
    """``value`` where ``present`` is not null, else null (e.g. the amount paid, only for paid instalments)."""
    v = b.col(value)
    return pc.if_else(pc.is_valid(b.col(present)), v, pa.nulls(len(v), v.type))


@kind("iban", required=("country", "banks"))
def iban(b: Batch, name: str, country: str, banks: list) -> pa.Array:
    """A valid IBAN: one of ``banks`` (bank codes), random branch/account digits, MOD 97-10 check digits.

    Lengths and bank positions come from the IBAN type's registry table (``tokenize_kit.pii.iban``); the
    account part is all digits (Saudi accounts may also hold letters, but are usually numeric).
    """
    rng = b.rng(name)
    fmt = IBAN_COUNTRIES[country.upper()]  # the registry entry the tokenizer validates against
    lo, hi = fmt.bank
    bank = np.array([np.frombuffer(str(x).zfill(hi - lo).encode(), dtype=np.uint8) for x in banks])
    which = rng.integers(0, len(banks), b.n)
    account = rng.integers(0x30, 0x3A, (b.n, fmt.length - hi), dtype=np.uint8)
    if b.null_rows is not None:  # drawn for every row; only the IBANs that stay are built
        which, account = which[~b.null_rows], account[~b.null_rows]
    chars = np.empty((len(which), fmt.length), dtype=np.uint8)
    chars[:, 0:2] = np.frombuffer(fmt.code.encode(), dtype=np.uint8)
    chars[:, lo:hi] = bank[which]
    chars[:, hi:] = account
    if lo != 4 or not (bank - np.uint8(0x30) < 10).all():  # (a bank code with letters) the general rule
        return fixed_with_nulls(b, set_check_digits(chars))
    # a digits-only BBAN: its MOD 97-10 remainder is one weighted sum of its ASCII codes (integer einsum)
    weights, const = _iban_weights(fmt.code, fmt.length)
    check = 98 - (np.einsum("ij,j->i", chars[:, 4:], weights, dtype=np.int32) + const) % 97
    chars[:, 2] = check // 10 + 0x30
    chars[:, 3] = check % 10 + 0x30
    return fixed_with_nulls(b, chars)


@cache
def _iban_weights(code: str, length: int) -> tuple[np.ndarray, int]:
    """MOD 97-10 of an IBAN with check digits ``00`` and a digits-only BBAN (ISO 13616: the BBAN, then the
    country code as digits, A = 10 ... Z = 35, then ``00``) is ``(sum(ascii[4:] * weights) + const) % 97``:
    a BBAN digit's weight is ``10**(digits after it) % 97``, and ``const`` holds the country code and takes
    off the ASCII offset (0x30) of every BBAN character.  The same remainder as
    :func:`tokenize_kit.pii.iban.mod97`, without its float matrix."""
    bban = length - 4
    tail = "".join(str(ord(c) - 55) for c in code.upper()) + "00"
    weights = np.array([pow(10, bban - 1 - j + len(tail), 97) for j in range(bban)], dtype=np.int32)
    const = (int(tail) - 0x30 * int(weights.sum())) % 97
    return weights, const
