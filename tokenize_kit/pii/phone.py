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

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.fpe import DIGITS

from .base import ColumnSpec, Crypto, PIIType, stdnum_api
from .exceptions import InvalidComponent, InvalidFormat
from .text import ascii_digits, render_digits

MAX_WALKS = 200
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
    return Region(code, meta.country_code, meta.mobile.national_number_pattern, meta.fixed_line.national_number_pattern)


REGIONS = {code: _region(code) for code in ("EG", "SA")}
KINDS = ("mobile", "fixed")


def _match(values: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(values, f"^(?:{pattern})$"), False).to_numpy(zero_copy_only=False)


def _compact_array(values: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(ascii_digits(values), _STRIP, "")


@dataclass
class Parsed:
    ok: np.ndarray  # bool per row
    region: np.ndarray  # index into the type's regions
    kind: np.ndarray  # 0 mobile, 1 fixed
    nsn: pa.Array  # national significant number (ASCII digits)
    digits: pa.Array  # every digit of the value, ASCII, in order


class PhoneType(PIIType):
    """Phone numbers of one or more regions (see the module docstring)."""

    regions: ClassVar[tuple[str, ...]] = ("EG", "SA")
    domain: ClassVar[str] = "phone"

    def _regions(self, spec: ColumnSpec | None) -> tuple[Region, ...]:
        order = tuple(spec.options.get("regions", self.regions)) if spec is not None else self.regions
        unknown = [r for r in order if r not in REGIONS or r not in self.regions]
        if unknown:
            raise ValueError(f"regions for {self.name} must be among: {', '.join(self.regions)}")
        return tuple(REGIONS[r] for r in order)

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parsed:
        cached = self._last
        if cached is not None and cached[0] is values and cached[1] == self._regions(spec):
            return cached[2]
        parsed = self._parse(values, spec)
        self._last = (values, self._regions(spec), parsed)
        return parsed

    _last: tuple | None = None

    def _parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parsed:
        regions = self._regions(spec)
        compact = _compact_array(values)
        n = len(values)
        shape = _match(compact, r"\+?[0-9]{7,15}")
        best_rank = np.full(n, 99, dtype=np.int64)
        region = np.full(n, -1, dtype=np.int64)
        kind = np.full(n, -1, dtype=np.int64)
        nsn = pa.nulls(n, pa.string())
        plus = pc.starts_with(compact, "+")
        intl = pc.or_(plus, pc.starts_with(compact, "00"))
        intl_body = pc.if_else(plus, pc.utf8_slice_codeunits(compact, 1), pc.utf8_slice_codeunits(compact, 2))
        national = pc.and_(pc.starts_with(compact, "0"), pc.invert(intl))
        bare = pc.invert(pc.or_(intl, national))
        for ri, reg in enumerate(regions):
            cc = str(reg.country_code)
            body_cc = pc.starts_with(intl_body, cc)
            bare_cc = pc.and_(bare, pc.starts_with(compact, cc))
            forms = (
                (0, pc.and_(intl, body_cc), pc.utf8_slice_codeunits(intl_body, len(cc))),
                (1, national, pc.utf8_slice_codeunits(compact, 1)),
                (2, bare_cc, pc.utf8_slice_codeunits(compact, len(cc))),
                (3, bare, compact),
            )
            for form_rank, applies, body in forms:
                if not pc.any(applies).as_py():
                    continue
                cand = pc.if_else(applies, body, pa.nulls(n, pa.string()))
                for ki, kname in enumerate(KINDS):
                    hit = _match(cand, reg.mobile if kname == "mobile" else reg.fixed) & shape
                    # precedence: explicit international form, then mobile before landline, then region order
                    rank = (0 if form_rank == 0 else 10) + ki * 4 + ri
                    better = hit & (rank < best_rank)
                    if better.any():
                        best_rank[better] = rank
                        region[better] = ri
                        kind[better] = ki
                        nsn = pc.if_else(pa.array(better), cand, nsn)
        ok = region >= 0
        return Parsed(ok, region, kind, nsn, pc.replace_substring_regex(ascii_digits(values), r"[^0-9]", ""))

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
    def valid_mask(self, values: pa.Array, spec: ColumnSpec | None = None) -> np.ndarray:
        return self.parse(values, spec).ok

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool) -> pa.Array:
        regions = self._regions(spec)
        p = self.parse(values, spec)
        if not p.ok.all():
            raise ValueError(f"value at position {int(np.flatnonzero(~p.ok)[0])} is not a valid phone number")
        nsn = p.nsn
        nsn_len = pc.utf8_length(nsn).to_numpy(zero_copy_only=False).astype(np.int64)
        first = pc.cast(pc.utf8_slice_codeunits(nsn, 0, 1), pa.int64()).to_numpy(zero_copy_only=False)
        prefix_len = np.full(len(nsn), 2, dtype=np.int64)
        for ri, reg in enumerate(regions):
            if reg.code == "EG":  # Cairo/Giza (2) and Alexandria (3) have one-digit area codes
                prefix_len[(p.region == ri) & (p.kind == 1) & np.isin(first, [2, 3])] = 1
        prefix_int = np.zeros(len(nsn), dtype=np.int64)
        sub_int = np.zeros(len(nsn), dtype=np.int64)
        for k in (1, 2):
            sel = np.flatnonzero(prefix_len == k)
            if len(sel):
                part = nsn.take(pa.array(sel))
                prefix_int[sel] = pc.cast(pc.utf8_slice_codeunits(part, 0, k), pa.int64()).to_numpy()
                sub_int[sel] = pc.cast(pc.utf8_slice_codeunits(part, k), pa.int64()).to_numpy()
        sub_len = nsn_len - prefix_len
        key = (((p.region * 2 + p.kind) * 3 + prefix_len) * 100 + prefix_int) * 32 + sub_len
        uniq, inverse = np.unique(key, return_inverse=True)
        new_sub = sub_int.copy()
        cipher = crypto.cipher(self.domain, DIGITS)
        for gi, gkey in enumerate(uniq.tolist()):
            sel = np.flatnonzero(inverse == gi)
            length = gkey % 32
            rest = gkey // 32
            prefix = str(rest % 100).zfill((rest // 100) % 3)
            reg, kind = regions[rest // 300 // 2], KINDS[(rest // 300) % 2]
            pattern = reg.mobile if kind == "mobile" else reg.fixed
            tweak = crypto.tweak("phone", str(reg.country_code), kind, prefix)
            new_sub[sel] = self._walk(cipher, sub_int[sel], length, tweak, prefix, pattern, decrypt)
        # prefixes never start with 0, so prefix * 10**len + subscriber has exactly len(nsn) digits
        new_nsn = pc.cast(pa.array(prefix_int * 10**sub_len + new_sub), pa.string())
        head_len = pc.utf8_length(p.digits).to_numpy(zero_copy_only=False).astype(np.int64) - nsn_len
        new_digits = new_nsn
        for h in np.unique(head_len).tolist():
            if h == 0:
                continue
            sel = head_len == h
            heads = pc.utf8_slice_codeunits(p.digits, 0, h)
            joined = pc.binary_join_element_wise(heads, new_nsn, "")
            new_digits = pc.if_else(pa.array(sel), joined, new_digits)
        return render_digits(values, p.digits, new_digits)

    @staticmethod
    def _walk(cipher, subs: np.ndarray, length: int, tweak: bytes, prefix: str, pattern: str, decrypt: bool):
        """Encrypt subscriber numbers, re-encrypting until prefix + result matches the type's pattern."""
        out = subs.astype(np.uint64)
        todo = np.arange(len(out))
        fn = cipher.decrypt_numerals if decrypt else cipher.encrypt_numerals
        fast = getattr(cipher, "decrypt_ints" if decrypt else "encrypt_ints", None)
        weights = 10 ** np.arange(length - 1, -1, -1, dtype=np.int64)
        for _ in range(MAX_WALKS):
            if fast is not None:
                out[todo] = fast(out[todo], length, tweak)
            else:  # FF3-1: through numerals
                nums = (out[todo].astype(np.int64)[:, None] // weights[None, :]) % 10
                out[todo] = (fn(nums, tweak) @ weights).astype(np.uint64)
            cand = pc.binary_join_element_wise(
                prefix, pc.utf8_lpad(pc.cast(pa.array(out[todo]), pa.string()), length, "0"), ""
            )
            todo = todo[~_match(cand, pattern)]
            if len(todo) == 0:
                return out.astype(np.int64)
        raise RuntimeError("cycle walking did not terminate")  # pragma: no cover

    def tokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        return self._crypt(values, crypto, spec, decrypt=False)

    def detokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        return self._crypt(values, crypto, spec, decrypt=True)


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
