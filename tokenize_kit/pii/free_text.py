"""PII inside free text: national IDs and phone numbers in Arabic or English notes.

Every run of digits (ASCII, Arabic-Indic or Extended Arabic-Indic, with spaces, dashes, dots or
parentheses between them, optionally after ``+``) is a candidate; a run of several space-separated
groups is also tried group by group, so two numbers written side by side are both found.  A candidate
counts only if it is VALID for its type (Egyptian national ID, Saudi ID/Iqama, Egyptian or Saudi
phone), and it is replaced in place by exactly the token the matching column type gives (same subkey
domain and tweak), so a phone in the notes joins to the phone column.

Precedence when spans overlap: longer first, then Egyptian ID, Saudi ID, phone.  In text, a phone must
be written with its international prefix, its national ``0`` or its country code: a bare 10-digit
number starting with 1 is too ambiguous (Saudi ID or Egyptian mobile without its zero) to be read as a
phone.  Tokens are valid values of the same form, so detokenization finds them again the same way.

Work is per match, not per row: the column's code points are classified once with numpy and the
matches of :data:`CANDIDATE` (the reference definition) are found as runs of those classes, candidates
are validated and tokenized in one vectorised call per type, and the tokens (digits in their own
script, so the same bytes long) are written into a copy of the column's byte buffer.
"""

from __future__ import annotations

import re
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.utf8 import decode_at, group_bytes

from .base import ColumnSpec, Crypto, Parse, PIIType
from .eg_national_id import EgNationalId
from .phone import Parsed, Phone
from .sa_national_id import SaNationalId
from .text import WORD_CHARS

_D = "0-9\u0660-\u0669\u06f0-\u06f9"
CANDIDATE = re.compile(rf"(?<![{_D}\w])\+?[{_D}](?:[{_D}]|[ \-.()](?=[{_D}(]))*[{_D}](?![{_D}])")
_DIGIT = re.compile(rf"[{_D}]")
_PIECE = re.compile(r"[^ ]+")
MIN_DIGITS = 7


class _PhoneInText(Phone):
    """Phones as written in text: international, national-0 or country-code forms only."""

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parsed:
        p = super().parse(values, spec)
        if not p.ok.any():
            return p
        # the digits in their own scripts (a prefix must be written in one script to count)
        digits = pc.replace_substring_regex(values, _NOT_DIGIT, "")
        prefixed = pc.or_(pc.starts_with(pc.utf8_ltrim_whitespace(values), "+"), _starts_with_any(digits, _PREFIXES))
        p.ok = p.ok & pc.fill_null(prefixed, False).to_numpy(zero_copy_only=False)
        return p


#: the first digit "0" (national form) or a country code, in any one digit script
_PREFIXES = ("0", "٠", "۰", "20", "966", "٢٠", "٩٦٦", "۲۰", "۹۶۶")
_NOT_DIGIT = rf"[^{_D}]"


def _starts_with_any(values: pa.Array, prefixes: tuple[str, ...]) -> pa.Array:
    out = pc.starts_with(values, prefixes[0])
    for p in prefixes[1:]:
        out = pc.or_(out, pc.starts_with(values, p))
    return out


DETECTORS: tuple[tuple[str, PIIType], ...] = (
    ("eg_national_id", EgNationalId()),
    ("sa_national_id", SaNationalId()),
    ("phone", _PhoneInText()),
)


def find(values: pa.Array) -> list[tuple[int, int, int, str]]:
    """All PII spans in the column: (row, start, end, type name), positions in characters of the row."""
    scan = _Scan(_text(values))
    starts, ends, kinds, _ = _choose(scan)
    if not len(starts):
        return []
    rows = np.searchsorted(scan.row_off, starts, "right") - 1
    base = scan.row_off[rows]
    return [(r, s, e, DETECTORS[k][0]) for r, s, e, k in zip(rows.tolist(), (starts - base).tolist(),
                                                              (ends - base).tolist(), kinds.tolist(), strict=True)]


def find_spans(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """The PII spans of :func:`find` as arrays: each span's row and its text (one Arrow string per span)."""
    scan = _Scan(_text(values))
    starts, ends, _, _ = _choose(scan)
    rows = np.searchsorted(scan.row_off, starts, "right") - 1
    return rows.astype(np.int64), scan.strings(starts, ends)


def _text(values: pa.Array) -> pa.Array:
    """A plain string array without nulls (a null reads as "")."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return pc.fill_null(values, "") if values.null_count else values


_DIGIT_RANGES = ((0x30, 0x39), (0x660, 0x669), (0x6F0, 0x6F9))


def _is_word(cps: np.ndarray) -> np.ndarray:
    return WORD_CHARS.mask(cps)


class _Scan:
    """A string column as flat code points (plus where each character starts in the UTF-8 bytes), with the
    character classes the candidate pattern needs."""

    def __init__(self, values: pa.Array) -> None:
        self.values = values
        n = len(values)
        data = group_bytes(values) if n else np.zeros(0, np.uint8)
        if n:
            off = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1 + values.offset)[values.offset :]
            self.byte_off = off.astype(np.int64) - int(off[0])
        else:
            self.byte_off = np.zeros(1, dtype=np.int64)
        self.data = data
        lead = (data & 0xC0) != 0x80
        self.lead_pos = np.flatnonzero(lead)
        self.ascii = len(self.lead_pos) == len(data)
        self.cps = data.astype(np.uint32) if self.ascii else decode_at(data, self.lead_pos)
        char_index = np.concatenate([[0], np.cumsum(lead)])
        self.row_off = char_index[self.byte_off]  # character offsets of the rows

    def byte_pos(self, char_pos: np.ndarray) -> np.ndarray:
        """Byte offset of character positions (the end position maps to the end of the data)."""
        if self.ascii:
            return char_pos
        lp = np.concatenate([self.lead_pos, [len(self.data)]])
        return lp[char_pos]

    def strings(self, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
        """The substrings [start, end) (character positions) as one Arrow array, gathered from the bytes."""
        bs, be = self.byte_pos(starts), self.byte_pos(ends)
        lengths = be - bs
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        idx = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1] - bs, lengths)
        return pa.StringArray.from_buffers(len(starts), pa.py_buffer(offsets.astype(np.int32)),
                                           pa.py_buffer(self.data[idx]))


def _matches(scan: _Scan) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) character positions of the matches of :data:`CANDIDATE` (same spans as ``finditer`` over
    the rows), without running the regex: per maximal run of characters that can continue a match (a digit, or a
    separator followed by a digit or "("), the match runs from the first digit not preceded by a digit or word
    character (with a "+" just before it, itself not after one) to the run's last digit, if that is another digit."""
    cps = scan.cps
    n = len(cps)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    digit = np.zeros(n, dtype=bool)
    for lo, hi in _DIGIT_RANGES:
        digit |= (cps >= lo) & (cps <= hi)
    sep = (cps == 0x20) | (cps == 0x2D) | (cps == 0x2E) | (cps == 0x28) | (cps == 0x29)
    row_start = np.zeros(n + 1, dtype=bool)
    row_start[scan.row_off[:-1]] = True  # (empty rows mark the next row's start: harmless)
    row_start = row_start[:n]
    row_end = np.zeros(n + 1, dtype=bool)
    row_end[scan.row_off[1:] - 1] = True
    row_end = row_end[:n]
    # next character is a digit or "(" (within the row)
    nxt = np.zeros(n, dtype=bool)
    nxt[:-1] = digit[1:] | (cps[1:] == 0x28)
    nxt &= ~row_end
    cont = digit | (sep & nxt)
    word = _is_word(cps) | digit
    prev_word = np.zeros(n, dtype=bool)
    prev_word[1:] = word[:-1]
    prev_word &= ~row_start
    can_start = digit & ~prev_word
    # runs of cont: id per position
    run_start = cont.copy()
    run_start[1:] &= ~cont[:-1] | row_start[1:]
    run_id = np.cumsum(run_start) - 1
    first = np.flatnonzero(can_start)  # sorted; keep the first per run
    if len(first) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    fr = run_id[first]
    keep = np.ones(len(first), dtype=bool)
    keep[1:] = fr[1:] != fr[:-1]
    first, fr = first[keep], fr[keep]
    dpos = np.flatnonzero(digit & cont)
    dr = run_id[dpos]
    last_of = np.ones(len(dpos), dtype=bool)
    last_of[:-1] = dr[:-1] != dr[1:]
    last_digit = np.full(int(run_id[-1]) + 1 if n else 0, -1, dtype=np.int64)
    last_digit[dr[last_of]] = dpos[last_of]
    end = last_digit[fr]
    ok = end > first
    first, end = first[ok], end[ok] + 1
    # a "+" right before the first digit belongs to the match unless it follows a digit or word character
    plus = np.zeros(len(first), dtype=bool)
    has_prev = (first >= 1) & ~row_start[first]
    cand = np.flatnonzero(has_prev)
    plus[cand] = cps[first[cand] - 1] == 0x2B
    cand = np.flatnonzero(plus)
    before = first[cand] - 2
    blocked = np.zeros(len(cand), dtype=bool)
    inside = (before >= 0) & ~row_start[first[cand] - 1]
    blocked[inside] = word[before[inside]]
    plus[cand[blocked]] = False
    return first - plus, end


def _candidates(scan: _Scan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate spans: (match id, start, end) in characters, in match order.

    A match of :data:`CANDIDATE` with at least :data:`MIN_DIGITS` digits is a candidate as a whole;
    one with spaces also yields every run of up to 6 of its space-separated pieces that has enough
    digits (two numbers written side by side)."""
    ms, me = _matches(scan)
    if not len(ms):
        return np.zeros(0, np.int64), ms, me
    cps = scan.cps
    digit = np.zeros(len(cps), dtype=bool)
    for lo, hi in _DIGIT_RANGES:
        digit |= (cps >= lo) & (cps <= hi)
    dsum = np.concatenate([[0], np.cumsum(digit)])
    ssum = np.concatenate([[0], np.cumsum(cps == 0x20)])
    ndig = dsum[me] - dsum[ms]
    spaced = (ssum[me] - ssum[ms]) > 0
    keep = ndig >= MIN_DIGITS
    if not (keep & spaced).any():  # the common case: every match is one piece
        kept = np.flatnonzero(keep)
        return kept, ms[kept], me[kept]
    mids: list[int] = []
    cs: list[int] = []
    ce: list[int] = []
    for k in np.flatnonzero(keep).tolist():
        start, end = int(ms[k]), int(me[k])
        if not spaced[k]:
            mids.append(k)
            cs.append(start)
            ce.append(end)
            continue
        text = "".join(map(chr, cps[start:end].tolist()))
        pieces = [(mm.start(), mm.end()) for mm in _PIECE.finditer(text)]
        for i in range(len(pieces)):
            for j in range(i, min(len(pieces), i + 6)):
                s, e = pieces[i][0], pieces[j][1]
                if len(_DIGIT.findall(text[s:e])) >= MIN_DIGITS:
                    mids.append(k)
                    cs.append(start + s)
                    ce.append(start + e)
    return np.array(mids, np.int64), np.array(cs, np.int64), np.array(ce, np.int64)


def _choose(scan: _Scan) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Array | None]:
    """The chosen spans, sorted by start: (start, end, detector index, their text).

    Chosen greedily: longer spans first, then by detector priority, then leftmost.  Spans of different
    candidate matches never overlap, so the choice is made per match: vectorised for the (common)
    matches with a single candidate, in Python for the others."""
    mids, cs, ce = _candidates(scan)
    empty = np.zeros(0, np.int64)
    if not len(mids):
        return empty, empty, empty, None
    arr = scan.strings(cs, ce)
    n = len(mids)
    none = len(DETECTORS)
    best = np.full(n, none, dtype=np.int64)  # the first detector (in priority order) that accepts each candidate
    hit_any = np.zeros((none, n), dtype=bool)
    for prio, (_, det) in enumerate(DETECTORS):
        ok = det.valid_mask(arr)
        hit_any[prio] = ok
        best = np.where(ok & (best == none), prio, best)
    multi = np.zeros(n, dtype=bool)  # matches with more than one candidate
    if n > 1:
        same = mids[1:] == mids[:-1]
        multi[1:] |= same
        multi[:-1] |= same
    chosen = np.flatnonzero(~multi & (best < none))
    kinds = best[chosen]
    mi = np.flatnonzero(multi)
    if len(mi):
        hits: list[tuple[int, int, int, int, int]] = []  # (-length, priority, start, end, candidate)
        for prio in range(none):
            for k in mi[hit_any[prio][mi]].tolist():
                s, e = int(cs[k]), int(ce[k])
                hits.append((-(e - s), prio, s, e, k))
        hits.sort()
        taken: dict[int, list[tuple[int, int]]] = {}  # per match: chosen (start, end)
        extra, extra_kind = [], []
        for _, prio, s, e, k in hits:
            spans = taken.setdefault(int(mids[k]), [])
            if any(s < e2 and s2 < e for s2, e2 in spans):
                continue
            spans.append((s, e))
            extra.append(k)
            extra_kind.append(prio)
        chosen = np.concatenate([chosen, np.array(extra, np.int64)])
        kinds = np.concatenate([kinds, np.array(extra_kind, np.int64)])
    order = np.lexsort((ce[chosen], cs[chosen]))
    chosen, kinds = chosen[order], kinds[order]
    return cs[chosen], ce[chosen], kinds, arr.take(pa.array(chosen))


def transform(values: pa.Array, crypto: Crypto, decrypt: bool) -> pa.Array:
    """Replace every PII span of every value by its token (or back); a null comes back as ""."""
    original = values
    values = _text(values)
    scan = _Scan(values)
    starts, ends, kinds, texts = _choose(scan)
    if texts is None or not len(starts):
        return original
    tokens: list[pa.Array | None] = [None] * len(DETECTORS)
    where = np.zeros(len(starts), dtype=np.int64)  # position of each span's token in its type's output
    for k, (_, det) in enumerate(DETECTORS):
        idx = np.flatnonzero(kinds == k)
        if not len(idx):
            continue
        spec = ColumnSpec(column="", type=det.name)
        src = texts.take(pa.array(idx))
        tokens[k] = det.detokenize(src, crypto, spec) if decrypt else det.tokenize(src, crypto, spec)
        where[idx] = np.arange(len(idx))
    bs, be = scan.byte_pos(starts), scan.byte_pos(ends)
    pieces = [t for t in tokens if t is not None]
    offs = [k for k, t in enumerate(tokens) if t is not None]
    cat = pa.concat_arrays(pieces)
    base = np.zeros(len(DETECTORS), dtype=np.int64)
    base[offs] = np.concatenate([[0], np.cumsum([len(p) for p in pieces])[:-1]])
    ordered = cat.take(pa.array(base[kinds] + where))  # tokens in span order
    tok_off = np.frombuffer(ordered.buffers()[1], dtype=np.int32, count=len(ordered) + 1 + ordered.offset)[
        ordered.offset :].astype(np.int64)
    tok_data = group_bytes(ordered)
    tok_off -= tok_off[0]
    if ordered.null_count == 0 and np.array_equal(np.diff(tok_off), be - bs):
        # tokens keep the byte length of what they replace (digits stay digits of their script): write in place
        data = scan.data.copy()
        idx = np.arange(int(tok_off[-1]), dtype=np.int64) - np.repeat(tok_off[:-1] - bs, be - bs)
        data[idx] = tok_data
        return pa.StringArray.from_buffers(len(values), pa.py_buffer(scan.byte_off.astype(np.int32)),
                                           pa.py_buffer(data))
    # otherwise rebuild each value in Python
    rows = np.searchsorted(scan.row_off, starts, "right") - 1
    reps = ordered.to_pylist()
    out = values.to_pylist()
    for r in np.unique(rows).tolist():
        sel = np.flatnonzero(rows == r)
        base_c = int(scan.row_off[r])
        text, parts, pos = out[r], [], 0
        for i in sel.tolist():
            s, e = int(starts[i]) - base_c, int(ends[i]) - base_c
            parts += [text[pos:s], reps[i]]
            pos = e
        parts.append(text[pos:])
        out[r] = "".join(parts)
    return pa.array(out, pa.string())


class FreeText(PIIType):
    name: ClassVar[str] = "free_text"
    description: ClassVar[str] = "Free text (Arabic or English): national IDs and phones inside are tokenized in place"
    domain: ClassVar[str] = "free_text"
    has_invalid: ClassVar[bool] = False
    #: the tokens in text are the column types' own (same subkeys, same domains)
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = tuple(k for _, det in DETECTORS for k in det.subkeys)

    def compact(self, value: str) -> str:
        return value

    def validate(self, value: str) -> str:
        return value

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parse:
        return Parse(np.ones(len(values), dtype=bool))

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        return transform(values, crypto, decrypt)
