"""Reference tables as numpy arrays for vectorised sampling.

Every table comes from :mod:`tokenize_kit.refdata` (sources named in ``refdata/SOURCES.md``), the same
files the PII types use to recognise places and names, so generated data and tokenizer agree.
Arrays are built once per process and cached; string arrays are ``pyarrow`` arrays so that sampling is
one ``take`` (C speed) rather than a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit import refdata

if TYPE_CHECKING:
    from .people import GroupedCDF


def _strings(table: str, column: str) -> pa.Array:
    return refdata.table(table).column(column).combine_chunks().cast(pa.string())


@dataclass(frozen=True)
class Names:
    """A name dictionary: Arabic and English spellings at the same index."""

    ar: pa.Array
    en: pa.Array

    def __len__(self) -> int:
        return len(self.ar)


@cache
def names(kind: str) -> Names:
    """``kind``: ``eg_male``, ``eg_female`` or ``sa_family``."""
    t = f"names_{kind}"
    return Names(_strings(t, "name_ar"), _strings(t, "name_en"))


def _lookup(table: str, key: str, value: str, keys: list, dtype: type = np.float64) -> np.ndarray:
    """Column ``value`` of reference table ``table`` for each of ``keys`` (matched on column ``key``).

    Every key must have a row: a governorate or region missing from a population table is a data error,
    not a zero weight."""
    t = refdata.table(table)
    by_key = dict(zip(t.column(key).to_pylist(), t.column(value).to_pylist(), strict=True))
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise ValueError(f"{table}.csv has no row for {key} {missing}")
    return np.array([by_key[k] for k in keys], dtype=dtype)


@dataclass(frozen=True)
class Governorates:
    """Egyptian governorates of residence (code 88, born abroad, excluded) with population weights."""

    codes: np.ndarray
    ar: pa.Array
    en: pa.Array
    weights: np.ndarray


@cache
def eg_governorates() -> Governorates:
    t = refdata.table("eg_governorates")
    codes = np.asarray(t.column("code").to_numpy(), dtype=np.int64)
    home = codes != 88
    w = _lookup("eg_governorate_population", "code", "population", [int(c) for c in codes[home]])
    take = pa.array(np.flatnonzero(home))
    return Governorates(codes[home], _strings("eg_governorates", "name_ar").take(take),
                        _strings("eg_governorates", "name_en").take(take), w / w.sum())


@dataclass(frozen=True)
class Grouped:
    """Rows of a table grouped by a parent key: ``start[k]``/``count[k]`` index into ``ar``/``en``."""

    ar: pa.Array
    en: pa.Array
    start: np.ndarray
    count: np.ndarray
    #: cumulative weight of each row within its group (ends at 1.0), or None for uniform
    cum: np.ndarray | None = None

    def draw(self, parent: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Row indices within each parent's group: by weight, or uniform (``u`` uniform in [0, 1))."""
        cnt = self.count[parent]
        if (cnt == 0).any():
            raise ValueError("a parent has no child rows in the reference table")
        if self.cum is None:
            return self.start[parent] + np.minimum((u * cnt).astype(np.int64), cnt - 1)
        return self._cdf.draw(parent, u)

    @cached_property
    def _cdf(self) -> GroupedCDF:
        from .people import GroupedCDF

        assert self.cum is not None
        weights = []
        for s, c in zip(self.start, self.count, strict=True):
            cum = self.cum[s:s + c]
            weights.append(np.diff(cum, prepend=0.0))
        return GroupedCDF.build(weights)


def _group(table: str, key_col: str, keys: list) -> Grouped:
    t = refdata.table(table)
    col = t.column(key_col).to_pylist()
    order = sorted(range(len(col)), key=lambda i: (keys.index(col[i]) if col[i] in keys else len(keys), i))
    order = [i for i in order if col[i] in keys]
    take = pa.array(order, pa.int64())
    sorted_keys = np.array([keys.index(col[i]) for i in order], dtype=np.int64)
    count = np.bincount(sorted_keys, minlength=len(keys))
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return Grouped(_strings(table, "name_ar").take(take), _strings(table, "name_en").take(take), start, count)


@cache
def eg_cities() -> Grouped:
    """Cities / districts grouped by governorate index (as in :func:`eg_governorates`)."""
    return _group("eg_cities", "governorate_code", [int(c) for c in eg_governorates().codes])


@dataclass(frozen=True)
class Regions:
    """Saudi regions with population weights and the first digit of their postal codes."""

    ar: pa.Array
    en: pa.Array
    weights: np.ndarray
    postal_digit: np.ndarray


@cache
def sa_regions() -> Regions:
    t = refdata.table("sa_regions")
    en = t.column("name_en").to_pylist()
    w = _lookup("sa_region_population", "region_en", "population", en)
    digit = _lookup("sa_postal_regions", "region_en", "first_digit", en, np.int64)
    return Regions(_strings("sa_regions", "name_ar"), _strings("sa_regions", "name_en"), w / w.sum(), digit)


@cache
def sa_cities() -> Grouped:
    """Cities grouped by region index: each region's capital plus the major cities listed for it."""
    regions = refdata.table("sa_regions")
    cities = refdata.table("sa_cities")
    reg_en = regions.column("name_en").to_pylist()
    rows = [(r, a, e) for r, a, e in zip(reg_en, regions.column("capital_ar").to_pylist(),
                                         regions.column("capital_en").to_pylist(), strict=True)]
    rows += list(zip(cities.column("region_en").to_pylist(), cities.column("name_ar").to_pylist(),
                     cities.column("name_en").to_pylist(), strict=True))
    rows.sort(key=lambda r: reg_en.index(r[0]))
    key = np.array([reg_en.index(r[0]) for r in rows], dtype=np.int64)
    count = np.bincount(key, minlength=len(reg_en))
    pop = refdata.table("sa_city_population")
    by_city = dict(zip(pop.column("city_en").to_pylist(), pop.column("population").to_pylist(), strict=True))
    w = np.array([float(by_city.get(r[2], 0)) for r in rows])
    cum = np.zeros(len(rows))
    for g in range(len(reg_en)):
        sel = np.flatnonzero(key == g)
        wg = w[sel] if w[sel].sum() > 0 else np.ones(len(sel))  # a region's only city: no figure needed
        cum[sel] = np.cumsum(wg) / wg.sum()
    return Grouped(pa.array([r[1] for r in rows], pa.string()), pa.array([r[2] for r in rows], pa.string()),
                   np.concatenate([[0], np.cumsum(count)[:-1]]), count, cum)


@cache
def sa_postal_ranges() -> dict[str, tuple[int, int]]:
    """City (English name) -> (lowest, highest) postal code observed for it, where the table has it."""
    t = refdata.table("sa_postal_ranges")
    return {c: (int(lo), int(hi)) for c, lo, hi in zip(t.column("city_en").to_pylist(),
                                                        t.column("postal_from").to_pylist(),
                                                        t.column("postal_to").to_pylist(), strict=True)}


@cache
def sa_districts() -> tuple[dict[str, tuple[int, int]], pa.Array, pa.Array]:
    """City -> (start, count) into the district name arrays (Arabic, English)."""
    t = refdata.table("sa_city_districts")
    city = t.column("city_en").to_pylist()
    order = sorted(range(len(city)), key=lambda i: (city[i], i))
    spans: dict[str, tuple[int, int]] = {}
    for pos, i in enumerate(order):
        s, c = spans.get(city[i], (pos, 0))
        spans[city[i]] = (s, c + 1)
    take = pa.array(order, pa.int64())
    return (spans, _strings("sa_city_districts", "name_ar").take(take),
            _strings("sa_city_districts", "name_en").take(take))


@cache
def strings(table: str) -> Names:
    """Any two-column (``name_ar``, ``name_en``) table: streets, nationalities ..."""
    return Names(_strings(table, "name_ar"), _strings(table, "name_en"))


# --------------------------------------------------------------------------------------------- ages
#: most units of the ID layout one birth date can own (its weight's resolution, see ``eg_national_id``)
MAX_UNITS = 20


def _age_of_days(ref_date: str, min_age: int, max_age: int) -> tuple[np.ndarray, np.ndarray]:
    """(birth dates, age on ``ref_date``) of every birth date giving an age in [min_age, max_age)."""
    from .columns import _birth_window

    lo, dates = _birth_window(np.datetime64(ref_date, "D"), min_age, max_age)
    birth = lo + np.arange(dates).astype("timedelta64[D]")
    r = np.datetime64(ref_date, "D").astype(object)
    b = birth.astype(object)
    age = np.array([r.year - d.year - ((r.month, r.day) < (d.month, d.day)) for d in b], dtype=np.int64)
    return birth, age


def age_weights(table: str, group: str | None, column: str) -> dict[int, float]:
    """Weight of each single year of age from an age table (``age_from``, ``age_to`` and either ``share_pct``
    or per-sex counts; optionally a ``group`` column): a band's weight is spread evenly over its years,
    as no finer table is published (see ``refdata/SOURCES.md``)."""
    t = refdata.table(table).to_pylist()
    out: dict[int, float] = {}
    for r in t:
        if group is not None and r.get("group") != group:
            continue
        years = range(int(r["age_from"]), int(r["age_to"]) + 1)
        value = float(r[column] if column in r else r["share_pct"])
        for y in years:
            out[y] = out.get(y, 0.0) + value / len(years)
    return out


@cache
def birth_day_cdf(table: str, group: str | None, column: str, ref_date: str, min_age: int,
                  max_age: int) -> np.ndarray:
    """Cumulative probability over the birth dates of [min_age, max_age), following the age table."""
    _, age = _age_of_days(ref_date, min_age, max_age)
    w = age_weights(table, group, column)
    p = np.array([w.get(int(a), 0.0) for a in age], dtype=np.float64)
    if p.sum() <= 0:
        raise ValueError(f"{table}.csv has no weight for ages {min_age}-{max_age - 1}")
    return np.cumsum(p) / p.sum()


@cache
def birth_day_units(table: str | None, ref_date: str, min_age: int, max_age: int) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative units, units per date) over the birth dates of [min_age, max_age): one unit each without
    a table, else 1..MAX_UNITS in proportion to the weight of the date's age (``share_pct`` column)."""
    _, age = _age_of_days(ref_date, min_age, max_age)
    if table is None:
        k = np.ones(len(age), dtype=np.int64)
    else:
        w = age_weights(table, None, "share_pct")
        p = np.array([w.get(int(a), 0.0) for a in age], dtype=np.float64)
        if p.max() <= 0:
            raise ValueError(f"{table}.csv has no weight for ages {min_age}-{max_age - 1}")
        k = np.maximum(1, np.rint(MAX_UNITS * p / p.max())).astype(np.int64)
    return np.cumsum(k), k


@cache
def birth_day_of_unit(table: str | None, ref_date: str, min_age: int, max_age: int) -> np.ndarray:
    """The birth-date index owning each unit of :func:`birth_day_units` (a lookup instead of a search)."""
    _, k = birth_day_units(table, ref_date, min_age, max_age)
    return np.repeat(np.arange(len(k)), k)


# --------------------------------------------------------------------------------------------- villages
@dataclass(frozen=True)
class Villages:
    """Egyptian villages grouped by governorate index (as in :func:`eg_governorates`), with their markaz."""

    ar: pa.Array
    markaz_ar: pa.Array
    markaz_en: pa.Array
    groups: Grouped


@cache
def eg_villages() -> Villages:
    codes = [int(c) for c in eg_governorates().codes]
    t = refdata.table("eg_villages")
    gov = t.column("governorate_code").to_pylist()
    order = [i for i in sorted(range(len(gov)), key=lambda i: (codes.index(gov[i]) if gov[i] in codes else 99, i))
             if gov[i] in codes]
    take = pa.array(order, pa.int64())
    key = np.array([codes.index(gov[i]) for i in order], dtype=np.int64)
    count = np.bincount(key, minlength=len(codes))
    ar = _strings("eg_villages", "name_ar").take(take)
    grp = Grouped(ar, ar, np.concatenate([[0], np.cumsum(count)[:-1]]), count)
    return Villages(ar, _strings("eg_villages", "markaz_ar").take(take),
                    _strings("eg_villages", "markaz_en").take(take), grp)


# --------------------------------------------------------------------------------------------- streets
#: streets each city has: no street then takes more than 1/STREETS_PER_CITY of a city's rows
STREETS_PER_CITY = 150


@cache
def street_vocabulary(country: str) -> Names:
    """Street names: the curated main roads of ``{country}_streets.csv`` plus streets named after people,
    composed from the country's most frequent male names (Egypt: given + family name, e.g. محمود حسن;
    Saudi: given bin father, e.g. خالد بن سعد). A composed street is a plausible name, not a register entry."""
    from .people import name_pools

    pools = name_pools()
    curated = strings(f"{country}_streets")
    pool = "eg" if country == "eg" else "sa"
    given, _ = pools.groups[(pool, "given", "M", "muslim")]
    top = given[:40]
    if country == "eg":
        fam, _ = pools.groups[("eg", "family", "U", "muslim")]
        pairs = [(a, f) for a in top for f in fam[:40] if a != f]
        ar = [f"{pools.ar[a].as_py()} {pools.ar[f].as_py()}" for a, f in pairs]
        en = [f"{pools.en[a].as_py()} {pools.en[f].as_py()}" for a, f in pairs]
    else:
        pairs = [(a, f) for a in top for f in top if a != f]
        ar = [f"شارع {pools.ar[a].as_py()} بن {pools.ar[f].as_py()}" for a, f in pairs]
        en = [f"{pools.en[a].as_py()} bin {pools.en[f].as_py()} Street" for a, f in pairs]
    return Names(pa.concat_arrays([curated.ar, pa.array(ar, pa.string())]),
                 pa.concat_arrays([curated.en, pa.array(en, pa.string())]))


@cache
def city_streets(country: str, n_cities: int) -> np.ndarray:
    """(n_cities, STREETS_PER_CITY) indices into :func:`street_vocabulary`: each city's own street list, the
    same for every seed (a city keeps its streets), every list holding all the curated main roads."""
    vocab = len(street_vocabulary(country).ar)
    curated = len(strings(f"{country}_streets").ar)
    out = np.empty((n_cities, STREETS_PER_CITY), dtype=np.int64)
    for c in range(n_cities):
        rng = np.random.default_rng([c, len(country), ord(country[0])])
        extra = curated + rng.choice(vocab - curated, STREETS_PER_CITY - curated, replace=False)
        out[c] = np.concatenate([np.arange(curated), extra])
    return out


@cache
def village_lines(script: str) -> pa.Array:
    """Each village's address after the lead, with its markaz and governorate: ``قرية X، مركز Y، G`` (Arabic) or
    ``X village, Y markaz, G`` (English; village names are Arabic only)."""
    vil, gov = eg_villages(), eg_governorates()
    # the governorate of each village: its group in eg_villages() is the governorate index
    g = np.repeat(np.arange(len(vil.groups.count)), vil.groups.count)
    if script == "ar":
        parts = ["قرية ", vil.ar, "، مركز ", vil.markaz_ar, "، ", gov.ar.take(pa.array(g))]
    else:
        parts = ["", vil.ar, " village, ", vil.markaz_en, " markaz, ", gov.en.take(pa.array(g))]
    return pc.binary_join_element_wise(*parts, "")


@cache
def village_leads(script: str) -> pa.Array:
    """What precedes the village in a rural address: a lane (شارع ...) or the household (منزل ...)."""
    from .people import name_pools

    streets = street_vocabulary("eg")
    pools = name_pools()
    given, _ = pools.groups[("eg", "given", "M", "muslim")]
    fam, _ = pools.groups[("eg", "family", "U", "muslim")]
    if script == "ar":
        lanes = [f"شارع {x}، " for x in streets.ar.to_pylist()[:300]]
        homes = [f"منزل {pools.ar[a].as_py()} {pools.ar[f].as_py()}، " for a in given[:30] for f in fam[:10]]
    else:
        lanes = [f"{x} St., " for x in streets.en.to_pylist()[:300]]
        homes = [f"House of {pools.en[a].as_py()} {pools.en[f].as_py()}, " for a in given[:30] for f in fam[:10]]
    return pa.array(lanes + homes, pa.string())
