"""Realism: the hard rules hold on every row and the published shares hold within stated tolerances
(the same checks ``make bench`` prints on 200,000 rows, here on 20,000); the Faker providers load in Faker's
own command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generators import realism


@pytest.mark.parametrize("checks", [realism.eg_checks, realism.sa_checks], ids=["eg", "sa"])
def test_realism_checks_hold(checks):
    failed = [c for c in checks(20_000, seed=5) if not c.ok]
    assert not failed, "\n".join(f"{c.prop}: ours {c.ours} vs {c.published} +- {c.tolerance}" for c in failed)


def test_faker_cli_loads_the_providers():
    faker = Path(sys.executable).with_name("faker")
    out = subprocess.run([str(faker), "-i", "generators.faker_providers", "eg_national_id"], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert len(out) == 14 and out.isdigit()
    out = subprocess.run([str(faker), "-l", "ar_SA", "-i", "generators.faker_providers", "national_id"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert len(out) == 10 and out[0] in "12"
