"""``risk --suggest K``: the least generalisation over the shipped hierarchies (plus suppression of at most a
given share of rows) that makes a delivery K-anonymous, written as a policy.

The search space is the generalisation lattice (as in ARX): each quasi-identifier has a chain of levels, finest
first (a date: day -> month -> year -> 5y -> 10y -> ``*``; a number: as is -> width w -> 2w -> 4w ... -> ``*``; a
place: district -> city -> region -> ``*``; an ID token's kept birth date: day -> month -> year -> 5y -> 10y ->
not kept), and a node picks one level per quasi-identifier.  Node ``a`` is below node ``b`` when every level of
``a`` is at most that of ``b``.  A node *reaches K* when the rows in its classes smaller than K, which would be
suppressed, are at most ``max_suppress`` of all rows.  Generalising never splits a class, so a node above one
that reaches K reaches it too (monotonicity).

"Least" is defined in two steps:

1. **Minimal in the lattice order**: the node reaches K and no node below it does.  The search walks the lattice
   bottom-up, level by level of height (the sum of the levels); a node above one that reaches K is known to reach
   it without being evaluated (predictive tagging, as in ARX's Flash and OLA), so every node evaluated either
   fails or is minimal, and every minimal node is found.
2. **Smallest information loss among the minimal nodes**: the loss of a node is the mean over the
   quasi-identifiers with more than one level of (level / top level) (Sweeney's precision metric, 0 = as given,
   1 = all suppressed); ties go to fewer suppressed rows, then to the smaller discernibility (the sum over classes
   of size squared, plus rows x suppressed rows: Bayardo and Agrawal 2005), then to the lexicographically
   smallest level vector, so the answer is deterministic.

A node is evaluated on the bottom node's class table (one row per distinct combination of base values, with its
count), rolled up from an already evaluated node below it where one is kept: the file is read once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import generalize as gen
from .pii.eg_national_id import DATE_KEEPS, kept_parts
from .policy import Policy
from .quasi import Suppress
from .risk import ClassCounter, QuasiItem, RiskError, RiskReport, as_delivered, check_columns

#: at most this many levels in an automatic number chain (widths double from a readable start)
MAX_NUMBER_LEVELS = 12
#: class-table rows kept in memory for roll-ups
ROLLUP_BUDGET = 8_000_000
_DATE_KEEP_OF = {level: keep for keep, level in DATE_KEEPS.items()}


class NoSuggestion(RiskError):
    """No node of the lattice reaches K within the suppression limit (a finding, not bad input)."""


# ------------------------------------------------------------------------------------------------ hierarchies
@dataclass
class Chain:
    """One quasi-identifier's levels.  ``base`` turns a batch column into base values (one per row, null where
    missing); ``codes(distinct_base)`` gives, per level, an int code per distinct base value; ``entry(level)``
    says how the level is written in a policy."""

    item: QuasiItem
    kind: str
    levels: list[str]
    base: Callable[[pa.Array, int], pa.Array]
    labels: Callable[[pa.Array, int], list[Any]]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def top(self) -> int:
        return len(self.levels) - 1

    def fit(self, distinct: pa.Array) -> None:
        """Fill a number chain's widths from the range of its distinct base values (the list is shared with
        its label function)."""
        if self.kind != "number" or self.levels:
            return
        vals = distinct.to_numpy(zero_copy_only=False) if len(distinct) else np.zeros(1)
        span = float(vals.max() - vals.min())
        if self.detail.get("auto"):
            widths = _widths(gen.nice_width(span), span)
            self.levels.extend(["as is", *[f"width:{x:g}" for x in widths], "*"])
        else:
            self.levels.extend([*[f"width:{x:g}" for x in _widths(float(self.detail["opts"]["width"]), span)], "*"])


#: a text column is read as dates (or numbers) when at least this share of its first batch's values are; its
#: other values are then errors, reported with their row, not a reason to treat the column as categories
DETECT_SHARE = 0.9


def _mostly(missing: np.ndarray, invalid: np.ndarray) -> bool:
    present = int((~missing).sum())
    return present > 0 and int((~missing & ~invalid).sum()) >= DETECT_SHARE * present


def _is_date(col: pa.Array) -> bool:
    t = col.type
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return True
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return False
    p = gen.parse_dates(col, "")
    return _mostly(p.missing, p.invalid)


def _is_number(col: pa.Array) -> bool:
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return True
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return False
    _, missing, invalid = gen.parse_numbers(col, "")
    return _mostly(missing, invalid)


def _place_level(col: pa.Array) -> tuple[str, str] | None:
    """(country, level) whose reference names cover every distinct value of a text column, finest first."""
    if not pa.types.is_string(col.type):
        return None
    key = as_delivered(col)
    values = [v for v in pc.unique(key).to_pylist() if v is not None]
    if not values:
        return None
    for country, levels in gen.PLACE_LEVELS.items():
        h = gen.places(country)
        for level in levels:
            if all(gen.place_key(v) in h.lookup[level] for v in values):
                return country, level
    return None


def _date_base(column: str, fmt: str | None) -> Callable[[pa.Array, int], pa.Array]:
    def base(col: pa.Array, row_offset: int) -> pa.Array:
        p = gen.parse_dates(col, column, fmt)
        try:
            p.check(column, fmt, row_offset)
        except gen.BadValue as exc:
            raise RiskError(str(exc)) from None
        return pa.array(p.days, pa.int64(), mask=p.missing)
    return base


def _number_base(column: str) -> Callable[[pa.Array, int], pa.Array]:
    def base(col: pa.Array, row_offset: int) -> pa.Array:
        vals, missing, invalid = gen.parse_numbers(col, column)
        if invalid.any():
            raise RiskError(f"column {column!r}, row {gen.first_row(invalid, row_offset)}: not a plain number "
                            f"({int(invalid.sum())} such row(s))")
        return pa.array(vals, pa.float64(), mask=missing)
    return base


def _as_is_base(col: pa.Array, row_offset: int) -> pa.Array:
    return as_delivered(col)


def _date_labels(levels: list[str], opts: dict[str, Any]) -> Callable[[pa.Array, int], list[Any]]:
    def labels(base: pa.Array, level: int) -> list[Any]:
        name = levels[level]
        days = base.to_numpy(zero_copy_only=False).astype(np.int64)
        if name == "*":
            return ["*"] * len(days)
        if name.startswith("age_band"):
            width = int(name.split(":")[1])
            return gen.date_labels(days, {**opts, "to": "age_band", "width": width}).to_pylist()
        return gen.date_labels(days, {"to": name}).to_pylist()
    return labels


def _number_labels(levels: list[str], opts: dict[str, Any]) -> Callable[[pa.Array, int], list[Any]]:
    def labels(base: pa.Array, level: int) -> list[Any]:
        name = levels[level]
        vals = base.to_numpy(zero_copy_only=False)
        if name == "as is":
            return vals.tolist()
        if name == "*":
            return ["*"] * len(vals)
        if name == "edges":
            return gen.number_labels(vals, {"edges": opts["edges"]}).to_pylist()
        width = float(name.split(":")[1])
        return gen.number_labels(vals, {"width": width, "top": opts.get("top"),
                                        "bottom": opts.get("bottom")}).to_pylist()
    return labels


def _place_labels(levels: list[str], country: str, given: str) -> Callable[[pa.Array, int], list[Any]]:
    """Labels of place names of level ``given`` at each level of the chain (the given level itself: as they are)."""
    h = gen.places(country)

    def labels(base: pa.Array, level: int) -> list[Any]:
        values = base.to_pylist()
        if levels[level] == given:
            return values
        return [h.label(v, given, levels[level]) for v in values]
    return labels


def _two_level(base: pa.Array, level: int) -> list[Any]:
    return base.to_pylist() if level == 0 else ["*"] * len(base)


def _widths(start: float, span: float) -> list[float]:
    out = [start]
    while len(out) < MAX_NUMBER_LEVELS - 2 and out[-1] < span:
        out.append(out[-1] * 2)
    return out


def chain_for(item: QuasiItem, first: pa.Table) -> Chain:
    """The level chain of one quasi-identifier (its kind found from the policy or, for a plain column, from the
    first batch).  A number chain's widths wait for the data's range (:meth:`Chain.fit`)."""
    spec = item.spec
    if item.part is not None:
        if item.part in DATE_KEEPS:
            start = list(DATE_KEEPS).index(item.part)
            levels = [*gen.DATE_LEVELS[start:], "*"]

            def base(col: pa.Array, row_offset: int) -> pa.Array:
                text = pc.utf8_trim_whitespace(pc.fill_null(col.cast(pa.string()), ""))
                parts = kept_parts(text, spec)
                return pa.array(parts["days"], pa.int64(), mask=~parts["ok"])
            return Chain(item, "id_date", levels, base, _date_labels(levels, {}))

        def part_base(col: pa.Array, row_offset: int) -> pa.Array:
            from .risk import _id_part

            return _id_part(col, item)
        return Chain(item, "id_part", [item.part, "*"], part_base, _two_level)
    col = first.column(item.column)
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if spec is not None and spec.method == "generalize":
        opts = dict(spec.options)
        if spec.type == "date":
            to = opts["to"]
            if to == "*":
                levels = ["*"]
            elif to == "age_band":
                w = int(opts.get("width", 5))
                levels = [f"age_band:{w * 2 ** i}" for i in range(6) if w * 2 ** i <= 120] + ["*"]
            else:
                levels = [*gen.DATE_LEVELS[gen.DATE_LEVELS.index(to):], "*"]
            return Chain(item, "date", levels, _date_base(item.column, opts.get("format")),
                         _date_labels(levels, opts), {"opts": opts})
        if spec.type == "number":
            if opts.get("to") == "*":
                levels = ["*"]
            elif "edges" in opts:
                levels = ["edges", "*"]
            else:
                levels = []  # widths from opts["width"] up, once the range is known
            return Chain(item, "number", levels, _number_base(item.column), _number_labels(levels, opts),
                         {"opts": opts})
        if spec.type == "place":
            country, given = opts["country"], opts["level"]
            all_levels = gen.PLACE_LEVELS[country]
            levels = [*all_levels[all_levels.index(given):], "*"]
            levels = levels[levels.index(opts["to"]):]
            return Chain(item, "place", levels, _as_is_base, _place_labels(levels, country, given),
                         {"country": country, "given": given})
        return Chain(item, "category", ["*"], _as_is_base, _two_level)
    if spec is not None:  # a tokenized, masked or kept policy column named as a quasi-identifier: as it is
        return Chain(item, "fixed", ["as is"], _as_is_base, _two_level)
    if _is_date(col):
        return Chain(item, "date", [*gen.DATE_LEVELS, "*"], _date_base(item.column, None),
                     _date_labels([*gen.DATE_LEVELS, "*"], {}),
                     {"plain": not pa.types.is_timestamp(col.type) and _no_time(col)})
    if _is_number(col):
        levels = []  # "as is", then readable widths, once the range is known
        return Chain(item, "number", levels, _number_base(item.column), _number_labels(levels, {}), {"auto": True})
    found = _place_level(col)
    if found is not None:
        country, given = found
        all_levels = gen.PLACE_LEVELS[country]
        levels = [*all_levels[all_levels.index(given):], "*"]
        return Chain(item, "place", levels, _as_is_base, _place_labels(levels, country, given),
                     {"country": country, "given": given, "plain": True})
    return Chain(item, "category", ["as is", "*"], _as_is_base, _two_level)


def _no_time(col: pa.Array) -> bool:
    if not pa.types.is_string(col.type):
        return True
    return gen.parse_dates(col, "").suffix is None


# ------------------------------------------------------------------------------------------------- lattice
@dataclass
class Node:
    levels: tuple[int, ...]
    suppressed: int
    loss: float
    discernibility: float


@dataclass
class Suggestion:
    """The chosen node, the figures of the delivery it gives, and how the search went."""

    chains: list[Chain]
    node: Node
    minimal: list[Node]
    evaluated: int
    lattice_size: int
    report: RiskReport
    policy: Policy

    def levels(self) -> dict[str, str]:
        return {c.item.name: c.levels[lv] for c, lv in zip(self.chains, self.node.levels, strict=True)}


class Lattice:
    """The bottom class table and each quasi-identifier's codes per level, for evaluating nodes."""

    def __init__(self, chains: list[Chain], bottom: pa.Table, rows: int) -> None:
        self.chains, self.rows = chains, rows
        names = [f"q{i}" for i in range(len(chains))]
        counts = bottom.column("n").to_numpy(zero_copy_only=False).astype(np.int64)
        self.codes: list[list[np.ndarray]] = []  # per chain, per level: code per distinct base value
        self.up: list[list[np.ndarray | None]] = []  # per chain, per level: level-l code -> level-l+1 code
        base_idx = []
        missing = np.ones(len(counts), dtype=bool)
        for chain, name in zip(chains, names, strict=True):
            col = bottom.column(name).combine_chunks()
            enc = pc.dictionary_encode(col)
            idx = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
            missing &= idx < 0
            distinct = enc.dictionary
            chain.fit(distinct)
            per_level = []
            for lv in range(len(chain.levels)):
                labels = chain.labels(distinct, lv)
                _, code = np.unique(np.array([("" if v is None else f"{type(v).__name__}:{v}") for v in labels],
                                             dtype=object), return_inverse=True)
                per_level.append(np.append(code.ravel().astype(np.int64), -1))  # index -1: missing stays missing
            self.codes.append(per_level)
            ups: list[np.ndarray | None] = []
            for lv in range(len(chain.levels) - 1):
                lo, hi = per_level[lv][:-1], per_level[lv + 1][:-1]
                m = np.full(int(lo.max()) + 1 if len(lo) else 0, -1, dtype=np.int64)
                m[lo] = hi
                ups.append(np.append(m, -1) if np.array_equal(m[lo], hi) else None)
            self.up.append(ups)
            base_idx.append(idx)
        keep = ~missing
        self.no_quasi = int(counts[~keep].sum())
        self.base = [b[keep] for b in base_idx]
        self.counts = counts[keep]
        self.tops = [len(c.levels) - 1 for c in chains]
        self.evaluated = 0
        self._tables: dict[tuple[int, ...], tuple[list[np.ndarray], np.ndarray]] = {}
        self._kept = 0

    def _group(self, cols: list[np.ndarray], counts: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Classes of rows with codes ``cols`` weighted by ``counts``: (codes per class, size per class)."""
        if not len(counts):
            return [c[:0] for c in cols], counts
        radix = [int(c.max()) + 2 for c in cols]
        if float(np.prod(np.array(radix, dtype=np.float64))) < 2**62:
            key = np.zeros(len(counts), dtype=np.int64)
            for c, r in zip(cols, radix, strict=True):
                key = key * r + (c + 1)
            uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
        else:
            stacked = np.stack(cols, axis=1)
            uniq, first, inv = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
        sizes = np.bincount(inv.ravel(), weights=counts, minlength=len(uniq)).astype(np.int64)
        return [c[first] for c in cols], sizes

    def classes(self, node: tuple[int, ...]) -> tuple[list[np.ndarray], np.ndarray]:
        """(codes per class, class sizes) of a node, rolled up from a kept node below it where possible."""
        self.evaluated += 1
        for j, lv in enumerate(node):
            below = (*node[:j], lv - 1, *node[j + 1:])
            up = self.up[j][lv - 1] if lv > 0 else None
            if up is not None and below in self._tables:
                cols, sizes = self._tables[below]
                cols = list(cols)
                cols[j] = up[cols[j]]
                return self._group(cols, sizes)
        cols = [self.codes[i][lv][self.base[i]] for i, lv in enumerate(node)]
        return self._group(cols, self.counts)

    def keep(self, node: tuple[int, ...], table: tuple[list[np.ndarray], np.ndarray]) -> None:
        if self._kept + len(table[1]) <= ROLLUP_BUDGET:
            self._tables[node] = table
            self._kept += len(table[1])

    def forget_below(self, height: int) -> None:
        for node in [n for n in self._tables if sum(n) < height]:
            self._kept -= len(self._tables.pop(node)[1])

    def loss(self, node: tuple[int, ...]) -> float:
        parts = [lv / top for lv, top in zip(node, self.tops, strict=True) if top > 0]
        return float(np.mean(parts)) if parts else 0.0


def search(lattice: Lattice, k: int, budget: int) -> tuple[Node | None, list[Node]]:
    """Bottom-up search with predictive tagging; returns (the least node, every minimal node)."""
    tops = lattice.tops
    by_height: dict[int, list[tuple[int, ...]]] = {}
    for node in itertools.product(*(range(t + 1) for t in tops)):
        by_height.setdefault(sum(node), []).append(node)
    reaches: dict[tuple[int, ...], bool] = {}
    minimal: list[Node] = []
    for height in sorted(by_height):
        lattice.forget_below(height - 1)
        for node in by_height[height]:
            below = [(*node[:j], lv - 1, *node[j + 1:]) for j, lv in enumerate(node) if lv > 0]
            if any(reaches[b] for b in below):
                reaches[node] = True  # above a node that reaches K: reaches it too, and is not minimal
                continue
            table = lattice.classes(node)
            sizes = table[1]
            small = sizes < k
            suppressed = int(sizes[small].sum())
            ok = suppressed <= budget
            reaches[node] = ok
            if ok:
                dm = float((sizes[~small].astype(np.float64) ** 2).sum()) + suppressed * float(lattice.rows)
                minimal.append(Node(node, suppressed, lattice.loss(node), dm))
            else:
                lattice.keep(node, table)
    if not minimal:
        return None, []
    best = min(minimal, key=lambda n: (round(n.loss, 12), n.suppressed, n.discernibility, n.levels))
    return best, minimal


# ------------------------------------------------------------------------------------------------ the policy
def _entry(chain: Chain, level: int) -> dict[str, Any] | None:
    """The policy column entry of a plain or generalize column at ``level`` (None: delivered as it is)."""
    name = chain.levels[level]
    spec = chain.item.spec
    if chain.kind == "date":
        opts = dict(chain.detail.get("opts", {}))
        if spec is None and level == 0 and chain.detail.get("plain"):
            return None
        if name.startswith("age_band"):
            return {"type": "date", "method": "generalize", **opts, "to": "age_band", "width": int(name[9:])}
        entry: dict[str, Any] = {"type": "date", "method": "generalize", "to": name}
        if "format" in opts:
            entry["format"] = opts["format"]
        return entry
    if chain.kind == "number":
        opts = dict(chain.detail.get("opts", {}))
        if name == "as is":
            return None
        if name == "*":
            return {"type": "number", "method": "generalize", "to": "*"}
        if name == "edges":
            return {"type": "number", "method": "generalize", "edges": opts["edges"]}
        width = float(name.split(":")[1])
        entry = {"type": "number", "method": "generalize", "width": int(width) if width.is_integer() else width}
        entry.update({k: opts[k] for k in ("bottom", "top") if k in opts})
        return entry
    if chain.kind == "place":
        given = chain.detail["given"]
        if name == given:  # a plain column of place names: delivered as it is
            return None
        return {"type": "place", "method": "generalize", "country": chain.detail["country"], "level": given,
                "to": name}
    if chain.kind == "category":
        return None if name == "as is" else {"type": "category", "method": "generalize", "to": "*"}
    return None


def policy_for(chains: list[Chain], levels: tuple[int, ...], base: Policy | None, k: int,
               max_suppress: float) -> Policy:
    """The suggested policy: ``base`` (if any) with its quasi-identifier settings replaced by the node's levels."""
    doc: dict[str, Any] = base.to_dict() if base is not None else {"version": 1, "algorithm": "ff1"}
    columns = dict(doc.get("columns", {}))
    quasi = list(doc.get("quasi", []))
    keeps: dict[str, list[str]] = {}
    for chain, lv in zip(chains, levels, strict=True):
        item = chain.item
        if item.part is not None:
            keep = keeps.setdefault(item.column, [])
            name = chain.levels[lv]
            if chain.kind == "id_date" and name != "*":
                keep.append(_DATE_KEEP_OF[name])
            elif chain.kind == "id_part" and name != "*":
                keep.append(item.part)
            continue
        if chain.kind == "fixed":
            continue
        entry = _entry(chain, lv)
        if entry is None:
            if item.column not in columns and item.column not in quasi:
                quasi.append(item.column)
        else:
            columns[item.column] = entry
            if item.column in quasi:
                quasi.remove(item.column)
    for column, keep in keeps.items():
        entry = dict(columns[column])
        entry.pop("keep", None)
        if keep:
            entry["keep"] = keep
        columns[column] = entry
    doc["columns"] = columns
    if quasi:
        doc["quasi"] = quasi
    else:
        doc.pop("quasi", None)
    if max_suppress > 0:
        doc["suppress"] = Suppress(k, max_suppress).to_dict()
    else:
        doc.pop("suppress", None)
    return Policy.from_dict(doc)


# ------------------------------------------------------------------------------------------------- the search
def suggest(batches: Iterable[pa.RecordBatch | pa.Table], items: Sequence[QuasiItem], k: int,
            max_suppress: float = 0.0, policy: Policy | None = None) -> Suggestion:
    """The least node of the lattice reaching ``k`` with at most ``max_suppress`` of the rows suppressed (the
    batches are read once, into the bottom class table)."""
    if k < 2:
        raise RiskError("K must be at least 2")
    if not items:
        raise RiskError("no quasi-identifiers: name some with --quasi, or in the policy")
    chains: list[Chain] | None = None
    counter = ClassCounter(len(items))
    for batch in batches:
        t = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if chains is None:
            check_columns(t.column_names, items)
            chains = [chain_for(item, t) for item in items]
        cols = [t.column(c.item.column) for c in chains]
        counter.add([c.base(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col, counter.rows)
                     for c, col in zip(chains, cols, strict=True)])
    if chains is None:
        raise RiskError("the file has no rows: nothing to generalise")
    lattice = Lattice(chains, counter.table(), counter.rows)
    budget = int(np.floor(max_suppress * counter.rows + 1e-9))
    best, minimal = search(lattice, k, budget)
    size = int(np.prod([t + 1 for t in lattice.tops]))
    if best is None:
        raise NoSuggestion(f"no generalisation of these quasi-identifiers reaches k = {k} with at most "
                        f"{max_suppress:.2%} of the rows suppressed, not even suppressing every one of them "
                        f"({counter.rows:,} rows); allow more suppression or drop a quasi-identifier")
    pol = policy_for(chains, best.levels, policy, k, max_suppress)
    evaluated = lattice.evaluated
    _, sizes = lattice.classes(best.levels)
    small = sizes < k
    uniq, counts = np.unique(sizes[~small], return_counts=True)
    rep = RiskReport(counter.rows, [c.item.name for c in chains],
                     {int(s): int(c) for s, c in zip(uniq, counts, strict=True)},
                     lattice.no_quasi + int(sizes[small].sum()), int(sizes[small].sum()), k_target=k,
                     suppress_limit=max_suppress)
    return Suggestion(chains, best, minimal, evaluated, size, rep, pol)
