"""Nested values (JSON Lines objects and arrays, Parquet struct / list / map): tokenize covers every text and
integer leaf (free_text on the column, a type on a list of values, a path per leaf) or refuses the column;
scan reads every leaf; the gate catches a raw value hidden in a nested leaf."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tokenize_kit import detokenize_table, tokenize_table
from tokenize_kit.keys import Keyset
from tokenize_kit.table import TokenizeError

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")
KS = Keyset.generate()
MOBILE, EG_ID = "01012345678", "29801010123456"


def _table() -> pa.Table:
    return pa.table({
        "loan": ["L-1", "L-2", "L-3"],
        "mobile": [MOBILE, "01112345678", "01212345678"],
        "extra": [{"phone": MOBILE, "note": f"الرقم القومي {EG_ID}", "tags": ["اتصل على 01512345678"]}, None,
                  {"phone": None, "note": "لا شيء", "tags": []}],
        "phones": [["0501234567", "00966501234567"], [], None],
        "attrs": pa.array([[("ref", "0551234567")], None, []], pa.map_(pa.string(), pa.string())),
    })


POLICY = {"columns": {"mobile": {"type": "phone"}, "extra": {"type": "free_text"}, "extra.phone": {"type": "phone"},
                      "phones": {"type": "phone"}, "attrs": {"type": "free_text"}}}


def test_every_leaf_is_tokenized_and_comes_back():
    t = _table()
    out = tokenize_table(t, POLICY, KS)
    assert out.schema == t.schema  # the structure and the types stay
    flat = json.dumps(out.to_pylist(), ensure_ascii=False)
    for raw in (MOBILE, EG_ID, "01512345678", "0501234567", "0551234567"):
        assert raw not in flat
    assert out["extra"][0]["phone"].as_py() == out["mobile"][0].as_py()  # a path gets the column type's token
    assert out["extra"][1].as_py() is None and out["phones"][2].as_py() is None and out["phones"][1].as_py() == []
    assert detokenize_table(out, POLICY, KS).equals(t)


def test_a_nested_column_outside_the_policy_is_refused():
    with pytest.raises(TokenizeError, match="'phones' holds nested values") as err:
        tokenize_table(_table(), {"columns": {"mobile": {"type": "phone"}, "extra": {"type": "free_text"},
                                              "attrs": {"type": "free_text"}}}, KS)
    assert "phones[]" in str(err.value) and MOBILE not in str(err.value)


def test_leaves_a_path_policy_leaves_out_are_refused_and_keep_passes_through():
    with pytest.raises(TokenizeError, match=r"leaves \['extra.note', 'extra.tags\[\]'\]"):
        tokenize_table(_table(), {"columns": {"extra.phone": {"type": "phone"}, "phones": {"type": "phone"},
                                              "attrs": {"type": "free_text"}}}, KS)
    kept = tokenize_table(_table(), {"columns": {"extra": {"type": "free_text", "method": "keep"},
                                                 "phones": {"type": "phone"}, "attrs": {"type": "free_text"}}}, KS)
    assert kept["extra"].equals(_table()["extra"])


def test_a_path_to_nowhere_is_a_clear_error():
    with pytest.raises(TokenizeError, match=r"has no leaf 'extra\.fax'"):
        tokenize_table(_table(), {"columns": {**POLICY["columns"], "extra.fax": {"type": "phone"}}}, KS)


def _tk(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tokenize_kit", *args], cwd=cwd, capture_output=True, text=True,
                          env={"TOKENIZE_KIT_PASSPHRASE": "pw", "PATH": "/usr/bin:/bin"}, check=False)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_files_with_nested_values_through_the_command(tmp_path, fmt):
    t = _table()
    src = tmp_path / f"in.{fmt}"
    if fmt == "parquet":
        pq.write_table(t, src)
    else:
        src.write_text("".join(json.dumps({k: (dict(v) if k == "attrs" and v is not None else v)
                                           for k, v in row.items()}, ensure_ascii=False) + "\n"
                               for row in t.to_pylist()), encoding="utf-8")
    KS.save(tmp_path / "keys.json", passphrase="pw")
    import yaml

    policy = POLICY
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), encoding="utf-8")
    res = _tk("tokenize", src.name, f"out.{fmt}", "--policy", "p.yaml", "--keyset", "keys.json", "-q",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    # the gate reads the nested leaves and passes the delivery ...
    res = _tk("scan", f"out.{fmt}", "--against", src.name, "--policy", "p.yaml", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    # ... but not the raw file, whose leaves hold raw values outside the covered columns' own checks
    res = _tk("scan", src.name, "--format", "json", cwd=tmp_path)
    doc = json.loads(res.stdout)
    found = {c["column"] for c in doc["columns"]}
    assert res.returncode == 1 and {"extra.phone", "extra.note", "phones[]"} <= found
    assert MOBILE not in res.stdout and EG_ID not in res.stdout
