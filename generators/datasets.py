"""Built-in datasets.  Reference tables come from :mod:`tokenize_kit.refdata` and IDs are built with the
PII registry's own composition functions, so generated data and validators share one set of rules."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit import refdata
from tokenize_kit.pii.eg_national_id import compose_arrow

from .engine import register

#: generated birth dates are relative to a fixed date so output never depends on the day it runs
REFERENCE_DATE = np.datetime64("2025-12-31")
EMAIL_DOMAINS = np.array(["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"])
#: Egyptian mobile operator codes from libphonenumber's EG mobile pattern 1[0-25]\d{8}
EG_MOBILE_CODES = np.array(["10", "11", "12", "15"])


@cache
def _names(kind: str) -> tuple[np.ndarray, np.ndarray]:
    t = refdata.table(f"names_eg_{kind}")
    return (np.array(t.column("name_ar").to_pylist(), dtype=object),
            np.array(t.column("name_en").to_pylist(), dtype=object))


@cache
def _governorates() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = refdata.table("eg_governorates")
    return (np.array(t.column("code").to_pylist()), np.array(t.column("name_ar").to_pylist(), dtype=object),
            np.array(t.column("name_en").to_pylist(), dtype=object))


def _join(*parts: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(*(pa.array(p, pa.string()) for p in parts), " ")


@register("eg-consumer-finance", "customers")
def eg_customers(rng: np.random.Generator, first: int, n: int, state: dict[str, Any]) -> pa.RecordBatch:
    male_ar, male_en = _names("male")
    female_ar, female_en = _names("female")
    codes, gov_ar, gov_en = _governorates()
    gender_male = rng.random(n) < 0.5
    f_idx = rng.integers(0, len(female_ar), n)
    m_idx = rng.integers(0, len(male_ar), n)
    first_ar = np.where(gender_male, male_ar[m_idx], female_ar[f_idx])
    first_en = np.where(gender_male, male_en[m_idx], female_en[f_idx])
    anc = rng.integers(0, len(male_ar), (3, n))  # father, grandfather, family name
    # father must differ from the customer's own first name for men (Egyptian naming practice)
    clash = gender_male & (anc[0] == m_idx)
    anc[0, clash] = (anc[0, clash] + 1) % len(male_ar)
    full_ar = _join(first_ar, *(male_ar[a] for a in anc))
    full_en = _join(first_en, *(male_en[a] for a in anc))
    age_days = rng.integers(21 * 365, 70 * 365, n)
    birth = REFERENCE_DATE - age_days.astype("timedelta64[D]")
    gov_idx = rng.integers(0, len(codes) - 1, n)  # born in Egypt (88 = abroad excluded for customers)
    serial = rng.integers(0, 5000, n) * 2 + gender_male.astype(np.int64)  # odd 13th digit = male
    check = rng.integers(0, 10, n)
    ids = _unique_ids(state, birth, codes[gov_idx], serial, check)
    mobile = np.char.add(np.char.add("0", EG_MOBILE_CODES[rng.integers(0, 4, n)]),
                         np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8))
    local = np.char.add(np.char.add(np.char.lower(first_en.astype(str)), "."),
                        np.char.lower(male_en[anc[2]].astype(str)))
    local = np.char.replace(local, " ", "")
    email = np.char.add(np.char.add(np.char.add(local, rng.integers(1, 100, n).astype(str)), "@"),
                        EMAIL_DOMAINS[rng.integers(0, len(EMAIL_DOMAINS), n)])
    income = np.round(rng.lognormal(np.log(9000), 0.6, n) / 50) * 50
    return pa.RecordBatch.from_pydict({
        "customer_id": pa.array(np.char.add("C", np.char.zfill((first + np.arange(n) + 1).astype(str), 9))),
        "full_name_ar": full_ar,
        "full_name_en": full_en,
        "gender": pa.array(np.where(gender_male, "M", "F")),
        "birth_date": pa.array(birth),
        "national_id": ids,
        "governorate_ar": pa.array(gov_ar[gov_idx], pa.string()),
        "governorate_en": pa.array(gov_en[gov_idx], pa.string()),
        "mobile": pa.array(mobile),
        "email": pa.array(email),
        "monthly_income_egp": pa.array(income.astype(np.int64)),
    })


def _unique_ids(state: dict[str, Any], birth, gov, serial, check) -> pa.Array:
    """Compose IDs, bumping the serial (keeping its gender parity) until each is new in the dataset."""
    used = state.setdefault("ids", np.zeros(0, dtype=np.int64))
    serial = serial.copy()
    for _ in range(50):
        ids = compose_arrow(birth, gov, serial, check)
        nums = pc.cast(ids, pa.int64()).to_numpy()
        _, first_pos = np.unique(nums, return_index=True)
        dup = np.ones(len(nums), dtype=bool)
        dup[first_pos] = False
        pos = np.searchsorted(used, nums)
        dup |= (pos < len(used)) & (used[np.minimum(pos, len(used) - 1)] == nums) if len(used) else False
        if not dup.any():
            state["ids"] = np.union1d(used, nums)
            return ids
        serial[dup] = (serial[dup] + 2) % 10000
    raise RuntimeError("could not draw unique national IDs")  # pragma: no cover
