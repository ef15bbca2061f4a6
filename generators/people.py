"""People: nationality, sex, names, occupation and income drawn jointly, from published tables.

Each kind here conditions on columns drawn before it, so the joint distribution holds row by row:
a resident's sex follows their nationality's census split, their age (``age_date`` with a table)
follows the pyramid of their nationality group and sex, their name comes from their nationality's
name pool, their occupation is allowed for their sex and age, and their income follows the occupation
and age, floored at the legal minimum wage for employees.  Figures and their sources live in
``tokenize_kit/refdata`` (``SOURCES.md``); the occupation and income parameters a schema gives say in
the schema where no published figure exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit import refdata

from .columns import Batch, _dates, _email_safe, join_drawn, join_present, kind, search_right


def draw_rows(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One category per row from a (rows, categories) matrix of weights (rows need not sum to 1)."""
    cum = np.cumsum(p, axis=1)
    total = cum[:, -1:]
    if (total <= 0).any():
        raise ValueError("a row has no allowed category (check the schema's conditions)")
    return np.minimum((cum < u[:, None] * total).sum(axis=1), p.shape[1] - 1)


@dataclass(frozen=True)
class GroupedCDF:
    """Many discrete distributions in flat arrays, drawn for all rows at once by a guide table.

    Group ``g`` holds entries ``start[g] .. last[g]`` (``last``: its last entry of positive weight) with
    cumulative probabilities ``key - g``.  A row's entry is the first whose cumulative probability exceeds its
    uniform draw ``u``, as ``searchsorted`` on the group's cumulative weights finds it (the offset ``g`` can move a
    comparison by a rounding unit, never onto an entry of weight 0); a guide table (Chen and Asau 1974: for each of
    ``4 x entries`` equal slices of [0, 1), the first entry reaching into it) puts each row at or just before
    its entry, so a few vectorised steps forward replace a binary search that misses the cache at every level.
    """

    key: np.ndarray
    start: np.ndarray
    last: np.ndarray
    guide: np.ndarray
    guide_start: np.ndarray
    guide_size: np.ndarray
    #: groups with some positive weight (a row of another group cannot be drawn)
    valid: np.ndarray
    #: ``key`` with +inf at each group's ``last`` entry: a row never steps past it, with no test of its own
    stop_key: np.ndarray
    #: ``guide_size`` as floats (a row's slice is ``u * size``)
    guide_size_f: np.ndarray
    #: every group valid: rows need no check
    all_valid: bool

    @classmethod
    def build(cls, weights: list[np.ndarray]) -> GroupedCDF:
        keys, guides, start, last, gstart, gsize, valid = [], [], [], [], [], [], []
        pos = gpos = 0
        for g, w in enumerate(weights):
            w = np.asarray(w, dtype=np.float64)
            valid.append(bool(len(w)) and w.sum() > 0)
            if not valid[-1]:  # a placeholder entry keeps the flat arrays in group order
                w = np.ones(1)
            cum = np.cumsum(w) / w.sum()
            cum[-1] = 1.0
            lp = int(np.flatnonzero(w > 0)[-1])
            q = 4 * len(w)
            guide = pos + np.minimum(np.searchsorted(cum, np.arange(q) / q, side="right"), lp)
            # one more slice: u * q can round up to q for u just below 1 (the last slice's guide)
            keys.append(g + cum)
            guides.append(np.append(guide, guide[-1]))
            start.append(pos)
            last.append(pos + lp)
            gstart.append(gpos)
            gsize.append(q)
            pos += len(w)
            gpos += q + 1
        key = np.concatenate(keys)
        stop_key = key.copy()
        stop_key[np.array(last)] = np.inf
        return cls(key, np.array(start), np.array(last), np.concatenate(guides), np.array(gstart), np.array(gsize),
                   np.array(valid), stop_key, np.array(gsize, dtype=np.float64), bool(all(valid)))

    def draw(self, group: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Flat entry index of each row (``group`` its group, ``u`` uniform in [0, 1))."""
        if not self.all_valid and not self.valid[group].all():
            raise ValueError("a row has no allowed category (check the schema's conditions)")
        at = self.guide[self.guide_start[group] + (u * self.guide_size_f[group]).astype(np.int64)]
        x = group + u
        todo = np.flatnonzero(self.stop_key[at] <= x)
        while len(todo):
            at[todo] += 1
            todo = todo[self.stop_key[at[todo]] <= x[todo]]
        return at


#: ages beyond which :func:`ages_on` falls back to calendar arithmetic per row
_MAX_AGE = 200


@cache
def _age_thresholds(when: str) -> np.ndarray:
    """Ascending: the latest birth date that is ``k`` years old on ``when`` (ISO date), for k = _MAX_AGE .. 0."""
    from .columns import _add_months

    k = np.arange(_MAX_AGE, -1, -1)
    return _add_months(np.full(len(k), np.datetime64(when, "D")), -12 * k)


@cache
def _age_of_day(when: str) -> np.ndarray:
    """Age on ``when`` of each birth date from its threshold for _MAX_AGE years to ``when`` (index: days after
    the first threshold): age = the largest k whose threshold is on or after the birth date (a 29 Feb birthday
    falls on 1 Mar in other years, as the calendar rule of :func:`ages_on` has it: the thresholds come from
    _add_months)."""
    t = _age_thresholds(when)
    days = t[0] + np.arange(int((t[-1] - t[0]).astype(np.int64)) + 1).astype("timedelta64[D]")
    return (len(t) - 1 - np.searchsorted(t, days, side="left")).astype(np.int16)


def ages_on(birth: np.ndarray, when: np.datetime64 | np.ndarray) -> np.ndarray:
    """Whole years of age on ``when`` (vectorised; a table lookup when ``when`` is one date)."""
    b = np.asarray(birth, dtype="datetime64[D]")
    w = np.asarray(when, dtype="datetime64[D]")
    if w.ndim == 0:
        t = _age_thresholds(str(w))
        if not len(b) or (b.min() >= t[0] and b.max() <= t[-1]):
            return _age_of_day(str(w))[(b - t[0]).astype(np.int64)].astype(np.int64)
    by, wy = b.astype("datetime64[Y]"), w.astype("datetime64[Y]")
    years = (wy - by).astype(np.int64)
    # compare (month, day), not the day of the year, so 29 Feb / 1 Mar behave as calendars do
    bm = (b.astype("datetime64[M]") - by.astype("datetime64[M]")).astype(np.int64)
    wm = (w.astype("datetime64[M]") - wy.astype("datetime64[M]")).astype(np.int64)
    bd = (b - b.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    wd = (w - w.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    return years - ((wm < bm) | ((wm == bm) & (wd < bd)))


# --------------------------------------------------------------------------------------------- nationality
@dataclass(frozen=True)
class Nationalities:
    ar: pa.Array
    en: pa.Array
    pool: list[str]
    population: np.ndarray
    male_share: np.ndarray


@cache
def nationalities() -> Nationalities:
    t = refdata.table("nationalities")
    m = np.asarray(t.column("males").to_pylist(), dtype=np.float64)
    f = np.asarray(t.column("females").to_pylist(), dtype=np.float64)
    return Nationalities(t.column("name_ar").combine_chunks().cast(pa.string()),
                         t.column("name_en").combine_chunks().cast(pa.string()),
                         t.column("name_pool").to_pylist(),
                         np.asarray(t.column("population").to_pylist(), dtype=np.float64), m / (m + f))


@kind("nationality", required=("residency",), optional={"script": "ar", "citizen": "citizen",
                                                        "stream": "nationality"}, columns=("residency",))
def nationality(b: Batch, name: str, residency: str, script: str, citizen: str, stream: str) -> pa.Array:
    """Saudi for citizens; for residents a nationality drawn by its Saudi Census 2022 population
    (``nationalities.csv``; nationalities not listed there are left out and the others renormalised)."""
    nat = nationalities()
    key = f"#nationality:{stream}"
    hit = b.extra.get(key)
    if hit is None or hit["args"] != (residency, citizen):  # the Arabic and English columns share one draw
        cum = _resident_cdf()
        other = np.minimum(search_right(cum, b.rng(stream).random(b.n)), len(cum) - 1)
        hit = b.extra[key] = {"args": (residency, citizen), "idx": np.where(b.equals(residency, citizen), 0, other)}
    idx = hit["idx"]
    b.index_of[name] = idx
    return (nat.ar if script == "ar" else nat.en).take(pa.array(idx))


@cache
def _resident_cdf() -> np.ndarray:
    """Cumulative nationality shares of residents (row 0, Saudi, has none)."""
    w = nationalities().population.copy()
    w[0] = 0.0  # row 0 is Saudi
    cum: np.ndarray = np.cumsum(w) / w.sum()
    return cum


@kind("sex_by_nationality", required=("nationality",), optional={"labels": ["M", "F"]},
      columns=("nationality",))
def sex_by_nationality(b: Batch, name: str, nationality: str, labels: list) -> pa.Array:
    """Sex drawn from the census male share of the row's nationality (Saudi 50.2%, Yemeni 74% ...)."""
    share = nationalities().male_share[b.idx(nationality)]
    male = b.rng(name).random(b.n) < share
    code = (~male).astype(np.int8)
    b.set_codes(name, labels[:2], code)
    return pa.array(labels, pa.string()).take(pa.array(code))


# --------------------------------------------------------------------------------------------- names
@dataclass(frozen=True)
class NamePools:
    """Every name of ``person_names.csv`` in one array per script; groups index into them."""

    ar: pa.Array
    en: pa.Array
    en_lower: pa.Array
    #: (pool, role, gender, tradition) -> (row indices, cumulative probabilities)
    groups: dict[tuple[str, str, str, str], tuple[np.ndarray, np.ndarray]]
    #: pool -> {tradition: share of the pool's male given-name weight}
    traditions: dict[str, dict[str, float]]
    #: each name's weight (``weight`` column)
    weight: np.ndarray


@cache
def name_pools() -> NamePools:
    t = refdata.table("person_names")
    pool, role, gender, trad = (t.column(c).to_pylist() for c in ("pool", "role", "gender", "tradition"))
    weight = np.asarray(t.column("weight").to_pylist(), dtype=np.float64)
    ar = t.column("name_ar").combine_chunks().cast(pa.string())
    en = t.column("name_en").combine_chunks().cast(pa.string())
    keys = sorted({(p, r, g) for p, r, g in zip(pool, role, gender, strict=True)})
    groups: dict[tuple[str, str, str, str], tuple[np.ndarray, np.ndarray]] = {}
    traditions: dict[str, dict[str, float]] = {}
    all_trads = sorted(set(trad) - {"any"})
    for p, r, g in keys:
        rows = np.array([i for i in range(len(pool)) if (pool[i], role[i], gender[i]) == (p, r, g)])
        for tr in [*all_trads, "any"]:
            sel = np.array([i for i in rows if trad[i] in (tr, "any")], dtype=np.int64)
            if len(sel):
                groups[(p, r, g, tr)] = (sel, np.cumsum(weight[sel]) / weight[sel].sum())
        if r == "given" and g == "M":
            tw = {tr: float(weight[[i for i in rows if trad[i] == tr]].sum()) for tr in all_trads}
            total = sum(tw.values())
            traditions[p] = {tr: v / total for tr, v in tw.items() if v > 0} if total else {"any": 1.0}
    return NamePools(ar, en, _email_safe(en), groups, traditions, weight)


#: how each pool builds a full name: roles of the parts after the given name (father, grandfather, family)
CHAINS: dict[str, tuple[str, ...]] = {
    # Arab four-part names: own, father's and grandfather's given names, then the family name (Egypt: the
    # fourth name of the chain, weighted by how often each name stands fourth; Saudi: tribal / family name)
    "eg": ("given", "given", "family"), "sa": ("given", "given", "family"), "lev": ("given", "given", "family"),
    # Yemeni and Sudanese names chain male given names
    "ye": ("given", "given", "given"), "sd": ("given", "given", "given"),
    # South Asian: given name, father's given name, family name; Filipino: given, middle (mother's) and family
    "in": ("given", "family"), "pk": ("given", "family"), "bd": ("given", "family"), "ph": ("family", "family"),
}


@cache
def _trad_names() -> list[str]:
    return sorted({tr for d in name_pools().traditions.values() for tr in d} | {"any"})


@dataclass(frozen=True)
class _RoleDraw:
    """Every name group of one role as one :class:`GroupedCDF`: ``names`` holds the name (row of
    ``person_names.csv``) of each entry, ``lookup[pool, gender, tradition]`` the group a row draws from (-1:
    none)."""

    cdf: GroupedCDF
    names: np.ndarray
    lookup: np.ndarray


@cache
def _role_draw(role: str) -> _RoleDraw:
    pools = name_pools()
    pool_names, trad_names = sorted(CHAINS), _trad_names()
    lookup = np.full((len(pool_names), 3, len(trad_names)), -1, dtype=np.int64)
    seen: dict[tuple[str, str, str, str], int] = {}
    weights: list[np.ndarray] = []
    names: list[np.ndarray] = []
    for pi, p in enumerate(pool_names):
        for gi, g in enumerate(("M", "F", "U")):
            for ti, tr in enumerate(trad_names):
                k = (p, role, g, tr) if (p, role, g, tr) in pools.groups else (p, role, g, "any")
                if k not in pools.groups:
                    continue
                if k not in seen:
                    idx, _ = pools.groups[k]
                    seen[k] = len(weights)
                    weights.append(pools.weight[idx])
                    names.append(idx)
                lookup[pi, gi, ti] = seen[k]
    return _RoleDraw(GroupedCDF.build(weights), np.concatenate(names), lookup)


def _draw_names(rng: np.random.Generator, pool: np.ndarray, role: str, gender: np.ndarray | int, trad: np.ndarray,
                pool_names: list[str], wanted: np.ndarray | None = None) -> np.ndarray:
    """Each row's name of ``role`` (index into the name pools) from its pool, gender (0 M, 1 F, 2 U) and
    tradition by the names' weights; -1 where ``wanted`` is False (those rows' draws are left unused)."""
    u = rng.random(len(pool))
    rd = _role_draw(role)
    rows = None if wanted is None or wanted.all() else np.flatnonzero(wanted)
    if rows is not None:
        pool, trad, u = pool[rows], trad[rows], u[rows]
        if isinstance(gender, np.ndarray):
            gender = gender[rows]
    t = rd.lookup.shape[2]
    g = rd.lookup.reshape(-1)[(pool * 3 + gender) * t + trad]  # lookup[pool, gender, trad]
    missing = g < 0
    if missing.any():
        i = int(np.argmax(missing))
        gi = int(gender[i]) if isinstance(gender, np.ndarray) else int(gender)
        raise ValueError(f"person_names.csv has no {role} names for pool {pool_names[pool[i]]!r}, "
                         f"gender {'MFU'[gi]}")
    drawn: np.ndarray = rd.names[rd.cdf.draw(g, u)]
    if rows is None:
        return drawn
    out = np.full(len(wanted), -1, dtype=np.int64)  # type: ignore[arg-type]
    out[rows] = drawn
    return out


@cache
def _traditions(christian_share: float | None, fixed: str) -> tuple[np.ndarray, np.ndarray]:
    """Per pool: the tradition boundaries a row's uniform draw is compared with (cumulative shares but the last,
    +inf where a pool has fewer) and the tradition (index into :func:`_trad_names`) of each outcome; a pool
    without shares always gives ``any``.  ``christian_share`` overrides the shares of pool ``fixed``."""
    pools = name_pools()
    pool_names, trad_names = sorted(CHAINS), _trad_names()
    rows: list[tuple[list[float], list[int]]] = []
    for p in pool_names:
        shares = dict(pools.traditions.get(p, {}))
        if christian_share is not None and p == fixed:
            shares = {"muslim": 1 - christian_share, "christian": christian_share}
        if not shares:
            rows.append(([], [trad_names.index("any")]))
            continue
        names_, probs = zip(*sorted(shares.items()), strict=True)
        cum = np.cumsum(probs) / sum(probs)
        rows.append((cum[:-1].tolist(), [trad_names.index(x) for x in names_]))
    width = max(len(c) for c, _ in rows) + 1
    bounds = np.full((len(rows), width - 1), np.inf)
    codes = np.zeros((len(rows), width), dtype=np.int64)
    for i, (c, t) in enumerate(rows):
        bounds[i, :len(c)] = c
        codes[i, :len(t)] = t
    return bounds, codes


def _clean_words(vocab: pa.Array) -> bool:
    """No string of ``vocab`` is empty, starts or ends with a space or holds two spaces in a row."""
    return not (pc.any(pc.equal(pc.utf8_length(vocab), 0)).as_py() or pc.any(pc.starts_with(vocab, " ")).as_py()
                or pc.any(pc.ends_with(vocab, " ")).as_py() or pc.any(pc.match_substring(vocab, "  ")).as_py())


_CLEAN: dict[int, tuple[pa.Array, bool]] = {}


def _is_clean(vocab: pa.Array) -> bool:
    hit = _CLEAN.get(id(vocab))
    if hit is None or hit[0] is not vocab:
        hit = _CLEAN[id(vocab)] = (vocab, _clean_words(vocab))
    return hit[1]


@kind("person_name", required=("gender",),
      optional={"script": "ar", "parts": 4, "pool": None, "nationality": None, "family": None,
                "stream": "person_name", "male": "M", "christian_share": None},
      columns=("gender", "nationality"))
def person_name(b: Batch, name: str, gender: str, script: str, parts: int, pool: str | None,
                nationality: str | None, family: str | None, stream: str, male: str,
                christian_share: float | None) -> pa.Array:
    """A full name of the row's gender from its name pool, each part drawn by its published frequency.

    ``pool`` fixes the pool (``eg``, ``sa`` ...; ``family`` is its old name); ``nationality`` takes it from a
    ``nationality`` column, so residents get names of their own country (never a Saudi tribal name).  Each
    family keeps one naming tradition (``tradition`` in ``person_names.csv``; ``christian_share`` overrides
    the pool's own share where a census figure exists).  ``parts`` caps the number of name parts; Arabic
    and English columns with the same ``stream`` spell the same person.
    """
    pools = name_pools()
    pool_names = sorted(CHAINS)
    args = (stream, gender, parts, pool, nationality, family, male, christian_share)
    cached = b.extra.get(f"#names:{stream}")
    if cached is None or cached["args"] != args:
        cached = b.extra[f"#names:{stream}"] = {"args": args, **_draw_name_parts(
            b, pools, pool_names, stream, gender, parts, pool, nationality, family, male, christian_share)}
    first, present, last = cached["first"], cached["present"], cached["last"]
    b.extra[name] = {"first": first, "last": last, "vocab": pools.en_lower}
    vocab = pools.ar if script == "ar" else pools.en
    missing = [p < 0 for p in present]
    if not any(m.any() for m in missing):
        return join_drawn([(vocab, first)] + [(vocab, p) for p in present], " ")
    trailing = not any((m & ~m_next).any() for m, m_next in pairwise(missing))
    if trailing and _is_clean(vocab) and b.n:
        # rows whose pool has fewer parts (missing parts are the last ones): their parts joined without them
        return join_present([(vocab, first)] + [(vocab, p) for p in present], " ")
    # missing parts (-1) point at an empty string appended to the vocabulary, then the doubled spaces go
    vocab_e = _with_empty(vocab)
    empty = len(vocab)
    parts_drawn = [(vocab_e, first)] + [(vocab_e, np.where(p >= 0, p, empty)) for p in present]
    out = join_drawn(parts_drawn, " ")
    return pc.utf8_rtrim(pc.replace_substring(out, "  ", " "), " ")


def _draw_name_parts(b: Batch, pools: NamePools, pool_names: list[str], stream: str, gender: str, parts: int,
                     pool: str | None, nationality: str | None, family: str | None, male: str,
                     christian_share: float | None) -> dict[str, Any]:
    """Each row's name parts (indices into the name pools; -1 for a part its pool's names do not have)."""
    rng = b.rng(stream)
    fixed = pool or family or "eg"
    if nationality is not None:
        nat_pool = np.array([pool_names.index(p) for p in nationalities().pool])
        row_pool = nat_pool[b.idx(nationality)]
    else:
        if fixed not in CHAINS:
            raise ValueError(f"unknown name pool {fixed!r}; pools: {', '.join(pool_names)}")
        row_pool = np.full(b.n, pool_names.index(fixed))
    is_male = b.equals(gender, male)
    u = rng.random(b.n)
    # each row's tradition: the count of its pool's boundaries at or below u picks it (a searchsorted per pool)
    bounds, codes = _traditions(christian_share, fixed)
    if nationality is None:
        pi = pool_names.index(fixed)
        trad = codes[pi][search_right(bounds[pi][np.isfinite(bounds[pi])], u)]
    else:
        count = np.zeros(b.n, dtype=np.int64)
        for j in range(bounds.shape[1]):
            count += u >= bounds[:, j][row_pool]
        trad = codes.reshape(-1)[row_pool * codes.shape[1] + count]
    g_idx = np.where(is_male, 0, 1)
    first = _draw_names(rng, row_pool, "given", g_idx, trad, pool_names)
    present = []
    depth = max(len(c) for c in CHAINS.values())
    for j in range(min(parts - 1, depth)):
        part = np.full(b.n, -1, dtype=np.int64)
        for role in ("given", "family"):
            wants = np.array([len(CHAINS[p]) > j and CHAINS[p][j] == role for p in pool_names])
            want = wants[row_pool] if nationality is not None else np.full(b.n, wants[row_pool[0]] if b.n else False)
            if not want.any():
                continue
            # ancestors' given names are male
            drawn = _draw_names(rng, row_pool, role, 0 if role == "given" else 2, trad, pool_names, want)
            part = drawn if want.all() else np.where(want, drawn, part)
        present.append(part)
    last = first.copy()
    for p in present:
        last = np.where(p >= 0, p, last)
    return {"first": first, "present": present, "last": last}


_EMPTY: dict[int, tuple[pa.Array, pa.Array]] = {}


def _with_empty(vocab: pa.Array) -> pa.Array:
    hit = _EMPTY.get(id(vocab))
    if hit is None or hit[0] is not vocab:
        hit = (vocab, pa.concat_arrays([vocab, pa.array([""], pa.string())]))
        _EMPTY[id(vocab)] = hit
    return hit[1]


# --------------------------------------------------------------------------------------------- work
def _age(b: Batch, birth_date: str) -> np.ndarray:
    """Age on the reference date of a birth-date column (computed once per batch and column)."""
    key = f"#age:{birth_date}"
    hit = b.extra.get(key)
    if hit is None:
        hit = b.extra[key] = {"age": ages_on(_dates(b.col(birth_date)), b.reference_date)}
    age: np.ndarray = hit["age"]
    return age


@cache
def _occupation_cdf(occ: tuple[tuple[float, float, int, int], ...]) -> GroupedCDF:
    """Occupation weights (female, male, min_age, max_age) per (sex, age) group: female ages 0.._MAX_AGE first."""
    ages = np.arange(_MAX_AGE + 1)
    w = np.zeros((2, len(ages), len(occ)))
    for k, (wf, wm, lo, hi) in enumerate(occ):
        ok = (ages >= lo) & (ages <= hi)
        w[0, :, k] = wf * ok
        w[1, :, k] = wm * ok
    return GroupedCDF.build(list(w.reshape(-1, len(occ))))


@kind("occupation", required=("gender", "birth_date", "occupations"),
      optional={"script": "ar", "male": "M", "stream": None}, columns=("gender", "birth_date"))
def occupation(b: Batch, name: str, gender: str, birth_date: str, occupations: list[Mapping[str, Any]],
               script: str, male: str, stream: str | None) -> pa.Array:
    """An occupation allowed for the row's sex and age, drawn by the schema's weights for that sex.

    Each entry of ``occupations``: ``ar``, ``en``, ``weight_m``, ``weight_f`` (0 = never for that sex),
    ``min_age``, ``max_age`` (the hard rules: a retiree is at least the pension age, a housewife is a
    woman ...), ``employee`` (the minimum wage applies) and the income parameters used by ``income``.
    """
    occ = list(occupations)
    age = _age(b, birth_date)
    is_male = b.equals(gender, male)
    # the weights depend on (sex, age) only: one distribution per (sex, age), drawn for all rows at once
    group = is_male.astype(np.int64) * (_MAX_AGE + 1) + np.clip(age, 0, _MAX_AGE)
    cdf = _occupation_cdf(tuple((float(o.get("weight_f", 0)), float(o.get("weight_m", 0)), int(o.get("min_age", 0)),
                                 int(o.get("max_age", 200))) for o in occ))
    idx = cdf.draw(group, b.rng(stream or name).random(b.n)) - cdf.start[group]
    b.index_of[name] = idx
    b.extra[name] = {"occupations": occ}
    labels = [o["ar" if script == "ar" else "en"] for o in occ]
    b.set_codes(name, labels, idx)
    return pa.array(labels, pa.string()).take(pa.array(idx))


@kind("income", required=("occupation", "birth_date"),
      optional={"min_wage": 0, "round": 50, "max": 2_000_000, "age_growth": 0.02, "peak_age": 50},
      columns=("occupation", "birth_date"))
def income(b: Batch, name: str, occupation: str, birth_date: str, min_wage: float, round: float, max: float,
           age_growth: float, peak_age: int) -> pa.Array:
    """Monthly income: lognormal around the occupation's ``median`` (its ``sigma``), rising by
    ``age_growth`` a year of age up to ``peak_age`` (seniority), floored at ``min_wage`` for employees."""
    drawn = b.extra.get(occupation)
    if drawn is None or "occupations" not in drawn:
        raise ValueError(f"income needs occupation to be an occupation column of this table, not {occupation!r}")
    occ = drawn["occupations"]
    k = b.idx(occupation)
    median = np.array([float(o["median"]) for o in occ])[k]
    sigma = np.array([float(o.get("sigma", 0.5)) for o in occ])[k]
    employee = np.array([bool(o.get("employee", False)) for o in occ])[k]
    age = _age(b, birth_date)
    seniority = (1 + age_growth) ** (np.clip(age, 25, peak_age) - 25)
    v = np.exp(np.log(median * seniority) + sigma * b.rng(name).standard_normal(b.n))
    v = np.where(employee, np.maximum(v, min_wage), v)
    v = np.minimum(np.round(v / round) * round, max)
    v = np.where(employee, np.maximum(v, min_wage), v)
    return pa.array(v.astype(np.int64))
