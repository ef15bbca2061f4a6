"""Utility meters and tickets: consumption series with memory and season, leaks that show in both the
bills and the service requests, and free-text descriptions built from slot-filled templates.

A meter's monthly consumption is its household's level (household size x a per-person volume, times a
meter-level factor) x a seasonal profile peaking in summer x an AR(1) noise with month-to-month
correlation; a few reads are estimated (the meter's expected value, no noise) or zero (no access or a
vacant home).  A customer with a leak has a spike in that month's bill on their first meter and a
``leak`` ticket raised in the same month.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .columns import Batch, _add_months, _date, _eq, join_drawn, kind, to_arabic_indic
from .people import draw_rows


def _ints(b: Batch, col: str) -> np.ndarray:
    return np.asarray(b.col(col).to_numpy(zero_copy_only=False), dtype=np.int64)


@kind("household_size", required=("residency", "means"), optional={"max": 15}, columns=("residency",))
def household_size(b: Batch, name: str, residency: str, means: Mapping[str, float], max: int) -> pa.Array:
    """People in the account's household: 1 + Poisson(mean - 1), the mean by residency (``means``)."""
    mean = np.ones(b.n)
    for key, m in means.items():
        mean[b.equals(residency, key)] = float(m)
    return pa.array(np.minimum(1 + b.rng(name).poisson(np.maximum(mean - 1, 0)), max))


@kind("leak_month", optional={"rate": 0.05, "months": 12})
def leak_month(b: Batch, name: str, rate: float, months: int) -> pa.Array:
    """The month (0 = first billed month) a customer's first meter leaks, or -1 for no leak this year."""
    rng = b.rng(name)
    m = rng.integers(0, months, b.n)
    return pa.array(np.where(rng.random(b.n) < rate, m, -1))


@kind("requests_count", required=("mean", "leak_month"), optional={"max": 6}, columns=("leak_month",))
def requests_count(b: Batch, name: str, mean: float, leak_month: str, max: int) -> pa.Array:
    """Tickets a customer raises: Poisson(mean), plus one for a leak, at most ``max``."""
    leak = _ints(b, leak_month) >= 0
    return pa.array(np.minimum(b.rng(name).poisson(float(mean), b.n) + leak, max))


@kind("first_child_only", required=("column",), optional={"none": -1}, columns=("column",))
def first_child_only(b: Batch, name: str, column: str, none: int) -> pa.Array:
    """The parent's value on the parent's first child row, ``none`` on the others (a leak on one meter)."""
    return pa.array(np.where(b.seq == 0, _ints(b, column), none))


@kind("meter_reading", required=("part", "household", "leak_month"),
      optional={"litres_per_person_day": 200, "season_amplitude": 0.2, "peak_month": 7, "ar": 0.6,
                "noise_sigma": 0.25, "meter_sigma": 0.3, "estimated_share": 0.04, "zero_share": 0.015,
                "leak_factor": [2.5, 6.0], "start": "-12M", "stream": "meter_reading"},
      columns=("household", "leak_month"))
def meter_reading(b: Batch, name: str, part: str, household: str, leak_month: str, litres_per_person_day: float,
                  season_amplitude: float, peak_month: int, ar: float, noise_sigma: float, meter_sigma: float,
                  estimated_share: float, zero_share: float, leak_factor: list, start: str,
                  stream: str) -> pa.Array:
    """A monthly bill's ``consumption`` (m3) or ``read_type`` (actual, estimated, zero) for a meter's
    consecutive bills (the table's ``per_parent`` must be ``{fixed: N}``)."""
    key = f"#read:{stream}"
    cached = b.extra.get(key)
    if cached is None:
        cached = b.extra[key] = _readings(b, stream, household, leak_month, litres_per_person_day,
                                          season_amplitude, peak_month, ar, noise_sigma, meter_sigma,
                                          estimated_share, zero_share, leak_factor, start)
    if part not in cached:
        raise ValueError(f"unknown part {part!r}; choose one of {', '.join(cached)}")
    return cached[part]


def _readings(b: Batch, stream: str, household: str, leak_month: str, lpd: float, amp: float, peak: int,
              phi: float, sigma: float, meter_sigma: float, est_share: float, zero_share: float,
              leak_factor: list, start: str) -> dict[str, pa.Array]:
    rng = b.rng(stream)
    months = int(b.ordinal.max()) + 1 if b.n else 1
    if b.n % months or not (b.ordinal.reshape(-1, months) == np.arange(months)).all():
        raise ValueError("meter_reading needs a fixed number of bills per meter (per_parent: {fixed: N})")
    meters = b.n // months
    hh = _ints(b, household).reshape(meters, months)[:, 0]
    leak = _ints(b, leak_month).reshape(meters, months)[:, 0]
    level = hh * lpd * 30 / 1000 * np.exp(meter_sigma * rng.standard_normal(meters) - meter_sigma ** 2 / 2)
    first = _date(start, b.reference_date).astype("datetime64[M]")
    cal_month = ((first + np.arange(months).astype("timedelta64[M]")).astype(np.int64) % 12) + 1
    season = 1 + amp * np.cos(2 * np.pi * (cal_month - peak) / 12)
    expected = level[:, None] * season[None, :]
    eps = rng.standard_normal((meters, months))
    noise = np.empty((meters, months))
    noise[:, 0] = eps[:, 0]
    for t in range(1, months):  # AR(1): month-to-month memory, unit variance
        noise[:, t] = phi * noise[:, t - 1] + np.sqrt(1 - phi ** 2) * eps[:, t]
    actual = expected * np.exp(sigma * noise - sigma ** 2 / 2)
    spike = rng.uniform(float(leak_factor[0]), float(leak_factor[1]), meters)
    in_leak = np.arange(months)[None, :] == leak[:, None]
    actual = np.where(in_leak, actual * spike[:, None], actual)
    u = rng.random((meters, months))
    kind_ = np.where(in_leak, 0, np.where(u < zero_share, 2, np.where(u < zero_share + est_share, 1, 0)))
    value = np.where(kind_ == 0, actual, np.where(kind_ == 1, expected, 0.0))
    labels = pa.array(["actual", "estimated", "zero"], pa.string())
    return {"consumption": pa.array(np.round(value, 1).ravel()), "read_type": labels.take(pa.array(kind_.ravel()))}


@kind("ticket", required=("part", "leak_month", "categories"),
      optional={"weights": None, "window": "-24M", "leak_category": "leak", "bills_start": "-12M",
                "stream": "ticket"},
      columns=("leak_month",))
def ticket(b: Batch, name: str, part: str, leak_month: str, categories: list, weights: list | None, window: str,
           leak_category: str, bills_start: str, stream: str) -> pa.Array:
    """A ticket's ``category`` or ``created_at``: a customer's first ticket reports their leak (in the
    leak's month); other tickets are drawn by ``weights`` over the ``window``."""
    key = f"#ticket:{stream}"
    cached = b.extra.get(key)
    if cached is None:
        rng = b.rng(stream)
        leak = _ints(b, leak_month)
        is_leak = (b.seq == 0) & (leak >= 0)
        w = np.ones(len(categories)) if weights is None else np.asarray(weights, dtype=np.float64)
        cat = draw_rows(np.tile(w, (b.n, 1)), rng.random(b.n))
        cat = np.where(is_leak, categories.index(leak_category), cat)
        lo = _date(window, b.reference_date)
        span = int((b.reference_date - lo).astype(np.int64))
        created = lo + rng.integers(0, span + 1, b.n).astype("timedelta64[D]")
        month0 = _date(bills_start, b.reference_date).astype("datetime64[M]").astype("datetime64[D]")
        leak_start = _add_months(np.full(b.n, month0), np.maximum(leak, 0))
        leak_day = np.minimum(leak_start + rng.integers(0, 28, b.n).astype("timedelta64[D]"), b.reference_date)
        created = np.where(is_leak, leak_day, created)
        cached = b.extra[key] = {"category": pa.array(categories, pa.string()).take(pa.array(cat)),
                                 "created_at": pa.array(created.astype("datetime64[D]"))}
    if part not in cached:
        raise ValueError(f"unknown part {part!r}; choose one of {', '.join(cached)}")
    return cached[part]


# --------------------------------------------------------------------------------------------- texts
#: common typing slips in Arabic: final ta marbuta as ha, hamza dropped from alef, alef maqsura as ya
TYPOS = (("ة ", "ه "), ("أ", "ا"), ("إ", "ا"), ("ى ", "ي "), ("المياه", "الميه"), ("  ", " "))


@kind("request_text", required=("category", "templates"),
      optional={"slots": None, "typo_share": 0.15, "pii_share": 0.3, "phone": None, "national_id": None,
                "mentions": None, "arabic_digits_share": 0.3},
      columns=("category", "phone", "national_id"))
def request_text(b: Batch, name: str, category: str, templates: Mapping[str, list], slots: Mapping[str, list] | None,
                 typo_share: float, pii_share: float, phone: str | None, national_id: str | None,
                 mentions: list | None, arabic_digits_share: float) -> pa.Array:
    """A free-text description for the row's category: one of the category's templates (paraphrases, in
    standard Arabic and Gulf dialect) with its ``{slot}`` markers filled from ``slots``, typing slips in
    ``typo_share`` of texts, and the customer's phone or ID mentioned in ``pii_share`` of them."""
    rng = b.rng(name)
    slots = {k: pa.array([str(v) for v in vals], pa.string()) for k, vals in (slots or {}).items()}
    cats = b.col(category)
    text = pa.nulls(b.n, pa.string())
    u = rng.random(b.n)
    for cat, options in templates.items():
        sel = _eq(cats, cat)
        if not sel.any():
            continue
        pick = np.minimum((u * len(options)).astype(np.int64), len(options) - 1)
        for j, tpl in enumerate(options):
            rows = sel & (pick == j)
            if rows.any():
                text = pc.if_else(pa.array(rows), _fill(str(tpl), slots, rng, b.n), text)
    text = pc.utf8_rtrim(pc.fill_null(text, ""), "، .")  # an empty slot at the end leaves no dangling comma
    if typo_share > 0:
        for src, dst in TYPOS:
            hit = pa.array(rng.random(b.n) < typo_share / 2)
            text = pc.if_else(hit, pc.replace_substring(text, src, dst, max_replacements=1), text)
    if not mentions or pii_share <= 0:
        return text
    which = rng.integers(0, len(mentions), b.n)
    mention = pa.nulls(b.n, pa.string())
    for j, m in enumerate(mentions):
        value_col = phone if "{phone}" in m else national_id
        if value_col is None:
            continue
        value = b.col(value_col)
        script = pa.array(rng.random(b.n) < arabic_digits_share)
        value = pc.if_else(script, to_arabic_indic(value), value)
        before, _, after = m.replace("{national_id}", "{phone}").partition("{phone}")
        mention = pc.if_else(pa.array(which == j), pc.binary_join_element_wise(before, value, after, ""), mention)
    with_pii = pa.array(rng.random(b.n) < pii_share)
    return pc.if_else(pc.and_(with_pii, pc.is_valid(mention)), pc.binary_join_element_wise(text, mention, " "),
                      text)


def _fill(template: str, slots: Mapping[str, pa.Array], rng: np.random.Generator, n: int) -> pa.Array:
    """The template for ``n`` rows with every ``{slot}`` replaced by a value drawn per row."""
    parts: list = []
    rest = template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        slot, _, rest = tail.partition("}")
        if slot not in slots:
            raise ValueError(f"template slot {{{slot}}} has no values in 'slots'")
        if head:
            parts.append(head)
        vals = slots[slot]
        parts.append((vals, rng.integers(0, len(vals), n)))
    if rest:
        parts.append(rest)
    if not any(isinstance(p, tuple) for p in parts):
        return pa.repeat(pa.scalar(template), n).cast(pa.string())
    return join_drawn(parts)
