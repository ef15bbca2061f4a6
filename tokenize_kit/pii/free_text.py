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

Work is per match, not per row: the column is joined into one string, scanned once by a compiled
regular expression, candidates are validated and tokenized in one vectorised call per type, and the
string is split back.
"""

from __future__ import annotations

import re
from typing import ClassVar

import numpy as np
import pyarrow as pa

from .base import ColumnSpec, Crypto, PIIType
from .eg_national_id import EgNationalId
from .phone import Phone
from .sa_national_id import SaNationalId

_D = "0-9\u0660-\u0669\u06f0-\u06f9"
CANDIDATE = re.compile(rf"(?<![{_D}\w])\+?[{_D}](?:[{_D}]|[ \-.()](?=[{_D}(]))*[{_D}](?![{_D}])")
_DIGIT = re.compile(rf"[{_D}]")
_SEP = "\x00"
MIN_DIGITS = 7


class _PhoneInText(Phone):
    """Phones as written in text: international, national-0 or country-code forms only."""

    def valid_mask(self, values: pa.Array, spec: ColumnSpec | None = None) -> np.ndarray:
        ok = self.parse(values, spec).ok
        digits = [_DIGIT.findall(v) for v in values.to_pylist()]
        prefixed = np.array([bool(d) and (v.lstrip().startswith("+") or d[0] in "0٠۰" or "".join(d).startswith(
            ("20", "966", "٢٠", "٩٦٦", "۲۰", "۹۶۶"))) for v, d in zip(values.to_pylist(), digits, strict=True)], bool)
        return ok & prefixed


DETECTORS: tuple[tuple[str, PIIType], ...] = (
    ("eg_national_id", EgNationalId()),
    ("sa_national_id", SaNationalId()),
    ("phone", _PhoneInText()),
)


def find(values: pa.Array) -> list[tuple[int, int, int, str]]:
    """All PII spans in the column: (row, start, end, type name), positions in characters of the row."""
    texts = values.to_pylist()
    joined = _SEP.join(t or "" for t in texts)
    starts = np.cumsum([0] + [len(t or "") + 1 for t in texts])
    out = []
    for _, s, e, name in _spans(joined, starts):
        row = int(np.searchsorted(starts, s, "right") - 1)
        out.append((row, s - int(starts[row]), e - int(starts[row]), name))
    return out


def _spans(joined: str, starts: np.ndarray) -> list[tuple[int, int, int, str]]:
    """(absolute start, row start-relative start, end, type) of the chosen spans in the joined text."""
    cands: list[tuple[int, int, str]] = []  # (abs start, abs end, text)
    for m in CANDIDATE.finditer(joined):
        text = m.group()
        if len(_DIGIT.findall(text)) < MIN_DIGITS:
            continue
        pieces = [(mm.start(), mm.end()) for mm in re.finditer(r"[^ ]+", text)]
        for i in range(len(pieces)):
            for j in range(i, min(len(pieces), i + 6)):
                s, e = pieces[i][0], pieces[j][1]
                sub = text[s:e]
                if len(_DIGIT.findall(sub)) >= MIN_DIGITS:
                    cands.append((m.start() + s, m.start() + e, sub))
    if not cands:
        return []
    arr = pa.array([c[2] for c in cands], pa.string())
    hits: list[tuple[int, int, int, str]] = []  # (-length, priority, start, end, type)
    for prio, (name, det) in enumerate(DETECTORS):
        ok = det.valid_mask(arr)
        for k in np.flatnonzero(ok):
            s, e, _ = cands[k]
            hits.append((-(e - s), prio, s, e, name))
    hits.sort()
    occupied = np.zeros(len(joined) + 1, dtype=bool)  # chosen spans never overlap
    chosen = []
    for _, _, s, e, name in hits:
        if occupied[s:e].any():
            continue
        occupied[s:e] = True
        chosen.append((s, s, e, name))
    chosen.sort()
    return chosen


def transform(values: pa.Array, crypto: Crypto, decrypt: bool) -> pa.Array:
    """Replace every PII span of every value by its token (or back)."""
    texts = values.to_pylist()
    joined = _SEP.join(t or "" for t in texts)
    spans = _spans(joined, np.zeros(1))
    if not spans:
        return values
    out_parts: list[str] = []
    by_type: dict[str, list[int]] = {}
    for i, (_, _, _, name) in enumerate(spans):
        by_type.setdefault(name, []).append(i)
    replacement = [""] * len(spans)
    types = dict(DETECTORS)
    for name, idxs in by_type.items():
        det = types[name]
        spec = ColumnSpec(column="", type=det.name)
        src = pa.array([joined[spans[i][1] : spans[i][2]] for i in idxs], pa.string())
        res = det.detokenize(src, crypto, spec) if decrypt else det.tokenize(src, crypto, spec)
        for i, r in zip(idxs, res.to_pylist(), strict=True):
            replacement[i] = r
    pos = 0
    for (_, s, e, _), rep in zip(spans, replacement, strict=True):
        out_parts.append(joined[pos:s])
        out_parts.append(rep)
        pos = e
    out_parts.append(joined[pos:])
    result = "".join(out_parts).split(_SEP)
    return pa.array(result, pa.string())


class FreeText(PIIType):
    name: ClassVar[str] = "free_text"
    description: ClassVar[str] = "Free text (Arabic or English): national IDs and phones inside are tokenized in place"
    domain: ClassVar[str] = "free_text"
    has_invalid: ClassVar[bool] = False

    def compact(self, value: str) -> str:
        return value

    def validate(self, value: str) -> str:
        return value

    def valid_mask(self, values: pa.Array, spec: ColumnSpec | None = None) -> np.ndarray:
        return np.ones(len(values), dtype=bool)

    def tokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        return transform(values, crypto, decrypt=False)

    def detokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        return transform(values, crypto, decrypt=True)
