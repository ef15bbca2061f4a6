"""Spark local[2] vs the single-process pipeline on the same 2,000,000 rows (national ID, phone, notes)."""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pyarrow as pa

ROWS = 2_000_000


def _table(n: int) -> pa.Table:
    from tokenize_kit.pii.eg_national_id import compose_arrow

    rng = np.random.default_rng(3)
    ids = compose_arrow(np.datetime64("1950-01-01") + rng.integers(0, 25000, n).astype("timedelta64[D]"),
                        np.array([1, 2, 12, 21])[rng.integers(0, 4, n)], rng.integers(0, 10000, n),
                        rng.integers(0, 10, n))
    mobile = pa.array(np.char.add("010", np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8)).tolist())
    notes = pa.array(np.where(rng.random(n) < 0.1, "call back later", "تم السداد").tolist())
    return pa.table({"national_id": ids, "mobile": mobile, "notes": notes})


POLICY = {"columns": {"national_id": {"type": "eg_national_id"}, "mobile": {"type": "phone"},
                      "notes": {"type": "free_text"}}}


def main() -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from tokenize_kit import spark as tks
    from tokenize_kit.keys import Keyset
    from tokenize_kit.table import tokenize_table

    ks = Keyset.generate()
    table = _table(ROWS)
    t = time.perf_counter()
    for batch in table.to_batches(max_chunksize=200_000):
        tokenize_table(batch, POLICY, ks)
    single = ROWS / (time.perf_counter() - t)
    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.driver.memory", "4g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    path = "/tmp/tokenize-kit-bench-spark.parquet"
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    df = spark.read.parquet(path)
    t = time.perf_counter()
    tks.tokenize(df, POLICY, ks).write.mode("overwrite").format("noop").save()
    sp = ROWS / (time.perf_counter() - t)
    from generators import iter_batches
    from generators.spark import generate

    t = time.perf_counter()
    for _ in iter_batches("eg-consumer-finance", ROWS, 1, ["customers"]):
        pass
    gen_single = ROWS / (time.perf_counter() - t)
    t = time.perf_counter()
    generate(spark, "eg-consumer-finance", "customers", rows=ROWS, seed=1).write.mode("overwrite").format(
        "noop").save()
    gen_spark = ROWS / (time.perf_counter() - t)
    spark.stop()
    print(f"   tokenize, single process (tokenize_table, 200k-row batches): {single:,.0f} rows/s")
    print(f"   tokenize, Spark local[2] (mapInArrow, Parquet in, noop sink): {sp:,.0f} rows/s ({sp / single:.2f}x)")
    print(f"   generate customers, single process (2 threads, no sink): {gen_single:,.0f} rows/s")
    print(f"   generate customers, Spark local[2] (noop sink): {gen_spark:,.0f} rows/s ({gen_spark / gen_single:.2f}x)")


if __name__ == "__main__":
    main()
