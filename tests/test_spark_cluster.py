"""The Spark jobs on a real standalone cluster: one master and two workers started here from the pyspark package's
own ``spark-class`` launcher, bound to 127.0.0.1, stopped at the end whatever happens (``bench/spark_cluster.py``,
which ``make bench-spark`` also uses to measure the cluster's per-core figures).  Tokenize, the delivery gate
(``scan_against``) and generate + tokenize give exactly what one process gives.

Run by ``make test-spark-cluster`` (``.ci/run`` runs it after ``make test``); plain ``make test`` skips it, since
starting three JVMs on a shared 2-core machine takes a minute or two."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pyarrow as pa
import pytest

pyspark = pytest.importorskip("pyspark")

from bench.spark_cluster import session, start_cluster, stop  # noqa: E402
from generators import generate_table  # noqa: E402
from generators.notes import for_customers  # noqa: E402
from tokenize_kit import spark as tks  # noqa: E402
from tokenize_kit.keys import Keyset  # noqa: E402
from tokenize_kit.policy import Policy  # noqa: E402
from tokenize_kit.scan import GATE_ROWS, Gate, ScanResult  # noqa: E402
from tokenize_kit.table import tokenize_table  # noqa: E402

CLUSTER_ENV = "TOKENIZE_KIT_SPARK_CLUSTER"
pytestmark = [pytest.mark.spark, pytest.mark.skipif(
    os.environ.get(CLUSTER_ENV) != "1",
    reason=f"starts a standalone cluster: make test-spark-cluster ({CLUSTER_ENV}=1)")]

KS = Keyset.generate()
PII = {"national_id": {"type": "eg_national_id"}, "full_name_ar": {"type": "person_name"},
       "full_name_en": {"type": "person_name"}, "mobile": {"type": "phone"}, "second_phone": {"type": "phone"},
       "address_ar": {"type": "eg_address"}, "email": {"type": "email"}, "salary_iban": {"type": "iban"}}
POLICY = Policy.from_dict({"columns": {**PII, "notes": {"type": "free_text"}}})
COLUMNS = ["customer_id", "national_id", "full_name_ar", "full_name_en", "mobile", "second_phone", "address_ar",
           "email", "salary_iban", "monthly_income_egp"]
ROWS = 3_000


@pytest.fixture(scope="module")
def spark(tmp_path_factory) -> Iterator:
    tmp = tmp_path_factory.mktemp("spark-cluster")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYSPARK_PYTHON", sys.executable)
        env.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
        env.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        url, _, procs = start_cluster(tmp)
        s = None
        try:
            s = session(url)
            s.sparkContext.setLogLevel("ERROR")
            assert s.sparkContext.master == url
            yield s
        finally:
            if s is not None:
                s.stop()
            stop(procs)
    assert all(p.poll() is not None for p in procs)


def _customers(rows: int = ROWS) -> pa.Table:
    t = generate_table("eg-consumer-finance", "customers", rows, seed=11).select(COLUMNS)
    notes = for_customers(t.column("full_name_ar").to_pylist(), t.column("mobile").to_pylist(),
                          t.column("national_id").to_pylist(), 11)
    return t.append_column("notes", pa.array(notes, pa.string()))


def _by_id(t: pa.Table) -> list[tuple]:
    cols = [t.column(c).to_pylist() for c in t.column_names]
    return sorted(zip(*cols, strict=True), key=lambda r: r[0])


def _df(spark, table: pa.Table, parts: int = 4):
    return spark.createDataFrame(table.to_pandas()).repartition(parts)


def test_tokenize_on_the_cluster_equals_one_process(spark):
    raw = _customers()
    got = tks.tokenize(_df(spark, raw), POLICY, KS).toArrow()
    expected = tokenize_table(raw, POLICY, KS)
    assert got.column_names == expected.column_names
    assert _by_id(got.cast(expected.schema)) == _by_id(expected)


def _gate(raw: pa.Table, out: pa.Table) -> ScanResult:
    result = ScanResult()
    with Gate(POLICY) as gate:
        gate.add(raw, out, result, 0)
        gate.finish(result)
    return result


def test_the_gate_on_the_cluster_equals_one_process(spark):
    """Planted leaks of every kind and coincidences: the same counts per column and kind.  Rows enough that the
    joined partitions (4) exceed a gate slice (:data:`tokenize_kit.scan.GATE_ROWS`), so executors cut their Arrow
    batches into slices as the single-process gate does."""
    rows = 5 * GATE_ROWS
    raw = _customers(rows)
    out = tokenize_table(raw, POLICY, KS)
    cols = {c: out.column(c).to_pylist() for c in out.column_names}
    cols["mobile"][5] = raw.column("mobile")[5].as_py()  # a raw mobile in its own row: a leak
    cols["notes"][7] = "اتصل على " + raw.column("mobile")[7].as_py()[1:]  # in text, without its 0
    cols["national_id"][9] = raw.column("national_id")[9].as_py()
    emails = raw.column("email").to_pylist()  # every e-mail of the input, each in the next row: implausible
    cols["email"] = [emails[i - 1] for i in range(rows)]
    cols["email"][11] = (raw.column("email")[11].as_py() or "x@y.com").upper()
    # the Latin name cut to its first two raw parts in every row: implausible meetings of their own row's words
    cols["full_name_en"] = [" ".join((v or "").split()[:2]) for v in raw.column("full_name_en").to_pylist()]
    cols["mobile"][20] = raw.column("mobile")[21].as_py()  # another row's mobile: a coincidence
    cols["notes"][30] = "كلم " + " ".join(raw.column("full_name_ar")[30].as_py().split()[:2])
    out = pa.table({c: pa.array(v, out.schema.field(c).type) for c, v in cols.items()})
    single = _gate(raw, out)
    report = tks.scan_against(_df(spark, out, 3), _df(spark, raw, 5), POLICY, on="customer_id")
    assert report["rows"] == rows
    expected_leaks = {c: {k: v.count for k, v in kinds.items()} for c, kinds in single.leaks.items()}
    assert {c: {k: v["count"] for k, v in kinds.items()} for c, kinds in report["leaks"].items()} == expected_leaks
    for col, kind in (("mobile", "phone"), ("notes", "phone"), ("national_id", "national_id"), ("email", "email"),
                      ("notes", "name")):
        assert expected_leaks.get(col, {}).get(kind), (col, kind, expected_leaks)
    assert report["coincidences"] == single.collisions
    assert report["implausible"] == {c: {k: {"count": n, "probed": m} for k, (n, m) in kinds.items()}
                                     for c, kinds in single.implausible.items()}
    assert "email" in single.implausible and single.implausible["full_name_en"]["name"][0] > rows // 2
    assert single.collisions.get("mobile", {}).get("phone", 0) >= 1
    ids = raw.column("customer_id").to_pylist()
    assert ids[5] in report["leaks"]["mobile"]["phone"]["keys"]


def test_generate_and_tokenize_on_the_cluster_equal_one_process(spark):
    """The pipeline's job as Spark users run it: customers generated on the executors, then tokenized."""
    from generators.spark import generate

    policy = Policy.from_dict({"columns": PII})
    rows = 100_000  # two generator batches: a partition on each worker
    got = tks.tokenize(generate(spark, "eg-consumer-finance", "customers", rows=rows, seed=5).select(*COLUMNS),
                       policy, KS).toArrow()
    expected = tokenize_table(generate_table("eg-consumer-finance", "customers", rows, seed=5).select(COLUMNS),
                              policy, KS)
    assert got.num_rows == rows
    assert _by_id(got.cast(expected.schema)) == _by_id(expected)
