"""The name lexicon behind ``person_name`` tokens and names found in free text, and how a name is written.

The lexicon (``tokenize_kit/refdata/name_lexicon.csv``, frozen: tokens depend on it) lists given names (female,
male) and family names in Arabic and Latin script.  A name *part* found in it is tokenized as another entry of
the same **group**: same script and role (female given, male given, family), compound or not (``عبد الرحمن``),
and for Arabic the same letter class in the first position (an alef, which people write with or without its
hamza: ``أحمد``/``احمد``) and in the last (ة/ه, ي/ى).  So the way the original was written (its *layout*) fits
the token: a name written as the lexicon spells it gets a token spelled as the lexicon spells it, a variant (a bare
alef for a hamza, lower or upper case, a compound written glued) is written into the token the same way and undone
the same way, and the final ة/ه or ي/ى, which people use interchangeably, is written as the original wrote it.  An
alef variant fits only tokens whose own alef differs from it, and rarer variations (a hamza form inside the word,
diacritics, tatweel) fit only some tokens: the tokenizer walks to one they fit (cycle walking), so every part comes
back exactly as it was written.

Words are compared after :func:`fold`: Arabic diacritics and tatweel removed, alef forms made plain alef, final
ة made ه and final ى made ي, Latin letters lower-cased.

>>> lex = lexicon()
>>> part = parse("احمد")
>>> lex.canon[part.entry], part.layout.first
('أحمد', 'ا')
>>> write("إبراهيم", part.layout)
'ابراهيم'
>>> write("Mohamed", parse("AHMED").layout)
'MOHAMED'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit import refdata

from .intdomain import crypt_ints
from .textview import SPACE, TextView

if TYPE_CHECKING:
    from .base import Crypto

#: Arabic letters people interchange, folded for comparison
ALEFS = "اأإآ"
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا"})
_MARKS = {chr(c) for c in range(0x64B, 0x660)} | {"\u0670", "\u0640"}
#: first words of compound names besides those the lexicon lists (عبد الرحمن, أبو بكر)
COMPOUND_HEADS = frozenset({"عبد", "ابو"})
#: words that join the parts of a name (son / daughter of): kept as they are, and they count as a position
CONNECTORS = ("بن", "بنت", "ابن", "bin", "bint", "ibn")
ROLES = ("female", "male", "family")


def _strip_marks(word: str) -> tuple[str, tuple[tuple[int, str], ...]]:
    """The word without diacritics and tatweel, and where they were (index into the stripped word, characters)."""
    if not any(ch in _MARKS for ch in word):
        return word, ()
    out: list[str] = []
    marks: list[tuple[int, str]] = []
    run: list[str] = []
    for ch in word:
        if ch in _MARKS:
            run.append(ch)
        else:
            if run:
                marks.append((len(out), "".join(run)))
                run = []
            out.append(ch)
    if run:
        marks.append((len(out), "".join(run)))
    return "".join(out), tuple(marks)


def fold(word: str) -> str:
    """The comparison key of a word, or of a two-word name word by word (see the module docstring)."""
    base, _ = _strip_marks(word)
    if base.isascii():
        return base.lower()
    base = base.translate(_FOLD)
    if " " in base:
        return " ".join(_fold_end(w) for w in base.split(" "))
    return _fold_end(base)


#: the characters :func:`fold` removes (diacritics and tatweel, :data:`_MARKS`), as a regex class
_MARKS_RE = "[\\x{064b}-\\x{065f}\\x{0670}\\x{0640}]"


def fold_array(words: pa.Array) -> pa.Array:
    """:func:`fold` of every word, or two-word name folded word by word, of a string array, vectorised.

    >>> names = ["أحمدَ", "فاطمة", "Mona", "حمزة الزهراء", "ابو  موسى"]
    >>> fold_array(pa.array(names)).to_pylist() == [fold(w) for w in names]
    True
    """
    base = pc.replace_substring_regex(words, _MARKS_RE, "")
    arabic = base
    for a in "أإآ":
        arabic = pc.replace_substring(arabic, a, "ا")
    # (a final letter of each word: before a space or at the end)
    arabic = pc.replace_substring_regex(pc.replace_substring_regex(arabic, "ة( |$)", "ه\\1"), "ى( |$)", "ي\\1")
    return pc.if_else(pc.string_is_ascii(base), pc.utf8_lower(base), arabic)


def _fold_end(word: str) -> str:
    if word.endswith("ة"):
        return word[:-1] + "ه"
    if word.endswith("ى"):
        return word[:-1] + "ي"
    return word


def _arabic(word: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in word)


def _slots(canon: str) -> tuple[bool, str]:
    """(first letter is an alef that may carry a hamza, class of the last letter: 'h' for ة/ه, 'y' for ي/ى, ''
    otherwise).  The alef of the article ال never takes a hamza."""
    last = canon[-1] if canon else ""
    first = bool(canon) and canon[0] in ALEFS and not canon.startswith("ال")
    return first, "h" if last in "ةه" else "y" if last in "يى" else ""


@dataclass(frozen=True)
class Layout:
    """How a part was written, relative to its lexicon entry."""

    case: str = ""  # Latin: "lower", "upper" or "" (as in the lexicon)
    first: str = ""  # Arabic: the alef written first ("" = not an alef slot)
    last: str = ""  # Arabic: the final ة/ه or ي/ى written
    inner: tuple[tuple[int, str], ...] = ()  # Arabic: other letters written differently from the lexicon
    marks: tuple[tuple[int, str], ...] = ()  # diacritics and tatweel: (letter index, characters)
    glued: bool = False  # a compound written as one word

    @property
    def needs_walk(self) -> bool:
        """Whether only some tokens can carry this layout (a written variant must differ from the token's own
        letter, or it could not be told apart on the way back; a glued name needs a two-word token)."""
        return bool(self.first or self.inner or self.marks or self.glued)


@dataclass(frozen=True)
class Part:
    entry: int
    layout: Layout


@dataclass(frozen=True)
class Lexicon:
    canon: list[str]  # entry -> written form
    keys: dict[str, int]  # fold(form) -> entry (also the glued form of compounds)
    group: np.ndarray  # entry -> group
    index: np.ndarray  # entry -> position in its group
    members: list[np.ndarray]  # group -> entries
    group_keys: list[tuple[str, str, bool, str]]  # group -> (script, role, two words, letter classes or "mixed")
    exact: np.ndarray  # group -> whether its members share their first/last letter classes
    tweak: list[str]  # group -> the tweak label of its permutation (shared by an Arabic group and its Latin twin)
    role: np.ndarray  # entry -> index into ROLES
    twin: np.ndarray  # Arabic entry -> its Latin spelling's entry (-1: none)


#: a letter class smaller than this shares a "mixed" group with the other small classes of its script and role
MIN_CLASS = 10


def _mixed(base_keys: list[tuple[str, str, bool, str]]) -> set[tuple[str, str, bool, str]]:
    """The letter classes too small to be a group of their own (see :func:`lexicon`)."""
    sizes: dict[tuple[str, str, bool, str], int] = {}
    for k in base_keys:
        sizes[k] = sizes.get(k, 0) + 1
    mixed = {k for k, n in sizes.items() if n < MIN_CLASS}
    for family in {k[:3] for k in mixed}:  # a mixed group too small takes in the smallest classes beside it
        while True:
            same = [k for k in sizes if k[:3] == family]
            if sum(sizes[k] for k in same if k in mixed) >= MIN_CLASS or all(k in mixed for k in same):
                break
            mixed.add(min((k for k in same if k not in mixed), key=lambda k: (sizes[k], k)))
    return mixed


@cache
def lexicon() -> Lexicon:
    """The lexicon and its groups (see the module docstring).

    Within a script, role and number of words (``عبد الرحمن`` is two), Arabic names are grouped by their first and
    last letter classes, so a token always has the letter classes its layout needs.  A class with fewer than
    :data:`MIN_CLASS` names would give weak tokens (a class of one would map a name to itself): the small classes
    share one mixed group, in which a written variant is carried by walking to a token it fits, and a group still
    of one joins the largest group of its script and role.  A Latin spelling listed beside its Arabic
    name sits in a twin of the Arabic name's group, at the same position and under the same tweak, so
    ``محمد أحمد`` and ``Mohamed Ahmed`` get the two spellings of one token (a position whose Arabic name has no
    Latin spelling of its own is walked past)."""
    t = refdata.table("name_lexicon")
    canon: list[str] = []
    keys: dict[str, int] = {}
    role_of: list[int] = []
    base_keys: list[tuple[str, str, bool, str]] = []
    twin: list[int] = []  # Latin entry -> its Arabic twin entry (-1: none)

    def add(name: str, role: str, pair: int) -> int:
        entry = len(canon)
        canon.append(name)
        keys[fold(name)] = entry
        role_of.append(ROLES.index(role))
        if " " in name:
            keys.setdefault(fold(name).replace(" ", ""), entry)
        script = "ar" if _arabic(name) else "en"
        first, last = _slots(name) if script == "ar" else (False, "")
        base_keys.append((script, role, " " in name, f"{'a' if first else '-'}{last or '-'}"))
        twin.append(pair)
        return entry

    for ar, en, role in zip(*(t.column(c).to_pylist() for c in ("name_ar", "name_en", "role")), strict=True):
        ar_new = bool(ar) and fold(ar) not in keys and fold(ar).replace(" ", "") not in keys
        en_new = bool(en) and fold(en) not in keys and fold(en).replace(" ", "") not in keys
        a = add(ar, role, -1) if ar_new else -1
        if en_new:
            add(en, role, a)  # a twin only when both spellings are new
    own = [k for k, p in zip(base_keys, twin, strict=True) if p < 0]
    mixed = _mixed(own)
    final: dict[int, tuple[str, str, bool, str]] = {}
    for e, k in enumerate(base_keys):
        if twin[e] < 0:
            final[e] = (*k[:3], "mixed") if k in mixed else k
    counts: dict[tuple[str, str, bool, str], int] = {}
    for k in final.values():
        counts[k] = counts.get(k, 0) + 1
    for e, k in list(final.items()):  # a group of one would map its name to itself
        if counts[k] < 2:
            near = [g for g in counts if g[:2] == k[:2] and counts[g] >= 2] or [
                g for g in counts if g[0] == k[0] and counts[g] >= 2]
            final[e] = max(near, key=lambda g: (counts[g], g))
    distinct = sorted(set(final.values()))
    gid = {k: i for i, k in enumerate(distinct)}
    group = np.full(len(canon), -1, dtype=np.int64)
    for e, k in final.items():
        group[e] = gid[k]
    members = [np.flatnonzero(group == g) for g in range(len(distinct))]
    index = np.empty(len(canon), dtype=np.int64)
    for m in members:
        index[m] = np.arange(len(m))
    tweak = ["/".join(map(str, k)) for k in distinct]
    exact = [k[3] != "mixed" for k in distinct]
    # Latin twins: a twin group per Arabic group, same positions (holes where an Arabic name has no twin)
    twin_arr = np.array(twin, dtype=np.int64)
    twins = np.flatnonzero(twin_arr >= 0)
    for g in np.unique(group[twin_arr[twins]]).tolist():
        mine = twins[group[twin_arr[twins]] == g]
        slots = np.full(len(members[g]), -1, dtype=np.int64)
        slots[index[twin_arr[mine]]] = mine
        new_g = len(members)
        members.append(slots)
        group[mine] = new_g
        index[mine] = index[twin_arr[mine]]
        k = distinct[g]
        distinct.append(("en", k[1], k[2], k[3]))
        tweak.append(tweak[g])
        exact.append(exact[g])
    latin = np.full(len(canon), -1, dtype=np.int64)
    latin[twin_arr[twins]] = twins
    return Lexicon(canon, keys, group, index, members, distinct, np.array(exact, dtype=bool), tweak,
                   np.array(role_of, dtype=np.int64), latin)


def parse(word: str) -> Part | None:
    """The lexicon entry of a written part (one word, or a compound as "head name") and its layout."""
    lex = lexicon()
    entry = lex.keys.get(fold(word))
    if entry is None:
        return None
    canon = lex.canon[entry]
    base, marks = _strip_marks(word)
    if not _arabic(canon):
        if marks:
            return None
        if base == canon:
            return Part(entry, Layout())
        if base == base.lower():
            return Part(entry, Layout(case="lower"))
        if base == base.upper():
            return Part(entry, Layout(case="upper"))
        return None  # mixed case: not read as this name
    glued = " " in canon and " " not in base
    ref = canon.replace(" ", "") if glued else canon
    if len(base) != len(ref):
        return None
    if lex.exact[lex.group[entry]]:  # the group shares these letter classes: a token can carry their variants
        first_alef, last_cls = _slots(canon)
        first = base[0] if first_alef and base[0] != ref[0] else ""  # a variant of the lexicon's hamza form
        last = base[-1] if last_cls else ""  # ة/ه, ي/ى: interchangeable in use, carried as written
        lo, hi = (1 if first_alef else 0), len(base) - (1 if last_cls else 0)
    else:  # a mixed group: every letter written differently is a variant the token must be able to carry
        first = last = ""
        lo, hi = 0, len(base)
    # a variant in the last letter is counted from the end (-1), so a token of another length can carry it
    inner = tuple((i if i < len(base) - 1 else -1, base[i]) for i in range(lo, hi) if base[i] != ref[i])
    layout = Layout("", first, last, inner, marks, glued)
    if layout.needs_walk and not _carried(entry, layout):
        return None  # no other name of its group can carry this spelling: not read as a lexicon name
    return Part(entry, layout)


@cache
def _carried(entry: int, layout: Layout) -> bool:
    """Whether another name of the entry's group can carry the layout (so a walk always ends elsewhere)."""
    lex = lexicon()
    return any(int(e) != entry and fits(lex.canon[int(e)], layout) for e in lex.members[int(lex.group[entry])])


def _bounds(canon: str, ref: str) -> tuple[int, int]:
    lex = lexicon()
    entry = lex.keys[fold(canon)]
    if not lex.exact[lex.group[entry]]:
        return 0, len(ref)
    first_alef, last_cls = _slots(canon)
    return (1 if first_alef else 0), len(ref) - (1 if last_cls else 0)


def fits(canon: str, layout: Layout) -> bool:
    """Whether a token's lexicon form can carry ``layout`` exactly: always, but for letters written differently
    outside the shared letter classes and for diacritics (then the token needs the same letter class at that
    position, written differently from the layout's letter, and enough letters)."""
    if not layout.needs_walk:
        return True
    if layout.glued and " " not in canon:
        return False
    ref = canon.replace(" ", "") if layout.glued else canon
    if layout.first and ref[0] == layout.first:
        return False
    lo, hi = _bounds(canon, ref)
    for i, ch in layout.inner:
        j = len(ref) - 1 if i == -1 else i
        if not (lo <= j < hi) or (i != -1 and j == len(ref) - 1) or ref[j] == ch or fold(ref[j]) != fold(ch):
            return False
    return all(i <= len(ref) for i, _ in layout.marks)


def write(canon: str, layout: Layout) -> str:
    """A lexicon form written with ``layout`` (which must fit it)."""
    if layout.case == "lower":
        return canon.lower()
    if layout.case == "upper":
        return canon.upper()
    if not _arabic(canon):
        return canon
    chars = list(canon.replace(" ", "") if layout.glued else canon)
    if layout.first:
        chars[0] = layout.first
    if layout.last:
        chars[-1] = layout.last
    for i, ch in layout.inner:
        chars[i] = ch  # (-1: the last letter)
    for i, ms in sorted(layout.marks, reverse=True):
        chars.insert(i, ms)
    return "".join(chars)


def crypt_parts(crypto: Crypto, parts: list[Part], positions: np.ndarray, *, decrypt: bool = False,
                domain: str = "person_name", contexts: list[str] | None = None) -> list[str]:
    """Tokens (or, with ``decrypt``, values) of name parts: each part's entry is encrypted within its group under
    a tweak naming the group and the part's position in the name, walked on while the layout does not fit (or,
    with ``contexts``, while the context written before it and the token would read as one lexicon name: a glued
    ``و`` or a compound head before the part), and written with its layout."""
    lex = lexicon()
    entries = np.array([p.entry for p in parts], dtype=np.int64)
    groups = lex.group[entries] if len(parts) else np.zeros(0, np.int64)
    out = entries.copy()
    todo = np.arange(len(parts))
    for _ in range(max((len(m) for m in lex.members), default=1) + 1):
        if not len(todo):
            break
        key = groups[todo] * 64 + np.minimum(positions[todo], 63)
        for k in np.unique(key).tolist():
            sel = todo[key == k]
            g, pos = divmod(k, 64)
            cur = out[sel]
            idx = np.where(cur >= 0, lex.index[np.maximum(cur, 0)], -1 - cur)
            tweak = ("name", lex.tweak[g], str(pos))
            new = crypt_ints(crypto, domain, idx, len(lex.members[g]), tweak, decrypt=decrypt)
            landed = lex.members[g][new]
            # a hole (an Arabic name without a Latin spelling of its own): keep the position, walk on
            out[sel] = np.where(landed >= 0, landed, -1 - new)
        todo = np.array([i for i in todo.tolist() if out[i] < 0 or not _settles(
            lex.canon[out[i]], parts[i].layout, contexts[i] if contexts else "")], dtype=np.int64)
    return [write(lex.canon[e], p.layout) for e, p in zip(out.tolist(), parts, strict=True)]


def _settles(canon: str, layout: Layout, context: str) -> bool:
    if not fits(canon, layout):
        return False
    return not context or parse(context + write(canon, layout)) is None


@cache
def heads() -> frozenset[str]:
    """Folded first words of the lexicon's two-word names (عبد, ابو, سيف, ذو, abdul, de ...): a word that may join
    the next one into one name part."""
    lex = lexicon()
    return COMPOUND_HEADS | frozenset(fold(c).split(" ")[0] for c in lex.canon if " " in c)


def is_head(word: str) -> bool:
    return fold(word) in heads()


@cache
def _heads_array() -> pa.Array:
    return pa.array(sorted(heads()), pa.string())


@cache
def _heads_coarse() -> np.ndarray:
    """The coarse hashes (:meth:`TextView.coarse_hashes`) of the folded heads."""
    view = TextView(_heads_array())
    return np.unique(view.coarse_hashes(view.row_off[:-1], view.row_off[1:]))


@lru_cache(maxsize=1 << 17)  # bounded: a file of ever-new words (tokens) keeps memory flat
def _parse_cached(word: str) -> Part | None:
    return parse(word)


def name_parts(view: TextView, blocked: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of the name parts of every value: runs of non-space characters, where a compound head and
    the word after it (one space between) are one part when the two are a lexicon name (``عبد الرحمن``)."""
    word = (view.cls & SPACE) == 0
    if blocked is not None:
        word &= ~blocked
    ws = np.flatnonzero(word & ~view.prev(word))
    we = np.flatnonzero(word & ~view.next(word)) + 1
    if len(ws) < 2:
        return ws, we
    # a head, one space, a word of the same row; heads are few, so only words whose coarse hash is a head's
    # (a folded head's hash: equal folds give equal hashes) are read and folded
    cand = np.flatnonzero(ws[1:] == we[:-1] + 1)
    cand = cand[(view.cps[we[cand]] == 0x20) & (view.row[ws[cand]] == view.row[ws[cand + 1]])]
    cand = cand[np.isin(view.coarse_hashes(ws[cand], we[cand]), _heads_coarse())]
    if len(cand):
        folded = fold_array(view.strings(ws[cand], we[cand]))
        cand = cand[pc.is_in(folded, value_set=_heads_array()).to_numpy(zero_copy_only=False)]
    if not len(cand):
        return ws, we
    pair = view.strings(ws[cand], we[cand + 1])
    known = lexicon().keys
    merged = np.zeros(len(ws), dtype=bool)
    merged[cand[np.array([fold(w) in known for w in pair.to_pylist()], dtype=bool)]] = True
    merged[1:] &= ~merged[:-1]  # (a word taken by the head before it does not start a compound itself)
    taken = np.zeros(len(ws), dtype=bool)
    taken[1:] = merged[:-1]
    ends = np.where(merged, np.concatenate([we[1:], [0]]), we)
    return ws[~taken], ends[~taken]


def crypt_names(values: pa.Array, crypto: Crypto, *, decrypt: bool = False, domain: str = "person_name",
                generic: Callable[[pa.Array], pa.Array] | None = None) -> pa.Array:
    """``person_name`` tokens (see the module docstring): lexicon parts within their group (one encryption per
    distinct part and position), other parts by ``generic`` (letter-class FPE that never yields a lexicon name or
    a compound head); whitespace stays as it is."""
    view = TextView(values)
    ps, pe = name_parts(view)
    if not len(ps):
        return view.values
    row = view.row[ps]
    first = np.concatenate([[True], row[1:] != row[:-1]])
    pos = np.arange(len(ps)) - np.maximum.accumulate(np.where(first, np.arange(len(ps)), 0))
    parts = view.strings(ps, pe)
    # a compound head kept as a part of its own (أبو before زيد) is the context of the part one space after it:
    # that part's token must not make a lexicon compound with it (أبو + a token read as أبو بكر)
    enc = pc.dictionary_encode(parts)
    head_d = pc.is_in(fold_array(enc.dictionary), value_set=_heads_array()).to_numpy(zero_copy_only=False)
    head = head_d[enc.indices.to_numpy(zero_copy_only=False)] if len(head_d) else np.zeros(len(ps), bool)
    after_head = np.zeros(len(ps), dtype=bool)
    after_head[1:] = head[:-1] & ~first[1:] & (pe[:-1] + 1 == ps[1:])
    contexts = None
    if after_head.any():
        ah = np.flatnonzero(after_head)
        after_head[ah] = view.cps[pe[ah - 1]] == 0x20
        prev_start = np.concatenate([[0], ps[:-1]])
        contexts = view.strings(np.where(after_head, prev_start, ps), ps)  # "أبو " (or "")
    return view.replace(ps, pe, crypt_part_array(parts, pos, crypto, decrypt=decrypt, domain=domain,
                                                 generic=generic, contexts=contexts))


def crypt_part_array(parts: pa.Array, pos: np.ndarray, crypto: Crypto, *, decrypt: bool = False,
                     domain: str = "person_name", generic: Callable[[pa.Array], pa.Array] | None = None,
                     contexts: pa.Array | None = None) -> pa.Array:
    """Tokens of name parts at the given positions (lexicon parts within their group, others by ``generic``);
    ``contexts``: what is written right before each part (see :func:`crypt_parts`)."""
    if not len(parts):
        return pa.array([], pa.string())
    if contexts is not None and pc.any(pc.not_equal(contexts, "")).as_py():
        # lexicon parts with a context: one by one (rare); the others through the shared path (a context changes
        # nothing for a part outside the lexicon: its generic token is never a lexicon name)
        has = pc.not_equal(contexts, "").to_numpy(zero_copy_only=False)
        has[has] = [_parse_cached(w) is not None for w in parts.filter(pa.array(has)).to_pylist()]
        hi = np.flatnonzero(has)
        items = [_parse_cached(w) for w in parts.take(pa.array(hi)).to_pylist()]
        ctx = contexts.take(pa.array(hi)).to_pylist()
        new = crypt_parts(crypto, items, pos[hi], decrypt=decrypt, domain=domain, contexts=ctx)  # type: ignore
        lo = np.flatnonzero(~has)
        rest = crypt_part_array(parts.take(pa.array(lo)), pos[lo], crypto, decrypt=decrypt, domain=domain,
                                generic=generic)
        back = np.empty(len(parts), dtype=np.int64)
        back[np.concatenate([hi, lo])] = np.arange(len(parts))
        return pa.concat_arrays([pa.array(new, pa.string()), rest.cast(pa.string())]).take(pa.array(back))
    enc = pc.dictionary_encode(parts)
    words = enc.dictionary.to_pylist()
    parsed = [_parse_cached(w) for w in words]
    pidx = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    in_lex = np.array([p is not None for p in parsed], dtype=bool)[pidx] if len(parsed) else np.zeros(0, bool)
    # connectors (بن) and compound heads standing alone (أبو before زيد, which is no lexicon name with it) are kept
    # as they are: they say nothing of the person, and a generic token walks away from them, so one taken as
    # input would never come back
    connector = pc.is_in(fold_array(enc.dictionary), value_set=_kept_array()).to_numpy(
        zero_copy_only=False)[pidx] if len(words) else in_lex
    out_parts: list[tuple[np.ndarray, pa.Array]] = []
    kept = np.flatnonzero(connector & ~in_lex)
    if len(kept):
        out_parts.append((kept, parts.take(pa.array(kept))))
    in_lex_or_kept = in_lex | connector
    lex_rows = np.flatnonzero(in_lex)
    if len(lex_rows):
        # distinct (part, position) pairs: one encryption each
        key = pidx[lex_rows] * 8 + np.minimum(pos[lex_rows], 7)
        uniq, inverse = np.unique(key, return_inverse=True)
        # a part's token depends on the part and its position alone: the names met in earlier batches are
        # looked up (a column's names repeat from batch to batch), the others encrypted and remembered
        memo = crypto.memo(domain, "name_parts", decrypt)
        wanted = [(words[k // 8], k % 8) for k in uniq.tolist()]
        tokens: list[str | None] = [memo.get(w) for w in wanted]
        missing = [i for i, t in enumerate(tokens) if t is None]
        if missing:
            at = uniq[missing]
            got = crypt_parts(crypto, [parsed[int(k) // 8] for k in at.tolist()], at % 8,  # type: ignore[misc]
                              decrypt=decrypt, domain=domain)
            for i, t in zip(missing, got, strict=True):
                tokens[i] = t
            if len(memo) + len(missing) > PART_MEMO_SIZE:
                memo.clear()
            memo.update(zip([wanted[i] for i in missing], got, strict=True))
        out_parts.append((lex_rows, pa.array(tokens, pa.string()).take(pa.array(inverse.ravel()))))
    rest = np.flatnonzero(~in_lex_or_kept)
    if len(rest):
        if generic is None:
            raise ValueError("name parts outside the lexicon need a generic tokenizer")
        out_parts.append((rest, generic(parts.take(pa.array(rest)))))
    order = np.concatenate([r for r, _ in out_parts])
    back = np.empty(len(parts), dtype=np.int64)
    back[order] = np.arange(len(parts))
    return pa.concat_arrays([a.cast(pa.string()) for _, a in out_parts]).take(pa.array(back))


@cache
def _connectors() -> frozenset[str]:
    return frozenset(fold(w) for w in CONNECTORS)


@cache
def key_array() -> pa.Array:
    """The lexicon's folded keys (what :func:`parse` looks a word up by), for whole-column lookups."""
    return pa.array(sorted(lexicon().keys), pa.string())


@cache
def _kept_array() -> pa.Array:
    """Connectors and compound heads, folded: the parts kept as they are."""
    return pa.array(sorted(_connectors() | heads()), pa.string())


#: the most name-part tokens remembered per Crypto, domain and direction (cleared when full: memory stays flat)
PART_MEMO_SIZE = 1 << 17


def generic_avoid(values: pa.Array) -> np.ndarray:
    """For the generic token of a part outside the lexicon: it must not read as a lexicon name, a head or a
    connector."""
    enc = pc.dictionary_encode(values)
    bad = np.array([_parse_cached(v) is not None or is_head(v) or fold(v) in _connectors()
                    for v in enc.dictionary.to_pylist()], dtype=bool)
    return bad[enc.indices.to_numpy(zero_copy_only=False)] if len(bad) else np.zeros(len(values), dtype=bool)
