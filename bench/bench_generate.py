"""Synthetic customers: rows/s to Parquet for eg-consumer-finance customers (1,000,000 rows), next to
Mimesis ar-EG (name, address, phone per row) measured in the same run on a sample (target, issue 5:
>= 1,000,000 rows/s and >= 20x Mimesis)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

ROWS = 1_000_000
SAMPLE = 20_000


def main() -> None:
    from generators import generate_dataset

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        generate_dataset("eg-consumer-finance", Path(d), ROWS, seed=1, fmt="parquet")
        ours = ROWS / (time.perf_counter() - t)
    try:
        from mimesis import Address, Person
        from mimesis.locales import Locale

        person, address = Person(Locale.AR_EG), Address(Locale.AR_EG)
        t = time.perf_counter()
        for _ in range(SAMPLE):
            person.full_name()
            address.address()
            person.phone_number()
        theirs = SAMPLE / (time.perf_counter() - t)
        ratio = f"{ours / theirs:,.1f}x Mimesis ({theirs:,.0f} rows/s on {SAMPLE:,} rows, extrapolated)"
    except ImportError:
        ratio = "Mimesis not installed"
    met = ours >= 1_000_000
    print(f"   customers -> Parquet: {ours:,.0f} rows/s; {ratio}  "
          f"[{'target met' if met else 'TARGET MISSED'}: >= 1,000,000 rows/s]")


if __name__ == "__main__":
    main()
