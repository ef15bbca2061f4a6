"""Generalisation: the deterministic, keyless coarsening of quasi-identifiers (dates, numbers, places, categories).

A quasi-identifier is a value that does not name a person alone but singles them out in combination (a birth date,
a city, an exact income).  Generalising it replaces each value by the class it falls in, one level up a hierarchy:

* dates: ``day`` -> ``month`` (``1987-03``) -> ``year`` (``1987``) -> ``5y`` (``1985-1989``) -> ``10y``
  (``1980-1989``) -> ``*``; or an age band relative to a reference date (``30-34``, completed years);
* numbers: half-open buckets of a fixed ``width`` aligned at 0 (``[5000, 10000)``) or given ``edges``, with optional
  bottom and top coding (``<3000``, ``>=50000``);
* places: district -> city -> region (Saudi Arabia) and village -> city or markaz -> governorate (Egypt), from
  the reference tables in :mod:`tokenize_kit.refdata` (a name listed under several places generalises to all of
  them, ``Armant`` to ``Luxor / Qena``: a label never claims more than the name itself says);
* categories: a value -> ``*``.

Every function here works on whole columns (numpy/Arrow); the per-value Python work is on distinct values only.
Errors name the column and the row, never the value.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SUPPRESSED = "*"
#: the date hierarchy, finest first (``*`` above the last)
DATE_LEVELS = ("day", "month", "year", "5y", "10y")
ISO_DATE = "%Y-%m-%d"
_TIME_SUFFIX = r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
#: class ids standing for bottom- and top-coded values
BOTTOM_ID = np.iinfo(np.int64).min + 1
TOP_ID = np.iinfo(np.int64).max


class BadValue(ValueError):
    """A cell cannot be read as the column's type; the message names the column and row, never the value."""


# ------------------------------------------------------------------------------------------------ missing cells
@functools.cache
def _missing_set() -> pa.Array:
    from .table import EMPTY_MARKERS  # (the table layer's list of cells that mean "no value")

    return pa.array(EMPTY_MARKERS, pa.string())


def missing_mask(col: pa.Array) -> np.ndarray:
    """Rows that hold no value: null, or (text) an empty marker after trimming."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        trimmed = pc.utf8_trim_whitespace(pc.fill_null(col, ""))
        return pc.is_in(trimmed, value_set=_missing_set()).to_numpy(zero_copy_only=False)
    if col.null_count:
        return pc.is_null(col).to_numpy(zero_copy_only=False)
    return np.zeros(len(col), dtype=bool)


def first_row(bad: np.ndarray, row_offset: int = 0) -> int:
    """1-based row number of the first flagged row."""
    return row_offset + int(np.flatnonzero(bad)[0]) + 1


# ------------------------------------------------------------------------------------------------------- dates
@functools.cache
def _format_regex(fmt: str) -> str:
    """A strict regex with named groups y, m, d for a strftime-style format made of %Y, %m, %d and literals."""
    out, i = [], 0
    fields = {"Y": r"(?P<y>[0-9]{4})", "m": r"(?P<m>[0-9]{1,2})", "d": r"(?P<d>[0-9]{1,2})"}
    seen = set()
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            f = fmt[i + 1]
            if f not in fields or f in seen:
                raise ValueError(f"date format {fmt!r}: only %Y, %m and %d (once each) are supported")
            seen.add(f)
            out.append(fields[f])
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    if seen != set(fields):
        raise ValueError(f"date format {fmt!r} needs %Y, %m and %d")
    return "".join(out)


def check_date_format(fmt: str) -> None:
    """Raise ValueError unless ``fmt`` is a format :func:`parse_dates` reads."""
    _format_regex(fmt)


def days_from_ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(days since 1970-01-01, ok): impossible dates (30 February, month 13) are flagged, never rolled over."""
    ok = (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31) & (y >= 1) & (y <= 9999)
    mm = np.where(ok, m, 1)
    dd = np.where(ok, d, 1)
    yy = np.where(ok, y, 1970)
    months = ((yy - 1970) * 12 + (mm - 1)).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (dd - 1).astype("timedelta64[D]")
    ok &= dates.astype("datetime64[M]") == months
    return dates.astype(np.int64), ok


@dataclass
class ParsedDates:
    """A date column read as day numbers (days since 1970-01-01).  ``missing`` rows hold no value and
    ``invalid`` rows are not a real date in the format (``days`` is 0 at both); ``suffix`` is the text after an
    ISO date (a time of day) for text read as ISO, else None."""

    days: np.ndarray
    missing: np.ndarray
    invalid: np.ndarray
    suffix: pa.Array | None = None

    def check(self, column: str, fmt: str | None, row_offset: int = 0) -> None:
        """Raise :class:`BadValue` (column, first row, count; never the value) if any cell is invalid."""
        if self.invalid.any():
            raise BadValue(f"column {column!r}, row {first_row(self.invalid, row_offset)}: not a real date in the "
                           f"format {fmt or ISO_DATE} ({int(self.invalid.sum())} such row(s)); fix the cells, "
                           "or set the column's format (e.g. format: \"%d/%m/%Y\")")


def parse_dates(col: pa.Array, column: str, fmt: str | None = None) -> ParsedDates:
    """Read a date column: Arrow dates and timestamps as they are, text by ``fmt`` (default ISO ``YYYY-MM-DD``,
    optionally followed by a time of day).  Arabic-Indic digits are read too; impossible dates (30 February)
    are invalid, never rolled over."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type
    missing = missing_mask(col)
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        if pa.types.is_timestamp(t) and t.tz is not None:
            col = pc.local_timestamp(col)  # the calendar date the cell shows
        days = pc.fill_null(col.cast(pa.date32()).cast(pa.int32()), 0).to_numpy(zero_copy_only=False)
        return ParsedDates(days.astype(np.int64), missing, np.zeros(len(col), dtype=bool))
    if pa.types.is_large_string(t):
        col = col.cast(pa.string())
    elif not pa.types.is_string(t):
        raise BadValue(f"column {column!r} has type {t}; expected dates or text holding dates")
    from .pii.text import ascii_digits

    text = ascii_digits(pc.utf8_trim_whitespace(pc.fill_null(col, "")))
    pattern = _format_regex(fmt or ISO_DATE)
    iso = fmt is None or fmt == ISO_DATE
    full = f"^{pattern}(?P<rest>{_TIME_SUFFIX})$" if iso else f"^{pattern}$"
    matched = pc.fill_null(pc.match_substring_regex(text, full), False).to_numpy(zero_copy_only=False)
    bad = ~missing & ~matched
    days = np.zeros(len(col), dtype=np.int64)
    suffix = None
    work = ~missing & ~bad
    idx = np.flatnonzero(work)
    if len(idx):
        sub = text if len(idx) == len(text) else text.take(pa.array(idx))
        parts = pc.extract_regex(sub, full)

        def num(name: str) -> np.ndarray:
            return pc.cast(pc.struct_field(parts, name), pa.int64()).to_numpy(zero_copy_only=False)

        d, ok = days_from_ymd(num("y"), num("m"), num("d"))
        bad[idx[~ok]] = True
        days[idx] = np.where(ok, d, 0)
        if iso:
            rest = pc.struct_field(parts, "rest")
            if pc.any(pc.not_equal(rest, "")).as_py():
                full_rest = pa.array([""] * len(col), pa.string())
                suffix = pc.replace_with_mask(full_rest, pa.array(work), rest) if len(idx) < len(col) else rest
    return ParsedDates(days, missing, bad, suffix)


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dates = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    months = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return years, months, dom


def date_class(days: np.ndarray, level: str) -> np.ndarray:
    """Class id per day number at ``level`` (one of :data:`DATE_LEVELS`): the day, the month number since
    1970-01, the year, or the first year of the 5- or 10-year band."""
    days = np.asarray(days, dtype=np.int64)
    if level == "day":
        return days
    if level == "month":
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    if level == "year":
        return years
    if level in ("5y", "10y"):
        width = 5 if level == "5y" else 10
        return years - np.mod(years, width)
    raise ValueError(f"unknown date level {level!r}; valid: {', '.join(DATE_LEVELS)}")


def date_class_label(cid: int, level: str) -> str:
    """The label of one class id (see :func:`date_class`)."""
    if level == "day":
        return str(np.datetime64(int(cid), "D"))
    if level == "month":
        return str(np.datetime64(int(cid), "M"))
    if level == "year":
        return f"{int(cid):04d}"
    width = 5 if level == "5y" else 10
    return f"{int(cid):04d}-{int(cid) + width - 1:04d}"


def age_years(days: np.ndarray, reference: np.datetime64) -> np.ndarray:
    """Completed years between each date and ``reference`` (negative for dates after it)."""
    y, m, d = _ymd(days)
    ry, rm, rd = (int(v[0]) for v in _ymd(np.array([int(reference.astype("datetime64[D]").astype(np.int64))])))
    before = (rm < m) | ((rm == m) & (rd < d))
    return ry - y - before.astype(np.int64)


def _decimals(width: float) -> int:
    """Decimal places of a bucket width as written (0.25 -> 2)."""
    text = repr(float(width))
    if "e" in text or "E" in text:
        return max(0, -int(text.lower().split("e")[1])) + 6
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def band_class(values: np.ndarray, width: float, bottom: float | None = None, top: float | None = None
               ) -> np.ndarray:
    """Class id per value: ``floor(value / width)`` in decimal arithmetic (0.3 with width 0.1 is in
    ``[0.3, 0.4)``, as written, not where binary floating point would put it), :data:`BOTTOM_ID` below
    ``bottom`` and :data:`TOP_ID` at or above ``top``."""
    x = np.asarray(values, dtype=np.float64)
    scale = 10.0 ** min(_decimals(width), 12)
    units = round(width * scale)  # the width in units of its last decimal place
    ids = np.floor(np.round(x * scale, 6) / units)
    out = ids.astype(np.int64)
    if bottom is not None:
        out[x < bottom] = BOTTOM_ID
    if top is not None:
        out[x >= top] = TOP_ID
    return out


def edges_class(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Class id per value for ascending ``edges``: 0 below the first edge, i for ``[edges[i-1], edges[i])``,
    ``len(edges)`` at or above the last."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), np.asarray(values, dtype=np.float64), side="right")


def fmt_number(v: float) -> str:
    """A bucket bound as text: integers without a decimal point, others in their shortest exact form."""
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 1e18 else repr(f)


def _bound(cid: int, width: float) -> float:
    """``cid * width`` as the decimal number it is written as (3 * 0.1 = 0.3, not 0.30000000000000004)."""
    from decimal import Decimal

    return float(Decimal(int(cid)) * Decimal(repr(float(width))))


def band_label(cid: int, width: float, bottom: float | None, top: float | None) -> str:
    if cid == BOTTOM_ID:
        return f"<{fmt_number(bottom)}"  # type: ignore[arg-type]
    if cid == TOP_ID:
        return f">={fmt_number(top)}"  # type: ignore[arg-type]
    lo, hi = _bound(cid, width), _bound(cid + 1, width)
    if bottom is not None:
        lo = max(lo, bottom)
    if top is not None:
        hi = min(hi, top)
    return f"[{fmt_number(lo)}, {fmt_number(hi)})"


def age_band_label(cid: int, width: int, bottom: int | None, top: int | None) -> str:
    if cid == BOTTOM_ID:
        return f"<{bottom}"
    if cid == TOP_ID:
        return f">={top}"
    lo, hi = cid * width, (cid + 1) * width - 1
    if bottom is not None:
        lo = max(lo, bottom)
    if top is not None:
        hi = min(hi, top - 1)
    return f"{lo}-{hi}" if hi > lo else str(lo)


def edges_label(cid: int, edges: Sequence[float]) -> str:
    if cid == 0:
        return f"<{fmt_number(edges[0])}"
    if cid >= len(edges):
        return f">={fmt_number(edges[-1])}"
    return f"[{fmt_number(edges[cid - 1])}, {fmt_number(edges[cid])})"


def labelled(ids: np.ndarray, label: Callable[[int], str]) -> pa.Array:
    """Labels per row for class ids: each distinct id is formatted once."""
    if not len(ids):
        return pa.array([], pa.string())
    uniq, inv = np.unique(ids, return_inverse=True)
    return pa.array([label(int(u)) for u in uniq], pa.string()).take(pa.array(inv.ravel()))


# ----------------------------------------------------------------------------------------------------- numbers
_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def parse_numbers(col: pa.Array, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float64 values, missing, invalid) of a numeric column: Arrow numbers, or text holding plain decimal
    numbers (ASCII or Arabic-Indic digits); ``invalid`` marks any other text (its value is 0)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type
    missing = missing_mask(col)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        vals = pc.fill_null(col.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False)
        missing = missing | np.isnan(vals)
        return np.where(missing, 0.0, vals), missing, np.zeros(len(col), dtype=bool)
    if pa.types.is_large_string(t):
        col = col.cast(pa.string())
    elif not pa.types.is_string(t):
        raise BadValue(f"column {column!r} has type {t}; expected numbers or text holding numbers")
    from .pii.text import ascii_digits

    text = ascii_digits(pc.utf8_trim_whitespace(pc.fill_null(col, "")))
    ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False).to_numpy(zero_copy_only=False)
    bad = ~missing & ~ok
    vals = np.zeros(len(col), dtype=np.float64)
    idx = np.flatnonzero(~missing & ~bad)
    if len(idx):
        sub = text if len(idx) == len(text) else text.take(pa.array(idx))
        vals[idx] = pc.cast(sub, pa.float64()).to_numpy(zero_copy_only=False)
    return vals, missing, bad


# ------------------------------------------------------------------------------------------------------ places
_AR_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None, "-": " ", "'": "",
                          "’": "", ".": ""})


def place_key(name: str) -> str:
    """The form place names are matched in: trimmed, case-folded, Arabic letter variants folded (أ/إ/آ -> ا,
    ى -> ي, ة -> ه), diacritics and tatweel dropped, hyphens as spaces, runs of spaces collapsed."""
    s = unicodedata.normalize("NFKC", name).casefold().translate(_AR_FOLD)
    s = "".join(c for c in s if not ("\u064b" <= c <= "\u0652" or c == "\u0670"))
    return " ".join(s.split())


def is_arabic(name: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" for c in name)


@dataclass(frozen=True)
class PlaceHierarchy:
    """A country's place levels (finest first) from the reference tables.

    ``names[level][i]`` is the (English, Arabic) name of node i; ``parent[level][i]`` its node at the next level;
    ``lookup[level]`` maps a :func:`place_key` to the nodes of that level bearing the name (several when the
    name is shared, e.g. a district name found in two cities).

    A name shared by several places generalises to all of them: its label at a level lists the candidates
    there (``Al Aziziyah (Makkah) / Al Aziziyah (Madinah)`` at district level, ``Madinah / Makkah`` at city
    level, ``Madinah / Makkah`` again at region level) until they meet in one place.  Labels name each place
    unambiguously (a name two places share carries its parent's), so a label determines the labels above it
    and the levels nest: generalising never splits a class."""

    country: str
    levels: tuple[str, ...]
    names: dict[str, list[tuple[str, str]]]
    parent: dict[str, list[int]]
    lookup: dict[str, dict[str, tuple[int, ...]]]

    @functools.cached_property
    def display(self) -> dict[str, list[tuple[str, str]]]:
        """Per level, an unambiguous (English, Arabic) label per node: its name, followed by its parent's label in
        parentheses when another node of the level has the same name."""
        out: dict[str, list[tuple[str, str]]] = {}
        for i in range(len(self.levels) - 1, -1, -1):
            level = self.levels[i]
            names = self.names[level]
            labels = []
            for script in (0, 1):
                counts: dict[str, int] = {}
                for n in names:
                    counts[n[script]] = counts.get(n[script], 0) + 1
                up = out.get(self.levels[i + 1]) if i + 1 < len(self.levels) else None
                labels.append([
                    f"{n[script]} ({up[self.parent[level][j]][script]})" if counts[n[script]] > 1 and up else n[script]
                    for j, n in enumerate(names)])
            out[level] = list(zip(labels[0], labels[1], strict=True))
        return out

    def ancestors(self, nodes: tuple[int, ...], level: str, to: str) -> tuple[int, ...]:
        """The distinct nodes at level ``to`` above ``nodes`` of ``level``."""
        i, j = self.levels.index(level), self.levels.index(to)
        cur = set(nodes)
        for k in range(i, j):
            cur = {self.parent[self.levels[k]][n] for n in cur}
        return tuple(sorted(cur))

    def label(self, value: str, level: str, to: str) -> str | None:
        """``value`` (a name at ``level``) generalised to level ``to`` (or ``*``), in the value's script;
        None when the name is not in the reference data."""
        nodes = self.lookup[level].get(place_key(value))
        if nodes is None:
            return None
        if to == SUPPRESSED:
            return SUPPRESSED
        script = 1 if is_arabic(value) else 0
        return " / ".join(sorted({self.display[to][n][script] for n in self.ancestors(nodes, level, to)}))


def _index(aliases: list[set[str]]) -> dict[str, tuple[int, ...]]:
    """:func:`place_key` -> the nodes bearing a name with that key."""
    out: dict[str, list[int]] = {}
    for i, names in enumerate(aliases):
        for n in {place_key(a) for a in names}:
            if i not in out.setdefault(n, []):
                out[n].append(i)
    return {k: tuple(v) for k, v in out.items()}


def _rows(table: str) -> list[dict[str, object]]:
    from . import refdata

    return refdata.table(table).to_pylist()


def _nodes(rows: list[tuple[str, str, int]]) -> tuple[list[tuple[str, str]], list[int], list[set[str]]]:
    """Distinct places: (English, Arabic) name, parent node and every spelling met, one node per Arabic name and
    parent (two tables listing the same place, with another transliteration or Arabic letter variant, give one
    node that answers to all its spellings)."""
    names: list[tuple[str, str]] = []
    parents: list[int] = []
    aliases: list[set[str]] = []
    seen: dict[tuple[int, str], int] = {}
    for en, ar, parent in rows:
        key = (parent, place_key(ar or en))
        if key not in seen:
            seen[key] = len(names)
            names.append((en or ar, ar or en))
            parents.append(parent)
            aliases.append(set())
        aliases[seen[key]].update(n for n in (en, ar) if n)
    return names, parents, aliases


@functools.cache
def places(country: str) -> PlaceHierarchy:
    """The place hierarchy of ``eg`` (village -> city or markaz -> governorate) or ``sa`` (district -> city ->
    region), from every reference table that names such places."""
    if country == "eg":
        govs = [r for r in _rows("eg_governorates") if int(r["code"]) != 88]  # type: ignore[call-overload]
        gov_index = {int(r["code"]): i for i, r in enumerate(govs)}  # type: ignore[call-overload]
        villages = _rows("eg_villages")
        city_rows = [(str(r["name_en"]), str(r["name_ar"]), gov_index[int(r["governorate_code"])])  # type: ignore
                     for r in _rows("eg_cities")]
        city_rows += [(str(r["markaz_en"]), str(r["markaz_ar"]), gov_index[int(r["governorate_code"])])  # type: ignore
                      for r in villages]
        cities, city_parent, city_alias = _nodes(city_rows)
        city_of = {(p, place_key(ar)): i for i, ((_, ar), p) in enumerate(zip(cities, city_parent, strict=True))}
        village_rows = [("", str(r["name_ar"]),
                         city_of[(gov_index[int(r["governorate_code"])], place_key(str(r["markaz_ar"])))])  # type: ignore
                        for r in villages]
        vill, vill_parent, vill_alias = _nodes(village_rows)
        names = {"governorate": [(str(r["name_en"]), str(r["name_ar"])) for r in govs], "city": cities,
                 "village": vill}
        parent = {"village": vill_parent, "city": city_parent, "governorate": [0] * len(govs)}
        aliases = {"governorate": [set(n) for n in names["governorate"]], "city": city_alias, "village": vill_alias}
    elif country == "sa":
        regions = _rows("sa_regions")
        region_index = {str(r["name_en"]): i for i, r in enumerate(regions)}
        city_rows = [(str(r["capital_en"]), str(r["capital_ar"]), region_index[str(r["name_en"])]) for r in regions]
        city_rows += [(str(r["name_en"]), str(r["name_ar"]), region_index[str(r["region_en"])])
                      for r in _rows("sa_cities")]
        cities, city_parent, city_alias = _nodes(city_rows)
        city_index = {en: i for i, (en, _) in enumerate(cities)}
        district_rows = [(str(r["name_en"]), str(r["name_ar"]), city_index[str(r["city_en"])])
                         for table in ("sa_districts", "sa_city_districts") for r in _rows(table)]
        districts, district_parent, district_alias = _nodes(district_rows)
        names = {"region": [(str(r["name_en"]), str(r["name_ar"])) for r in regions], "city": cities,
                 "district": districts}
        parent = {"district": district_parent, "city": city_parent, "region": [0] * len(regions)}
        aliases = {"region": [set(n) for n in names["region"]], "city": city_alias, "district": district_alias}
    else:
        raise ValueError(f"unknown country {country!r}; valid: eg, sa")
    levels = PLACE_LEVELS[country]
    return PlaceHierarchy(country, levels, names, parent, {lv: _index(aliases[lv]) for lv in levels})


#: each country's place levels, finest first
PLACE_LEVELS = {"eg": ("village", "city", "governorate"), "sa": ("district", "city", "region")}


def generalize_places(col: pa.Array, country: str, level: str, to: str) -> tuple[pa.Array, np.ndarray]:
    """(labels, unknown): each place name of ``level`` generalised to ``to``; ``unknown`` marks the rows whose
    name is not in the reference data (their label is null).  Missing cells are null too."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    text = col.cast(pa.string()) if not pa.types.is_string(col.type) else col
    missing = missing_mask(text)
    enc = pc.dictionary_encode(pc.fill_null(text, ""))
    h = places(country)
    labels = [None if m else h.label(v, level, to) for v, m in
              zip(enc.dictionary.to_pylist(), missing_mask(enc.dictionary), strict=True)]
    out = pa.array(labels, pa.string()).take(enc.indices)
    unknown = pc.is_null(out).to_numpy(zero_copy_only=False) & ~missing
    return out, unknown


# ------------------------------------------------------------------------------------------------- nice widths
def nice_width(span: float, buckets: int = 64) -> float:
    """The smallest 1, 2 or 5 x 10^k at least ``span / buckets`` (a readable bucket width)."""
    target = max(span / buckets, 1e-12)
    exp = math.floor(math.log10(target))
    for base in (1, 2, 5, 10):
        w = base * 10.0**exp
        if w >= target * (1 - 1e-12):
            return float(w) if w < 1 else float(round(w))
    return float(10.0 ** (exp + 1))  # pragma: no cover


# ------------------------------------------------------------------------------------------- one column, by spec
@dataclass
class Generalized:
    """A column generalised per its policy options: ``labels`` (null where ``missing`` or ``invalid``) and what an
    invalid cell failed to be (for messages)."""

    labels: pa.Array
    missing: np.ndarray
    invalid: np.ndarray
    expected: str


def date_labels(days: np.ndarray, opts: dict) -> pa.Array:
    """Labels of day numbers per a date column's ``to`` (and age-band) options."""
    to = opts["to"]
    if to == SUPPRESSED:
        return pa.array(np.full(len(days), SUPPRESSED, dtype=object), pa.string())
    if to == "age_band":
        width = int(opts.get("width", 5))
        bottom, top = opts.get("bottom"), opts.get("top")
        ages = age_years(days, np.datetime64(opts["reference"], "D"))
        return labelled(band_class(ages, width, bottom, top), lambda c: age_band_label(c, width, bottom, top))
    return labelled(date_class(days, to), lambda c: date_class_label(c, to))


def number_labels(values: np.ndarray, opts: dict) -> pa.Array:
    """Labels of numbers per a number column's ``width``/``edges``/``to`` (and top/bottom coding) options."""
    if opts.get("to") == SUPPRESSED:
        return pa.array(np.full(len(values), SUPPRESSED, dtype=object), pa.string())
    if "edges" in opts:
        edges = opts["edges"]
        return labelled(edges_class(values, edges), lambda c: edges_label(c, edges))
    width, bottom, top = opts["width"], opts.get("bottom"), opts.get("top")
    return labelled(band_class(values, width, bottom, top), lambda c: band_label(c, width, bottom, top))


def _scatter_labels(labels: pa.Array, keep: np.ndarray, n: int) -> pa.Array:
    """``labels`` (one per kept row) at the kept rows of an all-null column of ``n`` rows."""
    if keep.all():
        return labels
    out = pa.nulls(n, pa.string())
    if not len(labels):
        return out
    return pc.replace_with_mask(out, pa.array(keep), labels)


def apply(col: pa.Array, type_: str, opts: dict, column: str) -> Generalized:
    """Generalise one column (a policy column of type date, number, place or category with method generalize)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    if type_ == "date":
        fmt = opts.get("format")
        p = parse_dates(col, column, fmt)
        keep = ~p.missing & ~p.invalid
        labels = date_labels(p.days[keep], opts)
        return Generalized(_scatter_labels(labels, keep, n), p.missing, p.invalid, f"a date in the format "
                           f"{fmt or ISO_DATE}")
    if type_ == "number":
        vals, missing, invalid = parse_numbers(col, column)
        keep = ~missing & ~invalid
        labels = number_labels(vals[keep], opts)
        return Generalized(_scatter_labels(labels, keep, n), missing, invalid,
                           "a plain number (no thousands separators or units)")
    if type_ == "place":
        labels, unknown = generalize_places(col, opts["country"], opts["level"], opts["to"])
        return Generalized(labels, missing_mask(col.cast(pa.string()) if not pa.types.is_string(col.type) else col),
                           unknown, f"a {opts['level']} of the {opts['country']} reference data")
    if type_ == "category":
        missing = missing_mask(col)
        labels = pa.array(np.full(int((~missing).sum()), SUPPRESSED, dtype=object), pa.string())
        return Generalized(_scatter_labels(labels, ~missing, n), missing, np.zeros(n, dtype=bool), "a value")
    raise ValueError(f"no generalisation for type {type_!r}")
