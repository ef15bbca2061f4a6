"""The ONE registry of PII types: policies, the scanner and the generators all look types up here.

>>> get("phone").domain, get("eg_phone").domain, "iban" in names()
('phone', 'phone', True)
>>> get("passport")
Traceback (most recent call last):
    ...
ValueError: unknown PII type 'passport'; valid types: ...
"""

from __future__ import annotations

from .address import EgAddress, SaAddress
from .base import PIIType
from .eg_national_id import EgNationalId
from .email import Email
from .free_text import FreeText
from .iban import Iban
from .person_name import PersonName
from .phone import EgPhone, Phone, SaPhone
from .sa_national_id import SaNationalId

_TYPES: dict[str, PIIType] = {
    t.name: t
    for t in (EgNationalId(), SaNationalId(), EgPhone(), SaPhone(), Phone(), Email(), FreeText(), PersonName(),
              EgAddress(), SaAddress(), Iban())
}

#: types the scanner looks for in every column, most specific first
DETECTABLE = ("eg_national_id", "sa_national_id", "eg_phone", "sa_phone", "email", "iban")


def register(pii_type: PIIType) -> None:
    """Add a PII type (plug-in); its name becomes valid in policies."""
    _TYPES[pii_type.name] = pii_type


def get(name: str) -> PIIType:
    try:
        return _TYPES[name]
    except KeyError:
        raise ValueError(f"unknown PII type {name!r}; valid types: {', '.join(names())}") from None


def names() -> list[str]:
    return sorted(_TYPES)


def describe() -> list[tuple[str, str]]:
    return [(n, _TYPES[n].description) for n in names()]


def detectors() -> list[PIIType]:
    return [_TYPES[n] for n in DETECTABLE]
