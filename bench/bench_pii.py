"""Per-type tokenization throughput on 1,000,000 values (target: >= 500,000 values/s for national IDs
and phones), measured through the table API's column path (de-duplication included).  Addresses are
measured twice: on a column with few distinct values (where de-duplication does most of the work) and on
generated addresses that are nearly all distinct."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from tokenize_kit.keys import Keyset
from tokenize_kit.pii.base import ColumnSpec, Crypto
from tokenize_kit.pii.eg_national_id import compose_arrow
from tokenize_kit.pii.sa_national_id import compose as compose_sa
from tokenize_kit.table import transform_column

N = 1_000_000
TARGET = 500_000
#: rows of generated addresses (nearly all distinct, so de-duplication saves nothing): the realistic case
DISTINCT_ADDRESSES = 200_000


def _columns() -> dict[str, tuple[str, pa.Array]]:
    rng = np.random.default_rng(1)
    dates = np.datetime64("1950-01-01") + rng.integers(0, 25000, N).astype("timedelta64[D]")
    gov = np.array([1, 2, 12, 13, 21, 24, 88])[rng.integers(0, 7, N)]
    eg = compose_arrow(dates, gov, rng.integers(0, 10000, N), rng.integers(0, 10, N))
    sa = compose_sa(rng.integers(1, 3, N), rng.integers(0, 10**8, N))
    eg_mobile = pa.array(np.char.add(np.char.add("01", rng.choice(["0", "1", "2", "5"], N)),
                                     np.char.zfill(rng.integers(0, 10**8, N).astype(str), 8)).tolist())
    sa_mobile = pa.array(np.char.add(np.char.add("+9665", rng.choice(["0", "3", "5", "6"], N)),
                                     np.char.zfill(rng.integers(0, 10**7, N).astype(str), 7)).tolist())
    emails = pa.array(np.char.add(np.char.add("user", rng.integers(0, 10**7, N).astype(str)), "@gmail.com").tolist())
    from tokenize_kit import refdata

    male = np.array(refdata.table("names_eg_male").column("name_ar").to_pylist(), dtype=object)
    female = np.array(refdata.table("names_eg_female").column("name_ar").to_pylist(), dtype=object)
    first = np.where(rng.random(N) < 0.5, male[rng.integers(0, len(male), N)], female[rng.integers(0, len(female), N)])
    names = first
    for _ in range(3):
        names = np.char.add(np.char.add(names.astype(str), " "), male[rng.integers(0, len(male), N)].astype(str))
    streets = np.array(["التحرير", "الهرم", "فيصل", "الجمهورية", "النيل", "الجلاء"])
    govs = np.array(["القاهرة", "الجيزة", "الإسكندرية", "المنيا"])
    addresses = np.char.add(np.char.add(np.char.add(rng.integers(1, 300, N).astype(str), " شارع "),
                                        np.char.add(streets[rng.integers(0, 6, N)], "، ")), govs[rng.integers(0, 4, N)])
    from generators import generate_table

    realistic = generate_table("eg-consumer-finance", "customers", DISTINCT_ADDRESSES, seed=1).column("address_ar")
    return {
        "eg_address (Arabic, 7,176 distinct)": ("eg_address", pa.array(addresses.tolist(), pa.string())),
        f"eg_address (generated, {DISTINCT_ADDRESSES // 1000}k rows)": ("eg_address", realistic.combine_chunks()),
        "person_name (4-part Arabic)": ("person_name", pa.array(names.tolist(), pa.string())),
        "eg_national_id": ("eg_national_id", eg),
        "sa_national_id": ("sa_national_id", sa),
        "eg_phone (mobile, national form)": ("phone", eg_mobile),
        "sa_phone (mobile, E.164)": ("phone", sa_mobile),
        "email": ("email", emails),
    }


def main() -> None:
    crypto = Crypto(Keyset.generate())
    ok = True
    for label, (type_name, values) in _columns().items():
        spec = ColumnSpec("c", type_name)
        t = time.perf_counter()
        tokens, _ = transform_column(values, spec, crypto, decrypt=False)
        enc = len(values) / (time.perf_counter() - t)
        t = time.perf_counter()
        back, _ = transform_column(tokens, spec, crypto, decrypt=True)
        dec = len(values) / (time.perf_counter() - t)
        exact = back.equals(values)
        has_target = type_name not in ("email", "person_name", "eg_address")
        met = (enc >= TARGET) if has_target else True
        ok &= met and exact
        target = f"[{'target met' if met else 'TARGET MISSED'}: >= {TARGET:,}/s]" if has_target else "[no target]"
        print(f"   {label:<34}: {enc:>10,.0f} values/s tokenize, {dec:>10,.0f}/s detokenize, "
              f"round trip {'exact' if exact else 'FAILED'}  {target}")
    print(f"   PII targets: {'all met' if ok else 'NOT all met'}")


if __name__ == "__main__":
    main()
