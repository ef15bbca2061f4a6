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

import functools
import re
from functools import cache
from typing import ClassVar

import numpy as np
import pyarrow as pa

from tokenize_kit import refdata

from .base import ColumnSpec, Crypto, PIIType, stdnum_api
from .charclass import charclass_cps
from .exceptions import InvalidFormat
from .text import decode, encode

#: words that describe an address's structure, not a person: kept to keep tokens readable
STRUCTURAL = (
    "شارع ش طريق ميدان حي عمارة برج مبنى شقة الدور الطابق دور منطقة محافظة مدينة مركز قرية ص.ب الرمز البريدي "
    "street st road rd avenue ave square building bldg tower apartment apt flat floor district city "
    "governorate region province village po box p.o.box postal code zip"
).split()
_WORD = re.compile(r"[\w.]+", re.UNICODE)
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ة": "ه", "ى": "ي"})
MAX_WALKS = 200


def normalize(word: str) -> str:
    w = word.casefold().translate(_ALEF).strip(".")
    return w[2:] if w.startswith("ال") and len(w) > 4 else w


def _names(table: str, *cols: str) -> set[str]:
    t = refdata.table(table)
    return {v for c in cols for v in t.column(c).to_pylist()}


_normalize_cached = functools.lru_cache(maxsize=1 << 16)(normalize)


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
def _place_index(country: str, keep_places: bool) -> tuple[frozenset[tuple[str, ...]], int, frozenset[str]]:
    """The kept word tuples, the longest length, and the set of their first words."""
    places, longest = gazetteer(country)
    if not keep_places:
        places, longest = frozenset((normalize(w),) for w in STRUCTURAL), 1
    return places, longest, frozenset(t[0] for t in places)


def kept_mask(values: list[str], country: str, keep_places: bool = True) -> list[list[tuple[int, int]]]:
    """Per value, the (start, end) character spans of kept words."""
    places, longest, firsts = _place_index(country, keep_places)
    out = []
    norm = _normalize_cached
    for v in values:
        matches = list(_WORD.finditer(v))
        words = [norm(m.group()) for m in matches]
        spans = []
        i = 0
        count = len(words)
        while i < count:
            if words[i] in firsts:  # only a place's first word can start one
                for n in range(min(longest, count - i), 0, -1):
                    if tuple(words[i : i + n]) in places:
                        spans.append((matches[i].start(), matches[i + n - 1].end()))
                        i += n
                        break
                else:
                    i += 1
            else:
                i += 1
        out.append(spans)
    return out


class _Address(PIIType):
    country: ClassVar[str]
    has_invalid: ClassVar[bool] = True

    def compact(self, value: str) -> str:
        return " ".join(value.split())

    def validate(self, value: str) -> str:
        v = self.compact(value)
        if not v or not any(ch.isalnum() for ch in v):
            raise InvalidFormat("an address has letters or digits")
        return v

    def valid_mask(self, values: pa.Array, spec: ColumnSpec | None = None) -> np.ndarray:
        return np.fromiter((v is not None and self.is_valid(v) for v in values.to_pylist()), bool, len(values))

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec, decrypt: bool) -> pa.Array:
        keep_places = bool(spec.options.get("keep_places", True)) if spec is not None else True
        texts = values.to_pylist()
        target = kept_mask(texts, self.country, keep_places)
        cps, off = decode(values)
        protect = np.zeros(len(cps), dtype=bool)
        for r, spans in enumerate(target):
            for s, e in spans:
                protect[off[r] + s : off[r] + e] = True
        out = charclass_cps(cps, off, crypto, self.domain, decrypt=decrypt, protect=protect)
        result = encode(out, off).to_pylist()
        found = kept_mask(result, self.country, keep_places)
        todo = [r for r in range(len(texts)) if found[r] != target[r]]
        for _ in range(MAX_WALKS):
            if not todo:
                return pa.array(result, pa.string())
            sub = pa.array([result[r] for r in todo], pa.string())
            scps, soff = decode(sub)
            sprot = np.zeros(len(scps), dtype=bool)
            for k, r in enumerate(todo):
                for s, e in target[r]:
                    sprot[soff[k] + s : soff[k] + e] = True
            walked = encode(charclass_cps(scps, soff, crypto, self.domain, decrypt=decrypt, protect=sprot),
                            soff).to_pylist()
            for k, r in enumerate(todo):
                result[r] = walked[k]
            found = kept_mask([result[r] for r in todo], self.country, keep_places)
            todo = [r for r, f in zip(todo, found, strict=True) if f != target[r]]
        raise RuntimeError("cycle walking did not terminate")  # pragma: no cover

    def tokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        return self._crypt(values, crypto, spec, decrypt=False)

    def detokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        return self._crypt(values, crypto, spec, decrypt=True)


class EgAddress(_Address):
    name: ClassVar[str] = "eg_address"
    description: ClassVar[str] = "Egyptian address, Arabic or English (governorates and structure words kept)"
    domain: ClassVar[str] = "eg_address"
    country: ClassVar[str] = "eg"


class SaAddress(_Address):
    name: ClassVar[str] = "sa_address"
    description: ClassVar[str] = "Saudi address or national-address part (regions/cities and structure kept)"
    domain: ClassVar[str] = "sa_address"
    country: ClassVar[str] = "sa"


_TYPE = EgAddress()
compact, validate, is_valid, format = stdnum_api(_TYPE)
