"""``scan --against`` internals: the raw-value index is exact (hashes only narrow the search), and leaks are
told from coincidences by row even when the input and the output are cut into different batches."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tokenize_kit import scan
from tokenize_kit.scan import RawIndex, ScanResult, leaks_in

RAW = pa.table({
    "national_id": [f"290010101{i:04d}{i % 10}" for i in range(40)],  # valid Egyptian IDs (Cairo, 1990-01-01)
    "mobile": [f"010{i:08d}" for i in range(40)],
    "notes": [f"call 011{i:08d} today" if i % 3 == 0 else "paid" for i in range(40)],
})
COVERED, TEXT = ["national_id", "mobile", "notes"], ["notes"]


def _batches(table: pa.Table, size: int):
    return lambda: iter(table.to_batches(max_chunksize=size))


def _scan(output: pa.Table, in_size: int, out_size: int) -> ScanResult:
    index = RawIndex(_batches(RAW, in_size), COVERED, TEXT)
    result, offset = ScanResult(), 0
    for b in output.to_batches(max_chunksize=out_size):
        leaks_in(b, index, result, offset)
        offset += b.num_rows
    return result


def _output() -> pa.Table:
    ids = [f"3911111{i:07d}" for i in range(40)]  # tokens: no raw value
    mobiles = [f"012{i:08d}" for i in range(40)]
    notes = ["paid"] * 40
    ids[5] = RAW["national_id"][5].as_py()  # a raw ID left in its own row: a leak
    mobiles[9] = RAW["mobile"][30].as_py()  # another row's raw mobile: a coincidence
    notes[12] = "ring " + RAW["notes"][12].as_py()[5:16]  # the phone from row 12's note, in row 12: a leak
    notes[33] = "x " + RAW["notes"][0].as_py()[5:16]  # row 0's phone in row 33: a coincidence
    return pa.table({"national_id": ids, "mobile": mobiles, "notes": notes})


def test_leaks_and_coincidences_whatever_the_batches():
    for in_size, out_size in [(40, 40), (7, 10), (10, 7), (1, 3)]:
        r = _scan(_output(), in_size, out_size)
        assert r.leaks == {"national_id": 2, "notes": 1}, (in_size, out_size)  # the ID: as a cell and as a span
        assert r.collisions == {"mobile": 2, "notes": 1}, (in_size, out_size)  # the mobile: cell and span


def test_index_is_exact_when_every_value_shares_a_hash(monkeypatch):
    """With a hash that collides for every string of the same length, lookups must still be exact."""
    monkeypatch.setattr(scan, "_hash64", lambda values: pa.compute.utf8_length(values).to_numpy().astype(np.uint64))
    r = _scan(_output(), 7, 10)
    assert r.leaks == {"national_id": 2, "notes": 1}
    assert r.collisions == {"mobile": 2, "notes": 1}
    index = RawIndex(_batches(RAW, 40), COVERED, TEXT)
    probe = pa.array([RAW["mobile"][3].as_py(), "01099999999", RAW["national_id"][0].as_py(), "", "paid"])
    assert index.found(probe).tolist() == [True, False, True, False, False]


def test_hash_is_a_function_of_the_string_only():
    values = pa.array(["", "a", "ab", "ba", "شارع", "a" * 70_000, "ab"])
    h = scan._hash64(values)
    assert h[2] == h[6] and len(set(h[:6].tolist())) == 6
    assert scan._hash64(values.slice(2, 1))[0] == h[2]  # independent of position and batch
    long = pa.array([f"v{i}" for i in range(scan.HASH_CHUNK + 5)])
    assert np.array_equal(scan._hash64(long)[-5:], scan._hash64(long.slice(scan.HASH_CHUNK)))  # chunks change nothing


def test_a_probe_sharing_its_hash_with_one_raw_value_is_not_a_hit(monkeypatch):
    """The usual path (exactly one raw value with the probe's hash) must still compare the strings."""
    def last_two(values: pa.Array) -> np.ndarray:
        return np.array([int(v[-2:]) if v[-2:].isdigit() else 999 for v in values.to_pylist()], dtype=np.uint64)

    monkeypatch.setattr(scan, "_hash64", last_two)
    index = RawIndex(_batches(RAW, 40), COVERED, TEXT)
    assert last_two(pa.array(["01000000005", "01099999905"])).tolist() == [5, 5]
    assert index.found(pa.array(["01099999905", "01000000005"])).tolist() == [False, True]
