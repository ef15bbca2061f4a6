"""Synthetic customers: valid and consistent by independent checks, deterministic, prefix-stable."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from generators import generate_table
from tests.test_pii_identifiers import independent_eg_id_ok
from tokenize_kit.cli import cli
from tokenize_kit.pii import registry


@pytest.fixture(scope="module")
def customers():
    return generate_table("eg-consumer-finance", "customers", 20_000, seed=3)


def test_ids_valid_unique_and_consistent(customers):
    ids = customers.column("national_id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert registry.get("eg_national_id").valid_mask(customers.column("national_id")).all()
    for nid, born, gender in zip(ids[:3000], customers.column("birth_date").to_pylist(),
                                 customers.column("gender").to_pylist(), strict=False):
        assert independent_eg_id_ok(nid, max_date=dt.date(2025, 12, 31))
        century = 1900 if nid[0] == "2" else 2000
        assert dt.date(century + int(nid[1:3]), int(nid[3:5]), int(nid[5:7])) == born
        assert ("M" if int(nid[12]) % 2 else "F") == gender


def test_phones_valid_for_libphonenumber(customers):
    for m in customers.column("mobile").to_pylist()[:3000]:
        n = phonenumbers.parse(m, "EG")
        assert phonenumbers.is_valid_number(n)
        assert phonenumbers.number_type(n) == phonenumbers.PhoneNumberType.MOBILE


def test_name_gender_and_email(customers):
    from tokenize_kit import refdata

    female = set(refdata.table("names_eg_female").column("name_en").to_pylist())
    for name, gender, email in zip(customers.column("full_name_en").to_pylist()[:3000],
                                   customers.column("gender").to_pylist(), customers.column("email").to_pylist(),
                                   strict=False):
        parts = name.split(" ")
        assert (parts[0] in female) == (gender == "F")
        assert len(parts) >= 4 and registry.get("email").is_valid(email)
        assert email.startswith(parts[0].lower())


def test_deterministic_and_prefix_stable():
    a = generate_table("eg-consumer-finance", "customers", 1_000, seed=11)
    b = generate_table("eg-consumer-finance", "customers", 150_000, seed=11)
    assert a.equals(b.slice(0, 1_000))
    c = generate_table("eg-consumer-finance", "customers", 1_000, seed=12)
    assert not a.equals(c)


def test_cli_generate_byte_identical(tmp_path):
    runner = CliRunner()
    for d in ("a", "b"):
        res = runner.invoke(cli, ["generate", "eg-consumer-finance", str(tmp_path / d), "--rows", "500",
                                  "--seed", "5", "--format", "csv", "-q"])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "a" / "customers.csv").read_bytes() == (tmp_path / "b" / "customers.csv").read_bytes()
    res = runner.invoke(cli, ["generate", "nope", str(tmp_path / "c")])
    assert res.exit_code != 0 and "unknown dataset" in res.output


def test_income_range(customers):
    income = customers.column("monthly_income_egp")
    assert pc.min(income).as_py() >= 0 and 3000 < pc.approximate_median(income).as_py() < 20000
