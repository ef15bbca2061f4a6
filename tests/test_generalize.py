"""Generalisation hierarchies against the reference data and independent computations; date_shift keeps
intervals per entity, differs across entities, and reverses (or not, when configured); ID tokens keep
generalised birth dates; bad input names column and row, never the value."""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random

import numpy as np
import pyarrow as pa
import pytest

from generators import generate_table
from tokenize_kit import generalize as gen
from tokenize_kit import refdata
from tokenize_kit.keys import Keyset
from tokenize_kit.pii.eg_national_id import kept_parts
from tokenize_kit.policy import Policy, PolicyError
from tokenize_kit.table import TokenizeError, detokenize_table, tokenize_table

KS = Keyset.generate()


def _rows(name: str) -> list[dict]:
    return refdata.table(name).to_pylist()


# ------------------------------------------------------------------------------------------------- places
def _one_or_all(values: set[str]) -> str:
    """A shared name generalises to every place it may be (the library's rule, written independently)."""
    return " / ".join(sorted(values))


def test_egypt_village_city_governorate_follow_the_reference_tables():
    """Every Egyptian city, markaz and village name goes to its governorate, or to all of them when the tables list
    the name under several governorates (Armant under Qena and Luxor; two different Matariyas)."""
    gov = {r["code"]: (r["name_en"], r["name_ar"]) for r in _rows("eg_governorates")}
    from tokenize_kit.generalize import place_key

    cities = [(r["name_en"], r["name_ar"], r["governorate_code"]) for r in _rows("eg_cities")]
    cities += [(r["markaz_en"], r["markaz_ar"], r["governorate_code"]) for r in _rows("eg_villages")]
    govs_of: dict[str, set[int]] = {}  # a city name (either script, matched as place_key folds it) -> governorates
    for en, ar, code in cities:
        for name in (en, ar):
            govs_of.setdefault(place_key(name), set()).add(code)
    h = gen.places("eg")
    for en, ar, _ in cities:
        for name, script in ((en, 0), (ar, 1)):
            codes = govs_of[place_key(name)]
            assert h.label(name, "city", "governorate") == _one_or_all({gov[c][script] for c in codes})
            assert h.label(name, "city", "*") == "*"
    assert h.label("Armant", "city", "governorate") == "Luxor / Qena"
    assert h.label("Nasr City", "city", "governorate") == "Cairo"
    markaz_of: dict[str, set[tuple[int, str]]] = {}
    for r in _rows("eg_villages"):
        markaz_of.setdefault(place_key(r["name_ar"]), set()).add((r["governorate_code"], r["markaz_ar"]))
    for r in _rows("eg_villages")[::7]:
        found = markaz_of[place_key(r["name_ar"])]
        assert h.label(r["name_ar"], "village", "governorate") == _one_or_all({gov[c][1] for c, _ in found})
    for code, (en, ar) in gov.items():
        if code != 88:  # "born abroad" is a national-ID code, not a place
            assert h.label(ar, "governorate", "governorate") == ar and h.label(en, "governorate", "*") == "*"


def test_saudi_district_city_region_follow_the_reference_tables():
    from tokenize_kit.generalize import place_key

    regions = _rows("sa_regions")
    region_of_city = {r["capital_en"]: r["name_en"] for r in regions}
    region_of_city.update({r["name_en"]: r["region_en"] for r in _rows("sa_cities")})
    ar_region = {r["name_en"]: r["name_ar"] for r in regions}
    ar_city = {r["capital_en"]: r["capital_ar"] for r in regions} | {r["name_en"]: r["name_ar"]
                                                                      for r in _rows("sa_cities")}
    districts = _rows("sa_districts") + _rows("sa_city_districts")
    cities_of: dict[str, set[str]] = {}  # a district name (either script) -> the cities that have one so named
    for r in districts:
        for name in (r["name_en"], r["name_ar"]):
            cities_of.setdefault(place_key(name), set()).add(r["city_en"])
    h = gen.places("sa")
    for r in districts:
        for name, city_name, region_name in ((r["name_en"], lambda c: c, lambda g: g),
                                             (r["name_ar"], ar_city.get, ar_region.get)):
            cities = cities_of[place_key(name)]
            regions_of = {region_of_city[c] for c in cities}
            want_city = _one_or_all({city_name(c) for c in cities})
            want_region = _one_or_all({region_name(g) for g in regions_of})
            assert h.label(name, "district", "city") == want_city
            assert h.label(name, "district", "region") == want_region
    for city, region in region_of_city.items():
        assert h.label(city, "city", "region") == region
    assert any(len(c) > 1 for c in cities_of.values())  # the shared names are really exercised


def test_place_levels_nest_and_unknown_names_are_flagged():
    """A label at one level determines the label at the next (generalising never splits a class), for every name
    of every level, shared names included."""
    for country, levels in gen.PLACE_LEVELS.items():
        h = gen.places(country)
        for i, low in enumerate(levels):
            names = {n for pair in h.names[low] for n in pair}
            for a, b in zip(levels[i:], levels[i + 1:], strict=False):
                up: dict[str, str] = {}
                for name in names:
                    la, lb = h.label(name, low, a), h.label(name, low, b)
                    assert up.setdefault(la, lb) == lb, (country, name, a, b)
    assert gen.places("sa").label("Al Aziziyah", "district", "city").count(" / ") >= 1
    out, unknown = gen.generalize_places(pa.array(["Nasr City", "Atlantis", None, "", "مدينة نصر"]), "eg", "city",
                                         "governorate")
    assert out.to_pylist() == ["Cairo", None, None, None, "القاهرة"]
    assert unknown.tolist() == [False, True, False, False, False]


def test_arabic_spelling_variants_match():
    h = gen.places("eg")
    assert h.label("المعادى", "city", "governorate") == h.label("المعادي", "city", "governorate") == "القاهرة"
    assert gen.place_key("الإسكندرية") == gen.place_key("الاسكندريه")
    assert h.label("  nasr   city ", "city", "governorate") == "Cairo"


# -------------------------------------------------------------------------------------------------- dates
def _random_dates(n: int, seed: int = 1) -> list[dt.date]:
    rng = random.Random(seed)
    base = dt.date(1900, 1, 1)
    out = [base + dt.timedelta(days=rng.randrange(0, 60000)) for _ in range(n)]
    return [*out, dt.date(2000, 2, 29), dt.date(1999, 12, 31), dt.date(1985, 1, 1), dt.date(1969, 12, 31)]


def _age(born: dt.date, ref: dt.date) -> int:
    return ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day))


def test_date_levels_equal_an_independent_computation():
    dates = _random_dates(3000)
    days = np.array([(d - dt.date(1970, 1, 1)).days for d in dates])
    for level, want in [
        ("day", lambda d: d.isoformat()),
        ("month", lambda d: f"{d.year:04d}-{d.month:02d}"),
        ("year", lambda d: f"{d.year:04d}"),
        ("5y", lambda d: f"{d.year - d.year % 5:04d}-{d.year - d.year % 5 + 4:04d}"),
        ("10y", lambda d: f"{d.year // 10 * 10:04d}-{d.year // 10 * 10 + 9:04d}"),
    ]:
        got = gen.date_labels(days, {"to": level}).to_pylist()
        assert got == [want(d) for d in dates], level


def test_age_bands_equal_an_independent_computation():
    dates = _random_dates(3000, seed=2)
    ref = dt.date(2025, 12, 31)
    days = np.array([(d - dt.date(1970, 1, 1)).days for d in dates])
    got = gen.date_labels(days, {"to": "age_band", "width": 10, "reference": "2025-12-31", "bottom": 18,
                                 "top": 80}).to_pylist()

    def want(d):
        a = _age(d, ref)
        if a < 18:
            return "<18"
        if a >= 80:
            return ">=80"
        lo = a // 10 * 10
        return f"{max(lo, 18)}-{min(lo + 9, 79)}"
    assert got == [want(d) for d in dates]
    leap = np.array([(dt.date(2000, 2, 29) - dt.date(1970, 1, 1)).days])
    for ref_day, age in (("2025-02-28", 24), ("2025-03-01", 25), ("2024-02-29", 24)):
        assert gen.age_years(leap, np.datetime64(ref_day))[0] == age == _age(dt.date(2000, 2, 29),
                                                                           dt.date.fromisoformat(ref_day))


def test_date_parsing_is_strict_and_reads_arabic_digits_and_formats():
    p = gen.parse_dates(pa.array(["1987-03-04", "1987-02-30", "87-03-04", "٢٠٠٠-٠٢-٢٩", "", None,
                                  "1987-03-04T10:20:30", " 1990-01-01 "]), "d")
    assert p.invalid.tolist() == [False, True, True, False, False, False, False, False]
    assert p.missing.tolist() == [False, False, False, False, True, True, False, False]
    ok = ~p.invalid & ~p.missing
    assert [str(np.datetime64(int(d), "D")) for d in p.days[ok]] == ["1987-03-04", "2000-02-29", "1987-03-04",
                                                                     "1990-01-01"]
    q = gen.parse_dates(pa.array(["04/03/1987", "31/04/1987", "4/3/1987"]), "d", "%d/%m/%Y")
    assert q.invalid.tolist() == [False, True, False]
    with pytest.raises(gen.BadValue) as info:
        p.check("birth_date", None, 100)
    assert "row 102" in str(info.value) and "1987-02-30" not in str(info.value)


# ------------------------------------------------------------------------------------------------ numbers
def test_number_buckets_equal_an_independent_computation():
    rng = random.Random(3)
    vals = [rng.uniform(-5000, 120000) for _ in range(2000)] + [0.0, 5000.0, 4999.999, 0.3, 0.7, 50000.0, 2999.0]
    got = gen.number_labels(np.array(vals), {"width": 5000, "bottom": 3000, "top": 50000}).to_pylist()

    def want(v):
        if v < 3000:
            return "<3000"
        if v >= 50000:
            return ">=50000"
        lo = math.floor(v / 5000) * 5000
        return f"[{max(lo, 3000)}, {lo + 5000})"
    assert got == [want(v) for v in vals]
    tenths = gen.number_labels(np.array([0.3, 0.29999, 0.1, 0.7, -0.05, 2.5]), {"width": 0.1}).to_pylist()
    assert tenths == ["[0.3, 0.4)", "[0.2, 0.3)", "[0.1, 0.2)", "[0.7, 0.8)", "[-0.1, 0)", "[2.5, 2.6)"]
    assert gen.number_labels(np.array([37.5, 12.0]), {"width": 2.5}).to_pylist() == ["[37.5, 40)", "[10, 12.5)"]
    edges = [0, 1000, 5000, 20000]
    got = gen.number_labels(np.array(vals), {"edges": edges}).to_pylist()

    def by_edges(v):
        i = bisect.bisect_right(edges, v)
        return "<0" if i == 0 else ">=20000" if i == len(edges) else f"[{edges[i - 1]}, {edges[i]})"
    assert got == [by_edges(v) for v in vals]


def test_numbers_parse_from_text_and_flag_the_rest():
    vals, missing, invalid = gen.parse_numbers(pa.array(["12", "1.5e3", "١٢٣", "N/A", "12,000", "3 EGP", None]), "x")
    assert vals[:3].tolist() == [12, 1500, 123]
    assert missing.tolist() == [False, False, False, True, False, False, True]
    assert invalid.tolist() == [False, False, False, False, True, True, False]


# ---------------------------------------------------------------------------------------- policy methods
def _customers(n: int = 3000, seed: int = 4) -> pa.Table:
    t = generate_table("eg-consumer-finance", "customers", n, seed=seed)
    return t.select(["customer_id", "national_id", "gender", "birth_date", "city_en", "city_ar",
                     "governorate_ar", "monthly_income_egp"])


def test_generalize_columns_through_tokenize_table():
    t = _customers(500)
    policy = {"columns": {
        "birth_date": {"type": "date", "method": "generalize", "to": "year"},
        "city_ar": {"type": "place", "method": "generalize", "country": "eg", "level": "city", "to": "governorate"},
        "monthly_income_egp": {"type": "number", "method": "generalize", "width": 10000, "top": 50000},
        "gender": {"type": "category", "method": "generalize", "to": "*"},
    }}
    out = tokenize_table(t, policy, KS)
    assert out.column("birth_date").to_pylist() == [str(d.year) for d in t.column("birth_date").to_pylist()]
    labels, govs = out.column("city_ar").to_pylist(), t.column("governorate_ar").to_pylist()
    assert all(g in label.split(" / ") for label, g in zip(labels, govs, strict=True))  # the row's own governorate
    assert sum(label == g for label, g in zip(labels, govs, strict=True)) > 0.95 * len(labels)  # mostly alone
    assert set(out.column("gender").to_pylist()) == {"*"}
    assert all(v.startswith("[") or v == ">=50000" for v in out.column("monthly_income_egp").to_pylist())
    back = detokenize_table(out, policy, KS)  # irreversible: left as it is
    assert back.equals(out)


def test_generalize_errors_name_column_and_row_never_the_value():
    t = pa.table({"d": ["2001-01-01", "2001-13-01", "2002-02-02"], "c": ["Cairo", "Nasr City", "Atlantis"]})
    with pytest.raises(TokenizeError) as info:
        tokenize_table(t, {"columns": {"d": {"type": "date", "method": "generalize", "to": "year"}}}, KS,
                       row_offset=10)
    assert "'d'" in str(info.value) and "row 12" in str(info.value) and "2001-13-01" not in str(info.value)
    pol = {"columns": {"c": {"type": "place", "method": "generalize", "country": "eg", "level": "city",
                             "to": "governorate"}}}
    with pytest.raises(TokenizeError) as info:
        tokenize_table(t, pol, KS)
    assert "row 1" in str(info.value) and "Atlantis" not in str(info.value)
    pol["columns"]["c"]["on_invalid"] = "null"
    assert tokenize_table(t, pol, KS).column("c").to_pylist() == [None, "Cairo", None]


@pytest.mark.parametrize("entry,fragment", [
    ({"type": "date", "method": "generalize"}, "needs to"),
    ({"type": "date", "method": "generalize", "to": "week"}, "one of"),
    ({"type": "date", "method": "generalize", "to": "age_band"}, "reference"),
    ({"type": "date", "method": "generalize", "to": "year", "width": 5}, "only apply"),
    ({"type": "number", "method": "generalize"}, "exactly one"),
    ({"type": "number", "method": "generalize", "edges": [5, 1]}, "ascending"),
    ({"type": "place", "method": "generalize", "country": "eg", "level": "district", "to": "city"}, "level"),
    ({"type": "place", "method": "generalize", "country": "sa", "level": "city", "to": "district"}, "above"),
    ({"type": "date", "method": "date_shift", "entity": "id"}, "max_days"),
    ({"type": "date", "method": "date_shift", "entity": "id", "max_days": 0}, "integer from 1"),
    ({"type": "date", "method": "fpe"}, "takes method"),
    ({"type": "phone", "method": "generalize"}, "is for the types"),
    ({"type": "date", "method": "generalize", "to": "year", "keep_last": 4}, "unknown setting"),
])
def test_policy_rejects_bad_transform_settings(entry, fragment):
    with pytest.raises(PolicyError) as info:
        Policy.from_dict({"columns": {"col": entry}})
    assert fragment in str(info.value) and "'col'" in str(info.value)


# ------------------------------------------------------------------------------------------------ date shift
def _shift_table(n: int = 400, seed: int = 5) -> pa.Table:
    """Several dates per person (a birth date and loan dates), several rows per person."""
    rng = random.Random(seed)
    ids = generate_table("eg-consumer-finance", "customers", n, seed=seed).column("national_id").to_pylist()
    rows = {"national_id": [], "birth_date": [], "disbursed_at": [], "note": []}
    for nid in ids:
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20000))
        for _ in range(rng.randrange(1, 4)):
            rows["national_id"].append(nid)
            rows["birth_date"].append(born)
            rows["disbursed_at"].append((dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(1000))).isoformat()
                                        + ("T09:30:00" if rng.random() < 0.3 else ""))
            rows["note"].append("x")
    return pa.table({"national_id": rows["national_id"], "birth_date": pa.array(rows["birth_date"], pa.date32()),
                     "disbursed_at": rows["disbursed_at"], "note": rows["note"]})


SHIFT = {"columns": {
    "national_id": {"type": "eg_national_id"},
    "birth_date": {"type": "date", "method": "date_shift", "entity": "national_id", "max_days": 30},
    "disbursed_at": {"type": "date", "method": "date_shift", "entity": "national_id", "max_days": 30},
}}


def _days(values) -> np.ndarray:
    return np.array([np.datetime64(str(v)[:10], "D").astype(np.int64) for v in values])


def test_date_shift_keeps_intervals_per_entity_and_differs_across_entities():
    t = _shift_table()
    out = tokenize_table(t, SHIFT, KS)
    d_birth = _days(out.column("birth_date").to_pylist()) - _days(t.column("birth_date").to_pylist())
    d_loan = _days(out.column("disbursed_at").to_pylist()) - _days(t.column("disbursed_at").to_pylist())
    assert (d_birth == d_loan).all()  # one shift per row for all its dates: intervals kept
    per_person: dict[str, set[int]] = {}
    for nid, d in zip(t.column("national_id").to_pylist(), d_birth.tolist(), strict=True):
        per_person.setdefault(nid, set()).add(d)
    assert all(len(s) == 1 for s in per_person.values())  # constant per entity (rows of one person agree)
    shifts = [next(iter(s)) for s in per_person.values()]
    assert min(shifts) >= -30 and max(shifts) <= 30 and 0 not in shifts
    assert len(set(shifts)) > 40  # differs across entities (400 people over 60 possible shifts)
    # the time of day after an ISO date is kept
    for before, after in zip(t.column("disbursed_at").to_pylist(), out.column("disbursed_at").to_pylist(),
                             strict=True):
        assert before[10:] == after[10:]
    back = detokenize_table(out, SHIFT, KS)
    assert back.equals(t)


def test_date_shift_reads_the_entity_before_it_is_tokenized():
    t = _shift_table(100)
    t = t.append_column("id_copy", t.column("national_id"))
    both = {"columns": {**SHIFT["columns"],
                        "disbursed_at": {**SHIFT["columns"]["disbursed_at"], "entity": "id_copy"}}}
    out = tokenize_table(t, both, KS)
    assert out.column("national_id") != t.column("national_id")
    # keyed by the raw ID whether or not the entity column is tokenized in the same run
    assert (_days(out.column("birth_date").to_pylist()) - _days(t.column("birth_date").to_pylist()) ==
            _days(out.column("disbursed_at").to_pylist()) - _days(t.column("disbursed_at").to_pylist())).all()


def test_date_shift_depends_on_the_key():
    t = _shift_table(100)
    a = tokenize_table(t, SHIFT, KS).column("birth_date")
    b = tokenize_table(t, SHIFT, Keyset.generate()).column("birth_date")
    assert a != b


def test_irreversible_date_shift_is_consistent_within_a_run_only():
    t = _shift_table(200)
    pol = {"columns": {k: ({**v, "reversible": False} if v.get("method") == "date_shift" else v)
                       for k, v in SHIFT["columns"].items()}}
    one, two = tokenize_table(t, pol, KS), tokenize_table(t, pol, KS)
    for out in (one, two):
        assert (_days(out.column("birth_date").to_pylist()) - _days(t.column("birth_date").to_pylist()) ==
                _days(out.column("disbursed_at").to_pylist()) - _days(t.column("disbursed_at").to_pylist())).all()
    assert one.column("birth_date") != two.column("birth_date")  # a fresh secret per run
    back = detokenize_table(one, pol, KS)
    assert back.column("birth_date").equals(one.column("birth_date"))  # nobody can reverse it


def test_date_shift_without_entity_gives_no_date():
    t = pa.table({"id": ["a", None, "", "b"], "d": ["2020-01-01", "2020-01-02", "2020-01-03", "N/A"]})
    pol = {"columns": {"d": {"type": "date", "method": "date_shift", "entity": "id", "max_days": 5}}}
    from tokenize_kit.table import TableReport

    rep = TableReport()
    out = tokenize_table(t, pol, KS, report=rep).column("d").to_pylist()
    assert out[1] is None and out[2] is None and out[3] == "N/A" and out[0] != "2020-01-01"
    assert rep.columns["d"].invalid == {"no_entity": 2}
    with pytest.raises(TokenizeError, match="entity column 'nope'"):
        tokenize_table(t, {"columns": {"d": {**pol["columns"]["d"], "entity": "nope"}}}, KS)


# ------------------------------------------------------------------------------------- ID tokens' kept parts
@pytest.mark.parametrize("keep,level", [("birth_month", "month"), ("birth_year", "year"), ("birth_5y", "5y"),
                                        ("birth_10y", "10y")])
def test_eg_id_token_keeps_the_birth_date_class_and_reverses(keep, level):
    ids = _customers(2000, seed=6).column("national_id").combine_chunks()
    pol = {"columns": {"national_id": {"type": "eg_national_id", "keep": [keep, "governorate"]}}}
    tokens = tokenize_table(pa.table({"national_id": ids}), pol, KS).column("national_id").combine_chunks()
    a, b = kept_parts(ids), kept_parts(tokens)
    assert b["ok"].all()
    assert (gen.date_class(a["days"], level) == gen.date_class(b["days"], level)).all()
    assert (a["governorate"] == b["governorate"]).all()
    assert (a["days"] != b["days"]).mean() > 0.5  # the date itself is hidden
    back = detokenize_table(pa.table({"national_id": tokens}), pol, KS).column("national_id")
    assert back.combine_chunks().equals(ids)
