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


def test_generate_report_prints_the_realism_table_in_the_real_process():
    """`tokenize-kit generate --report` in its own process: every check of the dataset is a line with its
    verdict, our figure, the target and the source; all pass on 20,000 rows of this seed; exit 0."""
    exe = Path(sys.executable).with_name("tokenize-kit")
    run = subprocess.run([str(exe), "generate", "eg-consumer-finance", "--report", "--rows", "20000", "--seed", "5"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["dataset", "property", "ours", "target", "source"]
    checks = realism.eg_checks(20_000, seed=5)
    body = lines[1:1 + len(checks)]
    for ch, line in zip(checks, body, strict=True):
        assert line.startswith("pass ") and ch.prop in line and ch.source in line and ch.target in line
    assert lines[1 + len(checks)] == f"{len(checks)} of {len(checks)} checks pass"
    assert "customers generated and checked" in run.stderr


def test_generate_report_fails_closed(monkeypatch):
    """A failing check exits 1 with a one-line error; --report refuses an output directory and datasets without
    checks."""
    from click.testing import CliRunner

    from tokenize_kit.cli import cli

    bad = realism.Check("eg-consumer-finance", "rule: x", 3, 0, 0, "test")
    monkeypatch.setitem(realism.CHECKS, "eg-consumer-finance", lambda rows, seed: [bad])
    res = CliRunner().invoke(cli, ["generate", "eg-consumer-finance", "--report", "--rows", "10"])
    assert res.exit_code == 1 and "1 of 1 realism checks fail" in res.output
    assert any(line.startswith("FAIL") and "rule: x" in line for line in res.output.splitlines())
    res = CliRunner().invoke(cli, ["generate", "eg-consumer-finance", "out", "--report"])
    assert res.exit_code == 2 and "drop OUTPUT_DIR" in res.output
    res = CliRunner().invoke(cli, ["generate", "my.yaml", "--report"])
    assert res.exit_code == 2 and "no realism checks" in res.output
    res = CliRunner().invoke(cli, ["generate", "eg-consumer-finance"])
    assert res.exit_code == 2 and "Missing argument 'OUTPUT_DIR'" in res.output


def test_check_bounds():
    assert realism.Check("d", "p", 5, 3, 0, "s", "at_least").ok
    assert not realism.Check("d", "p", 2, 3, 0, "s", "at_least").ok
    assert realism.Check("d", "p", 0.009, 0.01, 0, "s", "at_most").ok
    assert not realism.Check("d", "p", 0.011, 0.01, 0, "s", "at_most").ok
    assert not realism.Check("d", "p", 0.53, 0.515, 0.01, "s").ok
