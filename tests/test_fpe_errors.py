"""Bad input raises a clear ValueError subclass that names the problem but never the value, key or tweak."""

from __future__ import annotations

import pytest

from tokenize_kit.fpe import (
    DIGITS,
    FF1,
    FF3_1,
    DomainTooSmallError,
    FPEError,
    InvalidAlphabetError,
    InvalidCharacterError,
    InvalidKeyError,
    InvalidTweakError,
    ValueTooLongError,
)

KEY = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
SECRET = "29801011234567"


def _raises(exc_type, fn, *secrets):
    with pytest.raises(exc_type) as info:
        fn()
    assert isinstance(info.value, ValueError) and isinstance(info.value, FPEError)
    msg = str(info.value)
    for s in secrets:
        assert s not in msg
    return msg


@pytest.mark.parametrize("cls", [FF1, FF3_1])
def test_character_outside_alphabet(cls):
    c = cls(KEY, DIGITS)
    msg = _raises(InvalidCharacterError, lambda: c.encrypt_many(["12345678", SECRET[:-1] + "x"]), SECRET[:-1])
    assert "position 1" in msg


@pytest.mark.parametrize("cls", [FF1, FF3_1])
def test_too_short(cls):
    msg = _raises(DomainTooSmallError, lambda: cls(KEY, DIGITS).encrypt("12345"), "12345")
    assert "at least 6" in msg


def test_too_long_ff3_1():
    value = "1" * 57
    msg = _raises(ValueTooLongError, lambda: FF3_1(KEY, DIGITS).encrypt(value), value)
    assert "at most 56" in msg


@pytest.mark.parametrize("cls", [FF1, FF3_1])
@pytest.mark.parametrize("key", [b"", b"short", bytes(17), bytes(33)])
def test_wrong_key_size(cls, key):
    _raises(InvalidKeyError, lambda: cls(key, DIGITS))


def test_key_must_be_bytes():
    _raises(InvalidKeyError, lambda: FF1(KEY.hex(), DIGITS), KEY.hex())


@pytest.mark.parametrize("tweak", [b"123456", b"123456789", bytes(16)])
def test_wrong_ff3_1_tweak_size(tweak):
    _raises(InvalidTweakError, lambda: FF3_1(KEY, DIGITS).encrypt(SECRET, tweak), tweak.hex())


def test_ff1_tweak_must_be_bytes():
    _raises(InvalidTweakError, lambda: FF1(KEY, DIGITS).encrypt(SECRET, "tweak"))


@pytest.mark.parametrize("alphabet", ["0012345678", "a", ""])
def test_bad_alphabet(alphabet):
    _raises(InvalidAlphabetError, lambda: FF1(KEY, alphabet))


def test_non_str_items():
    with pytest.raises(TypeError) as info:
        FF1(KEY, DIGITS).encrypt_many(["1234567", 29801011234567])
    assert "29801011234567" not in str(info.value)


def test_repr_hides_key():
    c = FF1(KEY, DIGITS)
    assert KEY.hex().lower() not in repr(c).lower() and "redacted" in repr(c)
