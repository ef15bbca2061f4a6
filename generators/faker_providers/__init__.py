"""Faker providers: Egyptian and Saudi identities from the same rules as the datasets.

Load them the way Faker loads its own: ``faker -i generators.faker_providers eg_national_id`` on the command
line, ``Faker(includes=["generators.faker_providers"])`` or ``fake.add_provider(Provider)`` in Python.
The package follows Faker's layout: :class:`Provider` here has every method (``eg_*`` and ``sa_*``), and the
locale packages ``ar_EG`` and ``ar_SA`` add the plain names for their country (``national_id()``,
``mobile()``, ``name()``, ``address()``, ``customer()``), picked by ``Faker("ar_SA", includes=[...])``.

>>> from faker import Faker
>>> fake = Faker(includes=["generators.faker_providers"])
>>> Faker.seed(1)
>>> len(fake.eg_national_id()), fake.eg_mobile()[:2], fake.sa_national_id()[0] in "12"
(14, '01', True)

Each call draws one row of the built-in schema's ``customers`` table (``eg-consumer-finance`` or
``sa-water-utility``) with a seed taken from Faker's own random generator, so ``Faker.seed()`` makes
the values reproducible and every field of one ``eg_customer()`` agrees with the others (the ID encodes
the birth date, gender and governorate; the name matches the gender and nationality ...).  For thousands
of rows use :func:`generators.generate_table`: it is vectorised and far faster than one call per value.
"""

from __future__ import annotations

from typing import Any

from faker.providers import BaseProvider

from ..columns import Batch
from ..engine import _fill
from ..schema import load

#: Faker's layout: locale packages beside this module; a locale without one (en_US ...) uses ar_EG
localized = True
default_locale = "ar_EG"


def _row(provider: BaseProvider, dataset: str) -> dict[str, Any]:
    schema = load(dataset)
    table = schema.tables[schema.root]
    seed = provider.generator.random.getrandbits(63)
    b = Batch("faker/" + schema.name, table.name, 0, seed, 1, 0, schema.reference_date)
    _fill(b, table)
    return {c: b.cols[c][0].as_py() for c in table.visible}


class EgyptProvider(BaseProvider):
    """``fake.eg_customer()``, ``eg_national_id()``, ``eg_mobile()``, ``eg_name()``, ``eg_address()``."""

    def eg_customer(self) -> dict[str, Any]:
        """A whole consistent customer row (same columns as the eg-consumer-finance customers table)."""
        return _row(self, "eg-consumer-finance")

    def eg_national_id(self) -> str:
        return self.eg_customer()["national_id"]

    def eg_mobile(self) -> str:
        return self.eg_customer()["mobile"]

    def eg_name(self, script: str = "ar") -> str:
        return self.eg_customer()["full_name_ar" if script == "ar" else "full_name_en"]

    def eg_address(self) -> str:
        return self.eg_customer()["address_ar"]


class SaudiProvider(BaseProvider):
    """``fake.sa_customer()``, ``sa_national_id()``, ``sa_mobile()``, ``sa_name()``, ``sa_address()``."""

    def sa_customer(self) -> dict[str, Any]:
        """A whole consistent account-holder row (as in the sa-water-utility customers table)."""
        return _row(self, "sa-water-utility")

    def sa_national_id(self) -> str:
        return self.sa_customer()["national_id"]

    def sa_mobile(self) -> str:
        return self.sa_customer()["mobile"]

    def sa_name(self, script: str = "ar") -> str:
        return self.sa_customer()["full_name_ar" if script == "ar" else "full_name_en"]

    def sa_address(self) -> str:
        """A one-line Saudi national address: building number, street, district, city, postal code."""
        r = self.sa_customer()
        return (f"{r['building_number']} {r['street_ar']}، {r['district_ar']}، {r['city_ar']} "
                f"{r['postal_code']}-{r['additional_number']}")


class Provider(EgyptProvider, SaudiProvider):
    """Every method of both countries (what ``faker -i generators.faker_providers`` loads)."""
