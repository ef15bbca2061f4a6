"""The three Spark jobs on a standalone cluster started here (a master and two one-core workers on 127.0.0.1, as
``make test-spark-cluster`` starts it), per executor core, beside the same job in one process in the same run:

* ``tokenize`` of the generated customers with every PII column (names in both scripts, ID, two phones, address,
  e-mail, IBAN, notes that mention the customer), Parquet in, no sink;
* the delivery gate (``scan_against``, rows paired by ``customer_id``) on that delivery and its input;
* customers generated on the executors and tokenized (eight PII columns, no notes: the generator writes none).

Rows: ``$TOKENIZE_KIT_BENCH_CLUSTER_ROWS`` (default 200,000; the customers file is the cached one of
``bench pipeline``).  Every job's result is checked against the single process's (row count, leaks counted)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

WORKERS, CORES = 2, 1
PII = {"national_id": {"type": "eg_national_id"}, "full_name_ar": {"type": "person_name"},
       "full_name_en": {"type": "person_name"}, "mobile": {"type": "phone"}, "second_phone": {"type": "phone"},
       "address_ar": {"type": "eg_address"}, "email": {"type": "email"}, "salary_iban": {"type": "iban"}}
POLICY = {"columns": {**PII, "notes": {"type": "free_text"}}}


def _rows() -> int:
    return int(os.environ.get("TOKENIZE_KIT_BENCH_CLUSTER_ROWS", "200000"))


def _customers(rows: int) -> pa.Table:
    """The first ``rows`` of the cached customers CSV, every column as text (as the CLI reads it)."""
    from bench.customers import COLUMNS, customers_csv

    cache = customers_csv(max(rows, 200_000))
    types = {c: pa.string() for c in [*COLUMNS, "notes"] if c != "monthly_income_egp"}
    read = pacsv.ReadOptions(block_size=1 << 24)
    with pacsv.open_csv(cache, read_options=read, convert_options=pacsv.ConvertOptions(column_types=types)) as r:
        parts, n = [], 0
        while n < rows:
            b = r.read_next_batch()
            parts.append(b.slice(0, rows - n))
            n += len(parts[-1])
    return pa.Table.from_batches(parts)


def _timed(job):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = job()
    return time.perf_counter() - t, out


def main() -> None:
    from bench.customers import COLUMNS
    from bench.spark_cluster import session, start_cluster, stop
    from generators import generate_table
    from tokenize_kit import spark as tks
    from tokenize_kit.keys import Keyset
    from tokenize_kit.policy import Policy
    from tokenize_kit.scan import Gate, ScanResult
    from tokenize_kit.table import tokenize_table

    rows = _rows()
    ks = Keyset.generate()
    policy, pii_policy = Policy.from_dict(POLICY), Policy.from_dict({"columns": PII})
    raw = _customers(rows)
    # one process, the same jobs (the anchors)
    single_tok, out = _timed(lambda: tokenize_table(raw, policy, ks))

    def gate() -> ScanResult:
        result = ScanResult()
        with Gate(policy) as g:
            for lo in range(0, rows, 50_000):
                g.add(raw.slice(lo, 50_000), out.slice(lo, 50_000), result, lo)
            g.finish(result)
        return result

    single_gate, single_report = _timed(gate)
    single_gen, gen_out = _timed(lambda: tokenize_table(
        generate_table("eg-consumer-finance", "customers", rows, seed=5).select(COLUMNS), pii_policy, ks))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, table in (("raw", raw), ("out", out)):  # several files: a partition each for both cores
            (tmp / name).mkdir()
            step = -(-rows // (4 * WORKERS * CORES))
            for i, lo in enumerate(range(0, rows, step)):
                pq.write_table(table.slice(lo, step), tmp / name / f"part-{i:03d}.parquet")
        t = time.perf_counter()
        url, _, procs = start_cluster(tmp, WORKERS, CORES)
        spark = None
        try:
            spark = session(url, "tokenize-kit-cluster-bench")
            spark.sparkContext.setLogLevel("ERROR")
            spark.conf.set("spark.sql.files.maxPartitionBytes", str(1 << 20))
            print(f"   cluster: a master and {WORKERS} workers of {CORES} core on 127.0.0.1 started in "
                  f"{time.perf_counter() - t:.0f} s", flush=True)
            cores = WORKERS * CORES
            spark.read.parquet(str(tmp / "raw")).count()  # executors up, Python workers started
            secs, _ = _timed(lambda: tks.tokenize(spark.read.parquet(str(tmp / "raw")), policy, ks)
                             .write.mode("overwrite").format("noop").save())
            _line("tokenize customers, 9 PII columns with notes", rows, secs, cores, single_tok)
            secs, report = _timed(lambda: tks.scan_against(spark.read.parquet(str(tmp / "out")),
                                                            spark.read.parquet(str(tmp / "raw")), policy,
                                                            on="customer_id"))
            leaks = {c: {k: v["count"] for k, v in kinds.items()} for c, kinds in report["leaks"].items()}
            want = {c: {k: v.count for k, v in kinds.items()} for c, kinds in single_report.leaks.items()}
            if report["rows"] != rows or leaks != want:
                raise SystemExit("the cluster's gate disagrees with one process")
            _line("scan_against (delivery gate), the same delivery", rows, secs, cores, single_gate)
            from generators.spark import generate

            secs, got = _timed(lambda: tks.tokenize(
                generate(spark, "eg-consumer-finance", "customers", rows=rows, seed=5).select(*COLUMNS),
                pii_policy, ks).count())
            if got != gen_out.num_rows:
                raise SystemExit("the cluster generated another number of rows")
            _line("generate customers + tokenize 8 PII columns", rows, secs, cores, single_gen)
        finally:
            if spark is not None:
                spark.stop()
            stop(procs)


def _line(job: str, rows: int, secs: float, cores: int, single_secs: float) -> None:
    rate, single = rows / secs, rows / single_secs
    print(f"   {job}, {rows:,} rows: cluster {rate:,.0f} rows/s on {cores} executor cores = {rate / cores:,.0f} "
          f"rows/s per core; one process in this run {single:,.0f} rows/s ({rate / cores / single:.2f}x per core)",
          flush=True)


if __name__ == "__main__":
    main()
