"""Synthetic data: customers generated in-process (no writing) and rows/s to Parquet for eg-consumer-finance
``customers`` (1,000,000 rows), next to Mimesis ar-EG (name, address, phone per row) measured in the same run;
then the whole datasets, and the realism table on 200,000 customers per dataset (:mod:`generators.realism`).

Targets: >= 1,000,000 customers/s generated in-process (issue 17), >= 1,000,000 rows/s to Parquet and >= 20x
Mimesis (issue 5).  The realism figure printed with it is the share of phone numbers libphonenumber accepts as
Egyptian mobiles, ours vs Mimesis's.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter as _Counter
from pathlib import Path


class Counter(_Counter):
    def update_one(self, key: str, n: int) -> None:
        self[key] += n

ROWS = 1_000_000
DATASET_ROWS = 200_000
SAMPLE = 20_000


def _mimesis() -> tuple[float, float] | None:
    try:
        from mimesis import Address, Person
        from mimesis.locales import Locale
    except ImportError:
        return None
    import phonenumbers

    person, address = Person(Locale.AR_EG), Address(Locale.AR_EG)
    t = time.perf_counter()
    phones = []
    for _ in range(SAMPLE):
        person.full_name()
        address.address()
        phones.append(person.phone_number())
    rate = SAMPLE / (time.perf_counter() - t)
    ok = 0
    for p in phones[:2000]:
        try:
            n = phonenumbers.parse(p, "EG")
            ok += phonenumbers.is_valid_number(n) and phonenumbers.number_type(n) == phonenumbers.PhoneNumberType.MOBILE
        except phonenumbers.NumberParseException:
            pass
    return rate, ok / 2000


def _ceilings(path: Path) -> tuple[float, float]:
    """What bounds the customers figure on this machine, measured on the same rows: (rows/s of generating the
    batches without writing them, on the generator's worker threads; rows/s of writing the finished table to
    Parquet alone, with the generator's writer settings, on its one writer thread - pyarrow encodes and
    compresses one file's row groups in order, so no generator can write one Parquet file faster)."""
    import pyarrow.parquet as pq

    from generators.engine import _ParquetSink, iter_batches

    t = time.perf_counter()
    for _ in iter_batches("eg-consumer-finance", ROWS, seed=1, tables=["customers"]):
        pass
    generate_only = ROWS / (time.perf_counter() - t)
    batches = pq.read_table(path).to_batches(max_chunksize=50_000)
    with open(path.with_suffix(".rewrite"), "wb") as fh:
        t = time.perf_counter()
        sink = _ParquetSink(fh, batches[0])
        for b in batches:
            sink.write(b)
        sink.close()
        write_only = ROWS / (time.perf_counter() - t)
    return generate_only, write_only


def main() -> None:
    import pyarrow.parquet as pq

    from generators import generate_dataset
    from tokenize_kit.pii import registry

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        generate_dataset("eg-consumer-finance", Path(d), ROWS, seed=1, fmt="parquet", tables=["customers"])
        ours = ROWS / (time.perf_counter() - t)
        mobiles = pq.read_table(Path(d) / "customers.parquet", columns=["mobile"]).column("mobile")
        valid = registry.get("eg_phone").valid_mask(mobiles.combine_chunks()).mean()
        generate_only, write_only = _ceilings(Path(d) / "customers.parquet")
    theirs = _mimesis()
    if theirs is None:
        ratio, met_ratio = "Mimesis not installed", False
    else:
        rate, m_valid = theirs
        ratio = (f"{ours / rate:,.1f}x Mimesis ({rate:,.0f} rows/s on {SAMPLE:,} rows); valid EG mobiles: "
                 f"ours {valid:.1%}, Mimesis {m_valid:.1%}")
        met_ratio = ours / rate >= 20
    met = ours >= 1_000_000
    met_gen = generate_only >= 1_000_000
    print(f"   eg-consumer-finance customers generated in-process, no writing ({ROWS:,} rows, 2 threads): "
          f"{generate_only:,.0f} customers/s [{'target met' if met_gen else 'TARGET MISSED'}: >= 1,000,000/s]")
    print(f"   eg-consumer-finance customers -> Parquet ({ROWS:,} rows): {ours:,.0f} rows/s "
          f"[{'target met' if met else 'TARGET MISSED'}: >= 1,000,000 rows/s]")
    print(f"   {ratio} [{'target met' if met_ratio else 'TARGET MISSED'}: >= 20x]")
    print(f"   bounds, same rows: generating without writing {generate_only:,.0f} rows/s (2 threads); writing the "
          f"finished table to Parquet alone {write_only:,.0f} rows/s (pyarrow, one writer thread)"
          + (f"; 20x Mimesis would need {20 * theirs[0]:,.0f} rows/s" if theirs else ""))
    for dataset in ("eg-consumer-finance", "sa-water-utility"):
        with tempfile.TemporaryDirectory() as d:
            done: Counter[str] = Counter()
            t = time.perf_counter()
            generate_dataset(dataset, Path(d), DATASET_ROWS, seed=1, fmt="parquet", progress=done.update_one)
            secs = time.perf_counter() - t
        total = sum(done.values())
        detail = ", ".join(f"{k} {v:,}" for k, v in done.items())
        print(f"   whole {dataset} for {DATASET_ROWS:,} customers: {total:,} rows in {secs:.1f} s "
              f"({total / secs:,.0f} rows/s; {DATASET_ROWS / secs:,.0f} customers/s) [{detail}]")
    from generators import realism

    t = time.perf_counter()
    checks = [ch for fn in realism.CHECKS.values() for ch in fn(DATASET_ROWS, 1)]
    failed = sum(not ch.ok for ch in checks)
    print(f"   realism table, {DATASET_ROWS:,} customers per dataset (seed 1, {time.perf_counter() - t:.1f} s; "
          f"`tokenize-kit generate --report` prints the same): {len(checks) - failed} of {len(checks)} checks pass")
    for line in realism.format_table(checks):
        print("   " + line)


if __name__ == "__main__":
    main()
