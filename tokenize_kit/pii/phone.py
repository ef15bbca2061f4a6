"""Egyptian and Saudi phone numbers: ``eg_phone``, ``sa_phone`` and ``phone`` (either, detected).

Which numbers are valid mobiles or landlines is taken from Google's libphonenumber metadata (the
``phonenumbers`` package: ``PhoneMetadata.metadata_for_region("EG"/"SA")``), the de-facto standard
source, and applied to whole columns with RE2 regular expressions.

Accepted input forms (all seen in real extracts): E.164 ``+201012345678``, ``00`` international
prefix, bare country code ``201012345678``, national ``01012345678``, the leading zero lost by Excel
``1012345678``, with spaces, dashes, dots, slashes or parentheses anywhere, in ASCII, Arabic-Indic
(``٠١٠...``) or Extended Arabic-Indic (``۰۵۵...``) digits.

Tokens keep the country code and the operator prefix (mobile) or area code (landline), and encrypt
the subscriber digits with FF1 (radix 10) under the tweak (country, number type, prefix); a token that
would fall outside libphonenumber's pattern for the same region and type is re-encrypted (cycle
walking), so a mobile stays a valid mobile of the same operator and a landline keeps its area code.
Only the subscriber digit characters change, in place and in their own script, so the token keeps the
input's exact layout.  All three types share the subkey domain ``phone``: a number gets the same token
in an ``eg_phone`` column, a ``phone`` column and inside free text.

For ``phone``, a national or bare number valid in both countries (e.g. ``0551234567``: a Saudi mobile
or an Egyptian landline in Sharqia) is read as a mobile first, then in the order of the ``regions``
option (default ``[EG, SA]``).

>>> EG.is_valid("+20 10 1234 5678"), SA.is_valid("0501234567"), EG.is_valid("0501234567")
(True, True, True)
>>> EG.is_valid("+20 19 1234 5678")
False
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.fpe import DIGITS
from tokenize_kit.subkeys import FPE
from tokenize_kit.utf8 import encode_fixed, group_bytes

from .base import ColumnSpec, Crypto, Parse, PIIType, stdnum_api
from .checksums import luhn_digit_of
from .exceptions import InvalidComponent, InvalidFormat
from .text import ascii_digit_matrix, ascii_digits, render_digits

#: cycle-walk bound: a walk always ends by the time it returns to its start (which is in its own class),
#: and the sparsest class (EG 057 landlines not claimed as Saudi mobiles: 1%) needs about 100 steps
MAX_WALKS = 100_000
#: groups of fewer numbers than this walk together (see PhoneType._walk_together)
JOINT_WALK_ROWS = 4096
_STRIP = r"[\s\-\.\(\)/\x{00A0}\x{200F}\x{200E}]"


@dataclass(frozen=True)
class Region:
    code: str
    country_code: int
    mobile: str
    fixed: str

    def prefix_length(self, kind: str, nsn_first: str) -> int:
        """Digits of the national number kept in clear: operator code or area code."""
        if kind == "mobile":
            return 2
        if self.code == "EG" and nsn_first in "23":  # Cairo/Giza (2) and Alexandria (3): one-digit areas
            return 1
        return 2


def _region(code: str) -> Region:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(code)
    if meta is None or meta.country_code is None or meta.mobile is None or meta.fixed_line is None:
        raise RuntimeError(f"libphonenumber has no metadata for {code}")  # pragma: no cover
    mobile, fixed = meta.mobile.national_number_pattern, meta.fixed_line.national_number_pattern
    if mobile is None or fixed is None:
        raise RuntimeError(f"libphonenumber has no number patterns for {code}")  # pragma: no cover
    return Region(code, meta.country_code, mobile, fixed)


REGIONS = {code: _region(code) for code in ("EG", "SA")}
KINDS = ("mobile", "fixed")


_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _match(values: pa.Array, pattern: str) -> np.ndarray:
    """Full-match of ``pattern`` on every value (False for nulls)."""
    dp = _digit_pattern(pattern)
    if dp.usable and pa.types.is_string(values.type) and not isinstance(values, pa.ChunkedArray):
        off = _offsets(values)
        out = dp.match_at(group_bytes(values), off[:-1], np.diff(off))
        if values.null_count:
            out &= values.is_valid().to_numpy(zero_copy_only=False)
        return out
    return pc.fill_null(pc.match_substring_regex(values, f"^(?:{pattern})$"), False).to_numpy(zero_copy_only=False)


def _compact_array(values: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(ascii_digits(values), _STRIP, "")


def _offsets(values: pa.Array) -> np.ndarray:
    """Byte offsets of a string array's values into :func:`group_bytes` (int64, starting at 0)."""
    dtype = np.int64 if pa.types.is_large_string(values.type) else np.int32
    off = np.frombuffer(values.buffers()[1], dtype=dtype, count=len(values) + 1 + values.offset)[values.offset :]
    return off.astype(np.int64) - int(off[0])


def _plain(values: pa.Array) -> bool:
    """Whether every value is written with ASCII digits and ``+`` only (the forms exports use): then the
    value is its own compact form and nothing needs stripping or converting."""
    if values.null_count or not pa.types.is_string(values.type):
        return False
    data = group_bytes(values)
    return bool(np.all(((data >= 0x30) & (data <= 0x39)) | (data == 0x2B)))


def _plain_shape(values: pa.Array) -> np.ndarray:
    """``^\\+?[0-9]{7,15}$`` for values known to hold only ASCII digits and ``+`` (no regex)."""
    off = _offsets(values)
    data = group_bytes(values)
    length = np.diff(off)
    first_plus = np.zeros(len(values), dtype=bool)
    nonempty = np.flatnonzero(length > 0)
    first_plus[nonempty] = data[off[:-1][nonempty]] == 0x2B
    total_plus = int(np.count_nonzero(data == 0x2B))
    if total_plus == int(np.count_nonzero(first_plus)):  # every "+" leads its value
        n_plus = first_plus.astype(np.int64)
    else:
        pluses = np.concatenate([[0], np.cumsum(data == 0x2B)])
        n_plus = pluses[off[1:]] - pluses[off[:-1]]
    n_digits = length - n_plus
    return (n_digits >= 7) & (n_digits <= 15) & ((n_plus == 0) | ((n_plus == 1) & first_plus))


_ALL_DIGITS = frozenset("0123456789")


def _digit_sets(items: list, budget: list[int], max_len: int, lossy: list[bool] | None = None
                ) -> list[tuple[frozenset[str], ...]] | None:
    """The strings of ASCII digits a parsed regex (``re._parser`` items) matches, as sequences of per-position digit
    sets of length <= ``max_len``; None if the regex uses anything else or expands too far.  ``lossy[0]`` is set
    when the regex also matches strings with other characters (those are left out)."""
    import re._constants as c

    seqs: list[tuple[frozenset[str], ...]] = [()]
    for op, arg in items:
        alts: list[tuple[frozenset[str], ...]] | None
        if op is c.LITERAL or op is c.IN or op is c.ANY:
            chars = _char_set(op, arg, lossy)
            if chars is None:
                return None
            alts = [(chars,)] if chars else []
        elif op is c.SUBPATTERN:
            alts = _digit_sets(list(arg[-1]), budget, max_len, lossy)
        elif op is c.BRANCH:
            alts = []
            for branch in arg[1]:
                sub = _digit_sets(list(branch), budget, max_len, lossy)
                if sub is None:
                    return None
                alts += sub
        elif op is c.MAX_REPEAT or op is c.MIN_REPEAT:
            lo, hi, sub_items = arg
            one = _digit_sets(list(sub_items), budget, max_len, lossy)
            if one is None:
                return None
            alts = []
            reps: list[tuple[frozenset[str], ...]] = [()]
            for count in range(min(hi, max_len) + 1):
                if count >= lo:
                    alts += reps
                reps = [r + o for r in reps for o in one if len(r) + len(o) <= max_len]
                if not reps:
                    break
        else:
            return None
        if alts is None:
            return None
        seqs = [q + a for q in seqs for a in alts if len(q) + len(a) <= max_len]
        budget[0] -= len(seqs)
        if budget[0] < 0:
            return None
    return seqs


def _char_set(op: object, arg: object, lossy: list[bool] | None = None) -> frozenset[str] | None:
    import re._constants as c

    if op is c.ANY:
        if lossy is not None:
            lossy[0] = True
        return _ALL_DIGITS
    if op is c.LITERAL:
        if lossy is not None and chr(arg) not in _ALL_DIGITS:  # type: ignore[arg-type]
            lossy[0] = True
        return _ALL_DIGITS & {chr(arg)}  # type: ignore[arg-type]
    chars: set[str] = set()
    negate = False
    for kind, val in arg:  # type: ignore[attr-defined]
        if kind is c.LITERAL:
            chars.add(chr(val))
        elif kind is c.RANGE:
            chars |= {chr(x) for x in range(val[0], val[1] + 1)}
        elif kind is c.CATEGORY and val is c.CATEGORY_DIGIT:
            chars |= _ALL_DIGITS
        elif kind is c.NEGATE:
            negate = True
        else:
            return None
    if lossy is not None and (negate or chars - _ALL_DIGITS):
        lossy[0] = True
    return frozenset(_ALL_DIGITS - chars) if negate else frozenset(_ALL_DIGITS & chars)


_IS_DIGIT = np.zeros(256, dtype=bool)
_IS_DIGIT[0x30:0x3A] = True


class _DigitPattern:
    """A regex that matches only strings of ASCII digits, compiled to per-position digit tables: whole columns
    are matched with a few table lookups per position instead of a regex per value (same answers: the tables are
    the regex's exact expansion)."""

    def __init__(self, pattern: str, max_len: int = 17) -> None:
        self.usable = False
        self.by_len: dict[int, list[list[tuple[int, np.ndarray]]]] = {}
        try:
            import re._parser as parser

            lossy = [False]
            seqs = _digit_sets(list(parser.parse(pattern)), [20_000], max_len, lossy)
        except Exception:  # an unexpected regex: use it as a regex
            return
        if seqs is None or lossy[0] or len(seqs) > 512:
            return
        for seq in seqs:
            checks = []
            for j, chars in enumerate(seq):
                if chars != _ALL_DIGITS:
                    lut = np.zeros(256, dtype=bool)
                    lut[[ord(ch) for ch in chars]] = True
                    checks.append((j, lut))
            self.by_len.setdefault(len(seq), []).append(checks)
        self.usable = True

    def match_at(self, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Whether each byte range ``data[start : start + length]`` matches (ranges of ASCII text)."""
        out = np.zeros(len(starts), dtype=bool)
        for length, seqs in self.by_len.items():
            rows = np.flatnonzero(lengths == length)
            if len(rows) == 0:
                continue
            at = starts[rows]
            step = int(at[1] - at[0]) if len(at) > 1 else length
            if step >= length and len(at) > 1 and bool(np.all(np.diff(at) == step)):
                # evenly spaced (a fixed-width column): a strided (rows, length) view of the bytes, no gather
                mat = np.lib.stride_tricks.as_strided(data[int(at[0]) :], shape=(len(at), length), strides=(step, 1))
                cols = [mat[:, j] for j in range(length)]
                digits = np.ones(len(rows), dtype=bool)
                for col in cols:
                    digits &= (col - np.uint8(0x30)) < 10
            else:
                cols = [data[at + j] for j in range(length)]
                digits = np.ones(len(rows), dtype=bool)
                for col in cols:
                    digits &= _IS_DIGIT[col]
            hit = np.zeros(len(rows), dtype=bool)
            for checks in seqs:
                ok = digits.copy()
                for j, lut in checks:
                    ok &= lut[cols[j]]
                hit |= ok
            out[rows] = hit
        return out


@functools.lru_cache(maxsize=64)
def _digit_pattern(pattern: str) -> _DigitPattern:
    return _DigitPattern(pattern)


@functools.lru_cache(maxsize=512)
def _accepts_all(pattern: str, prefix: str, length: int) -> bool:
    """Whether ``pattern`` matches ``prefix`` followed by every possible string of ``length`` digits: then a cycle
    walk needs no check.  Proven on the regex's expansion into per-position digit sets; False when unsure."""
    try:
        import re._parser as parser

        seqs = _digit_sets(list(parser.parse(pattern)), [20_000], len(prefix) + length)
    except Exception:  # an unexpected regex: keep checking
        return False
    if not seqs:
        return False
    tails = [q[len(prefix) :] for q in seqs
             if len(q) == len(prefix) + length and all(ch in q[i] for i, ch in enumerate(prefix))]
    calls = [0]

    def covers(cands: list[tuple[frozenset[str], ...]], pos: int) -> bool:
        calls[0] += 1
        if calls[0] > 100_000:
            raise RecursionError
        if not cands:
            return False
        if any(all(t[j] == _ALL_DIGITS for j in range(pos, length)) for t in cands):
            return True
        return all(covers([t for t in cands if d in t[pos]], pos + 1) for d in sorted(_ALL_DIGITS))

    try:
        return covers(tails, 0)
    except RecursionError:
        return False


def _digit_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + each number zero-padded to ``width`` digits, built as fixed-width bytes."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    mat = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    mat[:, : len(head)] = head
    if width:
        mat[:, len(head) :] = ascii_digit_matrix(numbers, width)
    return encode_fixed(mat)


def _write_tail(values: pa.Array, tail_len: np.ndarray, numbers: np.ndarray) -> pa.Array:
    """Overwrite the last ``tail_len`` bytes of each (ASCII-tailed) value with ``numbers`` zero-padded."""
    off = _offsets(values)
    data = group_bytes(values).copy()
    n = len(values)
    length = np.diff(off)
    if n and (length == length[0]).all() and (tail_len == tail_len[0]).all() and 0 < tail_len[0] <= length[0]:
        width = int(tail_len[0])  # one layout for all rows: write a column block of the (rows, length) view
        data.reshape(n, int(length[0]))[:, int(length[0]) - width :] = ascii_digit_matrix(numbers, width)
    else:
        ends = off[1:]
        for width in np.unique(tail_len).tolist():
            if width <= 0:
                continue
            rows = np.flatnonzero(tail_len == width)
            digits = ascii_digit_matrix(numbers[rows], width)
            start = ends[rows] - width
            for k in range(width):
                data[start + k] = digits[:, k]
    if pa.types.is_large_string(values.type):
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(off), pa.py_buffer(data))
    return pa.StringArray.from_buffers(n, pa.py_buffer(off.astype(np.int32)), pa.py_buffer(data))


def _suffixes(values: pa.Array, starts: np.ndarray, ok: np.ndarray) -> pa.Array:
    """``values[i][starts[i]:]`` where ``ok``, null elsewhere (Arrow kernels per distinct start)."""
    n = len(values)
    rows_by_start = [(s, np.flatnonzero(ok & (starts == s))) for s in np.unique(starts[ok]).tolist()]
    pieces = [(rows, pc.utf8_slice_codeunits(values.take(pa.array(rows)), s)) for s, rows in rows_by_start]
    bad = np.flatnonzero(~ok)
    if len(bad):
        pieces.append((bad, pa.nulls(len(bad), pa.string())))
    if len(pieces) == 1 and len(pieces[0][0]) == n:
        return pieces[0][1]
    order = np.concatenate([rows for rows, _ in pieces]) if pieces else np.zeros(0, np.int64)
    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    cat = pa.concat_arrays([arr for _, arr in pieces]) if pieces else pa.array([], pa.string())
    return cat.take(pa.array(where))


def _pow10(exponents: np.ndarray) -> np.ndarray | np.int64:
    """10**exponents; a scalar when they are all equal (numpy divides by a scalar several times faster)."""
    if len(exponents) and exponents.min() == exponents.max():
        return _POW10[int(exponents[0])]
    return _POW10[exponents]


def _groups(key: np.ndarray) -> list[np.ndarray]:
    """Row indices (ascending) of each distinct key, in key order."""
    counts = np.bincount(key) if len(key) and key.min() >= 0 and key.max() < 1 << 20 else None
    if counts is not None and np.count_nonzero(counts) <= 32:  # few groups: one pass per group, no sort
        return [np.flatnonzero(key == k) for k in np.flatnonzero(counts).tolist()]
    order = np.argsort(key, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(key[order])) + 1)


class Parsed(Parse):
    """The parse of a column of phone numbers (fields per row; meaningful where ``ok``)."""

    def __init__(self, ok: np.ndarray, region: np.ndarray, kind: np.ndarray, values: pa.Array, compact: pa.Array,
                 nsn_start: np.ndarray, plain: bool) -> None:
        self.ok = ok  # bool per row
        self.region = region  # index into the type's regions
        self.kind = kind  # 0 mobile, 1 fixed
        self._values, self._compact, self.plain = values, compact, plain
        self.nsn_start = nsn_start  # where the national significant number starts in the compact form
        self._nsn: pa.Array | None = None
        self._digits: pa.Array | None = None

    @property
    def nsn_len(self) -> np.ndarray:
        """Digits in the national significant number (valid rows)."""
        return pc.utf8_length(self._compact).to_numpy(zero_copy_only=False).astype(np.int64) - self.nsn_start

    @property
    def nsn(self) -> pa.Array:
        """National significant number (ASCII digits), null where not ok."""
        if self._nsn is None:
            self._nsn = _suffixes(self._compact, self.nsn_start, self.ok)
        return self._nsn

    @property
    def digits(self) -> pa.Array:
        """Every digit of the value, ASCII, in order."""
        if self._digits is None:
            if self.plain:
                self._digits = pc.replace_substring(self._values, "+", "")
            else:
                self._digits = pc.replace_substring_regex(ascii_digits(self._values), r"[^0-9]", "")
        return self._digits


class PhoneType(PIIType):
    """Phone numbers of one or more regions (see the module docstring)."""

    regions: ClassVar[tuple[str, ...]] = ("EG", "SA")
    domain: ClassVar[str] = "phone"
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = ((FPE, "phone"),)

    def _regions(self, spec: ColumnSpec | None) -> tuple[Region, ...]:
        order = tuple(spec.options.get("regions", self.regions)) if spec is not None else self.regions
        unknown = [r for r in order if r not in REGIONS or r not in self.regions]
        if unknown:
            raise ValueError(f"regions for {self.name} must be among: {', '.join(self.regions)}")
        return tuple(REGIONS[r] for r in order)

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parsed:
        """Parse a column under the ``regions`` setting of ``spec``: region, kind and national number per row."""
        regions = self._regions(spec)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        plain = _plain(values)
        compact = values if plain else _compact_array(values)
        n = len(values)
        shape = _plain_shape(values) if plain else _match(compact, r"\+?[0-9]{7,15}")
        if plain:
            off, data = _offsets(compact), group_bytes(compact)
            has_plus = bool(np.count_nonzero(data == 0x2B))
        best_rank = np.full(n, 99, dtype=np.int64)
        region = np.full(n, -1, dtype=np.int64)
        kind = np.full(n, -1, dtype=np.int64)
        nsn_start = np.zeros(n, dtype=np.int64)

        def arr(x: pa.Array) -> np.ndarray:
            return pc.fill_null(x, False).to_numpy(zero_copy_only=False)

        plus = arr(pc.starts_with(compact, "+"))
        intl = plus | arr(pc.starts_with(compact, "00"))
        national = arr(pc.starts_with(compact, "0")) & ~intl
        bare = ~(intl | national)
        intl_skip = np.where(plus, 1, 2)  # characters before the country code of an international form
        for ri, reg in enumerate(regions):
            cc = str(reg.country_code)
            forms: list[tuple[int, int | None, np.ndarray | None, str | None]] = [
                (1, 1, national, None), (2, len(cc), None, cc), (3, 0, bare, None)]
            if intl.any():  # +CC... / 00CC...: the body after the prefix starts with the country code
                body_cc = np.zeros(n, dtype=bool)
                for prefix_chars in (1, 2):
                    rows = np.flatnonzero(intl & (intl_skip == prefix_chars))
                    if len(rows):
                        sub = compact.take(pa.array(rows))
                        body_cc[rows] = arr(pc.starts_with(pc.utf8_slice_codeunits(sub, prefix_chars), cc))
                forms.insert(0, (0, None, intl & body_cc, None))
            for form_rank, skip, applies, bare_prefix in forms:
                if bare_prefix is not None:  # bare with the country code: 20..., 966...
                    applies = bare & arr(pc.starts_with(compact, bare_prefix)) if bare.any() else bare
                if applies is None or not applies.any():
                    continue
                start = intl_skip + len(cc) if skip is None else np.full(n, skip, dtype=np.int64)
                for ki, kname in enumerate(KINDS):
                    # precedence: explicit international form, then mobile before landline, then region order
                    rank = (0 if form_rank == 0 else 10) + ki * 4 + ri
                    rows = np.flatnonzero(applies & shape & (rank < best_rank))  # only rows this can improve
                    if len(rows) == 0:
                        continue
                    pattern = reg.mobile if kname == "mobile" else reg.fixed
                    dp = _digit_pattern(pattern)
                    if plain and dp.usable:  # ASCII: match the number's bytes in place
                        at = off[rows] + start[rows]
                        hit = rows[dp.match_at(data, at, off[rows + 1] - at)]
                    else:
                        sub = compact if len(rows) == n else compact.take(pa.array(rows))
                        body = _suffixes(sub, start[rows], np.ones(len(rows), dtype=bool))
                        hit = rows[_match(body, pattern)]
                    best_rank[hit] = rank
                    region[hit] = ri
                    kind[hit] = ki
                    nsn_start[hit] = start[hit]
        ok = region >= 0
        parsed = Parsed(ok, region, kind, values, compact, nsn_start, plain)
        if plain and not has_plus:
            parsed._digits = values  # nothing but digits already
        return parsed

    # -- python-stdnum style --------------------------------------------------------------------
    def compact(self, value: str) -> str:
        """The E.164 form of a valid number."""
        p = self.parse(pa.array([value], pa.string()))
        if not p.ok[0]:
            raise InvalidFormat(f"not a valid {self.name} number")
        reg = self._regions(None)[int(p.region[0])]
        return f"+{reg.country_code}{p.nsn[0].as_py()}"

    def validate(self, value: str) -> str:
        if not _compact_array(pa.array([value], pa.string()))[0].as_py().lstrip("+").isdigit():
            raise InvalidFormat("a phone number contains digits, spaces, dashes, dots, parentheses and '+' only")
        try:
            return self.compact(value)
        except InvalidFormat:
            raise InvalidComponent(f"not a valid {self.name} mobile or landline number") from None

    def format(self, value: str) -> str:
        return self.compact(value)

    def number_type(self, value: str) -> str:
        p = self.parse(pa.array([value], pa.string()))
        return KINDS[int(p.kind[0])] if p.ok[0] else "invalid"

    # -- columnar -------------------------------------------------------------------------------
    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):  # same kind back
            return pa.chunked_array([self._crypt(values.combine_chunks(), crypto, spec, decrypt, None)])
        regions = self._regions(spec)
        p = parsed if isinstance(parsed, Parsed) else self.parse(values, spec)
        if not p.ok.all():
            raise ValueError(f"value at position {int(np.flatnonzero(~p.ok)[0])} is not a valid phone number")
        n = len(values)
        if n == 0:
            return values
        nsn_len = p.nsn_len
        # every digit of a valid number, as one integer (at most 15 digits): head (0, 00, country code) + nsn
        number = pc.cast(p.digits, pa.int64()).to_numpy(zero_copy_only=False)
        nsn = number - (number // _pow10(nsn_len)) * _pow10(nsn_len)
        first = nsn // _pow10(nsn_len - 1)
        prefix_len = np.full(n, 2, dtype=np.int64)
        for ri, reg in enumerate(regions):
            if reg.code == "EG":  # Cairo/Giza (2) and Alexandria (3) have one-digit area codes
                prefix_len[(p.region == ri) & (p.kind == 1) & ((first == 2) | (first == 3))] = 1
        sub_len = nsn_len - prefix_len
        prefix_int = nsn // _pow10(sub_len)
        sub_int = nsn - prefix_int * _pow10(sub_len)
        key = (((p.region * 2 + p.kind) * 3 + prefix_len) * 100 + prefix_int) * 32 + sub_len
        new_sub = sub_int.copy()
        cipher = crypto.cipher(self.domain, DIGITS)
        walks: dict[int, list[_Walk]] = {}  # by subscriber length
        for sel in _groups(key):
            gkey = int(key[sel[0]])
            length = gkey % 32
            rest = gkey // 32
            prefix = str(rest % 100).zfill((rest // 100) % 3)
            reg, kind = regions[rest // 300 // 2], KINDS[(rest // 300) % 2]
            pattern = reg.mobile if kind == "mobile" else reg.fixed
            tweak = crypto.tweak("phone", str(reg.country_code), kind, prefix)
            blockers = self._blockers(regions, rest // 300 // 2, (rest // 300) % 2)
            classes = _id_shaped(prefix, length) if (reg.code == "EG" and kind == "mobile"
                                                     and crypto.derivation >= 2) else None
            walks.setdefault(length, []).append(_Walk(sel, tweak, prefix, pattern, blockers, classes))
        joint = hasattr(cipher, "crypt_ints_tweaks")
        for length, group in walks.items():
            # small groups (a note's phones: a few per prefix) walk together, each row under its own tweak and
            # checks (the same tokens); a large group's steps cost what its rows cost: it walks alone
            small = [w for w in group if len(w.rows) < JOINT_WALK_ROWS] if joint else []
            if len(small) > 1:
                self._walk_together(cipher, sub_int, new_sub, length, small, decrypt)
                group = [w for w in group if len(w.rows) >= JOINT_WALK_ROWS]
            for w in group:
                new_sub[w.rows] = self._walk(cipher, sub_int[w.rows], length, w, decrypt)
        # only the subscriber digits change: they are the value's last digits
        if p.plain:  # ASCII digits and "+" only: write them straight into the value
            return _write_tail(values, sub_len, new_sub)
        return render_digits(values, p.digits, _write_tail(p.digits, sub_len, new_sub))

    @staticmethod
    def _blockers(regions: tuple[Region, ...], ri: int, ki: int) -> tuple[str, ...]:
        """Patterns of the other regions' readings that take precedence over (region ri, kind ki).

        With several regions (``phone``), a national number such as 0133978348 is valid in both countries
        (an Egyptian and a Saudi landline) and is read in precedence order (mobile first, then the regions'
        order).  A token must be read back as the same region and kind as its input, or detokenizing it
        would decrypt under the wrong tweak.  So the numbers of a (region, kind, prefix) group are split
        into two classes, those a higher-precedence reading would also claim ("ambiguous": they can only be
        written with their country code) and the rest, and the cycle walk keeps every token in its input's
        class.  Both classes are properties of the number, not of how it is written, so a number gets one
        token in every format, and detokenizing finds the same class again.
        """
        out = []
        for rj, other in enumerate(regions):
            for kj, kname in enumerate(KINDS):
                if rj != ri and kj * 4 + rj < ki * 4 + ri:
                    out.append(other.mobile if kname == "mobile" else other.fixed)
        return tuple(out)

    @staticmethod
    def _walk_together(cipher: Any, subs: np.ndarray, out: np.ndarray, length: int, group: list[_Walk],
                       decrypt: bool) -> None:
        """:meth:`_walk` of several groups of one length at once, each row under its group's tweak and checks
        (FF1): every step is one cipher call for all the groups still walking, not one per group (a column has
        dozens of prefixes, and a step costs about the same for three numbers as for three thousand)."""
        rows = np.concatenate([w.rows for w in group])
        gid = np.repeat(np.arange(len(group)), [len(w.rows) for w in group])
        cur = subs[rows].astype(np.uint64)
        starts = [w.start(cur[gid == g], length) for g, w in enumerate(group)]
        tweaks = [w.tweak for w in group]
        todo = np.arange(len(rows))
        for _ in range(MAX_WALKS):
            cur[todo] = cipher.crypt_ints_tweaks(cur[todo], length, tweaks, gid[todo], decrypt=decrypt)
            ok = np.ones(len(todo), dtype=bool)
            g_todo = gid[todo]
            for g in np.unique(g_todo).tolist():
                cls, amb, every = starts[g]
                if every:
                    continue
                pos = np.flatnonzero(g_todo == g)
                local = todo[pos] - int(np.searchsorted(gid, g))  # (a row's place within its group)
                ok[pos] = group[g].ok(cur[todo[pos]], length, None if cls is None else cls[local],
                                      None if amb is None else amb[local])
            todo = todo[~ok]
            if not len(todo):
                out[rows] = cur.astype(np.int64)
                return
        raise RuntimeError("cycle walking did not terminate")  # pragma: no cover

    @staticmethod
    def _walk(cipher, subs: np.ndarray, length: int, w: _Walk, decrypt: bool) -> np.ndarray:
        """Encrypt subscriber numbers, re-encrypting until prefix + result matches the type's pattern, no
        higher-precedence reading (``blockers``) claims it, and it is in the input's class (``classes``)."""
        out = subs.astype(np.uint64)
        todo = np.arange(len(out))
        cls, amb, every = w.start(out, length)
        fn = cipher.decrypt_numerals if decrypt else cipher.encrypt_numerals
        fast = getattr(cipher, "decrypt_ints" if decrypt else "encrypt_ints", None)
        weights = 10 ** np.arange(length - 1, -1, -1, dtype=np.int64)
        for _ in range(MAX_WALKS):
            if fast is not None:
                out[todo] = fast(out[todo], length, w.tweak)
            else:  # FF3-1: through numerals
                nums = (out[todo].astype(np.int64)[:, None] // weights[None, :]) % 10
                out[todo] = (fn(nums, w.tweak) @ weights).astype(np.uint64)
            if every:  # every number is valid
                return out.astype(np.int64)
            ok = w.ok(out[todo], length, None if cls is None else cls[todo], None if amb is None else amb[todo])
            todo = todo[~ok]
            if len(todo) == 0:
                return out.astype(np.int64)
        raise RuntimeError("cycle walking did not terminate")  # pragma: no cover


@dataclass
class _Walk:
    """One (region, kind, prefix, length) group of a phone column: its rows and what its cycle walk checks."""

    rows: np.ndarray
    tweak: bytes
    prefix: str
    pattern: str
    blockers: tuple[str, ...]
    classes: Callable[[np.ndarray], np.ndarray] | None

    def start(self, subs: np.ndarray, length: int) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
        """What the walk keeps of the inputs (their class, whether a higher-precedence reading claims them) and
        whether every number of the group is valid (one step then: when the pattern takes every number of this
        prefix and length, only the class or a blocker can send a number round again)."""
        cls = self.classes(subs) if self.classes is not None else None
        amb = None
        if self.blockers:
            start = _digit_strings(self.prefix, subs, length)
            amb = np.zeros(len(subs), dtype=bool)
            for other in self.blockers:
                amb |= _match(start, other)
        every = _accepts_all(self.pattern, self.prefix, length)
        return cls, amb, (not self.blockers and cls is None and every)

    def ok(self, new: np.ndarray, length: int, cls: np.ndarray | None, amb: np.ndarray | None) -> np.ndarray:
        """Which walked numbers are done: the pattern matches (checked only when it does not take every number),
        the class and the higher-precedence readings are the inputs'."""
        every = _accepts_all(self.pattern, self.prefix, length)
        cand = _digit_strings(self.prefix, new, length) if self.blockers or not every else None
        ok = _match(cand, self.pattern) if cand is not None and not every else np.ones(len(new), dtype=bool)
        if cls is not None:
            ok &= self.classes(new) == cls  # type: ignore[misc]
        if amb is not None:
            claimed = np.zeros(len(new), dtype=bool)
            for other in self.blockers:
                claimed |= _match(cand, other)
            ok &= claimed == amb
        return ok


def _id_shaped(prefix: str, length: int) -> Callable[[np.ndarray], np.ndarray]:
    """Whether an Egyptian mobile's national significant number (``1x`` + 8 digits, as people type it without
    its 0) is also a valid Saudi ID (10 digits, Luhn): free text reads such a number as the ID.  Derivation 2
    keeps this class, so a mobile written bare in a note gets the same token as in its column and is read the
    same way in the token."""
    head = int(prefix) * 10**length

    def classes(subs: np.ndarray) -> np.ndarray:
        nsn = head + subs.astype(np.int64)
        if len(prefix) + length != 10:
            return np.zeros(len(subs), dtype=bool)
        nine = nsn // 10
        return luhn_digit_of(nine, 9) == nsn - nine * 10

    return classes


class EgPhone(PhoneType):
    name: ClassVar[str] = "eg_phone"
    description: ClassVar[str] = "Egyptian mobile or landline number, any common format or digit script"
    regions: ClassVar[tuple[str, ...]] = ("EG",)


class SaPhone(PhoneType):
    name: ClassVar[str] = "sa_phone"
    description: ClassVar[str] = "Saudi mobile or landline number, any common format or digit script"
    regions: ClassVar[tuple[str, ...]] = ("SA",)


class Phone(PhoneType):
    name: ClassVar[str] = "phone"
    description: ClassVar[str] = "Egyptian or Saudi phone number (country detected per value)"
    regions: ClassVar[tuple[str, ...]] = ("EG", "SA")


EG = EgPhone()
SA = SaPhone()
ANY = Phone()


compact, validate, is_valid, format = stdnum_api(ANY)
