"""tokenize_kit.spark.risk on Spark local[2] equals the single-process figures; transforms run on Spark too."""

from __future__ import annotations

import pyarrow as pa
import pytest

pyspark = pytest.importorskip("pyspark")

from generators import generate_table  # noqa: E402
from tests.test_spark import KS, spark  # noqa: E402, F401  (the shared local[2] session fixture)
from tokenize_kit import spark as tks  # noqa: E402
from tokenize_kit.risk import measure_table  # noqa: E402
from tokenize_kit.table import tokenize_table  # noqa: E402

pytestmark = pytest.mark.spark

POLICY = {"columns": {
    "national_id": {"type": "eg_national_id", "keep": ["birth_10y", "gender"]},
    "birth_date": {"type": "date", "method": "generalize", "to": "10y"},
    "city_en": {"type": "place", "method": "generalize", "country": "eg", "level": "city", "to": "governorate"},
    "monthly_income_egp": {"type": "number", "method": "generalize", "width": 10000, "top": 40000},
}, "quasi": ["gender"], "suppress": {"k": 3, "max_share": 0.2}}


@pytest.fixture(scope="module")
def customers() -> pa.Table:
    t = generate_table("eg-consumer-finance", "customers", 3000, seed=11)
    return t.select(["customer_id", "national_id", "gender", "birth_date", "city_en", "occupation",
                     "monthly_income_egp"])


def _df(spark, table):  # noqa: F811
    return spark.createDataFrame(table.to_pandas()).repartition(3)


def _same(a, b):
    da, db = a.to_dict(), b.to_dict()
    ea, eb = da.pop("l_diversity", {}).pop("entropy_min", None), db.pop("l_diversity", {}).pop("entropy_min", None)
    assert da == db
    assert (ea is None) == (eb is None) and (ea is None or ea == pytest.approx(eb, rel=1e-9))


def test_spark_risk_equals_single_process(spark, customers):  # noqa: F811
    df = _df(spark, customers)
    quasi = ["birth_date", "gender", "city_en"]
    got = tks.risk(df, quasi, sensitive="occupation", k=2, l=2)
    want = measure_table(customers, quasi, sensitive="occupation", k=2, l=2)
    _same(got, want)
    assert got.min_k == 1 and got.uniques > 0
    got = tks.risk(df, policy=POLICY, sensitive="occupation", k=3, l=2)  # ID parts, generalised, suppressed
    want = measure_table(customers, policy=POLICY, sensitive="occupation", k=3, l=2)
    _same(got, want)
    assert got.suppressed_rows == want.suppressed_rows > 0 and got.min_k >= 3


def test_spark_tokenize_runs_transforms_like_one_machine(spark, customers):  # noqa: F811
    policy = {"columns": {**{k: v for k, v in POLICY["columns"].items() if k != "national_id"},
                          "national_id": {"type": "eg_national_id", "keep": ["birth_10y"]},
                          "birth_date": {"type": "date", "method": "date_shift", "entity": "national_id",
                                         "max_days": 20}}}
    df = _df(spark, customers)
    out = tks.tokenize(df, policy, KS)
    assert dict(out.dtypes)["city_en"] == "string" and dict(out.dtypes)["birth_date"] == "date"
    got = pa.Table.from_pandas(out.toPandas(), preserve_index=False)
    want = tokenize_table(customers, policy, KS)

    def rows(t):
        return sorted(zip(*(t.column(c).to_pylist() for c in customers.column_names), strict=True),
                      key=lambda r: r[0])
    assert rows(got) == rows(want)
    back = pa.Table.from_pandas(tks.detokenize(out, policy, KS).toPandas(), preserve_index=False)
    def dates(t):
        return sorted(zip(t.column("customer_id").to_pylist(), t.column("birth_date").to_pylist(), strict=True))
    assert dates(back) == dates(customers)


def test_spark_tokenize_suppresses_like_one_machine(spark, customers):  # noqa: F811
    out = tks.tokenize(_df(spark, customers), POLICY, KS)
    assert "__tokenize_kit_suppressed" not in out.columns
    got = pa.Table.from_pandas(out.toPandas(), preserve_index=False)
    want = tokenize_table(customers, POLICY, KS)

    def rows(t):
        return sorted(zip(*(t.column(c).to_pylist() for c in customers.column_names), strict=True),
                      key=lambda r: r[0])
    assert rows(got) == rows(want)
    assert sum(v is None for v in got.column("city_en").to_pylist()) > 0
    tight = {**POLICY, "suppress": {"k": 50, "max_share": 0.01}}
    from tokenize_kit.risk import RiskRefused

    with pytest.raises(RiskRefused, match="max_share"):
        tks.tokenize(_df(spark, customers), tight, KS)
