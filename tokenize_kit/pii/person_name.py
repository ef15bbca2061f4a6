"""Personal names in Arabic or Latin script, 1 to 5 parts (``محمد أحمد علي حسن``, ``Sara Mahmoud``).

A token looks like a real name of the same gender and script:

* a part found in the name dictionaries (``tokenize_kit/refdata/names_eg_*.csv``) is replaced by the
  dictionary entry at its encrypted index: the first part within the first names of its gender, later
  parts (father, grandfather, family: male ancestors' given names, as Egyptian four-part names chain
  them) within the male names; the dictionaries are disjoint, so a part's dictionary is known again at
  detokenization;
* a part not in the dictionaries is encrypted letter by letter (character-class FPE, same script),
  re-encrypted until the result is not a dictionary name, so it is recognised as such on the way back.

Arabic compound given names (``عبد الرحمن``, ``أبو بكر``) count as one part.  Every part keeps its
position; separators stay as they are.  Tokens are deterministic per (part, position) and reversible.

Limits: the dictionaries hold about 200 male and 170 female given names (see refdata/SOURCES.md), so a
dictionary part has only that many possible tokens; a name outside them keeps its length and letter classes.

>>> is_valid("محمد أحمد"), is_valid("")
(True, False)
"""

from __future__ import annotations

import re
from functools import cache
from typing import ClassVar

import numpy as np
import pyarrow as pa

from tokenize_kit import refdata

from .base import ColumnSpec, Crypto, PIIType, stdnum_api
from .charclass import charclass
from .exceptions import InvalidFormat
from .intdomain import crypt_ints

_SPLIT = re.compile(r"(\s+)")
_COMPOUND_HEADS = {"عبد", "أبو", "ابو"}
_ARABIC = re.compile(r"[\u0600-\u06FF]")
MAX_PARTS = 5


@cache
def _dicts() -> dict[tuple[str, str], tuple[list[str], dict[str, int]]]:
    """(script, gender) -> (names, index); scripts 'ar'/'en', genders 'male'/'female'."""
    out = {}
    for gender in ("male", "female"):
        t = refdata.table(f"names_eg_{gender}")
        for script, col in (("ar", "name_ar"), ("en", "name_en")):
            names = t.column(col).to_pylist()
            out[(script, gender)] = (names, {n: i for i, n in enumerate(names)})
    return out


def _script(part: str) -> str:
    return "ar" if _ARABIC.search(part) else "en"


def _parts(value: str) -> list[str]:
    """Alternating [part, sep, part, ...]; compounds (عبد الرحمن) merged into one part."""
    pieces = _SPLIT.split(value.strip())
    out: list[str] = []
    i = 0
    while i < len(pieces):
        p = pieces[i]
        if p in _COMPOUND_HEADS and i + 2 < len(pieces):
            p = p + pieces[i + 1] + pieces[i + 2]
            i += 2
        out.append(p)
        if i + 1 < len(pieces):
            out.append(pieces[i + 1])
        i += 2
    return out


class PersonName(PIIType):
    name: ClassVar[str] = "person_name"
    description: ClassVar[str] = "Personal name, Arabic or Latin, 1-5 parts (gender and script kept)"
    domain: ClassVar[str] = "person_name"
    has_invalid: ClassVar[bool] = True

    def compact(self, value: str) -> str:
        return " ".join(value.split())

    def validate(self, value: str) -> str:
        v = self.compact(value)
        parts = _parts(v)[::2] if v else []
        if not parts or len(parts) > MAX_PARTS or any(ch.isdigit() for ch in v):
            raise InvalidFormat("a name has 1 to 5 parts of letters")
        return v

    def valid_mask(self, values: pa.Array, spec: ColumnSpec | None = None) -> np.ndarray:
        return np.fromiter((v is not None and self.is_valid(v) for v in values.to_pylist()), bool, len(values))

    def _crypt(self, values: pa.Array, crypto: Crypto, decrypt: bool) -> pa.Array:
        dicts = _dicts()
        rows = [_parts(v) for v in values.to_pylist()]
        # (row, piece index, position) of every part, grouped by the dictionary that holds it
        groups: dict[tuple[str, str, int], list[tuple[int, int, int]]] = {}
        fallback: list[tuple[int, int, str, int]] = []
        for r, pieces in enumerate(rows):
            for k in range(0, len(pieces), 2):
                part = pieces[k]
                pos = k // 2
                script = _script(part)
                gender = None
                if pos == 0 and part in dicts[(script, "female")][1]:
                    gender = "female"
                elif part in dicts[(script, "male")][1]:
                    gender = "male"
                if gender is None:
                    fallback.append((r, k, script, pos))
                else:
                    groups.setdefault((script, gender, pos), []).append((r, k, dicts[(script, gender)][1][part]))
        for (script, gender, pos), items in groups.items():
            names, _ = dicts[(script, gender)]
            idx = np.array([i for _, _, i in items], dtype=np.int64)
            new = crypt_ints(crypto, self.domain, idx, len(names), ("name", gender, str(pos)), decrypt=decrypt)
            for (r, k, _), j in zip(items, new.tolist(), strict=True):
                rows[r][k] = names[j]
        if fallback:
            known = {n for names, _ in dicts.values() for n in names} | _COMPOUND_HEADS

            def avoid(arr: pa.Array) -> np.ndarray:
                return np.fromiter((v in known or v.split(" ")[0] in _COMPOUND_HEADS for v in arr.to_pylist()),
                                   bool, len(arr))

            src = pa.array([rows[r][k] for r, k, _, _ in fallback], pa.string())
            new_parts = charclass(src, crypto, self.domain + "/generic", decrypt=decrypt, avoid=avoid).to_pylist()
            for (r, k, _, _), p in zip(fallback, new_parts, strict=True):
                rows[r][k] = p
        return pa.array(["".join(pieces) for pieces in rows], pa.string())

    def tokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        return self._crypt(values, crypto, decrypt=False)

    def detokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        return self._crypt(values, crypto, decrypt=True)


_TYPE = PersonName()


compact, validate, is_valid, format = stdnum_api(_TYPE)
