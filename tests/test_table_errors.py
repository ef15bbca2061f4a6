"""No cell value in any message: every conversion path of the table API, pushed with real-looking values.

Arrow's own messages quote the cell they failed on (``Could not convert '28506150112345' with type str``,
``Failed to parse string``); the table API must name the column and row instead.  Each case runs
tokenize and detokenize, and checks the exception, every warning and every log line."""

from __future__ import annotations

import datetime
import decimal
import logging
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tokenize_kit import detokenize_table, tokenize_table
from tokenize_kit.keys import Keyset
from tokenize_kit.table import TokenizeError

KS = Keyset.generate()
SECRETS = ["28506150112345", "29801010123456", "01012345678", "1012345678"]
POLICY = {"columns": {"id": {"type": "eg_national_id"}, "mobile": {"type": "phone"}}}


def _frames() -> dict[str, object]:
    """Inputs through every conversion path (pandas object columns, mixed kinds, bytes, decimals, dates, nested,
    dictionary, large_string, chunked, narrow integers), each holding the secrets."""
    ids = [SECRETS[1], SECRETS[0], None]
    mobiles = [SECRETS[2], "01112345678", None]
    return {
        "pandas object int+str": pd.DataFrame({"id": [SECRETS[1], int(SECRETS[0]), None], "mobile": mobiles}),
        "pandas object str+float": pd.DataFrame({"id": [SECRETS[1], float(SECRETS[0]), None], "mobile": mobiles}),
        "pandas other column int+str": pd.DataFrame({"id": ids, "mobile": mobiles,
                                                     "other": [int(SECRETS[0]), SECRETS[1], "x"]}),
        "pandas bytes": pd.DataFrame({"id": [s.encode() if s else None for s in ids], "mobile": mobiles}),
        "pandas decimals": pd.DataFrame({"id": [decimal.Decimal(SECRETS[0]), decimal.Decimal(SECRETS[1]), None],
                                         "mobile": mobiles}),
        "pandas dates": pd.DataFrame({"id": [datetime.date(2024, 1, 1)] * 3, "mobile": mobiles}),
        "pandas nested": pd.DataFrame({"id": [[SECRETS[0]], [SECRETS[1]], None], "mobile": mobiles}),
        "pandas categorical": pd.DataFrame({"id": pd.Categorical(ids), "mobile": mobiles}),
        "pandas float": pd.DataFrame({"id": [float(SECRETS[0]), 2.9801010123456e13, np.nan], "mobile": mobiles}),
        "arrow dictionary": pa.table({"id": pa.array(ids).dictionary_encode(), "mobile": mobiles}),
        "arrow large_string": pa.table({"id": pa.array(ids, pa.large_string()), "mobile": mobiles}),
        "arrow chunked": pa.table({"id": pa.chunked_array([[ids[0]], ids[1:]]),
                                   "mobile": pa.chunked_array([[mobiles[0]], mobiles[1:]])}),
        "arrow int32 mobile": pa.table({"id": ids, "mobile": pa.array([int(SECRETS[3]), 1112345678, None],
                                                                        pa.int32())}),
        "arrow int64 id": pa.table({"id": pa.array([int(SECRETS[0]), int(SECRETS[1]), None], pa.int64()),
                                    "mobile": mobiles}),
        "arrow binary": pa.table({"id": pa.array([s.encode() if s else None for s in ids], pa.binary()),
                                  "mobile": mobiles}),
        "arrow struct": pa.table({"id": pa.array([{"v": SECRETS[0]}, {"v": SECRETS[1]}, None]), "mobile": mobiles}),
    }


def _texts(result: object) -> str:
    if isinstance(result, pd.DataFrame):
        return result.to_csv()
    return str(result.to_pylist()) if isinstance(result, (pa.Table, pa.RecordBatch)) else str(result)


@pytest.mark.parametrize("case", list(_frames()))
@pytest.mark.parametrize("direction", ["tokenize", "detokenize"])
def test_no_value_in_any_message_warning_or_log(case, direction, caplog):
    data = _frames()[case]
    fn = tokenize_table if direction == "tokenize" else detokenize_table
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn(data, POLICY, KS)
            error = None
        except TokenizeError as exc:
            error = exc
            out = None
    said = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    if error is not None:
        said.append(str(error))
        assert "'id'" in str(error) or "'other'" in str(error) or "'mobile'" in str(error), str(error)
        assert error.__context__ is None or isinstance(error.__context__, TokenizeError) or (
            error.__suppress_context__ and not any(s in str(error.__context__) for s in SECRETS)
        )
    for text in said:
        for secret in SECRETS:
            assert secret not in text, (case, text)
    if out is not None and direction == "tokenize" and case.startswith("arrow") and "binary" not in case:
        assert SECRETS[0] not in _texts(out) and SECRETS[1] not in _texts(out)


def test_mixed_object_column_names_column_and_row():
    df = pd.DataFrame({"id": [SECRETS[1], SECRETS[1], int(SECRETS[0])], "mobile": ["x", "y", "z"]})
    with pytest.raises(TokenizeError) as info:
        tokenize_table(df, POLICY, KS)
    assert "column 'id', row 3" in str(info.value) and "astype" in str(info.value)


def test_narrow_integer_column_whose_tokens_do_not_fit_becomes_text():
    table = pa.table({"mobile": pa.array([1012345678, 1112345678, 1212345678, 1512345678], pa.int32())})
    out = tokenize_table(table, {"columns": {"mobile": {"type": "phone"}}}, KS)
    col = out.column("mobile")
    assert col.type in (pa.int32(), pa.string())
    back = detokenize_table(out, {"columns": {"mobile": {"type": "phone"}}}, KS)
    assert [int(v) for v in back.column("mobile").to_pylist()] == table.column("mobile").to_pylist()


def test_unexpected_error_inside_a_type_is_withheld(monkeypatch):
    """An error raised deep inside (here a PII type quoting the value it got) is replaced by one naming the
    column, the rows and where it was raised, with no exception chain left to print."""
    from tokenize_kit.pii import registry

    pii = registry.get("eg_national_id")

    def leaky(self, values, *args, **kwargs):
        raise ValueError(f"cannot tokenize {values.to_pylist()[0]}")

    monkeypatch.setattr(type(pii), "tokenize", leaky)
    with pytest.raises(TokenizeError) as info:
        tokenize_table(pa.table({"id": [SECRETS[1]]}), {"columns": {"id": {"type": "eg_national_id"}}}, KS)
    message = str(info.value)
    assert SECRETS[1] not in message and "column 'id', rows 1-1" in message
    assert "ValueError in _apply (table.py:" in message  # where it was raised, for a bug report
    assert info.value.__context__ is None and info.value.__cause__ is None
