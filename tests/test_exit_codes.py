"""One exit-status table for every command (issue 13 item 7), in the real command process.

0 ok / clean, 1 findings (scan, verify, risk), 2 usage or input error, 3 internal error: one line naming the
error's type and place, never its message (it may quote a cell), the traceback only under ``--debug``."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tokenize_kit import __version__
from tokenize_kit.keys import Keyset

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")

TK = Path(sys.executable).with_name("tokenize-kit")
SECRET = "29801010123456"  # in the injected error's message: never printed without --debug


@pytest.fixture()
def box(tmp_path):
    Keyset.generate().save(tmp_path / "keys.json", passphrase="pw")
    (tmp_path / "in.csv").write_text(f"id,mobile\n{SECRET},01012345678\n")
    (tmp_path / "p.yaml").write_text("columns:\n  id: {type: eg_national_id}\n")
    return tmp_path


def run(box: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": "/usr/bin:/bin", "TOKENIZE_KIT_PASSPHRASE": "pw", "HOME": str(box), **(env or {})}
    return subprocess.run([str(TK), *args], capture_output=True, text=True, cwd=box, env=environ, timeout=120)


#: per command, a usage or input error
USAGE_ERRORS = {
    "keys create (exists)": ("keys", "create", "keys.json"),
    "keys show (not a keyset)": ("keys", "show", "in.csv"),
    "keys rotate (unknown key)": ("keys", "rotate", "keys.json", "--name", "nope"),
    "generate (unknown dataset)": ("generate", "no-such-dataset", "out"),
    "schemas show (unknown)": ("schemas", "show", "no-such-dataset"),
    "schemas validate (missing file)": ("schemas", "validate", "missing.yaml"),
    "tokenize (no policy)": ("tokenize", "in.csv", "out.csv", "--keyset", "keys.json"),
    "tokenize (policy column missing)": ("tokenize", "in.csv", "out.csv", "--keyset", "keys.json", "--policy",
                                         "bad.yaml"),
    "detokenize (no keyset)": ("detokenize", "in.csv", "out.csv", "--policy", "p.yaml"),
    "scan (missing file)": ("scan", "missing.csv"),
    "verify (malformed manifest)": ("verify", "in.csv"),
    "risk (k below 2)": ("risk", "in.csv", "--quasi", "id", "--k", "1"),
    "demo (bad rows)": ("demo", "--rows", "0"),
    "unknown command": ("no-such-command",),
    "unknown option": ("scan", "in.csv", "--no-such-option"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_and_input_errors_exit_2(box, case):
    (box / "bad.yaml").write_text("columns:\n  nope: {type: phone}\n")
    (box / "in.csv.manifest.json").write_text("{not json")
    proc = run(box, *USAGE_ERRORS[case])
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Error" in proc.stderr and "Traceback" not in proc.stderr


def test_findings_exit_1_and_clean_exit_0(box):
    assert run(box, "scan", "in.csv").returncode == 1
    (box / "clean.csv").write_text("a,b\nhello,world\n")
    assert run(box, "scan", "clean.csv").returncode == 0
    assert run(box, "risk", "in.csv", "--quasi", "mobile", "--k", "2").returncode == 1
    assert run(box, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--keyset", "keys.json", "-q"
               ).returncode == 0
    assert run(box, "verify", "out.csv").returncode == 1  # authenticity not checked
    assert run(box, "verify", "out.csv", "--allow-unsigned").returncode == 0


#: the real command's entry point with one function replaced by one that fails as a bug would
_INJECT = """
import sys
import tokenize_kit.{module} as m
def boom(*a, **k):
    raise RuntimeError("the cell was {secret}")
m.{attr} = boom
from tokenize_kit.cli import main
sys.argv[0] = "tokenize-kit"
main()
"""
INTERNAL = {
    "tokenize": ("pipeline", "run", ("tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--keyset",
                                     "keys.json")),
    "scan": ("scan", "scan_file", ("scan", "in.csv")),
    "keys": ("keys", "_scrypt", ("keys", "show", "keys.json")),
    "risk": ("risk", "measure", ("risk", "in.csv", "--quasi", "mobile")),
}


def _inject(box: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    module, attr, args = INTERNAL[name]
    code = _INJECT.format(module=module, attr=attr, secret=SECRET)
    environ = {"PATH": "/usr/bin:/bin", "TOKENIZE_KIT_PASSPHRASE": "pw", "HOME": str(box)}
    return subprocess.run([sys.executable, "-c", code, *extra, *args], capture_output=True, text=True, cwd=box,
                          env=environ, timeout=120)


@pytest.mark.parametrize("name", list(INTERNAL))
def test_internal_error_exits_3_with_one_line_and_no_traceback(box, name):
    proc = _inject(box, name)
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "internal error (RuntimeError in " in lines[0] and "--debug" in lines[0]
    assert SECRET not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert not (box / "out.csv").exists()


def test_debug_shows_the_traceback(box):
    proc = _inject(box, "tokenize", "--debug")
    assert proc.returncode == 3
    assert "Traceback (most recent call last)" in proc.stderr and "boom" in proc.stderr


def test_scan_json_report_is_versioned_and_holds_no_value(box):
    """The documented report: format and version, tool version, file, per column and kind counts with row
    numbers (1 = the first data row), never a value."""
    (box / "in.csv").write_text("id,note,x\n29801010123456,call 01012345678 today,a\n,ok,b\n"
                                "30001010123458,,c\n")
    proc = run(box, "scan", "in.csv", "--format", "json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert set(doc) == {"format", "format_version", "tool_version", "file", "against", "rows", "pii_found",
                        "columns", "unreadable", "leaks", "coincidences", "implausible_coincidences",
                        "kept_by_policy"}
    assert (doc["format"], doc["format_version"], doc["tool_version"]) == ("tokenize-kit-scan", 1, __version__)
    assert doc["file"] == "in.csv" and doc["rows"] == 3 and doc["pii_found"] is True
    cols = {c["column"]: c for c in doc["columns"]}
    assert set(cols) == {"id", "note"}
    assert cols["id"]["values"]["national_id"]["count"] == 2 and cols["id"]["values"]["national_id"]["rows"] == [1, 3]
    assert set(cols["id"]) == {"column", "cells", "non_empty", "values", "in_text"}
    assert cols["note"]["in_text"]["phone"] == {"count": 1, "rows": [1]}
    for value in ("29801010123456", "30001010123458", "01012345678"):
        assert value not in proc.stdout
