"""`risk --suggest K`: minimal over the generalisation lattice (checked by brute force over every node with
pandas and hierarchies written here from the reference tables), least information loss among the minimal nodes,
and the written policy reaches K on generated data, end to end through `tokenize --max-risk`."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner

from generators import generate_table
from tests.test_risk import eg_city_governorate
from tokenize_kit.cli import cli
from tokenize_kit.keys import Keyset
from tokenize_kit.policy import Policy
from tokenize_kit.risk import measure_table, quasi_items
from tokenize_kit.suggest import NoSuggestion, suggest


def _date_level(d: dt.date, level: int) -> str:
    y = d.year
    return [d.isoformat(), f"{y:04d}-{d.month:02d}", f"{y:04d}", f"{y - y % 5}-{y - y % 5 + 4}",
            f"{y - y % 10}-{y - y % 10 + 9}", "*"][level]


def _brute_force(columns: list[list[list[str]]], rows: int, k: int, budget: int):
    """Every node of the lattice: reaches k?, suppressed rows, discernibility.  ``columns[i][level]`` holds the
    labels of quasi-identifier i at each level (one per row)."""
    tops = [len(c) - 1 for c in columns]
    out = {}
    for node in itertools.product(*(range(t + 1) for t in tops)):
        frame = pd.DataFrame({f"c{i}": columns[i][lv] for i, lv in enumerate(node)})
        sizes = frame.groupby(list(frame.columns)).size().to_numpy()
        suppressed = int(sizes[sizes < k].sum())
        dm = float((sizes[sizes >= k].astype(float) ** 2).sum()) + suppressed * float(rows)
        loss = float(np.mean([lv / t for lv, t in zip(node, tops, strict=True) if t > 0]))
        out[node] = (suppressed <= budget, suppressed, dm, loss)
    minimal = {n for n, (ok, *_) in out.items() if ok and not any(
        out[m][0] for m in out if m != n and all(a <= b for a, b in zip(m, n, strict=True)))}
    best = min(minimal, key=lambda n: (round(out[n][3], 12), out[n][1], out[n][2], n))
    return out, minimal, best


def test_suggest_is_minimal_and_least_over_the_lattice_by_brute_force():
    t = generate_table("eg-consumer-finance", "customers", 400, seed=31).select(["birth_date", "gender", "city_en"])
    k, share = 3, 0.05
    s = suggest(t.to_batches(max_chunksize=150), quasi_items(None, ["birth_date", "gender", "city_en"]), k, share)
    assert [c.levels for c in s.chains] == [["day", "month", "year", "5y", "10y", "*"], ["as is", "*"],
                                           ["city", "governorate", "*"]]
    gov = eg_city_governorate(set(t.column("city_en").to_pylist()))
    dates = t.column("birth_date").to_pylist()
    genders = t.column("gender").to_pylist()
    cities = t.column("city_en").to_pylist()
    columns = [[[_date_level(d, lv) for d in dates] for lv in range(6)],
               [genders, ["*"] * len(genders)],
               [cities, [gov[c] for c in cities], ["*"] * len(cities)]]
    budget = int(share * t.num_rows)
    nodes, minimal, best = _brute_force(columns, t.num_rows, k, budget)
    assert {n.levels for n in s.minimal} == minimal
    assert s.node.levels == best
    assert s.node.suppressed == nodes[best][1] and s.node.discernibility == nodes[best][2]
    assert s.evaluated < len(nodes)  # predictive tagging skipped nodes above the minimal ones
    assert s.lattice_size == len(nodes) == 36


def test_suggest_with_id_parts_and_numbers_by_brute_force():
    t = generate_table("eg-consumer-finance", "customers", 300, seed=32).select(
        ["national_id", "monthly_income_egp"])
    policy = Policy.from_dict({"columns": {"national_id": {"type": "eg_national_id",
                                                           "keep": ["birth_year", "gender"]}}})
    items = quasi_items(policy, ["monthly_income_egp"])
    k, share = 4, 0.03
    s = suggest(t.to_batches(), items, k, share, policy)
    levels = [c.levels for c in s.chains]
    assert levels[0] == ["year", "5y", "10y", "*"] and levels[1] == ["gender", "*"]
    assert levels[2][0] == "as is" and levels[2][-1] == "*"
    ids = t.column("national_id").to_pylist()
    born = [dt.date((1900 if n[0] == "2" else 2000) + int(n[1:3]), int(n[3:5]), int(n[5:7])) for n in ids]
    income = t.column("monthly_income_egp").to_pylist()

    def inc(v: int, name: str) -> str:
        if name == "as is":
            return str(v)
        if name == "*":
            return "*"
        w = float(name.split(":")[1])
        return str(int(v // w))
    columns = [[[_date_level(d, lv + 2) for d in born] for lv in range(4)],
               [["M" if int(n[12]) % 2 else "F" for n in ids], ["*"] * len(ids)],
               [[inc(v, name) for v in income] for name in levels[2]]]
    nodes, minimal, best = _brute_force(columns, t.num_rows, k, int(share * t.num_rows))
    assert {n.levels for n in s.minimal} == minimal and s.node.levels == best
    # the written policy says the same and reaches k when measured on its own
    rep = measure_table(t, policy=s.policy, k=k)
    assert rep.k_met and rep.suppressed_rows == nodes[best][1] <= share * t.num_rows
    assert s.report.to_dict()["k_anonymity"] == {**rep.to_dict()["k_anonymity"]}


@pytest.mark.parametrize("dataset,quasi,k", [
    ("eg-consumer-finance", ["birth_date", "gender", "city_ar", "monthly_income_egp"], 5),
    ("sa-water-utility", ["birth_date", "gender", "district_en", "nationality_en"], 10),
])
def test_suggested_policy_reaches_k_end_to_end(dataset, quasi, k, tmp_path, monkeypatch):
    t = generate_table(dataset, "customers", 20_000, seed=33)
    src = tmp_path / "in.csv"
    pacsv.write_csv(t, src)
    ks = tmp_path / "keys.json"
    Keyset.generate().save(ks, passphrase="pw")
    monkeypatch.setenv("TOKENIZE_KIT_KEYSET", str(ks))
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "pw")
    run = CliRunner()
    base = tmp_path / "base.yaml"
    base.write_text("columns:\n  national_id: {type: " + ("eg_national_id" if dataset.startswith("eg") else
                                                         "sa_national_id") + "}\n  mobile: {type: phone}\n",
                    encoding="utf-8")
    res = run.invoke(cli, ["risk", str(src), "--policy", str(base), "--quasi", ",".join(quasi), "--suggest", str(k),
                           "--max-suppress", "0.01", "--write-policy", str(tmp_path / "p.yaml"), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["met"] and doc["k_anonymity"]["min"] >= k and doc["suppressed_rows"] <= 0.01 * t.num_rows
    suggested = Policy.load(tmp_path / "p.yaml")
    assert suggested.columns["national_id"].type in ("eg_national_id", "sa_national_id")  # base policy kept
    assert suggested.suppress is not None and suggested.suppress.k == k
    out = tmp_path / "out.csv"
    res = run.invoke(cli, ["tokenize", str(src), str(out), "--policy", str(tmp_path / "p.yaml"),
                           "--max-risk", str(k), "-q"])
    assert res.exit_code == 0, res.output
    check = run.invoke(cli, ["risk", str(out), "--policy", str(tmp_path / "p.yaml"), "--delivered", "--k", str(k)])
    assert check.exit_code == 0, check.output


def test_no_suggestion_is_a_finding():
    t = pa.table({"g": ["a", "b", "c"]})
    with pytest.raises(NoSuggestion):
        suggest(t.to_batches(), quasi_items(None, ["g"]), 5, 0.0)
    with pytest.raises(Exception, match="at least 2"):
        suggest(t.to_batches(), quasi_items(None, ["g"]), 1, 0.0)


def test_no_suggestion_exits_1(tmp_path):
    src = tmp_path / "s.csv"
    src.write_text("g\na\nb\nc\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["risk", str(src), "--quasi", "g", "--suggest", "5"])
    assert res.exit_code == 1 and "no suggestion" in res.output
