"""Fuzzing the command with hostile files and policies (issue 14, item 7).

Hypothesis generates CSV, JSON Lines, .xlsx and policy inputs and runs ``tokenize`` and ``scan`` on them in
process (fast, so hundreds of cases); a corpus of mutated real files (truncated, bytes flipped) runs in the real
command process under a memory limit.  Every case must end with exit status 0, 1 or 2 and a message, never an
exception or a traceback, and leave no temporary file; the real-process cases also stay under the memory bound
of :mod:`tests.test_hostile`.
"""

from __future__ import annotations

import json
import os
import random
import string
import warnings
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import hostile_files as hf
from tests.test_hostile import PEAK_MB, bounded
from tokenize_kit.cli import cli
from tokenize_kit.keys import Keyset

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
#: examples per generator (FUZZ_EXAMPLES=1000 for a longer hunt)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
POLICY = "columns:\n  id: {type: eg_national_id}\n"


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    Keyset.generate().save(d / "keys.json")  # (unprotected: no scrypt per case)
    (d / "p.yaml").write_text(POLICY)
    return d


def _invoke(box: Path, *args: str) -> None:
    res = CliRunner().invoke(cli, list(args), env={"TOKENIZE_KIT_KEYSET": str(box / "keys.json")},
                             catch_exceptions=True)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"{type(res.exception).__name__} escaped: {res.exception!r}") from res.exception
    assert res.exit_code in (0, 1, 2), (res.exit_code, res.output)
    assert "Traceback" not in res.output
    left = [p.name for p in box.iterdir() if p.name.startswith(".") or p.name.endswith(".partial")]
    assert not left, left


def _run_both(box: Path, name: str, data: bytes, *extra: str) -> None:
    path = box / name
    path.write_bytes(data)
    out = box / ("out" + "".join(Path(name).suffixes))
    _invoke(box, "tokenize", str(path), str(out), "--policy", str(box / "p.yaml"), "-q", "--force", *extra)
    _invoke(box, "scan", str(path), *extra)


CSV_CHARS = st.sampled_from([",", ";", "\t", '"', "\r", "\n", "\r\n", "a", "0", "29801010123456", "ع", "\x00",
                             "\ufeff", " ", "=1+1", "-", "N/A", "2.98E+13", "\u200f"])


@FUZZ
@given(header=st.sampled_from(["id,mobile\n", "id;x\n", '"id\n",x\n', "id\n", "", '"id', "id,id\n", "x,y\n"]),
       body=st.lists(CSV_CHARS, max_size=60).map("".join),
       tail=st.binary(max_size=8), encoding=st.sampled_from(["utf-8", "utf-16", "cp1256", "utf-8-sig"]))
def test_fuzz_csv(box, header, body, tail, encoding):
    try:
        data = (header + body).encode(encoding)
    except UnicodeEncodeError:
        data = (header + body).encode("utf-8")
    _run_both(box, "in.csv", data + tail)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.just("29801010123456"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "a", "b"]), inner,
                                                                max_size=3),
    max_leaves=8)


@FUZZ
@given(rows=st.lists(st.dictionaries(st.sampled_from(["id", "n", "x"]), JSON_VALUES, max_size=3), max_size=6),
       cut=st.integers(0, 400), junk=st.binary(max_size=6))
def test_fuzz_jsonl(box, rows, cut, junk):
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    if cut < len(text):
        text = text[:cut] + junk + text[cut:]
    _run_both(box, "in.jsonl", text)


CELL = st.tuples(
    st.sampled_from(["A", "B", "C", "XFD", "AA", "a", "", "A0", "ZZZZ"]),  # column letters (some invalid)
    st.sampled_from([1, 2, 3, 5, 1_048_576, 1_048_577, 0]),  # row
    st.sampled_from(["n", "s", "b", "e", "str", "inlineStr", "d", "bogus", None]),  # type
    st.sampled_from(["1", "29801010123456", "x", "", "1e999", "-1", "2024-01-02T03:04:05", "99", "true"]),
    st.sampled_from([None, "<f>A1</f>", "<f/>"]),  # formula
)


def _sheet(cells: list[tuple]) -> str:
    rows: dict[int, list[str]] = {}
    for col, row, t, v, f in cells:
        ref = f' r="{col}{row}"' if col != "" else ""
        typ = f' t="{t}"' if t else ""
        inner = f"<is><t>{v}</t></is>" if t == "inlineStr" else f"{f or ''}<v>{v}</v>"
        rows.setdefault(row, []).append(f"<c{ref}{typ}>{inner}</c>")
    return "".join(f'<row r="{r}">{"".join(cs)}</row>' for r, cs in rows.items())


@FUZZ
@given(cells=st.lists(CELL, max_size=10), dimension=st.sampled_from([None, "A1:C3", "A1:XFD1048576", "bogus"]),
       flip=st.one_of(st.none(), st.tuples(st.integers(0, 2000), st.integers(0, 255))))
def test_fuzz_xlsx(box, cells, dimension, flip):
    path = hf.xlsx(box / "gen.xlsx", hf.header_row(["id", "mobile"]) + _sheet(cells), dimension)
    data = bytearray(path.read_bytes())
    if flip is not None and flip[0] < len(data):
        data[flip[0]] = flip[1]
    _run_both(box, "in.xlsx", bytes(data))


POLICY_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 50) | st.text(max_size=6)
    | st.sampled_from(["eg_national_id", "phone", "fpe", "mask", "hash", "redact", "keep", "ff1", "ff3", "**"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "method", "on_invalid", "keep_last", "mask_char", "marker", "domain", "id",
                         "columns", "version", "algorithm", "key", "key_version"]), inner, max_size=4),
    max_leaves=10)


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(["version", "algorithm", "columns", "key", "key_version", "extra"]),
                           POLICY_VALUES, max_size=4),
       raw=st.one_of(st.none(), st.text(alphabet=string.printable, max_size=40)))
def test_fuzz_policy(box, doc, raw):
    (box / "in.csv").write_text("id,mobile\n29801010123456,01012345678\n")
    (box / "fuzz.yaml").write_text(raw if raw is not None else yaml.safe_dump(doc))
    _invoke(box, "tokenize", str(box / "in.csv"), str(box / "out.csv"), "--policy", str(box / "fuzz.yaml"), "-q",
            "--force")


# -- a corpus of damaged real files, in the real command process ---------------------------------------
def _corpus(folder: Path) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tokenize_kit.io import BatchWriter

    table = pa.table({"id": ["29801010123456", "30001010123458", None] * 20, "n": [1.5, 2.0, None] * 20,
                      "notes": ["ملاحظة", '=HYPERLINK("x")', "a\nb"] * 20})
    sources = []
    for fmt in ("csv", "jsonl", "xlsx"):
        path = folder / f"good.{fmt}"
        with open(path, "wb") as fh:
            w = BatchWriter(fh, fmt)
            w.write(table.to_batches()[0])
            w.close()
        sources.append(path)
    pq.write_table(table, folder / "good.parquet")
    sources.append(folder / "good.parquet")
    rng = random.Random(14)
    out = []
    for src in sources:
        data = src.read_bytes()
        for k in range(2):
            bad = bytearray(data)
            if k == 0:
                bad = bad[: rng.randrange(1, len(bad))]  # truncated
            else:
                for _ in range(8):  # bytes overwritten
                    bad[rng.randrange(len(bad))] = rng.randrange(256)
            path = folder / f"bad{k}{src.suffix}"
            path.write_bytes(bytes(bad))
            out.append(path)
    return out


def test_damaged_files_in_the_real_command(tmp_path):
    Keyset.generate().save(tmp_path / "keys.json", passphrase="pw")
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "tmp").mkdir()
    files = _corpus(tmp_path)
    for path in files:
        run = bounded(tmp_path, "tokenize", path.name, f"out{path.suffix}", "--policy", "p.yaml", "-q", "--force")
        assert run.peak_mb < PEAK_MB, (path.name, run.peak_mb)
        if run.rc == 2:
            assert run.stderr.strip().count("\n") <= 2, run.stderr  # a message, not a dump
    with zipfile.ZipFile(tmp_path / "good.xlsx") as zf:
        assert "xl/worksheets/sheet1.xml" in zf.namelist()
