"""Synthetic datasets: valid by the registry AND by independent checks, consistent across fields and
tables, following the published shares they claim, deterministic and prefix-stable."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner
from hijridate import Gregorian

from generators import BATCH_ROWS, generate_batch, generate_table, load
from tests.test_pii_identifiers import independent_eg_id_ok, independent_luhn_ok, plain
from tokenize_kit import refdata
from tokenize_kit.cli import cli
from tokenize_kit.pii import free_text, registry
from tokenize_kit.pii.base import ColumnSpec

REF = dt.date(2025, 12, 31)
N = 20_000


def _rows(table: pa.Table | pa.RecordBatch) -> list[dict]:
    return table.to_pylist()


@pytest.fixture(scope="module")
def eg():
    out = generate_batch(load("eg-consumer-finance"), 0, 3, None, N)
    return {k: pa.Table.from_batches([v]) for k, v in out.items()}


@pytest.fixture(scope="module")
def sa():
    out = generate_batch(load("sa-water-utility"), 0, 3, None, N)
    return {k: pa.Table.from_batches([v]) for k, v in out.items()}


def _ref_map(table: str, key: str, value: str) -> dict:
    t = refdata.table(table)
    return dict(zip(t.column(key).to_pylist(), t.column(value).to_pylist(), strict=True))


# ----------------------------------------------------------------------------------------- Egypt
def test_eg_ids_valid_unique_and_encode_the_row(eg):
    c = eg["customers"]
    ids = c.column("national_id").to_pylist()
    assert len(set(ids)) == len(ids) == N
    assert registry.get("eg_national_id").valid_mask(c.column("national_id")).all()
    gov_en = _ref_map("eg_governorates", "code", "name_en")
    for r in _rows(c):
        nid = r["national_id"]
        assert independent_eg_id_ok(nid, max_date=REF)
        century = 1900 if nid[0] == "2" else 2000
        assert dt.date(century + int(nid[1:3]), int(nid[3:5]), int(nid[5:7])) == r["birth_date"]
        assert ("M" if int(nid[12]) % 2 else "F") == r["gender"]
        assert gov_en[int(nid[7:9])] == r["governorate_en"]
        b = r["birth_date"]
        assert 21 <= REF.year - b.year - ((REF.month, REF.day) < (b.month, b.day)) < 70


def _pool(pool: str) -> dict[tuple[str, str], list[dict]]:
    """(role, gender) -> rows of person_names.csv for one pool."""
    out: dict[tuple[str, str], list[dict]] = {}
    for r in refdata.table("person_names").to_pylist():
        if r["pool"] == pool:
            out.setdefault((r["role"], r["gender"]), []).append(r)
    return out


def test_eg_names_match_gender_and_transliterate_consistently(eg):
    pool = _pool("eg")
    given = {g: {r["name_ar"]: r for r in pool[("given", g)]} for g in ("M", "F")}
    family = {r["name_ar"]: r for r in pool[("family", "U")]}
    for r in _rows(eg["customers"])[:5000]:
        ar, en = r["full_name_ar"].split(" "), r["full_name_en"].split(" ")
        assert len(ar) == len(en) == 4
        first = given[r["gender"]][ar[0]]  # a given name of the row's own gender
        assert first["name_en"] == en[0]
        assert given["M"][ar[1]]["name_en"] == en[1] and given["M"][ar[2]]["name_en"] == en[2]  # male ancestors
        assert family[ar[3]]["name_en"] == en[3]
        trads = {first["tradition"], given["M"][ar[1]]["tradition"], given["M"][ar[2]]["tradition"],
                 family[ar[3]]["tradition"]} - {"any"}
        assert len(trads) <= 1, en  # one family, one naming tradition
        if r["email"] is not None:
            assert registry.get("email").is_valid(r["email"])
            assert r["email"].startswith(re.sub("[^a-z0-9]", "", en[0].lower()) + "."
                                         + re.sub("[^a-z0-9]", "", en[-1].lower()))


def test_name_frequencies_follow_published_counts(eg, sa):
    """First names are drawn by their published weight: the top names' shares stay within a stated tolerance
    (2 points, or 15% of the share) of person_names.csv."""
    for data, pool, col in ((eg, "eg", "full_name_en"), (sa, "sa", "full_name_en")):
        c = data["customers"]
        rows = [(r[col].split(" ")[0], r["gender"]) for r in _rows(c)
                if pool == "eg" or r["nationality_en"] == "Saudi"]
        men = Counter(n for n, g in rows if g == "M")
        total = sum(men.values())
        table = _pool(pool)[("given", "M")]
        weights = Counter()
        for r in table:  # expected share of a first name: its weight over the pool's male weights
            weights[r["name_en"]] += r["weight"]
        wsum = sum(weights.values())
        for name, w in weights.most_common(5):
            expected = w / wsum
            assert abs(men[name] / total - expected) < max(0.02, 0.15 * expected), (pool, name)


def test_eg_places_are_consistent_and_follow_population(eg):
    c = eg["customers"]
    cities = refdata.table("eg_cities")
    city_gov = {(g, n) for g, n in zip(cities.column("governorate_code").to_pylist(),
                                       cities.column("name_en").to_pylist(), strict=True)}
    code_of = {v: k for k, v in _ref_map("eg_governorates", "code", "name_en").items()}
    villages = refdata.table("eg_villages").to_pylist()
    markaz = {(v["governorate_code"], v["markaz_en"]) for v in villages}
    village_of = {(v["governorate_code"], v["markaz_ar"], v["name_ar"]) for v in villages}
    rural = 0
    for r in _rows(c)[:5000]:
        code = code_of[r["governorate_en"]]
        if "، قرية " in r["address_ar"] or r["address_ar"].startswith("قرية "):
            rural += 1  # قرية <village>، مركز <markaz>، <governorate>: the village lies in the row's markaz
            assert (code, r["city_en"]) in markaz
            tail = r["address_ar"].split("قرية ", 1)[1]
            village, rest = tail.split("، مركز ", 1)
            assert (code, r["city_ar"], village) in village_of
            assert rest == f"{r['city_ar']}، {r['governorate_ar']}"
        else:
            assert (code, r["city_en"]) in city_gov
            assert r["address_ar"].endswith(f"، {r['city_ar']}، {r['governorate_ar']}")
    assert abs(rural / 5000 - 0.57) < 0.03  # CAPMAS: 57% of Egyptians live in rural areas
    pop = _ref_map("eg_governorate_population", "code", "population")
    total = sum(pop.values())
    seen = Counter(code_of[g] for g in c.column("governorate_en").to_pylist())
    for code, p in pop.items():
        expected = p / total
        assert abs(seen[code] / N - expected) < 0.01 + 0.15 * expected, code


def test_eg_phones_valid_with_market_shares(eg):
    c = eg["customers"]
    assert registry.get("eg_phone").valid_mask(c.column("mobile")).all()
    for m in c.column("mobile").to_pylist()[:3000] + [p for p in c.column("second_phone").to_pylist()[:3000] if p]:
        n = phonenumbers.parse(m, "EG")
        assert phonenumbers.is_valid_number(n)
        assert phonenumbers.number_type(n) == phonenumbers.PhoneNumberType.MOBILE
    shares = refdata.table("eg_mobile_operators")
    seen = Counter(m[1:3] for m in c.column("mobile").to_pylist())
    total = sum(shares.column("share").to_pylist())
    for prefix, share in zip(shares.column("prefix").to_pylist(), shares.column("share").to_pylist(), strict=True):
        assert abs(seen[f"{int(prefix):02d}"] / N - share / total) < 0.02
    assert 0.25 < pc.sum(pc.is_valid(c.column("second_phone"))).as_py() / N < 0.35


def test_ibans_valid_by_registry_and_independent_mod97(eg, sa):
    def mod97_ok(x: str) -> bool:
        s = x[4:] + x[:4]
        return int("".join(str(int(ch, 36)) for ch in s)) % 97 == 1

    for table, col, country, length in ((eg, "salary_iban", "EG", 29), (sa, "refund_iban", "SA", 24)):
        values = [v for v in table["customers"].column(col).to_pylist() if v]
        assert 0.3 < len(values) / N < 0.7
        assert registry.get("iban").valid_mask(pa.array(values)).all()
        for v in values[:2000]:
            assert v.startswith(country) and len(v) == length and mod97_ok(v)


def test_eg_loans_consistent(eg):
    customers = {r["customer_id"]: r for r in _rows(eg["customers"])}
    loans = _rows(eg["loans"])
    assert 1.25 < len(loans) / N < 1.45
    for ln in loans:
        cust = customers[ln["customer_id"]]  # foreign key resolves
        assert ln["loan_id"].startswith("L" + ln["customer_id"][1:] + "-")
        assert cust["birth_date"] < ln["disbursed_at"] <= REF
        r = ln["annual_rate_pct"] / 1200
        expected = ln["principal_egp"] * r / (1 - (1 + r) ** -ln["tenor_months"])
        assert abs(ln["instalment_egp"] - expected) < 0.01
        assert 0 <= ln["instalments_due"] <= ln["tenor_months"]
        k, due = ln["instalments_overdue"], ln["instalments_due"]
        assert 0 <= k <= due
        dpd = ln["days_past_due"]
        assert dpd == ((REF - _add_month(ln["disbursed_at"], due - k + 1)).days if k else 0)
        expect = "default" if dpd > 90 else "delinquent" if dpd else (
            "closed" if ln["instalments_due"] == ln["tenor_months"] else "current")
        assert ln["status"] == expect
    assert 3000 <= min(ln["principal_egp"] for ln in loans) and max(ln["principal_egp"] for ln in loans) <= 3_000_000


def _add_month(d: dt.date, k: int) -> dt.date:
    m = d.month - 1 + k
    y, m = d.year + m // 12, m % 12 + 1
    import calendar

    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def test_eg_instalments_follow_schedule_and_arrears(eg):
    loans = {r["loan_id"]: r for r in _rows(eg["loans"])}
    by_loan: dict[str, list[dict]] = {}
    for i in _rows(eg["instalments"]):
        by_loan.setdefault(i["loan_id"], []).append(i)
    assert set(by_loan) <= set(loans)
    for lid, ln in loans.items():
        rows = by_loan.get(lid, [])
        assert len(rows) == ln["instalments_due"]
        not_fully_paid = 0
        for k, inst in enumerate(rows, start=1):
            assert inst["instalment_no"] == k
            assert inst["due_date"] == _add_month(ln["disbursed_at"], k) <= REF
            assert inst["amount_egp"] == ln["instalment_egp"]
            if inst["payment_status"] in ("unpaid", "partial"):
                not_fully_paid += 1
            if inst["paid_at"] is None:
                assert inst["paid_amount_egp"] is None and inst["payment_status"] == "unpaid"
            else:
                assert inst["due_date"] <= inst["paid_at"] <= REF
                if inst["payment_status"] == "partial":  # part of the oldest overdue instalment
                    assert inst["paid_amount_egp"] == ln["partial_paid_egp"] < inst["amount_egp"]
                else:
                    assert inst["paid_amount_egp"] == inst["amount_egp"]
                    late = (inst["paid_at"] - inst["due_date"]).days
                    assert late <= ln["max_days_late"] or inst["paid_at"] == REF
                    assert (inst["payment_status"] == "late") == (late > 5)
        assert not_fully_paid == ln["instalments_overdue"]
        assert all(i["payment_status"] in ("unpaid", "partial") for i in rows[len(rows) - not_fully_paid:])
        assert (not_fully_paid > 0) == (ln["days_past_due"] > 0)  # days past due count from the oldest one


def test_eg_collections_only_for_late_loans(eg):
    loans = {r["loan_id"]: r for r in _rows(eg["loans"])}
    sent = _rows(eg["collection_assignments"])
    assert {a["loan_id"] for a in sent} == {k for k, v in loans.items() if v["days_past_due"] > 60}
    agencies = set()
    for a in sent:
        ln = loans[a["loan_id"]]
        assert a["customer_id"] == ln["customer_id"]
        assert REF - dt.timedelta(days=ln["days_past_due"] - 60) <= a["assigned_at"] <= REF
        assert a["outstanding_egp"] == round(ln["instalment_egp"] * ln["instalments_overdue"]
                                             - ln["partial_paid_egp"], 2)
        agencies.add(a["agency"])
    assert len(agencies) == 5


# ----------------------------------------------------------------------------------------- Saudi
def test_sa_ids_residency_nationality_and_hijri(sa):
    c = sa["customers"]
    ids = c.column("national_id").to_pylist()
    assert len(set(ids)) == len(ids) == N
    assert registry.get("sa_national_id").valid_mask(c.column("national_id")).all()
    for r in _rows(c)[:5000]:
        assert independent_luhn_ok(r["national_id"]) and len(r["national_id"]) == 10
        citizen = r["residency"] == "citizen"
        assert r["national_id"][0] == ("1" if citizen else "2")
        assert (r["nationality_en"] == "Saudi") == citizen
        if citizen:
            h = Gregorian(r["birth_date"].year, r["birth_date"].month, r["birth_date"].day).to_hijri()
            assert r["birth_date_hijri"] == f"{h.year:04d}-{h.month:02d}-{h.day:02d}"
        else:
            assert r["birth_date_hijri"] is None
    share = sum(1 for x in c.column("residency").to_pylist() if x == "citizen") / N
    assert abs(share - 0.584) < 0.015
    male_res = [g for g, r in zip(c.column("gender").to_pylist(), c.column("residency").to_pylist(), strict=True)
                if r == "resident"]
    assert abs(male_res.count("M") / len(male_res) - 0.76) < 0.02


def test_sa_national_address_consistent(sa):
    c = sa["customers"]
    regions = refdata.table("sa_regions")
    region_of_city = dict(zip(regions.column("capital_en").to_pylist(), regions.column("name_en").to_pylist(),
                              strict=True))
    region_of_city.update(_ref_map("sa_cities", "name_en", "region_en"))
    digit = _ref_map("sa_postal_regions", "region_en", "first_digit")
    bands = {r["city_en"]: (r["postal_from"], r["postal_to"]) for r in refdata.table("sa_postal_ranges").to_pylist()}
    districts = {(r["city_en"], r["name_en"]) for r in refdata.table("sa_city_districts").to_pylist()}
    for r in _rows(c)[:5000]:
        assert region_of_city[r["city_en"]] == r["region_en"]
        assert re.fullmatch(r"\d{5}", r["postal_code"]) and int(r["postal_code"][0]) == digit[r["region_en"]]
        if r["city_en"] in bands:
            lo, hi = bands[r["city_en"]]
            assert lo <= int(r["postal_code"]) <= hi
        assert (r["city_en"], r["district_en"]) in districts  # a district of the row's own city
        assert re.fullmatch(r"\d{4}", r["building_number"]) and re.fullmatch(r"\d{4}", r["additional_number"])
        assert re.fullmatch(r"[A-Z]{4}\d{4}", r["short_address"]) and r["short_address"][4:] == r["building_number"]
    pop = _ref_map("sa_region_population", "region_en", "population")
    total = sum(pop.values())
    seen = Counter(c.column("region_en").to_pylist())
    for region, p in pop.items():
        assert abs(seen[region] / N - p / total) < 0.01 + 0.15 * p / total, region


def test_sa_phones_and_names(sa):
    c = sa["customers"]
    assert registry.get("sa_phone").valid_mask(c.column("mobile")).all()
    tribal = {r["name_en"] for r in refdata.table("person_names").to_pylist() if r["pool"] == "sa"
              and r["role"] == "family"}
    pool_of = _ref_map("nationalities", "name_en", "name_pool")
    given = {}
    for r in refdata.table("person_names").to_pylist():
        if r["role"] == "given":
            given.setdefault((r["pool"], r["gender"]), set()).add(r["name_en"])
    for r in _rows(c)[:5000]:
        n = phonenumbers.parse(r["mobile"], "SA")
        assert phonenumbers.is_valid_number(n) and phonenumbers.number_type(n) == phonenumbers.PhoneNumberType.MOBILE
        pool = pool_of[r["nationality_en"]]
        last = r["full_name_en"].rsplit(" ", 1)[-1]
        if r["residency"] == "citizen":
            assert r["full_name_en"].split(" ")[-1] in {t.split(" ")[-1] for t in tribal}
        else:
            assert not any(r["full_name_en"].endswith(" " + t) for t in tribal), r  # never a tribal name
        first = r["full_name_en"]
        assert any(first == g or first.startswith(g + " ") for g in given[(pool, r["gender"])]), r
        assert last


def test_sa_meters_bills_and_requests(sa):
    accounts = {r["account_no"]: r for r in _rows(sa["customers"])}
    meters = {r["meter_no"]: r for r in _rows(sa["meters"])}
    assert all(m["account_no"] in accounts and m["installed_at"] < REF for m in meters.values())
    bills = _rows(sa["bills"])
    assert len(bills) == 12 * len(meters)
    per_meter = Counter(b["meter_no"] for b in bills)
    assert set(per_meter.values()) == {12}
    for b in bills[:5000]:
        assert meters[b["meter_no"]]["account_no"] == b["account_no"]
        q = b["consumption_m3"]
        tiers = [(15, 0.15), (30, 1.5), (45, 4.5), (60, 6.0), (float("inf"), 9.0)]
        lower, amount = 0, 0.0
        for top, price in tiers:
            amount += max(0, min(q, top) - lower) * price
            lower = top
        assert abs(b["amount_sar"] - amount) < 0.01
        assert b["period_start"].day == 1 and b["due_date"] == b["period_start"] + dt.timedelta(days=45)
    reqs = sa["service_requests"]
    rows = _rows(reqs)
    for r in rows:
        assert r["account_no"] in accounts and r["created_at"] <= REF
        assert r["closed_at"] is None or r["created_at"] <= r["closed_at"] <= REF
    numbers = ColumnSpec("description_ar", "free_text", options={"find": ["national_id", "phone"]})
    spans = free_text.find(reqs.column("description_ar"), numbers)
    with_pii = {row for row, *_ in spans}
    assert 0.25 < len(with_pii) / len(rows) < 0.35
    for row, start, end, _ in spans:  # every mention is the account holder's own phone or ID
        text = plain(rows[row]["description_ar"][start:end])
        cust = accounts[rows[row]["account_no"]]
        assert text in (cust["mobile"], cust["national_id"])


# ----------------------------------------------------------------------------------------- engine
def test_deterministic_and_prefix_stable_across_batches():
    a = generate_table("eg-consumer-finance", "customers", 1_000, seed=11)
    b = generate_table("eg-consumer-finance", "customers", BATCH_ROWS + 10, seed=11)
    assert a.equals(b.slice(0, 1_000))
    assert b.num_rows == BATCH_ROWS + 10
    assert len(set(b.column("national_id").to_pylist())) == b.num_rows  # unique across batches too
    c = generate_table("eg-consumer-finance", "customers", 1_000, seed=12)
    assert not a.equals(c)
    la = generate_table("eg-consumer-finance", "loans", 1_000, seed=11)
    lb = generate_table("eg-consumer-finance", "loans", 3_000, seed=11)
    assert la.equals(lb.slice(0, la.num_rows))
    assert set(la.column("customer_id").to_pylist()) <= set(a.column("customer_id").to_pylist())


def test_cli_generate_byte_identical_and_dirty_truth(tmp_path):
    runner = CliRunner()
    for d in ("a", "b"):
        res = runner.invoke(cli, ["generate", "sa-water-utility", str(tmp_path / d), "--rows", "400",
                                  "--seed", "5", "--format", "csv", "--dirty", "0.1", "-q"])
        assert res.exit_code == 0, res.output
    for name in ("customers", "meters", "bills", "service_requests", "_truth"):
        assert (tmp_path / "a" / f"{name}.csv").read_bytes() == (tmp_path / "b" / f"{name}.csv").read_bytes()
    res = runner.invoke(cli, ["generate", "nope", str(tmp_path / "c")])
    assert res.exit_code != 0 and "unknown dataset" in res.output


def test_dirty_truth_describes_every_change(tmp_path):
    from tokenize_kit.io import read_batches

    def read_table(path):
        batches, _ = read_batches(path)
        return pa.Table.from_batches(list(batches))

    runner = CliRunner()
    res = runner.invoke(cli, ["generate", "eg-consumer-finance", str(tmp_path / "d"), "--rows", "3000", "--seed", "2",
                              "--format", "csv", "--dirty", "0.08", "--tables", "customers", "-q"])
    assert res.exit_code == 0, res.output
    clean = generate_table("eg-consumer-finance", "customers", 3000, seed=2)
    dirty = read_table(tmp_path / "d" / "customers.csv")
    truth = read_table(tmp_path / "d" / "_truth.csv").to_pylist()
    changed = set()
    for t in truth:
        col, row, kind = t["column"], int(t["row"]), t["defect"]
        want = clean.column(col)[row].as_py()
        got = dirty.column(col)[row].as_py()
        assert t["clean_value"] == want
        changed.add((row, col))
        if kind == "arabic_digits":
            assert plain(got) == want and got != want
        elif kind == "lost_leading_zero":
            assert "0" + got == want
        elif kind == "stray_spaces":
            assert " ".join(got.split()) == " ".join(want.split()) and got != want
        elif kind == "not_available":
            assert got == "N/A"
        elif kind == "scientific":
            assert re.fullmatch(r"\d(\.\d+)?E\+\d+", got) and float(got) == pytest.approx(float(want), rel=1e-13)
        elif kind == "wrong_column":
            row_values = {c: clean.column(c)[row].as_py() for c in clean.column_names}
            assert got in row_values.values() or got == "N/A"
    assert {t["defect"] for t in truth} == {"arabic_digits", "lost_leading_zero", "stray_spaces", "not_available",
                                             "scientific", "wrong_column"}
    eligible = ["national_id", "full_name_ar", "full_name_en", "address_ar", "mobile", "second_phone", "email",
                "salary_iban"]
    for col in dirty.column_names:  # nothing changed that the truth file does not list
        a, b = dirty.column(col).to_pylist(), clean.column(col).to_pylist()
        for row, (x, y) in enumerate(zip(a, b, strict=True)):
            if (row, col) not in changed and col in eligible:
                assert x == y or (x in (None, "") and y in (None, "")), (row, col)
    assert 0.05 < len(truth) / (3000 * len(eligible)) < 0.09


@pytest.mark.parametrize("bad, message", [
    ("dataset: x\ntables: {}\n", "'tables' must map"),
    ("dataset: x\ntables:\n  t:\n    columns:\n      a: {kind: nope}\n", "table 't', column 'a': unknown kind 'nope'"),
    ("dataset: x\ntables:\n  t:\n    columns:\n      a: {kind: choice}\n", "column 'a': kind 'choice' needs values"),
    ("dataset: x\ntables:\n  t:\n    columns:\n      a: {kind: choice, values: [1], colour: red}\n",
     "does not take colour"),
    ("dataset: x\ntables:\n  t:\n    columns:\n      a: {kind: person_name, gender: g}\n",
     "gender refers to 'g', which is not a column defined above"),
    ("dataset: x\ntables:\n  t:\n    columns:\n      a: {kind: sequence}\n  u:\n    columns:\n"
     "      b: {kind: sequence}\n", "table 'u': needs 'parent'"),
    ("dataset: x\ntables:\n  t:\n    columns:\n      a: {kind: sequence}\n  u:\n    parent: t\n"
     "    per_parent: {fixed: 2}\n    columns:\n      b: {kind: parent, column: zz}\n", "no such column"),
    ("dataset: x\ntables:\n  t:\n    columns:\n      a: {kind: sequence, null_rate: 2}\n", "null_rate"),
    ("dataset: x\ntables: [\n", "not valid YAML"),
])
def test_bad_schemas_name_table_column_and_problem(tmp_path, bad, message):
    from generators import SchemaError

    p = tmp_path / "s.yaml"
    p.write_text(bad, encoding="utf-8")
    with pytest.raises(SchemaError, match=re.escape(message)):
        load(p)
    res = CliRunner().invoke(cli, ["schemas", "validate", str(p)])
    assert res.exit_code == 2 and message in res.output


def test_schemas_cli_list_show_validate(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["schemas", "list"])
    assert "eg-consumer-finance" in res.output and "sa-water-utility" in res.output
    res = runner.invoke(cli, ["schemas", "show", "eg-consumer-finance"])
    assert res.exit_code == 0 and "national_id" in res.output and "eg_national_id" in res.output
    res = runner.invoke(cli, ["schemas", "show", "sa-water-utility", "--yaml"])
    own = tmp_path / "mine.yaml"
    own.write_text(res.output.replace("dataset: sa-water-utility", "dataset: mine"), encoding="utf-8")
    res = runner.invoke(cli, ["schemas", "validate", str(own)])
    assert res.exit_code == 0 and "OK" in res.output
    res = runner.invoke(cli, ["generate", str(own), str(tmp_path / "out"), "--rows", "50", "-q",
                              "--tables", "customers"])
    assert res.exit_code == 0 and (tmp_path / "out" / "customers.parquet").exists()


def test_generated_ids_valid_for_independent_numpy_check():
    """10^5 IDs across two batches: every serial/gender/date field valid, no duplicate even across batches."""
    t = generate_table("eg-consumer-finance", "customers", 2 * BATCH_ROWS, seed=99)
    ids = np.array(t.column("national_id").to_pylist())
    assert len(np.unique(ids)) == len(ids)
    assert all(independent_eg_id_ok(x, REF) for x in ids[::97])


def test_kind_misuse_fails_with_table_and_column(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("dataset: x\ntables:\n  t:\n    columns:\n      a: {kind: sequence}\n"
                 "      g: {kind: eg_id_part, id: a, part: gender}\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["schemas", "validate", str(p)])
    assert res.exit_code == 2
    assert "table 't', column 'g': eg_id_part needs id to be an eg_national_id column" in res.output


@pytest.mark.parametrize("limit", [1, 50, 100_000])
def test_join_drawn_equals_joining_part_by_part(monkeypatch, limit):
    """Merging adjacent parts into tables of all their pairs must not change a single string, whatever gets
    merged (literal + literal, literal + table, table + table) and with merging off (limit 1)."""
    from generators import columns

    monkeypatch.setattr(columns, "PAIR_LIMIT", limit)
    rng = np.random.default_rng(5)
    a = pa.array(["أحمد", "Sara", "", "محمد علي"], pa.string())
    b = pa.array([str(i) for i in range(30)], pa.string())
    n = 500
    ia, ib, ia2 = rng.integers(0, len(a), n), rng.integers(0, len(b), n), rng.integers(0, len(a), n)
    for sep in ("", " ", "، "):
        parts = ["x", "y", (a, ia), "-", (b, ib), (a, ia2), "z"]
        got = columns.join_drawn(parts, sep).to_pylist()
        pieces = [[p] * n if isinstance(p, str) else p[0].take(pa.array(p[1])).to_pylist() for p in parts]
        assert got == [sep.join(row) for row in zip(*pieces, strict=True)]


def test_join_drawn_refuses_literals_only():
    from generators import columns

    with pytest.raises(ValueError, match="drawn part"):
        columns.join_drawn(["a", "b"], " ")
