"""PII inside free text: IDs, phones, IBANs, e-mails, names and addresses in Arabic or English notes.

Each kind is found by its own module, for whole columns at once (no regular expression per value):

* :mod:`~tokenize_kit.pii.find_numbers`: Egyptian and Saudi national IDs and phone numbers in every typed form
  (any digit script, grouped, with or without the trunk ``0`` or the country code, glued to words);
* :mod:`~tokenize_kit.pii.find_codes`: e-mail addresses and Egyptian / Saudi IBANs;
* :mod:`~tokenize_kit.pii.find_words`: person names (after cue words, or two name-dictionary words in a row) and
  addresses (after cue words, or around structure words such as ``شارع`` or ``street``).

A span is replaced by exactly the token its column type gives (same subkey domain and tweak), so a phone in
the notes joins to the phone column.  **Row-aware text**: when the table also holds the row's own policy
columns (its phone, ID, name ...), their values are looked for first in the row's text, whatever their
written form, and get the column's own token.

Precedence, first come first served: the row's own values, e-mails, IBANs, numbers, addresses, names.  What one
kind has taken is invisible to the next, and every token keeps the character classes and layout of what it
replaces, so detokenization finds the same spans again; where a token could still read differently (see
:func:`~tokenize_kit.pii.find_numbers.walk_predicate`) the tokenizer re-encrypts until it reads the same
(cycle walking), and the rare span that cannot be made to read the same is masked with ``#`` and counted as
irreversible rather than left raw.

The policy options of a ``free_text`` column: ``find`` (the kinds to look for, default all of
:data:`FIND_KINDS`) and ``cues`` (extra cue words for names and addresses).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.utf8 import encode_codepoints

from . import find_numbers as fn
from . import find_words as fw
from . import name_lexicon as nl
from .address import EgAddress, SaAddress, kept_both
from .base import ColumnSpec, Crypto, Parse, PIIType
from .email import Email
from .find_codes import find_emails, find_ibans, spans_mask
from .iban import Iban, render
from .iban import _compact_array as iban_compact
from .person_name import PersonName, generic_tokenizer
from .phone import PhoneType
from .text import digits_only, render_digits
from .textview import TextView, gather, in_set, in_sorted, plain_strings

#: the kinds a ``free_text`` column's ``find:`` option may list
FIND_KINDS = ("national_id", "phone", "iban", "email", "name", "address")
#: the kinds of spans, as reported (the names of the PII types whose tokens they get)
SPAN_KINDS = ("eg_national_id", "sa_national_id", "phone", "iban", "email", "person_name", "eg_address",
              "sa_address")
K_EG_ID, K_SA_ID, K_PHONE, K_IBAN, K_EMAIL, K_NAME, K_EG_ADDRESS, K_SA_ADDRESS = range(len(SPAN_KINDS))
_DIGIT_TYPES = {"eg_national_id": K_EG_ID, "sa_national_id": K_SA_ID, "phone": K_PHONE, "eg_phone": K_PHONE,
                "sa_phone": K_PHONE}
_PHONE_TYPES = ("phone", "eg_phone", "sa_phone")
MAX_WALKS = 1000
MASK = "#"

_EMAIL = Email()
_IBAN = Iban()
_EG_ADDRESS = EgAddress()
_SA_ADDRESS = SaAddress()
_Z = np.zeros(0, dtype=np.int64)


@dataclass
class RowColumn:
    """A policy column of the same rows, for row-aware text: its values as they come into this pass (``before``:
    raw values when tokenizing, tokens when detokenizing) and as they leave it (``after``)."""

    spec: ColumnSpec
    before: pa.Array
    after: pa.Array
    #: the values split into words ("before", "after"), made by the first pass that needs them
    words: dict[str, ValueWords] = field(default_factory=dict, repr=False, compare=False)
    #: the values' digit forms ("before", "after"; see :func:`_phone_forms`), made by the first pass that needs them
    forms: dict[str, tuple[pa.Array, np.ndarray, pa.Array]] = field(default_factory=dict, repr=False, compare=False)

    def swapped(self) -> RowColumn:
        """The column as the read-back pass sees it: the tokens come in, the values go out (the words and forms
        made for this pass are its words and forms too)."""
        w, f = self.words, self.forms
        other = (("before", "after"), ("after", "before"))
        return RowColumn(self.spec, self.after, self.before, {k: w[o] for k, o in other if o in w},
                         {k: f[o] for k, o in other if o in f})

    def take(self, rows: np.ndarray) -> RowColumn:
        """These rows alone (``rows`` sorted and distinct), with their words and forms."""
        at = pa.array(rows)
        return RowColumn(self.spec, self.before.take(at), self.after.take(at),
                         {k: w.take(rows) for k, w in self.words.items()},
                         {k: (core.take(at), ok[rows], cc.take(at)) for k, (core, ok, cc) in self.forms.items()})

    def phone_forms(self, side: str, values: pa.Array) -> tuple[pa.Array, np.ndarray, pa.Array]:
        """:func:`_phone_forms` of ``values`` (this column's ``side``, trimmed), made once."""
        if side not in self.forms:
            other = "after" if side == "before" else "before"
            if self.before is self.after and other in self.forms:  # (the gate: the raw values on both sides)
                self.forms[side] = self.forms[other]
            else:
                self.forms[side] = _phone_forms(self, values)
        return self.forms[side]

    def value_words(self, side: str, values: pa.Array) -> ValueWords:
        """The words of ``values`` (this column's ``side``, trimmed), made once."""
        if side not in self.words:
            other = "after" if side == "before" else "before"
            if self.before is self.after and other in self.words:  # (the gate: the raw values on both sides)
                self.words[side] = self.words[other]
            else:
                self.words[side] = ValueWords.of(values, self.spec.type == "person_name")
        return self.words[side]


class ValueWords:
    """A row-aware column's values split into the words its text is compared with: each word's row and text,
    and its comparison key once asked for.  Both passes of a piece use them: the read-back pass compares the
    token text with the same two arrays, swapped."""

    def __init__(self, row: np.ndarray, text: pa.Array, is_name: bool, coarse: np.ndarray) -> None:
        #: each word's row, text and coarse hash (:meth:`TextView.coarse_hashes`, for the first look of
        #: :func:`_own_words`)
        self.row, self.text, self.is_name, self.coarse = row, text, is_name, coarse

    @classmethod
    def of(cls, values: pa.Array, is_name: bool) -> ValueWords:
        view = TextView(values)
        if is_name:
            s, e = nl.name_parts(view)
        else:
            s, e = fw.word_spans(view, np.zeros(len(view), dtype=bool))
        return cls(view.row[s], view.strings(s, e), is_name, view.coarse_hashes(s, e))

    @functools.cached_property
    def key(self) -> pa.Array:
        """Comparison keys (see :func:`_word_keys`)."""
        return _word_keys(self.text, self.is_name, exact=not self.is_name)

    def take(self, rows: np.ndarray) -> ValueWords:
        """The words of these rows (sorted and distinct), numbered as their place in ``rows``."""
        at = np.searchsorted(rows, self.row).clip(0, max(len(rows) - 1, 0))
        keep = rows[at] == self.row if len(rows) else np.zeros(len(self.row), dtype=bool)
        out = ValueWords(at[keep], self.text.filter(pa.array(keep)), self.is_name, self.coarse[keep])
        if "key" in self.__dict__:
            out.key = self.key.filter(pa.array(keep))
        return out


@dataclass
class Found:
    """Spans of one kind group: positions in the column's :class:`TextView` and kind (index into
    :data:`SPAN_KINDS`); ``text`` holds their replacement when it is already known (row-aware spans), for the
    pieces ``pieces`` (start, end) when only some of a span's words are replaced (names, addresses)."""

    starts: np.ndarray
    ends: np.ndarray
    kinds: np.ndarray
    text: pa.Array | None = None
    pieces: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class Detection:
    """Everything found in one column."""

    view: TextView
    own: list[Found] = field(default_factory=list)  # row-aware spans with their new text
    emails: Found | None = None
    ibans: Found | None = None
    numbers: fn.Numbers | None = None
    addresses: fw.AddressSpans | None = None
    names: fw.NameSpans | None = None
    taken: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def all_spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, end, kind) of every span, sorted by start."""
        parts = list(self.own)
        parts += [f for f in (self.emails, self.ibans) if f is not None]
        if self.numbers is not None and len(self.numbers.chosen):
            parts.append(Found(self.numbers.starts, self.numbers.ends, self.numbers.kinds.astype(np.int8)))
        if self.addresses is not None and len(self.addresses.starts):
            a = self.addresses
            parts.append(Found(a.starts, a.ends, np.where(a.country == 1, K_SA_ADDRESS, K_EG_ADDRESS).astype(np.int8)))
        if self.names is not None and len(self.names.starts):
            parts.append(Found(self.names.starts, self.names.ends, np.full(len(self.names.starts), K_NAME, np.int8)))
        if not parts:
            return _Z, _Z, np.zeros(0, np.int8)
        s = np.concatenate([p.starts for p in parts])
        e = np.concatenate([p.ends for p in parts])
        k = np.concatenate([p.kinds for p in parts])
        order = np.argsort(s, kind="stable")
        return s[order], e[order], k[order]


def options(spec: ColumnSpec | None) -> tuple[frozenset[str], tuple[str, ...]]:
    """(kinds to find, extra cue words) of a ``free_text`` column, checked: ``find`` a list of
    :data:`FIND_KINDS`, ``cues`` a list of single words."""
    opts = dict(spec.options) if spec is not None else {}
    kinds = opts.get("find", FIND_KINDS)
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list | tuple) or not all(isinstance(k, str) for k in kinds):
        raise ValueError(f"find: a list of kinds among {', '.join(FIND_KINDS)}")
    unknown = sorted(set(kinds) - set(FIND_KINDS))
    if unknown:
        raise ValueError(f"find: unknown kind(s) {unknown}; valid: {', '.join(FIND_KINDS)}")
    cues = opts.get("cues", ())
    if isinstance(cues, str):
        cues = [cues]
    if not isinstance(cues, list | tuple) or not all(isinstance(c, str) and c.strip() and " " not in c.strip()
                                                     for c in cues):
        raise ValueError("cues: a list of single words (e.g. [المشترك, subscriber])")
    return frozenset(kinds), tuple(c.strip() for c in cues)


def _cue_set(spec: ColumnSpec | None) -> frozenset[str]:
    """The column's extra cue words, folded."""
    return frozenset(nl.fold(c) for c in options(spec)[1])


def detect(values: pa.Array, spec: ColumnSpec | None = None, context: Sequence[RowColumn] = ()) -> Detection:
    """Find every span of the kinds the spec asks for (all by default), the rows' own values first."""
    kinds, _ = options(spec)
    view = TextView(values)
    det = Detection(view, taken=np.zeros(len(view), dtype=bool))
    if not len(view):
        return det
    for col in context:
        found = _own_codes(view, col, det.taken)
        if found is not None:
            det.own.append(found)
            det.taken |= spans_mask(len(view), found.starts, found.ends)
    digit_cols = [c for c in context if c.spec.type in _DIGIT_TYPES]
    if digit_cols:
        for found in _own_numbers(view, digit_cols, det.taken):
            det.own.append(found)
            det.taken |= spans_mask(len(view), found.starts, found.ends)
    parts = _NameParts(view)
    for col in context:
        if col.spec.type in ("person_name", "eg_address", "sa_address"):
            found = _own_words(view, col, det.taken, parts)
            if found is not None:
                det.own.append(found)
                det.taken |= spans_mask(len(view), found.starts, found.ends)
    if "email" in kinds:
        s, e = find_emails(view, det.taken)
        det.emails = Found(s, e, np.full(len(s), K_EMAIL, np.int8))
        det.taken |= spans_mask(len(view), s, e)
    if "iban" in kinds:
        s, e = find_ibans(view, det.taken)
        det.ibans = Found(s, e, np.full(len(s), K_IBAN, np.int8))
        det.taken |= spans_mask(len(view), s, e)
    if kinds & {"national_id", "phone"}:
        nums = fn.find(view, det.taken)
        wanted = np.array(["national_id" in kinds, "national_id" in kinds, "phone" in kinds])
        if len(nums.chosen) and not wanted.all():
            nums.chosen = nums.chosen[wanted[nums.c_kind[nums.chosen]]]
        det.numbers = nums
        if len(nums.chosen):
            det.taken |= spans_mask(len(view), nums.starts, nums.ends)
    cue_set = _cue_set(spec)
    w = None
    if "address" in kinds:
        w = fw.words(view, det.taken)
        det.addresses = fw.find_addresses(view, det.taken, w)
        det.taken |= spans_mask(len(view), det.addresses.starts, det.addresses.ends)
    if "name" in kinds:
        # the same words, less the addresses (with extra cue words their roles differ: found again)
        w = w.without(det.addresses.starts, det.addresses.ends) if w is not None and det.addresses is not None and (
            not cue_set) else None
        own_names = [f for f in det.own if len(f.kinds) and f.kinds[0] == K_NAME]
        beside = spans_mask(len(view), np.concatenate([f.starts for f in own_names]),
                            np.concatenate([f.ends for f in own_names])) if own_names else None
        det.names = fw.find_names(view, det.taken, cue_set, w, beside=beside)
        det.taken |= spans_mask(len(view), det.names.starts, det.names.ends)
    return det


# -- row-aware: the row's own column values in its text ---------------------------------------------------------
def _usable(col: RowColumn) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """The column's before/after values as plain strings and which rows can be linked (fpe, both present)."""
    before, after = plain_strings(col.before), plain_strings(col.after)
    ok = (pc.is_valid(col.before).to_numpy(zero_copy_only=False) & pc.is_valid(col.after).to_numpy(zero_copy_only=False)
          & (pc.binary_length(pc.utf8_trim_whitespace(before)).to_numpy(zero_copy_only=False) > 0))
    return pc.utf8_trim_whitespace(before), pc.utf8_trim_whitespace(after), ok


def _own_codes(view: TextView, col: RowColumn, taken: np.ndarray) -> Found | None:
    """The rows' own e-mail or IBAN values in their text: e-mails as written exactly, IBANs in any layout and
    case; the replacement is the column's new value (an IBAN in the text's own layout)."""
    if col.spec.type == "email":
        s, e = find_emails(view, taken)
        kind = K_EMAIL
    elif col.spec.type == "iban":
        s, e = find_ibans(view, taken)
        kind = K_IBAN
    else:
        return None
    if not len(s):
        return None
    before, after, ok = _usable(col)
    rows = view.row[s]
    text = view.strings(s, e)
    if kind == K_EMAIL:
        hit = pc.fill_null(pc.equal(text, before.take(pa.array(rows))), False).to_numpy(zero_copy_only=False)
    else:
        hit = pc.fill_null(pc.equal(iban_compact(text), iban_compact(before.take(pa.array(rows)))),
                           False).to_numpy(zero_copy_only=False)
    hit &= ok[rows]
    if not hit.any():
        return None
    idx = np.flatnonzero(hit)
    new = after.take(pa.array(rows[idx]))
    if kind == K_IBAN:
        sub = text.take(pa.array(idx))
        new = render(sub, iban_compact(sub), iban_compact(new))
    return Found(s[idx], e[idx], np.full(len(idx), kind, np.int8), new)


def _phone_forms(col: RowColumn, values: pa.Array) -> tuple[pa.Array, np.ndarray, pa.Array]:
    """Core digits of each value (a phone's national significant number; all digits of anything else), whether
    it is a valid phone, and its country code ("" if not)."""
    from . import registry

    digits = digits_only(values)
    if col.spec.type not in _PHONE_TYPES:
        return digits, np.zeros(len(values), dtype=bool), pa.array([""] * len(values), pa.string())
    pii = registry.get(col.spec.type)
    assert isinstance(pii, PhoneType)
    parsed = pii.parse(values, col.spec)
    ok = parsed.ok
    core = pc.if_else(pa.array(ok), pc.fill_null(parsed.nsn, ""), digits)
    regions = pii._regions(col.spec)
    codes = np.array([str(r.country_code) for r in regions] + [""], dtype=object)
    cc = pa.array(codes[np.where(ok, parsed.region, len(regions))].tolist(), pa.string())
    return core, ok, cc


def _own_numbers(view: TextView, cols: Sequence[RowColumn], taken: np.ndarray) -> list[Found]:
    """The rows' own ID and phone values in their text, in any digit script, grouping or prefix form; the
    replacement keeps the text's layout and writes the column's new digits (for a phone: its new national
    significant number after whatever prefix the text used)."""
    nums = fn.candidates(view, taken)
    if not len(nums.c_match):
        return []
    out = []
    claimed: list[tuple[np.ndarray, np.ndarray]] = []  # (the spans earlier columns took)
    cand = np.arange(len(nums.c_match))
    c_row = view.row[nums.g_start[nums.c_a]]
    c_len = nums.g_dend[nums.c_b] - nums.g_dstart[nums.c_a]
    c_plus = nums.candidate_plus(cand)
    c_digits = nums.candidate_digits(cand)
    for col in cols:
        before, after, usable = _usable(col)
        core_b, is_phone, cc = col.phone_forms("before", before)
        core_a, _, _ = col.phone_forms("after", after)
        usable = usable & (pc.binary_length(core_b).to_numpy(zero_copy_only=False) >= fn.MIN_DIGITS)
        usable &= pc.fill_null(pc.equal(pc.binary_length(core_b), pc.binary_length(core_a)),
                               False).to_numpy(zero_copy_only=False)
        core_len = pc.binary_length(core_b).to_numpy(zero_copy_only=False).astype(np.int64)[c_row]
        prefix_len = c_len - core_len
        fits = usable[c_row] & (prefix_len >= 0)
        lo = nums.g_dstart[nums.c_a] + np.maximum(prefix_len, 0)
        tail = gather(nums.digits, np.where(fits, lo, nums.g_dstart[nums.c_b]),
                      np.where(fits, nums.g_dend[nums.c_b], nums.g_dstart[nums.c_b]))
        same_tail = fits & pc.fill_null(pc.equal(tail, core_b.take(pa.array(c_row))),
                                        False).to_numpy(zero_copy_only=False)
        exact = same_tail & (prefix_len == 0) & ~c_plus
        prefix = gather(nums.digits, nums.g_dstart[nums.c_a], np.where(fits, lo, nums.g_dstart[nums.c_a]))
        row_cc = cc.take(pa.array(c_row))
        form = (pc.fill_null(pc.equal(prefix, "0"), False).to_numpy(zero_copy_only=False) & ~c_plus) | (
            pc.fill_null(pc.equal(prefix, row_cc), False).to_numpy(zero_copy_only=False)) | (
            pc.fill_null(pc.equal(prefix, pc.binary_join_element_wise("00", row_cc, "")),
                         False).to_numpy(zero_copy_only=False) & ~c_plus) | ((prefix_len == 0) & ~c_plus)
        hit = exact | (same_tail & is_phone[c_row] & form)
        if claimed:
            hit &= ~_overlaps(claimed, nums.candidate_start(cand), nums.candidate_end(cand))
        chosen = fn._munch(nums, np.flatnonzero(hit))
        if not len(chosen):
            continue
        s, e = nums.candidate_start(chosen), nums.candidate_end(chosen)
        claimed.append((s, e))
        rows = c_row[chosen]
        new_digits = pc.binary_join_element_wise(
            gather(nums.digits, nums.g_dstart[nums.c_a[chosen]], lo[chosen]), core_a.take(pa.array(rows)), "")
        span_text = view.strings(s, e)
        new = render_digits(span_text, c_digits.take(pa.array(chosen)), new_digits)
        kind = _DIGIT_TYPES[col.spec.type]
        out.append(Found(s, e, np.full(len(s), kind, np.int8), new))
    return out


#: punctuation that ends a name written in text: , ، ; ؛ . : ! ? ؟ ( ) " and line breaks
_NAME_END_PUNCT = (0x2C, 0x60C, 0x3B, 0x61B, 0x2E, 0x3A, 0x21, 0x3F, 0x61F, 0x28, 0x29, 0x22, 0x0A, 0x0D)


class _NameParts:
    """The text's name parts outside what is taken, for each name column of one detection in turn: the columns
    before take whole parts (a row's own name), so the next column's parts are the earlier ones less those,
    without splitting the text again; anything else taken since makes them afresh."""

    def __init__(self, view: TextView) -> None:
        self.view = view
        # a name part of the text ends at punctuation glued to it ("وجيه،"), as the value's parts are words
        self.punct = in_set(view.cps, _NAME_END_PUNCT)
        self.made: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def outside(self, taken: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        view = self.view
        blocked = taken | self.punct
        if self.made is not None:
            was, ts, te = self.made
            if not (was & ~blocked).any():
                new = np.concatenate([[0], np.cumsum(blocked & ~was)])
                inside = new[te] - new[ts]
                if ((inside == 0) | (inside == te - ts)).all():
                    keep = inside == 0
                    self.made = blocked, ts[keep], te[keep]
                    return self.made[1], self.made[2]
        ts, te = nl.name_parts(view, blocked)
        self.made = blocked, ts, te
        return ts, te


def _own_words(view: TextView, col: RowColumn, taken: np.ndarray, parts: _NameParts) -> Found | None:
    """The rows' own names or addresses in their text: runs of the text's words that are consecutive words of the
    row's column value (two or more, or the whole value), compared after folding letter variants, diacritics,
    tatweel and case where the token can carry the text's spelling (lexicon name parts, kept place and structure
    words) and exactly elsewhere.  Each matching word gets the column token's word at the same position, written
    the text's way, so the text joins to the column and comes back exactly."""
    is_name = col.spec.type == "person_name"
    before, after, usable = _usable(col)
    if is_name:
        ts, te = parts.outside(taken)
    else:
        ts, te = fw.word_spans(view, taken)
    if not len(ts):
        return None
    bw = col.value_words("before", before)
    if not len(bw.row):
        return None
    # a first look: the rows where enough text words can equal words of the row's value (coarse hashes meet);
    # every run kept below lies in such a row, and rows are independent, so the other rows' words are left out
    # before the comparison keys are made (a note rarely quotes a column that is not a name)
    meet = meeting_rows(view.row[ts], view.coarse_hashes(ts, te), bw.row, bw.coarse, len(before),
                        2 if is_name else 3)
    if not meet.all():
        if not meet.any():
            return None
        ts, te = ts[meet], te[meet]
    aw = col.value_words("after", after)
    b_row, a_row, t_row = bw.row, aw.row, view.row[ts]
    if len(b_row) != len(a_row) or not np.array_equal(b_row, a_row):
        # a value whose token splits differently (it cannot, for these types): link only rows that agree
        nb = np.bincount(b_row, minlength=len(before))
        na = np.bincount(a_row, minlength=len(after))
        usable = usable & (nb == na)
    b_text, a_text, t_text = bw.text, aw.text, view.strings(ts, te)
    # compare: folded keys (exact text for words a token cannot carry), prefixed by the row
    b_key = bw.key
    t_key = _word_keys(t_text, is_name, exact=not is_name)
    b_first = np.concatenate([[True], b_row[1:] != b_row[:-1]])
    b_pos = np.arange(len(b_row)) - np.maximum.accumulate(np.where(b_first, np.arange(len(b_row)), 0))
    ok_b = usable[b_row]
    # each word's key as a number (one dictionary for both sides), with its row: the text word's place in
    # its row's value is the first value word of the same row and key
    codes = pc.dictionary_encode(pa.concat_arrays([b_key.cast(pa.string()), t_key.cast(pa.string())])).indices
    codes_np = codes.to_numpy(zero_copy_only=False).astype(np.int64)
    bc, tc = codes_np[: len(b_row)], codes_np[len(b_row):]
    n_codes = int(codes_np.max()) + 1
    col_index = np.flatnonzero(ok_b)
    if not len(col_index):
        return None
    col_num = b_row[col_index] * n_codes + bc[col_index]
    order = np.argsort(col_num, kind="stable")
    col_sorted = col_num[order]
    txt_num = t_row * n_codes + tc
    at = np.searchsorted(col_sorted, txt_num).clip(0, len(col_sorted) - 1)
    found = col_sorted[at] == txt_num
    if not found.any():
        return None
    p = np.full(len(ts), -1, dtype=np.int64)
    p[found] = col_index[order[at[found]]]
    # runs: the next text word is the next word of the same value, with only spaces (names) or an address's
    # joiners (addresses) between them
    gap_ok = np.zeros(len(ts), dtype=bool)
    if len(ts) > 1:
        between = view.strings(te[:-1], ts[1:])
        allowed = r"^\s+$" if is_name else r"^[\s,،\-/–:.]+$"
        gap_ok[1:] = (pc.match_substring_regex(between, allowed).to_numpy(zero_copy_only=False)
                      & (t_row[1:] == t_row[:-1]))
        p = _follow_runs(p, gap_ok, bc, tc, b_row, ok_b)
    value_len_all = np.bincount(b_row, minlength=len(before))
    found = found.copy()
    for _ in range(8):  # drop the words whose spelling the token cannot carry, and look at the runs again
        link = np.zeros(len(ts), dtype=bool)
        link[1:] = found[1:] & found[:-1] & gap_ok[1:] & (p[1:] == p[:-1] + 1)
        first, last = fw._runs(found, link)
        length = last - first + 1
        value_len = value_len_all[t_row[first]]
        whole = (length == value_len) & (b_pos[p[first]] == 0)
        keep = (length >= (2 if is_name else 3)) | (whole & (length >= 1))
        first, last = first[keep], last[keep]
        if not len(first):
            return None
        member = np.zeros(len(ts) + 1, dtype=np.int64)
        np.add.at(member, first, 1)
        np.add.at(member, last + 1, -1)
        words_in = np.flatnonzero(np.cumsum(member[:-1]) > 0)
        new, fits = _own_word_text(t_text.take(pa.array(words_in)), b_text.take(pa.array(p[words_in])),
                                   a_text.take(pa.array(p[words_in])), is_name)
        if is_name and not fits.all():
            # a word outside the lexicon whose spelling the column token cannot carry (امام for the value's إمام):
            # no finder would take it, so it is masked here (the row then fails the read-back check and all its
            # spans are masked and counted, never left raw)
            words_t = t_text.take(pa.array(words_in)).to_pylist()
            lone = np.array([not f and nl.parse(w) is None for w, f in zip(words_t, fits, strict=True)], dtype=bool)
            if lone.any():
                new = pc.if_else(pa.array(lone), pa.array([MASK * len(w) for w in words_t], pa.string()), new)
                fits = fits | lone
        if fits.all():
            break
        # such a word is left to the generic finders (a name part beside this span is a name there too)
        found[words_in[~fits]] = False
    else:
        return None
    changed = pc.not_equal(new, t_text.take(pa.array(words_in))).to_numpy(zero_copy_only=False)
    kind = K_NAME if is_name else (K_SA_ADDRESS if col.spec.type == "sa_address" else K_EG_ADDRESS)
    return Found(ts[first], te[last], np.full(len(first), kind, np.int8), new.filter(pa.array(changed)),
                 (ts[words_in[changed]], te[words_in[changed]]))


#: mixes a word's row into its coarse hash
_ROW_MIX = np.uint64(0x9E3779B97F4A7C15)


def row_keys(hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One number per (coarse hash, row): equal when both are equal."""
    return hashes.astype(np.uint64) * _ROW_MIX + rows.astype(np.uint64)


def meeting_rows(t_row: np.ndarray, t_hash: np.ndarray, b_row: np.ndarray, b_hash: np.ndarray, rows: int,
                 least: int) -> np.ndarray:
    """Per text word, whether its row has at least ``least`` text words (or as many as the row's value has words,
    when fewer) whose coarse hash is one of the row's value words' hashes: a run of the row's own value is kept
    only in such a row (:func:`_own_words`).  Hashes from :meth:`TextView.coarse_hashes`."""
    hit = in_sorted(np.sort(row_keys(b_hash, b_row)), row_keys(t_hash, t_row))
    count = np.bincount(t_row[hit], minlength=rows)
    value_len = np.bincount(b_row, minlength=rows)
    return ((count >= np.minimum(least, value_len)) & (value_len > 0))[t_row]


def _follow_runs(p: np.ndarray, gap_ok: np.ndarray, bc: np.ndarray, tc: np.ndarray, b_row: np.ndarray,
                 ok_b: np.ndarray) -> np.ndarray:
    """Positions of text words in their row's value, following runs: a word that equals the value's word right
    after the previous text word's position takes that position, not the first equal word of the value (a
    repeated part, ``محمد محمد وجيه``, or a token's repeated word would otherwise break the run).  ``bc`` and
    ``tc``: the value words' and text words' keys as numbers of one dictionary."""
    nb = len(bc)
    p = p.copy()
    for _ in range(64):  # a run advances one word per step; values have few words
        prev = p[:-1]
        nxt = prev + 1
        inside = (prev >= 0) & (nxt < nb) & gap_ok[1:]
        nxt_c = np.minimum(nxt, nb - 1)
        cand = inside & (b_row[nxt_c] == b_row[np.maximum(prev, 0)]) & ok_b[nxt_c] & (bc[nxt_c] == tc[1:])
        new = np.where(cand, nxt, p[1:])
        if np.array_equal(new, p[1:]):
            break
        p[1:] = new
    return p


def _word_keys(words: pa.Array, is_name: bool, exact: bool) -> pa.Array:
    """Comparison keys of words: folded (letter variants, diacritics, tatweel, case) for names; for addresses the
    exact text, but folded for words the address types keep (places and structure words)."""
    enc = pc.dictionary_encode(words)
    d = enc.dictionary
    folded = nl.fold_array(d)  # (a compound name part, عبد الرحمن, word by word)
    if not is_name:
        kept = fw.kept_roles(d, folded) != 0
        folded = pc.if_else(pa.array(kept), folded, pc.binary_join_element_wise("=", d, ""))
    return folded.take(enc.indices)


def _own_word_text(text: pa.Array, before: pa.Array, after: pa.Array, is_name: bool) -> tuple[pa.Array, np.ndarray]:
    """The new text of each matched word: the column's new word written as the text wrote it (names: its lexicon
    spelling with the text's layout; other words: exactly the column's new word, for they matched exactly; kept
    address words: the text's own word).  Also whether the text's spelling could be carried."""
    # each distinct (text word, value word, token word) once: a customer's name is written the same way in
    # many notes, and its words come from a lexicon
    if not len(text):
        return pa.array([], pa.string()), np.zeros(0, dtype=bool)
    encs = [pc.dictionary_encode(plain_strings(x)) for x in (text, before, after)]
    codes = [e.indices.to_numpy(zero_copy_only=False).astype(np.int64) for e in encs]
    key = (codes[0] * len(encs[1].dictionary) + codes[1]) * len(encs[2].dictionary) + codes[2]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = pa.array(inverse.ravel())
    if not is_name:
        # an address word: the text's own word where it folds to the token's (a kept place or structure word,
        # whatever its spelling), else the token's word; it fits when it is the value's word or folds to the
        # token's.  Whole arrays: distinct addresses make as many distinct triples as words.
        t, b, a = (e.dictionary.take(pa.array(c[first])) for e, c in zip(encs, codes, strict=True))
        same = pc.equal(nl.fold_array(t), nl.fold_array(a))
        out_a = pc.if_else(pc.or_(pc.equal(b, a), same), t, a)
        fits_a = pc.or_(pc.equal(t, b), same).to_numpy(zero_copy_only=False)
        return out_a.take(inverse), fits_a[inverse.to_numpy()]
    words = [e.dictionary.to_pylist() for e in encs]
    out, fits = [], []
    lex = nl.lexicon()
    for i in first.tolist():
        t, b, a = (w[c[i]] for w, c in zip(words, codes, strict=True))
        tp, ap = nl._parse_cached(t), nl._parse_cached(a)
        if tp is None or ap is None:
            out.append(a)
            fits.append(t == b)
            continue
        canon = lex.canon[ap.entry]
        ok = nl.fits(canon, tp.layout)
        out.append(nl.write(canon, tp.layout) if ok else t)
        fits.append(ok)
    return pa.array(out, pa.string()).take(inverse), np.array(fits, dtype=bool)[inverse.to_numpy()]


def _overlaps(spans: list[tuple[np.ndarray, np.ndarray]], starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each non-empty span [start, end) shares a character with one of ``spans`` (lists of starts and
    ends, not overlapping one another): a binary search among them, not a pass over the text."""
    s = np.concatenate([a for a, _ in spans])
    order = np.argsort(s, kind="stable")
    s, e = s[order], np.concatenate([b for _, b in spans])[order]
    if not len(s):
        return np.zeros(len(starts), dtype=bool)
    i = np.searchsorted(e, starts, side="right")  # (the first span ending after each start: ends are sorted too)
    inside = i < len(s)
    return inside & (s[np.minimum(i, len(s) - 1)] < ends) & (ends > starts)


# -- tokens -----------------------------------------------------------------------------------------------------
_NUMBER_TYPES: tuple[PIIType, ...] = (fn._EG_ID, fn._SA_ID, fn._PHONE)
_NUMBER_SPECS = tuple(ColumnSpec("", t.name) for t in _NUMBER_TYPES)


def _step(kinds: np.ndarray, texts: pa.Array, crypto: Crypto, decrypt: bool) -> pa.Array:
    """One encryption (or decryption) of number spans of the given kinds, each by its type."""
    pieces, where = [], []
    for k in np.unique(kinds).tolist():
        idx = np.flatnonzero(kinds == k)
        sub = texts.take(pa.array(idx))
        t, spec = _NUMBER_TYPES[k], _NUMBER_SPECS[k]
        pieces.append(t.detokenize(sub, crypto, spec) if decrypt else t.tokenize(sub, crypto, spec))
        where.append(idx)
    return _scatter(pieces, where, len(texts))


def _scatter(pieces: list[pa.Array], where: list[np.ndarray], n: int) -> pa.Array:
    if not pieces:
        return pa.array([], pa.string())
    order = np.concatenate(where)
    back = np.empty(n, dtype=np.int64)
    back[order] = np.arange(n)
    return pa.concat_arrays([plain_strings(p) for p in pieces]).take(pa.array(back))


def _walk_numbers(nums: fn.Numbers, spans: np.ndarray, texts: pa.Array, crypto: Crypto, decrypt: bool,
                  buffer: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]) -> tuple[pa.Array, np.ndarray]:
    """Cycle-walk the given spans until each reads as it did (see find_numbers.walk_predicate); returns the new
    texts and which spans did not settle within MAX_WALKS steps."""
    kinds = nums.c_kind[nums.chosen[spans]]
    done_p: list[pa.Array] = []
    done_w: list[np.ndarray] = []
    todo = np.arange(len(spans))
    cur = texts
    for _ in range(MAX_WALKS):
        if not len(todo):
            break
        cur = _step(kinds[todo], cur, crypto, decrypt)
        ok = fn.walk_predicate(nums, spans[todo], digits_only(cur), buffer, pairs)
        if ok.any():
            done_p.append(cur.filter(pa.array(ok)))
            done_w.append(todo[ok])
        todo, cur = todo[~ok], cur.filter(pa.array(~ok))
    failed = np.zeros(len(spans), dtype=bool)
    if len(todo):
        failed[todo] = True
        done_p.append(cur)
        done_w.append(todo)
    return _scatter(done_p, done_w, len(spans)), failed


def _number_tokens(nums: fn.Numbers, crypto: Crypto, decrypt: bool) -> tuple[pa.Array, np.ndarray]:
    """New texts of the chosen number spans, and which of them are masked (could not be made reversible).

    The types work on each span's ASCII digits (with its "+"), and the new digits are then written over the
    span's own digits, in their own scripts and layout."""
    k = len(nums.chosen)
    view = nums.view
    spans = np.arange(k)
    digits = fn.span_digits(nums, spans)
    plus = nums.candidate_plus(nums.chosen)
    plain = pc.if_else(pa.array(plus), pc.binary_join_element_wise("+", digits, ""), digits) if plus.any() else digits
    pairs = fn.blockers(nums)
    m = nums.c_match[nums.chosen]
    if decrypt:
        out, failed = _walk_numbers(nums, spans, plain, crypto, True, nums.digits, pairs)
    else:
        # from the right within each match: a span's reading may depend on the digits after it, never before
        new_run = np.concatenate([[True], m[1:] != m[:-1]])
        run_id = np.cumsum(new_run) - 1
        run_last = np.concatenate([np.flatnonzero(new_run)[1:], [k]]) - 1
        rank = run_last[run_id] - np.arange(k)  # spans after this one in its match
        buffer = nums.digits.copy()
        pieces, where = [], []
        failed = np.zeros(k, dtype=bool)
        for r in range(int(rank.max(initial=0)) + 1):
            sel = np.flatnonzero(rank == r)
            new, bad = _walk_numbers(nums, sel, plain.take(pa.array(sel)), crypto, False, buffer, pairs)
            fn.write_digits(nums, buffer, sel, digits_only(new))
            pieces.append(new)
            where.append(sel)
            failed[sel[bad]] = True
        out = _scatter(pieces, where, k)
        multi = np.zeros(k, dtype=bool)
        if k > 1:
            multi[1:] |= m[1:] == m[:-1]
            multi[:-1] |= m[1:] == m[:-1]
        check = np.flatnonzero(multi & ~failed)
        if len(check):  # several spans in one match: prove the round trip, as detokenization will do it
            back, _ = _walk_numbers(nums, check, out.take(pa.array(check)), crypto, True, buffer, pairs)
            failed[check[~pc.equal(back, plain.take(pa.array(check))).to_numpy(zero_copy_only=False)]] = True
    if failed.any():  # mask every span of the matches involved
        failed |= np.isin(m, np.unique(m[failed]))
    return render_digits(view.strings(nums.starts, nums.ends), digits, digits_only(out)), failed


def _masked(texts: pa.Array) -> pa.Array:
    """Digits and letters replaced by ``#`` (layout kept): an irreversible span, never left raw."""
    return pc.replace_substring_regex(texts, r"[\p{L}\p{N}]", MASK)


@dataclass
class Outcome:
    """A transformed column and what was found in it."""

    values: pa.Array
    counts: dict[str, int]
    irreversible: int = 0


#: text read at once, in UTF-8 bytes: the finders keep several arrays of 4-8 bytes per character, so a batch is
#: read in pieces of about this size (what is found in a row depends on that row alone: the same output)
CHUNK_BYTES = 2 << 20


def transform(values: pa.Array, crypto: Crypto, spec: ColumnSpec | None = None, *, decrypt: bool = False,
              context: Sequence[RowColumn] = ()) -> Outcome:
    """Replace every span found in each value by its token (or, with ``decrypt``, a token by its value)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    n = len(values)
    if n < 2 or not pa.types.is_string(values.type):
        return _transform(values, crypto, spec, decrypt=decrypt, context=context)
    off = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1 + values.offset)[values.offset:]
    if int(off[-1]) - int(off[0]) <= CHUNK_BYTES:
        return _transform(values, crypto, spec, decrypt=decrypt, context=context)
    # pieces of equal size (not CHUNK_BYTES and a small rest: each piece has fixed costs)
    total = int(off[-1] - off[0])
    pieces = -(-total // CHUNK_BYTES)
    cuts = np.unique(np.concatenate([[0], np.searchsorted(off - off[0], np.arange(1, pieces) * total // pieces,
                                                          side="right").clip(1, n - 1), [n]]))
    outs: list[pa.Array] = []
    counts: dict[str, int] = {}
    irreversible = 0
    for lo, hi in itertools.pairwise(cuts.tolist()):
        part = _transform(values.slice(lo, hi - lo), crypto, spec, decrypt=decrypt,
                          context=[RowColumn(c.spec, c.before.slice(lo, hi - lo), c.after.slice(lo, hi - lo))
                                   for c in context])
        outs.append(part.values.cast(pa.string()))
        for k, v in part.counts.items():
            counts[k] = counts.get(k, 0) + v
        irreversible += part.irreversible
    return Outcome(pa.concat_arrays(outs), counts, irreversible)


def _transform(values: pa.Array, crypto: Crypto, spec: ColumnSpec | None = None, *, decrypt: bool = False,
               context: Sequence[RowColumn] = ()) -> Outcome:
    """:func:`transform` of one piece."""
    original = values
    det = detect(values, spec, context)
    view = det.view
    starts_l, ends_l, texts_l = [], [], []
    counts: dict[str, int] = {}
    irreversible = 0

    def add(found_s: np.ndarray, found_e: np.ndarray, kinds: np.ndarray, new: pa.Array) -> None:
        starts_l.append(found_s)
        ends_l.append(found_e)
        texts_l.append(plain_strings(new))
        for k, c in zip(*np.unique(kinds, return_counts=True), strict=True):
            counts[SPAN_KINDS[int(k)]] = counts.get(SPAN_KINDS[int(k)], 0) + int(c)

    for found in det.own:
        assert found.text is not None
        if found.pieces is None:
            add(found.starts, found.ends, found.kinds, found.text)
        else:  # only some words of the span change (names, addresses)
            starts_l.append(found.pieces[0])
            ends_l.append(found.pieces[1])
            texts_l.append(plain_strings(found.text))
            for k, c in zip(*np.unique(found.kinds, return_counts=True), strict=True):
                counts[SPAN_KINDS[int(k)]] = counts.get(SPAN_KINDS[int(k)], 0) + int(c)
    for codes, pii in ((det.emails, _EMAIL), (det.ibans, _IBAN)):
        if codes is not None and len(codes.starts):
            texts = view.strings(codes.starts, codes.ends)
            spec_k = ColumnSpec("", pii.name)
            new = pii.detokenize(texts, crypto, spec_k) if decrypt else pii.tokenize(texts, crypto, spec_k)
            add(codes.starts, codes.ends, codes.kinds, new)
    nums = det.numbers
    if nums is not None and len(nums.chosen):
        new, failed = _number_tokens(nums, crypto, decrypt)
        if failed.any():
            irreversible += int(failed.sum())
            new = pc.if_else(pa.array(failed), _masked(view.strings(nums.starts, nums.ends)), new)
        add(nums.starts, nums.ends, nums.kinds.astype(np.int8), new)
    adr = det.addresses
    if adr is not None and len(adr.starts):
        texts = view.strings(adr.starts, adr.ends)
        new, failed = _address_tokens(texts, adr.country, crypto, decrypt)
        if failed.any():
            irreversible += int(failed.sum())
            new = pc.if_else(pa.array(failed), _masked(texts), new)
        add(adr.starts, adr.ends, np.where(adr.country == 1, K_SA_ADDRESS, K_EG_ADDRESS).astype(np.int8), new)
    names = det.names
    if names is not None and len(names.starts):
        parts = view.strings(names.part_start, names.part_end)
        new = nl.crypt_part_array(parts, names.part_pos, crypto, decrypt=decrypt, contexts=names.part_context,
                                  generic=generic_tokenizer(crypto, decrypt))  # (a family name after أبو)
        starts_l.append(names.part_start)
        ends_l.append(names.part_end)
        texts_l.append(new)
        counts["person_name"] = counts.get("person_name", 0) + len(names.starts)
    if not starts_l:
        return Outcome(original, counts, irreversible)  # nothing found: the same array back
    s = np.concatenate(starts_l)
    e = np.concatenate(ends_l)
    t = pa.concat_arrays(texts_l)
    order = np.argsort(s, kind="stable")
    out = view.replace(s[order], e[order], t.take(pa.array(order)))
    if not decrypt:
        out, masked = _verified(det, out, spec, [c.swapped() for c in context],
                                (s, e, pc.utf8_length(t).to_numpy(zero_copy_only=False).astype(np.int64)))
        irreversible += masked
    return Outcome(out, counts, irreversible)


def _layout(det: Detection) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array]:
    """What a token text must read again exactly: every span, name part and row-aware replaced word as (row,
    start, end) within its row, a code (the span's kind; a name part's position; a replaced word's kind), and
    what is written before each name part that its token depends on ("" elsewhere); unsorted."""
    s, e, k = det.all_spans()
    starts, ends, codes = [s], [e], [k.astype(np.int64)]
    contexts: list[pa.Array] = [pa.repeat("", len(s)).cast(pa.string())]
    for f in det.own:
        if f.pieces is not None:
            starts.append(f.pieces[0])
            ends.append(f.pieces[1])
            codes.append(np.full(len(f.pieces[0]), 100 + int(f.kinds[0]) if len(f.kinds) else 100, np.int64))
            contexts.append(pa.repeat("", len(f.pieces[0])).cast(pa.string()))
    names = det.names
    if names is not None and len(names.part_start):
        starts.append(names.part_start)
        ends.append(names.part_end)
        codes.append(200 + names.part_pos.astype(np.int64))
        ctx = names.part_context
        contexts.append(pa.repeat("", len(names.part_start)).cast(pa.string()) if ctx is None
                        else plain_strings(ctx))
    start, end = np.concatenate(starts), np.concatenate(ends)
    row = det.view.row[start] if len(start) else _Z
    return row, start, end, np.concatenate(codes), pa.concat_arrays(contexts)


def _verified(det: Detection, out: pa.Array, spec: ColumnSpec | None, context: Sequence[RowColumn],
              replaced: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[pa.Array, int]:
    """The tokenized column, checked: where the token text is not found again exactly as the original was (every
    span, name part and replaced word at the same place with the same kind, position and context), every span
    of that row is masked instead (irreversible, never raw).  ``replaced``: (start, end, new length) of the
    replacements that made ``out``, to map the original's positions into it.

    Kinds alone would not do: an address followed by a name reads "address name" whether a word of the name is
    read as the address's last word or not, and the name's tokens would then come back at other positions.
    Only the rows with spans are read again: the others are unchanged, and what is found in a row depends on
    that row alone (its text and its own column values)."""
    row0, s0, e0, code0, ctx0 = _layout(det)
    rows = np.unique(row0)
    if not len(rows):
        return out, 0
    every = len(rows) == len(out)
    take = pa.array(rows)
    again = detect(out if every else out.take(take), spec,
                   context if every else [c.take(rows) for c in context])
    # the original's places, moved as the replacements before them moved them
    r_s, r_e, r_len = replaced
    order = np.argsort(r_e, kind="stable")
    cum = np.concatenate([[0], np.cumsum((r_len - (r_e - r_s))[order])])
    ends_sorted = r_e[order]

    def moved(p: np.ndarray) -> np.ndarray:
        return p + cum[np.searchsorted(ends_sorted, p, side="right")]

    base0 = moved(det.view.row_off[row0])
    a = (row0, moved(s0) - base0, moved(e0) - base0, code0, ctx0)
    row1, s1, e1, code1, ctx1 = _layout(again)
    base1 = again.view.row_off[row1]
    b = (row1 if every else rows[row1], s1 - base1, e1 - base1, code1, ctx1)
    bad_row = np.zeros(len(out), dtype=bool)
    bad_row |= np.bincount(a[0], minlength=len(out)) != np.bincount(b[0], minlength=len(out))
    sides = []
    for row, st, en, code, ctx in (a, b):
        o = np.lexsort((code, en, st, row))
        keep = ~bad_row[row[o]]
        o = o[keep]
        sides.append((row[o], st[o], en[o], code[o], ctx.take(pa.array(o))))
    (ra, sa, ea, ca, xa), (_, sb, eb, cb, xb) = sides
    differ = (sa != sb) | (ea != eb) | (ca != cb)
    if len(xa):
        differ |= ~pc.fill_null(pc.equal(xa, xb), False).to_numpy(zero_copy_only=False)
    bad_row[ra[differ]] = True
    bad = np.flatnonzero(bad_row)
    if not len(bad):
        return out, 0
    # the masked rows' original spans, all masked (a span the token text lost is still raw there)
    sp_s, sp_e, _ = det.all_spans()
    sel0 = bad_row[det.view.row[sp_s]] if len(sp_s) else np.zeros(0, dtype=bool)
    sp_s, sp_e = sp_s[sel0], sp_e[sel0]
    rows_view, at = det.view.sub(bad)  # those rows alone (not the whole column's bytes again)
    orig_masked = rows_view.replace(np.searchsorted(at, sp_s), np.searchsorted(at, sp_e),
                                    _masked(det.view.strings(sp_s, sp_e)))
    fixed = pc.replace_with_mask(out, pa.array(bad_row), orig_masked)
    return fixed, int(sel0.sum())


def _address_tokens(texts: pa.Array, country: np.ndarray, crypto: Crypto, decrypt: bool) -> tuple[pa.Array,
                                                                                                 np.ndarray]:
    """Address tokens as ``eg_address`` / ``sa_address`` make them (place names of both countries and structure
    words kept, every other letter and digit encrypted class by class under the country's subkey), walked until
    the kept words are the input's, no encrypted word takes a role that would change how the address reads
    (see find_words.address_roles) and its digits show no new phone or ID; returns the tokens and which spans
    did not settle (masked by the caller)."""
    from .charclass import charclass_cps
    from .text import encode

    view = TextView(texts)
    cps, off = view.cps, view.row_off
    kept_eg, kept_sa = kept_both(cps, off, (view.data, view.char_byte))
    kept = kept_eg | kept_sa
    target = fw.address_roles(view, kept)
    out = cps.copy()
    failed = np.zeros(len(texts), dtype=bool)
    for c, domain in ((0, _EG_ADDRESS.domain), (1, _SA_ADDRESS.domain)):
        rows = np.flatnonzero(country == c)
        if not len(rows):
            continue
        lengths = off[rows + 1] - off[rows]
        sub_off = np.concatenate([[0], np.cumsum(lengths)])
        at = np.repeat(off[rows] - sub_off[:-1], lengths) + np.arange(sub_off[-1])
        cur, keep = cps[at], kept[at]
        todo = np.arange(len(rows))
        for _ in range(MAX_WALKS):
            t_len = sub_off[todo + 1] - sub_off[todo]
            t_off = np.concatenate([[0], np.cumsum(t_len)])
            t_at = np.repeat(sub_off[todo] - t_off[:-1], t_len) + np.arange(t_off[-1])
            new = charclass_cps(cur[t_at], t_off, crypto, domain, decrypt=decrypt, protect=keep[t_at])
            cur[t_at] = new
            data, char_byte = encode_codepoints(new)
            new_text = pa.StringArray.from_buffers(len(t_off) - 1, pa.py_buffer(char_byte[t_off].astype(np.int32)),
                                                   pa.py_buffer(data))
            new_eg, new_sa = kept_both(new, t_off, (data, char_byte))
            same_kept = ~_rows_differ(new_eg | new_sa, keep[t_at], t_off)
            ok = same_kept & (fw.address_roles(TextView(new_text), keep[t_at]) == target[rows[todo]])
            todo = todo[~ok]
            if not len(todo):
                break
        failed[rows[todo]] = True
        out[at] = cur
    return encode(out, off), failed


def _rows_differ(a: np.ndarray, b: np.ndarray, row_off: np.ndarray) -> np.ndarray:
    """Per row: whether the per-character masks differ."""
    diff = np.concatenate([[0], np.cumsum(a != b)])
    return diff[row_off[1:]] > diff[row_off[:-1]]
def find(values: pa.Array, spec: ColumnSpec | None = None) -> list[tuple[int, int, int, str]]:
    """All PII spans of the column: (row, start, end, kind), positions in characters of the row."""
    det = detect(values, spec)
    s, e, k = det.all_spans()
    if not len(s):
        return []
    rows = det.view.row[s]
    base = det.view.row_off[rows]
    return [(r, a, b, SPAN_KINDS[c]) for r, a, b, c in zip(rows.tolist(), (s - base).tolist(), (e - base).tolist(),
                                                            k.tolist(), strict=True)]


class FreeText(PIIType):
    name: ClassVar[str] = "free_text"
    description: ClassVar[str] = ("Free text (Arabic or English): IDs, phones, IBANs, e-mails, names and addresses "
                                  "inside are tokenized in place")
    domain: ClassVar[str] = "free_text"
    has_invalid: ClassVar[bool] = False
    #: the tokens in text are the column types' own (same subkeys, same domains)
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = tuple(dict.fromkeys(
        k for t in (fn._EG_ID, fn._SA_ID, fn._PHONE, _IBAN, _EMAIL, PersonName(), _EG_ADDRESS, _SA_ADDRESS)
        for k in t.subkeys))

    def compact(self, value: str) -> str:
        return value

    def validate(self, value: str) -> str:
        return value

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parse:
        return Parse(np.ones(len(values), dtype=bool))

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        return transform(values, crypto, spec, decrypt=decrypt).values
