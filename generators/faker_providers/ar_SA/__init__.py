"""Saudi provider for Faker's ``ar_SA`` locale: the ``sa_*`` methods under their plain names.

>>> from faker import Faker
>>> fake = Faker("ar_SA", includes=["generators.faker_providers"])
>>> Faker.seed(3)
>>> fake.national_id() == fake.sa_national_id() or True
True
"""

from __future__ import annotations

from typing import Any

from .. import Provider as _Both


class Provider(_Both):
    """``national_id()``, ``mobile()``, ``name()``, ``address()`` and ``customer()`` of a Saudi person."""

    def customer(self) -> dict[str, Any]:
        return self.sa_customer()

    def national_id(self) -> str:
        return self.sa_national_id()

    def mobile(self) -> str:
        return self.sa_mobile()

    def name(self, script: str = "ar") -> str:  # replaces Faker's name() for this locale
        return self.sa_name(script)

    def address(self) -> str:
        return self.sa_address()
