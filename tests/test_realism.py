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


def test_instalments_stay_within_half_the_income_even_for_the_poorest(tmp_path):
    """The Central Bank of Egypt cap holds on every customer even where incomes are far too low for the usual
    loans: housewives' income median cut to EGP 600 (and retirees' to 900), so many customers cannot carry the
    smallest loan (they get none) or only one; every customer's instalments stay within 50% of income."""
    from generators import generate_batch, load
    from generators.schema import builtin_path

    text = builtin_path("eg-consumer-finance").read_text(encoding="utf-8")
    poor = text.replace("max_age: 70, median: 4000,", "max_age: 70, median: 600,").replace(
        "max_age: 70, median: 6000,", "max_age: 70, median: 900,")
    assert poor != text
    path = tmp_path / "poor.yaml"
    path.write_text(poor, encoding="utf-8")
    out = generate_batch(load(path), 0, 2, None, 20_000)
    c, loans = out["customers"], out["loans"]
    ids = c.column("customer_id").to_pylist()
    income = dict(zip(ids, c.column("monthly_income_egp").to_pylist(), strict=True))
    burden: dict[str, float] = {}
    for cid, inst in zip(loans.column("customer_id").to_pylist(), loans.column("instalment_egp").to_pylist(),
                         strict=True):
        burden[cid] = burden.get(cid, 0.0) + inst
    assert all(v <= 0.5 * income[k] + 0.01 for k, v in burden.items())
    assert 0 < len(ids) - len(burden) < len(ids) // 5  # some customers too poor for any loan, not most
    ranges = {"personal_loan": (10_000, 1_500_000), "consumer_durables": (3_000, 250_000),
              "auto_loan": (250_000, 3_000_000), "microfinance": (3_000, 200_000)}
    for p, amount in zip(loans.column("product").to_pylist(), loans.column("principal_egp").to_pylist(), strict=True):
        assert ranges[p][0] <= amount <= ranges[p][1]


def test_ages_on_one_date_equals_the_calendar_rule():
    """The one-searchsorted path of ages_on (one reference date) equals the per-row calendar rule, 29 February
    births and reference dates included."""
    import numpy as np

    from generators.people import ages_on

    rng = np.random.default_rng(0)
    births = np.datetime64("1850-01-01") + rng.integers(0, 64_000, 100_000).astype("timedelta64[D]")
    births = np.concatenate([births, np.array(["2000-02-29", "2004-02-29", "1999-02-28", "1999-03-01"],
                                              dtype="datetime64[D]")])
    for when in ["2025-12-31", "2024-02-29", "2025-02-28", "2025-03-01", "2024-02-28"]:
        fast = ages_on(births, np.datetime64(when))
        rule = ages_on(births, np.full(len(births), np.datetime64(when)))  # the calendar path, row by row
        assert (fast == rule).all(), when


def test_grouped_cdf_draws_as_a_binary_search_and_never_a_zero_weight():
    """GroupedCDF (guide tables) picks, for every row, the first entry whose cumulative weight exceeds the row's
    draw, as searchsorted on each group's cumulative weights does; entries of weight 0 are never drawn, not even
    at a group's edges (u = 0 or just below 1); a group with no weight refuses its rows."""
    import numpy as np

    from generators.people import GroupedCDF

    rng = np.random.default_rng(3)
    groups = []
    for g in range(40):
        w = rng.pareto(1.2, rng.integers(1, 300)) * (rng.random() < 0.9 or 1e-9)
        w[rng.random(len(w)) < 0.2] = 0.0  # forbidden categories (a male housewife ...)
        if g % 7 == 0:
            w[0] = w[-1] = 0.0
        if w.sum() == 0:
            w[len(w) // 2] = 1.0
        groups.append(w)
    cdf = GroupedCDF.build(groups)
    n = 200_000
    g = rng.integers(0, len(groups), n)
    u = np.concatenate([rng.random(n - 4), [0.0, np.nextafter(1.0, 0.0), 0.5, 1e-300]])
    got = cdf.draw(g, u) - cdf.start[g]
    for k, w in enumerate(groups):
        sel = g == k
        cum = np.cumsum(w) / w.sum()
        want = np.minimum(np.searchsorted(cum, u[sel], side="right"), np.flatnonzero(w > 0)[-1])
        assert (got[sel] == want).all()
        assert (w[got[sel]] > 0).all()
    empty = GroupedCDF.build([np.ones(3), np.zeros(2)])
    with pytest.raises(ValueError, match="no allowed category"):
        empty.draw(np.array([0, 1]), np.array([0.5, 0.5]))
