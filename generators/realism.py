"""The realism table: each generated property against the published figure it follows, with its source.

``python -m generators.realism [ROWS]`` (and ``make bench``) prints it for both built-in datasets; the test
suite runs the same checks on fewer rows.  A *rule* must hold on every row (``ours`` counts the rows that
break it, the target is 0); a *share* must stay within the stated tolerance of the published figure.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute

from tokenize_kit import refdata

from .engine import generate_batch
from .people import ages_on
from .schema import load


@dataclass(frozen=True)
class Check:
    dataset: str
    prop: str
    ours: float
    published: float
    tolerance: float
    source: str

    @property
    def ok(self) -> bool:
        return abs(self.ours - self.published) <= self.tolerance


def _tables(dataset: str, rows: int, seed: int) -> dict[str, pa.Table]:
    from .engine import BATCH_ROWS

    s = load(dataset)
    parts: dict[str, list[pa.RecordBatch]] = {}
    for k in range(-(-rows // BATCH_ROWS)):
        for t, rb in generate_batch(s, k, seed, None, rows).items():
            parts.setdefault(t, []).append(rb)
    return {t: pa.Table.from_batches(b) for t, b in parts.items()}


def _np(t: pa.Table, col: str) -> np.ndarray:
    return t.column(col).to_numpy()


def eg_checks(rows: int, seed: int = 1) -> list[Check]:
    d = "eg-consumer-finance"
    t = _tables(d, rows, seed)
    c, loans = t["customers"], t["loans"]
    out: list[Check] = []
    sex = _np(c, "gender")
    occ = _np(c, "occupation")
    birth = _np(c, "birth_date").astype("datetime64[D]")
    age = ages_on(birth, np.datetime64("2025-12-31"))
    out.append(Check(d, "rule: men who are housewives", int(((occ == "ربة منزل") & (sex == "M")).sum()), 0, 0,
                     "project rule"))
    out.append(Check(d, "rule: retirees under 60", int(((occ == "متقاعد") & (age < 60)).sum()), 0, 0,
                     "pension age, Social Insurance Law 148/2019"))
    emp = np.isin(occ, ["موظف حكومي", "موظف قطاع خاص", "مدرس", "مهندس", "طبيب", "محاسب", "عامل"])
    out.append(Check(d, "rule: employees under the EGP 7,000 minimum wage",
                     int((emp & (_np(c, "monthly_income_egp") < 7000)).sum()), 0, 0, "National Wages Council, 2025"))
    bands = refdata.table("eg_age_bands").to_pylist()
    w = {}
    for r in bands:
        for y in range(int(r["age_from"]), int(r["age_to"]) + 1):
            w[y] = float(r["share_pct"]) / (int(r["age_to"]) - int(r["age_from"]) + 1)
    ages = np.arange(21, 66)
    total = sum(w[int(a)] for a in ages)
    for lo, hi in ((21, 34), (35, 49), (50, 59), (60, 65)):
        pub = sum(w[a] for a in range(lo, hi + 1)) / total
        out.append(Check(d, f"share aged {lo}-{hi}", float(((age >= lo) & (age <= hi)).mean()), pub, 0.01,
                         "CAPMAS census 2017 age bands (eg_age_bands.csv)"))
    out.append(Check(d, "share male", float((sex == "M").mean()), 0.515, 0.01, "CAPMAS 1/1/2021"))
    addr = c.column("address_ar").to_pylist()
    rural = np.mean(["قرية " in a for a in addr])
    out.append(Check(d, "share rural (village address)", float(rural), 0.57, 0.02, "CAPMAS 1/1/2022"))
    first = np.array([n.split(" ")[0] for n in c.column("full_name_en").to_pylist()])
    men = first[sex == "M"]
    pool = [r for r in refdata.table("person_names").to_pylist() if r["pool"] == "eg" and r["role"] == "given"
            and r["gender"] == "M" and r["tradition"] != "christian"]
    wsum = sum(r["weight"] for r in pool)
    top = max(pool, key=lambda r: r["weight"])
    # Muslim families (90%, CIA World Factbook) draw from the Muslim and shared names by their counts
    out.append(Check(d, f"share of men named {top['name_en']}", float((men == top["name_en"]).mean()),
                     0.9 * top["weight"] / wsum, 0.015, "egy-names counts (person_names.csv)"))
    # loans: instalment within the customer's income share, ages within lending rules
    cust = {k: i for i, k in enumerate(c.column("customer_id").to_pylist())}
    ci = np.array([cust[k] for k in loans.column("customer_id").to_pylist()])
    inc = _np(c, "monthly_income_egp")[ci].astype(np.float64)
    inst = _np(loans, "instalment_egp")
    per_cust = np.bincount(ci, weights=inst, minlength=c.num_rows)
    out.append(Check(d, "rule: customers whose instalments exceed 50% of income",
                     int((per_cust > 0.5 * _np(c, "monthly_income_egp") + 0.01).sum()), 0, 0,
                     "Central Bank of Egypt, Dec 2019: consumer instalments <= 50% of monthly income"))
    disb = _np(loans, "disbursed_at").astype("datetime64[D]")
    tenor = _np(loans, "tenor_months")
    from .columns import _add_months

    maturity = _add_months(disb, tenor)
    out.append(Check(d, "rule: borrowers under 21 at disbursement", int((ages_on(birth[ci], disb) < 21).sum()), 0,
                     0, "project lending rule"))
    out.append(Check(d, "rule: borrowers over 65 at maturity", int((ages_on(birth[ci], maturity) > 65).sum()), 0, 0,
                     "project lending rule"))
    prod = _np(loans, "product")
    micro = prod == "microfinance"
    out.append(Check(d, "rule: microfinance loans over EGP 200,000",
                     int((micro & (_np(loans, "principal_egp") > 200_000)).sum()), 0, 0, "schema product range"))
    out.append(Check(d, "share of instalments over 35% of income", float((inst / inc > 0.35).mean()), 0.1, 0.1,
                     "no published figure (illustrative target: a minority)"))
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
    last = np.array([n.rsplit(" ", 1)[-1] for n in c.column("full_name_en").to_pylist()])
    out.append(Check(d, "rule: residents with a Saudi tribal name", int(((res == "resident") & np.isin(
        last, list(tribal))).sum()), 0, 0, "naming practice"))
    out.append(Check(d, "share citizens", float((res == "citizen").mean()), 0.584, 0.01, "GASTAT Census 2022"))
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
    age = ages_on(_np(c, "birth_date").astype("datetime64[D]"), np.datetime64("2025-12-31"))
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
    # geography: district of the row's own city; no street over 1%
    dist = {(r["city_en"], r["name_en"]) for r in refdata.table("sa_city_districts").to_pylist()}
    pairs = zip(c.column("city_en").to_pylist(), c.column("district_en").to_pylist(), strict=True)
    out.append(Check(d, "rule: districts outside the row's city", sum((p not in dist) for p in pairs), 0, 0,
                     "SPL National Address (sa_city_districts.csv)"))
    _, counts = np.unique(_np(c, "street_ar"), return_counts=True)
    out.append(Check(d, "largest street's share of rows", float(counts.max() / c.num_rows), 0.0, 0.01,
                     "target: no street over 1%"))
    city = _np(c, "city_en")
    out.append(Check(d, "Jeddah's share of Makkah region", float((city[_np(c, "region_en") == "Makkah"] ==
                                                                     "Jeddah").mean()),
                     3430697 / (3430697 + 1534731 + 579970), 0.02, "census 2010 city populations"))
    # water series
    bills = t["bills"]
    q = _np(bills, "consumption_m3").reshape(-1, 12)
    rt = _np(bills, "read_type").reshape(-1, 12)
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
    acct = {k: i for i, k in enumerate(c.column("account_no").to_pylist())}
    mi = np.array([acct[k] for k in meters.column("account_no").to_pylist()])
    first_q = q.mean(axis=1)
    for label, hh in (("citizen", 4.8), ("resident", 2.7)):
        sel = res[mi] == label
        out.append(Check(d, f"mean m3/month, {label} meters", float(first_q[sel].mean()), hh * 6.0, hh * 1.2,
                         "GASTAT 2022 household size x 200 l/person/day (illustrative)"))
    sr = t["service_requests"]
    texts = sr.column("description_ar").to_pylist()
    per_10k = len(set(texts[:10_000]))
    out.append(Check(d, "distinct request texts per 10,000 tickets", float(min(per_10k, 10_000)), 3000, 2700,
                     "target: hundreds or more"))
    # a leak shows in both tables: a bill spike on an account's first meter has a leak ticket that month
    leaks = sr.filter(pa.compute.equal(sr.column("category"), "leak"))
    ticket_months = {(acc, (day.year - 2024) * 12 + day.month - 12) for acc, day in
                     zip(leaks.column("account_no").to_pylist(), leaks.column("created_at").to_pylist(), strict=True)}
    accounts = meters.column("account_no").to_pylist()
    first_meter = np.array([m.endswith("-1") for m in meters.column("meter_no").to_pylist()])
    spike = (q > 2.4 * np.median(q, axis=1, keepdims=True)) & (rt == "actual") & first_meter[:, None]
    spike_rows, spike_cols = np.nonzero(spike)
    tied = [(accounts[r], int(k)) in ticket_months for r, k in zip(spike_rows, spike_cols, strict=True)]
    out.append(Check(d, "bill spikes with a leak ticket that month", float(np.mean(tied)) if tied else 0.0, 1.0,
                     0.15, "consistency target (leaks tie bills to tickets)"))
    return out


def main(rows: int = 200_000) -> None:
    for checks in (eg_checks(rows), sa_checks(rows)):
        for ch in checks:
            mark = "ok" if ch.ok else "OFF"
            print(f"   [{mark:>3}] {ch.dataset:<20} {ch.prop:<52} ours {ch.ours:>10.4g}  published "
                  f"{ch.published:>8.4g} +-{ch.tolerance:<6.3g} {ch.source}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
