"""Free-form Egyptian and Saudi addresses (Arabic or English): ``eg_address`` and ``sa_address``.

Place names found in the gazetteer (governorates, cities and districts of Egypt; regions, cities and
districts of Saudi Arabia: ``tokenize_kit/refdata``) and structural words (street, building, floor, district ...)
are kept, so regional analysis still works and the token still reads like an address; every other
letter and digit (street names, building and apartment numbers, Saudi short-address codes) is encrypted
with character-class FPE: Arabic letters to Arabic letters, Latin to Latin, digits to digits of the same
script, spaces and punctuation in place.  Set ``keep_places: false`` to encrypt place names too.

Reversibility: kept words are found again in the token, and the encryption is cycle-walked until the
token's kept words are exactly the input's (an encrypted word never turns into a kept one), so
detokenization protects the same characters and decrypts the rest.

The gazetteer holds about 220 Egyptian cities/districts and the main Saudi cities and districts (see
refdata/SOURCES.md): a town not in it is encrypted like any other word.

>>> is_valid("١٢ شارع التحرير، الدقي، الجيزة")
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit import refdata
from tokenize_kit.utf8 import encode_codepoints

from .base import ColumnSpec, Crypto, Parse, PIIType, int_domain_subkeys, stdnum_api
from .charclass import charclass_cps
from .exceptions import InvalidFormat
from .text import WORD_CHARS, CharClass, decode, encode, row_ids

#: words that describe an address's structure, not a person: kept to keep tokens readable
STRUCTURAL = (
    "شارع ش طريق ميدان حي عمارة برج مبنى شقة الدور الطابق دور منطقة محافظة مدينة مركز قرية ص.ب الرمز البريدي "
    "street st road rd avenue ave square building bldg tower apartment apt flat floor district city "
    "governorate region province village po box p.o.box postal code zip"
).split()
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ة": "ه", "ى": "ي"})
MAX_WALKS = 200


def normalize(word: str) -> str:
    w = word.casefold().translate(_ALEF).strip(".")
    return w[2:] if w.startswith("ال") and len(w) > 4 else w


def _names(table: str, *cols: str) -> set[str]:
    t = refdata.table(table)
    return {v for c in cols for v in t.column(c).to_pylist()}


@cache
def gazetteer(country: str) -> tuple[frozenset[tuple[str, ...]], int]:
    """Normalised place names as word tuples (plus the longest length) for 'eg' or 'sa'.

    Top-level units (governorates; regions and their capitals) are always places.  Cities and districts
    (``eg_cities``, ``sa_cities``, ``sa_districts``) are places too, except single words that are also
    given names (``فيصل``, ``ناصر`` ...): in an address those usually name a street after a person, and
    a person's name is encrypted, not kept.
    """
    if country == "eg":
        top = _names("eg_governorates", "name_ar", "name_en") - {"خارج الجمهورية", "Born abroad"}
        lower = _names("eg_cities", "name_ar", "name_en")
    else:
        top = _names("sa_regions", "name_ar", "name_en", "capital_ar", "capital_en")
        lower = _names("sa_cities", "name_ar", "name_en") | _names("sa_districts", "name_ar", "name_en")
    given = {normalize(n) for n in _names("names_eg_male", "name_ar", "name_en")
             | _names("names_eg_female", "name_ar", "name_en")}
    tuples = {tuple(normalize(w) for w in n.split()) for n in top}
    for n in lower:
        t = tuple(normalize(w) for w in n.split())
        if not (len(t) == 1 and t[0] in given):
            tuples.add(t)
    tuples |= {(normalize(w),) for w in STRUCTURAL}
    return frozenset(tuples), max(len(t) for t in tuples)


@cache
def _place_index(country: str, keep_places: bool) -> tuple[frozenset[tuple[str, ...]], int]:
    """The kept word tuples and the longest length."""
    places, longest = gazetteer(country)
    if not keep_places:
        places, longest = frozenset((normalize(w),) for w in STRUCTURAL), 1
    return places, longest


_ALNUM = CharClass(str.isalnum)


@dataclass(frozen=True)
class _Trie:
    """The kept word tuples as a prefix table, for matching whole arrays of words level by level.

    ``words`` numbers every normalised word that occurs in a place.  A prefix of length 1 is its word's
    number (``first[w]``: some place starts with it); a longer prefix gets its own number, found by
    looking up ``parent * len(words) + word`` in the sorted ``codes[n]`` (``ids[n]`` holds the numbers).
    ``complete[n][p]`` says whether prefix ``p`` of length ``n + 1`` is a whole place.
    """

    words: dict[str, int]
    first: np.ndarray
    codes: list[np.ndarray]
    ids: list[np.ndarray]
    complete: list[np.ndarray]


@cache
def _trie(country: str, keep_places: bool) -> _Trie:
    places, longest = _place_index(country, keep_places)
    words: dict[str, int] = {}
    for t in sorted(places):
        for w in t:
            words.setdefault(w, len(words))
    first = np.zeros(len(words), dtype=bool)
    first[[words[t[0]] for t in places]] = True
    prefix: dict[tuple[str, ...], int] = {(w,): i for w, i in words.items()}
    codes, ids, complete = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [
        np.array([(w,) in places for w in words], dtype=bool)]
    for n in range(2, longest + 1):
        level = sorted({t[:n] for t in places if len(t) >= n})
        code = np.array([prefix[t[:-1]] * len(words) + words[t[-1]] for t in level], dtype=np.int64)
        order = np.argsort(code)
        codes.append(code[order])
        ids.append(np.arange(len(level), dtype=np.int64)[order])
        complete.append(np.array([t in places for t in level], dtype=bool))
        prefix = {t: i for i, t in enumerate(level)}
    return _Trie(words, first, codes, ids, complete)


#: normalize()'s letter folding, as (from, to) pairs for the vectorised form
_ALEF_PAIRS = (("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ة", "ه"), ("ى", "ي"))
#: words made only of ASCII and Arabic-block characters: there ``str.casefold`` is Arrow's ``utf8_lower``
_PLAIN_WORD = "^[\\x00-\\x7f\\x{0600}-\\x{06ff}]*$"


def normalize_array(words: pa.Array) -> pa.Array:
    """:func:`normalize` of every word of a string array, vectorised (words with characters outside ASCII and the
    Arabic block, whose case folding Arrow's lower-casing does not match, go through :func:`normalize`)."""
    w = pc.utf8_lower(words)
    for a, b in _ALEF_PAIRS:
        w = pc.replace_substring(w, a, b)
    w = pc.utf8_trim(w, ".")
    article = pc.and_(pc.starts_with(w, "ال"), pc.greater(pc.utf8_length(w), 4))
    w = pc.if_else(article, pc.utf8_slice_codeunits(w, 2), w)
    odd = np.flatnonzero(~pc.match_substring_regex(words, _PLAIN_WORD).to_numpy(zero_copy_only=False))
    if len(odd):
        fixed = pa.array([normalize(x) for x in words.take(pa.array(odd)).to_pylist()], pa.string())
        mask = np.zeros(len(words), dtype=bool)
        mask[odd] = True
        w = pc.replace_with_mask(w, pa.array(mask), fixed)
    return w


@cache
def _trie_words(country: str, keep_places: bool) -> pa.Array:
    """The trie's words in the order of their numbers (a value set for ``index_in``)."""
    return pa.array(list(_trie(country, keep_places).words), pa.string())


@dataclass
class _PlaceWords:
    r"""The ``[\w.]`` runs of flat code points and their normalised forms (one per distinct run)."""

    start: np.ndarray
    end: np.ndarray
    row: np.ndarray
    norm: pa.Array  # normalised distinct words
    index: np.ndarray  # word -> index into norm


def _place_words(cps: np.ndarray, row_off: np.ndarray, utf8: tuple[np.ndarray, np.ndarray] | None) -> _PlaceWords:
    """The words of :func:`kept_chars`; ``utf8``: the code points' UTF-8 bytes and the byte offset of every
    character (plus the end), when the caller has them (else they are encoded here)."""
    from .textview import gather

    n = len(cps)
    wc = WORD_CHARS.mask(cps) | (cps == 0x2E)  # a word: a run of [\w.] (letters, digits, "_", ".")
    starts_row = np.zeros(n + 1, dtype=bool)
    starts_row[row_off[:-1]] = True
    before = np.concatenate([[False], wc[:-1]]) & ~starts_row[:n]
    after = np.concatenate([wc[1:], [False]]) & ~starts_row[1:]
    w_start = np.flatnonzero(wc & ~before)
    w_end = np.flatnonzero(wc & ~after) + 1
    w_row = np.searchsorted(row_off, w_start, side="right") - 1
    if not len(w_start):
        return _PlaceWords(w_start, w_end, w_row, pa.array([], pa.string()), np.zeros(0, np.int64))
    data, char_byte = encode_codepoints(cps) if utf8 is None else utf8
    encoded = pc.dictionary_encode(gather(data, char_byte[w_start], char_byte[w_end]))
    return _PlaceWords(w_start, w_end, w_row, normalize_array(encoded.dictionary),
                       encoded.indices.to_numpy(zero_copy_only=False))


def kept_chars(cps: np.ndarray, row_off: np.ndarray, country: str, keep_places: bool = True,
               utf8: tuple[np.ndarray, np.ndarray] | None = None, words: _PlaceWords | None = None) -> np.ndarray:
    r"""Which code points of each value belong to a kept word (a place or a structure word), vectorised.

    Words are the runs of ``[\w.]`` of each value, compared after :func:`normalize`; scanning each value
    left to right, the longest kept word tuple starting at a word is taken and the scan goes on after it
    (a later match never overlaps an earlier one).  A kept tuple covers its words and what lies between
    them.  No Python work per word: distinct words are normalised and looked up with Arrow.  ``utf8``: see
    :func:`_place_words`; ``words``: the words already found (to share them between the two countries).
    """
    n = len(cps)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    w = _place_words(cps, row_off, utf8) if words is None else words
    if len(w.start) == 0:
        return keep
    w_start, w_end, w_row = w.start, w.end, w.row
    trie = _trie(country, keep_places)
    number = pc.fill_null(pc.index_in(w.norm, value_set=_trie_words(country, keep_places)), -1).to_numpy(
        zero_copy_only=False).astype(np.int64)
    wid = number[w.index]
    # the longest kept tuple starting at each word (0: none), one tuple length at a time
    prefix = np.where((wid >= 0) & trie.first[np.maximum(wid, 0)], wid, -1)
    length = np.where((prefix >= 0) & trie.complete[0][np.maximum(prefix, 0)], 1, 0)
    count = len(wid)
    for k in range(1, len(trie.codes)):
        nxt = np.arange(count) + k
        ok = (prefix >= 0) & (nxt < count)
        ok[ok] &= (w_row[nxt[ok]] == w_row[ok]) & (wid[nxt[ok]] >= 0)
        if not ok.any():
            break
        code = prefix[ok] * len(trie.words) + wid[nxt[ok]]
        pos = np.minimum(np.searchsorted(trie.codes[k], code), len(trie.codes[k]) - 1)
        hit = trie.codes[k][pos] == code
        prefix = np.full(count, -1, dtype=np.int64)
        prefix[np.flatnonzero(ok)[hit]] = trie.ids[k][pos[hit]]
        length = np.where((prefix >= 0) & trie.complete[k][np.maximum(prefix, 0)], k + 1, length)
    cand = np.flatnonzero(length > 0)
    if len(cand) == 0:
        return keep
    # left to right within each value: a candidate is taken unless an earlier taken one covers it; the
    # loop runs once per candidate rank (the most candidates any one value has), each step over all values
    c_row = w_row[cand]
    new_row = np.concatenate([[True], c_row[1:] != c_row[:-1]])
    rank = np.arange(len(cand)) - np.maximum.accumulate(np.where(new_row, np.arange(len(cand)), 0))
    free = np.zeros(len(row_off) - 1, dtype=np.int64)  # first word each value's next match may start at
    taken = np.zeros(len(cand), dtype=bool)
    for r in range(int(rank.max()) + 1):
        sel = np.flatnonzero(rank == r)
        ok = cand[sel] >= free[c_row[sel]]
        taken[sel[ok]] = True
        free[c_row[sel[ok]]] = cand[sel[ok]] + length[cand[sel[ok]]]
    first_word = cand[taken]
    spans = np.bincount(w_start[first_word], minlength=n + 1) - np.bincount(
        w_end[first_word + length[first_word] - 1], minlength=n + 1)
    return np.cumsum(spans[:n]) > 0


def kept_both(cps: np.ndarray, row_off: np.ndarray, utf8: tuple[np.ndarray, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`kept_chars` of Egypt and of Saudi Arabia (places kept), the words found once for both."""
    if not len(cps):
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    w = _place_words(cps, row_off, utf8)
    return kept_chars(cps, row_off, "eg", words=w), kept_chars(cps, row_off, "sa", words=w)


def _rows_differing(a: np.ndarray, b: np.ndarray, row_off: np.ndarray) -> np.ndarray:
    """Indices of the rows where the per-character masks ``a`` and ``b`` differ."""
    diff = np.flatnonzero(a != b)
    return np.unique(np.searchsorted(row_off, diff, side="right") - 1)


class _Address(PIIType):
    country: ClassVar[str]
    has_invalid: ClassVar[bool] = True

    def compact(self, value: str) -> str:
        return " ".join(value.split())

    def validate(self, value: str) -> str:
        v = self.compact(value)
        if not v or not any(ch.isalnum() for ch in v):
            raise InvalidFormat("an address has letters or digits")
        return v

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parse:
        """Valid = has a letter or digit (what :meth:`validate` checks), for the whole column at once."""
        present = pc.is_valid(values).to_numpy(zero_copy_only=False)
        cps, off = decode(pc.fill_null(values, "") if values.null_count else values)
        has = np.bincount(row_ids(off)[_ALNUM.mask(cps)], minlength=len(values)) > 0
        return Parse(present & has)

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        keep_places = bool(spec.options.get("keep_places", True)) if spec is not None else True
        from .textview import TextView

        view = TextView(values)
        cps, off = view.cps, view.row_off
        target = kept_chars(cps, off, self.country, keep_places, utf8=(view.data, view.byte_pos(np.arange(
            len(cps) + 1))))
        out = charclass_cps(cps, off, crypto, self.domain, decrypt=decrypt, protect=target)
        data, char_byte = encode_codepoints(out)
        todo = _rows_differing(kept_chars(out, off, self.country, keep_places, utf8=(data, char_byte)), target, off)
        if not len(todo):
            return pa.StringArray.from_buffers(len(off) - 1, pa.py_buffer(char_byte[off].astype(np.int32)),
                                               pa.py_buffer(data))
        for _ in range(MAX_WALKS):
            if not len(todo):
                return encode(out, off)
            # cycle-walk the rows whose token gained or lost a kept word, with the input's kept characters
            lengths = off[todo + 1] - off[todo]
            sub_off = np.concatenate([[0], np.cumsum(lengths)])
            at = np.repeat(off[todo] - sub_off[:-1], lengths) + np.arange(sub_off[-1])
            walked = charclass_cps(out[at], sub_off, crypto, self.domain, decrypt=decrypt, protect=target[at])
            out[at] = walked
            todo = todo[_rows_differing(kept_chars(walked, sub_off, self.country, keep_places), target[at], sub_off)]
        raise RuntimeError("cycle walking did not terminate")  # pragma: no cover


class EgAddress(_Address):
    name: ClassVar[str] = "eg_address"
    description: ClassVar[str] = "Egyptian address, Arabic or English (governorates and structure words kept)"
    domain: ClassVar[str] = "eg_address"
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = int_domain_subkeys("eg_address")
    country: ClassVar[str] = "eg"


class SaAddress(_Address):
    name: ClassVar[str] = "sa_address"
    description: ClassVar[str] = "Saudi address or national-address part (regions/cities and structure kept)"
    domain: ClassVar[str] = "sa_address"
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = int_domain_subkeys("sa_address")
    country: ClassVar[str] = "sa"


_TYPE = EgAddress()
compact, validate, is_valid, format = stdnum_api(_TYPE)
