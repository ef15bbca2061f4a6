"""Builders of realistic messy extract files for the pipeline tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tokenize_kit.pii.eg_national_id import compose_arrow
from tokenize_kit.pii.sa_national_id import compose as compose_sa

AR = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
HEADER = ["الرقم القومي", "رقم الموبايل", "الإقامة", "email", "ملاحظات", "الاسم", "amount"]
POLICY_YAML = """\
version: 1
columns:
  الرقم القومي: {type: eg_national_id}
  رقم الموبايل: {type: phone}
  الإقامة: {type: sa_national_id}
  email: {type: email}
  ملاحظات: {type: free_text}
  الاسم: {type: person_name}
"""


def rows(n: int = 60, seed: int = 7, arabic_digits: bool = True) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    dates = np.datetime64("1950-01-01") + rng.integers(0, 25000, n).astype("timedelta64[D]")
    ids = compose_arrow(dates, rng.choice([1, 2, 12, 21, 88], n), rng.integers(0, 10000, n),
                        rng.integers(0, 10, n)).to_pylist()
    iqamas = compose_sa(rng.integers(1, 3, n), rng.integers(0, 10**8, n)).to_pylist()
    out = []
    for i in range(n):
        nid = ids[i]
        mob = f"01{rng.choice(['0', '1', '2', '5'])}{rng.integers(0, 10**8):08d}"
        sa_mob = f"05{rng.choice(['0', '3', '5'])}{rng.integers(0, 10**7):07d}"
        kind = i % 10
        if kind == 1:
            nid = f"{nid[:7]} {nid[7:]}"  # ID with a space
        if kind == 2 and arabic_digits:
            nid = nid.translate(AR)
        if kind == 3:
            nid = "N/A"
        if kind == 4:
            nid = ""
        if kind == 5:
            nid = nid[:13]  # invalid: 13 digits
        phone = [mob, "+2" + mob, mob[1:], f"{mob[:3]}-{mob[3:7]}-{mob[7:]}", "+966" + sa_mob[1:],
                 sa_mob, (mob.translate(AR) if arabic_digits else mob), "", "N/A", "12345"][kind]
        note = [f"العميل اتصل من {(mob.translate(AR) if arabic_digits else mob)} يطلب تقسيط",
                f"رقمه القومي {ids[i]}", "لا توجد ملاحظات", f"call back on +966{sa_mob[1:]}", "",
                f"iqama {iqamas[i]} confirmed", "promised to pay", "N/A", "عنوان جديد", "تم السداد"][kind]
        email = ["ahmed.ali@gmail.com", "sara_m@yahoo.com", "", "N/A", "bad-email",
                 "x.y@company.com.eg", "m@hotmail.com", "", "a1@x.sa", "z@z.org"][kind]
        name = ["أحمد", "Sara", "محمد علي"][i % 3]
        out.append([nid, phone, iqamas[i], email, note, name, f"{rng.integers(0, 9999)}.50"])
    return out


def write_csv(path: Path, data: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows([HEADER, *data])
    return path


def write_policy(path: Path) -> Path:
    path.write_text(POLICY_YAML, encoding="utf-8")
    return path
