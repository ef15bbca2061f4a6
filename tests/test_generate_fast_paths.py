"""The generators' fast paths give exactly what the plain computations give: each shortcut (tables instead of
per-row arithmetic, counting instead of a binary search, strings built only for the rows that stay) is
checked against the computation it replaces, so a seed keeps its values."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hijridate import Gregorian

from generators import columns, generate_batch, load
from generators.columns import Batch, _eq, join_drawn, join_drawn_rows, join_present, months_of, search_right
from tokenize_kit.pii.eg_national_id import compose_arrow
from tokenize_kit.pii.iban import COUNTRIES, set_check_digits
from tokenize_kit.pii.sa_national_id import compose as compose_sa_id
from tokenize_kit.utf8 import encode_fixed


@pytest.mark.parametrize("k", [1, 2, 5, 24, 25, 300, 511, 512, 5000, 22_645])
def test_search_right_is_searchsorted(k):
    rng = np.random.default_rng(k)
    w = rng.random(k) * (rng.random(k) < 0.7)
    w[-1] += 1e-3
    cum = np.cumsum(w) / w.sum()
    u = np.concatenate([rng.random(20_000), cum[: min(k, 1000)], [0.0, np.nextafter(1.0, 0.0)]])
    u = u[u < 1.0]
    assert (search_right(cum, u) == np.searchsorted(cum, u, side="right")).all()
    ints = np.sort(rng.integers(0, 100, min(k, 24)))
    x = rng.integers(-5, 110, 1000)
    assert (search_right(ints, x) == np.searchsorted(ints, x, side="right")).all()


def test_months_of_is_the_calendar_conversion():
    days = np.datetime64("1899-12-25", "D") + np.arange(0, 75_000, 7).astype("timedelta64[D]")
    assert (months_of(days) == days.astype("datetime64[M]")).all()  # runs past 2100: numpy's own conversion
    inside = days[(days >= np.datetime64("1900-01-01")) & (days <= np.datetime64("2100-12-31"))]
    assert (months_of(inside) == inside.astype("datetime64[M]")).all()
    with_nat = np.array(["2000-01-31", "NaT"], dtype="datetime64[D]")
    assert np.array_equal(months_of(with_nat), with_nat.astype("datetime64[M]"), equal_nan=True)


def test_iban_check_digits_by_weighted_sum_match_mod97():
    rng = np.random.default_rng(1)
    for code, fmt in COUNTRIES.items():
        chars = np.empty((50_000, fmt.length), np.uint8)
        chars[:, :2] = np.frombuffer(code.encode(), np.uint8)
        chars[:, 4:] = rng.integers(0x30, 0x3A, (len(chars), fmt.length - 4), dtype=np.uint8)
        chars[:3, 4:] = [[0x30], [0x39], [0x35]]
        weights, const = columns._iban_weights(code, fmt.length)
        check = 98 - (np.einsum("ij,j->i", chars[:, 4:], weights, dtype=np.int32) + const) % 97
        want = set_check_digits(chars.copy())
        assert ((want[:, 2].astype(int) - 0x30) * 10 + want[:, 3] - 0x30 == check).all(), code


def test_saudi_id_by_tables_is_compose():
    rng = np.random.default_rng(2)
    body = np.concatenate([rng.integers(0, 10**8, 100_000), [0, 9999, 10_000, 10**8 - 1]])
    kind = rng.integers(1, 3, len(body))
    assert columns._compose_sa_id(kind, body).equals(compose_sa_id(kind, body))


@pytest.mark.parametrize("first", ["1959-12-31", "1899-03-01", "1999-06-30"])
def test_egyptian_id_text_by_tables_is_compose_arrow(first):
    rng = np.random.default_rng(3)
    count = 20_000
    head, tail = columns._eg_id_dates(first, count)
    n = 50_000
    date_idx = rng.integers(0, count, n)
    gov = rng.choice([1, 2, 4, 21, 35, 88], n)
    serial, check = rng.integers(0, 10_000, n), rng.integers(0, 10, n)
    out = np.empty((n, 14), np.uint8)  # the writes of eg_national_id, in its order
    out[:, 6:10].view(np.uint32)[:, 0] = columns._DIGITS4_U32[gov * 10 + serial // 1000]
    out[:, 0:4].view(np.uint32)[:, 0] = head[date_idx]
    out[:, 3:7].view(np.uint32)[:, 0] = tail[date_idx]
    out[:, 10:14].view(np.uint32)[:, 0] = columns._DIGITS4_U32[serial % 1000 * 10 + check]
    birth = np.datetime64(first, "D") + date_idx.astype("timedelta64[D]")
    assert encode_fixed(out).equals(compose_arrow(birth, gov, serial, check))


def _batch(n: int, **cols: pa.Array) -> Batch:
    b = Batch("t", "t", 0, 1, n, 0, np.datetime64("2025-12-31", "D"))
    b.cols.update(cols)
    return b


def test_hijri_table_matches_hijridate_and_keeps_nulls():
    days = np.datetime64("1945-01-01", "D") + np.random.default_rng(4).integers(0, 30_000, 3000).astype(
        "timedelta64[D]")
    dates = pa.array(days)
    b = _batch(len(days), d=dates)
    got = columns.hijri_date(b, "h", "d").to_pylist()
    for day, text in zip(days.astype(object), got, strict=True):
        h = Gregorian(day.year, day.month, day.day).to_hijri()
        assert text == f"{h.year:04d}-{h.month:02d}-{h.day:02d}"
    d0, d1, d2 = days[:3].astype(object)
    with_null = pa.array([d0, None, d1], pa.date32())
    assert columns.hijri_date(_batch(3, d=with_null), "h", "d").to_pylist() == [got[0], None, got[1]]
    b = _batch(3, d=with_null.fill_null(pa.scalar(d2, pa.date32())))
    b.null_rows = np.array([False, True, False])
    out = columns.hijri_date(b, "h", "d")
    out.validate(full=True)
    assert b.nulls_applied and out.to_pylist() == [got[0], None, got[1]]


def test_strings_for_kept_rows_equal_nulling_afterwards():
    rng = np.random.default_rng(5)
    n = 1000
    b = _batch(n)
    b.null_rows = rng.random(n) < 0.4
    vocab = pa.array(["a", "bb", "", "ccc", "دال"], pa.string())
    idx = rng.integers(0, len(vocab), n)
    full = join_drawn([(vocab, idx), "-", (vocab, idx[::-1].copy())])
    want = pc.if_else(pa.array(b.null_rows), pa.nulls(n, pa.string()), full)
    kept = ~b.null_rows
    got = columns.with_nulls(b, join_drawn([(vocab, idx[kept]), "-", (vocab, idx[::-1][kept])]))
    got.validate(full=True)
    assert got.equals(want) and b.nulls_applied
    chars = rng.integers(0x30, 0x3A, (n, 7), dtype=np.uint8)
    want = pc.if_else(pa.array(b.null_rows), pa.nulls(n, pa.string()), encode_fixed(chars))
    for given in (chars, chars[kept]):
        got = columns.fixed_with_nulls(b, given)
        got.validate(full=True)
        assert got.equals(want)


def test_join_present_and_join_drawn_rows_equal_joining_row_by_row():
    rng = np.random.default_rng(6)
    names = pa.array(["محمد", "Sara", "عبد الله", "x"], pa.string())
    other = pa.array(["1", "22"], pa.string())
    n = 2000
    parts = [(names, rng.integers(0, 4, n)), (other, rng.integers(-1, 2, n)), (names, rng.integers(-1, 4, n))]
    got = join_present(parts, " ").to_pylist()
    pieces = [[v.as_py() if i >= 0 else None for i, v in zip(idx, vocab.take(pa.array(np.maximum(idx, 0))),
                                                                strict=True)] for vocab, idx in parts]
    assert got == [" ".join(p for p in row if p is not None) for row in zip(*pieces, strict=True)]
    rows_a = np.flatnonzero(rng.random(n) < 0.3)
    rows_b = np.setdiff1d(np.arange(n), rows_a)
    a = [(names, rng.integers(0, 4, len(rows_a))), "، ", (other, rng.integers(0, 2, len(rows_a)))]
    bb = [(other, rng.integers(0, 2, len(rows_b)))]
    got = join_drawn_rows([(rows_a, a), (rows_b, bb)], n, "").to_pylist()
    want = np.empty(n, dtype=object)
    want[rows_a] = join_drawn(a).to_pylist()
    want[rows_b] = join_drawn(bb).to_pylist()
    assert got == want.tolist()


def test_batch_equals_is_eq_with_and_without_codes():
    rng = np.random.default_rng(7)
    labels = ["citizen", "resident"]
    code = rng.integers(0, 2, 500)
    arr = pa.array(labels).take(pa.array(code))
    b = _batch(500, r=arr, s=pc.if_else(pa.array(code == 0), pa.nulls(500, pa.string()), arr))
    b.set_codes("r", labels, code)
    b.set_codes("s", labels, code)  # with nulls: the codes are not used
    for col in ("r", "s"):
        for value in ("citizen", "resident", "other"):
            assert (b.equals(col, value) == _eq(b.cols[col], value)).all()
    parent = b
    child = Batch("t", "c", 0, 1, 3, 0, parent.reference_date, parent=parent)
    child.parent_index = np.array([0, 0, 499])
    assert (child.equals("parent.r", "citizen") == _eq(arr, "citizen")[[0, 0, 499]]).all()


def test_null_rows_are_worked_out_before_the_kind_and_values_stay():
    """A column with a null rate: the rows left null are the ones the separate null stream picks, and the other
    rows hold what the kind draws for every row (here: against the same schema with those null rates 0)."""
    s = load("eg-consumer-finance")
    names = ("email", "salary_iban", "second_phone")
    t = s.tables["customers"]
    no_nulls = replace(t, columns=tuple(replace(c, null_rate=0.0) if c.name in names else c for c in t.columns))
    with_nulls = generate_batch(s, 0, 11, ["customers"], 3000)["customers"]
    without = generate_batch(replace(s, tables={**s.tables, "customers": no_nulls}), 0, 11, ["customers"],
                             3000)["customers"]
    for name in names:
        a, full = with_nulls.column(name), without.column(name)
        a.validate(full=True)
        assert a.null_count > 0 and full.null_count == 0
        keep = pc.is_valid(a)
        assert a.filter(keep).equals(full.filter(keep)), name
