"""Vectorised text helpers shared by the PII types: code points, digit scripts, in-place digit rendering.

Extracts from Egypt and Saudi Arabia mix three digit scripts: ASCII ``0-9``, Arabic-Indic ``٠-٩``
(U+0660..U+0669) and Extended Arabic-Indic ``۰-۹`` (U+06F0..U+06F9).  Tokens must come back in the
script (and the layout: spaces, dashes, parentheses) of the input, so the PII types work on ASCII
digits internally and :func:`replace_trailing_digits` writes the new digits into the original string,
digit for digit, in each digit's own script.

>>> ascii_digits(pa.array(["٠١٠ ۱۲۳"])).to_pylist(), digits_only(pa.array(["+20 (10) 1234-5678"])).to_pylist()
(['010 123'], ['201012345678'])
>>> render_digits(pa.array(["٠١٠-١٢٣", "010123"]), pa.array(["010123", "010123"]),
...               pa.array(["010987", "010987"])).to_pylist()
['٠١٠-٩٨٧', '010987']
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.utf8 import decode_all, encode_codepoints, group_bytes

DIGIT_BASES = (0x30, 0x660, 0x6F0)  # ASCII, Arabic-Indic, Extended Arabic-Indic zero


def all_ascii(values: pa.Array) -> bool:
    return len(values) == 0 or bool(pc.all(pc.string_is_ascii(values)).as_py() is not False)


def ascii_digits(values: pa.Array) -> pa.Array:
    """Replace Arabic-Indic and Extended Arabic-Indic digits by ASCII digits (length-preserving in chars)."""
    if all_ascii(values):
        return values
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    # one pass to find the cells with such a digit (few: Arabic text is mostly letters), the replacements there
    has = pc.fill_null(pc.match_substring_regex(values, _NON_ASCII_DIGIT), False)
    count = pc.sum(has).as_py() or 0
    if not count:
        return values
    out = values if count == len(values) else values.filter(has)
    for base in DIGIT_BASES[1:]:
        for d in range(10):
            out = pc.replace_substring(out, chr(base + d), str(d))
    return out if count == len(values) else pc.replace_with_mask(values, has, out)


#: the digits :func:`ascii_digits` makes ASCII, as a regex class's contents
NON_ASCII_DIGIT_CHARS = r"\x{0660}-\x{0669}\x{06F0}-\x{06F9}"
_NON_ASCII_DIGIT = f"[{NON_ASCII_DIGIT_CHARS}]"
#: what people type between the groups of an ID or an IBAN (spaces, dashes, dots, no-break spaces, direction
#: marks), as a regex class's contents; compact forms drop them
SEPARATOR_CHARS = r"\s\-\.\x{00A0}\x{200F}\x{200E}"


def compact_digits(values: pa.Array) -> pa.Array:
    """Separators removed and Arabic-Indic digits made ASCII (a national ID's compact form).

    >>> compact_digits(pa.array(["2900 1010-1000.77", "٢٩٠٠١٠١٠١٠٠٠٧٧", "29001010100077"])).to_pylist()
    ['29001010100077', '29001010100077', '29001010100077']
    """
    if pc.all(pc.fill_null(pc.ascii_is_decimal(values), True)).as_py():
        return values  # plain ASCII digits already: nothing to strip or convert
    return pc.replace_substring_regex(ascii_digits(values), f"[{SEPARATOR_CHARS}]", "")


#: "0000" .. "9999" as ASCII bytes, one row per number, and each row as one native uint32
_DIGITS4 = (np.arange(10_000)[:, None] // np.array([1000, 100, 10, 1])[None, :] % 10 + 0x30).astype(np.uint8)
_DIGITS4_U32 = np.ascontiguousarray(_DIGITS4).view(np.uint32).ravel()


def ascii_digit_matrix(numbers: np.ndarray, width: int) -> np.ndarray:
    """(rows, width) ASCII digits of non-negative integers below 10**width, zero-padded."""
    dtype = np.uint32 if width <= 9 else np.uint64  # 32-bit division is faster
    x: np.ndarray = np.asarray(numbers).astype(dtype)
    chunks = -(-width // 4)
    out = np.empty((len(x), chunks), dtype=np.uint32)
    for k in range(chunks - 1, -1, -1):
        q: np.ndarray = x // 10_000  # (a Python int keeps x's unsigned dtype)
        out[:, k] = _DIGITS4_U32[x - q * 10_000]
        x = q
    return out.view(np.uint8)[:, 4 * chunks - width :]


def digits_only(values: pa.Array) -> pa.Array:
    """ASCII digits of each value, in order, with every other character removed."""
    return pc.replace_substring_regex(ascii_digits(values), r"[^0-9]", "")


def decode(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Null-free string array -> (flat uint32 code points, int64 row offsets into them)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string()) if not pa.types.is_string(values.type) else values
    rows = len(values)
    data = group_bytes(values) if rows else np.zeros(0, np.uint8)
    row_off = np.zeros(rows + 1, dtype=np.int64)
    if rows:
        np.cumsum(pc.fill_null(pc.utf8_length(values), 0).to_numpy(zero_copy_only=False), out=row_off[1:])
    return decode_all(data), row_off


def encode(cps: np.ndarray, row_off: np.ndarray) -> pa.Array:
    """Inverse of :func:`decode`: flat code points + row offsets -> string array."""
    data, char_byte_off = encode_codepoints(cps)
    offsets = char_byte_off[row_off].astype(np.int32)
    return pa.StringArray.from_buffers(len(row_off) - 1, pa.py_buffer(offsets), pa.py_buffer(data))


def digit_values(cps: np.ndarray) -> np.ndarray:
    """Digit value (0-9) of each code point in any of the three scripts, -1 for non-digits."""
    out = np.full(len(cps), -1, dtype=np.int64)
    for base in DIGIT_BASES:
        sel = (cps >= base) & (cps <= base + 9)
        out[sel] = cps[sel].astype(np.int64) - base
    return out


def row_ids(row_off: np.ndarray) -> np.ndarray:
    """Row index of every flat position."""
    return np.repeat(np.arange(len(row_off) - 1), np.diff(row_off))


def replace_trailing_digits(values: pa.Array, new_digits: pa.Array) -> pa.Array:
    """Write the ASCII digit strings ``new_digits`` over the LAST ``len(new)`` digits of each value.

    Every replaced digit keeps its own script, and every other character stays where it was, so
    ``"+20 (10) 1234-5678"`` and ``"٠١٠١٢٣٤٥٦٧٨"`` come back in exactly their own layouts.
    """
    cps, row_off = decode(values)
    dv = digit_values(cps)
    is_digit = dv >= 0
    rows = row_ids(row_off)
    # rank of each digit counted from the end of its row (0 = last digit)
    csum = np.cumsum(is_digit)
    row_total = np.add.reduceat(is_digit.astype(np.int64), row_off[:-1]) if len(cps) else np.zeros(0, np.int64)
    row_total = np.where(np.diff(row_off) > 0, row_total, 0)
    before_row = np.concatenate([[0], np.cumsum(row_total)])[:-1]
    rank_from_end = row_total[rows] - (csum - before_row[rows])  # 0 for last digit
    new_cps, new_off = decode(new_digits)
    new_len = np.diff(new_off)
    k = new_len[rows]
    sel = is_digit & (rank_from_end < k)
    src = new_off[rows[sel] + 1] - 1 - rank_from_end[sel]
    new_val = new_cps[src].astype(np.int64) - 0x30
    out = cps.copy()
    out[sel] = (cps[sel].astype(np.int64) - dv[sel] + new_val).astype(np.uint32)
    return encode(out, row_off)


def render_digits(values: pa.Array, plain: pa.Array, new_digits: pa.Array) -> pa.Array:
    """Put ``new_digits`` into ``values`` in place of their trailing digits (see
    :func:`replace_trailing_digits`), taking the token as-is where a value already is its plain
    ASCII-digit form ``plain`` (the common case, no per-character work)."""
    same = pc.fill_null(pc.equal(values, plain), False)
    if pc.all(same).as_py():
        return new_digits
    # "+<digits>" (E.164 as exported) is the other common plain form
    plus = pc.fill_null(pc.equal(values, pc.binary_join_element_wise("+", plain, "")), False)
    if pc.any(plus).as_py():
        new_digits = pc.if_else(plus, pc.binary_join_element_wise("+", new_digits, ""), new_digits)
        same = pc.or_(same, plus)
        if pc.all(same).as_py():
            return new_digits
    odd = pc.invert(same)
    idx = np.flatnonzero(odd.to_numpy(zero_copy_only=False))
    slow = replace_trailing_digits(values.take(pa.array(idx)), new_digits.take(pa.array(idx)))
    return pc.replace_with_mask(new_digits, odd, slow)


class CharClass:
    """A character predicate applied to whole code-point arrays through a lazily filled lookup table.

    Each BMP code point is classified once per process (``predicate(chr(c))``) and then read from a
    table; characters outside the BMP (rare) are classified one by one.
    """

    def __init__(self, predicate) -> None:
        self.predicate = predicate
        self._lut = np.full(0x10000, 2, dtype=np.uint8)  # 0 no, 1 yes, 2 not looked up yet

    def mask(self, cps: np.ndarray) -> np.ndarray:
        out = np.zeros(len(cps), dtype=bool)
        bmp = cps < 0x10000
        idx = cps[bmp]
        state = self._lut[idx]
        unknown = idx[state == 2]
        if len(unknown):
            for c in np.unique(unknown).tolist():
                self._lut[c] = 1 if self.predicate(chr(c)) else 0
            state = self._lut[idx]
        out[bmp] = state == 1
        astral = np.flatnonzero(~bmp)
        if len(astral):
            out[astral] = [bool(self.predicate(chr(c))) for c in cps[astral].tolist()]
        return out



#: ``\w`` as Python's ``re`` defines it (``str.isalnum()`` or ``_``), per code point
WORD_CHARS = CharClass(re.compile(r"\w").match)
