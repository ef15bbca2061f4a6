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

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit import refdata
from tokenize_kit.utf8 import encode_codepoints, group_bytes

from .base import TEXT_SLICE, ColumnSpec, Crypto, Parse, PIIType, int_domain_subkeys, stdnum_api
from .charclass import CLASSES, _crypt_group, charclass_cps
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
    return _build_trie(*_place_index(country, keep_places))


def _build_trie(places: frozenset[tuple[str, ...]], longest: int) -> _Trie:
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


def _take(wid: np.ndarray, w_row: np.ndarray, n_rows: int, trie: _Trie) -> tuple[np.ndarray, np.ndarray]:
    """The kept word tuples of every value: (index of each tuple's first word, its number of words), in order.

    ``wid``: each word's number in the trie (-1: in no place), ``w_row``: its value (ascending).  Scanning each
    value left to right, the longest kept tuple starting at a word is taken and the scan goes on after it (a later
    match never overlaps an earlier one).  Tuple lengths are found one length at a time over the words that start
    some place; a candidate that no earlier one of its value reaches is taken, and only the chains of reached
    candidates are scanned, once per rank in their chain."""
    count = len(wid)
    at = np.flatnonzero(wid >= 0)
    at = at[trie.first[wid[at]]]  # the words some place starts with
    prefix = wid[at]
    length = np.where(trie.complete[0][prefix], 1, 0)
    live = np.arange(len(at))  # (indices into at) whose prefix of k words is a prefix of some place
    # cont[j]: word j + 1 is in word j's value and in some place (a prefix of k words goes on to word k + 1 exactly
    # when its words up to the k-th are such)
    cont = np.zeros(count, dtype=bool)
    if count > 1:
        np.equal(w_row[1:], w_row[:-1], out=cont[:-1])
        cont[:-1] &= wid[1:] >= 0
    for k in range(1, len(trie.codes)):
        nxt = at[live] + k
        ok = cont[nxt - 1]
        live, nxt = live[ok], nxt[ok]
        if not len(live):
            break
        code = prefix[live] * len(trie.words) + wid[nxt]
        pos = np.minimum(np.searchsorted(trie.codes[k], code), len(trie.codes[k]) - 1)
        hit = trie.codes[k][pos] == code
        live = live[hit]
        prefix[live] = trie.ids[k][pos[hit]]
        done = trie.complete[k][prefix[live]]
        length[live[done]] = k + 1
    found = length > 0
    cand, c_len = at[found], length[found]
    if len(cand) < 2:
        return cand, c_len
    c_row = w_row[cand]
    # candidates reached by an earlier one of their value (its words go on past their first word): only there does
    # the scan decide.  ``reach``: the furthest end of the candidates so far, offset by value so each value starts
    # afresh
    span = np.int64(count + 1)
    reach = np.maximum.accumulate(c_row * span + cand + c_len)
    overlap = (c_row[1:] == c_row[:-1]) & (reach[:-1] - c_row[1:] * span > cand[1:])
    if not overlap.any():
        return cand, c_len
    in_chain = np.zeros(len(cand), dtype=bool)
    in_chain[:-1] |= overlap
    in_chain[1:] |= overlap
    taken = ~in_chain
    chain = np.flatnonzero(in_chain)
    # rank within its chain (a chain: a candidate and the reached ones after it)
    linked = np.zeros(len(chain), dtype=bool)
    linked[1:] = overlap[chain[1:] - 1]
    idx = np.arange(len(chain))
    rank = idx - np.maximum.accumulate(np.where(linked, 0, idx))
    chain_id = np.cumsum(~linked) - 1
    free = np.zeros(int(chain_id[-1]) + 1, dtype=np.int64)  # first word each chain's next match may start at
    for r in range(int(rank.max()) + 1):
        sel = chain[rank == r]
        ids = chain_id[rank == r]
        ok = cand[sel] >= free[ids]
        taken[sel[ok]] = True
        free[ids[ok]] = cand[sel[ok]] + c_len[sel[ok]]
    return cand[taken], c_len[taken]


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
    first_word, length = _take(number[w.index], w_row, len(row_off) - 1, trie)
    if not len(first_word):
        return keep
    spans = np.bincount(w_start[first_word], minlength=n + 1) - np.bincount(
        w_end[first_word + length - 1], minlength=n + 1)
    return np.cumsum(spans[:n]) > 0


# -- the column path ---------------------------------------------------------------------------------------------
#
# A column is read as the lead byte position of every character and a 16-bit key per character (its lead byte and
# the byte after it), which fixes any character of one or two UTF-8 bytes (code points below U+0800: ASCII, the
# Arabic block, Latin-1 ...); lookup tables over the 65,536 keys give what each character is for the address rule
# and for character-class FPE.  Values holding anything else (a character of three or four bytes, or one whose
# case folding is several characters) take :func:`_crypt_values`, the reference implementation.  Every class
# character keeps its UTF-8 length under the permutation, so a token has its value's byte layout: tokens are
# written into a copy of the column's bytes, and the words of a token are the words of its value.

_WORDF, _DOTF, _SLOWF, _ALNUMF = 1, 2, 4, 8
_CLS_SHIFT = 4  # the flags' bits 4-6: the character's charclass class number + 1 (0: none)
#: values per batch of the column path's text work (a batch's arrays stay mostly within the caches); the FF1 calls
#: take each (class, length) group of every batch at once
BATCH = 50_000
_KEY_CHARS = 10  # 6-bit codes of normalised characters per 64-bit word key
_INVALID = 63  # the code of a character that occurs in no kept word


@cache
def _key_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Per 16-bit key (a character's lead byte, and the byte after it in the high half): flags (``[\w.]``, ``.``,
    slow, alnum, and the charclass class number + 1 in bits 4-6), the code point (0 where slow), the charclass class
    number + 1 and numeral."""
    cp_cls = np.zeros(0x800, dtype=np.uint8)
    cp_num = np.zeros(0x800, dtype=np.uint8)
    for k, (_, alpha) in enumerate(CLASSES, start=1):
        members = np.array([ord(c) for c in alpha])
        cp_cls[members] = k
        cp_num[members] = np.arange(len(members))
    cp_all = np.arange(0x800)
    word = np.array([bool(WORD_CHARS.predicate(chr(c))) or c == 0x2E for c in range(0x800)])
    single = np.array([len(chr(c).casefold()) == 1 for c in range(0x800)])
    alnum = np.array([chr(c).isalnum() for c in range(0x800)])
    cp_flags = (np.where(word, _WORDF, 0) | np.where(cp_all == 0x2E, _DOTF, 0) | np.where(single, 0, _SLOWF)
                | np.where(alnum, _ALNUMF, 0)).astype(np.uint8)
    key = np.arange(65536)
    b0, b1 = key & 0xFF, key >> 8
    two = (b0 >= 0xC2) & (b0 <= 0xDF) & (b1 >= 0x80) & (b1 <= 0xBF)
    ok = (b0 < 0x80) | two
    cp = np.where(b0 < 0x80, b0, np.where(two, ((b0 & 0x1F) << 6) | (b1 & 0x3F), 0))
    cls = np.where(ok, cp_cls[cp], 0).astype(np.uint8)
    flags = (np.where(ok, cp_flags[cp], _SLOWF) | cls.astype(np.int64) << _CLS_SHIFT).astype(np.uint8)
    numeral = np.where(ok, cp_num[cp], 0).astype(np.uint8)
    return flags, np.where(ok, cp, 0).astype(np.uint16), cls, numeral


@dataclass(frozen=True)
class _WordCodes:
    """The kept words of one (country, keep_places) as 6-bit character codes, for exact lookups of whole arrays.

    ``code[key]``: the code of a character's normalised form (1..62 for a character of some kept word, 63 for any
    other); a word of up to ``_KEY_CHARS * len(keys)`` characters is its codes packed into 64-bit words
    (character ``i`` at bits ``6 * (i % 10)`` of word ``i // 10``, 0 after its end).  ``table_*``: a hash table
    of the kept words' packed codes without collisions (slot = ``(k0 * mul[0] + k1 * mul[1] ...) >> shift``),
    ``table_id`` the word's number in the trie (-1: empty slot)."""

    code: np.ndarray
    alef: int
    lam: int
    longest: int
    muls: tuple[np.uint64, ...]
    shift: np.uint64
    table_keys: tuple[np.ndarray, ...]
    table_id: np.ndarray
    class_code: tuple[np.ndarray, ...]  # per charclass class: the code of each numeral's character
    heads: np.ndarray  # [length << 12 | code of the first character << 6 | code of the second]: some kept word


@cache
def _word_codes(country: str, keep_places: bool) -> _WordCodes | None:
    """None when the kept words do not fit the scheme (more than 62 distinct characters)."""
    from .charclass import CLASSES

    trie = _trie(country, keep_places)
    alphabet = sorted(set("".join(trie.words)) | {"ا", "ل"})
    if len(alphabet) > 62:
        return None
    index = {ch: i + 1 for i, ch in enumerate(alphabet)}

    def code_of(c: int) -> int:
        f = chr(c).casefold()
        return index.get(f.translate(_ALEF), _INVALID) if len(f) == 1 else _INVALID

    cp_code = np.array([code_of(c) for c in range(0x800)], dtype=np.uint8)
    _, cps, _, _ = _key_tables()
    code = cp_code[cps]
    longest = max(len(w) for w in trie.words)
    n_keys = -(-longest // _KEY_CHARS)
    packed = np.zeros((n_keys, len(trie.words)), dtype=np.uint64)
    for j, w in enumerate(trie.words):
        for i, ch in enumerate(w):
            packed[i // _KEY_CHARS, j] |= np.uint64(index[ch] << (6 * (i % _KEY_CHARS)))
    rng = np.random.default_rng(20261202)
    for bits in range(max(10, (4 * len(trie.words)).bit_length()), 25):
        for _ in range(64):
            muls = tuple(np.uint64(int(rng.integers(1, 2**62)) * 2 + 1) for _ in range(n_keys))
            slot = _slots(packed, muls, np.uint64(64 - bits))
            if len(np.unique(slot)) == len(slot):
                table_keys = tuple(np.zeros(2**bits, dtype=np.uint64) for _ in range(n_keys))
                for t, p in zip(table_keys, packed, strict=True):
                    t[slot] = p
                table_id = np.full(2**bits, -1, dtype=np.int64)
                table_id[slot] = np.arange(len(trie.words))
                class_code = tuple(cp_code[np.array([ord(c) for c in alpha])] for _, alpha in CLASSES)
                heads = np.zeros((longest + 2) << 12, dtype=bool)
                for w in trie.words:
                    at = len(w) << 12 | (index[w[0]] << 6 if w else 0)
                    if len(w) == 0:
                        heads[:4096] = True
                    elif len(w) == 1:
                        heads[at : at + 64] = True  # (any next character)
                    else:
                        heads[at | index[w[1]]] = True
                return _WordCodes(code, index["ا"], index["ل"], longest, muls, np.uint64(64 - bits), table_keys,
                                  table_id, class_code, heads)
    return None  # pragma: no cover


@cache
def _char_table(country: str, keep_places: bool) -> np.ndarray:
    """Per 16-bit key, four bytes in memory order: the flags (see :func:`_key_tables`), the :class:`_WordCodes` code
    (0 where the kept words do not fit its scheme), the charclass numeral and 0, as one uint32: a single gather per
    character gives all three (a gather costs the same for one byte as for four)."""
    flags, _, _, numeral = _key_tables()
    wc = _word_codes(country, keep_places)
    table = np.zeros((65536, 4), dtype=np.uint8)
    table[:, 0] = flags
    if wc is not None:
        table[:, 1] = wc.code
    table[:, 2] = numeral
    return table.view(np.uint32).ravel()


def _slots(keys: np.ndarray | list[np.ndarray], muls: tuple[np.uint64, ...], shift: np.uint64) -> np.ndarray:
    h = keys[0] * muls[0]
    for k, m in zip(keys[1:], muls[1:], strict=True):
        h += k * m
    return (h >> shift).astype(np.intp)


def _word_ids(code: np.ndarray, flags: np.ndarray, start: np.ndarray, end: np.ndarray, wc: _WordCodes,
              dotted: bool = True) -> np.ndarray:
    """The trie number of each word ``[start, end)`` after :func:`normalize` (-1: none); ``code``: the code of every
    character (see :class:`_WordCodes`), ``flags``: its flags (which characters are dots); ``dotted``: False when
    no character is a dot.  Only the words whose length and first two characters some kept word has are looked up
    (about half the words of addresses, few of their tokens')."""
    start = start.copy()
    edge = np.flatnonzero(((flags[start] | flags[end - 1]) & _DOTF) != 0) if dotted and len(start) else start[:0]
    if len(edge):  # strip("."): the runs of dots at either end of these words
        end = end.copy()
        dots = np.flatnonzero(flags & _DOTF)
        s, e = start[edge], end[edge]
        start[edge] = np.minimum(s + _dot_run(dots, np.searchsorted(dots, s), s), e)
        end[edge] = np.maximum(e - _dot_run_back(dots, np.searchsorted(dots, e) - 1, e - 1), start[edge])
    length = end - start
    art = np.flatnonzero(length > 4)
    if len(art):
        art = art[(code[start[art]] == wc.alef) & (code[start[art] + 1] == wc.lam)]
        start[art] += 2
        length[art] -= 2
    length = np.minimum(length, wc.longest + 1).astype(np.uint8)
    head = (length.astype(np.intp) << 12) | (code[start].astype(np.intp) << 6)
    head |= code[np.minimum(start + 1, len(code) - 1)]
    maybe = np.flatnonzero(wc.heads[head])
    out = np.full(len(start), -1, dtype=np.int64)
    out[maybe] = _lookup(code, start[maybe], length[maybe], wc)
    return out


def _lookup(code: np.ndarray, start: np.ndarray, length: np.ndarray, wc: _WordCodes) -> np.ndarray:
    """The trie number of the normalised words of ``length`` characters at ``start`` (-1: none; ``length``: uint8,
    at most one more than the longest kept word).  Words are packed shortest first, so the words still to take a
    character at each place are one stretch of the sorted order."""
    order = np.argsort(length, kind="stable")
    first = np.concatenate([[0], np.cumsum(np.bincount(length, minlength=wc.longest + 2))])
    s_sorted = start[order]
    n_keys = len(wc.muls)
    keys = [np.zeros(len(order), dtype=np.uint64) for _ in range(n_keys)]
    for i in range(wc.longest):
        lo, hi = int(first[i + 1]), int(first[wc.longest + 1])  # the words of more than i characters (and fitting)
        if lo >= hi:
            continue
        c = code[s_sorted[lo:hi] + i].astype(np.uint64)
        keys[i // _KEY_CHARS][lo:hi] |= c << np.uint64(6 * (i % _KEY_CHARS))
    slot = _slots(keys, wc.muls, wc.shift)
    hit = wc.table_keys[0][slot] == keys[0]
    for t, k in zip(wc.table_keys[1:], keys[1:], strict=True):
        hit &= t[slot] == k
    ids = np.where(hit, wc.table_id[slot], -1)
    ids[int(first[wc.longest + 1]) :] = -1  # longer than every kept word
    out = np.empty(len(order), dtype=np.int64)
    out[order] = ids
    return out


def _dot_run(dots: np.ndarray, at: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """How many consecutive dots start at ``pos`` (``at``: the index of the first dot >= pos in ``dots``)."""
    # dots[at + j] == pos + j for the run: the run ends where the dot index and the position stop moving together
    gap = np.flatnonzero(np.diff(dots) != 1)  # dot runs end after these indices
    run_end = np.concatenate([gap, [len(dots) - 1]])  # the last index of each run
    at_c = np.minimum(at, len(dots) - 1)
    starts_here = (at < len(dots)) & (dots[at_c] == pos)
    last = run_end[np.searchsorted(run_end, at_c)]
    return np.where(starts_here, last - at_c + 1, 0)


def _dot_run_back(dots: np.ndarray, at: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """How many consecutive dots end at ``pos`` (``at``: the index of the last dot <= pos in ``dots``)."""
    gap = np.flatnonzero(np.diff(dots) != 1)
    run_start = np.concatenate([[0], gap + 1])  # the first index of each run
    at_c = np.maximum(at, 0)
    ends_here = (at >= 0) & (dots[at_c] == pos)
    first = run_start[np.searchsorted(run_start, at_c, side="right") - 1]
    return np.where(ends_here, at_c - first + 1, 0)


def kept_both(cps: np.ndarray, row_off: np.ndarray, utf8: tuple[np.ndarray, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`kept_chars` of Egypt and of Saudi Arabia (places kept), the words found once for both."""
    if not len(cps):
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    w = _place_words(cps, row_off, utf8)
    return kept_chars(cps, row_off, "eg", words=w), kept_chars(cps, row_off, "sa", words=w)


@dataclass
class _Scan:
    """A column's characters: ``data`` its UTF-8 bytes, ``byte_off`` where each value starts in
    them (plus the end), ``lead`` the byte position of every character, ``row_off`` where each value starts among
    the characters (plus the end), ``lanes`` the :func:`_char_table` entry of every character's 16-bit key as four
    bytes (flags, word code, numeral, 0), ``flags`` the first of them; ``table``: the (country, keep_places) of the
    table."""

    values: pa.Array
    data: np.ndarray
    byte_off: np.ndarray
    lead: np.ndarray
    lanes: np.ndarray
    row_off: np.ndarray
    flags: np.ndarray
    table: tuple[str, bool]
    slow: np.ndarray | None = None  # (slow_rows, once found)

    @classmethod
    def of(cls, values: pa.Array, country: str, keep_places: bool) -> _Scan:
        from .textview import plain_strings

        values = plain_strings(values)
        n = len(values)
        data = group_bytes(values) if n else np.zeros(0, np.uint8)
        off = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1 + values.offset)[values.offset :]
        byte_off = off - off[0] if n else np.zeros(1, dtype=np.int32)
        is_lead = data.view(np.int8) >= -64  # not a continuation byte (0x80..0xBF)
        lead = np.flatnonzero(is_lead)
        m = len(data)
        # every byte and the one after it as a little-endian 16-bit word (an unaligned view: one gather per
        # character; ``np.take`` gathers from it several times faster than indexing does)
        pairs = np.ndarray((max(m - 1, 0),), dtype="<u2", buffer=data.data if m > 1 else bytes(2), strides=(1,))
        if not len(lead):
            key = np.zeros(0, dtype=np.uint16)
        elif lead[-1] == m - 1:  # (the last character is the last byte: it has no next byte)
            key = np.empty(len(lead), dtype=np.uint16)
            np.take(pairs, lead[:-1], out=key[:-1])
            key[-1] = data[-1]
        else:
            key = np.take(pairs, lead).astype(np.uint16, copy=False)
        lanes = np.take(_char_table(country, keep_places), key).view(np.uint8).reshape(-1, 4)
        row_off = np.zeros(n + 1, dtype=np.int64)
        if n:  # (Arrow's character count is the count of lead bytes)
            np.cumsum(pc.utf8_length(values).to_numpy(zero_copy_only=False), out=row_off[1:])
        return cls(values, data, byte_off, lead, lanes, row_off, lanes[:, 0].copy(), (country, keep_places))

    def slow_rows(self) -> np.ndarray:
        """The values with a character the tables do not cover (sorted)."""
        if self.slow is None:
            slow = np.flatnonzero(self.flags & _SLOWF)
            self.slow = np.unique(np.searchsorted(self.row_off, slow, side="right") - 1) if len(slow) else slow
        return self.slow

    def words(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""The runs of ``[\w.]`` within each value: (start, end, value) of each, in order."""
        n = len(self.flags)
        if not n:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        wc = np.bitwise_and(self.flags, _WORDF).view(bool)  # (_WORDF is bit 0: the result is 0 or 1)
        joined = np.zeros(n + 1, dtype=bool)  # joined[i]: character i goes on with the word of character i - 1
        np.logical_and(wc[1:], wc[:-1], out=joined[1:n])
        joined[self.row_off] = False  # (a value's first character starts afresh)
        start = np.flatnonzero(np.greater(wc, joined[:n]))  # (greater: a word character not joined)
        end = np.flatnonzero(np.greater(wc, joined[1:])) + 1  # (a word character the next one does not join)
        first = np.searchsorted(start, self.row_off[:-1])  # each value's first word
        row = np.cumsum(np.bincount(first, minlength=len(start) + 1)[: len(start)]) - 1
        return start, end, row


def _windows(a: np.ndarray, length: int) -> np.ndarray:
    """Every run of ``length`` consecutive elements of the 1-D array ``a``, as rows of a view."""
    return np.lib.stride_tricks.as_strided(a, (len(a) - length + 1, length), (a.strides[0], a.strides[0]))


def _bytes_tables() -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per charclass class: the UTF-8 lead byte of each numeral's character, and its second byte (None: one byte)."""
    out: list[tuple[np.ndarray, np.ndarray | None]] = []
    for _, alpha in CLASSES:
        cps = np.array([ord(c) for c in alpha])
        if cps.max() < 0x80:
            out.append((cps.astype(np.uint8), None))
        else:
            out.append(((0xC0 | (cps >> 6)).astype(np.uint8), (0x80 | (cps & 0x3F)).astype(np.uint8)))
    return out


_BYTES = _bytes_tables()


def _scans(values: pa.Array, country: str, keep_places: bool) -> list[_Scan]:
    """The characters of a column, a :data:`BATCH` of values at a time."""
    from .textview import plain_strings

    values = plain_strings(values)
    return [_Scan.of(values.slice(a, BATCH), country, keep_places) for a in range(0, max(len(values), 1), BATCH)]


def _crypt_column(values: pa.Array, country: str, keep_places: bool, crypto: Crypto, domain: str, decrypt: bool,
                  scans: list[_Scan] | None = None) -> pa.Array:
    """The tokens (or values) of a column: the column path where the tables cover every character, else the
    reference implementation for the values they do not (see the comment above :func:`_key_tables`).  ``scans``:
    :func:`_scans` of the column, if the caller has them."""
    from .textview import plain_strings

    wc = _word_codes(country, keep_places)
    values = plain_strings(values)
    n = len(values)
    if n == 0:
        return values
    if scans is None or scans[0].table != (country, keep_places):
        scans = _scans(values, country, keep_places)
    if wc is None:
        slow = np.arange(n)
    else:
        slow = np.concatenate([scan.slow_rows() + a for a, scan in zip(range(0, n, BATCH), scans, strict=False)])
    if len(slow) == n:
        return _crypt_values(values, country, keep_places, crypto, domain, decrypt)
    if len(slow):
        fast_mask = np.ones(n, dtype=bool)
        fast_mask[slow] = False
        fast_out = _crypt_column(values.filter(pa.array(fast_mask)), country, keep_places, crypto, domain, decrypt)
        slow_out = _crypt_values(values.take(pa.array(slow)), country, keep_places, crypto, domain, decrypt)
        order = np.concatenate([np.flatnonzero(fast_mask), slow])
        where = np.empty(len(order), dtype=np.int64)
        where[order] = np.arange(len(order))
        return pa.concat_arrays([fast_out, slow_out]).take(pa.array(where))
    assert wc is not None
    trie = _trie(country, keep_places)
    batches = [_Batch(scan, wc, trie) for scan in scans]
    # every (class, length) group of all batches in one FF1 call
    groups: dict[tuple[int, int], list[tuple[_Batch, np.ndarray, np.ndarray]]] = {}
    for batch in batches:
        for k, starts, nums in batch.groups():
            groups.setdefault((k, nums.shape[1]), []).append((batch, starts, nums))
    for (k, _), parts in groups.items():
        name, alphabet = CLASSES[k - 1]
        nums = parts[0][2] if len(parts) == 1 else np.concatenate([p[2] for p in parts])
        new = _crypt_group(nums, name, alphabet, crypto, domain, decrypt)
        cut = 0
        for batch, starts, _ in parts:
            batch.put(k, starts, new[cut : cut + len(starts)])
            cut += len(starts)
    outs, walk = [], []
    for a, batch in zip(range(0, n, BATCH), batches, strict=True):
        out, rows = batch.finish()
        outs.append(out)
        walk.append(rows + a)
    out = outs[0] if len(outs) == 1 else pa.concat_arrays(outs)
    rows = np.concatenate(walk)
    if len(rows):  # (once for the column: the check and walk have a fixed cost per call)
        out = _walk(values, out, rows, country, keep_places, crypto, domain, decrypt)
    return out


class _Batch:
    """A batch of the column path: its kept tuples and class runs (:meth:`groups`), its new characters (:meth:`put`)
    and its tokens, checked (:meth:`finish`)."""

    def __init__(self, scan: _Scan, wc: _WordCodes, trie: _Trie) -> None:
        self.scan, self.wc, self.trie = scan, wc, trie
        self.start, self.end, self.w_row = scan.words()
        self.code = scan.lanes[:, 1].copy()
        self.dotted = bool(np.bitwise_and(scan.flags, _DOTF).any())
        self.wid = (_word_ids(self.code, scan.flags, self.start, self.end, wc, self.dotted) if len(self.start)
                    else self.start)
        self.first, self.length = _take(self.wid, self.w_row, len(scan.values), trie)
        self.buf = scan.data.copy()
        self.classes: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # class: its characters, their new numerals

    def groups(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """The subsequences of character-class FPE outside kept tuples (a tuple covers its words and what lies between
        them), grouped for its ``_crypt_group``: yields ``(class number + 1, starts, numerals)`` per class and
        subsequence length, ``numerals`` a (rows, length) matrix and ``starts`` where each row's subsequence starts
        among the class's characters.

        Within a class, its characters (ascending) hold every value's subsequence as one consecutive stretch, so each
        value's stretch starts after the values before it; the values are grouped by the length of their stretch,
        and each group's stretches are copied out of the class's numerals as windows (and written back the same way,
        by :meth:`put`): no index per character."""
        scan = self.scan
        n = len(scan.flags)
        edge = np.zeros(n + 1, dtype=np.int8)
        edge[self.end[self.first + self.length - 1]] = -1
        edge[self.start[self.first]] += 1  # (a tuple may start where another ends: at the start of a value)
        outside = np.cumsum(edge[:n], dtype=np.int32) == 0  # (numpy accumulates int8 slowly)
        cls = scan.flags >> _CLS_SHIFT
        cls *= outside
        present = int(np.bitwise_or.reduce(np.left_shift(np.uint8(1), cls))) if n else 0  # (bit k: class k)
        for k in range(1, len(CLASSES) + 1):
            if not present >> k & 1:
                continue
            pos = np.flatnonzero(cls == k)  # this class's characters, ascending
            bounds = np.searchsorted(pos, scan.row_off)  # where each value's characters start among them
            start = bounds[:-1]
            lengths = np.diff(bounds)
            nums = scan.lanes[:, 2][pos]
            self.classes[k] = (pos, np.empty_like(nums))
            order = np.argsort(lengths.astype(np.uint16) if int(lengths.max()) < 2**16 else lengths, kind="stable")
            by_len = np.bincount(lengths)
            cut = int(by_len[0])
            for length in np.flatnonzero(by_len[1:]).tolist():
                length += 1
                starts = start[order[cut : cut + int(by_len[length])]]
                cut += len(starts)
                yield k, starts, _windows(nums, length)[starts]

    def put(self, k: int, starts: np.ndarray, new: np.ndarray) -> None:
        """The new numerals of the subsequences of class ``k`` starting at ``starts`` (see :meth:`groups`)."""
        _windows(self.classes[k][1], new.shape[1])[starts] = new

    def _write(self) -> None:
        """Write every class's new characters into the tokens' bytes (and their codes), in storage order."""
        for k, (pos, new) in self.classes.items():
            at = self.scan.lead[pos]
            first_byte, second_byte = _BYTES[k - 1]
            self.buf[at] = first_byte[new]
            if second_byte is not None:
                self.buf[1:][at] = second_byte[new]
            self.code[pos] = self.wc.class_code[k - 1][new]

    def finish(self) -> tuple[pa.Array, np.ndarray]:
        """The tokens, and the values to check and cycle-walk (as _crypt_values does).  The words of the result are
        the words of the input, and its kept tuples are the input's unless an encrypted word became a word of some
        place: the values with such a word are scanned again, and those whose kept tuples changed are returned."""
        self._write()
        scan, start, first, length, w_row = self.scan, self.start, self.first, self.length, self.w_row
        out = pa.StringArray.from_buffers(len(scan.values), pa.py_buffer(scan.byte_off.astype(np.int32)),
                                          pa.py_buffer(self.buf))
        in_tuple = np.zeros(len(start) + 1, dtype=np.int8)
        in_tuple[first + length] = -1
        in_tuple[first] += 1
        other = np.flatnonzero(np.cumsum(in_tuple[:-1], dtype=np.int32) == 0)
        none = np.zeros(0, dtype=np.int64)
        if not len(other):
            return out, none
        now = _word_ids(self.code, scan.flags, start[other], self.end[other], self.wc, self.dotted)
        rows = np.unique(w_row[other[now >= 0]])
        if not len(rows):
            return out, none
        # the words of those values, with the result's numbers, scanned again
        first_of = np.searchsorted(w_row, rows)
        counts = np.searchsorted(w_row, rows, side="right") - first_of
        sub_off = np.concatenate([[0], np.cumsum(counts)])
        sub = np.repeat(first_of - sub_off[:-1], counts) + np.arange(int(sub_off[-1]))
        wid_now = self.wid.copy()
        wid_now[other] = now
        sub_row = np.repeat(np.arange(len(rows)), counts)
        f_now, l_now = _take(wid_now[sub], sub_row, len(rows), self.trie)
        was = np.zeros(len(start), dtype=np.int64)
        was[first] = length
        is_now = np.zeros(len(sub), dtype=np.int64)
        is_now[f_now] = l_now
        changed = np.unique(sub_row[was[sub] != is_now])
        return out, rows[changed]


def _walk(values: pa.Array, out: pa.Array, rows: np.ndarray, country: str, keep_places: bool, crypto: Crypto,
          domain: str, decrypt: bool) -> pa.Array:
    """``out`` (the tokens of ``values``, with their byte layout) with the given values checked and cycle-walked
    (until their kept characters are their inputs')."""
    from .textview import TextView

    sub = pa.array(rows)
    before = TextView(values.take(sub))
    target = kept_chars(before.cps, before.row_off, country, keep_places)
    after = TextView(out.take(sub))
    cur, off = after.cps.copy(), after.row_off
    todo = _rows_differing(kept_chars(cur, off, country, keep_places), target, off)
    if not len(todo):
        return out
    cur = _walk_rows(cur, off, target, todo, country, keep_places, crypto, domain, decrypt)
    data, char_byte = encode_codepoints(cur)
    byte_off = np.frombuffer(out.buffers()[1], dtype=np.int32, count=len(out) + 1 + out.offset)[out.offset :]
    lo, hi = byte_off[rows].astype(np.int64), byte_off[rows + 1].astype(np.int64)
    new_off = char_byte[off]
    if not np.array_equal(np.diff(new_off), hi - lo):  # pragma: no cover - class characters keep their length
        raise RuntimeError("a walked token changed its byte length")
    buf = np.frombuffer(out.buffers()[2], dtype=np.uint8).copy()
    idx = np.repeat(lo - new_off[:-1], hi - lo) + np.arange(int(new_off[-1]))
    buf[idx] = data
    return pa.StringArray.from_buffers(len(out), out.buffers()[1], pa.py_buffer(buf), offset=out.offset)


def _walk_rows(out: np.ndarray, off: np.ndarray, target: np.ndarray, todo: np.ndarray, country: str,
               keep_places: bool, crypto: Crypto, domain: str, decrypt: bool) -> np.ndarray:
    """Cycle-walk the values ``todo`` (whose kept characters differ from ``target``) of the code points ``out``."""
    for _ in range(MAX_WALKS):
        if not len(todo):
            return out
        # cycle-walk the rows whose token gained or lost a kept word, with the input's kept characters
        lengths = off[todo + 1] - off[todo]
        sub_off = np.concatenate([[0], np.cumsum(lengths)])
        at = np.repeat(off[todo] - sub_off[:-1], lengths) + np.arange(sub_off[-1])
        walked = charclass_cps(out[at], sub_off, crypto, domain, decrypt=decrypt, protect=target[at])
        out[at] = walked
        todo = todo[_rows_differing(kept_chars(walked, sub_off, country, keep_places), target[at], sub_off)]
    raise RuntimeError("cycle walking did not terminate")  # pragma: no cover


def _crypt_values(values: pa.Array, country: str, keep_places: bool, crypto: Crypto, domain: str, decrypt: bool
                  ) -> pa.Array:
    """The reference implementation of the address tokens, on code points (any characters)."""
    from .textview import TextView

    view = TextView(values)
    cps, off = view.cps, view.row_off
    target = kept_chars(cps, off, country, keep_places, utf8=(view.data, view.byte_pos(np.arange(len(cps) + 1))))
    out = charclass_cps(cps, off, crypto, domain, decrypt=decrypt, protect=target)
    data, char_byte = encode_codepoints(out)
    todo = _rows_differing(kept_chars(out, off, country, keep_places, utf8=(data, char_byte)), target, off)
    if not len(todo):
        return pa.StringArray.from_buffers(len(off) - 1, pa.py_buffer(char_byte[off].astype(np.int32)),
                                           pa.py_buffer(data))
    return encode(_walk_rows(out, off, target, todo, country, keep_places, crypto, domain, decrypt), off)


def _rows_differing(a: np.ndarray, b: np.ndarray, row_off: np.ndarray) -> np.ndarray:
    """Indices of the rows where the per-character masks ``a`` and ``b`` differ."""
    diff = np.flatnonzero(a != b)
    return np.unique(np.searchsorted(row_off, diff, side="right") - 1)


def _keep_places(spec: ColumnSpec | None) -> bool:
    return bool(spec.options.get("keep_places", True)) if spec is not None else True


class _Address(PIIType):
    country: ClassVar[str]
    has_invalid: ClassVar[bool] = True
    slice_values: ClassVar[int] = TEXT_SLICE

    def compact(self, value: str) -> str:
        return " ".join(value.split())

    def validate(self, value: str) -> str:
        v = self.compact(value)
        if not v or not any(ch.isalnum() for ch in v):
            raise InvalidFormat("an address has letters or digits")
        return v

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parse:
        """Valid = has a letter or digit (what :meth:`validate` checks), for the whole column at once; the column's
        characters are kept for :meth:`_crypt`."""
        present = pc.is_valid(values).to_numpy(zero_copy_only=False)
        scans = _scans(values, self.country, _keep_places(spec))
        has = np.zeros(len(values), dtype=bool)
        for a, scan in zip(range(0, len(values), BATCH), scans, strict=False):
            off = scan.row_off
            filled = np.flatnonzero(off[1:] > off[:-1])
            if len(filled):
                has[a + filled] = np.maximum.reduceat(scan.flags & _ALNUMF, off[filled]) > 0
            unsure = np.setdiff1d(scan.slow_rows(), np.flatnonzero(has[a : a + len(scan.values)]), assume_unique=True)
            if len(unsure):  # characters the tables do not cover: one by one
                cps, sub_off = decode(scan.values.take(pa.array(unsure)))
                has[a + unsure] = np.bincount(row_ids(sub_off)[_ALNUM.mask(cps)], minlength=len(unsure)) > 0
        return _Parse(present & has, values, scans)

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        keep_places = _keep_places(spec)
        scans = parsed.scans if isinstance(parsed, _Parse) and parsed.values is values else None
        return _crypt_column(values, self.country, keep_places, crypto, self.domain, decrypt, scans)


@dataclass
class _Parse(Parse):
    """An address column's parse: which values are valid, and the column's characters."""

    values: pa.Array
    scans: list[_Scan]


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
