"""Egyptian national ID number (الرقم القومي), 14 digits.

Structure (as documented by several independent public implementations, e.g. the open-source
``egyptid_extractor`` (Dart) and ``egyptian-national-id-validator`` (JavaScript) packages; the Civil
Status Organization publishes no specification)::

    C YYMMDD GG SSSS K
    2 980101 01 2345 6

* ``C``      century of birth: 2 = 1900-1999, 3 = 2000-2099
* ``YYMMDD`` date of birth
* ``GG``     governorate of birth (01 Cairo ... 35 South Sinai, 88 born abroad; see
  :data:`GOVERNORATE_CODES` and ``tokenize_kit/refdata/eg_governorates.csv``)
* ``SSSS``   serial; its last digit (the 13th digit of the ID) is odd for men, even for women
* ``K``      check digit.  **No official check-digit algorithm is public.**  By default
  (``check_digit: none``) the 14th digit is not verified and is encrypted like the rest, so every
  real ID is accepted and reversible.  ``check_digit: luhn`` is offered for organisations whose
  systems validate Egyptian IDs with a Luhn check (a local convention, not an official rule).

Tokens: (date, governorate, serial[, check digit]) is ONE mixed-radix integer in a domain that contains
only valid IDs, encrypted within that domain by FF1 with cycle walking
(:func:`~tokenize_kit.pii.intdomain.crypt_ints`), so every token is itself a structurally valid ID
with a real birth date between 1900-01-01 and the ``max_birth_date`` setting (default 2025-12-31; the
domain must be fixed for tokens to be reproducible, so IDs born later are treated as invalid).
Parts listed under ``keep`` (``birth_date``, ``gender``, ``governorate``) stay in clear; they are removed
from the encrypted integer and, through a keyed shift of it, still change the token of the hidden parts
(equal hidden parts under different kept parts give unrelated tokens).  The birth date can be kept
generalised instead (the finest listed wins): ``birth_month``, ``birth_year``, ``birth_5y`` (5-year band
1985-1989) or ``birth_10y``: the token's date is then a keyed pseudo-random date in the same class (month,
year or band) as the real one, so the token still reads as a real ID while revealing only the class.

>>> compact("2980101 01 2345 6")
'29801010123456'
>>> is_valid("29801010123456")
True
>>> is_valid("29802300123456")   # 30 February
False
>>> validate("2980101012345")
Traceback (most recent call last):
    ...
tokenize_kit.pii.exceptions.InvalidLength: an Egyptian national ID has 14 digits
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.primitives import prf_u64, prf_u64_of_ints
from tokenize_kit.subkeys import KEEP_SHIFT, SURROGATE
from tokenize_kit.utf8 import encode_fixed, group_bytes

from .base import ColumnSpec, Crypto, Parse, PIIType, int_domain_subkeys
from .checksums import luhn_digit
from .exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from .intdomain import crypt_ints
from .text import ascii_digit_matrix, compact_digits, render_digits

#: Governorate codes of the national ID (code -> English name); 88 = born outside Egypt.
GOVERNORATE_CODES: dict[int, str] = {
    1: "Cairo", 2: "Alexandria", 3: "Port Said", 4: "Suez", 11: "Damietta", 12: "Dakahlia", 13: "Sharqia",
    14: "Qalyubia", 15: "Kafr El Sheikh", 16: "Gharbia", 17: "Monufia", 18: "Beheira", 19: "Ismailia",
    21: "Giza", 22: "Beni Suef", 23: "Fayoum", 24: "Minya", 25: "Asyut", 26: "Sohag", 27: "Qena",
    28: "Aswan", 29: "Luxor", 31: "Red Sea", 32: "New Valley", 33: "Matrouh", 34: "North Sinai",
    35: "South Sinai", 88: "Born abroad",
}
_GOV_LIST = np.array(sorted(GOVERNORATE_CODES), dtype=np.int64)
_GOV_INDEX = np.full(100, -1, dtype=np.int64)
_GOV_INDEX[_GOV_LIST] = np.arange(len(_GOV_LIST))

EPOCH = np.datetime64("1900-01-01", "D")
DEFAULT_MAX_BIRTH_DATE = "2025-12-31"
CHECK_SCHEMES = ("none", "luhn")
#: keep options for the birth date, finest first, each with the generalisation level it keeps
DATE_KEEPS = {"birth_date": "day", "birth_month": "month", "birth_year": "year", "birth_5y": "5y", "birth_10y": "10y"}
KEEP_OPTIONS = frozenset({*DATE_KEEPS, "gender", "governorate"})


def _digit_matrix(compacted: pa.Array) -> np.ndarray:
    """(N, 14) digit matrix of compact IDs known to be 14 ASCII digits."""
    data = group_bytes(compacted)
    return (data.reshape(len(compacted), 14) - 0x30).astype(np.int64)


def _dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(datetime64[D] dates, bool ok) for year/month/day arrays; invalid combinations flagged."""
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    m = np.where(ok, month, 1)
    d = np.where(ok, day, 1)
    months = ((year - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (d - 1).astype("timedelta64[D]")
    ok &= dates.astype("datetime64[M]") == months
    return dates, ok


_POW10_14 = 10 ** np.arange(13, -1, -1, dtype=np.int64)
#: calendar tables for 1900-01 .. 2199-12: first day (days since EPOCH) and length of each month
_MONTHS = np.arange(np.datetime64("1900-01", "M"), np.datetime64("2200-01", "M") + 1)
_MONTH_START = (_MONTHS.astype("datetime64[D]") - EPOCH).astype(np.int64)
_MONTH_DAYS = np.diff(_MONTH_START)
_MONTH_START = _MONTH_START[:-1]


def _day_numbers(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(days since EPOCH, ok) for year/month/day arrays (years 1900..2199); impossible dates flagged.

    Same result as :func:`_dates` on the valid dates, integer arithmetic only."""
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31) & (year >= 1900) & (year < 2200)
    ym = np.where(ok, (year - 1900) * 12 + month - 1, 0)
    ok &= day <= _MONTH_DAYS[ym]
    return _MONTH_START[ym] + day - 1, ok


def _jan1(years: np.ndarray) -> np.ndarray:
    """Days since EPOCH of 1 January of each year (1900..2200)."""
    return _MONTH_START[(np.asarray(years) - 1900) * 12] if np.all(np.asarray(years) < 2200) else (
        (np.asarray(years) - 1970).astype("datetime64[Y]").astype("datetime64[D]") - EPOCH).astype(np.int64)


_YMD_CACHE: dict[int, np.ndarray] = {}
_DAYS_TO_2100 = int((np.datetime64("2100-01-01", "D") - EPOCH).astype(np.int64))


def _ymd_codes(days: int) -> np.ndarray:
    """For each day number 0 .. days-1: the ID digits ``C YY MM DD`` as one integer (as compose_arrow writes them)."""
    table = _YMD_CACHE.get(days)
    if table is None:
        dates = EPOCH + np.arange(days, dtype=np.int64).astype("timedelta64[D]")
        years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
        months = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
        dom = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
        table = np.where(years >= 2000, 3, 2) * 10**6 + (years % 100) * 10**4 + months * 100 + dom
        _YMD_CACHE.clear()
        _YMD_CACHE[days] = table
    return table


def _compose_days(days: np.ndarray, gov: np.ndarray, serial: np.ndarray, check: np.ndarray) -> pa.Array:
    """IDs from day numbers (since EPOCH), governorate codes, serials and check digits: the same strings as
    :func:`compose_arrow` (``check_digit="none"``) builds, through one integer per ID."""
    if len(days) == 0:
        return pa.array([], pa.string())
    codes = _ymd_codes(max(int(days.max()) + 1, _DAYS_TO_2100))[days]
    ids = ((codes * 100 + gov) * 10**4 + serial) * 10 + check
    # always 14 digits (the century digit is 2 or 3): digits by table lookup, no integer-to-text cast
    return encode_fixed(ascii_digit_matrix(ids, 14))


def compose(
    birth_dates: np.ndarray, governorate_codes: np.ndarray, serials: np.ndarray, check_digits: np.ndarray | None = None,
    *, check_digit: str = "none",
) -> np.ndarray:
    """Like :func:`compose_arrow`, returning a numpy array of str."""
    return compose_arrow(birth_dates, governorate_codes, serials, check_digits, check_digit=check_digit).to_numpy(
        zero_copy_only=False
    ).astype(str)


def compose_arrow(
    birth_dates: np.ndarray, governorate_codes: np.ndarray, serials: np.ndarray, check_digits: np.ndarray | None = None,
    *, check_digit: str = "none",
) -> pa.Array:
    """Build IDs from parts: birth dates (datetime64[D], 1900..2099), governorate codes, serials 0..9999.

    The serial's last digit carries the gender (odd = male).  With ``check_digit="luhn"`` the 14th
    digit is computed; with ``"none"`` it is taken from ``check_digits`` (default 0).

    >>> compose_arrow(np.array(["1998-01-01"], "datetime64[D]"), np.array([1]), np.array([2345]),
    ...               np.array([6])).to_pylist()
    ['29801010123456']
    """
    dates = np.asarray(birth_dates, dtype="datetime64[D]")
    if check_digit != "luhn" and len(dates):  # one integer per ID through the calendar table
        days = (dates - EPOCH).astype(np.int64)
        if days.min() >= 0:
            check = np.zeros(len(dates), dtype=np.int64) if check_digits is None else np.asarray(check_digits,
                                                                                                 dtype=np.int64)
            return _compose_days(days, np.asarray(governorate_codes, dtype=np.int64),
                                 np.asarray(serials, dtype=np.int64), check)
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    months = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    century = np.where(years >= 2000, 3, 2)
    n = len(dates)
    digits = np.empty((n, 14), dtype=np.int64)
    digits[:, 0] = century
    yy = years % 100
    digits[:, 1], digits[:, 2] = yy // 10, yy % 10
    digits[:, 3], digits[:, 4] = months // 10, months % 10
    digits[:, 5], digits[:, 6] = days // 10, days % 10
    gov = np.asarray(governorate_codes, dtype=np.int64)
    digits[:, 7], digits[:, 8] = gov // 10, gov % 10
    ser = np.asarray(serials, dtype=np.int64)
    for j in range(4):
        digits[:, 9 + j] = (ser // 10 ** (3 - j)) % 10
    if check_digit == "luhn":
        digits[:, 13] = luhn_digit(digits[:, :13])
    else:
        digits[:, 13] = 0 if check_digits is None else np.asarray(check_digits, dtype=np.int64)
    return encode_fixed((digits + 0x30).astype(np.uint8))


@dataclass
class IdParse(Parse):
    """The parts of each ID (junk where not ``ok``): birth date as days since :data:`EPOCH`, birth year,
    governorate code, serial, 14th digit, and the compact form."""

    day: np.ndarray
    year: np.ndarray
    gov: np.ndarray
    serial: np.ndarray
    check: np.ndarray
    compact: pa.Array


def birth_date_level(keep: set[str] | tuple[str, ...]) -> str | None:
    """The generalisation level of the kept birth date (``day``, ``month``, ``year``, ``5y``, ``10y``), or None.
    When several are listed the finest wins (``birth_date`` with ``birth_year`` keeps the whole date)."""
    for option, level in DATE_KEEPS.items():  # finest first
        if option in keep:
            return level
    return None


def _date_class_bounds(days: np.ndarray, years: np.ndarray, level: str) -> tuple[np.ndarray, np.ndarray]:
    """First day and end (exclusive) of each birth date's month, year or 5/10-year band, in days since EPOCH."""
    if level == "month":
        ym = np.searchsorted(_MONTH_START, days, side="right") - 1
        return _MONTH_START[ym], _MONTH_START[ym] + _MONTH_DAYS[ym]
    width = {"year": 1, "5y": 5, "10y": 10}[level]
    first = years - (years - 1900) % width
    return _jan1(first), _jan1(first + width)


def kept_parts(values: pa.Array, spec: ColumnSpec | None = None) -> dict[str, np.ndarray]:
    """What an ID (or its token, which keeps the same parts) reveals: ``ok`` (a valid ID), ``days`` (birth date,
    days since 1970-01-01), ``governorate`` (code) and ``male`` (bool), per value.  Fields are junk where not ok."""
    f = _TYPE.parse(values, spec)
    days = f.day + int((EPOCH - np.datetime64("1970-01-01", "D")).astype(np.int64))
    return {"ok": f.ok, "days": days, "governorate": f.gov, "male": f.serial % 2 == 1}


class EgNationalId(PIIType):
    """Egyptian 14-digit national ID (see the module docstring)."""

    name: ClassVar[str] = "eg_national_id"
    description: ClassVar[str] = "Egyptian national ID, 14 digits (date of birth, governorate, serial, gender)"
    domain: ClassVar[str] = "eg_national_id"
    keep_options: ClassVar[frozenset[str]] = KEEP_OPTIONS
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = (*int_domain_subkeys("eg_national_id"),
                                                      (KEEP_SHIFT, "eg_national_id"))

    # -- parsing --------------------------------------------------------------------------------
    @staticmethod
    def _settings(spec: ColumnSpec | None) -> tuple[np.datetime64, str]:
        opts = dict(spec.options) if spec is not None else {}
        scheme = str(opts.get("check_digit", "none"))
        if scheme not in CHECK_SCHEMES:
            raise ValueError(f"check_digit must be one of: {', '.join(CHECK_SCHEMES)}")
        max_date = np.datetime64(str(opts.get("max_birth_date", DEFAULT_MAX_BIRTH_DATE)), "D")
        return max_date, scheme

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> IdParse:
        """Parse every value under the column's ``check_digit`` and ``max_birth_date`` settings."""
        max_date, scheme = self._settings(spec)
        return self._parse_fields(values, max_date, scheme)

    def _parse_fields(self, values: pa.Array, max_date: np.datetime64, scheme: str) -> IdParse:
        compacted = compact_digits(values)
        n = len(values)
        # ^[23][0-9]{13}$ without a regex: 14 ASCII decimal digits, the first one 2 or 3
        shape_ok = pc.fill_null(pc.ascii_is_decimal(compacted), False).to_numpy(zero_copy_only=False)
        shape_ok &= pc.fill_null(pc.binary_length(compacted), 0).to_numpy(zero_copy_only=False) == 14
        x = np.zeros(n, dtype=np.int64)  # the ID as one 14-digit integer
        if shape_ok.all():
            x = pc.cast(compacted, pa.int64()).to_numpy(zero_copy_only=False)
        elif shape_ok.any():
            idx = np.flatnonzero(shape_ok)
            x[idx] = pc.cast(compacted.take(pa.array(idx)), pa.int64()).to_numpy(zero_copy_only=False)
        shape_ok &= (x >= 2 * 10**13) & (x < 4 * 10**13)  # century digit 2 or 3
        ymd = x // 10**7  # C YY MM DD
        low = x - ymd * 10**7  # GG SSSS K
        cyy = ymd // 10**4
        mmdd = ymd - cyy * 10**4
        month = mmdd // 100
        day = mmdd - month * 100
        year = np.where(shape_ok, cyy + 1700, 1900)  # C=2: 19YY, C=3: 20YY
        day_num, date_ok = _day_numbers(year, month, day)
        gov = low // 10**5
        rest = low - gov * 10**5
        serial = rest // 10
        check = rest - serial * 10
        gov_ok = _GOV_INDEX[gov] >= 0
        max_day = int((max_date - EPOCH).astype(np.int64))
        ok = shape_ok & date_ok & gov_ok & (day_num <= max_day)
        if scheme == "luhn":
            digits = (x[:, None] // _POW10_14[None, :]) % 10
            ok &= luhn_digit(digits[:, :13]) == digits[:, 13]
        return IdParse(ok, day_num, year, gov, serial, check, compacted)

    # -- python-stdnum style --------------------------------------------------------------------
    def compact(self, value: str) -> str:
        return compact_digits(pa.array([value], pa.string()))[0].as_py()

    def validate(self, value: str, check_digit: str = "none") -> str:
        v = self.compact(value)
        if not v.isdigit() or not v.isascii():
            raise InvalidFormat("an Egyptian national ID contains only digits")
        if len(v) != 14:
            raise InvalidLength("an Egyptian national ID has 14 digits")
        if v[0] not in "23":
            raise InvalidComponent("the first digit (century) must be 2 or 3")
        year = (1900 if v[0] == "2" else 2000) + int(v[1:3])
        try:
            born = dt.date(year, int(v[3:5]), int(v[5:7]))
        except ValueError:
            raise InvalidComponent("digits 2-7 are not a real date of birth") from None
        if born > dt.date.today():
            raise InvalidComponent("the date of birth is in the future")
        if int(v[7:9]) not in GOVERNORATE_CODES:
            raise InvalidComponent("digits 8-9 are not a governorate code")
        if check_digit == "luhn" and int(luhn_digit(np.array([[int(c) for c in v[:13]]]))[0]) != int(v[13]):
            raise InvalidChecksum("the check digit does not match (luhn scheme)")
        return v

    def format(self, value: str) -> str:
        v = self.compact(value)
        return f"{v[0]} {v[1:7]} {v[7:9]} {v[9:13]} {v[13]}"

    # -- columnar -------------------------------------------------------------------------------
    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        max_date, scheme = self._settings(spec)
        keep = set(spec.keep) if spec is not None else set()
        bad = keep - KEEP_OPTIONS
        if bad:
            raise ValueError(f"unknown keep option(s) {sorted(bad)} for eg_national_id")
        f = parsed if isinstance(parsed, IdParse) else self._parse_fields(values, max_date, scheme)
        if not f.ok.all():
            raise ValueError(f"value at position {int(np.flatnonzero(~f.ok)[0])} is not a valid Egyptian ID")
        n = len(values)
        date_day, years, gov, serial, check = f.day, f.year, f.gov, f.serial, f.check
        # hidden components: (value, size) pairs, most significant first; kept: ints for the shift
        max_day = int((max_date - EPOCH).astype(np.int64))
        date_level = birth_date_level(keep)
        if date_level == "day":
            date_val, date_size = np.zeros(n, np.int64), np.ones(n, np.int64)
            kept_date = date_day
        elif date_level is not None:
            class_start, class_end = _date_class_bounds(date_day, years, date_level)
            class_end = np.minimum(class_end, max_day + 1)
            date_val = date_day - class_start
            date_size = class_end - class_start
            kept_date = years if date_level == "year" else class_start
        else:
            date_val, date_size = date_day, np.full(n, max_day + 1, np.int64)
            kept_date = np.zeros(n, np.int64)
        gov_idx = _GOV_INDEX[gov]
        gov_val, gov_size = (np.zeros(n, np.int64), 1) if "governorate" in keep else (gov_idx, len(_GOV_LIST))
        kept_gov = gov_idx if "governorate" in keep else np.zeros(n, np.int64)
        if "gender" in keep:
            ser_val, ser_size, parity = serial // 2, 5000, serial % 2
        else:
            ser_val, ser_size, parity = serial, 10000, np.zeros(n, np.int64)
        chk_val, chk_size = (check, 10) if scheme == "none" else (np.zeros(n, np.int64), 1)
        total = date_size * gov_size * ser_size * chk_size
        x = ((date_val * gov_size + gov_val) * ser_size + ser_val) * chk_size + chk_val
        kept = ((kept_date * 100 + kept_gov) * 2 + parity) if keep else np.zeros(n, np.int64)
        shift = self._shift(crypto, kept, total) if keep else None
        label = ("eg_national_id", ",".join(sorted(keep)) or "-", scheme)
        sizes = [int(total[0])] if n and total.min() == total.max() else np.unique(total).tolist()
        if len(sizes) == 1:
            size = sizes[0]
            if decrypt:
                y = crypt_ints(crypto, self.domain, x, size, label, decrypt=True)
                if shift is not None:
                    y = (y - shift) % size
            else:
                y = crypt_ints(crypto, self.domain, x if shift is None else (x + shift) % size, size, label)
        else:
            if shift is None:
                shift = np.zeros(n, np.int64)
            y = np.empty(n, dtype=np.int64)
            for size in sizes:
                sel = np.flatnonzero(total == size)
                if decrypt:
                    y[sel] = (crypt_ints(crypto, self.domain, x[sel], size, label, decrypt=True) - shift[sel]) % size
                else:
                    y[sel] = crypt_ints(crypto, self.domain, (x[sel] + shift[sel]) % size, size, label)
        # decode y back into components
        rest = y // chk_size
        chk_new = y - rest * chk_size
        rest2 = rest // ser_size
        ser_new = rest - rest2 * ser_size
        date_new = rest2 // gov_size
        gov_new = rest2 - date_new * gov_size
        if date_level == "day":
            new_days = date_day
        elif date_level is not None:
            new_days = class_start + date_new
        else:
            new_days = date_new
        new_gov = gov if "governorate" in keep else _GOV_LIST[gov_new]
        new_serial = ser_new * 2 + parity if "gender" in keep else ser_new
        if scheme == "none":
            ids = _compose_days(new_days, new_gov, new_serial, chk_new)
        else:
            ids = compose_arrow(EPOCH + new_days.astype("timedelta64[D]"), new_gov, new_serial, None,
                                check_digit=scheme)
        return render_digits(values, f.compact, ids)

    def _shift(self, crypto: Crypto, kept: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Keyed pseudo-random offset of the hidden integer per kept context (AES of the kept parts)."""
        rnd = prf_u64_of_ints(crypto.key(KEEP_SHIFT, self.domain), kept)
        return (rnd % total.astype(np.uint64)).astype(np.int64)

    def surrogate(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        """A valid ID drawn pseudo-randomly from the whole domain, keyed by the value (irreversible)."""
        max_date, scheme = self._settings(spec)
        compacted = compact_digits(values)
        digits = np.zeros((len(values), 16), dtype=np.uint8)
        raw = compacted.to_numpy(zero_copy_only=False).astype("S16")
        digits[:] = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(-1, 16)
        rnd = prf_u64(crypto.key(SURROGATE, self.domain), digits)
        days = int((max_date - EPOCH).astype(np.int64)) + 1
        r = rnd.astype(object)
        dates = EPOCH + np.array(r % days, dtype=np.int64).astype("timedelta64[D]")
        r = r // days
        gov = _GOV_LIST[np.array(r % len(_GOV_LIST), dtype=np.int64)]
        r = r // len(_GOV_LIST)
        serial = np.array(r % 10000, dtype=np.int64)
        check = np.array((r // 10000) % 10, dtype=np.int64)
        ids = compose_arrow(dates, gov, serial, check, check_digit=scheme)
        return render_digits(values, compacted, ids)


_TYPE = EgNationalId()


def compact(value: str) -> str:
    """Remove spaces, dashes and dots; turn Arabic-Indic digits into ASCII."""
    return _TYPE.compact(value)


def validate(value: str, check_digit: str = "none") -> str:
    """Return the compact ID or raise InvalidLength/InvalidFormat/InvalidComponent/InvalidChecksum."""
    return _TYPE.validate(value, check_digit)


def is_valid(value: str, check_digit: str = "none") -> bool:
    try:
        validate(value, check_digit)
    except ValueError:
        return False
    return True


def format(value: str) -> str:
    """``C YYMMDD GG SSSS K`` grouping."""
    return _TYPE.format(value)


def gender_of(ids: np.ndarray) -> np.ndarray:
    """'M' or 'F' for each 14-digit ID (13th digit odd = male)."""
    d13 = np.array([int(s[12]) for s in ids]) if len(ids) else np.zeros(0, int)
    return np.where(d13 % 2 == 1, "M", "F")
