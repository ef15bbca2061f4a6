"""Faker providers and the pytest plugin's fixtures."""

from __future__ import annotations

import phonenumbers
from faker import Faker

from generators.faker_providers import EgyptProvider, SaudiProvider
from tests.test_pii_identifiers import independent_eg_id_ok, independent_luhn_ok
from tokenize_kit.pii import registry


def _fake() -> Faker:
    fake = Faker()
    fake.add_provider(EgyptProvider)
    fake.add_provider(SaudiProvider)
    return fake


def test_faker_providers_valid_and_seeded():
    fake = _fake()
    Faker.seed(42)
    first = [fake.eg_national_id() for _ in range(50)]
    Faker.seed(42)
    assert [fake.eg_national_id() for _ in range(50)] == first
    assert len(set(first)) == 50 and all(independent_eg_id_ok(x) for x in first)
    for _ in range(30):
        assert phonenumbers.is_valid_number(phonenumbers.parse(fake.eg_mobile(), "EG"))
        assert phonenumbers.is_valid_number(phonenumbers.parse(fake.sa_mobile(), "SA"))
        sid = fake.sa_national_id()
        assert independent_luhn_ok(sid) and sid[0] in "12"
    row = fake.eg_customer()
    assert row["national_id"][12] in ("13579" if row["gender"] == "M" else "02468")
    assert registry.get("eg_address").is_valid(fake.eg_address())
    assert registry.get("person_name").is_valid(fake.eg_name("en"))
    addr = fake.sa_address()
    assert any(ch.isdigit() for ch in addr) and "،" in addr


def test_plugin_fixtures(eg_customers, sa_customers, synthetic_dataset):
    assert len(eg_customers) == 200 and eg_customers["national_id"].str.len().eq(14).all()
    assert registry.get("sa_national_id").valid_mask(
        __import__("pyarrow").array(sa_customers["national_id"].tolist())).all()
    tables = synthetic_dataset("eg-consumer-finance", rows=30, seed=4)
    assert set(tables) == {"customers", "loans", "instalments", "collection_assignments"}
    assert set(tables["loans"]["customer_id"]) <= set(tables["customers"]["customer_id"])
    again = synthetic_dataset("eg-consumer-finance", rows=30, seed=4)
    assert again["instalments"].equals(tables["instalments"])
