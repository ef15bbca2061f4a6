"""Character-class FPE: Arabic letters -> Arabic letters, Latin -> Latin, digits -> digits of the same script.

This is the generic token of tokenize-kit: the fallback for invalid values (``on_invalid: generic``),
and the engine for street names, building numbers, e-mail local parts and name parts that are not in a
dictionary.  Characters outside the classes (spaces, punctuation, diacritics, Persian letters) stay in
place, so the token has the same layout as the input.

How: per class, the class's characters of each value form a subsequence (e.g. the digits of
``"شارع 12 عمارة 5"`` are ``"125"``).  Subsequences long enough for FF1's minimum domain
(radix**length >= 1,000,000) are encrypted with FF1 over the class alphabet, grouped by length so every
group is one vectorised call; shorter ones are encrypted as integers in ``range(radix**length)`` by
:func:`~tokenize_kit.pii.intdomain.crypt_ints` (a keyed permutation: such domains are tiny by nature).
Positions of each class are kept, so the layout (and the class of every position) is public.

FF3-1 (``algorithm: ff3-1``) takes at most ``2 * floor(log_radix(2**96))`` numerals (36 Arabic letters, 40 Latin
letters, 56 digits).  A longer subsequence (an address's street names and house name together) is split into
near-equal consecutive pieces within that limit, each encrypted under its own tweak (the piece's number and the
subsequence's length): a change in one piece then leaves the others' tokens as they were, a weakness FF1 (the
default, no such limit) does not have.  FF1 tokens never take this path.

``avoid`` makes the map a permutation of the values that do NOT satisfy a predicate (cycle walking):
the table layer uses it so that the generic token of an invalid national ID is itself never a valid
one, which keeps detokenization unambiguous (valid -> type decrypt, invalid -> generic decrypt).

>>> from tokenize_kit.keys import Keyset
>>> from tokenize_kit.pii.base import Crypto
>>> crypto = Crypto(Keyset.generate())
>>> values = pa.array(["شارع 12 عمارة 5", "Flat 7B"])
>>> tokens = charclass(values, crypto, "example")
>>> def layout(text):
...     return "".join("d" if c.isdigit() else "A" if c.isupper() else "a" if c.isalpha() else c for c in text)
>>> [layout(t) for t in tokens.to_pylist()] == [layout(v) for v in values.to_pylist()], tokens != values
(True, True)
>>> layout("شارع 12 عمارة 5"), layout("Flat 7B")
('aaaa dd aaaaa d', 'Aaaa dA')
>>> charclass(tokens, crypto, "example", decrypt=True).equals(values)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from tokenize_kit.fpe import ARABIC_INDIC_DIGITS, DIGITS, EXTENDED_ARABIC_INDIC_DIGITS, min_length

from .base import Crypto
from .intdomain import crypt_ints
from .text import decode, encode

#: The Arabic letters U+0621..U+063A and U+0641..U+064A: the 28 letters of the alphabet plus hamza
#: and its carriers (ء آ أ ؤ إ ئ), ta marbuta (ة) and alef maqsura (ى).  Tatweel (U+0640), the rare
#: U+063B..U+063F forms and Persian letters are not in the class and stay in place.
ARABIC_LETTERS = "".join(chr(c) for c in list(range(0x621, 0x63B)) + list(range(0x641, 0x64B)))
LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = LOWER.upper()

CLASSES: tuple[tuple[str, str], ...] = (
    ("digit", DIGITS),
    ("digit_arabic_indic", ARABIC_INDIC_DIGITS),
    ("digit_extended", EXTENDED_ARABIC_INDIC_DIGITS),
    ("latin_lower", LOWER),
    ("latin_upper", UPPER),
    ("arabic_letter", ARABIC_LETTERS),
)
MAX_WALKS = 1000


def _tables() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(class number + 1 of every code point up to the highest class member, 0 = no class; its numeral within the
    class; each class's code points by numeral)."""
    top = max(ord(c) for _, alpha in CLASSES for c in alpha) + 1
    cls = np.zeros(top, dtype=np.uint8)
    num = np.zeros(top, dtype=np.int64)
    out = []
    for k, (_, alpha) in enumerate(CLASSES, start=1):
        cps = np.array([ord(c) for c in alpha], dtype=np.int64)
        cls[cps] = k
        num[cps] = np.arange(len(cps))
        out.append(cps.astype(np.uint32))
    return cls, num, out


_CLASS, _NUMERAL, _OUT = _tables()


def crypt_group(nums: np.ndarray, name: str, alphabet: str, crypto: Crypto, domain: str, decrypt: bool
                 ) -> np.ndarray:
    """The numerals of one class's subsequences of one length (rows, length): FF1 (or FF3-1) over the class
    alphabet where the domain is large enough, else a keyed permutation of ``range(radix**length)``."""
    radix, length = len(alphabet), nums.shape[1]
    if radix**length >= 1_000_000 and length >= min_length(radix):
        cipher = crypto.cipher(domain, alphabet)
        if length > cipher.max_len:  # FF3-1 only (FF1's maximum is 2**32): pieces, see the module docstring
            count = -(-length // cipher.max_len)
            cuts = [length * j // count for j in range(count + 1)]
            out = np.empty(nums.shape, dtype=np.int64)
            for j in range(count):
                tw = crypto.tweak("charclass", name, str(length), "piece", str(j))
                piece = nums[:, cuts[j] : cuts[j + 1]]
                out[:, cuts[j] : cuts[j + 1]] = (cipher.decrypt_numerals(piece, tw) if decrypt
                                                 else cipher.encrypt_numerals(piece, tw))
            return out
        tw = crypto.tweak("charclass", name, str(length))
        return cipher.decrypt_numerals(nums, tw) if decrypt else cipher.encrypt_numerals(nums, tw)
    size = radix**length
    weights = radix ** np.arange(length - 1, -1, -1, dtype=np.int64)
    ints = nums @ weights
    new_ints = crypt_ints(crypto, domain, ints, size, ("charclass", name, str(length)), decrypt=decrypt)
    return (new_ints[:, None] // weights[None, :]) % radix


def segment_sums(a: np.ndarray, off: np.ndarray) -> np.ndarray:
    """The sum of ``a`` within each segment ``[off[i], off[i + 1])`` (``off`` ascending)."""
    out = np.zeros(len(off) - 1, dtype=np.int64)
    filled = np.flatnonzero(off[1:] > off[:-1])
    if len(filled):
        # (an int64 accumulator would convert the whole of ``a`` first: int32 holds any sum of an Arrow column's)
        out[filled] = np.add.reduceat(a[: int(off[-1])], off[filled], dtype=np.int32)
    return out


def class_groups(cls: np.ndarray, row_off: np.ndarray, numerals: Callable[[np.ndarray], np.ndarray]
                 ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The subsequences of :func:`charclass_cps` on flat positions, grouped for :func:`crypt_group`: ``cls`` holds
    each position's class number + 1 (0: left as it is), ``numerals(positions)`` their numerals within their
    classes.  Yields ``(class number + 1, positions, numerals)`` per class and subsequence length, both as
    (rows, length) matrices.

    Within a class, its positions (ascending) hold every row's subsequence as one consecutive stretch, so each row's
    stretch starts after the rows before it; rows are grouped by the length of their stretch and each group is
    gathered as a (rows, length) matrix, one batch per length."""
    counts = np.bincount(cls, minlength=len(CLASSES) + 1)
    for k in range(1, len(CLASSES) + 1):
        if counts[k] == 0:
            continue
        mask = cls == k
        pos = np.flatnonzero(mask)  # this class's positions, ascending
        lengths = segment_sums(mask.view(np.uint8), row_off)
        start = np.cumsum(lengths) - lengths
        top = int(lengths.max())
        order = np.argsort(lengths.astype(np.uint16) if top < 2**16 else lengths, kind="stable")
        by_len = np.bincount(lengths)
        cut = int(by_len[0])
        for length in np.flatnonzero(by_len[1:]).tolist():
            length += 1
            rows = order[cut : cut + int(by_len[length])]
            cut += int(by_len[length])
            at = pos[start[rows][:, None] + np.arange(length)]
            yield k, at, numerals(at)


def class_runs(cls: np.ndarray, row_off: np.ndarray, crypto: Crypto, domain: str, decrypt: bool,
               numerals: Callable[[np.ndarray], np.ndarray]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The class-wise permutation of :func:`charclass_cps` on flat positions (see :func:`class_groups`): yields
    ``(class number + 1, positions, new numerals)`` per class and subsequence length."""
    for k, at, nums in class_groups(cls, row_off, numerals):
        name, alphabet = CLASSES[k - 1]
        yield k, at, crypt_group(nums, name, alphabet, crypto, domain, decrypt)


def charclass_cps(
    cps: np.ndarray, row_off: np.ndarray, crypto: Crypto, domain: str, *,
    decrypt: bool = False, protect: np.ndarray | None = None,
) -> np.ndarray:
    """Apply the class-wise permutation to flat code points (see :func:`charclass`); ``protect`` marks positions
    left as they are (and out of the subsequences).  ``cps`` may be any unsigned integer array (UTF-8 bytes of an
    ASCII column too); the result has its dtype.

    Every position's class comes from one table lookup; :func:`class_runs` batches each class's subsequences by
    length."""
    out = cps.copy()
    n = len(cps)
    if n == 0:
        return out
    if cps.dtype == np.uint8:  # (the table covers every byte)
        cls = _CLASS[cps]
    else:
        cls = _CLASS[np.where(cps < len(_CLASS), cps, 0)]  # (code point 0 has no class)
    if protect is not None:
        cls[protect] = 0
    for k, at, new in class_runs(cls, row_off, crypto, domain, decrypt, lambda at: _NUMERAL[cps[at]]):
        out[at] = _OUT[k - 1][new]
    return out


def charclass(
    values: pa.Array,
    crypto: Crypto,
    domain: str,
    *,
    decrypt: bool = False,
    avoid: Callable[[pa.Array], np.ndarray] | None = None,
) -> pa.Array:
    """Character-class FPE of every value; ``avoid`` (vectorised predicate) is cycle-walked away from.

    If ``avoid`` is given, inputs must not satisfy it; outputs never do.
    """
    if len(values) == 0:
        return values
    cps, row_off = decode(values)
    out = encode(charclass_cps(cps, row_off, crypto, domain, decrypt=decrypt), row_off)
    if avoid is None:
        return out
    todo = np.flatnonzero(avoid(out))
    for _ in range(MAX_WALKS):
        if len(todo) == 0:
            return out
        sub = out.take(pa.array(todo))
        sub_cps, sub_off = decode(sub)
        walked = encode(charclass_cps(sub_cps, sub_off, crypto, domain, decrypt=decrypt), sub_off)
        merged = out.to_numpy(zero_copy_only=False).astype(object)
        merged[todo] = np.asarray(walked.to_pylist(), dtype=object)
        out = pa.array(merged, type=pa.string())
        todo = todo[avoid(walked)]
    raise RuntimeError("cycle walking did not terminate (the avoided set covers almost every value)")
