"""IBAN (ISO 13616) of Egypt and Saudi Arabia.

An IBAN is a two-letter country code, two check digits and the country's BBAN (Basic Bank Account
Number).  The national formats, as registered in the SWIFT IBAN Registry (SWIFT is the ISO 13616
registration authority; https://www.swift.com/standards/data-standards/iban-international-bank-account-number,
registry document https://www.swift.com/sites/default/files/files/iban-registry_4.pdf), in the
registry's notation (``n`` digits, ``c`` letters or digits, ``!`` fixed length):

* ``EG`` Egypt, 29 characters, BBAN ``4!n4!n17!n``: bank code (4 digits), branch code (4 digits),
  account number (17 digits);
* ``SA`` Saudi Arabia, 24 characters, BBAN ``2!n18!c``: bank code (2 digits, assigned by SAMA),
  account number (18 letters or digits).

The registry's examples are ``SA0380000000608010167519`` and ``EG380019000500000000263180002`` (another
published Egyptian example: ``EG800002000156789012345180002``).  The Saudi national standard (SAMA, SARIE,
http://www.sarie.gov.sa/iban/?iban=format&lang=en) says the same: "2a country code, 2n check digits,
2n bank identifier, 18c basic account number preceded by zeros".  The check digits follow ISO 7064 MOD 97-10: move the
first four characters to the end, replace every letter by two digits (A=10 ... Z=35); the number is
1 modulo 97.  Computed check digits are always 02..98, so 00, 01 and 99 (which can also leave
remainder 1) are rejected: otherwise a token could not give back exactly the value it came from.

The printed form in groups of four (``SA03 8000 0000 6080 1016 7519``), lower case, dashes and
Arabic-Indic digits are all accepted and come back in the same layout.

Tokens keep the country code and the bank code, and for Egypt the branch code (options
``keep_bank`` and ``keep_branch``, both true by default); the rest of the BBAN is encrypted class by
class, so digits stay digits and letters stay letters in the same positions: the digits with FF1 over
``0-9``, the letters with FF1 over ``A-Z`` (subsequences too short for the NIST minimum domain of
10**6 go through the keyed permutation of :mod:`tokenize_kit.pii.intdomain`, as in
:mod:`tokenize_kit.pii.charclass`).  The FF1 tweak holds the country, the kept bank code, the class
and its length; what else stays in clear (the Egyptian branch code, the positions of the letters) is
bound by a keyed offset added before encryption.  So the same account number at two banks or two
branches gives unrelated tokens, while the work stays one vectorised call per bank and class.  The
check digits are then recomputed, so every token is a valid IBAN of the same country and bank.

>>> is_valid("SA0380000000608010167519"), is_valid("EG380019000500000000263180002")
(True, True)
>>> format("sa0380000000608010167519")
'SA03 8000 0000 6080 1016 7519'
>>> compact("SA03 8000 0000 6080 1016 7519")
'SA0380000000608010167519'
>>> validate("SA0480000000608010167519")
Traceback (most recent call last):
    ...
tokenize_kit.pii.exceptions.InvalidChecksum: the IBAN check digits (ISO 7064 MOD 97-10) do not match
>>> validate("GB82WEST12345698765432")
Traceback (most recent call last):
    ...
tokenize_kit.pii.exceptions.InvalidComponent: IBANs of this country are not supported (supported: EG, SA)

Tokens keep the layout, the country and the bank, and validate:

>>> from tokenize_kit.keys import Keyset
>>> crypto, spec = Crypto(Keyset.generate()), ColumnSpec("iban", "iban")
>>> value = pa.array(["SA03 8000 0000 6080 1016 7519"])
>>> token = _TYPE.tokenize(value, crypto, spec)
>>> t = token[0].as_py()
>>> t[:2], t[5:7], len(t), t[4::5], is_valid(t), t != value[0].as_py()
('SA', '80', 29, '     ', True, True)
>>> _TYPE.detokenize(token, crypto, spec).equals(value)
True
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.fpe import DIGITS, min_length
from tokenize_kit.fpe._base import digits_big_endian, ints_big_endian
from tokenize_kit.primitives import prf_u16x32
from tokenize_kit.subkeys import KEEP_SHIFT, SURROGATE
from tokenize_kit.utf8 import encode_fixed, group_bytes

from .base import TEXT_SLICE, ColumnSpec, Crypto, Parse, PIIType, int_domain_subkeys, stdnum_api
from .checksums import mod97_10
from .exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from .intdomain import crypt_ints
from .text import SEPARATOR_CHARS, ascii_digits, decode, digit_values, encode

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SEPARATORS = f"[{SEPARATOR_CHARS}]"
_GENERAL = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")


@dataclass(frozen=True)
class Country:
    """One national IBAN format of the SWIFT IBAN Registry (positions are 0-based, in the IBAN)."""

    code: str
    name: str
    bban: str  # registry notation
    bank: tuple[int, int]
    branch: tuple[int, int] | None = None

    @property
    def classes(self) -> str:
        """Per BBAN position: ``n`` (digit) or ``c`` (letter or digit)."""
        return "".join(cls * int(k) for k, cls in re.findall(r"(\d+)!([nc])", self.bban))

    @property
    def length(self) -> int:
        return 4 + len(self.classes)

    @property
    def regex(self) -> str:
        runs = re.findall(r"(\d+)!([nc])", self.bban)
        return f"^{self.code}[0-9]{{2}}" + "".join(
            f"[0-9]{{{k}}}" if cls == "n" else f"[0-9A-Z]{{{k}}}" for k, cls in runs
        ) + "$"


#: SWIFT IBAN Registry entries of the supported countries
COUNTRIES: dict[str, Country] = {
    "EG": Country("EG", "Egypt", "4!n4!n17!n", bank=(4, 8), branch=(8, 12)),
    "SA": Country("SA", "Saudi Arabia", "2!n18!c", bank=(4, 6)),
}


def _compact_array(values: pa.Array) -> pa.Array:
    """Separators removed, Arabic-Indic digits made ASCII, ASCII letters upper-cased (vectorised)."""
    if not pc.all(pc.fill_null(pc.ascii_is_alnum(values), True)).as_py():
        values = pc.replace_substring_regex(ascii_digits(values), _SEPARATORS, "")
    return pc.ascii_upper(values)


def mod97(chars: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 97-10 remainder of IBANs given as a (rows, length) matrix of ASCII codes: the first four
    characters go to the end (ISO 13616), then :func:`~tokenize_kit.pii.checksums.mod97_10`.

    When every row has its letters in the same positions (the usual case: the country code only), the remainder is
    one weighted sum of the matrix as it is, each column weighted by ``10**k mod 97`` for the decimal digits after
    it in the rearranged number (no rearranged copy, no float matrix).

    >>> mod97(np.frombuffer(b"SA0380000000608010167519", np.uint8).reshape(1, -1))
    array([1])
    """
    if len(chars):
        letter = chars >= 0x41
        if not (letter != letter[0]).any():
            weights, constant = _mod97_weights(tuple(bool(x) for x in letter[0]))
            # (uint8 summed in int64 by einsum's buffered cast: at most 255 * 96 per column)
            total = np.einsum("ij,j->i", chars, weights, dtype=np.int64, casting="unsafe")
            return (total - constant) % 97
    return mod97_10(np.concatenate([chars[:, 4:], chars[:, :4]], axis=1))


@functools.cache
def _mod97_weights(letters: tuple[bool, ...]) -> tuple[np.ndarray, int]:
    """Per column of an IBAN with letters at ``letters``: the weight of its ASCII code in the MOD 97-10 remainder,
    and the constant to subtract (the codes of ``0`` and of ``A`` minus 10, weighted)."""
    length = len(letters)
    order = [*range(4, length), *range(4)]  # the rearranged number, column by column
    width = [2 if letters[j] else 1 for j in order]
    weights = np.zeros(length, dtype=np.int64)
    after = 0
    for j, w in zip(reversed(order), reversed(width), strict=True):
        weights[j] = pow(10, after, 97)
        after += w
    zero = np.array([0x37 if x else 0x30 for x in letters], dtype=np.int64)
    return weights, int(zero @ weights)


def set_check_digits(chars: np.ndarray) -> np.ndarray:
    """Write the check digits (02..98) into columns 2-3 of an IBAN character matrix, in place."""
    chars[:, 2:4] = 0x30
    check = 98 - mod97(chars)
    chars[:, 2] = (check // 10 + 0x30).astype(np.uint8)
    chars[:, 3] = (check % 10 + 0x30).astype(np.uint8)
    return chars


def _check_ok(chars: np.ndarray) -> np.ndarray:
    check = (chars[:, 2].astype(np.int64) - 0x30) * 10 + chars[:, 3].astype(np.int64) - 0x30
    return (check >= 2) & (check <= 98) & (mod97(chars) == 1)


@dataclass
class Parsed(Parse):
    compact: pa.Array
    #: country code -> (row positions, (rows, length) uint8 matrix of the compact IBANs); valid rows only
    groups: dict[str, tuple[np.ndarray, np.ndarray]]


class Iban(PIIType):
    """IBAN of Egypt or Saudi Arabia (see the module docstring)."""

    name: ClassVar[str] = "iban"
    description: ClassVar[str] = "IBAN of Egypt (EG, 29) or Saudi Arabia (SA, 24); country and bank code kept"
    domain: ClassVar[str] = "iban"
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = (*int_domain_subkeys("iban"), (KEEP_SHIFT, "iban"))
    slice_values: ClassVar[int] = TEXT_SLICE

    # -- scalar ---------------------------------------------------------------------------------
    def compact(self, value: str) -> str:
        return _compact_array(pa.array([value], pa.string()))[0].as_py()

    def validate(self, value: str) -> str:
        v = self.compact(value)
        if not _GENERAL.fullmatch(v):
            raise InvalidFormat("an IBAN is a two-letter country code, two check digits and letters or digits")
        country = COUNTRIES.get(v[:2])
        if country is None:
            raise InvalidComponent(f"IBANs of this country are not supported (supported: {', '.join(COUNTRIES)})")
        if len(v) != country.length:
            raise InvalidLength(f"an IBAN of {country.name} has {country.length} characters")
        if not re.fullmatch(country.regex, v):
            raise InvalidFormat(
                f"the account part (BBAN) of an IBAN of {country.name} is {country.bban} "
                "(n: digits, c: letters or digits)"
            )
        if not _check_ok(np.frombuffer(v.encode("ascii"), np.uint8).reshape(1, -1))[0]:
            raise InvalidChecksum("the IBAN check digits (ISO 7064 MOD 97-10) do not match")
        return v

    def format(self, value: str) -> str:
        """The printed form: groups of four characters."""
        v = self.compact(value)
        return " ".join(v[i : i + 4] for i in range(0, len(v), 4))

    # -- columnar -------------------------------------------------------------------------------
    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parsed:
        compacted = _compact_array(values)
        if isinstance(compacted, pa.ChunkedArray):
            compacted = compacted.combine_chunks()
        ok = np.zeros(len(values), dtype=bool)
        groups: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for country in COUNTRIES.values():
            idx, chars = _of_country(compacted, country)
            if len(idx) == 0:
                continue
            good = _check_ok(chars)
            ok[idx[good]] = True
            groups[country.code] = (idx[good], chars[good])
        return Parsed(ok, compacted, groups)

    @staticmethod
    def _hidden_start(country: Country, spec: ColumnSpec | None) -> int:
        """First IBAN position that is encrypted (everything before it but the check digits is kept)."""
        options = spec.options if spec is not None else {}
        if not options.get("keep_bank", True):
            return 4
        if country.branch is not None and options.get("keep_branch", True):
            return country.branch[1]
        return country.bank[1]

    def _crypt_class(
        self, crypto: Crypto, alphabet: str, nums: np.ndarray, parts: tuple[str, ...], decrypt: bool
    ) -> np.ndarray:
        """Encrypt rows of numerals (one length) over ``alphabet``: FF1, or a keyed permutation if tiny.

        ``parts`` is (type, country, bank, class, length); a permutation table (domain below the NIST
        minimum of 10**6) leaves the bank out, so that at most one table per class and length is built.
        """
        radix, length = len(alphabet), nums.shape[1]
        if length < min_length(radix):  # radix**length < 10**6: below the NIST minimum domain
            size = radix**length
            ints = nums @ (radix ** np.arange(length - 1, -1, -1, dtype=np.int64))
            table_parts = parts[:2] + parts[3:]
            new = crypt_ints(crypto, self.domain, ints, size, table_parts, decrypt=decrypt)
            return digits_big_endian(new.astype(np.uint64), radix, length)
        cipher = crypto.cipher(self.domain, alphabet)
        tweak = crypto.tweak(*parts)
        fast = getattr(cipher, "decrypt_ints" if decrypt else "encrypt_ints", None)
        if fast is not None and radix**length <= 2**64:
            return digits_big_endian(fast(ints_big_endian(nums, radix, False), length, tweak), radix, length)
        step = cipher.decrypt_numerals if decrypt else cipher.encrypt_numerals
        return step(nums, tweak)

    def _crypt_shifted(self, crypto: Crypto, alphabet: str, nums: np.ndarray, shift: np.ndarray,
                       parts: tuple[str, ...], decrypt: bool) -> np.ndarray:
        """Encrypt ``(nums + shift) mod radix**length`` (or decrypt, then subtract the shift): numerals in, numerals
        out.  Where the numbers fit in int64 the addition is one integer addition per row (the same as adding the
        numerals with carries), and FF1 works on the integers directly."""
        radix, length = len(alphabet), nums.shape[1]
        size = radix**length
        fast = getattr(crypto.cipher(self.domain, alphabet), "decrypt_ints" if decrypt else "encrypt_ints", None)
        if size >= 2**62 or (fast is None and length >= min_length(radix)):
            if decrypt:
                return _add(self._crypt_class(crypto, alphabet, nums, parts, True), shift, radix, -1)
            return self._crypt_class(crypto, alphabet, _add(nums, shift, radix, 1), parts, False)
        x = ints_big_endian(nums, radix, False).astype(np.int64)
        sh = ints_big_endian(shift, radix, False).astype(np.int64)
        if not decrypt:
            x = x + sh
            x -= np.where(x >= size, size, 0)
        if length < min_length(radix):  # below the NIST minimum domain: the keyed permutation, as _crypt_class
            new = crypt_ints(crypto, self.domain, x, size, parts[:2] + parts[3:], decrypt=decrypt).astype(np.int64)
        else:
            assert fast is not None
            new = fast(x.astype(np.uint64), length, crypto.tweak(*parts)).astype(np.int64)
        if decrypt:
            new = new - sh
            new += np.where(new < 0, size, 0)
        return digits_big_endian(new.astype(np.uint64), radix, length)

    def _digits_at_once(self, country: Country, chars: np.ndarray, start: int, bank_end: int, offset: np.ndarray,
                        crypto: Crypto, decrypt: bool, fast, new_hidden: np.ndarray, rows: np.ndarray | None) -> None:
        """The digits-only IBANs of one country (``chars``, with their keyed ``offset``) with FF1 on integers: what
        :meth:`_crypt_shifted` does per (bank, letters) group, done for every such row at once but the FF1 call
        (one per bank, whose code is in the tweak).  Writes into ``new_hidden`` (at ``rows``; all rows if None)."""
        if len(chars) == 0:
            return
        hidden = chars[:, start:]
        width = hidden.shape[1]
        size = 10**width
        x = _digit_values(hidden)
        shift_digits = offset % np.uint16(10)
        sh = np.einsum("ij,j->i", shift_digits, 10 ** np.arange(width - 1, -1, -1, dtype=np.int64), dtype=np.int64,
                       casting="unsafe")
        if not decrypt:
            x += sh
            x -= np.where(x >= size, size, 0)
        banks, which = _distinct(_digit_values(chars[:, 4:bank_end]) if bank_end > 4 else np.zeros(len(x), np.int64))
        new = np.empty(len(x), dtype=np.int64)
        if len(banks) == 1:
            groups = [np.arange(len(x))]
        else:
            order = np.argsort(which.astype(np.uint16) if len(banks) < 2**16 else which, kind="stable")
            groups = np.split(order, np.cumsum(np.bincount(which, minlength=len(banks)))[:-1])
        for g in groups:
            bank_code = chars[g[0], 4:bank_end].tobytes().decode("ascii")
            tweak = crypto.tweak(self.name, country.code, bank_code, "digit", str(width))
            new[g] = fast(x[g].astype(np.uint64), width, tweak).astype(np.int64)
        if decrypt:
            new -= sh
            new += np.where(new < 0, size, 0)
        if rows is None:
            new_hidden[:] = _digit_chars(new, width)
        else:
            new_hidden[rows] = _digit_chars(new, width)

    def _new_chars(
        self, country: Country, chars: np.ndarray, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool
    ) -> np.ndarray:
        """Tokens (or plaintexts) of one country's IBANs as a character matrix, check digits recomputed.

        The encrypted part is split by class (digits, letters); each class subsequence is encrypted
        with the tweak (country, kept bank code, class, length), one call per (bank, number of
        letters) group.  Everything else the token keeps in clear, the branch code and the positions
        of the letters, is bound by a keyed offset added to the numerals before encryption (the way
        :mod:`~tokenize_kit.pii.eg_national_id` binds its kept parts): the number of groups stays
        bounded by the number of banks whatever the data, and the same digits at two branches or
        under two letter patterns still give unrelated tokens.
        """
        start = self._hidden_start(country, spec)
        bank_end = country.bank[1] if start > 4 else 4
        hidden = chars[:, start:]
        rows_all, width = hidden.shape
        letter = hidden >= 0x41
        any_letter = bool(letter.any())
        n_letters = letter.sum(axis=1) if any_letter else np.zeros(rows_all, dtype=np.int64)
        kept = _digit_values(chars[:, 4:start])
        bank = kept // 10 ** (start - bank_end)
        pattern = np.zeros(rows_all, dtype=np.int64)
        if any_letter:  # the letter positions as bits, the first position highest
            packed = np.packbits(letter, axis=1, bitorder="big")
            for j in range(packed.shape[1]):
                pattern = (pattern << 8) | packed[:, j]
            pattern >>= 8 * packed.shape[1] - width
        offset = _offsets(crypto.key(KEEP_SHIFT, self.domain), country.code, start, width,
                          (kept << width) | pattern)
        new_hidden = hidden.copy()
        fast = getattr(crypto.cipher(self.domain, DIGITS), "decrypt_ints" if decrypt else "encrypt_ints", None)
        done = fast is not None and 10**width < 2**62  # (the digits-only rows are done at once)
        if done:
            digit_rows = np.flatnonzero(n_letters == 0) if any_letter else None
            self._digits_at_once(country, chars if digit_rows is None else chars[digit_rows], start, bank_end,
                                 offset if digit_rows is None else offset[digit_rows], crypto, decrypt, fast,
                                 new_hidden, digit_rows)
            if not any_letter:
                result = chars.copy()
                result[:, start:] = new_hidden
                return set_check_digits(result)
        inverse, uniq = _groups(bank * 64 + n_letters)
        order = np.argsort(inverse, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(uniq)))])
        for g in range(len(uniq)):
            if done and uniq[g] % 64 == 0:  # (digits only: done above)
                continue
            rows = order[bounds[g] : bounds[g + 1]]
            bank_code = chars[rows[0], 4:bank_end].tobytes().decode("ascii")
            block, off, is_letter = hidden[rows], offset[rows], letter[rows]
            out = block.copy()
            if not is_letter.any():  # digits only (the usual case): no per-class gathers
                nums = block.astype(np.int64) - 0x30
                shift = off.astype(np.int64) % 10
                parts = (self.name, country.code, bank_code, "digit", str(width))
                new_hidden[rows] = (self._crypt_shifted(crypto, DIGITS, nums, shift, parts, decrypt) + 0x30
                                    ).astype(np.uint8)
                continue
            for cls, alphabet, mask, zero in (
                ("digit", DIGITS, ~is_letter, 0x30),
                ("letter", LETTERS, is_letter, 0x41),
            ):
                length = int(mask[0].sum())
                if length == 0:
                    continue
                radix = len(alphabet)
                nums = block[mask].reshape(-1, length).astype(np.int64) - zero
                shift = off[mask].reshape(-1, length).astype(np.int64) % radix
                parts = (self.name, country.code, bank_code, cls, str(length))
                new = self._crypt_shifted(crypto, alphabet, nums, shift, parts, decrypt)
                out[mask] = (new + zero).astype(np.uint8).ravel()
            new_hidden[rows] = out
        result = chars.copy()
        result[:, start:] = new_hidden
        return set_check_digits(result)

    def _assemble(self, p: Parsed, n: int, make) -> pa.Array:
        """Run ``make(country, chars)`` per country and put the results back in row order."""
        pieces, positions = [], []
        for code, (idx, chars) in p.groups.items():
            pieces.append(encode_fixed(make(COUNTRIES[code], chars)))
            positions.append(idx)
        if not pieces:
            return pa.array([], pa.string())
        where = np.concatenate(positions)
        back = np.empty(n, dtype=np.int64)
        back[where] = np.arange(n)
        return pa.concat_arrays(pieces).take(pa.array(back))

    def _checked_parse(self, values: pa.Array, parsed: Parse | None = None) -> Parsed:
        p = parsed if isinstance(parsed, Parsed) else self.parse(values)
        if not p.ok.all():
            raise ValueError(f"value at position {int(np.flatnonzero(~p.ok)[0])} is not a valid IBAN")
        return p

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        if len(values) == 0:
            return pa.array([], pa.string())
        p = self._checked_parse(values, parsed)
        tokens = self._assemble(p, len(values), lambda c, chars: self._new_chars(c, chars, crypto, spec, decrypt))
        return render(values, p.compact, tokens)

    def surrogate(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        """A valid IBAN of the same country, bank and letter/digit pattern, keyed by the value (irreversible)."""
        if len(values) == 0:
            return pa.array([], pa.string())
        p = self._checked_parse(values)
        key = crypto.key(SURROGATE, self.domain)

        def make(country: Country, chars: np.ndarray) -> np.ndarray:
            start = self._hidden_start(country, spec)
            rnd = prf_u16x32(key, chars)[:, start : country.length].astype(np.int64)
            out = chars.copy()
            letter = chars[:, start:] >= 0x41
            out[:, start:] = np.where(letter, rnd % 26 + 0x41, rnd % 10 + 0x30).astype(np.uint8)
            return set_check_digits(out)

        return render(values, p.compact, self._assemble(p, len(values), make))


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group index of each row, distinct keys) for an int64 key per row."""
    uniq, inverse = _distinct(keys)
    return inverse, uniq


def _add(nums: np.ndarray, offset: np.ndarray, radix: int, sign: int) -> np.ndarray:
    """``(nums + sign * offset) mod radix**width`` on rows of big-endian numerals, with carries."""
    out = np.empty_like(nums)
    carry = np.zeros(len(nums), dtype=np.int64)
    for j in range(nums.shape[1] - 1, -1, -1):
        total = nums[:, j] + sign * offset[:, j] + carry
        carry = np.floor_divide(total, radix)
        out[:, j] = total - carry * radix
    return out


def _offsets(key: bytes, code: str, start: int, width: int, context: np.ndarray) -> np.ndarray:
    """Keyed pseudo-random numerals (uint16; reduce them modulo the radix), ``width`` per row, that
    depend on the row's context (kept digits and letter pattern, one int64) - one AES run per
    distinct context."""
    uniq, inverse = _distinct(context)
    msg = np.zeros((len(uniq), 12), dtype=np.uint8)
    msg[:, :2] = np.frombuffer(code.encode("ascii"), np.uint8)
    msg[:, 2], msg[:, 3] = start, width
    msg[:, 4:] = uniq.astype(">u8").view(np.uint8).reshape(-1, 8)
    return prf_u16x32(key, msg)[inverse, :width]


def _distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct int64 keys in first-occurrence order, each row's index into them): one hash pass."""
    enc = pc.dictionary_encode(pa.array(keys, pa.int64()))
    return enc.dictionary.to_numpy(), enc.indices.to_numpy()


def _of_country(compacted: pa.Array, country: Country) -> tuple[np.ndarray, np.ndarray]:
    """(rows, (rows, length) uint8 matrix) of the values of ``compacted`` that have the form of an IBAN of
    ``country`` (exactly its :attr:`Country.regex`: the country code, two digits, then per BBAN position a digit or,
    where the registry says ``c``, a digit or an upper-case letter), checked on the bytes."""
    length = country.length
    large = pa.types.is_large_string(compacted.type)
    n = len(compacted)
    raw = np.frombuffer(compacted.buffers()[1], dtype=np.int64 if large else np.int32,
                        count=n + 1 + compacted.offset)[compacted.offset :]
    off = raw.astype(np.int64) - int(raw[0])
    right = np.diff(off) == length
    if compacted.null_count:
        right &= compacted.is_valid().to_numpy(zero_copy_only=False)
    idx = np.flatnonzero(right)
    if len(idx) == 0:
        return idx, np.zeros((0, length), dtype=np.uint8)
    data = group_bytes(compacted)
    if len(idx) == n:
        chars = data.reshape(n, length).copy()
    else:  # each row's bytes as one window of the buffer (a copy per row, not an index per byte)
        chars = np.lib.stride_tricks.as_strided(data, (len(data) - length + 1, length), (1, 1))[off[idx]]
    shape = _shape(country)
    # every position but the country code's: a digit, or an upper-case letter where the BBAN allows one
    bad = ~_DIGIT[chars[:, 2:]]
    if shape.any():
        bad[:, shape[2:]] &= ~_UPPER[chars[:, shape]]
    form = (chars[:, 0] == ord(country.code[0])) & (chars[:, 1] == ord(country.code[1]))
    if bad.any():  # (per-row reductions only when some position is wrong)
        form &= ~bad.any(axis=1)
    if form.all():
        return idx, chars
    return idx[form], chars[form]


#: per byte: an ASCII digit; an ASCII upper-case letter
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[0x30:0x3A] = True
_UPPER = np.zeros(256, dtype=bool)
_UPPER[0x41:0x5B] = True


@functools.cache
def _shape(country: Country) -> np.ndarray:
    """Per IBAN position of ``country``: whether an upper-case letter is allowed there (the BBAN's ``c``)."""
    return np.array([False] * 4 + [c == "c" for c in country.classes], dtype=bool)


def _digit_values(chars: np.ndarray) -> np.ndarray:
    """The number each row of a (rows, width) matrix of ASCII digits spells (width <= 18), as int64."""
    width = chars.shape[1]
    weights = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    # sum of codes times weights minus that of "0"s: computed modulo 2**64 (uint64 wraps), exact once the "0"s are
    # taken off (the number is below 10**18)
    total = np.einsum("ij,j->i", chars, weights.astype(np.uint64), dtype=np.uint64, casting="unsafe")
    return (total - np.uint64(0x30 * int(weights.sum()))).astype(np.int64)


def _digit_chars(values: np.ndarray, width: int) -> np.ndarray:
    """(rows, width) uint8 matrix of the ASCII digits of non-negative integers below ``10**width`` (width <= 18):
    the low nine digits and the rest each in uint32 arithmetic."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.astype(np.uint64)
    high = v // np.uint64(10**9)
    parts = ((v - high * np.uint64(10**9)).astype(np.uint32), width, max(width - 9, 0))
    for acc, stop, begin in (parts, (high.astype(np.uint32), max(width - 9, 0), 0)):
        for j in range(stop - 1, begin - 1, -1):
            q = acc // np.uint32(10)
            out[:, j] = acc - q * np.uint32(10) + np.uint32(0x30)
            acc = q
    return out


def render(values: pa.Array, plain: pa.Array, tokens: pa.Array) -> pa.Array:
    """Write compact ``tokens`` into the layout of ``values`` (whose compact forms are ``plain``).

    Separators stay where they are, each digit keeps its script (ASCII, Arabic-Indic, Extended
    Arabic-Indic) and each letter its case; values already in compact form take the token as is.
    """
    same = pc.fill_null(pc.equal(values, plain), False)
    if pc.all(same).as_py():
        return tokens
    odd = pc.invert(same)
    idx = pa.array(np.flatnonzero(odd.to_numpy(zero_copy_only=False)))
    cps, row_off = decode(values.take(idx))
    new, _ = decode(tokens.take(idx))
    dv = digit_values(cps)
    lower = (cps >= 0x61) & (cps <= 0x7A)
    upper = (cps >= 0x41) & (cps <= 0x5A)
    pos = np.flatnonzero((dv >= 0) | lower | upper)
    if len(pos) != len(new):  # pragma: no cover - parse and layout disagree: a bug, not bad data
        raise RuntimeError("IBAN layout does not match its compact form")
    new = new.astype(np.int64)
    out = cps.astype(np.int64)
    is_digit = dv[pos] >= 0
    out[pos] = np.where(is_digit, cps[pos].astype(np.int64) - dv[pos] + new - 0x30,
                        np.where(lower[pos], new + 0x20, new))
    return pc.replace_with_mask(tokens, odd, encode(out.astype(np.uint32), row_off))


_TYPE = Iban()


compact, validate, is_valid, format = stdnum_api(_TYPE)
