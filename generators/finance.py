"""Loans sized to the borrower, and payment behaviour consistent with arrears.

A loan's product depends on the borrower (salary loans for employees, microfinance for the
self-employed, auto loans above an income threshold ...); its amount, tenor and rate follow the
product; its principal is sized from the borrower's income so that the instalment stays within a
debt-burden share (the Central Bank of Egypt caps consumer-loan instalments at 50% of monthly income,
``refdata/SOURCES.md``), split evenly between the borrower's loans; and the borrower's age respects the
lending rules over the whole loan (at least ``min_age`` at disbursement, at most ``max_age_at_maturity``
when the last instalment falls due).

Payment behaviour is drawn per loan and written per instalment so that every figure agrees: paid
instalments may be late (a loan that was more than 30 days late and is now current is *cured*), the
oldest unpaid instalment may be partly paid, and days past due count from the oldest instalment not
fully paid.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from .columns import Batch, _add_months, _dates, kind, months_of, search_right
from .people import draw_rows


def _num(b: Batch, col: str) -> np.ndarray:
    return np.asarray(b.col(col).to_numpy(zero_copy_only=False), dtype=np.float64)


@kind("count", required=("mean",), optional={"plus": 0, "max": None})
def count(b: Batch, name: str, mean: float, plus: int, max: int | None) -> pa.Array:
    """Poisson(mean) + plus, at most ``max``: how many child rows a parent row gets (loans of a customer)."""
    v = b.rng(name).poisson(float(mean), b.n) + int(plus)
    return pa.array(np.minimum(v, max) if max is not None else v)


def _annuity_factor(r_month: np.ndarray | float, n: np.ndarray) -> np.ndarray:
    """Principal per unit of monthly instalment: (1 - (1 + r)^-n) / r."""
    return (1 - (1 + r_month) ** -n) / r_month


def _smallest_product(products: list[Mapping[str, Any]]) -> int:
    """The product a borrower no other product fits gets: the smallest minimum amount (first such)."""
    return int(np.argmin([float(p["amount"][0]) for p in products]))


def _longest_tenor(tenors: np.ndarray, months_left: np.ndarray) -> np.ndarray:
    """Per row, the longest of ``tenors`` within ``months_left``, else the shortest tenor."""
    return np.max(np.where(tenors[None, :] <= months_left[:, None], tenors[None, :], tenors.min()), axis=1)


@kind("loan_count", required=("mean", "income", "birth_date", "products"),
      optional={"plus": 1, "max": 5, "max_dbr": 0.5, "max_age_at_maturity": 65},
      columns=("income", "birth_date"))
def loan_count(b: Batch, name: str, mean: float, income: str, birth_date: str, products: list[Mapping[str, Any]],
               plus: int, max: int, max_dbr: float, max_age_at_maturity: int) -> pa.Array:
    """How many loans a customer has: Poisson(mean) + plus, at most ``max``, and no more than the customer's
    income can carry within ``max_dbr`` (a lender refuses the loan that would break the cap).

    The ``loan`` kind sizes every loan within the borrower's share of ``max_dbr`` except when no product fits
    that share; then it books the smallest product's minimum amount at its longest tenor the borrower's age
    allows.  That instalment is at most ``worst`` below (highest rate, tenor counted from the reference date,
    the latest a loan can start), so ``count * worst <= max_dbr * income`` keeps the customer within the cap
    whatever the loans draw.  Customers whose income cannot carry even one such loan have none.
    """
    v = b.rng(name).poisson(float(mean), b.n) + int(plus)
    p = products[_smallest_product(products)]
    # months from the reference date until the borrower turns max_age_at_maturity, less one (as in ``loan``)
    birth_month = months_of(_dates(b.col(birth_date)))
    months_left = ((birth_month - b.reference_date.astype("datetime64[M]")).astype(np.int64)
                   + 12 * max_age_at_maturity - 1)
    tenors = np.sort(np.asarray(p["tenors"], dtype=np.int64))
    r = float(np.max(np.asarray(p["rate"], dtype=np.float64))) / 1200
    worst = float(p["amount"][0]) / _annuity_factor(r, tenors)  # instalment of the minimum amount per tenor
    # the longest tenor within months_left, else the shortest (as ``_longest_tenor``)
    k = np.maximum(search_right(tenors, months_left) - 1, 0)
    affordable = np.floor(max_dbr * _num(b, income) / worst[k]).astype(np.int64)
    return pa.array(np.minimum(np.minimum(v, max), affordable))


@kind("loan", required=("part", "income", "birth_date", "occupation", "siblings", "products"),
      optional={"max_dbr": 0.5, "dbr_range": [0.15, 0.5], "min_age": 21, "max_age_at_maturity": 65,
                "window_months": 36, "stream": "loan"},
      columns=("income", "birth_date", "occupation", "siblings"))
def loan(b: Batch, name: str, part: str, income: str, birth_date: str, occupation: str, siblings: str,
         products: list[Mapping[str, Any]], max_dbr: float, dbr_range: list, min_age: int,
         max_age_at_maturity: int, window_months: int, stream: str) -> pa.Array:
    """One part of a loan drawn for its borrower: ``product``, ``disbursed_at``, ``tenor_months``,
    ``annual_rate_pct``, ``principal`` or ``instalment``.

    Each entry of ``products``: ``name``, ``share``, ``occupations`` (allowed borrower occupations,
    English labels; omitted = any), ``min_income``, ``amount`` [min, median, max], ``round``, ``tenors``
    (months) and ``rate`` [low, high] (annual %). Columns with the same ``stream`` describe the same loan.
    """
    key = f"#loan:{stream}"
    cached = b.extra.get(key)
    if cached is None:
        cached = b.extra[key] = _draw_loans(b, stream, income, birth_date, occupation, siblings, products,
                                            max_dbr, dbr_range, min_age, max_age_at_maturity, window_months)
    if part not in cached:
        raise ValueError(f"unknown part {part!r}; choose one of {', '.join(cached)}")
    return cached[part]


def _draw_loans(b: Batch, stream: str, income: str, birth_date: str, occupation: str, siblings: str,
                products: list[Mapping[str, Any]], max_dbr: float, dbr_range: list, min_age: int,
                max_age_at_maturity: int, window_months: int) -> dict[str, pa.Array]:
    rng = b.rng(stream)
    inc = _num(b, income)
    birth = _dates(b.col(birth_date))
    occ_labels = _occupation_labels(b, occupation)
    n_sib = np.maximum(_num(b, siblings), 1)
    # disbursed in the window, never before the borrower reached min_age
    lo = _add_months(np.array([b.reference_date]), np.array([-window_months]))[0]
    span = int((b.reference_date - lo).astype(np.int64))
    disb = lo + rng.integers(0, span + 1, b.n).astype("timedelta64[D]")
    adult = _add_months(birth, np.full(b.n, 12 * min_age)) + np.timedelta64(1, "D")  # 29 Feb births too
    disb = np.minimum(np.maximum(disb, adult), b.reference_date)
    # months from disbursement until the borrower turns max_age_at_maturity (the last instalment's limit)
    limit = _add_months(birth, np.full(b.n, 12 * max_age_at_maturity))
    shortest = min(min(int(t) for t in p["tenors"]) for p in products)
    disb = np.minimum(disb, _add_months(limit, np.full(b.n, -(shortest + 1))))  # room for the shortest loan
    months_left = (limit.astype("datetime64[M]") - disb.astype("datetime64[M]")).astype(np.int64) - 1
    # debt-burden share of income for this loan: the borrower's total, split evenly over their loans
    dbr = rng.uniform(float(dbr_range[0]), min(float(dbr_range[1]), max_dbr), b.n) / n_sib
    budget = dbr * inc
    feasible = np.zeros((b.n, len(products)))
    for j, p in enumerate(products):
        allowed = np.ones(b.n, bool)
        if p.get("occupations"):
            allowed = np.isin(occ_labels, list(p["occupations"]))
        tenors = np.asarray(p["tenors"], dtype=np.int64)
        longest = np.max(np.where(tenors[None, :] <= months_left[:, None], tenors[None, :], 0), axis=1)
        # at the product's highest rate: whatever rate is drawn, the longest tenor affords the minimum amount
        r = max(float(x) for x in p["rate"]) / 1200
        can_borrow = budget * _annuity_factor(r, np.maximum(longest, 1)) >= float(p["amount"][0])
        feasible[:, j] = float(p["share"]) * (allowed & (inc >= float(p.get("min_income", 0))) & (longest > 0)
                                              & can_borrow)
    none = feasible.sum(axis=1) <= 0
    if none.any():  # a borrower no product fits: the smallest product's minimum (``loan_count`` keeps it in the cap)
        feasible[none, _smallest_product(products)] = 1.0
    prod = draw_rows(feasible, rng.random(b.n))
    tenor = np.zeros(b.n, dtype=np.int64)
    rate = np.zeros(b.n)
    principal = np.zeros(b.n)
    for j, p in enumerate(products):
        sel = np.flatnonzero(prod == j)
        if not len(sel):
            continue
        tenors = np.asarray(p["tenors"], dtype=np.int64)
        ok = tenors[None, :] <= np.maximum(months_left[sel, None], tenors.min())
        pick = draw_rows(ok.astype(np.float64), rng.random(len(sel)))
        n = tenors[pick]
        lo_r, hi_r = (float(x) for x in p["rate"])
        rates = np.round(rng.uniform(lo_r, hi_r, len(sel)) * 4) / 4
        amin, amed, amax = (float(x) for x in p["amount"])
        afford = budget[sel] * _annuity_factor(rates / 1200, n)
        # too short to afford the minimum: the longest tenor the borrower's age allows
        short = afford < amin
        if short.any():
            n[short] = _longest_tenor(tenors, months_left[sel][short])
            afford[short] = budget[sel][short] * _annuity_factor(rates[short] / 1200, n[short])
        want = np.exp(np.log(amed) + 0.6 * rng.standard_normal(len(sel)))
        step = float(p.get("round", 100))
        amount = np.floor(np.minimum(np.minimum(want, amax), afford) / step) * step
        principal[sel] = np.maximum(amount, amin)
        tenor[sel] = n
        rate[sel] = rates
    r_m = rate / 1200
    instalment = np.round(principal * r_m / (1 - (1 + r_m) ** -tenor), 2)
    names = [str(p["name"]) for p in products]
    return {"product": pa.array(names, pa.string()).take(pa.array(prod)),
            "disbursed_at": pa.array(disb), "tenor_months": pa.array(tenor), "annual_rate_pct": pa.array(rate),
            "principal": pa.array(principal.astype(np.int64)), "instalment": pa.array(instalment)}


def _occupation_labels(b: Batch, occupation: str) -> np.ndarray:
    """English labels of the borrower's occupation (products name the occupations they serve)."""
    src = b.parent if occupation.startswith("parent.") else b
    col = occupation[7:] if occupation.startswith("parent.") else occupation
    drawn = src.extra.get(col) if src is not None else None
    if drawn is None or "occupations" not in drawn:
        raise ValueError(f"loan needs occupation to be an occupation column, not {occupation!r}")
    labels = np.array([str(o["en"]) for o in drawn["occupations"]])
    return labels[b.idx(occupation)]


# --------------------------------------------------------------------------------------------- payments
@kind("payment_profile", required=("part", "due", "overdue", "instalment"),
      optional={"late_shares": [0.7, 0.2, 0.1], "partial_share": 0.35, "stream": "payment_profile"},
      columns=("due", "overdue", "instalment"))
def payment_profile(b: Batch, name: str, part: str, due: str, overdue: str, instalment: str,
                    late_shares: list, partial_share: float, stream: str) -> pa.Array:
    """A loan's payment behaviour: ``max_days_late`` (its latest paid instalment's delay: on time 0-5
    days, late 6-30, seriously late 31-89 then cured, in ``late_shares``), ``late_no`` (which paid
    instalment was that late, 0 = none) or ``partial_paid`` (paid towards the oldest overdue instalment,
    for ``partial_share`` of loans in arrears)."""
    key = f"#pay:{stream}"
    cached = b.extra.get(key)
    if cached is None:
        rng = b.rng(stream)
        n_due = _num(b, due).astype(np.int64)
        k = _num(b, overdue).astype(np.int64)
        paid = n_due - k
        w = np.asarray(late_shares, dtype=np.float64)
        cls = draw_rows(np.tile(w, (b.n, 1)), rng.random(b.n))
        lo = np.array([0, 6, 31])[cls]
        hi = np.array([5, 30, 89])[cls]
        late = np.where(paid > 0, lo + (rng.random(b.n) * (hi - lo + 1)).astype(np.int64), 0)
        late_no = np.where(paid > 0, 1 + (rng.random(b.n) * np.maximum(paid, 1)).astype(np.int64), 0)
        inst = _num(b, instalment)
        frac = rng.uniform(0.2, 0.8, b.n)
        partial = np.where((k > 0) & (rng.random(b.n) < partial_share), np.round(inst * frac, 2), 0.0)
        cached = b.extra[key] = {"max_days_late": pa.array(late), "late_no": pa.array(late_no),
                                 "partial_paid": pa.array(partial)}
    if part not in cached:
        raise ValueError(f"unknown part {part!r}; choose one of {', '.join(cached)}")
    return cached[part]


@kind("instalment_payment", required=("part", "due_date", "instalment_no", "due", "overdue", "amount",
                                      "max_days_late", "late_no", "partial_paid"),
      optional={"on_time_days": 5, "stream": "instalment_payment"},
      columns=("due_date", "instalment_no", "due", "overdue", "amount", "max_days_late", "late_no",
               "partial_paid"))
def instalment_payment(b: Batch, name: str, part: str, due_date: str, instalment_no: str, due: str, overdue: str,
                       amount: str, max_days_late: str, late_no: str, partial_paid: str, on_time_days: int,
                       stream: str) -> pa.Array:
    """An instalment's ``paid_at``, ``paid_amount`` or ``status`` (on_time, late, partial, unpaid), from its
    loan's payment profile: paid instalments up to ``on_time_days`` late except the loan's one late
    instalment; the oldest overdue one partly paid where the loan says so; later ones unpaid."""
    key = f"#inst:{stream}"
    cached = b.extra.get(key)
    if cached is None:
        rng = b.rng(stream)
        d = _dates(b.col(due_date))
        no = _num(b, instalment_no).astype(np.int64)
        n_due = _num(b, due).astype(np.int64)
        k = _num(b, overdue).astype(np.int64)
        amt = _num(b, amount)
        late = _num(b, max_days_late).astype(np.int64)
        late_j = _num(b, late_no).astype(np.int64)
        part_amt = _num(b, partial_paid)
        first_unpaid = n_due - k + 1
        paid_full = no < first_unpaid
        partial = (no == first_unpaid) & (k > 0) & (part_amt > 0)
        delay = (rng.random(b.n) * (np.minimum(late, on_time_days) + 1)).astype(np.int64)
        delay = np.where(no == late_j, late, delay)
        partial_delay = (rng.random(b.n) * 20).astype(np.int64)
        paid_at = np.minimum(d + np.where(partial, partial_delay, delay).astype("timedelta64[D]"), b.reference_date)
        has_payment = paid_full | partial
        paid_amount = np.where(paid_full, amt, np.where(partial, part_amt, 0.0))
        actual_delay = (paid_at - d).astype(np.int64)  # the reference date can cut a delay short
        status = np.where(paid_full, np.where(actual_delay > on_time_days, "late", "on_time"),
                          np.where(partial, "partial", "unpaid"))
        cached = b.extra[key] = {"paid_at": pa.array(paid_at, mask=~has_payment),
                                 "paid_amount": pa.array(paid_amount, mask=~has_payment),
                                 "status": pa.array(status)}
    if part not in cached:
        raise ValueError(f"unknown part {part!r}; choose one of {', '.join(cached)}")
    return cached[part]
