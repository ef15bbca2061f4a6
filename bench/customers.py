"""Generated customers with every PII column of eg-consumer-finance (name in Arabic and Latin script, national
ID, mobile, second phone, address, e-mail, salary IBAN) and an agent's note per customer that mentions the
customer's own name, mobile or ID (:func:`generators.notes.for_customers`), as CSV.

Generated once into ``bench-out/cache`` (or ``$TOKENIZE_KIT_BENCH_CACHE``) by worker processes, a chunk each, and
reused: the notes are written per row in Python, so a file of many millions of rows takes minutes.  A smaller
file is the head of a larger cached one (the same seeded rows)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa

SEED = 7
#: the customers table's PII columns (every one the dataset has), the income as a non-PII column, and notes
COLUMNS = ["customer_id", "national_id", "full_name_ar", "full_name_en", "mobile", "second_phone", "address_ar",
           "email", "salary_iban", "monthly_income_egp"]
#: rows per generated chunk (a worker process writes one chunk file; chunks are concatenated in order)
CHUNK = 1_000_000


def cache_dir() -> Path:
    d = Path(os.environ.get("TOKENIZE_KIT_BENCH_CACHE", Path(__file__).resolve().parent.parent / "bench-out" /
                            "cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _chunk(args: tuple[int, int, str]) -> str:
    """Rows [start, start + CHUNK) of the seeded customers as headerless CSV (the first chunk has the header)."""
    from generators.engine import BATCH_ROWS, _schema, generate_batch
    from generators.notes import for_customers
    from tokenize_kit.io import BatchWriter, TextEncoding

    start, rows, out = args
    schema = _schema("eg-consumer-finance")
    with open(out, "wb") as fh:
        w = BatchWriter(fh, "csv", TextEncoding("utf-8", newline="\n"))
        for k in range(start // BATCH_ROWS, min(start + CHUNK, rows) // BATCH_ROWS):
            b = generate_batch(schema, k, SEED, ["customers"], rows)["customers"].select(COLUMNS)
            notes = for_customers(b.column("full_name_ar").to_pylist(), b.column("mobile").to_pylist(),
                                  b.column("national_id").to_pylist(), SEED * 1_000_003 + k)
            w.write(b.append_column("notes", pa.array(notes, pa.string())))
        w.close()
    if start:  # drop the header line of later chunks
        with open(out, "rb") as fh:
            fh.readline()
            data = fh.read()
        Path(out).write_bytes(data)
    return out


def customers_csv(rows: int, workers: int = 2) -> Path:
    """The first ``rows`` customers (a multiple of CHUNK) as CSV, generated once into the cache."""
    path = cache_dir() / f"customers-pii-{rows}-s{SEED}.csv"
    if path.exists():
        return path
    tmp = path.with_suffix(".partial")
    bigger = sorted((p for p in cache_dir().glob(f"customers-pii-*-s{SEED}.csv")
                     if int(p.name.split("-")[2]) > rows), key=lambda p: int(p.name.split("-")[2]))
    if bigger:  # the first rows of a larger cached file are the same rows (same seed, same batches)
        try:
            with open(bigger[0], "rb") as src, open(tmp, "wb") as out:
                for _ in range(rows + 1):
                    out.write(src.readline())
            tmp.rename(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path
    t = time.perf_counter()
    parts = [(s, rows, str(path.with_suffix(f".part{s // CHUNK:03d}"))) for s in range(0, rows, CHUNK)]
    try:
        with ProcessPoolExecutor(workers) as pool, open(tmp, "wb") as out:
            for i, part in enumerate(pool.map(_chunk, parts)):
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 24):
                        out.write(block)
                os.unlink(part)
                print(f"   generating {path.name}: {(i + 1) * CHUNK:,} / {rows:,} rows "
                      f"({time.perf_counter() - t:.0f} s)", flush=True)
        tmp.rename(path)
    finally:
        tmp.unlink(missing_ok=True)
        for _, _, p in parts:
            Path(p).unlink(missing_ok=True)
    return path
