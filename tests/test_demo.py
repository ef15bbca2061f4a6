"""`tokenize-kit demo` (what `make demo` runs) completes with no leak and an identical round trip."""

from click.testing import CliRunner

from tokenize_kit.cli import cli


def test_demo_end_to_end(tmp_path):
    res = CliRunner().invoke(cli, ["demo", "--rows", "2000", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert "leaks found by scan       0" in res.output and "round trip identical      yes" in res.output
