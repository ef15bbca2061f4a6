"""Quasi-identifiers in policies: the column types ``date``, ``number``, ``place`` and ``category``, the methods
``generalize`` and ``date_shift``, and the policy-level ``quasi`` and ``suppress`` settings.

.. code-block:: yaml

    columns:
      birth_date:   {type: date, method: generalize, to: 5y}               # day|month|year|5y|10y|age_band|*
      age:          {type: date, method: generalize, to: age_band, width: 10, reference: 2025-12-31, top: 70}
      monthly_income_egp: {type: number, method: generalize, width: 5000, top: 50000}   # or edges: [...]
      city_en:      {type: place, method: generalize, country: eg, level: city, to: governorate}
      gender:       {type: category, method: generalize, to: "*"}
      disbursed_at: {type: date, method: date_shift, entity: national_id, max_days: 30}  # reversible: true
      national_id:  {type: eg_national_id, keep: [birth_5y, governorate, gender]}
    quasi: [occupation]          # more quasi-identifiers, delivered as they are
    suppress: {k: 5, max_share: 0.01}

These types are not PII types: nothing in them is encrypted except a date shift's offset (see
:mod:`tokenize_kit.transforms`).  This module only validates; it imports nothing heavy, because
:mod:`tokenize_kit.policy` imports it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .generalize import PLACE_LEVELS
from .pii.base import ColumnSpec

TYPES = ("date", "number", "place", "category")
METHODS = ("generalize", "date_shift")
#: the methods each type takes
TYPE_METHODS = {"date": ("generalize", "date_shift"), "number": ("generalize",), "place": ("generalize",),
                "category": ("generalize",)}
DATE_TARGETS = ("day", "month", "year", "5y", "10y", "age_band", "*")
ON_INVALID = ("error", "null", "redact")
#: at most this many days of date shift (ten years: beyond that a shift destroys more than it hides)
MAX_SHIFT_DAYS = 3650


def _choice(valid: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        if str(v) not in valid:
            raise ValueError(f"must be one of: {', '.join(valid)}")
        return str(v)
    return check


def _number(v: Any) -> float | int:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError("must be a number")
    return v


def _positive(v: Any) -> float | int:
    if _number(v) <= 0:
        raise ValueError("must be a positive number")
    return v


def _int_range(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"must be an integer from {lo} to {hi}")
        return v
    return check


def _date(v: Any) -> str:
    if isinstance(v, dt.date):
        return v.isoformat()
    try:
        return dt.date.fromisoformat(str(v)).isoformat()
    except ValueError:
        raise ValueError("must be a date written YYYY-MM-DD") from None


def _format(v: Any) -> str:
    from .generalize import check_date_format

    check_date_format(str(v))
    return str(v)


def _edges(v: Any) -> list[float | int]:
    if not isinstance(v, list) or len(v) < 1 or any(isinstance(e, bool) for e in v):
        raise ValueError("must be a list of ascending numbers")
    edges = [_number(e) for e in v]
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError("must be a list of ascending numbers")
    return edges


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ValueError("must be a column name")
    return v


#: (type, method) -> option -> (required, check); cross-option rules are in :func:`_check_together`
OPTIONS: dict[tuple[str, str], dict[str, tuple[bool, Callable[[Any], Any]]]] = {
    ("date", "generalize"): {"to": (True, _choice(DATE_TARGETS)), "width": (False, _int_range(1, 200)),
                             "reference": (False, _date), "bottom": (False, _int_range(0, 200)),
                             "top": (False, _int_range(1, 200)), "format": (False, _format)},
    ("date", "date_shift"): {"entity": (True, _text), "max_days": (True, _int_range(1, MAX_SHIFT_DAYS)),
                             "reversible": (False, _bool), "format": (False, _format)},
    ("number", "generalize"): {"to": (False, _choice(("*",))), "width": (False, _positive),
                               "edges": (False, _edges), "bottom": (False, _number), "top": (False, _number)},
    ("place", "generalize"): {"country": (True, _choice(tuple(PLACE_LEVELS))), "level": (True, str),
                              "to": (True, str)},
    ("category", "generalize"): {"to": (True, _choice(("*",)))},
}


def _check_together(type_: str, method: str, opts: dict[str, Any]) -> None:
    if (type_, method) == ("date", "generalize"):
        band = opts["to"] == "age_band"
        if band and "reference" not in opts:
            raise ValueError("to: age_band needs reference: YYYY-MM-DD (the date ages are counted at)")
        extra = [k for k in ("width", "reference", "bottom", "top") if k in opts]
        if not band and extra:
            raise ValueError(f"{', '.join(extra)} only apply with to: age_band")
        if band and "bottom" in opts and "top" in opts and opts["top"] <= opts["bottom"]:
            raise ValueError("top must be above bottom")
    elif (type_, method) == ("number", "generalize"):
        given = [k for k in ("width", "edges", "to") if k in opts]
        if len(given) != 1:
            raise ValueError("give exactly one of width: W (buckets [0, W), [W, 2W) ...), edges: [e1, e2, ...] "
                             'or to: "*"')
        if "to" in opts and ("top" in opts or "bottom" in opts):
            raise ValueError('top and bottom do not apply with to: "*"')
        if "edges" in opts and ("top" in opts or "bottom" in opts):
            raise ValueError("edges already code the bottom and the top: leave out top and bottom")
        if "top" in opts and "bottom" in opts and opts["top"] <= opts["bottom"]:
            raise ValueError("top must be above bottom")
    elif (type_, method) == ("place", "generalize"):
        levels = PLACE_LEVELS[opts["country"]]
        if opts["level"] not in levels:
            raise ValueError(f"level for country {opts['country']} must be one of: {', '.join(levels)}")
        above = (*levels[levels.index(opts["level"]) + 1 :], "*")
        if opts["to"] not in above:
            raise ValueError(f"to must be a level above {opts['level']}: {', '.join(above)}")


def column_spec(name: str, entry: Mapping[str, Any]) -> ColumnSpec:
    """The ColumnSpec of a quasi-identifier column; ValueError (without the column name) when it is malformed."""
    type_ = str(entry["type"])
    method = str(entry.get("method", ""))
    if method not in TYPE_METHODS[type_]:
        raise ValueError(f"type {type_} takes method: {' or '.join(TYPE_METHODS[type_])}")
    table = OPTIONS[(type_, method)]
    common = {"type", "method", "on_invalid"}
    unknown = sorted(set(entry) - common - set(table))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for type {type_}, method {method}; "
                         f"valid: {sorted(common | set(table))}")
    opts: dict[str, Any] = {}
    for key, (required, check) in table.items():
        if key not in entry:
            if required:
                raise ValueError(f"method {method} on type {type_} needs {key}")
            continue
        try:
            opts[key] = check(entry[key])
        except ValueError as exc:
            raise ValueError(f"{key} {exc}") from None
    _check_together(type_, method, opts)
    on_invalid = str(entry.get("on_invalid", "generic"))
    if on_invalid not in (*ON_INVALID, "generic"):
        raise ValueError(f"on_invalid for type {type_} must be one of: {', '.join(ON_INVALID)} (default error)")
    return ColumnSpec(name, type_, method, (), on_invalid, None, opts)


@dataclass(frozen=True)
class Suppress:
    """Record suppression: rows in equivalence classes (of the policy's quasi-identifiers) smaller than ``k`` have
    every quasi-identifier emptied; more than ``max_share`` of the rows to suppress refuses the delivery."""

    k: int
    max_share: float

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "max_share": self.max_share}


def parse_suppress(doc: Any) -> Suppress:
    """The ``suppress:`` setting, checked.

    >>> parse_suppress({"k": 5, "max_share": 0.01})
    Suppress(k=5, max_share=0.01)
    >>> parse_suppress({"k": 1, "max_share": 0.01})
    Traceback (most recent call last):
        ...
    ValueError: suppress: k must be an integer >= 2
    """
    if not isinstance(doc, Mapping) or set(doc) != {"k", "max_share"}:
        raise ValueError("suppress must be a mapping {k: K, max_share: S} (K >= 2; S the largest share of rows "
                         "that may be suppressed, from 0 to 1)")
    k, share = doc["k"], doc["max_share"]
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError("suppress: k must be an integer >= 2")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
        raise ValueError("suppress: max_share must be a number from 0 to below 1 (e.g. 0.01 for 1%)")
    return Suppress(k, float(share))


def parse_quasi(doc: Any) -> tuple[str, ...]:
    if isinstance(doc, str):
        doc = [doc]
    if not isinstance(doc, list) or not all(isinstance(c, str) and c for c in doc):
        raise ValueError("quasi must be a list of column names")
    if len(set(doc)) != len(doc):
        raise ValueError("quasi lists a column twice")
    return tuple(doc)
