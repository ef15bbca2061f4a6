"""A string column as flat code points with character classes, for finding and replacing spans in whole columns.

Free-text detection works on every character of a column at once: the column's UTF-8 bytes are decoded once
into one flat array of code points (plus where each row starts), each code point is classified once through a
lookup table (digit and its value, letter, Arabic or Latin letter, case, space, word character, Arabic
diacritic, tatweel), and spans are found with numpy over those arrays instead of a regular expression per value.
Spans are (start, end) positions in that flat array; :meth:`TextView.strings` gathers their text and
:meth:`TextView.replace` writes replacements of any length back, still without a per-row Python loop.

>>> view = TextView(pa.array(["call ٠١٠ now", "x"]))
>>> view.strings(np.array([5]), np.array([8])).to_pylist()
['٠١٠']
>>> view.replace(np.array([5]), np.array([8]), pa.array(["[phone]"])).to_pylist()
['call [phone] now', 'x']
>>> view.digit[5:8].tolist(), int(view.row[9])
([0, 1, 0], 0)
"""

from __future__ import annotations

import unicodedata
from functools import cache, cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.utf8 import decode_all, encode_codepoints, group_bytes

# character class bits (one uint16 per BMP code point)
DIGIT = 1  # a digit of the three scripts extracts use: ASCII, Arabic-Indic, Extended Arabic-Indic
LETTER = 2  # str.isalpha
ARABIC = 4  # an Arabic letter (U+0620..U+064A, U+066E..U+06D3, U+06FA..U+06FF)
LATIN = 8  # A-Z, a-z
UPPER = 16  # str.isupper
SPACE = 32  # str.isspace
WORD = 64  # \w: str.isalnum or "_"
MARK = 128  # Arabic diacritics (harakat, shadda, sukun, superscript alef): folded away when comparing words
TATWEEL = 256  # U+0640, the Arabic elongation character: folded away when comparing words
DIGIT_BASES = (0x30, 0x660, 0x6F0)


@cache
def class_table() -> np.ndarray:
    """The class bits of every BMP code point (built once per process, about 65,000 lookups)."""
    table = np.zeros(0x10000, dtype=np.uint16)
    for c in range(0x10000):
        ch = chr(c)
        bits = 0
        if ch.isalpha():
            bits |= LETTER | WORD
            if 0x620 <= c <= 0x64A or 0x66E <= c <= 0x6D3 or 0x6FA <= c <= 0x6FF:
                bits |= ARABIC
            elif c < 0x80:
                bits |= LATIN
            if ch.isupper():
                bits |= UPPER
        elif ch.isalnum() or ch == "_":
            bits |= WORD
        if ch.isspace():
            bits |= SPACE
        if 0x64B <= c <= 0x652 or c == 0x670 or (0x653 <= c <= 0x65F and unicodedata.combining(ch)):
            bits |= MARK
        table[c] = bits
    table[0x640] |= TATWEEL
    for base in DIGIT_BASES:
        table[base : base + 10] |= DIGIT
    return table


def classify(cps: np.ndarray) -> np.ndarray:
    """Class bits of flat code points (characters outside the BMP are classified one by one)."""
    table = class_table()
    if not len(cps) or int(cps.max()) < 0x10000:
        return np.take(table, cps)
    bmp = cps < 0x10000
    out = np.zeros(len(cps), dtype=np.uint16)
    out[bmp] = table[cps[bmp]]
    for i in np.flatnonzero(~bmp).tolist():
        ch = chr(int(cps[i]))
        out[i] = (LETTER | WORD if ch.isalpha() else WORD if ch.isalnum() else 0) | (SPACE if ch.isspace() else 0)
    return out


@cache
def _set_table(values: tuple[int, ...]) -> np.ndarray:
    table = np.zeros(max(values) + 2, dtype=bool)
    table[list(values)] = True
    return table


def in_set(cps: np.ndarray, values: tuple[int, ...]) -> np.ndarray:
    """``np.isin(cps, values)`` for a few code points: up to three values, one comparison each (a comparison costs
    about a third of a table lookup); more, through a lookup table (one pass, not one per value)."""
    if len(values) <= 3:
        out = cps == values[0]
        for v in values[1:]:
            out |= cps == v
        return out
    return np.take(_set_table(values), cps, mode="clip")  # (clipped to the table's last entry: False)


def plain_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A plain (not large, not chunked) string array without nulls (a null reads as "")."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return pc.fill_null(values, "") if values.null_count else values


@cache
def _coarse_table() -> np.ndarray:
    """A random 32-bit number per BMP character (fixed seed), the same for characters the folding of words makes
    equal or that are coarser still: ASCII letters and their capitals, every alef with a hamza or madda and the
    bare alef, ta marbuta and ha, alef maqsura and ya (folding changes only a final one); 0 for diacritics and
    tatweel (left out).  Characters above the BMP share the last entry (coarser)."""
    rand = np.random.default_rng(0x5EED).integers(1, 2**32, 0x10000, dtype=np.uint32)
    same = np.arange(0x10000)
    same[0x41:0x5B] += 0x20
    same[[ord(a) for a in "أإآ"]] = ord("ا")
    same[ord("ة")], same[ord("ى")] = ord("ه"), ord("ي")
    table = rand[same]
    table[0x64B:0x660] = 0
    table[[0x670, 0x640]] = 0
    return table


def in_sorted(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """Whether each needle is in ``haystack`` (sorted): the needles are searched in sorted order, which walks the
    haystack in order (a few times faster than searching them as they come, or than ``np.isin``)."""
    found = np.zeros(len(needles), dtype=bool)
    if len(haystack) and len(needles):
        order = np.argsort(needles)
        wanted = needles[order]
        found[order] = haystack[np.searchsorted(haystack, wanted).clip(0, len(haystack) - 1)] == wanted
    return found


class TextView:
    """A null-free string array as flat code points; positions are indices into :attr:`cps`."""

    def __init__(self, values: pa.Array) -> None:
        values = plain_strings(values)
        self.values = values
        n = self.rows = len(values)
        data = group_bytes(values) if n else np.zeros(0, np.uint8)
        if n:
            off = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1 + values.offset)[values.offset :]
            self.byte_off = off.astype(np.int64) - int(off[0])
        else:
            self.byte_off = np.zeros(1, dtype=np.int64)
        self.data = data
        self.cps = decode_all(data)
        self.ascii = len(self.cps) == len(data)
        if self.ascii:
            self.row_off = self.byte_off
        else:
            self.row_off = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(pc.utf8_length(values).to_numpy(zero_copy_only=False), out=self.row_off[1:])

    def __len__(self) -> int:
        return len(self.cps)

    @cached_property
    def cls(self) -> np.ndarray:
        return classify(self.cps)

    @cached_property
    def digit(self) -> np.ndarray:
        """Digit value (0-9) of every character, -1 for non-digits (int8)."""
        out = np.full(len(self.cps), -1, dtype=np.int8)
        isd = (self.cls & DIGIT) != 0
        if isd.any():
            c = self.cps[isd].astype(np.int64)
            out[isd] = np.where(c >= 0x6F0, c - 0x6F0, np.where(c >= 0x660, c - 0x660, c - 0x30))
        return out

    @cached_property
    def row(self) -> np.ndarray:
        """Row index of every character."""
        return np.repeat(np.arange(self.rows, dtype=np.int64), np.diff(self.row_off))

    @cached_property
    def row_start(self) -> np.ndarray:
        """Whether each character is the first of its row."""
        out = np.zeros(len(self.cps) + 1, dtype=bool)
        out[self.row_off[:-1]] = True
        return out[: len(self.cps)]

    @cached_property
    def row_end(self) -> np.ndarray:
        """Whether each character is the last of its row."""
        out = np.zeros(len(self.cps) + 1, dtype=bool)
        out[self.row_off[1:] - 1] = True
        return out[: len(self.cps)]

    def prev(self, mask: np.ndarray) -> np.ndarray:
        """``mask`` of the previous character in the same row (False at a row's start)."""
        out = np.zeros(len(mask), dtype=bool)
        out[1:] = mask[:-1]
        return out & ~self.row_start

    def next(self, mask: np.ndarray) -> np.ndarray:
        """``mask`` of the next character in the same row (False at a row's end)."""
        out = np.zeros(len(mask), dtype=bool)
        out[:-1] = mask[1:]
        return out & ~self.row_end

    @cached_property
    def lead_pos(self) -> np.ndarray:
        """Byte offset of every character."""
        return self._char_byte[:-1]

    @cached_property
    def _char_byte(self) -> np.ndarray:
        """Byte offset of every character, and the data's length after them."""
        if self.ascii:
            return np.arange(len(self.data) + 1, dtype=np.int64)
        lead = np.empty(len(self.data) + 1, dtype=bool)
        np.not_equal(self.data & 0xC0, 0x80, out=lead[:-1])
        lead[-1] = True
        return np.flatnonzero(lead)

    @property
    def char_byte(self) -> np.ndarray:
        """Byte offset of every character, and the data's length after them (do not modify)."""
        return self._char_byte

    def byte_pos(self, char_pos: np.ndarray) -> np.ndarray:
        """Byte offsets of character positions (the end of the data maps to its length)."""
        if self.ascii:
            return np.asarray(char_pos, dtype=np.int64)
        return self._char_byte[char_pos]

    def subset(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray]:
        """The given rows (sorted, distinct) alone: their code points, row offsets, UTF-8 bytes with the byte offset
        of every character (plus the end), and where each of their characters is in this view."""
        lengths = self.row_off[rows + 1] - self.row_off[rows]
        off = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=off[1:])
        at = np.repeat(self.row_off[rows] - off[:-1], lengths) + np.arange(int(off[-1]), dtype=np.int64)
        b_lo, b_hi = self.byte_off[rows], self.byte_off[rows + 1]
        b_len = b_hi - b_lo
        b_off = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(b_len, out=b_off[1:])
        data = self.data[np.repeat(b_lo - b_off[:-1], b_len) + np.arange(int(b_off[-1]), dtype=np.int64)]
        row_of = np.repeat(np.arange(len(rows)), lengths)
        char_byte = np.empty(len(at) + 1, dtype=np.int64)
        char_byte[:-1] = self.byte_pos(at) - b_lo[row_of] + b_off[row_of]
        char_byte[-1] = b_off[-1]
        return self.cps[at], off, (data, char_byte), at

    def sub(self, rows: np.ndarray) -> tuple[TextView, np.ndarray]:
        """A view of the given rows alone (sorted, distinct), without decoding them again, and where each of its
        characters is in this view: a finder that needs only a few rows (those with an ``@`` ...) reads them."""
        cps, off, (data, char_byte), at = self.subset(rows)
        view = object.__new__(type(self))
        view.values = self.values.take(pa.array(rows))
        view.rows = len(rows)
        view.data = data
        view.byte_off = char_byte[off]
        view.ascii = len(data) == len(cps)
        view._char_byte = char_byte
        view.cps = cps
        view.row_off = off
        return view, at

    @cached_property
    def _coarse_sums(self) -> np.ndarray:
        """``sums[i]``: the sum of :func:`_coarse_table`'s numbers of the characters before i (modulo 2**32: four
        bytes per character, held while the view lives)."""
        sums = np.zeros(len(self.cps) + 1, dtype=np.uint32)
        np.cumsum(np.take(_coarse_table(), self.cps, mode="clip"), out=sums[1:])
        return sums

    def coarse_hashes(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """A 32-bit hash of each span ``[start, end)``: the sum of a random number per character, equal for the
        characters folding makes equal (:func:`_coarse_table`), from prefix sums made once per view (a span costs
        two lookups).  Two words whose comparison keys are equal (folded as names are, or the exact text) have
        equal hashes; so unequal hashes prove two words differ (equal ones prove nothing: the hash ignores the
        characters' order).

        >>> v = TextView(pa.array(["أحمدَ علي", "احمد على", "ALI Ali"]))
        >>> h = v.coarse_hashes(np.array([0, 6, 9, 14, 17, 21]), np.array([5, 9, 13, 17, 20, 24]))
        >>> [bool(h[i] == h[j]) for i, j in ((0, 2), (1, 3), (4, 5), (0, 1))]
        [True, True, True, False]
        """
        sums = self._coarse_sums
        return sums[ends] - sums[starts]

    def coarse_chars(self, pos: np.ndarray) -> np.ndarray:
        """The numbers :meth:`coarse_hashes` sums for the characters at ``pos`` (0: a diacritic or tatweel)."""
        return np.take(_coarse_table(), self.cps[pos], mode="clip")

    def strings(self, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
        """The substrings ``[start, end)`` as one Arrow string array, gathered from the bytes."""
        return gather(self.data, self.byte_pos(starts), self.byte_pos(ends))

    def replace(self, starts: np.ndarray, ends: np.ndarray, repl: pa.Array) -> pa.Array:
        """The column with each span ``[start, end)`` replaced by ``repl`` (spans sorted, non-overlapping, each
        within one row; replacements of any length)."""
        if not len(starts):
            return self.values
        return splice(self.data, self.byte_off, self.byte_pos(starts), self.byte_pos(ends), plain_strings(repl))


def _offsets(arr: pa.Array) -> np.ndarray:
    off = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1 + arr.offset)[arr.offset :]
    return off.astype(np.int64) - int(off[0])


def gather(data: np.ndarray, bs: np.ndarray, be: np.ndarray) -> pa.Array:
    """Strings made of the byte ranges ``data[bs[i]:be[i]]``."""
    n = len(bs)
    if n and len(data) < _MAX_INT32:
        # ranges that do not overlap, in order or after sorting: the data itself, cut at every range's start and
        # end, is a string array (ranges and the gaps between them, no bytes copied) from which Arrow takes the
        # ranges (the bytes copied once, in C)
        order = None
        if n > 1 and not (bs[1:] >= be[:-1]).all():
            order = np.argsort(bs, kind="stable")
            if not (bs[order[1:]] >= be[order[:-1]]).all():
                return _gather_indexed(data, bs, be)
        sb, se = (bs, be) if order is None else (bs[order], be[order])
        off = np.empty(2 * n + 2, dtype=np.int32)
        off[0] = 0
        off[1:-1:2] = sb
        off[2:-1:2] = se
        off[-1] = len(data)
        cut = pa.StringArray.from_buffers(2 * n + 1, pa.py_buffer(off), pa.py_buffer(np.ascontiguousarray(data)))
        pick = np.arange(1, 2 * n, 2, dtype=np.int64)
        if order is not None:
            pick[order] = pick.copy()  # range i is the rank-of-i'th cut range
        return cut.take(pa.array(pick))
    return _gather_indexed(data, bs, be)


_MAX_INT32 = (1 << 31) - 1


def _gather_indexed(data: np.ndarray, bs: np.ndarray, be: np.ndarray) -> pa.Array:
    """:func:`gather` of overlapping ranges (or of data past 2 GiB): the bytes through an index array."""
    lengths = (be - bs).astype(np.int64)
    offsets = np.zeros(len(bs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    idx = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1] - bs, lengths)
    if int(offsets[-1]) >= _MAX_INT32:
        return pa.LargeStringArray.from_buffers(len(bs), pa.py_buffer(offsets), pa.py_buffer(data[idx]))
    return pa.StringArray.from_buffers(len(bs), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data[idx]))


def splice(data: np.ndarray, row_byte_off: np.ndarray, bs: np.ndarray, be: np.ndarray, repl: pa.Array) -> pa.Array:
    """Rows of ``data`` (split at ``row_byte_off``) with the byte ranges ``[bs, be)`` replaced by ``repl``."""
    rows = len(row_byte_off) - 1
    rdata = group_bytes(repl) if len(repl) else np.zeros(0, np.uint8)
    roff = _offsets(repl)
    rlen = np.diff(roff)
    lo, hi = int(row_byte_off[0]), int(row_byte_off[-1])
    if lo or hi != len(data):  # (bytes outside the rows: left out)
        data, row_byte_off, bs, be = data[lo:hi], row_byte_off - lo, bs - lo, be - lo
    if np.array_equal(rlen, be - bs):  # same byte lengths (digits of the same script ...): write in place
        out = data.copy()
        out[_in_spans(len(data), bs, be)] = rdata
        return pa.StringArray.from_buffers(rows, pa.py_buffer(row_byte_off.astype(np.int32)), pa.py_buffer(out))
    # the output as a sequence of pieces: for every row, [gap, replacement]* then the tail gap
    k = len(bs)
    span_row = np.searchsorted(row_byte_off, bs, side="right") - 1
    prev_end = np.empty(k, dtype=np.int64)
    prev_end[0] = 0
    prev_end[1:] = be[:-1]
    first = np.ones(k, dtype=bool)
    first[1:] = span_row[1:] != span_row[:-1]
    gap_start = np.where(first, row_byte_off[span_row], prev_end)
    # last span of each row, or none: tail from there (or the whole row) to the row's end
    last_end = row_byte_off[:-1].copy()
    last = np.ones(k, dtype=bool)
    last[:-1] = span_row[:-1] != span_row[1:]
    last_end[span_row[last]] = be[last]
    # piece order: per row, (gap_k, repl_k) for its spans, then the tail; rows without spans: just the tail
    spans_per_row = np.bincount(span_row, minlength=rows)
    pieces_per_row = 2 * spans_per_row + 1
    row_first_piece = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(pieces_per_row, out=row_first_piece[1:])
    rank = np.arange(k) - np.repeat(np.cumsum(spans_per_row) - spans_per_row, spans_per_row)
    gap_piece = row_first_piece[span_row] + 2 * rank
    total = int(row_first_piece[-1])
    length = np.zeros(total, dtype=np.int64)
    length[gap_piece] = bs - gap_start
    length[gap_piece + 1] = rlen
    tail = row_first_piece[1:] - 1
    length[tail] = row_byte_off[1:] - last_end
    out_off = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(length, out=out_off[1:])
    both_len = int(out_off[-1])
    # the output is the input's bytes outside the spans and the replacements' bytes, interleaved piece by piece:
    # two masks place them (no index array of eight bytes per byte)
    out = np.empty(both_len, dtype=np.uint8)
    piece_repl = np.zeros(total, dtype=bool)
    piece_repl[gap_piece + 1] = True
    is_repl = np.repeat(piece_repl, length)
    out[is_repl] = rdata
    out[~is_repl] = data[~_in_spans(len(data), bs, be)]
    offsets = out_off[row_first_piece]
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(out))


def _in_spans(n: int, bs: np.ndarray, be: np.ndarray) -> np.ndarray:
    """Mask of the ``n`` bytes inside the spans ``[bs, be)`` (sorted, not overlapping).  Many spans (the words of
    a column): +1 where a span starts, -1 where one ends, summed (one pass of one byte per byte); few spans: the
    alternating runs outside and inside them, repeated (a pass per run, not per byte).

    >>> _in_spans(8, np.array([1, 3, 3, 6]), np.array([3, 3, 5, 8])).astype(int).tolist()
    [0, 1, 1, 1, 1, 0, 1, 1]
    >>> _in_spans(100, np.array([1, 3, 6]), np.array([3, 5, 8])).astype(int).tolist()[:10]
    [0, 1, 1, 1, 1, 0, 1, 1, 0, 0]
    """
    if 16 * len(bs) < n:
        runs = np.empty(2 * len(bs) + 1, dtype=np.int64)
        runs[0] = bs[0] if len(bs) else n
        runs[1:-1:2] = be - bs
        runs[2:-1:2] = bs[1:] - be[:-1]
        if len(bs):
            runs[-1] = n - be[-1]
        return np.repeat(np.arange(len(runs)) % 2 == 1, runs)
    step = np.zeros(n + 1, dtype=np.int8)
    used = be > bs  # (an empty span may share its place with the next span's start)
    if not used.all():
        bs, be = bs[used], be[used]
    step[bs] = 1
    step[be] -= 1  # (a span that ends where the next one starts: 0 there, the sum stays 1)
    return np.cumsum(step[:n], dtype=np.int8).view(bool)


def encode(cps: np.ndarray, row_off: np.ndarray) -> pa.Array:
    """Flat code points + row offsets -> string array."""
    data, char_byte_off = encode_codepoints(cps)
    offsets = char_byte_off[row_off].astype(np.int32)
    return pa.StringArray.from_buffers(len(row_off) - 1, pa.py_buffer(offsets), pa.py_buffer(data))
