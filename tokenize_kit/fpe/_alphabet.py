"""Alphabets: an ordered set of distinct Unicode characters and the numeral <-> character maps.

>>> digits = Alphabet(DIGITS)
>>> digits.radix, digits.to_numerals(np.frombuffer(b"0357", np.uint8).reshape(2, 2)).tolist()
(10, [[0, 3], [5, 7]])
>>> "".join(map(chr, Alphabet(ARABIC_INDIC_DIGITS).to_codepoints(np.array([2, 0, 2, 5]))))
'٢٠٢٥'
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidAlphabetError, InvalidCharacterError

#: NIST SP 800-38G allows radix 2 .. 2**16.
MAX_RADIX = 2**16

DIGITS = "0123456789"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"  # U+0660..U+0669
EXTENDED_ARABIC_INDIC_DIGITS = "۰۱۲۳۴۵۶۷۸۹"  # U+06F0..U+06F9 (Persian/Urdu forms, seen in Saudi data)
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Alphabet:
    """An ordered alphabet; numeral ``i`` is ``chars[i]``."""

    __slots__ = ("_cps", "_cps_out", "_lookup", "_lookup8", "_sorted_cps", "_sorted_idx", "chars", "radix")
    _lookup: np.ndarray | None
    _sorted_cps: np.ndarray | None
    _sorted_idx: np.ndarray | None

    def __init__(self, chars: str) -> None:
        if not isinstance(chars, str):
            raise InvalidAlphabetError("alphabet must be a str of distinct characters")
        if len(set(chars)) != len(chars):
            raise InvalidAlphabetError("alphabet contains duplicate characters")
        if not 2 <= len(chars) <= MAX_RADIX:
            raise InvalidAlphabetError(f"alphabet must have 2..{MAX_RADIX} characters, got {len(chars)}")
        self.chars = chars
        self.radix = len(chars)
        self._cps = np.array([ord(c) for c in chars], dtype=np.uint32)
        max_cp = int(self._cps.max())
        # ASCII alphabets map uint8 bytes straight through 256-entry tables (no widening to uint32)
        self._cps_out = self._cps.astype(np.uint8) if max_cp < 0x80 else self._cps
        lookup8 = np.full(256, -1, dtype=np.int32)
        ascii_chars = self._cps < 0x80
        lookup8[self._cps[ascii_chars]] = np.flatnonzero(ascii_chars)
        self._lookup8 = lookup8
        if max_cp < 1 << 17:
            lookup = np.full(max_cp + 1, -1, dtype=np.int32)
            lookup[self._cps] = np.arange(self.radix, dtype=np.int32)
            self._lookup = lookup
            self._sorted_cps = self._sorted_idx = None
        else:
            self._lookup = None
            order = np.argsort(self._cps)
            self._sorted_cps = self._cps[order]
            self._sorted_idx = order.astype(np.int32)

    def to_numerals(self, cps: np.ndarray, first_row: int = 0, rows: np.ndarray | None = None) -> np.ndarray:
        """Map a (rows, width) array of code points to numerals; raise naming the first bad row.

        ``rows`` maps group rows back to positions in the caller's batch so the error can say
        *which* value is bad without ever showing it.
        """
        nums: np.ndarray
        if cps.dtype == np.uint8:
            nums = self._lookup8[cps]
        elif self._lookup is not None:
            lk = self._lookup
            safe = np.minimum(cps, len(lk) - 1)
            nums = lk[safe]
            nums[cps >= len(lk)] = -1
        else:
            assert self._sorted_cps is not None and self._sorted_idx is not None
            pos = np.searchsorted(self._sorted_cps, cps)
            pos = np.minimum(pos, self.radix - 1)
            nums = np.where(self._sorted_cps[pos] == cps, self._sorted_idx[pos], -1)
        bad = nums < 0
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            where = int(rows[row]) if rows is not None else first_row + row
            raise InvalidCharacterError(
                f"value at position {where} contains a character outside the cipher's alphabet "
                f"(radix {self.radix})"
            )
        return nums

    def to_codepoints(self, nums: np.ndarray) -> np.ndarray:
        """Numerals -> code points (uint8 for an ASCII alphabet, else uint32)."""
        out: np.ndarray = self._cps_out[nums]
        return out

    def __repr__(self) -> str:
        return f"Alphabet(radix={self.radix})"
