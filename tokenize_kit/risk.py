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

Everything is aggregated per batch with Arrow's hash group-by and combined (memory holds the classes, not the
rows).  Reports carry counts only: no class key (those are quasi-identifier values) ever leaves this module.
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


def _id_part(col: pa.Array, item: QuasiItem) -> pa.Array:
    text = col if pa.types.is_string(col.type) else col.cast(pa.string())
    text = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
    parts = kept_parts(text, item.spec)
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


def item_key(batch: pa.Table | pa.RecordBatch, item: QuasiItem, simulate: bool, row_offset: int = 0) -> pa.Array:
    """The class-key column of one quasi-identifier for a batch.

    ``simulate``: the batch is the raw input of ``tokenize --policy``, and the key is what the delivery will hold
    (generalize columns generalised, masked columns masked).  Otherwise the batch is the delivery itself.  Either
    way an ID token's kept parts are read from the ID (a token keeps the raw ID's parts), and a tokenized column
    (fpe, hash, surrogate: one token per value) splits rows exactly as its raw values do."""
    col = batch.column(item.column)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if item.part is not None:
        return _id_part(col, item)
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
    return [item_key(batch, item, simulate, row_offset) for item in items]


# --------------------------------------------------------------------------------------------- aggregation
def _key_names(n: int) -> list[str]:
    return [f"q{i}" for i in range(n)]


class ClassCounter:
    """Streaming class counts: :meth:`add` the key columns of each batch (and its sensitive column), then
    :meth:`table` gives one row per class (or per class and sensitive value) with its count ``n``.

    Each batch is grouped on its own and the partial tables are merged whenever they hold
    :data:`COMPACT_ROWS` rows, so memory follows the number of classes, not of rows."""

    def __init__(self, width: int, sensitive: bool = False) -> None:
        self.keys = _key_names(width) + (["s"] if sensitive else [])
        self.rows = 0
        self._types: list[pa.DataType] | None = None
        self._parts: list[pa.Table] = []
        self._pending = 0
        self._compacted = 0

    def add(self, keys: Sequence[pa.Array], sensitive: pa.Array | None = None) -> None:
        arrays = [*keys, *([sensitive] if sensitive is not None else [])]
        if len(arrays) != len(self.keys):
            raise ValueError("key columns do not match the counter")
        if not len(arrays[0]):
            return
        arrays = self._conform(arrays)
        part = pa.table(arrays, names=self.keys).group_by(self.keys).aggregate([([], "count_all")])
        self._parts.append(part.rename_columns([*self.keys, "n"]))
        self.rows += len(arrays[0])
        self._pending += part.num_rows
        if self._pending > max(COMPACT_ROWS, 2 * self._compacted):
            self._compact()

    def _conform(self, arrays: list[pa.Array]) -> list[pa.Array]:
        """Every batch's keys in the first batch's types (a JSON reader may infer another type per batch)."""
        if self._types is None:
            self._types = [a.type for a in arrays]
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

    def _compact(self) -> None:
        merged = pa.concat_tables(self._parts)
        self._parts = [merged.group_by(self.keys).aggregate([("n", "sum")]).rename_columns([*self.keys, "n"])]
        self._compacted = self._pending = self._parts[0].num_rows

    def table(self) -> pa.Table:
        if not self._parts:
            schema = pa.schema([(k, t) for k, t in zip(self.keys, self._types or [pa.string()] * len(self.keys),
                                                        strict=True)] + [("n", pa.int64())])
            return schema.empty_table()
        if len(self._parts) > 1:
            self._compact()
        return self._parts[0]


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


def _all_null(table: pa.Table, names: Sequence[str]) -> np.ndarray:
    out = np.ones(table.num_rows, dtype=bool)
    for name in names:
        out &= pc.is_null(table.column(name)).to_numpy(zero_copy_only=False)
    return out


def report_from_classes(classes: pa.Table, rows: int, items: Sequence[QuasiItem], sensitive: str | None = None,
                        suppress_k: int | None = None) -> tuple[RiskReport, pa.Table]:
    """The report of a class table (:meth:`ClassCounter.table`), with classes smaller than ``suppress_k``
    suppressed.  Also returns the suppressed classes' keys (one row per class, columns q0..)."""
    names = _key_names(len(items))
    with_s = "s" in classes.column_names
    if with_s:  # one row per (class, sensitive value): fold into one row per class
        n = classes.column("n").to_numpy(zero_copy_only=False).astype(np.float64)
        folded = classes.append_column("nlogn", pa.array(n * np.log(n))).group_by(names).aggregate(
            [("n", "sum"), ("n", "count"), ("nlogn", "sum")]).rename_columns([*names, "n", "l", "nlogn"])
    else:
        folded = classes
    empty = _all_null(folded, names)
    no_quasi = int(pc.sum(folded.column("n").filter(pa.array(empty))).as_py() or 0)
    folded = folded.filter(pa.array(~empty))
    sizes = folded.column("n").to_numpy(zero_copy_only=False).astype(np.int64)
    small = sizes < suppress_k if suppress_k else np.zeros(len(sizes), dtype=bool)
    suppressed_keys = folded.filter(pa.array(small)).select(names)
    suppressed = int(sizes[small].sum())
    kept = folded.filter(pa.array(~small))
    sizes = sizes[~small]
    uniq, counts = np.unique(sizes, return_counts=True)
    rep = RiskReport(rows, [i.name for i in items], {int(s): int(c) for s, c in zip(uniq, counts, strict=True)},
                     no_quasi + suppressed, suppressed, sensitive)
    if with_s:
        lv = kept.column("l").to_numpy(zero_copy_only=False).astype(np.int64)
        rep.l_counts = {}
        for value in np.unique(lv):
            sel = lv == value
            rep.l_counts[int(value)] = [int(sel.sum()), int(sizes[sel].sum())]
        if len(sizes):
            nlogn = kept.column("nlogn").to_numpy(zero_copy_only=False)
            entropy = np.log(sizes) - nlogn / sizes
            rep.entropy_l = float(np.exp(max(float(entropy.min()), 0.0)))
    return rep, suppressed_keys


def measure(batches: Iterable[pa.RecordBatch | pa.Table], items: Sequence[QuasiItem], sensitive: str | None = None,
            *, simulate: bool = True, suppress_k: int | None = None) -> tuple[RiskReport, pa.Table]:
    """Measure a stream of batches (see :func:`item_key` for ``simulate``); returns the report and the keys of
    the classes ``suppress_k`` suppresses."""
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
    return report_from_classes(counter.table(), counter.rows, items, sensitive, suppress_k)


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
def _join_form(arrays: Sequence[pa.Array]) -> list[pa.Array]:
    """Key columns in a form a hash join matches exactly, nulls included (text, null as a code no text has)."""
    return [pc.fill_null(a.cast(pa.string()), "\x00") for a in arrays]


def suppressed_rows(keys: Sequence[pa.Array], suppressed: pa.Table) -> np.ndarray:
    """Which rows (given their class keys) fall in one of the ``suppressed`` classes."""
    n = len(keys[0]) if keys else 0
    hit = np.zeros(n, dtype=bool)
    if not n or not suppressed.num_rows:
        return hit
    names = suppressed.column_names
    left = pa.table([*_join_form(keys), pa.array(np.arange(n))], names=[*names, "__row"])
    right = pa.table(_join_form([suppressed.column(c) for c in names]), names=names)
    rows = left.join(right, keys=names, join_type="left semi").column("__row").to_numpy()
    hit[rows] = True
    return hit


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
        self._suppressed: pa.Table | None = None
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
        if self._suppressed is not None and self._suppressed.num_rows:
            rows = suppressed_rows(batch_keys(source, self.items, True, row_offset), self._suppressed)
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
            rep, _ = report_from_classes(self._counter.table(), self._counter.rows, self.items)
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
