"""Person names and addresses inside free text, found word by word for whole columns.

Words are runs of letters (with Arabic diacritics and tatweel), and for addresses of letters and digits.  Each
distinct word of a batch is looked up once (name lexicon, cue words, address structure words, gazetteer places,
stop words); the spans are then found with numpy over the words of the whole column.

**Names.**  A *part* is a word of the name lexicon (:mod:`~tokenize_kit.pii.name_lexicon`, compared after
folding alef forms, final ة/ه and ي/ى, diacritics, tatweel and case), a compound (``عبد الرحمن``, also glued), or
such a word after a conjunction ``و`` (``وأحمد``).  A name is a run of parts separated by spaces (``بن``/``bin``
may join them) that has two parts or more, or one part right after a cue word (:data:`NAME_CUES`: العميل،
السيد، الحاج، زوجته، الضامن، Mr, Mrs, customer, guarantor ...).  A single ordinary word that is also a name
(``كريم``، ``سعيد``، ``أمل``، ``نور``) standing alone is not a name.

**Addresses.**  An address starts after an address cue (:data:`ADDRESS_CUES`: يسكن في، العنوان، عنوانه، address,
lives at ...) or at a structure word (:data:`STRUCTURE`: شارع، ش، عمارة، شقة، حي، طريق، مبنى، street,
building ...), taking a house number written just before it, and runs over words, numbers, commas, hyphens and
slashes until a sentence ends, a stop word (:data:`STOP`: a verb such as طلب or a conjunction such as and),
another cue, a number or code taken by another kind, or :data:`MAX_ADDRESS_WORDS` words.  It needs evidence: a
structure word, a gazetteer place or a number.  It is tokenized as ``eg_address`` or ``sa_address`` would (the
country with more gazetteer places in it; Egypt on a tie).

Stability: name tokens are lexicon names of the same group, so the run reads the same; address tokens keep
structure words and places, and the tokenizer walks until every other word keeps its role (an encrypted word
never becomes a stop word, a cue or a place, and the digits never become a phone or an ID), so the span reads
the same.  The free-text layer checks the whole result once more and masks what still reads differently.

>>> view = TextView(pa.array(["العميل كريم يسكن في 12 شارع التحرير، الدقي، الجيزة وطلب مهلة", "كريم جدا"]))
>>> blocked = np.zeros(len(view), dtype=bool)
>>> names, places = find_names(view, blocked), find_addresses(view, blocked)
>>> view.strings(names.starts, names.ends).to_pylist(), view.strings(places.starts, places.ends).to_pylist()
(['كريم'], ['12 شارع التحرير، الدقي، الجيزة'])
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import find_numbers as fn
from . import name_lexicon as nl
from .address import STRUCTURAL, gazetteer, kept_both
from .address import normalize as place_key
from .address import normalize_array as normalize_places
from .textview import DIGIT, LETTER, MARK, SPACE, TATWEEL, TextView, in_set

NAME_CUES = (
    "العميل العميلة عميل عميلة السيد السيدة الاستاذ الاستاذة استاذ استاذة الحاج الحاجة الاخ الاخت ابن ابنه "
    "بنت زوجته زوجها زوج زوجة اخوه اخيه اخته والده والدته والدها والدتها ابوه امه الضامن الضامنة الكفيل الكفيلة "
    "المدعو المدعوة المقترض المقترضة الدكتور الدكتورة دكتور د المهندس المهندسة الشيخ مستر مدام الانسة اسمه اسمها "
    "الاسم "
    "mr mrs ms miss dr sir madam customer client guarantor borrower son daughter wife husband brother sister father "
    "mother named name eng"
).split()
ADDRESS_CUES = (
    "يسكن تسكن يقيم تقيم ساكن ساكنه مقيم مقيمه المقيم المقيمه عنوانه عنوانها العنوان عنوان سكنه سكنها "
    "lives live living resides residing address located"
).split()
#: words that may sit between an address cue and the address
CUE_LINKS = "في ب بـ الجديد الجديده هو at in is on new".split()
#: the structure words an address is kept with (the ``eg_address`` / ``sa_address`` list, so they stay in tokens)
STRUCTURE = tuple(w for w in STRUCTURAL if "." not in w)
STOP = (
    "و او أو ثم لكن بعد قبل حتى لان لأن مع الى إلى عن منذ يوم الساعه تليفون تلفون هاتف موبايل جوال واتساب ايميل بريد "
    "طلب وطلب قال وقال وعد ووعد تم وتم يريد ويريد اتصل واتصل سيدفع وسيدفع رفض ورفض اكد واكد ذكر وذكر افاد وافاد "
    "يرغب سدد وسدد دفع ودفع لم ولم لا ولا لن ولن اكد وعليه عليه الذي التي وهو وهي هو هي "
    "and but or then who which that called said asked promised requested will would to for since because phone "
    "mobile tel email whatsapp paid pay before after until with from regarding about asked promised called visit "
    "reminder meter invoice loan balance due follow call phones id iban رقم الرقم رقمه الهويه القومي الايبان الموبايل "
    "العداد الفاتوره المبلغ الرصيد "
    # the days of the week: الخميس and الجمعه are also lexicon names written with the article (يوم الخميس محمد ...)
    "السبت الاحد الاثنين الثلاثاء الاربعاء الخميس الجمعه"
).split()
CONNECTORS = nl.CONNECTORS
#: one-letter Arabic words written glued to the next: و (and), ف (so), ب (with), ل (to), ك (as)
PREFIX_LETTERS = (0x648, 0x641, 0x628, 0x644, 0x643)
MAX_ADDRESS_WORDS = 12
#: characters that may lie between two words of an address (besides spaces)
ADDRESS_JOINERS = (0x2C, 0x60C, 0x2D, 0x2F, 0x2013, 0x3A)

# word roles (bit flags), looked up once per distinct word
PART, HEAD, CONNECT, NAME_CUE, ADDR_CUE, LINK, STRUCT, PLACE_EG, PLACE_SA, STOPW, NUMBER, ARTICLE = (
    1 << i for i in range(12))
SPECIAL = NAME_CUE | ADDR_CUE | LINK | STRUCT | PLACE_EG | PLACE_SA | STOPW | CONNECT | HEAD


@cache
def _folded(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(nl.fold(w) for w in words)


@cache
def _places(country: str) -> frozenset[str]:
    places, _ = gazetteer(country)
    structure = {place_key(w) for w in STRUCTURE}
    return frozenset(w for t in places for w in t if w not in structure)


def _unprefixed(key: str) -> list[str]:
    """A folded word and its forms without glued one-letter prefixes (والعميل -> العميل, للعميل -> العميل)."""
    out = [key]
    rest = key
    for _ in range(2):
        if len(rest) > 3 and ord(rest[0]) in PREFIX_LETTERS:
            rest = rest[1:]
            out.append(rest)
            if rest.startswith("ل") and not rest.startswith("ال"):
                out.append("ا" + rest)  # للعميل = ل + العميل
    return out


@lru_cache(maxsize=1 << 17)  # bounded: a file of ever-new words (tokens) keeps memory flat
def role(word: str, extra_cues: frozenset[str] = frozenset()) -> int:
    """The role bits of one word."""
    key = nl.fold(word)
    bits = 0
    cue_keys = _unprefixed(key)
    if nl.parse(word) is not None:
        bits |= PART
    elif word.startswith("ال") and nl.parse(word[2:]) is not None:
        bits |= ARTICLE  # السيد, السعيد: a lexicon name written with the article (see find_names)
    if key in nl.heads():
        bits |= HEAD
    if key in _folded(tuple(CONNECTORS)):
        bits |= CONNECT
    if any(k in _folded(tuple(NAME_CUES)) or k in extra_cues for k in cue_keys):
        bits |= NAME_CUE
    if any(k in _folded(tuple(ADDRESS_CUES)) for k in cue_keys):
        bits |= ADDR_CUE
    if key in _folded(tuple(CUE_LINKS)):
        bits |= LINK
    if key in _folded(tuple(STRUCTURE)):
        bits |= STRUCT
    if key in _folded(tuple(STOP)):
        bits |= STOPW
    pk = place_key(word)
    if pk in _places("eg"):
        bits |= PLACE_EG
    if pk in _places("sa"):
        bits |= PLACE_SA
    if word.isdigit():
        bits |= NUMBER
    return bits


_DIGITS_RE = "^[0-9\\x{0660}-\\x{0669}\\x{06f0}-\\x{06f9}]+$"
fold_array = nl.fold_array


@cache
def _value_set(words: frozenset[str]) -> pa.Array:
    return pa.array(sorted(words), pa.string())


def _member(keys: pa.Array, words: frozenset[str]) -> np.ndarray:
    return pc.is_in(keys, value_set=_value_set(words)).to_numpy(zero_copy_only=False)


def lexicon_names(folded: pa.Array) -> np.ndarray:
    """Whether each folded word is a key of the name lexicon (what :func:`name_lexicon.parse` looks up)."""
    return pc.is_in(folded, value_set=nl.key_array()).to_numpy(zero_copy_only=False)


#: roles of recently seen words, per set of extra cue words (bounded: cleared when full)
_ROLE_CACHE: dict[frozenset[str], dict[str, int]] = {}
ROLE_CACHE_SIZE = 1 << 18


def roles_of(words: pa.Array, extra_cues: frozenset[str] = frozenset()) -> np.ndarray:
    """:func:`role` of every word of a string array (the distinct words of a column): the words seen recently
    from a bounded cache (a column is read several times: tokenizing, checking, detokenizing), the others by
    :func:`roles_array`."""
    if len(words) and _no_digit_words(extra_cues):
        # numbers (amounts, dates, most words of a token text) are nearly all new: their roles are a lookup of
        # whole arrays, kept out of the cache (where they would be looked up one by one and crowd out the words)
        number = pc.match_substring_regex(words, _DIGITS_RE).to_numpy(zero_copy_only=False)
        if number.any():
            out = np.empty(len(words), dtype=np.int64)
            num, other = np.flatnonzero(number), np.flatnonzero(~number)
            out[num] = _number_roles(words.take(pa.array(num)))
            if len(other):
                out[other] = _cached_roles(words.take(pa.array(other)), extra_cues)
            return out
    return _cached_roles(words, extra_cues)


def _cached_roles(words: pa.Array, extra_cues: frozenset[str]) -> np.ndarray:
    """:func:`roles_of` through the cache."""
    cache = _ROLE_CACHE.setdefault(extra_cues, {})
    listed = words.to_pylist()
    out = np.fromiter(map(cache.get, listed, itertools.repeat(-1)), dtype=np.int64, count=len(listed))
    missing = np.flatnonzero(out < 0)
    if len(missing):
        new = roles_array(words.take(pa.array(missing)), extra_cues)
        out[missing] = new
        if len(cache) + len(missing) > ROLE_CACHE_SIZE:
            cache.clear()
        cache.update(zip([listed[i] for i in missing.tolist()], new.tolist(), strict=True))
    return out


def roles_array(words: pa.Array, extra_cues: frozenset[str] = frozenset()) -> np.ndarray:
    """:func:`role` of every word of a string array, vectorised: Python runs only for the words whose folded form
    is a lexicon name (to read their layout)."""
    n = len(words)
    bits = np.zeros(n, dtype=np.int64)
    if not n:
        return bits
    number = pc.match_substring_regex(words, _DIGITS_RE).to_numpy(zero_copy_only=False)
    if number.any() and not number.all() and _no_digit_words(extra_cues):
        # a number (most new words of a token text) can only be a place besides: the word lists hold no numbers
        num, other = np.flatnonzero(number), np.flatnonzero(~number)
        bits[num] = _number_roles(words.take(pa.array(num)))
        bits[other] = roles_array(words.take(pa.array(other)), extra_cues)
        return bits
    if number.all() and _no_digit_words(extra_cues):
        return _number_roles(words)
    key = fold_array(words)
    # the cue forms: the word, and without one or two glued one-letter prefixes (see _unprefixed)
    forms = [(key, np.ones(n, dtype=bool))]
    rest, ok = key, np.ones(n, dtype=bool)
    prefixes = pa.array([chr(c) for c in PREFIX_LETTERS], pa.string())
    for _ in range(2):
        ok = ok & (pc.utf8_length(rest).to_numpy(zero_copy_only=False) > 3) & pc.is_in(
            pc.utf8_slice_codeunits(rest, 0, 1), value_set=prefixes).to_numpy(zero_copy_only=False)
        rest = pc.if_else(pa.array(ok), pc.utf8_slice_codeunits(rest, 1), rest)
        forms.append((rest, ok))
        lam = ok & pc.starts_with(rest, "ل").to_numpy(zero_copy_only=False) & ~pc.starts_with(rest, "ال").to_numpy(
            zero_copy_only=False)
        forms.append((pc.binary_join_element_wise("ا", rest, ""), lam))
    name_cues = _folded(tuple(NAME_CUES)) | extra_cues
    address_cues = _folded(tuple(ADDRESS_CUES))
    for form, valid in forms:
        bits |= np.where(valid & _member(form, name_cues), NAME_CUE, 0)
        bits |= np.where(valid & _member(form, address_cues), ADDR_CUE, 0)
    for flag, group in ((HEAD, nl.heads()), (CONNECT, _folded(tuple(CONNECTORS))), (LINK, _folded(tuple(CUE_LINKS))),
                        (STOPW, _folded(tuple(STOP)))):
        bits |= np.where(_member(key, group), flag, 0)
    bits |= kept_roles(words, key)  # structure words and places
    bits |= np.where(number, NUMBER, 0)
    named = np.flatnonzero(lexicon_names(key))
    if len(named):
        parsed = np.array([nl._parse_cached(w) is not None for w in words.take(pa.array(named)).to_pylist()],
                          dtype=bool)
        bits[named[parsed]] |= PART
    # a lexicon name written with the article (السيد, السعيد), when the word itself is not one
    rest = pc.utf8_slice_codeunits(words, 2)
    article = np.flatnonzero(pc.starts_with(words, "ال").to_numpy(zero_copy_only=False) & ((bits & PART) == 0)
                             & lexicon_names(fold_array(rest)))
    if len(article):
        parsed = np.array([nl._parse_cached(w) is not None for w in rest.take(pa.array(article)).to_pylist()],
                          dtype=bool)
        bits[article[parsed]] |= ARTICLE
    return bits


#: the roles of the words the address types keep as they are (structure words and places)
KEPT = STRUCT | PLACE_EG | PLACE_SA


def kept_roles(words: pa.Array, folded: pa.Array | None = None) -> np.ndarray:
    """``roles_of(words) & KEPT`` alone, for whole arrays of mostly new words (a token text's): the two
    lookups those bits come from, without the cues and name parts :func:`roles_array` reads too.  ``folded``:
    :func:`fold_array` of ``words`` when the caller has it."""
    if not len(words):
        return np.zeros(0, dtype=np.int64)
    key = fold_array(words) if folded is None else folded
    pk = normalize_places(words)
    return (np.where(_member(key, _folded(tuple(STRUCTURE))), STRUCT, 0)
            | np.where(_member(pk, _places("eg")), PLACE_EG, 0)
            | np.where(_member(pk, _places("sa")), PLACE_SA, 0)).astype(np.int64)


def _number_roles(words: pa.Array) -> np.ndarray:
    """:func:`roles_array` of words that are all digits (when no word list holds a number)."""
    if not _digit_places():  # (normalising leaves a word of digits as it is: no place then)
        return np.full(len(words), NUMBER, dtype=np.int64)
    pk = normalize_places(words)
    return (NUMBER | np.where(_member(pk, _places("eg")), PLACE_EG, 0)
            | np.where(_member(pk, _places("sa")), PLACE_SA, 0)).astype(np.int64)


def _no_digit_words(extra_cues: frozenset[str]) -> bool:
    """Whether no word list a role is looked up in (besides the places) holds a word of digits only."""
    return _lists_without_digits() and not any(_ALL_DIGITS.match(c) for c in extra_cues)


_ALL_DIGITS = re.compile("^[0-9\u0660-\u0669\u06f0-\u06f9]+$")


@cache
def _digit_places() -> frozenset[str]:
    """The place names (normalised, either country) that are a word of digits only."""
    return frozenset(w for c in ("eg", "sa") for w in _places(c) if _ALL_DIGITS.match(w))


@cache
def _lists_without_digits() -> bool:
    lists = (_folded(tuple(NAME_CUES)), _folded(tuple(ADDRESS_CUES)), nl.heads(), _folded(tuple(CONNECTORS)),
             _folded(tuple(CUE_LINKS)), _folded(tuple(STRUCTURE)), _folded(tuple(STOP)), _lexicon_keys())
    return not any(_ALL_DIGITS.match(w) for group in lists for w in group)


@cache
def _lexicon_keys() -> frozenset[str]:
    return frozenset(nl.lexicon().keys)


@dataclass
class Words:
    """The words of a column: character spans, row, role bits, the gap before each word."""

    start: np.ndarray
    end: np.ndarray
    row: np.ndarray
    roles: np.ndarray
    text: pa.Array
    #: the characters between this word and the previous one of its row are only spaces (1 or more)
    spaced: np.ndarray
    #: ... are spaces, commas, hyphens, slashes or an abbreviation's dot (an address may continue)
    joined: np.ndarray
    #: the word starts its row, or follows something that is neither
    first: np.ndarray
    #: what lies before the word, for addresses: GAP_WITHIN (spaces, a glued hyphen or slash), GAP_SEGMENT (a
    #: comma, or a hyphen between spaces), GAP_BREAK (anything else, a new line, another row)
    gap: np.ndarray
    #: what lies after the word: True where its row's text ends or a sentence does (., ؛, ;, !, ?, ؟, a new line)
    #: before anything else that is not a space
    ends_sentence: np.ndarray


    def without(self, starts: np.ndarray, ends: np.ndarray) -> Words:
        """These words less the spans of whole words ``[start, end)`` (address spans), as :func:`words` finds them
        with those spans blocked too: the other words are the same, and a word whose previous word was dropped
        now follows blocked characters (not spaced, not joined, a break before it)."""
        if not len(starts) or not len(self.start):
            return self
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
        k = np.searchsorted(starts, self.start, side="right") - 1
        inside = (k >= 0) & (self.start < ends[np.maximum(k, 0)])
        idx = np.flatnonzero(~inside)
        # whether the word before it here (if any) is not the one before it in these words
        after = np.concatenate([[True], idx[1:] != idx[:-1] + 1]) if len(idx) else np.zeros(0, dtype=bool)
        if len(idx):
            after[0] = idx[0] != 0
        row = self.row[idx]
        first = self.first[idx].copy()
        prev_row = np.concatenate([[-1], row[:-1]])
        first = np.where(after, row != prev_row, first)
        return Words(self.start[idx], self.end[idx], row, self.roles[idx], self.text.take(pa.array(idx)),
                     self.spaced[idx] & ~after, self.joined[idx] & ~after, first,
                     np.where(after, GAP_BREAK, self.gap[idx]).astype(np.int8), self.ends_sentence[idx])


GAP_WITHIN, GAP_SEGMENT, GAP_BREAK = 0, 1, 2
_SENTENCE_END = (0x2E, 0x61B, 0x3B, 0x21, 0x3F, 0x61F, 0x0A, 0x0D)


def _word_roles(view: TextView, blocked: np.ndarray, extra_cues: frozenset[str] = frozenset()
                ) -> tuple[np.ndarray, np.ndarray, pa.Array, np.ndarray]:
    """The words of :func:`words` alone: (start, end, text, roles)."""
    ws, we = word_spans(view, blocked)
    text = view.strings(ws, we)
    enc = pc.dictionary_encode(text)
    roles_d = roles_of(enc.dictionary, extra_cues)
    roles = roles_d[enc.indices.to_numpy(zero_copy_only=False)] if len(ws) else np.zeros(0, np.int64)
    return ws, we, text, roles


def word_spans(view: TextView, blocked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of the words of :func:`words` alone, for callers that compare words and need no roles."""
    cls = view.cls
    wc = ((cls & (LETTER | MARK | TATWEEL | DIGIT)) != 0) & ~blocked
    # a hyphen or apostrophe between two letters of the row (rare: looked at where they are)
    mark = np.flatnonzero(in_set(view.cps, (0x2D, 0x27)))
    mark = mark[(mark > 0) & (mark < len(wc) - 1)]
    if len(mark):
        letter = wc & ((cls & LETTER) != 0)
        inner = (letter[mark - 1] & letter[mark + 1] & ~blocked[mark] & ~view.row_start[mark]
                 & ~view.row_end[mark])
        wc[mark[inner]] = True
    ws = np.flatnonzero(wc & ~view.prev(wc))
    we = np.flatnonzero(wc & ~view.next(wc)) + 1
    return ws, we


def words(view: TextView, blocked: np.ndarray, extra_cues: frozenset[str] = frozenset()) -> Words:
    """Words (runs of letters, marks, tatweel and digits, with a hyphen or apostrophe inside Latin names) outside
    ``blocked``, with their roles and what separates each from the one before."""
    cls = view.cls
    ws, we, text, roles = _word_roles(view, blocked, extra_cues)
    row = view.row[ws] if len(ws) else np.zeros(0, np.int64)
    n = len(ws)
    same_row = np.zeros(n, dtype=bool)
    same_row[1:] = row[1:] == row[:-1]
    spaced = np.zeros(n, dtype=bool)
    joined = np.zeros(n, dtype=bool)
    first = ~same_row
    gap = np.full(n, GAP_BREAK, dtype=np.int8)
    if n > 1:
        # what lies between each word and the one before it in its row: the gaps' characters gathered (a small
        # share of the text), counted per gap
        cps = view.cps
        lo, hi = we[:-1], ws[1:]
        g = np.flatnonzero(same_row[1:] & (hi > lo))
        glo, glen = lo[g], hi[g] - lo[g]
        goff = np.zeros(len(g) + 1, dtype=np.int64)
        np.cumsum(glen, out=goff[1:])
        at = np.repeat(glo - goff[:-1], glen) + np.arange(int(goff[-1]), dtype=np.int64)
        c, b = cps[at], blocked[at]
        space = ((cls[at] & SPACE) != 0) & (c != 0x0A) & (c != 0x0D)
        comma = in_set(c, (0x2C, 0x60C))
        dash = in_set(c, (0x2D, 0x2013))
        dot = c == 0x2E
        joiner = in_set(c, ADDRESS_JOINERS) | space
        other = ~(space | comma | dash | dot | in_set(c, (0x2F, 0x3A))) | b
        bad_join_c = ~joiner | b
        # one OR over each gap's characters: what any of them is, and what any but the first is (a gap may
        # start with an abbreviation's dot and nothing after it may break the address)
        later = np.ones(len(at), dtype=bool)
        later[goff[:-1]] = False
        bits = ((~space | b) * np.uint16(1) | other * np.uint16(2) | comma * np.uint16(4) | dash * np.uint16(8)
                | space * np.uint16(16) | bad_join_c * np.uint16(32) | dot * np.uint16(64)
                | (bad_join_c & later) * np.uint16(128) | (dot & later) * np.uint16(256)).astype(np.uint16)
        any_bits = np.bitwise_or.reduceat(bits, goff[:-1]) if len(g) else np.zeros(0, dtype=np.uint16)
        struct_before = (roles[:-1][g] & STRUCT) != 0
        dot_first = cps[glo] == 0x2E
        spaced[1 + g] = (any_bits & 1) == 0
        # "ش." / "St." : the dot of an abbreviated structure word, followed by a space
        no_bad_join, no_later_bad_join = (any_bits & 32) == 0, (any_bits & 128) == 0
        joined[1 + g] = no_bad_join | ((glen >= 2) & dot_first & struct_before & no_later_bad_join)
        ok = (any_bits & 2) == 0
        abbrev = dot_first & ((any_bits & 256) == 0) & struct_before  # (the first character the only dot)
        ok &= ((any_bits & 64) == 0) | abbrev
        seg = ((any_bits & 4) != 0) | (((any_bits & 8) != 0) & ((any_bits & 16) != 0))
        gap[1 + g] = np.where(ok, np.where(seg, GAP_SEGMENT, GAP_WITHIN), GAP_BREAK)
    # the first character after each word that is not a space (or its row's end)
    ends_sentence = np.zeros(n, dtype=bool)
    if n:
        cps = view.cps
        plain_space = np.zeros(len(cps) + 2, dtype=bool)  # (two past the end: never a space)
        plain_space[:-2] = ((cls & SPACE) != 0) & (cps != 0x0A) & (cps != 0x0D)
        # mostly the character right after the word, or the one after a single space: looked at directly, and
        # only the words followed by more spaces searched for
        at = np.where(plain_space[we], we + 1, we)
        far = np.flatnonzero(plain_space[at])
        if len(far):
            nonspace = np.flatnonzero(~plain_space)
            at[far] = nonspace[np.searchsorted(nonspace, at[far])]
        at = np.minimum(at, len(cps))
        row_end = view.row_off[row + 1]
        inside = at < row_end
        ends_sentence = ~inside
        ends_sentence[inside] = in_set(cps[at[inside]], _SENTENCE_END) & ~blocked[at[inside]]
    return Words(ws, we, row, roles, text, spaced, joined, first, gap, ends_sentence)


def _runs(ok: np.ndarray, link: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of consecutive items where ``ok`` holds and each item but the first is ``link``ed to the one
    before: (first item, last item) of each run."""
    start = ok & ~(np.concatenate([[False], ok[:-1]]) & link)
    end = ok & ~(np.concatenate([ok[1:], [False]]) & np.concatenate([link[1:], [False]]))
    return np.flatnonzero(start), np.flatnonzero(end)


@dataclass
class NameSpans:
    """Name spans: character [start, end) and, for every part, its span (a part after a glued ``و`` starts after
    it), its position in the name, the span it belongs to, and what is written right before it that could read
    as one name with it (the glued letter, or a compound head and a space; "" for most parts)."""

    starts: np.ndarray
    ends: np.ndarray
    part_start: np.ndarray
    part_end: np.ndarray
    part_pos: np.ndarray
    part_span: np.ndarray
    part_context: pa.Array | None = None


def find_names(view: TextView, blocked: np.ndarray, extra_cues: frozenset[str] = frozenset(),
               w: Words | None = None, beside: np.ndarray | None = None) -> NameSpans:
    """Name spans (see the module docstring).  ``beside``: characters of names found already (a row's own name
    in its text); one part right before or after such a name, spaces between, is a name too (``اسامة`` before
    the row's ``عمر ماهر``, when the token could not carry its spelling)."""
    w = words(view, blocked, extra_cues) if w is None else w
    n = len(w.start)
    z = np.zeros(0, np.int64)
    if not n:
        return NameSpans(z, z, z, z, z, z)
    part = (w.roles & PART) != 0
    pstart = w.start.copy()
    # "وأحمد", "بعبدالرحمن": a conjunction or preposition glued to a name
    glued = ~part & in_set(view.cps[w.start], PREFIX_LETTERS) & (w.end - w.start > 2)
    if glued.any():
        idx = np.flatnonzero(glued)
        sub = view.strings(w.start[idx] + 1, w.end[idx])
        ok = np.zeros(len(idx), dtype=bool)
        named = np.flatnonzero(lexicon_names(fold_array(sub)))  # (parse needs its folded form listed)
        if len(named):
            ok[named] = [nl._parse_cached(x) is not None for x in sub.take(pa.array(named)).to_pylist()]
        part[idx[ok]] = True
        pstart[idx[ok]] += 1
    # compounds: a head, one space, a word, together a lexicon name
    head = (w.roles & HEAD) != 0
    comp = np.zeros(n, dtype=bool)
    cand = np.flatnonzero(head[:-1] & (w.start[1:] == w.end[:-1] + 1) & (w.row[1:] == w.row[:-1]))
    cand = cand[view.cps[w.end[cand]] == 0x20]
    if len(cand):
        pair = view.strings(w.start[cand], w.end[cand + 1])
        ok = np.array([nl.parse(s) is not None for s in pair.to_pylist()], dtype=bool)
        comp[cand[ok]] = True
    pend = w.end.copy()
    absorbed = np.zeros(n, dtype=bool)
    absorbed[1:] = comp[:-1]
    pend[comp] = w.end[np.flatnonzero(comp) + 1]
    part = (part | comp) & ~absorbed
    # a head standing alone before a word, one space between (أبو زيد, أبو العلا: no lexicon compound, a family
    # name): inside a name (a part before the head, or the word after it a part) the word is a part and the
    # head a member kept as it is, like بن; the part's token is walked so the two never read as a compound
    lone = head & ~comp & ~absorbed & ~part
    head_member = np.zeros(n, dtype=bool)
    hc = np.flatnonzero(lone[:-1] & (w.start[1:] == w.end[:-1] + 1) & (w.row[1:] == w.row[:-1]))
    hc = hc[view.cps[w.end[hc]] == 0x20]
    if len(hc):
        x = hc + 1
        word_ok = (((w.roles[x] & (SPECIAL | NUMBER)) == 0) | part[x]) & ~absorbed[x]
        prev = np.maximum(hc - 1, 0)
        prev_part = (hc > 0) & part[prev] & w.spaced[hc] & (w.row[prev] == w.row[hc])
        sel = word_ok & (prev_part | part[x])
        head_member[hc[sel]] = True
        part[x[sel]] = True
    # "محمد السيد", "العميلة السيد السيد": a lexicon name written with the article ال is a part right after
    # another part, a cue or another such word, or right before a part; the article is the part's context (its
    # token is ال + the name's token, walked until the two do not read as another lexicon name).  Alone, or a
    # cue (السيد "Mr.") before a name, it stays.
    art = ((w.roles & ARTICLE) != 0) & ~part & ~absorbed & ~comp & ((w.roles & STOPW) == 0)
    if art.any():
        prev_ok = np.zeros(n, dtype=bool)
        prev_ok[1:] = w.spaced[1:] & (((w.roles[:-1] & NAME_CUE) != 0) | part[:-1] | art[:-1])
        next_ok = np.zeros(n, dtype=bool)
        next_ok[:-1] = w.spaced[1:] & part[1:] & ((w.roles[:-1] & NAME_CUE) == 0)
        art &= prev_ok | next_ok
        part |= art
        pstart[art] += 2
    connect = (((w.roles & CONNECT) != 0) | head_member) & ~part
    # a run: parts (and connectors between parts) separated by spaces only; skip the absorbed words
    keep = ~absorbed
    idx = np.flatnonzero(keep)
    kp, kc = part[idx], connect[idx]
    spaced = w.spaced[idx].copy()
    # the word after a compound follows its head: its own gap is the one before the head's second word
    spaced[1:] &= w.row[idx[1:]] == w.row[idx[:-1]]
    member = kp | kc
    s_i, e_i = _runs(member, spaced)
    if not len(s_i):
        return NameSpans(z, z, z, z, z, z)
    # each run from its first part to its last (connectors only between parts)
    m = len(idx)
    run = np.full(m, -1, dtype=np.int64)
    mark = np.zeros(m + 1, dtype=np.int64)
    np.add.at(mark, s_i, 1)
    np.add.at(mark, e_i + 1, -1)
    in_run = np.cumsum(mark[:-1]) > 0
    starts = np.zeros(m, dtype=np.int64)
    starts[s_i] = 1
    run[in_run] = (np.cumsum(starts) - 1)[in_run]
    parts_at = np.flatnonzero(kp & in_run)
    if not len(parts_at):
        return NameSpans(z, z, z, z, z, z)
    pr = run[parts_at]
    new = np.concatenate([[True], pr[1:] != pr[:-1]])
    first_part = parts_at[new]
    last_part = parts_at[np.concatenate([new[1:], [True]])]
    count = np.diff(np.concatenate([np.flatnonzero(new), [len(parts_at)]]))
    # one part is a name only right after a cue word (spaces, or a colon, between them)
    fw = idx[first_part]
    prev = np.maximum(fw - 1, 0)
    cue_ok = (fw > 0) & ((w.roles[prev] & NAME_CUE) != 0) & (w.row[prev] == w.row[fw])
    if cue_ok.any():
        c = np.flatnonzero(cue_ok)
        gap = pc.utf8_trim_whitespace(view.strings(w.end[prev[c]], w.start[fw[c]]))
        cue_ok[c] = pc.is_in(gap, value_set=pa.array(["", ":", ".", "-", ":-"])).to_numpy(zero_copy_only=False)
    if beside is not None and beside.any():
        cue_ok |= _beside(view, beside, w.start[fw], w.end[idx[last_part]])
    good = (count >= 2) | cue_ok
    first_part, last_part = first_part[good], last_part[good]
    span_id = np.cumsum(good) - 1
    keep_part = good[np.cumsum(new) - 1]
    parts_at, pspan = parts_at[keep_part], span_id[np.cumsum(new) - 1][keep_part]
    # position of a part in its name: members (parts and connectors) since the name's first part
    member_index = np.cumsum(member) - 1
    pos = member_index[parts_at] - member_index[first_part][pspan]
    wp = idx[parts_at]
    # context: a glued letter, or a compound head one space before the name's first part or kept inside it
    ctx_start = np.where(pstart[wp] > w.start[wp], w.start[wp], pstart[wp])
    before = np.maximum(wp - 1, 0)
    headed = (ctx_start == pstart[wp]) & (wp > 0) & ((w.roles[before] & HEAD) != 0) & (
        (pos == 0) | head_member[before])
    headed &= (w.row[before] == w.row[wp]) & (w.end[before] + 1 == pstart[wp])
    if headed.any():
        hs = np.flatnonzero(headed)
        headed[hs] = view.cps[w.end[before[hs]]] == 0x20
    ctx_start = np.where(headed, w.start[before], ctx_start)
    context = view.strings(ctx_start, pstart[wp])
    return NameSpans(pstart[idx[first_part]], pend[idx[last_part]], pstart[wp], pend[wp], pos.astype(np.int64),
                     pspan.astype(np.int64), context)


def _beside(view: TextView, marked: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether the first character that is not a space before each span, or after it, in the same row, is
    ``marked``."""
    nonspace = np.flatnonzero((view.cls & SPACE) == 0)
    if not len(nonspace):
        return np.zeros(len(starts), dtype=bool)
    k = np.searchsorted(nonspace, starts) - 1
    left = nonspace[np.maximum(k, 0)]
    ok = (k >= 0) & marked[left] & (view.row[left] == view.row[starts])
    k2 = np.searchsorted(nonspace, ends)
    right = nonspace[np.minimum(k2, len(nonspace) - 1)]
    ok |= (k2 < len(nonspace)) & marked[right] & (view.row[right] == view.row[np.maximum(ends - 1, 0)])
    return ok


@dataclass
class AddressSpans:
    starts: np.ndarray
    ends: np.ndarray
    country: np.ndarray  # 0 Egypt, 1 Saudi Arabia


def find_addresses(view: TextView, blocked: np.ndarray, w: Words | None = None) -> AddressSpans:
    """Address spans (see the module docstring).  After its first comma-separated segment an address goes on
    only into segments that hold address evidence (``، الدقي، الجيزة``), so the sentence after it is not
    taken."""
    w = words(view, blocked) if w is None else w
    n = len(w.start)
    z = np.zeros(0, np.int64)
    if not n:
        return AddressSpans(z, z, z)
    r = w.roles
    struct = (r & STRUCT) != 0
    cue = (r & ADDR_CUE) != 0
    number = (r & NUMBER) != 0
    # a place: a word the address types keep (a whole gazetteer name), so tokens show the same evidence
    # an address starts at a cue or a structure word and stays in its row: places are looked for in those rows only
    place_eg, place_sa = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    rows = np.unique(w.row[cue | struct])
    if len(rows):
        cps, off, utf8, _ = view.subset(rows)
        chosen = np.zeros(view.rows, dtype=bool)
        chosen[rows] = True
        in_rows = np.flatnonzero(chosen[w.row])
        shift = off[np.searchsorted(rows, w.row[in_rows])] - view.row_off[w.row[in_rows]]  # to the rows' positions
        ws, we = w.start[in_rows] + shift, w.end[in_rows] + shift
        for kept, place in zip(kept_both(cps, off, utf8), (place_eg, place_sa), strict=True):
            csum = np.zeros(len(kept) + 1, dtype=np.int64)
            np.cumsum(kept, out=csum[1:])
            place[in_rows] = ~struct[in_rows] & (csum[we] - csum[ws] == we - ws)
    place = place_eg | place_sa
    evidence = struct | number | place
    stop = ((r & (STOPW | NAME_CUE | ADDR_CUE)) != 0) & ~evidence  # (الشيخ: a cue, and part of الشيخ زايد)
    # a place written inside a run of name parts (العجمي, عابدين, الرشيد in محمد عابدين العجمي) is a family name
    # there, not a sign that the address goes on: the name after an address must end it whatever names its
    # token has, or the token text reads the name into the address
    part = (r & PART) != 0
    beside_part = np.zeros(n, dtype=bool)
    linked = w.spaced[1:] & (w.row[1:] == w.row[:-1])
    beside_part[1:] |= part[:-1] & linked
    beside_part[:-1] |= part[1:] & linked
    evidence &= ~(part & beside_part)
    # an address starts at a cue or a structure word and never leaves its row: the walks read those rows only
    if not len(rows):
        return AddressSpans(z, z, z)
    sub = in_rows
    n = len(sub)
    gap_s, stop_s, ev_s, place_s = w.gap[sub], stop[sub], evidence[sub], place[sub]
    begin = np.zeros(n, dtype=bool)
    # after a cue and at most two link words ("يسكن في", "address:", "lives at")
    i = np.flatnonzero(cue[sub])
    j = i + 1
    moving = np.ones(len(i), dtype=bool)
    link = (r[sub] & LINK) != 0
    for _ in range(2):
        jc = np.minimum(j, n - 1)
        moving &= (j < n) & (gap_s[jc] != GAP_BREAK) & link[jc]
        j = j + moving
    jc = np.minimum(j, n - 1)
    begin[j[(j < n) & (gap_s[jc] != GAP_BREAK) & ~stop_s[jc]]] = True
    # at a structure word, with a house number written just before it
    si = np.flatnonzero(struct[sub])
    number_s = number[sub]
    with_number = si[(si > 0) & (gap_s[si] == GAP_WITHIN) & number_s[np.maximum(si - 1, 0)]]
    begin[with_number - 1] = True
    begin[np.setdiff1d(si, with_number)] = True
    b = np.flatnonzero(begin)
    # whether an address reaching word k - 1 goes on to word k: that depends on the words alone, not on where the
    # address began (the walk's length limit aside)
    on = np.zeros(n + 1, dtype=bool)
    on[1:n] = (gap_s[1:] != GAP_BREAK) & ~stop_s[1:]
    # only the words some walk may reach matter: a begin lies before them, less than MAX_ADDRESS_WORDS words back
    # and with no break or stop word between
    word = np.arange(n)
    lo = np.maximum(np.maximum.accumulate(np.where(on[:n], 0, word)), word - MAX_ADDRESS_WORDS + 1)
    before = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(begin, out=before[1:])
    on[:n] &= before[word] > before[lo]
    tail = on[1:n] & (gap_s[1:] == GAP_WITHIN) & place_s[:-1] & ~ev_s[1:]
    seg = on[1:n] & (gap_s[1:] == GAP_SEGMENT)
    if tail.any() or seg.any():  # the words where the address may end
        padded = (_pad(gap_s, GAP_BREAK), _pad(stop_s, False), _pad(ev_s, False), _pad(w.ends_sentence[sub], False))
        k = np.flatnonzero(tail) + 1
        on[k] = _name_tail(k, *padded)
        k = np.flatnonzero(seg) + 1
        on[k] = _segment_ok(k, *padded)
    # each begin's walk: on to the word before the next word it cannot go on to, or MAX_ADDRESS_WORDS words
    off_at = np.flatnonzero(~on[1:]) + 1
    e = np.minimum(off_at[np.searchsorted(off_at, b, side="right")] - 1, b + MAX_ADDRESS_WORDS - 1)
    ev_c, eg_c, sa_c = (np.concatenate([[0], np.cumsum(x)]) for x in (ev_s, place_eg[sub], place_sa[sub]))
    has = ev_c[e + 1] != ev_c[b]  # an address needs evidence
    b, e = b[has], e[has]
    # first come first served: a begin inside an address taken before is not one (ends grow with begins, and an
    # address stays in its row: decided row by row, the first undecided begin of each row at every round)
    row_s = w.row[sub][b]
    accepted = np.zeros(len(b), dtype=bool)
    undecided = np.ones(len(b), dtype=bool)
    while undecided.any():
        last_end = np.maximum.accumulate(np.concatenate([[-1], np.where(accepted, e, -1)[:-1]]))
        undecided &= b > last_end
        u = np.flatnonzero(undecided)
        if not len(u):
            break
        first = u[np.concatenate([[True], row_s[u[1:]] != row_s[u[:-1]]])]
        accepted[first] = True
        undecided[first] = False
    b, e = b[accepted], e[accepted]
    country = (sa_c[e + 1] - sa_c[b] > eg_c[e + 1] - eg_c[b]).astype(np.int64)
    first_w, last_w = sub[b], sub[e]
    return AddressSpans(w.start[first_w], w.end[last_w], country)


def _pad(x: np.ndarray, fill: int | bool) -> np.ndarray:
    """``x`` with a few entries after its end (a walk reads at most 4 words on)."""
    return np.concatenate([x, np.full(5, fill, dtype=x.dtype)])


def _has_evidence(k: np.ndarray, gap: np.ndarray, stop: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """Whether the segment starting at each word ``k`` shows address evidence within its first 4 words, before a
    stop (arrays padded by :func:`_pad`: a break and nothing else after the last word)."""
    alive = ~stop[k]
    out = alive & evidence[k]
    for d in (1, 2, 3):
        alive &= (gap[k + d] == GAP_WITHIN) & ~stop[k + d]
        out |= alive & evidence[k + d]
    return out


def _name_tail(k: np.ndarray, gap: np.ndarray, stop: np.ndarray, evidence: np.ndarray,
               ends_sentence: np.ndarray) -> np.ndarray:
    """Whether the one or two words from each word ``k`` end their segment (a comma or the sentence follows): the
    rest of a place's name ("قرية عرب بخواج،", "حي النخيل الشمالي،"), not a new sentence (padded arrays)."""
    def more(j: np.ndarray) -> np.ndarray:
        return (gap[j] == GAP_WITHIN) & ~stop[j] & ~evidence[j]

    one = more(k + 1)
    last = k + one
    return ~stop[k] & ~(one & more(k + 2)) & (ends_sentence[last] | (gap[last + 1] == GAP_SEGMENT)
                                              | (last + 1 >= len(gap) - 5))


def _segment_ok(k: np.ndarray, gap: np.ndarray, stop: np.ndarray, evidence: np.ndarray,
                ends_sentence: np.ndarray) -> np.ndarray:
    """Whether an address goes on into the segment starting at each word ``k``: it shows evidence, or it is one or
    two words that end the sentence or come before a segment with evidence (``، فيصل، الجيزة``), or one word
    before a stop (``, Olaya, paid``) (padded arrays)."""
    def more(j: np.ndarray) -> np.ndarray:
        return (gap[j] == GAP_WITHIN) & ~stop[j]

    one = more(k + 1)
    last = k + one
    after = last + 1
    short = ~(one & more(k + 2))
    ends = ends_sentence[last] | (after >= len(gap) - 5)
    on = (gap[after] == GAP_SEGMENT) & (_has_evidence(after, gap, stop, evidence) | (~one & stop[after]))
    return ~stop[k] & (_has_evidence(k, gap, stop, evidence) | (short & (ends | on)))


#: roles an encrypted word of an address must not take (it had none of them, or it would have been kept or
#: would have ended the address)
ADDRESS_ROLES = STOPW | NAME_CUE | ADDR_CUE


def address_roles(view: TextView, kept: np.ndarray) -> np.ndarray:
    """Per row of ``view``: whether some word outside ``kept`` has one of :data:`ADDRESS_ROLES`, plus the number
    of phones and IDs the row shows on its own (what an address token must keep as it was)."""
    ws, _, _, roles = _word_roles(view, kept)  # (the words' gaps are not needed here)
    bad = np.zeros(view.rows, dtype=np.int64)
    hit = (roles & ADDRESS_ROLES) != 0
    if hit.any():
        np.add.at(bad, view.row[ws[hit]], 1)
    nums = fn.find(view)
    if len(nums.chosen):
        np.add.at(bad, view.row[nums.starts], 1 << 20)
    return bad
