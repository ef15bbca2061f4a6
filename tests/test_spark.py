"""Spark (local[2]): the same tokens as tokenize_table, round trips, nulls, empty partitions, early errors,
and executors receive only derived subkeys."""

from __future__ import annotations

import pickle

import pyarrow as pa
import pytest

pyspark = pytest.importorskip("pyspark")

from generators.spark import generate  # noqa: E402
from tests.messy_files import HEADER, POLICY_YAML, rows  # noqa: E402
from tokenize_kit import spark as tks  # noqa: E402
from tokenize_kit.keys import Keyset  # noqa: E402
from tokenize_kit.policy import Policy  # noqa: E402
from tokenize_kit.table import TokenizeError, tokenize_table  # noqa: E402

pytestmark = pytest.mark.spark
KS = Keyset.generate()
POLICY = Policy.from_dict(__import__("yaml").safe_load(POLICY_YAML))


@pytest.fixture(scope="module")
def spark():
    import sys

    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as env:  # the environment is restored when the module's tests are done
        env.setenv("PYSPARK_PYTHON", sys.executable)  # workers must use this interpreter (pyarrow, tokenize_kit)
        env.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
        s = (SparkSession.builder.master("local[2]").appName("tokenize-kit-tests")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
             .config("spark.driver.memory", "1g").getOrCreate())
        s.sparkContext.setLogLevel("ERROR")
        yield s
        s.stop()


def _table(n: int = 200) -> pa.Table:
    data = rows(n)
    return pa.table({h: pa.array([r[i] or None if i == 1 and r[i] == "" else r[i] for r in data], pa.string())
                     for i, h in enumerate(HEADER)})


def test_spark_equals_tokenize_table_and_round_trips(spark):
    table = _table()
    df = spark.createDataFrame(table.to_pandas()).repartition(3)
    df = df.sortWithinPartitions(HEADER[0])
    tok = tks.tokenize(df, POLICY, KS)
    got = pa.Table.from_pandas(tok.toPandas(), preserve_index=False)
    expected = tokenize_table(pa.Table.from_pandas(df.toPandas(), preserve_index=False), POLICY, KS)
    key = HEADER[-1]  # amount + name are untouched: use the whole untouched part as a row key
    def by_row(t):
        return sorted(zip(*(t.column(h).to_pylist() for h in HEADER), strict=True), key=lambda r: tuple(map(str, r)))
    assert by_row(got) == by_row(expected)
    back = tks.detokenize(tok, POLICY, KS)
    assert by_row(pa.Table.from_pandas(back.toPandas(), preserve_index=False)) == by_row(table)
    assert key in tok.columns


def test_nulls_and_empty_partitions(spark):
    pdf = pa.table({"الرقم القومي": ["29801010123456", None], "x": ["a", "b"]}).to_pandas()
    df = spark.createDataFrame(pdf).repartition(6)  # most partitions empty
    policy = {"columns": {"الرقم القومي": {"type": "eg_national_id"}}}
    out = sorted(tks.tokenize(df, policy, KS).collect(), key=lambda r: r["x"])
    assert out[1]["الرقم القومي"] is None and out[0]["الرقم القومي"] != "29801010123456"
    assert len(out[0]["الرقم القومي"]) == 14


def test_int64_column_keeps_type(spark):
    df = spark.createDataFrame([(29801010123456,), (30001010123458,)], "nid long")
    out = tks.tokenize(df, {"columns": {"nid": {"type": "eg_national_id"}}}, KS)
    assert dict(out.dtypes)["nid"] == "bigint"
    back = tks.detokenize(out, {"columns": {"nid": {"type": "eg_national_id"}}}, KS)
    assert sorted(r["nid"] for r in back.collect()) == [29801010123456, 30001010123458]


def test_missing_column_fails_before_any_job(spark):
    df = spark.createDataFrame([("a",)], "x string")
    sc = spark.sparkContext
    sc.setJobGroup("missing-col", "test")
    with pytest.raises(TokenizeError) as info:
        tks.tokenize(df, {"columns": {"mobile": {"type": "phone"}}}, KS)
    assert "mobile" in str(info.value) and "x" in str(info.value)
    assert list(sc.statusTracker().getJobIdsForGroup("missing-col")) == []


def test_derived_keyset_carries_only_policy_subkeys():
    derived = tks.DerivedKeyset.for_policy(KS, POLICY)
    material = KS._keys["default"]["versions"][1].material
    blob = pickle.dumps(derived)
    assert material not in blob and "subkeys=" in repr(derived)
    assert derived.subkey("phone") == KS.subkey("phone")
    with pytest.raises(Exception, match="not derived"):
        derived.subkey("a_domain_no_column_uses")
    with pytest.raises(TypeError):
        pickle.dumps(KS)


def test_scan(spark):
    df = spark.createDataFrame(_table(100).to_pandas())
    found = {(r["column"], r["type"]): r for r in tks.scan(df).collect()}
    assert ("الرقم القومي", "national_id") in found
    assert found[("الرقم القومي", "national_id")]["confidence"] > 0.5


def test_scan_counts_add_up_over_equal_partitions(spark):
    """Partitions with identical counts must not collapse when the per-partition figures are summed."""
    pdf = _table(50).to_pandas()
    import pandas as pd

    df = spark.createDataFrame(pd.concat([pdf, pdf], ignore_index=True))  # local[2]: two equal slices
    assert df.rdd.getNumPartitions() == 2
    found = {(r["column"], r["type"]): r for r in tks.scan(df).collect()}
    row = found[("الرقم القومي", "national_id")]
    single = {(r["column"], r["type"]): r for r in tks.scan(spark.createDataFrame(pdf).coalesce(1)).collect()}
    one = single[("الرقم القومي", "national_id")]
    assert row["non_empty"] == 2 * one["non_empty"] and row["count"] == 2 * one["count"]
    assert row["confidence"] <= 1.0


def test_generate_on_spark_equals_single_machine(spark):
    from generators import BATCH_ROWS, generate_table

    rows = BATCH_ROWS + 700  # two batches, so two partitions
    df = generate(spark, "eg-consumer-finance", "customers", rows=rows, seed=5)
    assert df.rdd.getNumPartitions() == 2
    got = pa.Table.from_pandas(df.toPandas(), preserve_index=False)
    want = generate_table("eg-consumer-finance", "customers", rows, seed=5)
    assert got.num_rows == rows
    assert got.column("national_id").to_pylist() == want.column("national_id").to_pylist()
    assert got.column("full_name_ar").to_pylist() == want.column("full_name_ar").to_pylist()
    assert got.column("birth_date").to_pylist() == want.column("birth_date").to_pylist()
    small = generate(spark, "sa-water-utility", "service_requests", rows=300, seed=2).toPandas()
    assert small.to_dict("list") == generate_table("sa-water-utility", "service_requests", 300, 2).to_pandas().to_dict(
        "list")
    with pytest.raises(ValueError, match="has no table"):
        generate(spark, "eg-consumer-finance", "nope", rows=10)


def test_keyset_path_is_accepted(spark, tmp_path, monkeypatch):
    """A keyset file's path (str or Path; passphrase from the argument or $TOKENIZE_KIT_PASSPHRASE) gives the
    same tokens as the Keyset, in Spark and in the table API."""
    from pathlib import Path

    from tokenize_kit import detokenize_table

    ks = Keyset.generate()
    ks.save(tmp_path / "keys.json", passphrase="pw")
    table = _table(40)
    expected = tokenize_table(table, POLICY, ks)
    assert tokenize_table(table, POLICY, str(tmp_path / "keys.json"), passphrase="pw").equals(expected)
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "pw")
    assert detokenize_table(expected, POLICY, tmp_path / "keys.json").equals(table)
    df = spark.createDataFrame(table.to_pandas()).coalesce(1)
    got = pa.Table.from_pandas(tks.tokenize(df, POLICY, Path(tmp_path / "keys.json")).toPandas(),
                               preserve_index=False)
    assert got.column(HEADER[0]).to_pylist() == expected.column(HEADER[0]).to_pylist()
    back = tks.detokenize(spark.createDataFrame(got.to_pandas()), POLICY, str(tmp_path / "keys.json"),
                          passphrase="pw")
    assert back.toPandas()[HEADER[0]].tolist() == table.column(HEADER[0]).to_pylist()


_PROBE = """
import os, sys
os.environ["PYSPARK_PYTHON"] = sys.argv[1]
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
from pyspark.sql import SparkSession
s = (SparkSession.builder.master("local[1]").appName("tokenize-kit-worker-check")
     .config("spark.ui.enabled", "false").config("spark.driver.memory", "512m").getOrCreate())
s.sparkContext.setLogLevel("OFF")
from tokenize_kit import spark as tks
from tokenize_kit.keys import Keyset
df = s.createDataFrame([("29801010123456",)], "id string")
try:
    tks.tokenize(df, {"columns": {"id": {"type": "eg_national_id"}}}, Keyset.generate())
except tks.SparkWorkerError as exc:
    print("REFUSED:", exc)
s.stop()
"""


def test_workers_without_the_package_fail_on_the_driver_naming_pyspark_python(tmp_path):
    """Workers running a Python without tokenize-kit (here the system's): the driver refuses before any action,
    naming PYSPARK_PYTHON (its own Spark application, so it runs in a child process)."""
    import shutil
    import subprocess
    import sys

    other = next((p for p in ("/usr/bin/python3", shutil.which("python3")) if p and subprocess.run(
        [p, "-c", "import tokenize_kit"], capture_output=True, cwd=tmp_path).returncode != 0), None)
    if other is None:
        pytest.skip("no Python without tokenize-kit on this machine")
    (tmp_path / "probe.py").write_text(_PROBE)
    proc = subprocess.run([sys.executable, str(tmp_path / "probe.py"), other], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("REFUSED:")), "")
    assert "PYSPARK_PYTHON" in line and "cannot import tokenize_kit" in line, (proc.stdout, proc.stderr[-2000:])
