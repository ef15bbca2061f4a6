"""`tokenize-kit risk` on 20,000,000 generated Egyptian customers: wall time and peak RSS of the command, on
Parquet and CSV, plain quasi-identifiers and a policy (ID token parts + generalised columns), next to the
anchor a data engineer would write (pandas ``read_parquet`` + ``groupby().size()`` / ``nunique``) measured in
the same run on the first 2,000,000 rows.

Target (issue 18): `risk` on 20 M rows in under a minute, with memory that does not grow with the rows: the
policy run is measured at 2 M and 20 M rows (same classes, so the same memory if nothing grows with rows).
Without generalisation nearly every row is its own class, and memory holds the classes: that run is printed
too, as what it is.

The 20 M rows are generated once (the project's generator, seed 7; several minutes) into a cache directory,
``bench-out/cache`` or ``$TOKENIZE_KIT_BENCH_CACHE``, and reused by later runs.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

ROWS = 20_000_000
SAMPLE = 2_000_000
SEED = 7
COLUMNS = ["national_id", "gender", "birth_date", "governorate_en", "city_en", "occupation", "monthly_income_egp"]
QUASI = "birth_date,gender,city_en,monthly_income_egp"
POLICY = """\
columns:
  national_id: {type: eg_national_id, keep: [birth_5y, governorate, gender]}
  monthly_income_egp: {type: number, method: generalize, width: 5000, top: 50000}
  city_en: {type: place, method: generalize, country: eg, level: city, to: governorate}
"""
TARGET_SECONDS = 60
RUNS = 2


def _cache_dir() -> Path:
    d = Path(os.environ.get("TOKENIZE_KIT_BENCH_CACHE", Path(__file__).resolve().parent.parent / "bench-out" /
                            "cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _generate(path: Path, rows: int) -> None:
    """The first ``rows`` customers of the seeded dataset, the benchmark's columns, as Parquet (atomically)."""
    import pyarrow.parquet as pq

    from generators import iter_table

    tmp = path.with_suffix(".partial")
    start, done = time.perf_counter(), 0
    writer = None
    try:
        for batch in iter_table("eg-consumer-finance", "customers", rows, seed=SEED):
            batch = batch.select(COLUMNS)
            if writer is None:
                writer = pq.ParquetWriter(tmp, batch.schema)
            writer.write_batch(batch)
            done += batch.num_rows
            if done % 2_000_000 < batch.num_rows:
                print(f"   generating {path.name}: {done:,} / {rows:,} rows ({time.perf_counter() - start:.0f} s)",
                      flush=True)
        if writer is not None:
            writer.close()
        tmp.rename(path)
    finally:
        tmp.unlink(missing_ok=True)


def _as_csv(src: Path, dst: Path) -> None:
    import pyarrow.parquet as pq

    from tokenize_kit.io import BatchWriter, TextEncoding

    tmp = dst.with_suffix(".partial")
    try:
        with open(tmp, "wb") as fh:
            w = BatchWriter(fh, "csv", TextEncoding("utf-8", newline="\n"))
            for batch in pq.ParquetFile(src).iter_batches(batch_size=500_000):
                w.write(batch)
            w.close()
        tmp.rename(dst)
    finally:
        tmp.unlink(missing_ok=True)


def _head(src: Path, dst: Path, rows: int) -> None:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(src)
    tmp = dst.with_suffix(".partial")
    with pq.ParquetWriter(tmp, pf.schema_arrow) as w:
        left = rows
        for batch in pf.iter_batches(batch_size=500_000):
            if left <= 0:
                break
            w.write_batch(batch.slice(0, left))
            left -= batch.num_rows
    tmp.rename(dst)


def data() -> dict[str, Path]:
    d = _cache_dir()
    files = {"parquet": d / f"risk-{ROWS}-s{SEED}.parquet", "csv": d / f"risk-{ROWS}-s{SEED}.csv",
             "sample": d / f"risk-{SAMPLE}-s{SEED}.parquet"}
    if not files["parquet"].exists():
        _generate(files["parquet"], ROWS)
    if not files["csv"].exists():
        _as_csv(files["parquet"], files["csv"])
    if not files["sample"].exists():
        _head(files["parquet"], files["sample"], SAMPLE)
    return files


def _anchor(sample: Path) -> tuple[float, float]:
    """pandas on the sample: read the quasi-identifier columns, class sizes, distinct sensitive values per class.
    Returns (rows/s, peak RSS MB of this process so far)."""
    import resource

    import pandas as pd

    quasi = QUASI.split(",")
    t = time.perf_counter()
    df = pd.read_parquet(sample, columns=[*quasi, "occupation"])
    sizes = df.groupby(quasi, dropna=False).size()
    ldiv = df.groupby(quasi, dropna=False)["occupation"].nunique(dropna=False)
    assert int(sizes.sum()) == len(df) and len(ldiv) == len(sizes)
    secs = time.perf_counter() - t
    return len(df) / secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    from bench.bench_pipeline import _run_cli

    files = data()
    anchor_rate, anchor_rss = _anchor(files["sample"])
    print(f"   anchor: pandas read_parquet + groupby().size() + nunique on {SAMPLE:,} rows: {anchor_rate:,.0f} rows/s "
          f"(this process's peak RSS {anchor_rss:,.0f} MB)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY, encoding="utf-8")
        plain = ["--quasi", QUASI, "--sensitive", "occupation", "--k", "5", "--format", "json", "-q"]
        by_policy = ["--policy", str(policy), "--k", "5", "--format", "json", "-q"]
        jobs = [
            ("parquet", files["parquet"], by_policy, "policy (ID token parts, income bands, governorate)", True),
            ("parquet", files["sample"], by_policy, "same policy, first 2 M rows (memory check)", False),
            ("parquet", files["parquet"], plain, "4 raw quasi-identifiers + l-diversity (mostly unique rows)", True),
            ("csv", files["csv"], by_policy, "policy, CSV", True),
        ]
        rss_at: dict[int, float] = {}
        for fmt, path, args, label, target in jobs:
            rows = SAMPLE if path == files["sample"] else ROWS
            runs = [_run_cli("risk", str(path), *args, ok=(0, 1)) for _ in range(RUNS)]
            secs, rss = min(r[0] for r in runs), max(r[1] for r in runs)
            if args is by_policy and fmt == "parquet":
                rss_at[rows] = rss
            verdict = ""
            if target:
                verdict = (f"  [{'target met' if secs < TARGET_SECONDS else 'TARGET MISSED'}: "
                           f"< {TARGET_SECONDS} s for {ROWS:,} rows]")
            print(f"   risk {rows:>10,} rows {fmt:<7} {label}: {secs:6.1f} s ({rows / secs:,.0f} rows/s, "
                  f"{rows / secs / anchor_rate:.1f}x the pandas anchor; best of {RUNS}: "
                  f"{', '.join(f'{r[0]:.1f}' for r in runs)} s), peak RSS {rss:,.0f} MB{verdict}", flush=True)
        if len(rss_at) == 2:
            growth = rss_at[ROWS] / rss_at[SAMPLE]
            print(f"   memory: the policy run's peak RSS at {ROWS:,} rows is {growth:.2f}x its peak at {SAMPLE:,} rows "
                  f"[{'flat' if growth < 1.5 else 'GROWS WITH ROWS'}]", flush=True)


if __name__ == "__main__":
    main()
