"""E-mail addresses and IBANs inside free text, found for whole columns at once.

E-mail: around every ``@``, the longest run of local-part characters ``[A-Za-z0-9._%+-]`` before it and of
domain characters ``[A-Za-z0-9.-]`` after it (trailing dots and hyphens left out, so a sentence's full stop is
not taken), kept when the whole is a valid address for the ``email`` type.  Arabic letters may touch it on
either side (``الايميلahmed@example.com``).

IBAN: an ``EG`` or ``SA`` country code in any case, not preceded by a Latin letter or a digit, then the country's
number of letters and digits (29 for Egypt, 24 for Saudi Arabia) with at most one space or hyphen between any
two of them (``SA03 8000 0000 6080 1016 7519``, compact, lower case, Arabic-Indic digits), not followed by
another Latin letter or digit, kept when it is a valid IBAN (ISO 7064 check digits, the country's layout).

Tokens of both keep every character class in place (the ``email`` and ``iban`` types), so a token text shows
the same spans again.

>>> import pyarrow as pa
>>> from tokenize_kit.pii.textview import TextView
>>> view = TextView(pa.array(["راسلني ahmed.ali@example.com. الايبان SA03 8000 0000 6080 1016 7519 شكرا"]))
>>> [view.strings(s, e).to_pylist() for s, e in (find_emails(view), find_ibans(view))]
[['ahmed.ali@example.com'], ['SA03 8000 0000 6080 1016 7519']]
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .email import Email
from .iban import Iban
from .textview import DIGIT, TextView, in_set

_EMAIL = Email()
_IBAN = Iban()
_LOCAL = np.zeros(128, dtype=bool)
for _c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-":
    _LOCAL[ord(_c)] = True
_DOMAIN = _LOCAL.copy()
for _c in "_%+":
    _DOMAIN[ord(_c)] = False
_ALNUM = np.zeros(128, dtype=bool)
for _c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
    _ALNUM[ord(_c)] = True
#: IBAN length per country code (upper case)
IBAN_LENGTHS = {"EG": 29, "SA": 24}
_EMPTY = np.zeros(0, dtype=np.int64)


def _ascii_mask(cps: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table`` (128 entries) of ASCII code points, False elsewhere (any shape)."""
    ext = _extended(table.tobytes())
    return np.take(ext, cps, mode="clip")


@cache
def _extended(table: bytes) -> np.ndarray:
    return np.append(np.frombuffer(table, dtype=bool), False)


def _upper(cps: np.ndarray) -> np.ndarray:
    """ASCII letters upper-cased (other code points as they are)."""
    return np.where((cps >= 0x61) & (cps <= 0x7A), cps - 0x20, cps)


def find_emails(view: TextView, blocked: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of the e-mail addresses in the column (see the module docstring).  Only the characters around
    each ``@`` are read (an address lies within its row)."""
    cps = view.cps
    at = np.flatnonzero(cps == 0x40)
    if not len(at):
        return _EMPTY, _EMPTY
    row = view.row[at]
    row_lo, row_hi = view.row_off[row], view.row_off[row + 1]

    def usable(pos: np.ndarray, table: np.ndarray) -> np.ndarray:
        ok = _ascii_mask(cps[pos], table)
        return ok if blocked is None else ok & ~blocked[pos]

    has = (at > row_lo) & (at + 1 < row_hi)
    has[has] = usable(at[has] - 1, _LOCAL) & usable(at[has] + 1, _DOMAIN)
    at, row_lo, row_hi = at[has], row_lo[has], row_hi[has]
    if not len(at):
        return _EMPTY, _EMPTY
    starts = _run_edge(cps, blocked, _LOCAL, at - 1, row_lo, -1)
    ends = _run_edge(cps, blocked, _DOMAIN, at + 1, row_hi, 1) + 1
    # trailing dots and hyphens are punctuation of the sentence, not of the address
    for _ in range(8):
        trail = np.isin(cps[ends - 1], (0x2E, 0x2D)) & (ends - 1 > at)
        if not trail.any():
            break
        ends = ends - trail
    ok = _EMAIL.valid_mask(view.strings(starts, ends))
    return starts[ok], ends[ok]


_WINDOW = 32


def _run_edge(cps: np.ndarray, blocked: np.ndarray | None, table: np.ndarray, pos: np.ndarray, limit: np.ndarray,
              step: int) -> np.ndarray:
    """From each position ``pos`` (whose character is in ``table``, not blocked), the last position of that run of
    such characters going ``step`` (-1: left, down to ``limit``; 1: right, below ``limit``): read in windows of a
    few characters, only around the positions."""
    cur = pos.copy()
    todo = np.arange(len(pos))
    k = np.arange(1, _WINDOW + 1)
    while len(todo):
        base = cur[todo]
        nxt = base[:, None] + step * k[None, :]
        inside = nxt >= limit[todo][:, None] if step < 0 else nxt < limit[todo][:, None]
        nc = np.clip(nxt, 0, len(cps) - 1)
        ok = inside & _ascii_mask(cps[nc], table)
        if blocked is not None:
            ok &= ~blocked[nc]
        run = np.logical_and.accumulate(ok, axis=1).sum(axis=1)
        cur[todo] = base + step * run
        todo = todo[run == _WINDOW]
    return cur


def find_ibans(view: TextView, blocked: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of the Egyptian and Saudi IBANs in the column (see the module docstring)."""
    cps = view.cps
    n = len(cps)
    m = max(n - 3, 0)
    # an E or S followed by a G or A, any case (the pairs EG and SA among them): few places in any text
    # (``| 0x20`` folds exactly E/e to e and S/s to s: the first letters looked at over the text, the second ones
    # only after them)
    low = cps[:m] | 0x20
    e_s = np.flatnonzero((low == 0x65) | (low == 0x73))
    second = cps[e_s + 1] | 0x20
    e_s = e_s[(second == 0x61) | (second == 0x67)]
    if not len(e_s):
        return _EMPTY, _EMPTY
    first, second = _upper(cps[e_s]), _upper(cps[e_s + 1])
    country = np.where((first == 0x45) & (second == 0x47), 0, np.where((first == 0x53) & (second == 0x41), 1, -1))
    cls = view.cls

    def digit(pos: np.ndarray) -> np.ndarray:
        return (cls[pos] & DIGIT) != 0

    def alnum(pos: np.ndarray) -> np.ndarray:
        return _ascii_mask(cps[pos], _ALNUM) | digit(pos)

    ok = (country >= 0) & digit(e_s + 2) & digit(e_s + 3)
    ok &= (view.row[e_s] == view.row[e_s + 3])
    before = np.maximum(e_s - 1, 0)
    ok &= ~((e_s > 0) & ~view.row_start[e_s] & alnum(before))
    if blocked is not None:
        ok &= ~blocked[e_s]
    anchors, country = e_s[ok], country[ok]
    if not len(anchors):
        return _EMPTY, _EMPTY
    need = np.where(country == 0, IBAN_LENGTHS["EG"], IBAN_LENGTHS["SA"])
    width = 2 * int(need.max())
    pos = anchors[:, None] + np.arange(width)[None, :]
    inside = (pos < n)
    pos_c = np.minimum(pos, n - 1)
    inside &= view.row[pos_c] == view.row[anchors][:, None]
    a = alnum(pos_c) & inside
    sep = in_set(cps[pos_c], (0x20, 0x2D, 0xA0)) & inside
    count = np.cumsum(a, axis=1)
    # the position of the need-th character; before it only characters and single separators
    reach = np.argmax(count >= need[:, None], axis=1)
    found = count[np.arange(len(anchors)), reach] >= need
    good = a | sep
    double_sep = sep & np.concatenate([np.zeros((len(anchors), 1), bool), sep[:, :-1]], axis=1)
    bad_before = np.cumsum(~good | double_sep, axis=1)
    found &= bad_before[np.arange(len(anchors)), reach] == 0
    ends = anchors + reach + 1
    after = np.minimum(ends, n - 1)
    found &= ~((ends < n) & (view.row[after] == view.row[anchors]) & alnum(after))
    if blocked is not None and found.any():  # no character of [anchor, end) taken by another kind
        within = np.arange(width)[None, :] <= reach[:, None]
        found &= ~(blocked[pos_c] & within).any(axis=1)
    starts, ends = anchors[found], ends[found]
    if not len(starts):
        return _EMPTY, _EMPTY
    valid = _IBAN.valid_mask(view.strings(starts, ends))
    return starts[valid], ends[valid]


def spans_mask(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Boolean mask of the characters covered by the spans (the covered characters written, not all ``n``)."""
    out = np.zeros(n, dtype=bool)
    lengths = np.maximum(np.asarray(ends, dtype=np.int64) - starts, 0)
    total = int(lengths.sum())
    if total:
        csum = np.cumsum(lengths)
        out[np.repeat(np.asarray(starts, dtype=np.int64) - (csum - lengths), lengths) + np.arange(total)] = True
    return out

