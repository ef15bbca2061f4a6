"""Differential tests against the ``ff3`` package and hypothesis round-trip properties."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from ff3 import FF3Cipher
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenize_kit.fpe import ARABIC_INDIC_DIGITS, BASE36, BASE62, DIGITS, FF1, FF3_1

# 36 distinct Arabic letters (U+0621..U+063A, U+0641..U+064A)
ARABIC36 = "".join(chr(c) for c in list(range(0x621, 0x63B)) + list(range(0x641, 0x64B)))
assert len(set(ARABIC36)) == 36


@pytest.mark.parametrize("alphabet", [DIGITS, BASE36, ARABIC36], ids=["digits", "base36", "arabic36"])
def test_ff3_1_matches_ff3_package(alphabet):
    """Thousands of random (key, tweak, length, value) cases: our batch output == ff3, per value."""
    rng = random.Random(20261124)
    checked = 0
    for _ in range(40):  # 40 keys/tweaks x 40 values = 1,600 per alphabet
        key = bytes(rng.getrandbits(8) for _ in range(rng.choice([16, 24, 32])))
        tweak = bytes(rng.getrandbits(8) for _ in range(rng.choice([7, 8])))
        ours = FF3_1(key, alphabet)
        ref = FF3Cipher.withCustomAlphabet(key.hex(), tweak.hex(), alphabet)
        values = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(ours.min_len, min(ours.max_len, 40))))
            for _ in range(40)
        ]
        enc = ours.encrypt_many(values, tweak)
        assert enc == [ref.encrypt(v) for v in values]
        assert ours.decrypt_many(enc, tweak) == values
        checked += len(values)
    assert checked == 1600


def test_ff3_1_max_length_matches_ff3_package():
    for alphabet in (DIGITS, BASE36, BASE62):
        ref = FF3Cipher.withCustomAlphabet("00" * 16, "00" * 7, alphabet)
        assert FF3_1(bytes(16), alphabet).max_len == ref.maxLen
        assert FF3_1(bytes(16), alphabet).min_len == ref.minLen


alphabets = st.sampled_from([DIGITS, ARABIC_INDIC_DIGITS, BASE36, BASE62, ARABIC36, "01"])


@st.composite
def cases(draw, cls):
    alphabet = draw(alphabets)
    c = cls(draw(st.binary(min_size=16, max_size=16)), alphabet)
    n = draw(st.integers(c.min_len, min(c.max_len, 60)))
    value = draw(st.text(alphabet=alphabet, min_size=n, max_size=n))
    tweak = draw(st.binary(max_size=24)) if cls is FF1 else draw(st.sampled_from([b"", b"1234567", b"12345678"]))
    return c, value, tweak


@settings(max_examples=150, deadline=None)
@given(cases(FF1))
def test_ff1_round_trip(case):
    c, value, tweak = case
    token = c.encrypt(value, tweak)
    assert len(token) == len(value)
    assert set(token) <= set(c.alphabet)
    assert c.decrypt(token, tweak) == value


@settings(max_examples=150, deadline=None)
@given(cases(FF3_1))
def test_ff3_1_round_trip(case):
    c, value, tweak = case
    token = c.encrypt(value, tweak)
    assert len(token) == len(value)
    assert c.decrypt(token, tweak) == value


@pytest.mark.parametrize("cls", [FF1, FF3_1])
@pytest.mark.parametrize("alphabet", [DIGITS, ARABIC36, BASE62])
def test_many_equals_single_and_keeps_kind(cls, alphabet):
    rng = random.Random(7)
    c = cls(bytes(range(32)), alphabet)
    values = [
        None if i % 17 == 0 else "".join(rng.choice(alphabet) for _ in range(rng.randint(c.min_len, c.min_len + 12)))
        for i in range(300)
    ]
    tweak = b"" if cls is FF1 else b"abcdefg"
    expected = [None if v is None else c.encrypt(v, tweak) for v in values]
    as_list = c.encrypt_many(values, tweak)
    assert isinstance(as_list, list) and as_list == expected
    for typ in (pa.string(), pa.large_string()):
        arr = pa.array(values, type=typ)
        out = c.encrypt_many(arr, tweak)
        assert isinstance(out, pa.Array) and out.type == typ
        assert out.to_pylist() == expected
        assert c.decrypt_many(out, tweak).to_pylist() == values
    chunked = pa.chunked_array([pa.array(values[:100]), pa.array(values[100:])])
    out = c.encrypt_many(chunked, tweak)
    assert isinstance(out, pa.ChunkedArray) and out.to_pylist() == expected


@pytest.mark.parametrize("cls", [FF1, FF3_1])
def test_fast_path_equals_exact_path(cls):
    rng = np.random.default_rng(3)
    values = [str(x).zfill(14) for x in rng.integers(0, 10**14, 500)]
    fast = cls(bytes(range(16)), DIGITS)
    exact = cls(bytes(range(16)), DIGITS)
    exact.force_exact = True
    tweak = b"" if cls is FF1 else b"\x01" * 7
    assert fast.encrypt_many(values, tweak) == exact.encrypt_many(values, tweak)


@pytest.mark.parametrize(("radix", "lengths"), [(10, (19, 20, 27, 36, 37)), (26, (14, 17, 20, 23, 26, 27)),
                                                (36, (13, 14, 18, 22, 23)), (2, (65, 80, 123)), (62, (12, 15, 20))])
@pytest.mark.parametrize("tweak", [b"", b"label", bytes(range(11)), bytes(200)])
def test_ff1_wide_path_equals_exact_path(radix, lengths, tweak):
    """The wide path (halves of 2**32 to 2**62: 96-bit y reduced in uint64) gives the exact path's numerals, both
    ways, across every b from 5 to 8 and past the limit (where both take the exact path), extremes included."""
    rng = np.random.default_rng(radix)
    alphabet = "".join(chr(0x41 + k) for k in range(radix))
    for length in lengths:
        nums = rng.integers(0, radix, size=(400, length))
        nums[0], nums[1] = 0, radix - 1
        wide, exact = FF1(bytes(range(16)), alphabet), FF1(bytes(range(16)), alphabet)
        exact.force_exact = True
        enc = wide.encrypt_numerals(nums, tweak)
        assert (enc == exact.encrypt_numerals(nums, tweak)).all()
        assert (wide.decrypt_numerals(enc, tweak) == nums).all()
        assert (exact.decrypt_numerals(enc, tweak) == nums).all()
        if radix**length <= 2**64:
            ints = (nums.astype(object) @ (radix ** np.arange(length - 1, -1, -1)).astype(object)).astype(np.uint64)
            assert (wide.encrypt_ints(ints, length, tweak) == exact.encrypt_ints(ints, length, tweak)).all()


def test_deterministic_and_key_dependent():
    a = FF1(bytes(32), DIGITS)
    b = FF1(bytes(32), DIGITS)
    other = FF1(bytes(31) + b"\x01", DIGITS)
    assert a.encrypt("29801011234567") == b.encrypt("29801011234567")
    assert a.encrypt("29801011234567") != other.encrypt("29801011234567")
    assert a.encrypt("29801011234567", b"t1") != a.encrypt("29801011234567", b"t2")


def test_encrypt_numerals_round_trip():
    c = FF1(bytes(16), "01")
    nums = np.random.default_rng(0).integers(0, 2, size=(100, 37))
    enc = c.encrypt_numerals(nums, b"x")
    assert enc.shape == nums.shape and set(np.unique(enc)) <= {0, 1}
    assert (c.decrypt_numerals(enc, b"x") == nums).all()


@pytest.mark.parametrize("cls", [FF1, FF3_1])
def test_threaded_batches_equal_serial(cls):
    """Large groups are split across worker threads; the result must not depend on it."""
    from tokenize_kit.fpe import _base

    rows = _base.PARALLEL_MIN_ROWS + 1001
    rng = np.random.default_rng(5)
    values = pa.array([str(x).zfill(12) for x in rng.integers(0, 10**12, rows)])
    c = cls(bytes(range(16)), DIGITS)
    serial = c.encrypt_many(values, threads=1)
    threaded = c.encrypt_many(values, threads=3)
    assert threaded.equals(serial)
    assert c.decrypt_many(threaded, threads=2).equals(values)
    assert c.decrypt_many(threaded).equals(values)  # default: one thread per CPU
    with pytest.raises(ValueError, match="threads"):
        c.encrypt_many(values, threads=0)


@pytest.mark.parametrize(("radix", "lengths"), [(42, (23, 24, 37, 56, 57, 100)), (10, (37, 40, 55)), (26, (27, 41)),
                                                (2, (124, 125, 200)), (62, (21, 30)), (3, (80, 81)),
                                                (65536, (9, 10, 11))])
@pytest.mark.parametrize("tweak", [b"", b"label", bytes(range(11)), bytes(200)])
def test_ff1_long_path_equals_exact_path(radix, lengths, tweak):
    """The long path (halves of 2**62 and more as base-radix**e superdigits, int64 matrix products for NUM and
    y mod radix**m) gives the exact path's numerals both ways: one and two varying MAC blocks, one to three blocks
    of S, odd and even lengths, extremes included."""
    rng = np.random.default_rng(radix)
    alphabet = "".join(chr(0x41 + k) if radix < 1000 else chr(0x100 + k) for k in range(radix))
    for length in lengths:
        nums = rng.integers(0, radix, size=(300, length))
        nums[0], nums[1] = 0, radix - 1
        long, exact = FF1(bytes(range(16)), alphabet), FF1(bytes(range(16)), alphabet)
        exact.force_exact = True
        enc = long.encrypt_numerals(nums, tweak)
        assert long._long_plan(length, tweak) is not None  # the long path was taken
        assert (enc == exact.encrypt_numerals(nums, tweak)).all()
        assert (long.decrypt_numerals(enc, tweak) == nums).all()
        assert (exact.decrypt_numerals(enc, tweak) == nums).all()


@settings(max_examples=60, deadline=None)
@given(radix=st.sampled_from([2, 10, 26, 36]), extra=st.integers(0, 14),
       tweaks=st.lists(st.binary(max_size=40), min_size=1, max_size=5, unique=True), seed=st.integers(0, 2**32 - 1))
def test_ff1_ints_under_many_tweaks_equal_one_call_per_tweak(radix, extra, tweaks, seed):
    """crypt_ints_tweaks (each row under its own tweak, one batch: the phone walks) gives the integers of one
    encrypt_ints call per tweak, both ways, on the fast, wide and exact paths (tweaks of 0 to 40 bytes, so the
    tweak's bytes reach the MAC's constant blocks as well as its last block)."""
    c = FF1(bytes(range(16)), "".join(chr(0x41 + k) for k in range(radix)))
    longest = max(n for n in range(1, 65) if radix**n <= 2**64)
    length = min(c.min_len + extra, longest)
    rng = np.random.default_rng(seed)
    size = radix**length
    x = np.array([int(rng.integers(0, 2**62)) % size for _ in range(50)], dtype=np.uint64)
    which = rng.integers(0, len(tweaks), size=len(x))
    both = c.crypt_ints_tweaks(x, length, tweaks, which)
    for k, tweak in enumerate(tweaks):
        sel = which == k
        assert (both[sel] == c.encrypt_ints(x[sel], length, tweak)).all()
    assert (c.crypt_ints_tweaks(both, length, tweaks, which, decrypt=True) == x).all()
