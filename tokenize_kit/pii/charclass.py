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

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.fpe import ARABIC_INDIC_DIGITS, DIGITS, EXTENDED_ARABIC_INDIC_DIGITS, min_length
from tokenize_kit.fpe._base import FeistelCipher, digits_big_endian

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


def _runs(alphabet: str) -> tuple[tuple[int, int, int], ...]:
    """The alphabet as runs of consecutive code points: (first code point, length, numeral of the first)."""
    runs: list[tuple[int, int, int]] = []
    for numeral, ch in enumerate(alphabet):
        if runs and ord(ch) == runs[-1][0] + runs[-1][1]:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, runs[-1][2])
        else:
            runs.append((ord(ch), 1, numeral))
    return tuple(runs)


#: each class's runs of code points (every class is one run but the Arabic letters, which are two): a position's
#: class and numeral are a subtraction and a comparison per run, no table lookup (which would widen every byte's
#: index to 64 bits)
_RUNS = [_runs(alphabet) for _, alphabet in CLASSES]


#: below this many rows a group is encrypted as it is (finding its distinct rows would cost more than it saves)
DEDUP_MIN_ROWS = 256
#: groups of at least this many rows are first sampled, every ``SAMPLE_STEP``-th row (see :func:`_mostly_distinct`)
SAMPLE_MIN_ROWS = 4096
SAMPLE_STEP = 8


def _distinct_rows(nums: np.ndarray, radix: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(distinct rows of a uint8 numeral matrix, each row's index into them, their big-endian integers if they fit
    in int64 else None): one hash pass (Arrow's ``dictionary_encode``) over the rows as integers, or as fixed-size
    binary strings when ``radix**length`` does not fit in int64."""
    rows, length = nums.shape
    if radix**length < 2**63:
        weights = radix ** np.arange(length - 1, -1, -1, dtype=np.int64)
        ints = nums @ weights
        enc = pc.dictionary_encode(pa.array(ints, pa.int64()))
        uniq_ints = enc.dictionary.to_numpy()
        inverse = enc.indices.to_numpy()
        return digits_big_endian(uniq_ints, radix, length, np.uint8), inverse, uniq_ints
    flat = np.ascontiguousarray(nums, dtype=np.uint8)
    enc = pc.dictionary_encode(pa.FixedSizeBinaryArray.from_buffers(pa.binary(length), rows,
                                                                    [None, pa.py_buffer(flat)]))
    uniq = np.frombuffer(enc.dictionary.buffers()[1], np.uint8, count=len(enc.dictionary) * length)
    return uniq.reshape(-1, length), enc.indices.to_numpy(), None


def _crypt_group(nums: np.ndarray, name: str, alphabet: str, crypto: Crypto, domain: str, decrypt: bool
                 ) -> np.ndarray:
    """The numerals (uint8) of one class's subsequences of one length (rows, length): FF1 (or FF3-1) over the class
    alphabet where the domain is large enough, else a keyed permutation of ``range(radix**length)``.  Each distinct
    subsequence is encrypted once (e-mail local parts repeat the same letters with other digits, and so on)."""
    radix, length = len(alphabet), nums.shape[1]
    if radix**length >= 1_000_000 and length >= min_length(radix):
        cipher = crypto.cipher(domain, alphabet)
        if length > cipher.max_len:  # FF3-1 only (FF1's maximum is 2**32): pieces, see the module docstring
            count = -(-length // cipher.max_len)
            cuts = [length * j // count for j in range(count + 1)]
            out = np.empty(nums.shape, dtype=np.uint8)
            for j in range(count):
                piece = np.ascontiguousarray(nums[:, cuts[j] : cuts[j + 1]])
                out[:, cuts[j] : cuts[j + 1]] = _crypt_group_numerals(piece, cipher, crypto.tweak(
                    "charclass", name, str(length), "piece", str(j)), decrypt)
            return out
        return _crypt_group_numerals(nums, cipher, crypto.tweak("charclass", name, str(length)), decrypt)
    size = radix**length
    ints = nums @ radix ** np.arange(length - 1, -1, -1, dtype=np.int64)
    new_ints = crypt_ints(crypto, domain, ints, size, ("charclass", name, str(length)), decrypt=decrypt)
    return digits_big_endian(new_ints, radix, length, np.uint8)


def _mostly_distinct(nums: np.ndarray, radix: int) -> bool:
    """Whether finding the distinct rows of a large group would cost more than it saves: every
    :data:`SAMPLE_STEP`-th row is de-duplicated, and the group is taken as it is when that sample holds almost no
    repeats (a row's repeats land in the sample one time in ``SAMPLE_STEP``, so a sample with under 2% repeats
    means a group with well under the ~15% repeats that pay for the hash pass: an address's letters outside its
    kept words, its house and postal code digits)."""
    if len(nums) < SAMPLE_MIN_ROWS:
        return False
    sample = nums[::SAMPLE_STEP]
    return len(_distinct_rows(sample, radix)[0]) >= 0.98 * len(sample)


def _crypt_group_numerals(nums: np.ndarray, cipher: FeistelCipher, tw: bytes, decrypt: bool) -> np.ndarray:
    """FF1 (or FF3-1) of a (rows, length) numeral matrix under one tweak, each distinct row once (unless the rows are
    nearly all distinct: see :func:`_mostly_distinct`)."""
    radix, length = cipher.radix, nums.shape[1]
    fast = getattr(cipher, "decrypt_ints" if decrypt else "encrypt_ints", None)
    if len(nums) < DEDUP_MIN_ROWS:
        uniq, inverse, ints = nums, None, None
    elif _mostly_distinct(nums, radix):
        uniq, inverse = nums, None
        ints = nums @ radix ** np.arange(length - 1, -1, -1, dtype=np.int64) if radix**length < 2**63 else None
    else:
        uniq, inverse, ints = _distinct_rows(nums, radix)
    if fast is not None and ints is not None:  # (the same numerals as encrypt_numerals, from the integers)
        new = digits_big_endian(fast(ints.astype(np.uint64), length, tw), radix, length, np.uint8)
    else:
        new = cipher.decrypt_numerals(uniq, tw) if decrypt else cipher.encrypt_numerals(uniq, tw)
    new = new.astype(np.uint8)
    return new if inverse is None else new[inverse]


def charclass_cps(
    cps: np.ndarray, row_off: np.ndarray, crypto: Crypto, domain: str, *,
    decrypt: bool = False, protect: np.ndarray | None = None, row_end: np.ndarray | None = None,
) -> np.ndarray:
    """Apply the class-wise permutation to flat code points (see :func:`charclass`); ``protect`` marks positions
    left as they are (and out of the subsequences).  ``cps`` may be any unsigned integer array (UTF-8 bytes of an
    ASCII column too); the result has its dtype.  ``row_end``: row ``r`` is ``cps[row_off[r]:row_end[r]]`` instead
    of ``cps[row_off[r]:row_off[r + 1]]`` (what lies between two rows is left as it is, as if protected).

    Per class: its positions (ascending, so row by row) give its numerals in storage order, and one segmented sum
    over the row boundaries gives each row's subsequence length and where it starts among them.  The rows of one
    length (one stable sort of the row lengths) take their subsequences as a (rows, length) block of windows at
    those starts, encrypted in one batch and written back the same way: no per-position sort, index or row
    number."""
    out = cps.copy()
    n = len(cps)
    if n == 0:
        return out
    # (unsigned arithmetic: a code point below a run's first wraps to a large value, so one comparison tests the run)
    u = cps.view(np.dtype(f"u{cps.dtype.itemsize}")) if cps.dtype.kind == "i" else cps
    top = int(u.max())
    keep = None if protect is None else ~np.asarray(protect, dtype=bool)
    row_off = np.asarray(row_off, dtype=np.int64)
    n_rows = len(row_off) - 1
    index_type = np.int32 if n < 2**31 else np.int64
    # segment boundaries: 0, then every row's start and end; segment i runs from bounds[i] to bounds[i + 1]
    bounds = np.empty(2 * n_rows + 1, dtype=np.int64)
    bounds[0] = 0
    bounds[1::2] = row_off[:-1]
    bounds[2::2] = row_off[1:] if row_end is None else row_end
    empty = np.flatnonzero(bounds[1:] == bounds[:-1])  # (reduceat gives such a segment its first element)
    before = np.zeros(len(bounds) + 1, dtype=np.int64)
    mask = np.zeros(n + 1, dtype=bool)  # (one position past the end, of no class, ends the last segment)
    scratch = np.empty(n, dtype=u.dtype)
    for (name, alphabet), runs in zip(CLASSES, _RUNS, strict=True):
        if runs[0][0] > top:
            continue
        for i, (first_cp, count, _) in enumerate(runs):
            np.subtract(u, first_cp, out=scratch)
            if i == 0:
                np.less(scratch, count, out=mask[:n])
            else:
                mask[:n] |= scratch < count
        if keep is not None:
            mask[:n] &= keep
        pos = np.flatnonzero(mask)  # this class's positions, ascending (row by row)
        if not len(pos):
            continue
        seg = np.add.reduceat(mask, bounds, dtype=index_type)
        seg[empty] = 0
        np.cumsum(seg, out=before[1:])  # before[i]: the class's positions before bounds[i]
        first = before[1:-1:2]  # where each row's subsequence starts in ``pos``
        lengths = before[2::2] - first
        by_len = np.bincount(lengths)
        present = np.flatnonzero(by_len[1:]) + 1
        if not len(present):
            continue
        nums = _numerals(u[pos], runs)  # (in storage order: a sequential gather)
        total = int(lengths.sum())  # (positions between rows are in ``pos`` but in no subsequence)
        if len(present) == 1 and by_len[0] == 0 and total == len(pos):  # every row, one length: one block
            nums = _crypt_group(nums.reshape(-1, int(present[0])), name, alphabet, crypto, domain, decrypt).ravel()
        else:
            rows = np.argsort(lengths.astype(np.uint16) if len(by_len) <= 2**16 else lengths, kind="stable")
            starts = first[rows]
            cut = int(by_len[0])  # (rows without the class come first)
            for length in present.tolist():
                # the subsequences of this length: windows of ``nums`` at their rows' starts (a copy of ``length``
                # numerals per row, not an index per numeral); rows' windows never overlap, so they are written back
                # the same way
                at = starts[cut : cut + int(by_len[length])]
                cut += len(at)
                windows = np.lib.stride_tricks.as_strided(nums, (len(nums) - length + 1, length), (1, 1))
                windows[at] = _crypt_group(windows[at], name, alphabet, crypto, domain, decrypt)
        out[pos] = _code_points(nums, runs, out.dtype)
    return out


def _numerals(cps: np.ndarray, runs: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """Numerals (uint8) of code points of one class: a code point of a run less the run's offset (its first code
    point less its first numeral; the offsets grow run by run)."""
    offset = runs[0][0] - runs[0][2]
    if len(runs) == 1:
        return (cps - offset).astype(np.uint8)
    v = cps.astype(np.int64) - offset
    for cp, _, numeral in runs[1:]:
        v -= np.where(cps >= cp, (cp - numeral) - offset, 0)
        offset = cp - numeral
    return v.astype(np.uint8)


def _code_points(nums: np.ndarray, runs: tuple[tuple[int, int, int], ...], dtype: np.dtype) -> np.ndarray:
    """Inverse of :func:`_numerals`, as ``dtype``."""
    offset = runs[0][0] - runs[0][2]
    if len(runs) == 1:
        return nums.astype(dtype) + dtype.type(offset)
    v = nums.astype(np.int64) + offset
    for cp, _, numeral in runs[1:]:
        v += np.where(nums >= numeral, (cp - numeral) - offset, 0)
        offset = cp - numeral
    return v.astype(dtype)


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
