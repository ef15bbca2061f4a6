"""Re-identification risk: equivalence classes of quasi-identifiers, k-anonymity and l-diversity, and the
record suppression and delivery gate built on them.

Definitions (Sweeney 2002; Machanavajjhala et al. 2007; the risk measures as ARX reports them):

* **Quasi-identifiers**: the columns (or parts of an ID token) an outsider could also know about a person:
  given with ``--quasi`` or a policy's ``quasi:`` list, plus what a policy implies: every ``generalize``
  column, and each part an ``eg_national_id`` token keeps (``national_id[birth_5y]``, ``[governorate]``,
  ``[gender]``).  Values compare as delivered after trimming; null and the empty markers count as one
  "missing" value.
* **Equivalence class**: the rows sharing one combination of quasi-identifier values.  Rows whose
  quasi-identifiers are all missing (suppressed rows among them) are in no class: nothing in them singles
  anyone out.  Their number is reported.
* **k** (k-anonymity): the size of the smallest class; a table is k-anonymous for K when k >= K.  Also
  reported: the class-size distribution, rows in classes below K, uniques (classes of one row), the highest
  re-identification risk 1/k and the average risk (classes / rows in classes: the chance that a row picked
  at random is re-identified by an attacker who knows its quasi-identifiers).
* **l-diversity** of a sensitive column: *distinct* l is the smallest number of distinct sensitive values in
  a class (missing counts as one value); *entropy* l is exp(min over classes of the entropy of the sensitive
  values), so a table is entropy l-diverse for L when that figure is >= L.  The target ``--l`` is checked
  against distinct l.

Everything is counted per batch and combined (memory holds the classes, not the rows; see
:class:`ClassCounter`).  Reports carry counts only: no class key (those are quasi-identifier values) ever leaves
this module.

>>> t = pa.table({"city": ["Giza", "Giza", "Giza", "Suez"], "gender": ["M", "M", "M", "F"],
...               "job": ["a", "b", "a", "c"]})
>>> rep = measure_table(t, ["city", "gender"], sensitive="job", k=2)
>>> rep.class_sizes, rep.min_k, rep.uniques, rep.k_met, rep.min_l
({1: 1, 3: 1}, 1, 1, False, 1)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import generalize as gen
from .pii.base import ColumnSpec
from .pii.eg_national_id import DATE_KEEPS, kept_parts
from .policy import Policy
from .quasi import TYPES as QUASI_TYPES

#: version of the JSON report
REPORT_VERSION = 1
#: partial class tables are merged once they hold this many rows (bounds memory by the classes, not the rows)
COMPACT_ROWS = 1 << 20
#: the class-size buckets of the distribution (lower bounds; the last is open)
SIZE_BUCKETS = (1, 2, 3, 4, 5, 10, 20, 50, 100, 1000, 10_000)


class RiskError(ValueError):
    """Bad input for a risk measurement (unknown column, unreadable value); names column and row, never a value."""


class RiskRefused(Exception):
    """A delivery misses its risk target (``--max-risk`` or the policy's ``suppress`` limit): nothing is written."""


# ------------------------------------------------------------------------------------------ quasi-identifiers
@dataclass(frozen=True)
class QuasiItem:
    """One quasi-identifier: a column (as delivered, or through its policy transform), or one kept part of an
    ``eg_national_id`` column (``part``: a birth-date keep option, ``governorate`` or ``gender``)."""

    name: str
    column: str
    part: str | None = None
    spec: ColumnSpec | None = None


def quasi_items(policy: Policy | None, extra: Sequence[str] = ()) -> list[QuasiItem]:
    """The quasi-identifiers a delivery made with ``policy`` reveals, plus the ``extra`` columns (as delivered)."""
    items: dict[str, QuasiItem] = {}
    specs = dict(policy.columns) if policy is not None else {}
    if policy is not None:
        for name, spec in specs.items():
            if spec.type in QUASI_TYPES and spec.method == "generalize":
                items[name] = QuasiItem(name, name, None, spec)
            elif spec.type == "eg_national_id" and spec.method == "fpe" and spec.keep:
                date = next((k for k in DATE_KEEPS if k in spec.keep), None)  # the finest kept date is revealed
                for part in [p for p in (date, "gender", "governorate") if p and (p == date or p in spec.keep)]:
                    items[f"{name}[{part}]"] = QuasiItem(f"{name}[{part}]", name, part, spec)
        extra = [*policy.quasi, *extra]
    for col in extra:
        if col not in items:
            items[col] = QuasiItem(col, col, None, specs.get(col))
    return list(items.values())


def needed_columns(items: Sequence[QuasiItem], sensitive: str | None = None) -> list[str]:
    cols = [i.column for i in items] + ([sensitive] if sensitive else [])
    return list(dict.fromkeys(cols))


def check_columns(names: Sequence[str], items: Sequence[QuasiItem], sensitive: str | None = None,
                  where: str = "the data") -> None:
    missing = [c for c in needed_columns(items, sensitive) if c not in names]
    if missing:
        raise RiskError(f"column(s) {missing} not in {where}; its columns are: {', '.join(map(str, names))}")


def as_delivered(col: pa.Array) -> pa.Array:
    """A column as a class key: text trimmed, missing cells null; dictionaries decoded; exotic types as text."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.cast(t.value_type), t.value_type
    if pa.types.is_large_string(t):
        col, t = col.cast(pa.string()), pa.string()
    if pa.types.is_string(t):
        missing = gen.missing_mask(col)
        trimmed = pc.utf8_trim_whitespace(col)
        return pc.if_else(pa.array(missing), pa.nulls(len(col), pa.string()), trimmed) if missing.any() else trimmed
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_date(t) or pa.types.is_timestamp(t) \
            or pa.types.is_boolean(t):
        return col
    return col.cast(pa.string())


def _id_parts(col: pa.Array, spec: ColumnSpec | None) -> dict[str, np.ndarray]:
    text = col if pa.types.is_string(col.type) else col.cast(pa.string())
    return kept_parts(pc.utf8_trim_whitespace(pc.fill_null(text, "")), spec)


def _id_part(col: pa.Array, item: QuasiItem, parts: dict[str, np.ndarray] | None = None) -> pa.Array:
    """The label of one kept part of an ID column (``parts``: the column's :func:`kept_parts`, if already read)."""
    parts = parts if parts is not None else _id_parts(col, item.spec)
    ok = parts["ok"]
    if item.part in DATE_KEEPS:
        level = DATE_KEEPS[item.part]
        ids = gen.date_class(parts["days"][ok], level)
        labels = gen.labelled(ids, lambda c: gen.date_class_label(c, level))
    elif item.part == "governorate":
        labels = gen.labelled(parts["governorate"][ok], lambda c: f"{c:02d}")
    else:
        labels = gen.labelled(parts["male"][ok].astype(np.int64), lambda c: "M" if c else "F")
    if ok.all():
        return labels
    out = pa.nulls(len(col), pa.string())
    return pc.replace_with_mask(out, pa.array(ok), labels) if ok.any() else out


def item_key(batch: pa.Table | pa.RecordBatch, item: QuasiItem, simulate: bool, row_offset: int = 0,
             parsed: dict[str, dict[str, np.ndarray]] | None = None) -> pa.Array:
    """The class-key column of one quasi-identifier for a batch.

    ``simulate``: the batch is the raw input of ``tokenize --policy``, and the key is what the delivery will hold
    (generalize columns generalised, masked columns masked).  Otherwise the batch is the delivery itself.  Either
    way an ID token's kept parts are read from the ID (a token keeps the raw ID's parts), and a tokenized column
    (fpe, hash, surrogate: one token per value) splits rows exactly as its raw values do."""
    col = batch.column(item.column)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if item.part is not None:
        if parsed is None:
            return _id_part(col, item)
        if item.column not in parsed:
            parsed[item.column] = _id_parts(col, item.spec)
        return _id_part(col, item, parsed[item.column])
    spec = item.spec
    if simulate and spec is not None and spec.type in QUASI_TYPES and spec.method == "generalize":
        try:
            g = gen.apply(col, spec.type, dict(spec.options), item.column)
        except gen.BadValue as exc:
            raise RiskError(str(exc)) from None
        if g.invalid.any():
            if spec.on_invalid in ("generic", "error"):
                raise RiskError(f"column {item.column!r}, row {gen.first_row(g.invalid, row_offset)}: not "
                                f"{g.expected} ({int(g.invalid.sum())} such row(s) in this batch)")
            if spec.on_invalid == "redact":
                from .table import DEFAULT_MARKER

                return pc.if_else(pa.array(g.invalid), pa.scalar(DEFAULT_MARKER), g.labels)
        return g.labels
    key = as_delivered(col)
    if simulate and spec is not None and spec.method in ("mask", "redact") and len(key):
        from .table import DEFAULT_MARKER, mask

        present = pc.is_valid(key).to_numpy(zero_copy_only=False)
        text = pc.fill_null(key.cast(pa.string()), "")
        if spec.method == "mask":
            o = spec.options
            done = mask(text, int(o.get("keep_last", 4)), int(o.get("keep_first", 0)), str(o.get("mask_char", "*")))
        else:
            done = pa.array(np.full(len(key), str(spec.options.get("marker", DEFAULT_MARKER)), dtype=object),
                            pa.string())
        key = pc.if_else(pa.array(present), done, pa.nulls(len(key), pa.string()))
    return key


def batch_keys(batch: pa.Table | pa.RecordBatch, items: Sequence[QuasiItem], simulate: bool,
               row_offset: int = 0) -> list[pa.Array]:
    parsed: dict[str, dict[str, np.ndarray]] = {}  # an ID column read once for all its kept parts
    return [item_key(batch, item, simulate, row_offset, parsed) for item in items]


# --------------------------------------------------------------------------------------------- aggregation
class ClassCounter:
    """Streaming class counts: :meth:`add` the key columns of each batch (and its sensitive column), then
    :meth:`classes` gives each class's codes, values and count.

    Each key column's values get integer codes from a dictionary that grows over the batches (0 = missing; a
    column's distinct values are few next to the rows and the classes), and a row's codes are packed into one
    64-bit key (or a few, when the columns need more than 63 bits), field widths growing as the dictionaries do.
    The sensitive column is the last, lowest field, so keys sort by class, then sensitive value.  Each batch's
    keys are sorted and counted on their own (numpy), and the sorted runs are merged whenever the new ones hold
    as many keys as the merged one: memory follows the number of classes, not of rows."""

    def __init__(self, width: int, sensitive: bool = False) -> None:
        self.width, self.sensitive = width + (1 if sensitive else 0), sensitive
        self.rows = 0
        self._types: list[pa.DataType] | None = None
        self._dicts: list[_Dictionary] = []
        self._bits = [1] * self.width
        self._layout = self._place(self._bits)
        self._counts: type[np.signedinteger[Any]] = np.int32  # widened to int64 if the rows ever approach 2**31
        self._big: tuple[np.ndarray, np.ndarray] | None = None  # (sorted distinct keys, counts) merged so far
        self._new: list[tuple[np.ndarray, np.ndarray]] = []  # runs of the batches since, each sorted
        self._pending = 0

    # -- codes and keys
    def codes(self, arrays: Sequence[pa.Array], learn: bool = True) -> list[np.ndarray]:
        """Each column's codes per row (0 where missing), adding values met for the first time (``learn``; else
        a value never met gets -1)."""
        arrays = self._conform(list(arrays))
        out = []
        for a, known in zip(arrays, self._dicts, strict=True):
            enc = pc.dictionary_encode(a)
            mapped = known.codes(enc.dictionary, learn)
            out.append(np.append(mapped, 0)[pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)])
        return out

    @staticmethod
    def _place(bits: list[int]) -> list[tuple[int, int]]:
        """(word, shift) of each field: fields fill 63-bit words in order, the last field lowest in the last word."""
        words: list[list[int]] = [[]]
        used = 0
        for i, b in enumerate(bits):
            if used + b > 63:
                words.append([])
                used = 0
            words[-1].append(i)
            used += b
        layout = [(0, 0)] * len(bits)
        for w, fields in enumerate(words):
            shift = 0
            for i in reversed(fields):
                layout[i] = (w, shift)
                shift += bits[i]
        return layout

    @property
    def _words(self) -> int:
        return self._layout[-1][0] + 1 if self._layout else 1

    def _pack(self, codes: list[np.ndarray], layout: list[tuple[int, int]] | None = None) -> np.ndarray:
        layout = layout or self._layout
        words = layout[-1][0] + 1
        keys = np.zeros((len(codes[0]), words), dtype=np.int64)
        for c, (w, shift) in zip(codes, layout, strict=True):
            keys[:, w] |= c << shift
        return keys[:, 0] if words == 1 else keys

    def _unpack(self, keys: np.ndarray) -> list[np.ndarray]:
        keys2 = keys.reshape(len(keys), -1)
        return [(keys2[:, w] >> shift) & ((1 << b) - 1) for (w, shift), b in zip(self._layout, self._bits, strict=True)]

    def _grow(self) -> None:
        """Widen the fields a dictionary outgrew (with room to double), re-packing what is counted so far."""
        need = [max(1, len(d).bit_length()) for d in self._dicts]
        if all(n <= b for n, b in zip(need, self._bits, strict=True)):
            return
        runs = ([self._big] if self._big is not None else []) + self._new
        old = [(self._unpack(k), c) for k, c in runs]
        self._bits = [max(b, n + 1) if n > b else b for n, b in zip(need, self._bits, strict=True)]
        if max(self._bits) > 62:
            raise RiskError("a quasi-identifier column has too many distinct values to count")
        self._layout = self._place(self._bits)
        self._big, self._new = None, [self._sorted(self._pack(codes), c) for codes, c in old]
        self._merge()

    @staticmethod
    def _sorted(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct keys in order and their summed counts."""
        if not len(keys):
            return keys, counts
        if keys.ndim == 1:
            order = np.argsort(keys, kind="stable")
            k = keys[order]
            starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
            return k[starts], np.add.reduceat(counts[order], starts).astype(counts.dtype)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        return uniq, np.bincount(inv.ravel(), weights=counts, minlength=len(uniq)).astype(counts.dtype)

    def _merge(self) -> None:
        """Fold the new runs into the merged one: the new ones are sorted together, then inserted (one copy of the
        merged run, no sort of it)."""
        if self._new:
            if len(self._new) == 1:
                nk, nc = self._new[0]
            else:
                nk, nc = self._sorted(np.concatenate([k for k, _ in self._new]),
                                      np.concatenate([c for _, c in self._new]))
            self._new = []
            if self._big is None or not len(self._big[0]):
                self._big = (nk, nc)
            elif nk.ndim == 1:
                bk, bc = self._big
                at = np.searchsorted(bk, nk)
                match = at < len(bk)
                match[match] = bk[at[match]] == nk[match]
                bc[at[match]] += nc[match]
                fresh = ~match
                self._big = (np.insert(bk, at[fresh], nk[fresh]), np.insert(bc, at[fresh], nc[fresh]))
            else:
                self._big = self._sorted(np.concatenate([self._big[0], nk]), np.concatenate([self._big[1], nc]))
        self._pending = 0

    def add(self, keys: Sequence[pa.Array], sensitive: pa.Array | None = None) -> None:
        arrays = [*keys, *([sensitive] if sensitive is not None else [])]
        if len(arrays) != self.width:
            raise ValueError("key columns do not match the counter")
        if not len(arrays[0]):
            return
        codes = self.codes(arrays)
        self._grow()
        n = len(codes[0])
        if self._counts is np.int32 and self.rows + n >= 2**31 - 1:
            self._counts = np.int64
            self._big = None if self._big is None else (self._big[0], self._big[1].astype(np.int64))
            self._new = [(k, c.astype(np.int64)) for k, c in self._new]
        packed = self._pack(codes)
        if packed.ndim == 1:
            uniq, counts = np.unique(packed, return_counts=True)
            run = (uniq, counts.astype(self._counts))
        else:
            run = self._sorted(packed, np.ones(n, dtype=self._counts))
        self._new.append(run)
        self.rows += n
        self._pending += len(run[0])
        merged = len(self._big[0]) if self._big is not None else 0
        if self._pending > max(COMPACT_ROWS, merged // 4):
            self._merge()

    def _conform(self, arrays: list[pa.Array]) -> list[pa.Array]:
        """Every batch's keys in the first batch's types (a JSON reader may infer another type per batch)."""
        if self._types is None:
            self._types = [a.type for a in arrays]
            self._dicts = [_Dictionary(t) for t in self._types]
            return arrays
        out = []
        for a, t in zip(arrays, self._types, strict=True):
            if a.type != t:
                if pa.types.is_null(a.type):
                    a = pa.nulls(len(a), t)
                else:
                    try:
                        a = a.cast(t)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        raise RiskError("a quasi-identifier column changes type between batches; convert the "
                                        "file to CSV or Parquet with one type per column") from None
            out.append(a)
        return out

    # -- results
    def values(self, i: int) -> pa.Array:
        """Column ``i``'s values in code order (code c is ``values(i)[c - 1]``)."""
        return self._dicts[i].values() if self._dicts else pa.array([], pa.string())

    def classes(self) -> Classes:
        """The counted keys (merged), with the layout to read them."""
        self._merge()
        keys, counts = self._big if self._big is not None else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        return Classes(self, keys, counts)

    def key_of(self, codes: list[np.ndarray]) -> np.ndarray:
        """Keys of rows given their codes (the sensitive field, if any, left 0)."""
        if self.sensitive:
            codes = [*codes, np.zeros(len(codes[0]), dtype=np.int64)]
        return self._pack(codes)

    def class_part(self, keys: np.ndarray) -> np.ndarray:
        """The keys with the sensitive field cleared: one value per class."""
        if not self.sensitive:
            return keys
        w, shift = self._layout[-1]
        mask = ~(((1 << self._bits[-1]) - 1) << shift)
        out = keys.copy()
        if out.ndim == 1:
            out &= mask
        else:
            out[:, w] &= mask
        return out


class _Dictionary:
    """Codes 1, 2, ... for one column's distinct values, in the order met.  Numbers, dates and times are looked up
    in a sorted numpy array of their integer form (no Python object per value); other values in a dict."""

    def __init__(self, t: pa.DataType) -> None:
        self.type = t
        self.numeric = (pa.types.is_integer(t) or pa.types.is_date(t) or pa.types.is_timestamp(t)
                        or pa.types.is_floating(t) or pa.types.is_boolean(t))
        self._map: dict[Any, int] = {}
        self._sorted = np.zeros(0, dtype=np.int64)  # numeric: known values (as int64) sorted, and their codes
        self._sorted_codes = np.zeros(0, dtype=np.int64)
        self._order: list[np.ndarray] = []  # numeric: values in code order, in chunks

    def __len__(self) -> int:
        return len(self._sorted) if self.numeric else len(self._map)

    def _as_int(self, values: pa.Array) -> np.ndarray:
        t = self.type
        if pa.types.is_floating(t):
            f = values.cast(pa.float64()).to_numpy(zero_copy_only=False) + 0.0  # -0.0 -> 0.0
            return f.view(np.int64)
        if pa.types.is_boolean(t):
            return values.to_numpy(zero_copy_only=False).astype(np.int64)
        if pa.types.is_date(t):
            return values.cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
        return values.cast(pa.int64()).to_numpy(zero_copy_only=False)

    def codes(self, distinct: pa.Array, learn: bool) -> np.ndarray:
        """Codes of distinct (non-null) values; -1 for unknown ones when not learning."""
        if not self.numeric:
            values = distinct.to_pylist()
            get = self._map.setdefault if learn else (lambda v, _d: self._map.get(v, -1))
            return np.fromiter((get(v, len(self._map) + 1) for v in values), dtype=np.int64, count=len(values))
        x = self._as_int(distinct)
        pos = np.searchsorted(self._sorted, x)
        found = pos < len(self._sorted)
        found[found] = self._sorted[pos[found]] == x[found]
        out = np.full(len(x), -1, dtype=np.int64)
        out[found] = self._sorted_codes[pos[found]]
        if learn and not found.all():
            new = x[~found]  # distinct already (a dictionary's values)
            codes = np.arange(len(self._sorted) + 1, len(self._sorted) + 1 + len(new), dtype=np.int64)
            out[~found] = codes
            self._order.append(distinct.filter(pa.array(~found)))
            merged = np.concatenate([self._sorted, new])
            order = np.argsort(merged, kind="stable")
            self._sorted, self._sorted_codes = merged[order], np.concatenate([self._sorted_codes, codes])[order]
        return out

    def values(self) -> pa.Array:
        """The values in code order."""
        if not self.numeric:
            return pa.array(list(self._map), self.type)
        return pa.concat_arrays(self._order) if self._order else pa.array([], self.type)


@dataclass
class Classes:
    """A counter's merged keys (sorted) and counts: one row per class, or per class and sensitive value."""

    counter: ClassCounter
    keys: np.ndarray
    counts: np.ndarray

    def codes(self) -> list[np.ndarray]:
        return self.counter._unpack(self.keys)


# -------------------------------------------------------------------------------------------------- report
@dataclass
class RiskReport:
    """The figures of one measurement (counts only, no values).

    ``class_sizes`` maps a class size to the number of classes of that size (classes with at least one
    quasi-identifier value); ``l_counts`` maps a distinct-l value to [classes, rows]."""

    rows: int
    quasi: list[str]
    class_sizes: dict[int, int]
    no_quasi_rows: int = 0
    suppressed_rows: int = 0
    sensitive: str | None = None
    l_counts: dict[int, list[int]] | None = None
    entropy_l: float | None = None
    k_target: int | None = None
    l_target: int | None = None
    suppress_limit: float | None = None
    file: str | None = None
    notes: list[str] = field(default_factory=list)

    # -- k
    @property
    def classes(self) -> int:
        return sum(self.class_sizes.values())

    @property
    def rows_in_classes(self) -> int:
        return sum(s * c for s, c in self.class_sizes.items())

    @property
    def min_k(self) -> int | None:
        return min(self.class_sizes) if self.class_sizes else None

    def rows_below(self, k: int) -> int:
        return sum(s * c for s, c in self.class_sizes.items() if s < k)

    @property
    def uniques(self) -> int:
        return self.class_sizes.get(1, 0)

    @property
    def k_met(self) -> bool | None:
        if self.k_target is None:
            return None
        return self.min_k is None or self.min_k >= self.k_target

    # -- l
    @property
    def min_l(self) -> int | None:
        return min(self.l_counts) if self.l_counts else None

    @property
    def l_met(self) -> bool | None:
        if self.l_target is None or self.l_counts is None:
            return None
        return self.min_l is None or self.min_l >= self.l_target

    @property
    def suppress_exceeded(self) -> bool:
        return self.suppress_limit is not None and self.suppressed_rows > self.suppress_limit * self.rows

    @property
    def met(self) -> bool:
        return self.k_met is not False and self.l_met is not False and not self.suppress_exceeded

    def size_buckets(self) -> list[dict[str, int]]:
        """The class-size distribution in :data:`SIZE_BUCKETS` (empty buckets left out)."""
        out = []
        bounds = [*SIZE_BUCKETS, math.inf]
        for lo, hi in itertools.pairwise(bounds):
            sizes = [s for s in self.class_sizes if lo <= s < hi]
            if not sizes:
                continue
            out.append({"size_from": int(lo), "size_to": int(max(sizes)) if hi == math.inf else int(hi - 1),
                        "classes": sum(self.class_sizes[s] for s in sizes),
                        "rows": sum(s * self.class_sizes[s] for s in sizes)})
        return out

    def to_dict(self) -> dict[str, Any]:
        from . import __version__

        in_classes = self.rows_in_classes
        k: dict[str, Any] = {
            "target": self.k_target, "met": self.k_met, "min": self.min_k, "classes": self.classes,
            "uniques": self.uniques,
            "average_class_size": round(in_classes / self.classes, 4) if self.classes else None,
            "highest_risk": round(1 / self.min_k, 6) if self.min_k else None,
            "average_risk": round(self.classes / in_classes, 6) if in_classes else None,
        }
        if self.k_target is not None:
            below = self.rows_below(self.k_target)
            k["rows_below"] = below
            k["share_below"] = round(below / self.rows, 6) if self.rows else 0.0
        doc: dict[str, Any] = {
            "format": "tokenize-kit.risk", "version": REPORT_VERSION, "tool_version": __version__,
            "file": self.file, "rows": self.rows, "quasi_identifiers": list(self.quasi),
            "rows_in_classes": in_classes, "rows_without_quasi_values": self.no_quasi_rows,
            "suppressed_rows": self.suppressed_rows, "k_anonymity": k, "class_sizes": self.size_buckets(),
            "met": self.met, "notes": list(self.notes),
        }
        if self.suppress_limit is not None:
            doc["suppression"] = {"max_share": self.suppress_limit, "exceeded": self.suppress_exceeded}
        if self.sensitive is not None:
            lc = self.l_counts or {}
            ld: dict[str, Any] = {"sensitive": self.sensitive, "target": self.l_target, "met": self.l_met,
                                  "distinct_min": self.min_l,
                                  "entropy_min": None if self.entropy_l is None else round(self.entropy_l, 6)}
            if self.l_target is not None:
                ld["rows_below"] = sum(r for lv, (_, r) in lc.items() if lv < self.l_target)
            doc["l_diversity"] = ld
        return doc


@dataclass
class Suppressed:
    """The classes a ``suppress.k`` empties, as keys of the counter that counted them (it knows their codes)."""

    counter: ClassCounter
    keys: np.ndarray
    rows: int

    def flag(self, keys: Sequence[pa.Array]) -> np.ndarray:
        """Which rows (given their class-key columns) fall in a suppressed class."""
        n = len(keys[0]) if keys else 0
        if not n or not len(self.keys):
            return np.zeros(n, dtype=bool)
        codes = self.counter.codes(keys, learn=False)
        row_keys = self.counter.key_of(codes)
        unknown = np.zeros(n, dtype=bool)
        for c in codes:
            unknown |= c < 0
        if row_keys.ndim == 1:
            hit = np.isin(row_keys, self.keys)
        else:
            void = np.dtype((np.void, row_keys.dtype.itemsize * row_keys.shape[1]))
            hit = np.isin(np.ascontiguousarray(row_keys).view(void).ravel(),
                          np.ascontiguousarray(self.keys).view(void).ravel())
        return hit & ~unknown


def _histogram(values: np.ndarray, weights: np.ndarray | None = None) -> dict[int, int]:
    """{value: count (or summed weight)} of non-negative integers, by bincount over the small values and a sort of
    the few large ones (a class of millions of rows would otherwise make a huge bincount)."""
    out: dict[int, int] = {}
    small = values < 1 << 16
    counts = np.bincount(values[small], weights=None if weights is None else weights[small])
    for v in np.flatnonzero(counts):
        out[int(v)] = int(counts[v])
    if not small.all():
        big, inv = np.unique(values[~small], return_inverse=True)
        sums = np.bincount(inv.ravel(), weights=None if weights is None else weights[~small])
        out.update({int(v): int(c) for v, c in zip(big, sums, strict=True)})
    return out


def report_from_classes(classes: Classes, rows: int, items: Sequence[QuasiItem], sensitive: str | None = None,
                        suppress_k: int | None = None) -> tuple[RiskReport, Suppressed]:
    """The report of counted classes, with classes smaller than ``suppress_k`` suppressed (returned too).

    The keys are sorted by class, then sensitive value, so each class is one run of keys: sizes, distinct
    sensitive values and entropies are sums over runs (no further sort)."""
    counter = classes.counter
    keys, counts = classes.keys, classes.counts
    if sensitive and len(keys):  # runs of equal class keys: one per class
        ck = counter.class_part(keys)
        change = ck[1:] != ck[:-1] if ck.ndim == 1 else np.any(ck[1:] != ck[:-1], axis=1)
        del ck
        starts = np.flatnonzero(np.concatenate([[True], change]))
        del change
        sizes = np.add.reduceat(counts, starts)
    else:
        starts, sizes = np.arange(len(keys)), counts
    # the all-missing key is 0, the smallest: only the first class can be one with every quasi-identifier missing
    empty_first = bool(len(keys)) and not counter.class_part(keys[:1]).any()
    no_quasi = int(sizes[0]) if empty_first else 0
    kept = np.ones(len(sizes), dtype=bool)
    if empty_first:
        kept[0] = False
    small = (sizes < suppress_k) & kept if suppress_k else np.zeros(len(sizes), dtype=bool)
    suppressed = int(sizes[small].sum())
    kept &= ~small
    rep = RiskReport(rows, [i.name for i in items], _histogram(sizes[kept]), no_quasi + suppressed, suppressed,
                     sensitive)
    if sensitive:
        lv = np.diff(np.append(starts, len(keys)))[kept]  # distinct sensitive values per class
        ksizes = sizes[kept]
        if len(ksizes):
            classes_by_l = _histogram(lv)
            rows_by_l = _histogram(lv, ksizes.astype(np.float64))
            rep.l_counts = {v: [n, rows_by_l[v]] for v, n in classes_by_l.items()}
            nlogn = np.add.reduceat(counts * np.log(counts.astype(np.float64)), starts)[kept]
            entropy = np.log(ksizes) - nlogn / ksizes
            rep.entropy_l = float(np.exp(max(float(entropy.min()), 0.0)))
        else:
            rep.l_counts = {}
    suppressed_keys = counter.class_part(keys[starts[small]]) if small.any() else keys[:0]
    return rep, Suppressed(counter, suppressed_keys, suppressed)


def measure(batches: Iterable[pa.RecordBatch | pa.Table], items: Sequence[QuasiItem], sensitive: str | None = None,
            *, simulate: bool = True, suppress_k: int | None = None) -> tuple[RiskReport, Suppressed]:
    """Measure a stream of batches (see :func:`item_key` for ``simulate``); returns the report and the classes
    ``suppress_k`` suppresses."""
    if not items:
        raise RiskError("no quasi-identifiers: name some with --quasi, or in the policy")
    counter = ClassCounter(len(items), sensitive is not None)
    checked = False
    for batch in batches:
        if not checked:
            check_columns(batch.schema.names, items, sensitive)
            checked = True
        sens = as_delivered(batch.column(sensitive)) if sensitive else None
        counter.add(batch_keys(batch, items, simulate, counter.rows), sens)
    return report_from_classes(counter.classes(), counter.rows, items, sensitive, suppress_k)


def measure_table(table: Any, quasi: Sequence[str] = (), *, policy: Policy | str | dict | None = None,
                  sensitive: str | None = None, k: int | None = None, l: int | None = None,  # noqa: E741
                  simulate: bool = True) -> RiskReport:
    """The risk report of a pyarrow Table/RecordBatch or pandas DataFrame (Python API of ``tokenize-kit risk``)."""
    from .table import _to_arrow

    pol = Policy.load(policy) if policy is not None else None
    items = quasi_items(pol, quasi)
    _, arrow, _ = _to_arrow(table)
    check_columns(arrow.column_names, items, sensitive)
    suppress = pol.suppress if pol is not None and simulate else None
    rep, _ = measure(arrow.to_batches() or [arrow], items, sensitive, simulate=simulate,
                     suppress_k=suppress.k if suppress else None)
    rep.k_target, rep.l_target = k, l
    if suppress is not None:
        rep.suppress_limit = suppress.max_share
    return rep


# ----------------------------------------------------------------------------------------------- suppression
def empty_rows(table: pa.Table, columns: Iterable[str], rows: np.ndarray) -> pa.Table:
    """``table`` with the given columns set to null in the flagged rows."""
    if not rows.any():
        return table
    flag = pa.array(rows)
    for name in dict.fromkeys(columns):
        i = table.column_names.index(name)
        col = table.column(i)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        table = table.set_column(i, table.schema.field(i).with_nullable(True),
                                 pc.if_else(flag, pa.nulls(len(col), col.type), col))
    return table


class RiskGate:
    """The risk checks of one tokenize job: record suppression (the policy's ``suppress``) and ``--max-risk``.

    :meth:`prepare` reads the input once ahead (only the quasi-identifier columns) when suppression needs the
    whole file's classes; :meth:`apply` suppresses rows in each transformed batch and counts the delivery's
    classes; :meth:`finish` raises :class:`RiskRefused` when the delivery misses its target."""

    def __init__(self, policy: Policy, quasi: Sequence[str] = (), max_risk: int | None = None) -> None:
        self.policy, self.max_risk = policy, max_risk
        self.items = quasi_items(policy, quasi)
        self.suppress = policy.suppress
        if (self.suppress or max_risk) and not self.items:
            raise RiskError("--max-risk and suppress need quasi-identifiers: list them under quasi: in the policy "
                            "or with --quasi")
        self._suppressed: Suppressed | None = None
        self._counter = ClassCounter(len(self.items)) if max_risk else None
        self.suppressed_rows = 0
        self.report: RiskReport | None = None

    @classmethod
    def for_job(cls, policy: Policy, quasi: Sequence[str] = (), max_risk: int | None = None) -> RiskGate | None:
        """The gate a job needs, or None when the policy suppresses nothing and no ``max_risk`` is asked."""
        if policy.suppress is None and max_risk is None:
            return None
        return cls(policy, quasi, max_risk)

    @property
    def columns(self) -> list[str]:
        return needed_columns(self.items)

    def check(self, names: Sequence[str]) -> None:
        check_columns(names, self.items)

    def prepare(self, open_input: Callable[[], Iterable[pa.RecordBatch]]) -> None:
        if self.suppress is None:
            return
        rep, self._suppressed = measure(open_input(), self.items, simulate=True, suppress_k=self.suppress.k)
        limit = self.suppress.max_share * rep.rows
        if rep.suppressed_rows > limit:
            raise RiskRefused(
                f"suppression would empty {rep.suppressed_rows:,} of {rep.rows:,} rows "
                f"({rep.suppressed_rows / max(rep.rows, 1):.2%}), over the policy's max_share "
                f"{self.suppress.max_share:.2%}: generalise more (tokenize-kit risk INPUT --policy POLICY "
                f"--suggest {self.suppress.k}) or allow more suppression")

    def apply(self, source: pa.Table, out: pa.Table, row_offset: int = 0) -> pa.Table:
        """Suppress the rows of a transformed batch (``source`` is its input) and count the delivery's classes."""
        if self._suppressed is not None and self._suppressed.rows:
            rows = self._suppressed.flag(batch_keys(source, self.items, True, row_offset))
            self.suppressed_rows += int(rows.sum())
            out = empty_rows(out, [i.column for i in self.items], rows)
        if self._counter is not None:
            self._counter.add(batch_keys(out, self.items, False, row_offset))
        return out

    def finish(self) -> dict[str, Any]:
        """The figures for the manifest; raises :class:`RiskRefused` if ``--max-risk`` is missed."""
        doc: dict[str, Any] = {"quasi_identifiers": [i.name for i in self.items],
                               "suppressed_rows": self.suppressed_rows}
        if self.suppress is not None:
            doc["suppress"] = self.suppress.to_dict()
        if self._counter is not None:
            rep, _ = report_from_classes(self._counter.classes(), self._counter.rows, self.items)
            rep.k_target = self.max_risk
            rep.suppressed_rows = self.suppressed_rows
            self.report = rep
            doc.update({"max_risk": self.max_risk, "min_k": rep.min_k, "classes": rep.classes,
                        "rows_below": rep.rows_below(self.max_risk or 0)})
            if not rep.k_met:
                raise RiskRefused(
                    f"the delivery is not {self.max_risk}-anonymous: its smallest class has {rep.min_k} row(s) and "
                    f"{rep.rows_below(self.max_risk or 0):,} row(s) are in classes below {self.max_risk} "
                    f"(quasi-identifiers: {', '.join(rep.quasi)}); nothing was written.  Find a policy that "
                    f"reaches it: tokenize-kit risk INPUT --policy POLICY --suggest {self.max_risk}")
        return doc
