"""National IDs and phone numbers inside free text, found for whole columns at once.

What counts as a number (a *match*): a run of digits of the three scripts (ASCII ``0-9``, Arabic-Indic ``٠-٩``,
Extended Arabic-Indic ``۰-۹``) in which groups may be joined by one or two separator characters (space,
no-break space, ``-``, ``.``, ``(``, ``)``), optionally after a ``+``.  A match may be glued to letters on either
side (``ت01012345678``, ``واتساب0501234567``); a slash, an Arabic comma, a colon or any other character ends it,
so ``01012345678/01123456789`` and ``01012345678،01123456789`` are two matches.

Each match is read from the left: at each digit group the longest run of groups (at most six, 7 to 15 digits)
that is a valid value is taken, and reading goes on after it (``01012345678-01123456789`` is two phones,
``2850 6150 1123 45`` one ID, ``20 1012345678`` one phone with its country code).  A candidate is classified by
its digits alone, in this order:

1. an Egyptian national ID (14 digits: century, real birth date, governorate code);
2. a Saudi national ID or Iqama (10 digits, first 1 or 2, Luhn check digit);
3. an Egyptian or Saudi phone number valid for libphonenumber, written with ``+`` or ``00`` and the country
   code, with the bare country code (``2010...``, ``9665...``), with the national trunk ``0``, or as the bare
   national significant number when libphonenumber calls it a valid *mobile* (``1012345678``, ``501234567``).
   A bare landline number without its ``0`` is not read as a phone: too many ordinary numbers would be.

False positives this accepts, on purpose: a 10-digit number starting with 1 or 2 passes the Luhn check one time
in ten and is then read as a Saudi ID; a bare 10-digit number ``10x``/``11x``/``12x``/``15x`` and a bare 9-digit
``5x`` number are read as mobiles.  Such numbers are tokenized (the token is another number of the same shape),
which costs nothing in privacy and little in utility.  One exception: digits glued to an upper-case Latin code
(``INV2024000123``, ``LN-1012345678``: references) are only read in the strong forms (an Egyptian ID, or a phone
written with ``+``, ``00``, or its trunk ``0``).

Reversibility: a token is the same kind of value and the digits keep their positions and scripts, but two things
could still make the token read differently from the original: its digits alone could classify differently (a
mobile token that happens to pass the Saudi ID check), or a longer run of groups through it could become valid.
:func:`walk_predicate` states both conditions and the tokenizer re-encrypts until they hold (cycle walking), so
what is found in a token text is exactly the tokens of what was found in the original.

>>> view = TextView(pa.array(["ت01012345678 و 1012345678، 2850 6150 1123 45 LN-1012345678"]))
>>> nums = find(view)
>>> [(view.strings(nums.starts[i : i + 1], nums.ends[i : i + 1])[0].as_py(), KINDS[k])
...  for i, k in enumerate(nums.kinds)]
[('01012345678', 'phone'), ('1012345678', 'phone'), ('2850 6150 1123 45', 'eg_national_id')]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .eg_national_id import EgNationalId
from .phone import Phone
from .sa_national_id import SaNationalId
from .textview import DIGIT, DIGIT_BASES, LATIN, UPPER, TextView, gather, in_set

MIN_DIGITS = 7
MAX_DIGITS = 15
MAX_GROUPS = 6
#: characters that join digit groups inside one number
SEPARATORS = (0x20, 0xA0, 0x2D, 0x2E, 0x28, 0x29, 0x202F)
#: kinds, in precedence order
KINDS = ("eg_national_id", "sa_national_id", "phone")
NONE = -1

_EG_ID = EgNationalId()
_SA_ID = SaNationalId()
_PHONE = Phone()
_COUNTRY_CODES = ("20", "966")


def classify(digits: pa.Array, plus: np.ndarray, weak_ok: np.ndarray) -> np.ndarray:
    """Kind index (into :data:`KINDS`) of each candidate, or :data:`NONE`.

    ``digits``: ASCII digits of the candidate (separators removed); ``plus``: written after a ``+``; ``weak_ok``:
    the readings that need no prefix (Saudi ID, bare country code, bare mobile) are allowed."""
    n = len(digits)
    out = np.full(n, NONE, dtype=np.int8)
    if not n:
        return out
    length = pc.binary_length(digits).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero((length == 14) & ~plus)
    if len(rows):
        out[rows[_EG_ID.valid_mask(digits.take(pa.array(rows)))]] = 0
    rows = np.flatnonzero((length == 10) & ~plus & weak_ok & (out == NONE))
    if len(rows):
        out[rows[_SA_ID.valid_mask(digits.take(pa.array(rows)))]] = 1
    rows = np.flatnonzero(out == NONE)
    if len(rows):
        sub = digits.take(pa.array(rows))
        p = plus[rows]
        text = pc.if_else(pa.array(p), pc.binary_join_element_wise("+", sub, ""), sub) if p.any() else sub
        parsed = _PHONE.parse(text)
        ok = parsed.ok.copy()
        if ok.any():
            intl = p | pc.starts_with(sub, "00").to_numpy(zero_copy_only=False)
            national = ~intl & pc.starts_with(sub, "0").to_numpy(zero_copy_only=False)
            bare_nsn = ~intl & ~national & (parsed.nsn_start == 0)
            bare_cc = ~intl & ~national & ~bare_nsn
            ok &= ~(bare_nsn & (parsed.kind != 0))  # a bare national number must be a mobile
            ok &= ~((bare_nsn | bare_cc) & ~weak_ok[rows])
        out[rows[ok]] = 2
    return out


@dataclass
class Numbers:
    """The number matches of a text column, their digit groups, candidates and the chosen spans.

    Digits of all groups are kept, in order, in one ASCII buffer (:attr:`digits`); a candidate is a run of
    groups ``a..b`` of one match and its digits are the buffer range ``g_dstart[a]:g_dend[b]``."""

    view: TextView
    m_start: np.ndarray  # per match: first character (the "+" if any) and end
    m_end: np.ndarray
    m_plus: np.ndarray
    m_weak_ok: np.ndarray
    m_first: np.ndarray  # first group of each match (len matches + 1)
    g_start: np.ndarray  # per group: characters [start, end) and digit buffer range
    g_end: np.ndarray
    g_dstart: np.ndarray
    g_dend: np.ndarray
    digits: np.ndarray  # ASCII digit bytes of every group
    c_match: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # candidates
    c_a: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    c_b: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    c_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    chosen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # candidate index of each span

    @property
    def starts(self) -> np.ndarray:
        """First character of each chosen span (the "+" when the span starts a match written with one)."""
        return self.candidate_start(self.chosen)

    @property
    def ends(self) -> np.ndarray:
        return self.candidate_end(self.chosen)

    @property
    def kinds(self) -> np.ndarray:
        return self.c_kind[self.chosen]

    def candidate_digits(self, cands: np.ndarray, buffer: np.ndarray | None = None) -> pa.Array:
        buf = self.digits if buffer is None else buffer
        return gather(buf, self.g_dstart[self.c_a[cands]], self.g_dend[self.c_b[cands]])

    def candidate_plus(self, cands: np.ndarray) -> np.ndarray:
        m = self.c_match[cands]
        return self.m_plus[m] & (self.c_a[cands] == self.m_first[m])

    def candidate_start(self, cands: np.ndarray) -> np.ndarray:
        """First character of each candidate (its "+" when it has one)."""
        return np.where(self.candidate_plus(cands), self.m_start[self.c_match[cands]], self.g_start[self.c_a[cands]])

    def candidate_end(self, cands: np.ndarray) -> np.ndarray:
        return self.g_end[self.c_b[cands]]


#: the ASCII digit byte of every digit of the three scripts (indexed by code point)
_ASCII_DIGIT = np.zeros(0x6FA, dtype=np.uint8)
for _base in DIGIT_BASES:
    _ASCII_DIGIT[_base : _base + 10] = np.arange(0x30, 0x3A, dtype=np.uint8)


def _matches(view: TextView, blocked: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Matches and their digit groups (see the module docstring)."""
    cls = view.cls
    n = len(cls)
    digit = (cls & DIGIT) != 0
    if blocked is not None:
        digit &= ~blocked
    empty = np.zeros(0, np.int64)
    if not digit.any():
        return empty, empty, np.zeros(0, bool), np.zeros(0, bool), np.zeros(1, np.int64), empty, empty
    cps = view.cps
    # digit groups: maximal runs of digits within a row
    g_first = digit & ~view.prev(digit)
    g_last = digit & ~view.next(digit)
    g_start = np.flatnonzero(g_first)
    g_end = np.flatnonzero(g_last) + 1
    # two consecutive groups of a row belong to one match when only 1-2 separators lie between them
    gap = g_start[1:] - g_end[:-1]
    same_row = view.row[g_start[1:]] == view.row[g_end[:-1] - 1]
    joined = same_row & (gap >= 1) & (gap <= 2)
    if joined.any():
        j = np.flatnonzero(joined)
        ok = in_set(cps[g_end[:-1][j]], SEPARATORS)
        two = gap[j] == 2
        ok[two] &= in_set(cps[g_end[:-1][j][two] + 1], SEPARATORS)
        joined[j] = ok
    new_match = np.ones(len(g_start), dtype=bool)
    new_match[1:] = ~joined
    m_first = np.concatenate([np.flatnonzero(new_match), [len(g_start)]])
    m_start = g_start[m_first[:-1]]
    m_end = g_end[m_first[1:] - 1]
    # a "+" right before the first digit belongs to the match
    before = m_start - 1
    has_before = (m_start > 0) & ~view.row_start[np.minimum(m_start, n - 1)]
    m_plus = np.zeros(len(m_start), dtype=bool)
    m_plus[has_before] = cps[before[has_before]] == 0x2B
    m_start = m_start - m_plus
    # glued to an upper-case Latin code on the left (INV2024..., LN-1012...): a reference, strong forms only
    m_weak_ok = np.ones(len(m_start), dtype=bool)
    at = m_start - 1
    look = (m_start > 0) & ~view.row_start[np.minimum(m_start, n - 1)]
    dash = np.zeros(len(m_start), dtype=bool)
    dash[look] = in_set(cps[at[look]], (0x2D, 0x2F, 0x5F, 0x23))  # - / _ #
    at2 = at - dash
    look2 = look & (at2 >= 0)
    look2[look2] &= ~(dash[look2] & view.row_start[at[look2]])
    code = np.zeros(len(m_start), dtype=bool)
    code[look2] = (cls[at2[look2]] & (LATIN | UPPER)) == (LATIN | UPPER)
    m_weak_ok &= ~code
    # digits of all groups in one buffer
    g_len = g_end - g_start
    g_dend = np.cumsum(g_len)
    g_dstart = g_dend - g_len
    pos = np.repeat(g_start - g_dstart, g_len) + np.arange(int(g_dend[-1]), dtype=np.int64)
    digits = _ASCII_DIGIT[cps[pos]]  # (every position a digit of the three scripts)
    return m_start, m_end, m_plus, m_weak_ok, m_first, g_start, g_end, g_dstart, g_dend, digits


def candidates(view: TextView, blocked: np.ndarray | None = None) -> Numbers:
    """The matches, digit groups and candidates of a text column (not yet classified); characters in ``blocked``
    (spans already taken by another kind) are not digits here."""
    m_start, m_end, m_plus, m_weak_ok, m_first, *groups = _matches(view, blocked)
    if not len(m_start):
        z = np.zeros(0, np.int64)
        return Numbers(view, z, z, np.zeros(0, bool), np.zeros(0, bool), np.zeros(1, np.int64), z, z, z, z,
                       np.zeros(0, np.uint8))
    g_start, g_end, g_dstart, g_dend, digits = groups
    nums = Numbers(view, m_start, m_end, m_plus, m_weak_ok, m_first, g_start, g_end, g_dstart, g_dend, digits)
    # candidates: runs of 1..MAX_GROUPS groups of one match with MIN_DIGITS..MAX_DIGITS digits
    g_match = np.repeat(np.arange(len(m_start)), np.diff(m_first))
    last_group = m_first[1:][g_match] - 1
    cm, ca, cb = [], [], []
    for width in range(MAX_GROUPS):
        a = np.flatnonzero(np.arange(len(g_start)) + width <= last_group)
        b = a + width
        nd = g_dend[b] - g_dstart[a]
        keep = (nd >= MIN_DIGITS) & (nd <= MAX_DIGITS)
        cm.append(g_match[a[keep]])
        ca.append(a[keep])
        cb.append(b[keep])
    c_match, c_a, c_b = np.concatenate(cm), np.concatenate(ca), np.concatenate(cb)
    order = np.lexsort((-c_b, c_a))  # by first group, longest first
    nums.c_match, nums.c_a, nums.c_b = c_match[order], c_a[order], c_b[order]
    return nums


def find(view: TextView, blocked: np.ndarray | None = None) -> Numbers:
    """The ID and phone spans of a text column (see the module docstring)."""
    nums = candidates(view, blocked)
    if not len(nums.c_match):
        nums.c_kind = np.zeros(0, np.int8)
        return nums
    cands = np.arange(len(nums.c_match))
    nums.c_kind = classify(nums.candidate_digits(cands), nums.candidate_plus(cands), nums.m_weak_ok[nums.c_match])
    nums.chosen = _munch(nums)
    return nums


def _munch(nums: Numbers, valid: np.ndarray | None = None) -> np.ndarray:
    """Left to right in each match: at each group the longest valid candidate starting there, then after it.
    ``valid``: the candidate indices that qualify (default: the classified ones), in candidate order."""
    if valid is None:
        valid = np.flatnonzero(nums.c_kind != NONE)
    if not len(valid):
        return np.zeros(0, np.int64)
    a = nums.c_a[valid]
    best = valid[np.concatenate([[True], a[1:] != a[:-1]])]  # candidates are sorted longest first per group
    m = nums.c_match[best]
    new_m = np.concatenate([[True], m[1:] != m[:-1]])
    rank = np.arange(len(best)) - np.maximum.accumulate(np.where(new_m, np.arange(len(best)), 0))
    free = nums.m_first[:-1].copy()
    taken = np.zeros(len(best), dtype=bool)
    for r in range(int(rank.max()) + 1):
        sel = np.flatnonzero(rank == r)
        ok = nums.c_a[best[sel]] >= free[m[sel]]
        taken[sel[ok]] = True
        free[m[sel[ok]]] = nums.c_b[best[sel[ok]]] + 1
    return best[taken]


def blockers(nums: Numbers) -> tuple[np.ndarray, np.ndarray]:
    """For each chosen span, the candidates that would be taken instead if they became valid: those starting in
    the groups between the previous span and this one that reach into it, and the longer ones starting where it
    starts.  Returned as (span index, candidate index) pairs."""
    c = nums.chosen
    if not len(c):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    m = nums.c_match[c]
    a, b = nums.c_a[c], nums.c_b[c]
    prev_b = np.full(len(c), -1, dtype=np.int64)
    same = np.zeros(len(c), dtype=bool)
    same[1:] = m[1:] == m[:-1]
    prev_b[1:] = np.where(same[1:], b[:-1], -1)
    free = np.where(prev_b >= 0, prev_b + 1, nums.m_first[m])
    # candidates of the same match: they are sorted by first group; a window per span
    lo = np.searchsorted(nums.c_a, free, "left")
    hi = np.searchsorted(nums.c_a, a, "right")
    counts = hi - lo
    span = np.repeat(np.arange(len(c)), counts)
    cand = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    ca, cb = nums.c_a[cand], nums.c_b[cand]
    keep = ((ca < a[span]) & (cb >= a[span])) | ((ca == a[span]) & (cb > b[span]))
    return span[keep], cand[keep]


def walk_predicate(nums: Numbers, spans: np.ndarray, values: pa.Array, buffer: np.ndarray,
                   pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Whether each span in ``spans`` (indices into the chosen spans), given the new ASCII digits ``values``,
    would be read exactly as before: same kind, and no blocking candidate valid.  Every other digit is taken from
    ``buffer`` (the digits as they will stand in the output around the span)."""
    c = nums.chosen[spans]
    kind = classify(values, nums.candidate_plus(c), nums.m_weak_ok[nums.c_match[c]])
    ok = kind == nums.c_kind[c]
    b_span, b_cand = pairs
    if not len(b_span):
        return ok
    where = np.full(len(nums.chosen), -1, dtype=np.int64)
    where[spans] = np.arange(len(spans))
    sel = np.flatnonzero(where[b_span] >= 0)
    if not len(sel):
        return ok
    bs, bc = where[b_span[sel]], b_cand[sel]
    # each blocker's digits with this span's new digits in place: before + new + after
    s_lo, s_hi = nums.g_dstart[nums.c_a[c[bs]]], nums.g_dend[nums.c_b[c[bs]]]
    c_lo, c_hi = nums.g_dstart[nums.c_a[bc]], nums.g_dend[nums.c_b[bc]]
    lo, hi = np.maximum(c_lo, s_lo), np.minimum(c_hi, s_hi)  # the part of the span inside the blocker
    left = gather(buffer, c_lo, lo)
    right = gather(buffer, hi, c_hi)
    v_off = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1 + values.offset)[values.offset:]
    v_data = np.frombuffer(values.buffers()[2], dtype=np.uint8) if values.buffers()[2] is not None else np.zeros(
        0, np.uint8)
    start = v_off[bs].astype(np.int64) + (lo - s_lo)
    mid = gather(v_data, start, start + (hi - lo))
    text = pc.binary_join_element_wise(left, mid, right, "")
    kinds = classify(text, nums.candidate_plus(bc), nums.m_weak_ok[nums.c_match[bc]])
    bad = np.zeros(len(spans), dtype=bool)
    np.logical_or.at(bad, bs, kinds != NONE)
    return ok & ~bad


def span_digits(nums: Numbers, spans: np.ndarray, buffer: np.ndarray | None = None) -> pa.Array:
    return nums.candidate_digits(nums.chosen[spans], buffer)


def write_digits(nums: Numbers, buffer: np.ndarray, spans: np.ndarray, values: pa.Array) -> None:
    """Write the ASCII digits ``values`` of the given spans into ``buffer`` (in place)."""
    if not len(spans):
        return
    c = nums.chosen[spans]
    lo = nums.g_dstart[nums.c_a[c]]
    if values.buffers()[2] is None:  # no bytes at all: nothing to write
        return
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    off = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1 + values.offset)[values.offset :]
    off = off.astype(np.int64)
    lengths = np.diff(off)
    idx = np.repeat(lo - off[:-1], lengths) + np.arange(int(off[0]), int(off[-1]))
    buffer[idx] = data[int(off[0]) : int(off[-1])]
