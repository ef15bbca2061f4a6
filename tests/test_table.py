"""Table API and policies: same kind back, Arabic columns, empties, int64, methods, on_invalid, leaks."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenize_kit import Policy, detokenize_table, tokenize_table
from tokenize_kit.keys import Keyset
from tokenize_kit.policy import PolicyError
from tokenize_kit.table import (
    EMPTY_MARKERS,
    NEARLY_DISTINCT,
    TableReport,
    TokenizeError,
    _digit_keys,
    distinct,
    distinct_in_slices,
)

KS = Keyset.generate()
POLICY = {
    "columns": {
        "الرقم القومي": {"type": "eg_national_id"},
        "mobile": {"type": "phone"},
        "notes": {"type": "free_text"},
        "email": {"type": "email"},
        "iqama": {"type": "sa_national_id"},
    }
}


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "الرقم القومي": ["29801010123456", " 29801010123456 ", "2980101012345", None, "N/A", "30001010123458"],
            "mobile": ["01012345678", "+966 50 123 4567", "٠١٠١٢٣٤٥٦٧٨", "12", "", "0112345678"],
            "notes": ["اتصل من 01012345678", "no pii", "رقمه القومي ٢٩٨٠١٠١٠١٢٣٤٥٦", "", None, "iqama 2000000006"],
            "email": ["a.b@x.com", "bad", "c@d.org", None, "-", "z@y.sa"],
            "iqama": ["1000000008", "1000000009", "2000000006", "", None, "1000000008"],
            "other": ["keep me", "x", "y", "z", "w", "v"],
        }
    )


def _raw_values(df: pd.DataFrame) -> set[str]:
    raw = set()
    for col in POLICY["columns"]:
        for v in df[col].dropna():
            v = str(v).strip()
            if v and v not in EMPTY_MARKERS and col != "notes":
                raw.add(v)
    raw |= {"01012345678", "٢٩٨٠١٠١٠١٢٣٤٥٦", "2000000006"}  # the PII inside the notes
    return raw


@pytest.mark.parametrize("kind", ["pandas", "arrow"])
def test_round_trip_same_kind(kind):
    df = frame()
    data = df if kind == "pandas" else pa.Table.from_pandas(df, preserve_index=False)
    out = tokenize_table(data, POLICY, KS)
    assert type(out) is type(data)
    back = detokenize_table(out, POLICY, KS)
    back_df = back if kind == "pandas" else back.to_pandas()
    for col in df.columns:
        assert [str(x) for x in back_df[col]] == [str(x) for x in df[col]], col


def test_record_batch_kind():
    batch = pa.RecordBatch.from_pandas(frame(), preserve_index=False)
    out = tokenize_table(batch, POLICY, KS)
    assert isinstance(out, pa.RecordBatch) and out.num_rows == batch.num_rows


def test_no_raw_value_survives_anywhere():
    df = frame()
    out = tokenize_table(df, POLICY, KS)
    cells = [str(v) for col in out.columns for v in out[col]]
    text = "\n".join(cells)
    for raw in _raw_values(df):
        if len(raw) >= 6:  # a short value can occur inside unrelated tokens by chance: compare cells
            assert raw not in text, "a raw value survived tokenization"
        else:
            assert raw not in [c.strip() for c in cells], "a raw value survived tokenization"
    assert list(out["other"]) == list(df["other"])


def test_empties_and_whitespace_preserved():
    out = tokenize_table(frame(), POLICY, KS)
    col = out["الرقم القومي"]
    assert col[4] == "N/A" and pd.isna(col[3])
    assert col[1].startswith(" ") and col[1].endswith(" ") and col[1].strip() == col[0]


def test_report_counts():
    rep = TableReport()
    tokenize_table(frame(), POLICY, KS, report=rep)
    c = rep.columns["الرقم القومي"]
    assert (c.tokenized, c.empty, c.invalid) == (3, 2, {"generic": 1})
    assert rep.rows == 6 and rep.key == "default" and rep.key_version == 1


def test_int64_column_stays_int64_and_round_trips():
    t = pa.table({"id": pa.array([29801010123456, 30001010123458, None], pa.int64())})
    policy = {"columns": {"id": {"type": "eg_national_id"}}}
    out = tokenize_table(t, policy, KS)
    assert out.schema.field("id").type == pa.int64()
    assert out.column("id").to_pylist() != t.column("id").to_pylist()
    assert detokenize_table(out, policy, KS).equals(t)


def test_float_column_refused_without_value():
    t = pa.table({"id": pa.array([2.9801010123456e13])})
    with pytest.raises(TokenizeError) as info:
        tokenize_table(t, {"columns": {"id": {"type": "eg_national_id"}}}, KS)
    assert "floating point" in str(info.value) and "29801010123456" not in str(info.value)


@pytest.mark.parametrize("on_invalid", ["generic", "redact", "null", "error"])
def test_on_invalid(on_invalid):
    t = pa.table({"id": ["29801010123456", "2980101012345"]})
    policy = {"columns": {"id": {"type": "eg_national_id", "on_invalid": on_invalid}}}
    if on_invalid == "error":
        with pytest.raises(TokenizeError) as info:
            tokenize_table(t, policy, KS, row_offset=100)
        assert "row 102" in str(info.value) and "'id'" in str(info.value)
        assert "2980101012345" not in str(info.value)
        return
    out = tokenize_table(t, policy, KS).column("id").to_pylist()
    assert "2980101012345" not in out
    if on_invalid == "generic":
        assert len(out[1]) == 13 and out[1].isdigit()
        back = detokenize_table(pa.table({"id": out}), policy, KS)
        assert back.column("id").to_pylist() == t.column("id").to_pylist()
    elif on_invalid == "redact":
        assert out[1] == "[REDACTED]"
    else:
        assert out[1] is None


@pytest.mark.parametrize(
    ("method", "check"),
    [
        ("mask", lambda v, t: t == "******3456"),
        ("hash", lambda v, t: len(t) == 64 and t != v),
        ("redact", lambda v, t: t == "[REDACTED]"),
        ("keep", lambda v, t: t == v),
        ("surrogate", lambda v, t: len(t) == 10 and t != v),
    ],
)
def test_methods(method, check):
    value = "1000003456"
    # make it a valid Saudi ID (Luhn) so every method sees a valid value
    from tokenize_kit.pii.sa_national_id import compose

    value = compose([1], [345]).to_pylist()[0]
    t = pa.table({"iq": [value]})
    policy = {"columns": {"iq": {"type": "sa_national_id", "method": method}}}
    out = tokenize_table(t, policy, KS).column("iq").to_pylist()[0]
    if method == "mask":
        assert out == "******" + value[-4:]
    else:
        assert check(value, out)
    back = detokenize_table(pa.table({"iq": [out]}), policy, KS).column("iq").to_pylist()[0]
    assert back == out  # irreversible methods (and keep) are left as they are on the way back


def test_hash_is_keyed_and_deterministic():
    t = pa.table({"iq": ["1000000008"]})
    policy = {"columns": {"iq": {"type": "sa_national_id", "method": "hash"}}}
    a = tokenize_table(t, policy, KS).column("iq")[0].as_py()
    assert a == tokenize_table(t, policy, KS).column("iq")[0].as_py()
    assert a != tokenize_table(t, policy, Keyset.generate()).column("iq")[0].as_py()


def test_missing_column_lists_columns():
    with pytest.raises(TokenizeError) as info:
        tokenize_table(pa.table({"a": ["x"], "ب": ["y"]}), {"columns": {"mobile": {"type": "phone"}}}, KS)
    assert "mobile" in str(info.value) and "ب" in str(info.value)


def test_domain_override_changes_tokens_and_round_trips():
    t = pa.table({"m": ["01012345678"]})
    default = tokenize_table(t, {"columns": {"m": {"type": "phone"}}}, KS).column("m")[0].as_py()
    pol = {"columns": {"m": {"type": "phone", "domain": "vendor-a"}}}
    other = tokenize_table(t, pol, KS).column("m")[0].as_py()
    assert default != other
    assert detokenize_table(pa.table({"m": [other]}), pol, KS).column("m")[0].as_py() == "01012345678"


def test_key_version_selects_material():
    ks = Keyset.generate()
    ks.rotate()
    t = pa.table({"m": ["01012345678"]})
    v1 = tokenize_table(t, {"key_version": 1, "columns": {"m": "phone"}}, ks).column("m")[0].as_py()
    v2 = tokenize_table(t, {"columns": {"m": "phone"}}, ks).column("m")[0].as_py()
    assert v1 != v2
    with pytest.raises(TokenizeError):
        tokenize_table(t, {"key_version": 9, "columns": {"m": "phone"}}, ks)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"columns": {"c": {"type": "eg_nationl_id"}}}, "valid types"),
        ({"columns": {"c": {"type": "phone", "method": "encrypt"}}}, "valid methods"),
        ({"columns": {"c": {"type": "eg_national_id", "keep": ["birthday"]}}}, "cannot keep"),
        ({"columns": {"c": {"type": "phone", "on_invalid": "skip"}}}, "on_invalid"),
        ({"columns": {"c": {"type": "phone", "kep": ["x"]}}}, "unknown setting"),
        ({"colums": {}}, "unknown policy key"),
        ({"columns": {}}, "non-empty"),
        ({"algorithm": "aes", "columns": {"c": "phone"}}, "algorithm"),
        ({"columns": {"c": {"type": "free_text", "method": "surrogate"}}}, "no surrogate"),
    ],
)
def test_policy_validation(doc, fragment):
    with pytest.raises(PolicyError) as info:
        Policy.load(doc)
    assert fragment in str(info.value)


def test_policy_yaml_round_trip_and_hash(tmp_path):
    p = Policy.load(POLICY)
    path = tmp_path / "policy.yaml"
    path.write_text(p.to_yaml(), encoding="utf-8")
    q = Policy.load(path)
    assert q.sha256 == p.sha256 and "الرقم القومي" in q.columns
    assert Policy.load({"columns": {"c": "phone"}}).sha256 != Policy.load({"columns": {"c": "eg_phone"}}).sha256


def test_policy_file_errors(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("columns: [unclosed", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        Policy.load(bad)
    with pytest.raises(PolicyError, match="does not exist"):
        Policy.load(tmp_path / "missing.yaml")


def test_tokens_identical_across_processes(tmp_path):
    """Same input + same keyset -> the same token in a fresh interpreter, for every PII type."""
    import json
    import subprocess
    import sys

    values = {
        "eg_national_id": ["29801010123456"], "sa_national_id": ["1000000008"], "eg_phone": ["01012345678"],
        "sa_phone": ["0551234567"], "phone": ["+966 55 123 4567"], "email": ["sara.ali@gmail.com"],
        "person_name": ["محمد أحمد علي"], "eg_address": ["12 شارع التحرير، الدقي، الجيزة"],
        "sa_address": ["1234 طريق الملك فهد، العليا، الرياض"], "iban": ["SA0380000000608010167519"],
        "free_text": ["اتصل على 01012345678"],
    }
    ks_path = tmp_path / "k.json"
    KS.save(ks_path)
    policy = {"columns": {t: {"type": t} for t in values}}
    table = pa.table({t: v for t, v in values.items()})
    here = tokenize_table(table, policy, KS).to_pydict()
    code = (
        "import json, sys, pyarrow as pa\n"
        "from tokenize_kit import tokenize_table\nfrom tokenize_kit.keys import Keyset\n"
        f"values = json.loads({json.dumps(json.dumps(values))})\n"
        f"ks = Keyset.load({str(ks_path)!r})\n"
        "policy = {'columns': {t: {'type': t} for t in values}}\n"
        "print(json.dumps(tokenize_table(pa.table(values), policy, ks).to_pydict(), ensure_ascii=False))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "PYTHONHASHSEED": "123"})
    there = json.loads(out.stdout)
    assert there == here
    assert all(here[t] != values[t] for t in values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text("0123456789", min_size=1, max_size=18), st.sampled_from(["0", "00", "007", "7"]),
                          st.text(min_size=1, max_size=4)), min_size=0, max_size=60))
def test_distinct_gives_every_row_back_and_no_value_twice(values):
    """Both paths of :func:`distinct` (integer keys for digit strings, hashing otherwise): equal strings share
    an index, different strings (``7``, ``07``, ``007``) never do."""
    arr = pa.array(values, pa.string())
    uniq, pos = distinct(arr)
    assert uniq.take(pa.array(pos, pa.int64())).to_pylist() == values
    assert len(set(uniq.to_pylist())) == len(uniq) == len(set(values))
    if len(set(values)) == len(values):
        assert uniq.to_pylist() == values and pos.tolist() == list(range(len(values)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["أحمد", "منى", "a", "b", "c", "d", "e", "f"]), min_size=0, max_size=40),
       st.integers(1, 9))
def test_distinct_in_slices_gives_every_row_back(values, step):
    """Slice by slice when the first slice is nearly all distinct, else whole: every row comes back; a value
    occurs at most once per slice; a column whose first slice repeats is :func:`distinct` itself."""
    arr = pa.array(values, pa.string())
    uniq, pos = distinct_in_slices(arr, step)
    assert uniq.take(pa.array(pos, pa.int64())).to_pylist() == values
    head = values[:step]
    if len(values) <= step or len(set(head)) < NEARLY_DISTINCT * len(head):
        whole = distinct(arr)
        assert uniq.equals(whole[0]) and pos.tolist() == whole[1].tolist()
    else:
        assert len(uniq) == sum(len(set(values[a : a + step])) for a in range(0, len(values), step))


def test_distinct_digit_keys_cover_only_plain_digit_columns():
    assert _digit_keys(pa.array(["01012345678", "0101234567", "29801010123456"])) is not None
    for other in (["0101 234"], ["١٢٣"], [""], ["1" * 18], ["12", None], ["+20100"]):
        assert _digit_keys(pa.array(other, pa.string())) is None


def test_distinct_order_matches_dictionary_encode():
    import pyarrow.compute as pc

    values = pa.array(["0101", "77", "0101", "5", "77", "077", "5", "9"])
    uniq, pos = distinct(values)
    encoded = pc.dictionary_encode(values)
    assert uniq.equals(encoded.dictionary) and pos.tolist() == encoded.indices.to_pylist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text("0123456789.eE+ ش", max_size=8), st.from_regex(r"\A[0-9](\.[0-9]+)?[eE]\+?[0-9]+\Z")),
                max_size=20), st.integers(0, 3))
def test_the_scientific_pre_check_misses_no_number_in_scientific_notation(values, cut):
    """The pre-check reads two bytes per value; whenever some value of the (sliced) array matches SCIENTIFIC it
    says so, so the regex behind it still sees every such value."""
    import re

    from tokenize_kit.table import SCIENTIFIC, _has_e

    arr = pa.array(["x"] * cut + values, pa.string()).slice(cut)
    if any(re.match(SCIENTIFIC, v) for v in values):
        assert _has_e(arr)
    assert not _has_e(pa.array(["12 شارع النيل، 1e", "01012345678", "e5", "1.", ".5e3"], pa.string()))


@pytest.mark.parametrize(("type_name", "values"), [
    ("person_name", ["أحمد محمد علي", "Sara Ali", "", "1234", "منى حسن", "أحمد محمد علي", "x y", "Omar"]),
    ("email", ["a.b@x.com", "bad", "c@d.org", "a.b@x.com", "z@y.sa", "@@", "q@w.eg", "n/a"]),
    ("iban", ["EG380019000500000000263180002", "SA0380000000608010167519", "EG12", "x",
              "SA0380000000608010167519", "EG380019000500000000263180002", "", "SA44 2000 0001 2345 6789 1234"]),
    ("eg_address", ["12 شارع التحرير، الدقي، الجيزة", "!!", "5 Nile St, Cairo", "12 شارع التحرير، الدقي، الجيزة",
                    "شقة 3", "-", "7 ش النصر", "?"]),
])
@pytest.mark.parametrize("method", ["fpe", "mask", "hash", "redact"])
@pytest.mark.parametrize("on_invalid", ["generic", "redact", "null"])
def test_slices_of_distinct_values_give_the_whole_column(monkeypatch, type_name, values, method, on_invalid):
    """A text type hands its distinct values to the token operations a slice at a time (PIIType.slice_values):
    slices of 3 (valid and invalid values, repeats, in every slice) give the tokens and counts of the column taken
    whole, both ways."""
    from tokenize_kit.pii import registry

    policy = {"columns": {"c": {"type": type_name, "method": method, "on_invalid": on_invalid}}}

    def both_ways(t: pa.Table) -> tuple[list, list, dict]:
        report = TableReport()
        out = tokenize_table(t, policy, KS, report=report)
        back = detokenize_table(out, policy, KS)
        return out.column("c").to_pylist(), back.column("c").to_pylist(), report.to_dict()

    kind = type(registry.get(type_name))
    assert kind.slice_values > 0
    # repeated values, and every value once (the outputs of the slices are then the column as it is)
    for column in (values * 3, list(dict.fromkeys(values))):
        t = pa.table({"c": column})
        monkeypatch.setattr(kind, "slice_values", 3)
        sliced = both_ways(t)
        monkeypatch.setattr(kind, "slice_values", 0)
        whole = both_ways(t)
        assert sliced == whole
        assert sliced[0] != column  # (tokens were made)
        # each row's output is its value's output alone (deterministic), in its row
        assert sliced[0] == [tokenize_table(pa.table({"c": [v]}), policy, KS).column("c")[0].as_py() for v in column]
