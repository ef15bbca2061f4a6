"""Personal names in Arabic or Latin script, 1 to 5 parts (``محمد أحمد علي حسن``, ``Sara Mahmoud``).

A token looks like a real name of the same gender and script:

* a part found in the name dictionaries (``tokenize_kit/refdata/names_eg_*.csv``) is replaced by the
  dictionary entry at its encrypted index: the first part within the first names of its gender, later
  parts (father, grandfather, family: male ancestors' given names, as Egyptian four-part names chain
  them) within the male names; the dictionaries are disjoint, so a part's dictionary is known again at
  detokenization;
* a part not in the dictionaries is encrypted letter by letter (character-class FPE, same script),
  re-encrypted until the result is not a dictionary name, so it is recognised as such on the way back.

Arabic compound given names (``عبد الرحمن``, ``أبو بكر``) count as one part.  Every part keeps its
position; separators stay as they are.  Tokens are deterministic per (part, position) and reversible.

Limits: the dictionaries hold about 200 male and 170 female given names (see refdata/SOURCES.md), so a
dictionary part has only that many possible tokens; a name outside them keeps its length and letter classes.

>>> is_valid("محمد أحمد"), is_valid("")
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit import refdata

from .base import TEXT_SLICE, ColumnSpec, Crypto, Parse, PIIType, int_domain_subkeys, stdnum_api
from .charclass import charclass
from .exceptions import InvalidFormat
from .intdomain import crypt_ints
from .name_lexicon import crypt_names, crypt_part_array, fold, generic_avoid, is_head, lexicon

_SPLIT = re.compile(r"(\s+)")


def token_scheme(crypto: Crypto) -> int:
    """The token scheme of a run: 2 (the default) or 1 (to reverse tokens made before the name lexicon)."""
    return int(getattr(crypto, "derivation", 2))
_COMPOUND_HEADS = {"عبد", "أبو", "ابو"}
_ARABIC = re.compile(r"[\u0600-\u06FF]")
MAX_PARTS = 5


@cache
def _dicts() -> dict[tuple[str, str], tuple[list[str], dict[str, int]]]:
    """(script, gender) -> (names, index); scripts 'ar'/'en', genders 'male'/'female'."""
    out = {}
    for gender in ("male", "female"):
        t = refdata.table(f"names_eg_{gender}")
        for script, col in (("ar", "name_ar"), ("en", "name_en")):
            names = t.column(col).to_pylist()
            out[(script, gender)] = (names, {n: i for i, n in enumerate(names)})
    return out


def _script(part: str) -> str:
    return "ar" if _ARABIC.search(part) else "en"


def _parts(value: str) -> list[str]:
    """Alternating [part, sep, part, ...]; compounds (عبد الرحمن) merged into one part."""
    pieces = _SPLIT.split(value.strip())
    if not any(h in value for h in _COMPOUND_HEADS):  # nothing to merge (the usual case)
        return pieces
    out: list[str] = []
    i = 0
    while i < len(pieces):
        p = pieces[i]
        if p in _COMPOUND_HEADS and i + 2 < len(pieces):
            p = p + pieces[i + 1] + pieces[i + 2]
            i += 2
        out.append(p)
        if i + 1 < len(pieces):
            out.append(pieces[i + 1])
        i += 2
    return out


@cache
def _known() -> frozenset[str]:
    return frozenset({n for names, _ in _dicts().values() for n in names} | _COMPOUND_HEADS)


def _avoid(arr: pa.Array) -> np.ndarray:
    """The generic token of a part outside the dictionaries must not read as a dictionary name or a compound."""
    known = _known()
    return np.fromiter((v in known or v.split(" ")[0] in _COMPOUND_HEADS for v in arr.to_pylist()), bool, len(arr))


@cache
def _columnar_dict(script: str, gender: str) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(names as listed, distinct names to look up, the list index :func:`_dicts` gives each of them)."""
    names, index = _dicts()[(script, gender)]
    lookup = list(index)
    return pa.array(names, pa.string()), pa.array(lookup, pa.string()), np.array([index[n] for n in lookup], np.int64)


@cache
def _whitespace_class() -> str:
    """A regex class of every character ``str.isspace`` accepts except the ASCII space (all are below U+3001)."""
    return "[" + "".join(f"\\x{{{c:04x}}}" for c in range(0x3001) if chr(c).isspace() and c != 0x20) + "]"


def _simple_rows(values: pa.Array) -> np.ndarray:
    """Rows the columnar path takes: non-empty, words separated by single spaces (no other whitespace, none
    around)."""
    ok = pc.fill_null(pc.greater(pc.binary_length(values), 0), False).to_numpy(zero_copy_only=False)
    bad = pc.match_substring_regex(values, _whitespace_class() + "|  |^ | $")
    return ok & ~pc.fill_null(bad, True).to_numpy(zero_copy_only=False)


def _columnar_parts(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The parts of single-space separated names, as :func:`_parts` makes them (a compound head takes the next
    word), and the part offsets per row."""
    lists = pc.split_pattern(values, " ")
    words = lists.flatten()
    offsets = lists.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets -= offsets[0]
    head = pc.is_in(words, value_set=pa.array(sorted(_COMPOUND_HEADS))).to_numpy(zero_copy_only=False)
    if not head.any():
        return words, offsets
    last = np.zeros(len(words), dtype=bool)
    last[offsets[1:][offsets[1:] > offsets[:-1]] - 1] = True
    can = head & ~last
    merged = can.copy()
    while True:  # a word taken by the head before it does not merge itself (settles left to right)
        taken = np.zeros(len(words), dtype=bool)
        taken[1:] = merged[:-1]
        new = can & ~taken
        if (new == merged).all():
            break
        merged = new
    taken = np.zeros(len(words), dtype=bool)
    taken[1:] = merged[:-1]
    keep = np.flatnonzero(~taken)
    m = np.flatnonzero(merged)
    joined = pc.binary_join_element_wise(words.take(pa.array(m)), words.take(pa.array(m + 1)), " ")
    order = np.concatenate([np.setdiff1d(keep, m, assume_unique=True), m])
    parts_all = pa.concat_arrays([words.take(pa.array(np.setdiff1d(keep, m, assume_unique=True))), joined])
    where = np.empty(len(words), dtype=np.int64)
    where[order] = np.arange(len(order))
    parts = parts_all.take(pa.array(where[keep]))
    kept_before = np.concatenate([[0], np.cumsum(~taken)])
    return parts, kept_before[offsets]


@cache
def _digit_class() -> str:
    """A regex class of every character ``str.isdigit`` accepts (any script, superscripts ...), as ranges."""
    cps = [c for c in range(0x110000) if chr(c).isdigit()]
    runs: list[tuple[int, int]] = []
    for c in cps:
        if runs and runs[-1][1] == c - 1:
            runs[-1] = (runs[-1][0], c)
        else:
            runs.append((c, c))
    return "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in runs) + "]"


def _valid_name(value: str) -> bool:
    """``is_valid`` without the exception: 1 to 5 parts (compounds count once) and no digit."""
    words = value.split()
    if not words or any(map(str.isdigit, value)):
        return False
    parts, i, n = 0, 0, len(words)
    while i < n:
        i += 2 if words[i] in _COMPOUND_HEADS and i + 1 < n else 1  # a compound head takes the next word
        parts += 1
    return parts <= MAX_PARTS


@dataclass
class NameParse(Parse):
    #: rows that are words separated by single spaces (no other whitespace, no digit), and those rows split
    simple: np.ndarray
    lists: pa.ListArray | None


def _crypt_lexicon(values: pa.Array, crypto: Crypto, decrypt: bool, domain: str,
                   generic: Callable[[pa.Array], pa.Array], parsed: NameParse | None = None) -> pa.Array:
    """Token scheme 2: :func:`~tokenize_kit.pii.name_lexicon.crypt_names`, with its usual case on whole words.

    Names whose parts are single words separated by single spaces (no compound written in two words) are split
    into words by Arrow, each distinct (word, position) pair is tokenized once by
    :func:`~tokenize_kit.pii.name_lexicon.crypt_part_array` (a part's token depends on nothing else), and the
    rows are joined again: the same tokens as ``crypt_names`` gives them, without a pass over every character.
    The other rows go through ``crypt_names``.  ``parsed``: the parse of these values, whose split is reused."""
    simple = _simple_rows(values) if parsed is None else parsed.simple
    if not simple.any():
        return crypt_names(values, crypto, decrypt=decrypt, domain=domain, generic=generic)
    sub = values if simple.all() else values.take(pa.array(np.flatnonzero(simple)))
    lists = pc.split_pattern(sub, " ") if parsed is None or parsed.lists is None else parsed.lists
    words = lists.flatten()
    offsets = lists.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets -= offsets[0]
    enc = pc.dictionary_encode(words)
    vocab = enc.dictionary
    idx = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    row = np.repeat(np.arange(len(sub), dtype=np.int64), np.diff(offsets))
    pos = np.arange(len(words), dtype=np.int64) - offsets[row]
    # a compound head followed by a word it forms a lexicon name with: that row's parts are not its words
    head = np.array([is_head(w) for w in vocab.to_pylist()], dtype=bool)
    compound = np.zeros(len(sub), dtype=bool)
    cand = np.flatnonzero(head[idx[:-1]] & (row[1:] == row[:-1]))
    if len(cand):
        pair = idx[cand] * len(vocab) + idx[cand + 1]
        uniq_pair, inverse = np.unique(pair, return_inverse=True)
        known = lexicon().keys
        texts = vocab.to_pylist()
        merges = np.array([fold(texts[k // len(vocab)] + " " + texts[k % len(vocab)]) in known
                           for k in uniq_pair.tolist()], dtype=bool)
        compound[row[cand[merges[inverse.ravel()]]]] = True
    # a row with a head standing alone (أبو زيد): its next part's token depends on the head before it (see
    # crypt_names), so the row goes that way too
    compound[row[head[idx]]] = True
    key = idx * 8 + np.minimum(pos, 7)
    if compound.any():
        key[compound[row]] = -1
    present = np.zeros(len(vocab) * 8 + 1, dtype=bool)
    present[key] = True  # (key -1 marks the last slot, never a real pair)
    uniq = np.flatnonzero(present[:-1])
    new = crypt_part_array(vocab.take(pa.array(uniq // 8)), uniq % 8, crypto, decrypt=decrypt, domain=domain,
                           generic=generic)
    slot = np.zeros(len(vocab) * 8, dtype=np.int64)
    slot[uniq] = np.arange(len(uniq))
    ok = ~compound
    if not ok.all():
        keep = np.flatnonzero(ok[row])
        lengths = np.diff(offsets)[ok]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        key = key[keep]
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)),
                                                     new.cast(pa.string()).take(pa.array(slot[key]))), " ")
    if ok.all() and len(sub) == len(values):
        return joined
    done = np.flatnonzero(simple)[ok]
    rest = np.setdiff1d(np.arange(len(values)), done, assume_unique=True)
    pieces = [joined]
    if len(rest):
        pieces.append(crypt_names(values.take(pa.array(rest)), crypto, decrypt=decrypt, domain=domain,
                                  generic=generic))
    where = np.empty(len(values), dtype=np.int64)
    where[np.concatenate([done, rest])] = np.arange(len(values))
    return pa.concat_arrays([p.cast(pa.string()) for p in pieces]).take(pa.array(where))


def generic_tokenizer(crypto: Crypto, decrypt: bool) -> Callable[[pa.Array], pa.Array]:
    """Tokens of name parts outside the lexicon (token scheme 2): letter-class FPE under the type's generic
    subkey, walked until the token reads as no lexicon name, head or connector."""
    def generic(parts: pa.Array) -> pa.Array:
        return charclass(parts, crypto, PersonName.domain + "/generic", decrypt=decrypt, avoid=generic_avoid)

    return generic


class PersonName(PIIType):
    name: ClassVar[str] = "person_name"
    description: ClassVar[str] = "Personal name, Arabic or Latin, 1-5 parts (gender and script kept)"
    domain: ClassVar[str] = "person_name"
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = (*int_domain_subkeys("person_name"),
                                                      *int_domain_subkeys("person_name/generic"))
    slice_values: ClassVar[int] = TEXT_SLICE

    def compact(self, value: str) -> str:
        return " ".join(value.split())

    def validate(self, value: str) -> str:
        v = self.compact(value)
        parts = _parts(v)[::2] if v else []
        if not parts or len(parts) > MAX_PARTS or any(ch.isdigit() for ch in v):
            raise InvalidFormat("a name has 1 to 5 parts of letters")
        return v

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parse:
        """One regex pass finds the rows that are single-space separated words without a digit; those are split
        into words once (kept for :meth:`_crypt`) and are valid with at most five parts (rows of more words
        count compounds as :func:`_columnar_parts` does); the other rows are read one by one."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        ok = pc.fill_null(pc.greater(pc.binary_length(values), 0), False).to_numpy(zero_copy_only=False)
        bad = pc.match_substring_regex(values, _whitespace_class() + "|  |^ | $|" + _digit_class())
        fast = ok & ~pc.fill_null(bad, True).to_numpy(zero_copy_only=False)
        out = np.zeros(len(values), dtype=bool)
        rows = np.flatnonzero(fast)
        lists = None
        if len(rows):  # no digit: 1 to 5 parts
            sub = values if len(rows) == len(values) else values.take(pa.array(rows))
            lists = pc.split_pattern(sub, " ")
            words = np.diff(lists.offsets.to_numpy(zero_copy_only=False))
            out[rows] = words <= MAX_PARTS
            many = np.flatnonzero(words > MAX_PARTS)  # compounds may bring these down to five parts
            if len(many):
                _, offsets = _columnar_parts(sub.take(pa.array(many)))
                out[rows[many]] = np.diff(offsets) <= MAX_PARTS
        slow = np.flatnonzero(~fast)
        if len(slow):
            py = values.take(pa.array(slow)).to_pylist()
            out[slow] = np.fromiter((v is not None and _valid_name(v) for v in py), bool, len(py))
        return NameParse(out, fast, lists)

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        """Token scheme 2 (derivation 2 on: the lexicon, see :mod:`~tokenize_kit.pii.name_lexicon`); scheme 1
        kept to reverse the tokens made before it: columnar for the usual names, the others part by part."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if token_scheme(crypto) >= 2:
            return _crypt_lexicon(values, crypto, decrypt, self.domain, generic_tokenizer(crypto, decrypt),
                                  parsed if isinstance(parsed, NameParse) and len(parsed.ok) == len(values) else None)
        fast = _simple_rows(values)
        if not fast.any():
            return self._crypt_rows(values, crypto, decrypt)
        if fast.all():
            return self._crypt_columnar(values, crypto, decrypt)
        fi, si = np.flatnonzero(fast), np.flatnonzero(~fast)
        out = pa.concat_arrays([self._crypt_columnar(values.take(pa.array(fi)), crypto, decrypt),
                                self._crypt_rows(values.take(pa.array(si)), crypto, decrypt)])
        where = np.empty(len(values), dtype=np.int64)
        where[np.concatenate([fi, si])] = np.arange(len(values))
        return out.take(pa.array(where))

    def _crypt_columnar(self, values: pa.Array, crypto: Crypto, decrypt: bool) -> pa.Array:
        """Names whose parts are separated by single spaces, none a compound: the same tokens as
        :meth:`_crypt_rows`, with one dictionary lookup and one encryption call per (script, gender, position)."""
        parts, offsets = _columnar_parts(values)
        pos = np.arange(len(parts)) - np.repeat(offsets[:-1], np.diff(offsets))
        arabic = pc.match_substring_regex(parts, r"[\x{0600}-\x{06FF}]").to_numpy(zero_copy_only=False)
        pieces: list[tuple[np.ndarray, pa.Array]] = []  # (part positions, their new text)
        todo = np.ones(len(parts), dtype=bool)
        for script in ("ar", "en"):
            in_script = arabic if script == "ar" else ~arabic
            for gender in ("female", "male"):
                cand = np.flatnonzero(in_script & todo & ((pos == 0) if gender == "female" else True))
                if len(cand) == 0:
                    continue
                names, lookup, index = _columnar_dict(script, gender)
                hit = pc.index_in(parts.take(pa.array(cand)), value_set=lookup)
                found = hit.is_valid().to_numpy(zero_copy_only=False)
                rows = cand[found]
                if len(rows) == 0:
                    continue
                idx = index[pc.fill_null(hit, 0).to_numpy(zero_copy_only=False)[found].astype(np.int64)]
                todo[rows] = False
                for p in np.unique(pos[rows]).tolist():
                    at = pos[rows] == p
                    new = crypt_ints(crypto, self.domain, idx[at], len(names), ("name", gender, str(p)),
                                     decrypt=decrypt)
                    pieces.append((rows[at], names.take(pa.array(new))))
        rest = np.flatnonzero(todo)
        if len(rest):
            pieces.append((rest, charclass(parts.take(pa.array(rest)), crypto, self.domain + "/generic",
                                           decrypt=decrypt, avoid=_avoid)))
        order = np.concatenate([sel for sel, _ in pieces])
        where = np.empty(len(parts), dtype=np.int64)
        where[order] = np.arange(len(parts))
        new_parts = pa.concat_arrays([arr.cast(pa.string()) for _, arr in pieces]).take(pa.array(where))
        joined = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), new_parts)
        return pc.binary_join(joined, " ")

    def _crypt_rows(self, values: pa.Array, crypto: Crypto, decrypt: bool) -> pa.Array:
        dicts = _dicts()
        rows = [_parts(v) for v in values.to_pylist()]
        # (row, piece index, position) of every part, grouped by the dictionary that holds it
        groups: dict[tuple[str, str, int], list[tuple[int, int, int]]] = {}
        fallback: list[tuple[int, int, str, int]] = []
        seen: dict[tuple[str, bool], tuple[str, str | None, int]] = {}  # (part, first?) -> (script, gender, index)
        for r, pieces in enumerate(rows):
            for k in range(0, len(pieces), 2):
                part = pieces[k]
                pos = k // 2
                known = seen.get((part, pos == 0))
                if known is None:
                    script = _script(part)
                    gender = None
                    if pos == 0 and part in dicts[(script, "female")][1]:
                        gender = "female"
                    elif part in dicts[(script, "male")][1]:
                        gender = "male"
                    index = dicts[(script, gender)][1][part] if gender is not None else -1
                    known = seen[(part, pos == 0)] = (script, gender, index)
                script, gender, index = known
                if gender is None:
                    fallback.append((r, k, script, pos))
                else:
                    groups.setdefault((script, gender, pos), []).append((r, k, index))
        for (script, gender, pos), items in groups.items():
            names, _ = dicts[(script, gender)]
            idx = np.array([i for _, _, i in items], dtype=np.int64)
            new = crypt_ints(crypto, self.domain, idx, len(names), ("name", gender, str(pos)), decrypt=decrypt)
            for (r, k, _), j in zip(items, new.tolist(), strict=True):
                rows[r][k] = names[j]
        if fallback:
            src = pa.array([rows[r][k] for r, k, _, _ in fallback], pa.string())
            new_parts = charclass(src, crypto, self.domain + "/generic", decrypt=decrypt, avoid=_avoid).to_pylist()
            for (r, k, _, _), p in zip(fallback, new_parts, strict=True):
                rows[r][k] = p
        return pa.array(["".join(pieces) for pieces in rows], pa.string())


_TYPE = PersonName()


compact, validate, is_valid, format = stdnum_api(_TYPE)
