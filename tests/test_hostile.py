"""Hostile input: no bomb, no crash, no traceback (issue 14), in the real command process.

Each bomb of the adversarial run is rebuilt here, small on disk, and run by the installed ``tokenize-kit`` in a
child process under an address-space limit (``RLIMIT_AS``), its peak RSS measured by the parent
(``getrusage(RUSAGE_CHILDREN)`` in a small wrapper process, so nothing else is counted) and asserted below
:data:`PEAK_MB`; its temporary folder and output folder are checked for leftovers.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests import hostile_files as hf
from tokenize_kit.keys import Keyset

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")

TK = Path(sys.executable).with_name("tokenize-kit")
#: the memory every bomb case stays under (peak RSS of the command; an ordinary small job takes about 120 MB)
PEAK_MB = 400
#: the address space the command may use: a bomb that tried to hold its expansion would fail here, not swap
ADDRESS_SPACE = 3 << 30
#: CPU seconds a bomb case may take (each was minutes, or a crash, before); CPU time, not wall time, so a
#: machine loaded by other jobs (a parallel test run) does not fail a case that is fast by design
SECONDS = 20
POLICY = "columns:\n  id: {type: eg_national_id}\n"

_WRAPPER = """
import json, resource, subprocess, sys, time
limit, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def pre():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
start = time.perf_counter()
proc = subprocess.run(cmd, preexec_fn=pre, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = usage.ru_maxrss / 1024
json.dump({"rc": proc.returncode, "peak_mb": peak, "seconds": usage.ru_utime + usage.ru_stime,
           "stderr": proc.stderr.decode("utf-8", "replace"), "stdout": proc.stdout.decode("utf-8", "replace")},
          open(out, "w"))
"""


class Run:
    def __init__(self, doc: dict) -> None:
        self.rc, self.peak_mb, self.seconds = doc["rc"], doc["peak_mb"], doc["seconds"]
        self.stderr, self.stdout = doc["stderr"], doc["stdout"]


@pytest.fixture()
def env(tmp_path):
    Keyset.generate().save(tmp_path / "keys.json", passphrase="pw")
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "tmp").mkdir()
    return tmp_path


def bounded(env: Path, *args: str) -> Run:
    """The installed command in ``env`` under :data:`ADDRESS_SPACE`; its exit status, peak RSS and time.
    Asserts what every hostile case must show: exit 0, 1 or 2, no traceback, no temporary file left (in the
    output folder or in its own TMPDIR)."""
    environ = {**os.environ, "TOKENIZE_KIT_KEYSET": str(env / "keys.json"), "TOKENIZE_KIT_PASSPHRASE": "pw",
               "TMPDIR": str(env / "tmp")}
    report = env / "tmp-run.json"
    subprocess.run([sys.executable, "-c", _WRAPPER, str(ADDRESS_SPACE), str(report), str(TK), *args], cwd=env,
                   env=environ, check=True, timeout=300)
    run = Run(json.loads(report.read_text()))
    report.unlink()
    print(f"{' '.join(args[:2])}: exit {run.rc}, peak RSS {run.peak_mb:.0f} MB, {run.seconds:.1f} s")
    assert run.rc in (0, 1, 2), run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert not list((env / "tmp").iterdir()), "a temporary file was left"
    assert not [p.name for p in env.iterdir() if p.name.startswith(".") or p.name.endswith(".partial")]
    return run


def refused(run: Run, *fragments: str) -> None:
    assert run.rc == 2, run.stderr
    for f in fragments:
        assert f in run.stderr, run.stderr
    assert run.peak_mb < PEAK_MB, f"peak RSS {run.peak_mb:.0f} MB"
    assert run.seconds < SECONDS, f"{run.seconds:.1f} s"


# -- .xlsx bombs --------------------------------------------------------------------------------------
def test_xlsx_zip_bomb_refused_from_its_directory(env):
    """1.5 MB unzipping to a 1.5 GiB cell: refused before anything is parsed."""
    hf.cell_bomb(env / "bomb.xlsx")
    assert (env / "bomb.xlsx").stat().st_size < 2_000_000
    run = bounded(env, "tokenize", "bomb.xlsx", "out.csv", "--policy", "p.yaml")
    refused(run, "--max-xlsx-bytes")
    assert not (env / "out.csv").exists()
    run = bounded(env, "tokenize", "bomb.xlsx", "out.csv", "--policy", "p.yaml", "--max-xlsx-bytes", "4GiB")
    refused(run, "--max-xlsx-ratio", "sharedStrings.xml")
    run = bounded(env, "scan", "bomb.xlsx")
    refused(run, "--max-xlsx-bytes")


def test_xlsx_zip_bomb_with_limits_raised_stops_at_the_cell_limit(env):
    hf.cell_bomb(env / "bomb.xlsx")
    run = bounded(env, "tokenize", "bomb.xlsx", "out.csv", "--policy", "p.yaml", "--max-xlsx-bytes", "4GiB",
                  "--max-xlsx-ratio", "100000")
    refused(run, "--max-cell-bytes")


def test_xlsx_zip_bomb_with_a_lying_directory(env):
    """The directory says 1 MB; the data unzips far beyond: reading stops at the declared size and fails."""
    hf.cell_bomb(env / "bomb.xlsx", lie=True)
    refused(bounded(env, "tokenize", "bomb.xlsx", "out.csv", "--policy", "p.yaml"))


def test_xlsx_single_64_mib_cell(env):
    hf.inline_cell_bomb(env / "cell.xlsx", mib=64)
    run = bounded(env, "tokenize", "cell.xlsx", "out.csv", "--policy", "p.yaml", "--max-xlsx-ratio", "100000")
    refused(run, "--max-cell-bytes")


def test_xlsx_declared_dimension_over_the_limit(env):
    hf.xlsx(env / "dim.xlsx", hf.header_row(["id"]), dimension="A1:XFD1048576")
    refused(bounded(env, "tokenize", "dim.xlsx", "out.csv", "--policy", "p.yaml"), "--max-xlsx-cells", "XFD1048576")


def test_xlsx_far_away_references(env):
    """A header reaching Excel's last column and many rows: refused when the cells reached pass the limit
    (openpyxl padded every row to 16,384 cells)."""
    hf.wide_header_many_rows(env / "wide.xlsx")
    assert (env / "wide.xlsx").stat().st_size < 4_000_000
    refused(bounded(env, "tokenize", "wide.xlsx", "out.csv", "--policy", "p.yaml"), "--max-xlsx-cells")
    hf.far_row(env / "far.xlsx", width=60)
    refused(bounded(env, "tokenize", "far.xlsx", "out.csv", "--policy", "p.yaml"), "--max-xlsx-cells")


def test_xlsx_far_away_value_within_the_limit_is_read_in_bounded_memory(env):
    hf.far_row(env / "far.xlsx", row=300_000)
    run = bounded(env, "tokenize", "far.xlsx", "out.csv", "--policy", "p.yaml", "-q")
    assert run.rc == 0, run.stderr
    assert run.peak_mb < PEAK_MB and run.seconds < SECONDS
    lines = (env / "out.csv").read_bytes().split(b"\r\n")
    assert lines[0] == b"id,mobile,n" and len(lines) == 300_001 and lines[-2] == b",,1"


def test_xlsx_formatted_cells_far_right_are_not_materialised(env):
    """The slow case (minutes with openpyxl): every row has an empty formatted cell in column XFD."""
    hf.far_styled_cells(env / "styled.xlsx")
    run = bounded(env, "tokenize", "styled.xlsx", "out.csv", "--policy", "p.yaml", "-q")
    assert run.rc == 0, run.stderr
    assert run.peak_mb < PEAK_MB and run.seconds < SECONDS, (run.peak_mb, run.seconds)
    assert (env / "out.csv").read_bytes().startswith(b"id,mobile\r\n")


# -- one huge cell, any format --------------------------------------------------------------------------
def _big_cell_csv(path: Path, mib: int = 50) -> Path:
    with open(path, "wb") as fh:
        fh.write(b"id,notes\n29801010123456,short\n29801010123456,")
        fh.write(b"x" * (mib << 20))
        fh.write(b"\n30001010123458,after\n")
    return path


def test_csv_single_50_mb_cell(env):
    _big_cell_csv(env / "big.csv")
    run = bounded(env, "tokenize", "big.csv", "out.csv", "--policy", "p.yaml")
    refused(run, "--max-cell-bytes", "line 3")
    gz = env / "big.csv.gz"
    gz.write_bytes(gzip.compress((env / "big.csv").read_bytes(), 1))
    refused(bounded(env, "tokenize", "big.csv.gz", "out.csv", "--policy", "p.yaml"), "--max-cell-bytes")


def test_csv_cell_limit_can_be_raised(env):
    _big_cell_csv(env / "big.csv", mib=3)
    refused(bounded(env, "tokenize", "big.csv", "out.csv", "--policy", "p.yaml"), "--max-cell-bytes")
    run = bounded(env, "tokenize", "big.csv", "out.csv", "--policy", "p.yaml", "--max-cell-bytes", "4MiB", "-q")
    assert run.rc == 0, run.stderr
    assert (env / "out.csv").stat().st_size > 3 << 20


def test_jsonl_single_50_mb_cell(env):
    with open(env / "big.jsonl", "wb") as fh:
        fh.write(b'{"id":"29801010123456","notes":"short"}\n{"id":"29801010123456","notes":"')
        fh.write(b"x" * (50 << 20))
        fh.write(b'"}\n')
    refused(bounded(env, "tokenize", "big.jsonl", "out.jsonl", "--policy", "p.yaml"), "--max-cell-bytes", "line 2")


def test_parquet_single_50_mb_cell(env):
    pq.write_table(pa.table({"id": ["29801010123456", "30001010123458"], "notes": ["short", "x" * (50 << 20)]}),
                   env / "big.parquet")
    refused(bounded(env, "tokenize", "big.parquet", "out.parquet", "--policy", "p.yaml"), "--max-cell-bytes",
            "column 'notes', row 2")


# -- JSON Lines: line numbers in every error ----------------------------------------------------------
@pytest.mark.parametrize(("content", "fragments"), [
    (b'{"id":"29801010123456","n":1}\n{"id":"30001010123458","n":"x"}\n', ["column 'n'", "line 2", "line 1",
                                                                          "type clash"]),
    (b'{"id":"29801010123456"}\n{"id":"30001010123458"\n', ["line 2", "not valid JSON"]),
    (b'{"id":"29801010123456"}\n[1,2]\n', ["line 2", "object"]),
    (b'{"id":"29801010123456"}\n\n{"id":"29801010123456","id":"1"}\n', ["line 3", "twice"]),
    (b'{"id":"29801010123456"}\n{"id":"\xff"}\n', ["line 2", "UTF-8"]),
    (b'{"id":"29801010123456","a":{"b":1}}\n{"id":"29801010123456","a":{"b":true}}\n', ["'a/b'", "line 2"]),
])
def test_jsonl_errors_name_the_line(env, content, fragments):
    (env / "in.jsonl").write_bytes(content)
    run = bounded(env, "tokenize", "in.jsonl", "out.jsonl", "--policy", "p.yaml")
    refused(run, *fragments)
    assert "29801010123456" not in run.stderr and "30001010123458" not in run.stderr


def _jsonl_lines(path: Path, rows: int, last: str) -> None:
    with open(path, "w") as fh:
        fh.writelines(f'{{"id":"29801010123456","n":{i}}}\n' for i in range(rows))
        fh.write(last)


def test_jsonl_clash_after_the_first_block_names_its_line(env):
    """(With 64 KiB cells, JSON Lines are parsed in 1 MiB blocks: 60,000 lines are three.)"""
    _jsonl_lines(env / "in.jsonl", 60_000, '{"id":"29801010123456","n":"text"}\n')
    run = bounded(env, "tokenize", "in.jsonl", "out.jsonl", "--policy", "p.yaml", "--max-cell-bytes", "64KiB")
    refused(run, "column 'n'", "line 60001", "line 1 ")


def test_jsonl_integers_then_fractions_across_blocks_are_read(env):
    """Arrow fixes a column's type from its first block: fractions in a later block are read on as floats, the
    columns in their order, every row once."""
    _jsonl_lines(env / "in.jsonl", 60_000, '{"id":"29801010123456","n":1.5}\n')
    run = bounded(env, "tokenize", "in.jsonl", "out.csv", "--policy", "p.yaml", "--max-cell-bytes", "64KiB", "-q")
    assert run.rc == 0, run.stderr
    lines = (env / "out.csv").read_text().splitlines()
    assert lines[0] == "id,n" and len(lines) == 60_002 and lines[1].endswith(",0") and lines[-1].endswith(",1.5")
    assert [int(float(v.split(",")[1])) for v in lines[1:-1]] == list(range(60_000))


def test_jsonl_cell_over_the_limit_names_its_line(env):
    (env / "in.jsonl").write_bytes(b'{"id":"29801010123456"}\n\n{"id":"29801010123456","notes":"' + b"x" * (2 << 20)
                                   + b'"}\n')
    refused(bounded(env, "tokenize", "in.jsonl", "out.jsonl", "--policy", "p.yaml"), "column 'notes', line 3",
            "--max-cell-bytes")


def test_jsonl_key_first_appearing_after_the_first_block_names_its_line(env):
    _jsonl_lines(env / "in.jsonl", 60_000, '{"id":"29801010123456","n":1,"late":"x"}\n')
    run = bounded(env, "tokenize", "in.jsonl", "out.csv", "--policy", "p.yaml", "--max-cell-bytes", "64KiB")
    refused(run, "line 60001", "'late'")
