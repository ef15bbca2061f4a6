"""Integer-domain encryption: a bijection on range(size) in both regimes, no fixed points in the table
regime, and FF1's integer API equal to its numeral API."""

from __future__ import annotations

import numpy as np
import pytest

from tokenize_kit.fpe import FF1
from tokenize_kit.keys import Keyset
from tokenize_kit.pii.base import Crypto
from tokenize_kit.pii.intdomain import TABLE_LIMIT, crypt_ints

KS = Keyset.generate()


@pytest.mark.parametrize("algorithm", ["ff1", "ff3-1"])
@pytest.mark.parametrize("size", [2, 26, 1000, TABLE_LIMIT - 1])
def test_small_domains_are_fixed_point_free_bijections(algorithm, size):
    c = Crypto(KS, algorithm=algorithm)
    values = np.arange(size)
    enc = crypt_ints(c, "d", values, size, ("t",))
    assert sorted(enc.tolist()) == values.tolist()
    assert not (enc == values).any()
    assert (crypt_ints(c, "d", enc, size, ("t",), decrypt=True) == values).all()


@pytest.mark.parametrize("algorithm", ["ff1", "ff3-1"])
@pytest.mark.parametrize("size", [TABLE_LIMIT, 10**9 + 7, 126_000_000_000, 2**63 - 25, 2**70 + 3])
def test_large_domains_round_trip_in_range(algorithm, size):
    c = Crypto(KS, algorithm=algorithm)
    rng = np.random.default_rng(1)
    if size > 2**63:
        values = np.array([int(x) * (size // 5000) for x in range(2000)], dtype=object)
    else:
        values = rng.integers(0, size, 2000)
    enc = crypt_ints(c, "d", values, size, ("t",))
    assert all(0 <= int(x) < size for x in enc)
    assert len({int(x) for x in enc}) == len({int(x) for x in values})
    back = crypt_ints(c, "d", enc, size, ("t",), decrypt=True)
    assert [int(x) for x in back] == [int(x) for x in values]


def test_tweak_and_domain_change_the_permutation():
    c = Crypto(KS)
    v = np.arange(500)
    a = crypt_ints(c, "d", v, 10**9, ("t1",))
    assert not (a == crypt_ints(c, "d", v, 10**9, ("t2",))).all()
    assert not (a == crypt_ints(c, "e", v, 10**9, ("t1",))).all()


def test_out_of_domain_value_rejected_without_showing_it():
    with pytest.raises(ValueError) as info:
        crypt_ints(Crypto(KS), "d", np.array([5, 123456]), 1000)
    assert "123456" not in str(info.value) and "position 1" in str(info.value)


@pytest.mark.parametrize("length", [20, 37, 63])
def test_ff1_int_api_equals_numeral_api(length):
    c = FF1(bytes(range(16)), "01")
    rng = np.random.default_rng(length)
    values = rng.integers(0, 2 ** min(length, 62), 300).astype(np.uint64)
    bits = ((values[:, None] >> np.arange(length - 1, -1, -1, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
    via_numerals = c.encrypt_numerals(bits, b"tw")
    expected = (via_numerals.astype(np.uint64) << np.arange(length - 1, -1, -1, dtype=np.uint64)).sum(axis=1,
                                                                                                      dtype=np.uint64)
    assert (c.encrypt_ints(values, length, b"tw") == expected).all()
    assert (c.decrypt_ints(expected, length, b"tw") == values).all()
