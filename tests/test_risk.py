"""`tokenize-kit risk`: figures equal an independent pandas computation on generated data; what ID tokens keep is
counted; JSON and chart carry counts only; exit codes 0 / 1 / 2; suppression and `tokenize --max-risk`."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from generators import generate_table
from tokenize_kit import refdata
from tokenize_kit.cli import cli
from tokenize_kit.keys import Keyset
from tokenize_kit.risk import COMPACT_ROWS, ClassCounter, measure_table

EG = ("eg-consumer-finance", "customers")
SA = ("sa-water-utility", "customers")


@pytest.fixture(scope="module")
def eg() -> pa.Table:
    return generate_table(*EG, 20_000, seed=21)


@pytest.fixture(scope="module")
def sa() -> pa.Table:
    return generate_table(*SA, 20_000, seed=22)


# --------------------------------------------------------------------------------- the independent figures
def pandas_figures(df: pd.DataFrame, quasi: list[str], k: int, sensitive: str | None = None) -> dict:
    """k-anonymity and l-diversity figures computed with pandas alone (rows with every quasi value missing are
    in no class)."""
    df = df.copy()
    for c in quasi:
        df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) or
                          (isinstance(v, str) and v.strip() in ("", "N/A")) else v)
    none = df[quasi].isna().all(axis=1)
    body = df[~none]
    sizes = body.groupby(quasi, dropna=False).size()
    out = {"rows": len(df), "no_quasi": int(none.sum()), "classes": len(sizes), "min_k": int(sizes.min()),
           "uniques": int((sizes == 1).sum()), "rows_below": int(sizes[sizes < k].sum()),
           "histogram": {int(s): int(c) for s, c in sizes.value_counts().items()}}
    if sensitive:
        pairs = body.assign(_s=body[sensitive].fillna("<missing>")).groupby([*quasi, "_s"], dropna=False).size()
        per_class = pairs.groupby(level=list(range(len(quasi))), dropna=False)
        out["distinct_l"] = int(per_class.size().min())
        p = pairs / per_class.transform("sum")
        out["entropy_l"] = math.exp(float((-(p * np.log(p))).groupby(level=list(range(len(quasi))),
                                                                     dropna=False).sum().min()))
    return out


def assert_matches(rep, want: dict, k: int) -> None:
    assert rep.rows == want["rows"]
    assert rep.no_quasi_rows == want["no_quasi"]
    assert rep.classes == want["classes"]
    assert rep.min_k == want["min_k"]
    assert rep.uniques == want["uniques"]
    assert rep.rows_below(k) == want["rows_below"]
    assert rep.class_sizes == want["histogram"]
    if "distinct_l" in want:
        assert rep.min_l == want["distinct_l"]
        assert rep.entropy_l == pytest.approx(want["entropy_l"], rel=1e-9)


@pytest.mark.parametrize("quasi", [["birth_date", "gender", "city_en"], ["gender", "governorate_en", "occupation"],
                                   ["governorate_ar"]])
def test_eg_figures_equal_pandas(eg, quasi):
    rep = measure_table(eg, quasi, sensitive="occupation" if "occupation" not in quasi else None, k=5)
    want = pandas_figures(eg.to_pandas(), quasi, 5, "occupation" if "occupation" not in quasi else None)
    assert_matches(rep, want, 5)


def test_sa_figures_with_missing_values_equal_pandas(sa):
    quasi = ["region_en", "birth_date_hijri", "gender"]  # residents have no Hijri birth date (null)
    assert sa.column("birth_date_hijri").null_count
    n = sa.num_rows
    blank = np.arange(n) % 97 == 0  # some rows with every quasi-identifier missing: in no class
    marker = np.arange(n) % 89 == 0  # and empty markers here and there
    region = [("" if b else "N/A" if m else v) for v, b, m in zip(sa.column("region_en").to_pylist(), blank, marker,
                                                                   strict=True)]
    gender = [(" " if b else v) for v, b in zip(sa.column("gender").to_pylist(), blank, strict=True)]
    hijri = [(None if b else v) for v, b in zip(sa.column("birth_date_hijri").to_pylist(), blank, strict=True)]
    t = sa.set_column(sa.column_names.index("region_en"), "region_en", pa.array(region))
    t = t.set_column(t.column_names.index("gender"), "gender", pa.array(gender))
    t = t.set_column(t.column_names.index("birth_date_hijri"), "birth_date_hijri", pa.array(hijri, pa.string()))
    rep = measure_table(t, quasi, sensitive="nationality_en", k=3, l=2)
    want = pandas_figures(t.to_pandas(), quasi, 3, "nationality_en")
    assert want["no_quasi"] >= blank.sum()
    assert_matches(rep, want, 3)


def test_figures_are_the_same_over_batches_and_after_merging(eg):
    """Streaming: many small batches, partial tables merged along the way, give the figures of one pass."""
    quasi = ["birth_date", "city_en"]
    whole = measure_table(eg, quasi, sensitive="occupation", k=4)
    from tokenize_kit import risk

    items = risk.quasi_items(None, quasi)
    old = risk.COMPACT_ROWS
    risk.COMPACT_ROWS = 1000
    try:
        rep, _ = risk.measure(eg.to_batches(max_chunksize=777), items, "occupation")
    finally:
        risk.COMPACT_ROWS = old
    assert rep.class_sizes == whole.class_sizes and rep.l_counts == whole.l_counts
    assert rep.entropy_l == pytest.approx(whole.entropy_l)
    assert COMPACT_ROWS >= 1 << 20


def test_wide_keys_and_growing_dictionaries_count_exactly():
    """Columns needing more than 63 bits together (keys of two words), dictionaries growing batch after batch
    (fields widened and the counted keys re-packed), nulls: the figures still equal pandas."""
    rng = np.random.default_rng(5)
    n = 60_000
    cols = {f"c{i}": rng.integers(0, 20_000 * (i + 1), n) for i in range(4)}  # 15-17 bits each
    cols["d"] = rng.integers(0, 40, n).astype(str)
    t = pa.table({**{k: pa.array(v) for k, v in cols.items()}, "s": pa.array(rng.integers(0, 3, n))})
    t = t.set_column(0, "c0", pa.array([None if i % 50 == 0 else v for i, v in enumerate(cols["c0"].tolist())]))
    quasi = ["c0", "c1", "c2", "c3", "d"]
    counter = ClassCounter(len(quasi), sensitive=True)
    for b in t.to_batches(max_chunksize=7_000):  # sorted data so dictionaries keep growing
        counter.add([b.column(c) for c in quasi], b.column("s"))
    assert counter._words == 2
    from tokenize_kit.risk import quasi_items, report_from_classes

    rep, _ = report_from_classes(counter.classes(), counter.rows, quasi_items(None, quasi), "s")
    want = pandas_figures(t.to_pandas(), quasi, 3, "s")
    assert rep.class_sizes == want["histogram"] and rep.min_l == want["distinct_l"]
    coarse = pa.table({"a": pa.array(np.arange(n) % 7), "b": pa.array(np.arange(n) % 11)})
    assert measure_table(coarse, ["a", "b"], k=2).class_sizes == pandas_figures(coarse.to_pandas(), ["a", "b"],
                                                                                2)["histogram"]


def eg_city_governorate(cities: set[str]) -> dict[str, str]:
    """English city or markaz name -> its governorate from the reference tables, written independently of the
    library: every governorate listing a place so named, joined by " / " when there are several."""
    from tokenize_kit.generalize import place_key  # (spelling variants are matched as the library folds them)

    gov_en = {r["code"]: r["name_en"] for r in refdata.table("eg_governorates").to_pylist()}
    govs_of: dict[str, set[str]] = {}
    for table, en, ar in (("eg_cities", "name_en", "name_ar"), ("eg_villages", "markaz_en", "markaz_ar")):
        for r in refdata.table(table).to_pylist():
            for name in (r[en], r[ar]):
                govs_of.setdefault(place_key(name), set()).add(gov_en[r["governorate_code"]])
    return {c: " / ".join(sorted(govs_of[place_key(c)])) for c in cities}


def _independent_id_parts(nid: str) -> dict:
    year = (1900 if nid[0] == "2" else 2000) + int(nid[1:3])
    dt.date(year, int(nid[3:5]), int(nid[5:7]))  # a real date (raises otherwise)
    return {"year5": f"{year - year % 5}-{year - year % 5 + 4}", "gov": nid[7:9], "male": int(nid[12]) % 2}


def test_policy_figures_count_what_id_tokens_keep_and_generalised_columns(eg):
    policy = {"columns": {
        "national_id": {"type": "eg_national_id", "keep": ["birth_5y", "governorate", "gender"]},
        "monthly_income_egp": {"type": "number", "method": "generalize", "width": 10000, "top": 60000},
        "city_en": {"type": "place", "method": "generalize", "country": "eg", "level": "city",
                    "to": "governorate"},
        "mobile": {"type": "phone"},  # tokenized, not a quasi-identifier
    }, "quasi": ["occupation"]}
    rep = measure_table(eg, policy=policy, k=5)
    assert rep.quasi == ["national_id[birth_5y]", "national_id[gender]", "national_id[governorate]",
                         "monthly_income_egp", "city_en", "occupation"]
    df = eg.to_pandas()
    parts = pd.DataFrame([_independent_id_parts(n) for n in df["national_id"]])
    city_gov = eg_city_governorate(set(df["city_en"]))
    inc = df["monthly_income_egp"].map(lambda v: ">=60000" if v >= 60000 else
                                       f"[{v // 10000 * 10000}, {v // 10000 * 10000 + 10000})")
    frame = pd.DataFrame({"a": parts["year5"], "b": parts["male"], "c": parts["gov"], "d": inc,
                          "e": df["city_en"].map(city_gov), "f": df["occupation"]})
    assert_matches(rep, pandas_figures(frame, list("abcdef"), 5), 5)


def test_measured_the_same_on_the_raw_file_and_on_the_delivery(eg, tmp_path):
    """A token keeps the raw ID's parts, a generalised column holds its labels: both ways give one answer."""
    policy = {"columns": {
        "national_id": {"type": "eg_national_id", "keep": ["birth_year", "gender"]},
        "birth_date": {"type": "date", "method": "generalize", "to": "10y"},
        "city_ar": {"type": "place", "method": "generalize", "country": "eg", "level": "city",
                    "to": "governorate"},
    }}
    from tokenize_kit.table import tokenize_table

    delivery = tokenize_table(eg, policy, Keyset.generate())
    before = measure_table(eg, policy=policy, k=2)
    after = measure_table(delivery, policy=policy, k=2, simulate=False)
    assert before.to_dict() == after.to_dict()


# ------------------------------------------------------------------------------------------------------ CLI
def tk(*args: str, code: int | None = 0):
    res = CliRunner().invoke(cli, list(args))
    if code is not None:
        assert res.exit_code == code, (res.output, res.exception)
    return res


@pytest.fixture(scope="module")
def files(eg, tmp_path_factory):
    d = tmp_path_factory.mktemp("risk")
    small = eg.slice(0, 5000)
    pacsv.write_csv(small, d / "c.csv")
    pq.write_table(small, d / "c.parquet")
    return d, small


def test_cli_table_json_and_exit_codes(files):
    d, small = files
    res = tk("risk", str(d / "c.csv"), "--quasi", "birth_date,gender", "--quasi", "city_en", "--k", "2",
             "--sensitive", "occupation", "--l", "2", code=1)
    assert "NOT MET" in res.output and "unique rows" in res.output and "distinct l" in res.output
    res = tk("risk", str(d / "c.parquet"), "--quasi", "gender", "--k", "2", "--format", "json", code=0)
    doc = json.loads(res.stdout)
    assert doc["format"] == "tokenize-kit.risk" and doc["version"] == 1 and doc["met"] is True
    assert doc["k_anonymity"]["min"] == min(pd.Series(small.column("gender").to_pylist()).value_counts())
    assert doc["class_sizes"] and {"size_from", "size_to", "classes", "rows"} == set(doc["class_sizes"][0])
    tk("risk", str(d / "c.csv"), "--quasi", "gender", code=0)  # no target: figures only


def test_cli_prints_no_values(files):
    d, small = files
    res = tk("risk", str(d / "c.csv"), "--quasi", "birth_date,city_ar,monthly_income_egp", "--k", "5",
             "--sensitive", "occupation", "--format", "json", code=1)
    text = tk("risk", str(d / "c.csv"), "--quasi", "birth_date,city_ar,monthly_income_egp", "--k", "5",
              "--sensitive", "occupation", code=1).output
    values = {str(v) for c in ("birth_date", "city_ar", "occupation", "national_id") for v in
              small.column(c).to_pylist()}
    for out in (res.output, text):
        assert not [v for v in values if v in out]


def test_cli_chart_is_self_contained_html_and_not_overwritten(files, tmp_path):
    d, small = files
    chart = tmp_path / "risk.html"
    tk("risk", str(d / "c.csv"), "--quasi", "birth_date,gender", "--k", "3", "--chart", str(chart), code=1)
    html = chart.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script" not in html and "http" not in \
        html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not [v for v in map(str, small.column("birth_date").to_pylist()) if v in html]
    res = tk("risk", str(d / "c.csv"), "--quasi", "gender", "--chart", str(chart), code=2)
    assert "--force" in res.output
    tk("risk", str(d / "c.csv"), "--quasi", "gender", "--chart", str(tmp_path / "r.svg"), code=0)
    assert (tmp_path / "r.svg").read_text().startswith("<svg")


def test_cli_bad_input_exit_2(files, tmp_path):
    d, _ = files
    res = tk("risk", str(d / "c.csv"), "--quasi", "gender,nope", code=2)
    assert "nope" in res.output and "city_en" in res.output
    res = tk("risk", str(d / "c.csv"), "--quasi", "gender", "--k", "1", code=2)
    assert "--k" in res.output
    tk("risk", str(d / "c.csv"), "--quasi", "gender", "--l", "2", code=2)  # --l without --sensitive
    tk("risk", str(d / "c.csv"), code=2)  # no quasi-identifier at all
    bad = tmp_path / "bad.csv"
    days = [f"19{80 + i % 20}-0{1 + i % 9}-1{i % 10}" for i in range(30)]
    days[12] = "1981-02-31"
    bad.write_text("birth_date,g\n" + "".join(f"{d},M\n" for d in days), encoding="utf-8")
    policy = tmp_path / "p.yaml"
    policy.write_text("columns:\n  birth_date: {type: date, method: generalize, to: year}\n", encoding="utf-8")
    res = tk("risk", str(bad), "--policy", str(policy), "--k", "2", code=2)
    assert "row 13" in res.output and "birth_date" in res.output and "1981-02-31" not in res.output
    res = tk("risk", str(bad), "--quasi", "birth_date", "--suggest", "2", code=2)
    assert "row 13" in res.output and "1981-02-31" not in res.output


# --------------------------------------------------------------------------------- delivery: suppress, gate
@pytest.fixture()
def env(tmp_path, monkeypatch):
    ks = tmp_path / "keys.json"
    Keyset.generate().save(ks, passphrase="pw")
    monkeypatch.setenv("TOKENIZE_KIT_KEYSET", str(ks))
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "pw")
    return tmp_path


def test_max_risk_refuses_a_delivery_that_misses_it(files, env):
    d, _ = files
    policy = env / "p.yaml"
    policy.write_text("columns:\n  national_id: {type: eg_national_id, keep: [birth_date, gender]}\n",
                      encoding="utf-8")
    out = env / "out.csv"
    res = tk("tokenize", str(d / "c.csv"), str(out), "--policy", str(policy), "--max-risk", "5", "-q", code=1)
    assert "not 5-anonymous" in res.output and "--suggest 5" in res.output
    assert not out.exists() and not list(env.glob("out.csv*"))
    policy.write_text("columns:\n  national_id: {type: eg_national_id, keep: [birth_10y, gender]}\n",
                      encoding="utf-8")
    tk("tokenize", str(d / "c.csv"), str(out), "--policy", str(policy), "--max-risk", "5", "-q", code=0)
    manifest = json.loads((env / "out.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest["risk"]["min_k"] >= 5 and manifest["risk"]["max_risk"] == 5
    res = tk("tokenize", str(d / "c.csv"), str(env / "o2.csv"), "--policy", str(policy), "--max-risk", "5",
             "--quasi", "nope", "-q", code=2)
    assert "nope" in res.output


def test_suppression_empties_small_classes_and_the_gate_sees_it(files, env):
    d, small = files
    policy = env / "p.yaml"
    policy.write_text(
        "columns:\n"
        "  national_id: {type: eg_national_id, keep: [birth_5y, governorate]}\n"
        "  city_en: {type: place, method: generalize, country: eg, level: city, to: governorate}\n"
        "quasi: [gender]\n"
        "suppress: {k: 4, max_share: 0.2}\n", encoding="utf-8")
    out = env / "out.csv"
    tk("tokenize", str(d / "c.csv"), str(out), "--policy", str(policy), "--max-risk", "4", "-q", code=0)
    got = pacsv.read_csv(out, convert_options=pacsv.ConvertOptions(strings_can_be_null=True,
                                                                   column_types={"national_id": pa.string()}))
    before = measure_table(small, policy=str(policy), k=4)
    suppressed = [i for i, v in enumerate(got.column("city_en").to_pylist()) if v is None]
    assert len(suppressed) == before.suppressed_rows > 0
    for c in ("national_id", "gender", "city_en"):
        assert all(got.column(c)[i].as_py() is None for i in suppressed)
    untouched = [c for c in small.column_names if c not in ("national_id", "gender", "city_en")]
    for c in untouched[:3]:
        assert [str(v) for v in got.column(c).to_pylist()] == [str(v) for v in small.column(c).to_pylist()]
    manifest = json.loads((env / "out.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest["risk"]["suppressed_rows"] == before.suppressed_rows and manifest["risk"]["min_k"] >= 4
    delivered = tk("risk", str(out), "--policy", str(policy), "--delivered", "--k", "4", "--format", "json")
    assert json.loads(delivered.stdout)["rows_without_quasi_values"] == before.suppressed_rows
    policy.write_text(policy.read_text(encoding="utf-8").replace("max_share: 0.2", "max_share: 0.001"),
                      encoding="utf-8")
    res = tk("tokenize", str(d / "c.csv"), str(env / "o3.csv"), "--policy", str(policy), "-q", "--force", code=1)
    assert "max_share" in res.output and not (env / "o3.csv").exists()


def test_the_scan_gate_accepts_generalised_columns(files, env):
    """A generalised city holds its governorate, which may equal the row's raw governorate: by the policy's choice,
    not a leak.  The gate still passes the delivery (and still fails one where a raw value passes through)."""
    _, small = files
    src = env / "in.csv"
    pacsv.write_csv(small.select(["national_id", "city_en", "governorate_en", "birth_date"]), src)
    policy = env / "p.yaml"
    policy.write_text(
        "columns:\n"
        "  national_id: {type: eg_national_id, keep: [birth_5y]}\n"
        "  city_en: {type: place, method: generalize, country: eg, level: city, to: governorate}\n"
        "  governorate_en: {type: category, method: generalize, to: '*'}\n"
        "  birth_date: {type: date, method: date_shift, entity: national_id, max_days: 10}\n", encoding="utf-8")
    tk("tokenize", str(src), str(env / "out.csv"), "--policy", str(policy), "-q")
    res = tk("scan", str(env / "out.csv"), "--against", str(src), "--policy", str(policy), code=0)
    assert "RAW VALUES" not in res.output
    leaky = env / "leaky.yaml"  # the IDs left out of the policy: they pass through, and the gate says so
    leaky.write_text("\n".join(line for line in policy.read_text(encoding="utf-8").splitlines()
                               if "eg_national_id" not in line) + "\n", encoding="utf-8")
    tk("tokenize", str(src), str(env / "leak.csv"), "--policy", str(leaky), "-q")
    res = tk("scan", str(env / "leak.csv"), "--against", str(src), "--policy", str(leaky), code=1)
    assert "national_id" in res.output
