"""The realism table: each generated property against the published figure it follows, with its source.

``tokenize-kit generate --report`` (and ``make bench``) prints it for the built-in datasets on 200,000
customers each; the test suite runs the same checks on fewer rows.  A *rule* must hold on every row
(``ours`` counts the rows that break it, the target is 0); a *share* must stay within the stated tolerance
of the published figure; a *bound* (``at least`` / ``at most``) is a one-sided target.  Every figure's
source is a row of ``tokenize_kit/refdata/SOURCES.md``; where no published figure exists the source says
so (``no published figure``) and the target is the schema's own illustrative parameter.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit import refdata

from .columns import _add_months
from .engine import iter_batches
from .people import ages_on
from .schema import load

#: the reference date of both built-in schemas (ages are taken on it)
_REF = np.datetime64("2025-12-31")


@dataclass(frozen=True)
class Check:
    dataset: str
    prop: str
    ours: float
    published: float
    tolerance: float
    source: str
    #: ``within`` (|ours - published| <= tolerance), ``at_least`` or ``at_most`` (published +- tolerance)
    bound: str = "within"

    @property
    def ok(self) -> bool:
        if self.bound == "at_least":
            return self.ours >= self.published - self.tolerance
        if self.bound == "at_most":
            return self.ours <= self.published + self.tolerance
        return abs(self.ours - self.published) <= self.tolerance

    @property
    def target(self) -> str:
        """The target as text: ``0`` for a rule, ``0.515 +- 0.01`` for a share, ``>= 300`` for a bound."""
        if self.bound == "at_least":
            return f">= {_fmt(self.published - self.tolerance)}"
        if self.bound == "at_most":
            return f"<= {_fmt(self.published + self.tolerance)}"
        if self.tolerance == 0:
            return _fmt(self.published)
        return f"{_fmt(self.published)} +- {_fmt(self.tolerance)}"


def _fmt(v: float) -> str:
    if (float(v).is_integer() and abs(v) >= 1) or v == 0:
        return f"{v:,.0f}"
    return f"{v:.4g}" if abs(v) < 1 else f"{v:,.2f}"


def _tables(dataset: str, rows: int, seed: int) -> dict[str, pa.Table]:
    parts: dict[str, list[pa.RecordBatch]] = {}
    for batch in iter_batches(load(dataset), rows, seed):
        for t, rb in batch.items():
            parts.setdefault(t, []).append(rb)
    return {t: pa.Table.from_batches(b) for t, b in parts.items()}


def _np(t: pa.Table, col: str) -> np.ndarray:
    return t.column(col).to_numpy()


def _index(keys: pa.ChunkedArray, of: pa.ChunkedArray) -> np.ndarray:
    """Position of each ``of`` value in ``keys`` (a foreign key resolved to its parent row)."""
    return np.asarray(pc.index_in(of, value_set=keys.combine_chunks()).to_numpy(zero_copy_only=False), np.int64)


def eg_checks(rows: int, seed: int = 1) -> list[Check]:
    d = "eg-consumer-finance"
    t = _tables(d, rows, seed)
    c, loans = t["customers"], t["loans"]
    out: list[Check] = []
    sex = _np(c, "gender")
    occ = _np(c, "occupation")
    birth = _np(c, "birth_date").astype("datetime64[D]")
    age = ages_on(birth, _REF)
    out.append(Check(d, "rule: men who are housewives", int(((occ == "ربة منزل") & (sex == "M")).sum()), 0, 0,
                     "schema rule (occupation by sex)"))
    out.append(Check(d, "rule: retirees under 60", int(((occ == "متقاعد") & (age < 60)).sum()), 0, 0,
                     "pension age 60, Social Insurance Law 148/2019 (SOURCES.md)"))
    emp = np.isin(occ, ["موظف حكومي", "موظف قطاع خاص", "مدرس", "مهندس", "طبيب", "محاسب", "عامل"])
    out.append(Check(d, "rule: employees under the EGP 7,000 minimum wage",
                     int((emp & (_np(c, "monthly_income_egp") < 7000)).sum()), 0, 0,
                     "National Wages Council, 1 Mar 2025 (SOURCES.md)"))
    inc_c = _np(c, "monthly_income_egp").astype(np.float64)
    doc, lab = np.median(inc_c[occ == "طبيب"]), np.median(inc_c[occ == "عامل"])
    out.append(Check(d, "median income, physicians / labourers", float(doc / lab), 2, 0,
                     "no published figure: schema medians 25,000 / 7,500 (illustrative)", "at_least"))
    bands = refdata.table("eg_age_bands").to_pylist()
    w = {}
    for r in bands:
        for y in range(int(r["age_from"]), int(r["age_to"]) + 1):
            w[y] = float(r["share_pct"]) / (int(r["age_to"]) - int(r["age_from"]) + 1)
    total = sum(w[int(a)] for a in range(21, 66))
    for lo, hi in ((21, 34), (35, 49), (50, 59), (60, 65)):
        pub = sum(w[a] for a in range(lo, hi + 1)) / total
        out.append(Check(d, f"share aged {lo}-{hi}", float(((age >= lo) & (age <= hi)).mean()), pub, 0.01,
                         "CAPMAS census 2017 age bands (eg_age_bands.csv)"))
    out.append(Check(d, "share male", float((sex == "M").mean()), 0.515, 0.01, "CAPMAS, 1/1/2021 (SOURCES.md)"))
    gov = _np(c, "governorate_en")
    pop = {r["code"]: r["population"] for r in refdata.table("eg_governorate_population").to_pylist()}
    names = dict(zip(refdata.table("eg_governorates").column("code").to_pylist(),
                     refdata.table("eg_governorates").column("name_en").to_pylist(), strict=True))
    gov_total = sum(pop.values())
    for code in sorted(pop, key=lambda k: -pop[k])[:3]:
        out.append(Check(d, f"share living in {names[code]}", float((gov == names[code]).mean()),
                         pop[code] / gov_total, 0.01, "CAPMAS population clock, 2023 (eg_governorate_population.csv)"))
    addr = c.column("address_ar")
    rural = pc.match_substring(addr, "قرية ").to_numpy(zero_copy_only=False)
    out.append(Check(d, "share rural (village address)", float(rural.mean()), 0.57, 0.02,
                     "CAPMAS, 1/1/2022 (eg_villages.csv row)"))
    mob = pc.utf8_slice_codeunits(c.column("mobile"), 0, 3).to_numpy(zero_copy_only=False)
    for r in refdata.table("eg_mobile_operators").to_pylist():
        prefix = str(r["prefix"]).zfill(3)
        out.append(Check(d, f"share of mobiles {prefix} ({r['operator']})", float((mob == prefix).mean()),
                         r["share"] / 100, 0.01, "Omdia via operatorwatch, 2022 (eg_mobile_operators.csv)"))
    first = pc.utf8_split_whitespace(c.column("full_name_en"), max_splits=1)
    first = np.asarray(pc.list_element(first, 0).to_numpy(zero_copy_only=False))
    men = first[sex == "M"]
    pool = [r for r in refdata.table("person_names").to_pylist() if r["pool"] == "eg" and r["role"] == "given"
            and r["gender"] == "M"]

    def expected(names: set[str]) -> float:
        """Share of men given one of ``names``: Muslim families (90%) draw from the Muslim and shared names by
        their counts, Christian families (10%, CIA World Factbook) from the Christian and shared ones."""
        share = 0.0
        for trad, p in (("muslim", 0.9), ("christian", 0.1)):
            group = [r for r in pool if r["tradition"] in (trad, "any")]
            share += p * sum(r["weight"] for r in group if r["name_en"] in names) / sum(r["weight"] for r in group)
        return share

    top = [r["name_en"] for r in sorted(pool, key=lambda r: -r["weight"])]
    out.append(Check(d, f"share of men named {top[0]}", float((men == top[0]).mean()), expected({top[0]}), 0.015,
                     "egy-names counts (person_names.csv)"))
    out.append(Check(d, "share of men with one of the 10 commonest names", float(np.isin(men, top[:10]).mean()),
                     expected(set(top[:10])), 0.02, "egy-names counts (person_names.csv)"))
    # loans: instalment within the customer's income share, ages within lending rules
    ci = _index(c.column("customer_id"), loans.column("customer_id"))
    inc = inc_c[ci]
    inst = _np(loans, "instalment_egp")
    per_cust = np.bincount(ci, weights=inst, minlength=c.num_rows)
    out.append(Check(d, "rule: customers whose instalments exceed 50% of income",
                     int((per_cust > 0.5 * inc_c + 0.01).sum()), 0, 0,
                     "Central Bank of Egypt, 22 Dec 2019: consumer instalments <= 50% of income (SOURCES.md)"))
    out.append(Check(d, "share of loans whose instalment is over 35% of income", float((inst / inc > 0.35).mean()),
                     0.2, 0, "no published figure (target: a minority, at most 20%)", "at_most"))
    disb = _np(loans, "disbursed_at").astype("datetime64[D]")
    tenor = _np(loans, "tenor_months")
    maturity = _add_months(disb, tenor)
    out.append(Check(d, "rule: borrowers under 21 at disbursement", int((ages_on(birth[ci], disb) < 21).sum()), 0,
                     0, "schema lending rule (no published age limit found)"))
    out.append(Check(d, "rule: borrowers over 65 at maturity", int((ages_on(birth[ci], maturity) > 65).sum()), 0, 0,
                     "schema lending rule (no published age limit found)"))
    prod = _np(loans, "product")
    principal = _np(loans, "principal_egp")
    ranges = {"personal_loan": (10_000, 1_500_000), "consumer_durables": (3_000, 250_000),
              "auto_loan": (250_000, 3_000_000), "microfinance": (3_000, 200_000)}
    outside = sum(int(((prod == p) & ((principal < lo) | (principal > hi))).sum()) for p, (lo, hi) in ranges.items())
    out.append(Check(d, "rule: principals outside their product's range", outside, 0, 0,
                     "no published figure: schema product ranges (illustrative)"))
    med = {p: float(np.median(principal[prod == p])) for p in ranges if (prod == p).any()}
    out.append(Check(d, "median auto loan / median microfinance loan", med.get("auto_loan", 0) /
                     max(med.get("microfinance", 1), 1), 10, 0, "no published figure: products differ (>= 10x)",
                     "at_least"))
    # payment behaviour: partial, late and cured payments consistent with days past due
    overdue = _np(loans, "instalments_overdue")
    partial = _np(loans, "partial_paid_egp")
    late = _np(loans, "max_days_late")
    dpd = _np(loans, "days_past_due")
    due = _np(loans, "instalments_due")
    out.append(Check(d, "rule: loans in arrears (unpaid) with 0 days past due, or current with days past due",
                     int(((overdue > 0) != (dpd > 0)).sum()), 0, 0, "consistency rule"))
    arrears = overdue > 0
    out.append(Check(d, "share of loans in arrears with a partial payment", float((partial[arrears] > 0).mean()),
                     0.35, 0.03, "no published figure: schema parameter 35% (illustrative)"))
    paying = (due - overdue) > 0
    cured = paying & (late > 30) & ~arrears
    out.append(Check(d, "share of current paying loans once 31-89 days late (cured)",
                     float(cured[paying & ~arrears].mean()), 0.1, 0.02,
                     "no published figure: schema parameter 10% (illustrative)"))
    return out


def sa_checks(rows: int, seed: int = 1) -> list[Check]:
    d = "sa-water-utility"
    t = _tables(d, rows, seed)
    c = t["customers"]
    out: list[Check] = []
    nat = _np(c, "nationality_en")
    res = _np(c, "residency")
    tribal = {r["name_en"] for r in refdata.table("person_names").to_pylist() if r["pool"] == "sa"
              and r["role"] == "family"}
    full_en = c.column("full_name_en")
    last = np.array([n.rsplit(" ", 1)[-1] for n in full_en.to_pylist()])
    out.append(Check(d, "rule: residents with a Saudi tribal name", int(((res == "resident") & np.isin(
        last, [x.rsplit(" ", 1)[-1] for x in tribal])).sum()), 0, 0, "naming practice (person_names.csv)"))
    egyptian_spelling = pc.match_substring_regex(full_en, r"\bAbdel").to_numpy(zero_copy_only=False)
    out.append(Check(d, "rule: citizens with an Egyptian spelling (Abdel...)",
                     int((egyptian_spelling & (res == "citizen")).sum()), 0, 0,
                     "Saudi spellings (person_names.csv, pool sa)"))
    out.append(Check(d, "share citizens", float((res == "citizen").mean()), 0.584, 0.01,
                     "GASTAT Census 2022 (SOURCES.md)"))
    n = refdata.table("nationalities").to_pylist()
    res_total = sum(r["population"] for r in n[1:])
    for r in n[1:6]:
        share = float((nat[res == "resident"] == r["name_en"]).mean())
        out.append(Check(d, f"share of residents {r['name_en']}", share, r["population"] / res_total, 0.015,
                         "Saudi Census 2022 (nationalities.csv)"))
    sexes = _np(c, "gender")
    for r in n[:3]:
        sel = nat == r["name_en"]
        out.append(Check(d, f"share male among {r['name_en']}", float((sexes[sel] == "M").mean()),
                         r["males"] / r["population"], 0.03, "Saudi Census 2022 (nationalities.csv)"))
    age = ages_on(_np(c, "birth_date").astype("datetime64[D]"), _REF)
    pyr = refdata.table("sa_age_sex").to_pylist()
    for grp, label in (("saudi", "citizen"), ("non_saudi", "resident")):
        rows_ = [r for r in pyr if r["group"] == grp]

        def pop(lo: int, hi: int, rows_=rows_) -> float:
            s = 0.0
            for r in rows_:
                a, b = int(r["age_from"]), int(r["age_to"])
                overlap = max(0, min(b, hi) - max(a, lo) + 1)
                s += (r["males"] + r["females"]) * overlap / (b - a + 1)
            return s
        sel = res == label
        for lo, hi in ((18, 29), (30, 44), (45, 59), (60, 79)):
            out.append(Check(d, f"{label}s aged {lo}-{hi}", float(((age[sel] >= lo) & (age[sel] <= hi)).mean()),
                             pop(lo, hi) / pop(18, 79), 0.015, "Saudi Census 2022 (sa_age_sex.csv)"))
    region = _np(c, "region_en")
    rpop = {r["region_en"]: r["population"] for r in refdata.table("sa_region_population").to_pylist()}
    for reg in sorted(rpop, key=lambda k: -rpop[k])[:3]:
        out.append(Check(d, f"share living in {reg} region", float((region == reg).mean()),
                         rpop[reg] / sum(rpop.values()), 0.01, "GASTAT Census 2022 (sa_region_population.csv)"))
    # geography: district of the row's own city; no street over 1%
    dist = {(r["city_en"], r["name_en"]) for r in refdata.table("sa_city_districts").to_pylist()}
    pairs = zip(c.column("city_en").to_pylist(), c.column("district_en").to_pylist(), strict=True)
    out.append(Check(d, "rule: districts outside the row's city", sum((p not in dist) for p in pairs), 0, 0,
                     "SPL National Address (sa_city_districts.csv)"))
    _, counts = np.unique(_np(c, "street_ar"), return_counts=True)
    out.append(Check(d, "largest street's share of rows", float(counts.max() / c.num_rows), 0.01, 0,
                     "no published figure (target: no street over 1%)", "at_most"))
    city = _np(c, "city_en")
    cpop = {r["city_en"]: r["population"] for r in refdata.table("sa_city_population").to_pylist()}
    out.append(Check(d, "Jeddah's share of Makkah region", float((city[region == "Makkah"] == "Jeddah").mean()),
                     cpop["Jeddah"] / (cpop["Jeddah"] + cpop["Makkah"] + cpop["Taif"]), 0.02,
                     "census 2010 city populations (sa_city_population.csv)"))
    # water series
    bills = t["bills"]
    q = _np(bills, "consumption_m3").reshape(-1, 12)
    rt = _np(bills, "read_type").reshape(-1, 12)
    for label, share in (("estimated", 0.04), ("zero", 0.015)):
        out.append(Check(d, f"share of {label} reads", float((rt == label).mean()), share, 0.005,
                         f"no published figure: schema parameter {share:.1%} (illustrative)"))
    ok = (rt == "actual").all(axis=1) & (q > 0).all(axis=1)
    lq = np.log(q[ok])
    dev = lq - lq.mean(axis=1, keepdims=True)
    corr = float(np.corrcoef(dev[:, :-1].ravel(), dev[:, 1:].ravel())[0, 1])
    out.append(Check(d, "month-to-month correlation of a meter's use", corr, 0.4, 0.3,
                     "no published figure (target: clearly positive)"))
    months = np.arange(12)
    summer = np.isin((months + 11) % 12 + 1, [6, 7, 8])  # bills start in December
    out.append(Check(d, "summer use / winter use", float(q[:, summer].mean() / q[:, ~summer].mean()), 1.3, 0.2,
                     "no published figure (illustrative +-20% season)"))
    meters = t["meters"]
    mi = _index(c.column("account_no"), meters.column("account_no"))
    first_q = q.mean(axis=1)
    for label, hh in (("citizen", 4.8), ("resident", 2.7)):
        sel = res[mi] == label
        out.append(Check(d, f"mean m3/month, {label} meters", float(first_q[sel].mean()), hh * 6.0, hh * 1.2,
                         "GASTAT 2022 household size (SOURCES.md) x 200 l/person/day (illustrative)"))
    sr = t["service_requests"]
    texts = sr.column("description_ar").slice(0, 10_000)
    out.append(Check(d, "distinct request texts per 10,000 tickets", float(pc.count_distinct(texts).as_py()), 300,
                     0, "no published figure (target: hundreds)", "at_least"))
    # a leak shows in both tables: a bill spike on an account's first meter has a leak ticket that month
    leaks = sr.filter(pc.equal(sr.column("category"), "leak"))
    ticket_months = {(acc, (day.year - 2024) * 12 + day.month - 12) for acc, day in
                     zip(leaks.column("account_no").to_pylist(), leaks.column("created_at").to_pylist(), strict=True)}
    accounts = meters.column("account_no").to_pylist()
    first_meter = pc.ends_with(meters.column("meter_no"), "-1").to_numpy(zero_copy_only=False)
    spike = (q > 2.4 * np.median(q, axis=1, keepdims=True)) & (rt == "actual") & first_meter[:, None]
    spike_rows, spike_cols = np.nonzero(spike)
    tied = [(accounts[r], int(k)) in ticket_months for r, k in zip(spike_rows, spike_cols, strict=True)]
    out.append(Check(d, "bill spikes with a leak ticket that month", float(np.mean(tied)) if tied else 0.0, 1.0,
                     0.15, "consistency target (leaks tie bills to tickets)"))
    return out


#: dataset -> its checks
CHECKS: dict[str, Callable[..., list[Check]]] = {"eg-consumer-finance": eg_checks, "sa-water-utility": sa_checks}


def format_table(checks: list[Check]) -> list[str]:
    """The checks as aligned text lines: status, dataset, property, ours, target, source."""
    head = ("", "dataset", "property", "ours", "target", "source")
    rows = [("pass" if ch.ok else "FAIL", ch.dataset, ch.prop, _fmt(ch.ours), ch.target, ch.source)
            for ch in checks]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    lines = []
    for r in [head, *rows]:
        lines.append("  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                                r[3].rjust(widths[3]), r[4].ljust(widths[4]), r[5]]).rstrip())
    return lines


def main(rows: int = 200_000, seed: int = 1) -> None:
    checks = [ch for fn in CHECKS.values() for ch in fn(rows, seed)]
    for line in format_table(checks):
        print("   " + line)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
