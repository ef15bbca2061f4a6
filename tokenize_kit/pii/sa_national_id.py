"""Saudi national ID / Iqama number, 10 digits.

The first digit is 1 for Saudi citizens (national ID) and 2 for residents (Iqama); the last digit is
a Luhn (mod 10) check digit over the first nine, as implemented by the Saudi-ID validators published
by the developer community (e.g. the ``saudi-id-validator`` packages; the Ministry of Interior
publishes no specification).

Tokens keep the first digit (so a citizen stays a citizen), encrypt digits 2-9 with FF1 (radix 10,
length 8: 10**8 values, above the NIST minimum) and recompute the Luhn digit, so every token
validates.

>>> is_valid("1000000008")
True
>>> is_valid("1000000009")
False
>>> validate("3000000003")
Traceback (most recent call last):
    ...
tokenize_kit.pii.exceptions.InvalidComponent: the first digit must be 1 (citizen) or 2 (resident)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.fpe import DIGITS
from tokenize_kit.fpe._base import digits_big_endian
from tokenize_kit.primitives import prf_u64
from tokenize_kit.subkeys import FPE, SURROGATE
from tokenize_kit.utf8 import encode_fixed, group_bytes

from .base import ColumnSpec, Crypto, Parse, PIIType, stdnum_api
from .checksums import luhn_digit, luhn_digit_of
from .exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from .text import compact_digits, render_digits


def compose(kind: np.ndarray, body8: np.ndarray) -> pa.Array:
    """IDs from the first digit (1 or 2) and the 8-digit body (int); the Luhn digit is computed.

    >>> compose(np.array([1]), np.array([0])).to_pylist()
    ['1000000008']
    """
    n = len(body8)
    digits = np.empty((n, 10), dtype=np.int64)
    digits[:, 0] = kind
    body = np.asarray(body8, dtype=np.int64)
    for j in range(8):
        digits[:, 1 + j] = (body // 10 ** (7 - j)) % 10
    digits[:, 9] = luhn_digit(digits[:, :9])
    return encode_fixed((digits + 0x30).astype(np.uint8))


@dataclass
class IdParse(Parse):
    """Each ID's first digit (1 or 2), its 8-digit body as an integer, and the compact form (junk where not ok)."""

    kind: np.ndarray
    body: np.ndarray
    compact: pa.Array


class SaNationalId(PIIType):
    """Saudi national ID or Iqama number (see the module docstring)."""

    name: ClassVar[str] = "sa_national_id"
    description: ClassVar[str] = "Saudi national ID (1...) or Iqama (2...), 10 digits with a Luhn check digit"
    domain: ClassVar[str] = "sa_national_id"
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = ((FPE, "sa_national_id"),)

    def compact(self, value: str) -> str:
        return compact_digits(pa.array([value], pa.string()))[0].as_py()

    def validate(self, value: str) -> str:
        v = self.compact(value)
        if not (v.isdigit() and v.isascii()):
            raise InvalidFormat("a Saudi ID contains only digits")
        if len(v) != 10:
            raise InvalidLength("a Saudi ID has 10 digits")
        if v[0] not in "12":
            raise InvalidComponent("the first digit must be 1 (citizen) or 2 (resident)")
        if int(luhn_digit(np.array([[int(c) for c in v[:9]]]))[0]) != int(v[9]):
            raise InvalidChecksum("the Luhn check digit does not match")
        return v

    def format(self, value: str) -> str:
        return self.compact(value)

    def _digit_rows(self, values: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
        """(ok, the (rows, 10) digit matrix, the compact forms): the reference parse, whose digits the surrogate
        method reads."""
        compacted = compact_digits(values)
        ok = pc.match_substring_regex(compacted, r"^[12][0-9]{9}$").to_numpy(zero_copy_only=False)
        digits = np.zeros((len(values), 10), dtype=np.int64)
        if ok.any():
            idx = np.flatnonzero(ok)
            sub = compacted.take(pa.array(idx))
            digits[idx] = group_bytes(sub).reshape(len(idx), 10).astype(np.int64) - 0x30
        ok &= luhn_digit(digits[:, :9]) == digits[:, 9]
        return ok, digits, compacted

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> IdParse:
        """The same verdicts as :meth:`_digit_rows`, by integer arithmetic on whole IDs instead of a digit matrix."""
        compacted = compact_digits(values)
        n = len(values)
        # ^[12][0-9]{9}$ without a regex: 10 ASCII decimal digits, the first one 1 or 2
        ok = pc.fill_null(pc.ascii_is_decimal(compacted), False).to_numpy(zero_copy_only=False)
        ok &= pc.fill_null(pc.binary_length(compacted), 0).to_numpy(zero_copy_only=False) == 10
        x = np.zeros(n, dtype=np.int64)
        if ok.all():
            x = pc.cast(compacted, pa.int64()).to_numpy(zero_copy_only=False)
        elif ok.any():
            idx = np.flatnonzero(ok)
            x[idx] = pc.cast(compacted.take(pa.array(idx)), pa.int64()).to_numpy(zero_copy_only=False)
        ok &= (x >= 10**9) & (x < 3 * 10**9)
        nine = x // 10  # first digit and body
        check = x - nine * 10
        ok &= luhn_digit_of(nine, 9) == check
        kind = nine // 10**8
        return IdParse(ok, kind, nine - kind * 10**8, compacted)

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        p = parsed if isinstance(parsed, IdParse) else self.parse(values)
        ok, kind, body, compacted = p.ok, p.kind, p.body, p.compact
        if not ok.all():
            raise ValueError(f"value at position {int(np.flatnonzero(~ok)[0])} is not a valid Saudi ID")
        cipher = crypto.cipher(self.domain, DIGITS)
        new_body = np.empty_like(body)
        for k in (1, 2):
            sel = np.flatnonzero(kind == k)
            if len(sel):
                step = cipher.decrypt_ints if decrypt and hasattr(cipher, "decrypt_ints") else None
                if hasattr(cipher, "encrypt_ints"):
                    fn = step or cipher.encrypt_ints
                    new_body[sel] = fn(body[sel].astype(np.uint64), 8, crypto.tweak(self.domain, str(k))).astype(
                        np.int64
                    )
                else:  # FF3-1: through numerals
                    nums = digits_big_endian(body[sel], 10, 8)
                    tw = crypto.tweak(self.domain, str(k))
                    out = cipher.decrypt_numerals(nums, tw) if decrypt else cipher.encrypt_numerals(nums, tw)
                    new_body[sel] = out @ (10 ** np.arange(7, -1, -1, dtype=np.int64))
        nine = kind * 10**8 + new_body
        ids = pc.cast(pa.array(nine * 10 + luhn_digit_of(nine, 9), pa.int64()), pa.string())  # = compose(kind, body)
        return render_digits(values, compacted, ids)

    def surrogate(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        _, digits, compacted = self._digit_rows(values)
        blocks = np.zeros((len(values), 16), dtype=np.uint8)
        blocks[:, :10] = (digits + 0x30).astype(np.uint8)
        rnd = prf_u64(crypto.key(SURROGATE, self.domain), blocks) % np.uint64(10**8)
        return render_digits(values, compacted, compose(digits[:, 0], rnd.astype(np.int64)))


_TYPE = SaNationalId()


compact, validate, is_valid, format = stdnum_api(_TYPE)
