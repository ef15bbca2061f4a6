"""End-to-end extract jobs on realistic messy files, for every format, plus the bad-input table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.messy_files import HEADER, rows, write_csv, write_policy
from tokenize_kit.cli import cli
from tokenize_kit.keys import Keyset

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")


@pytest.fixture()
def env(tmp_path, monkeypatch):
    ks = tmp_path / "keys.json"
    Keyset.generate().save(ks, passphrase="pw")
    monkeypatch.setenv("TOKENIZE_KIT_KEYSET", str(ks))
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "pw")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tk(*args: str, code: int | None = 0):
    res = CliRunner().invoke(cli, list(args))
    if code is not None:
        assert res.exit_code == code, (res.output, res.exception)
    return res


def raw_pii(data: list[list[str]]) -> list[str]:
    out = []
    for r in data:
        for v in r[:4]:
            if v and v not in ("N/A",) and len(v) >= 6:
                out.append(v.strip())
    return out


@pytest.mark.parametrize(("encoding", "arabic"), [("utf-8-sig", True), ("utf-8", True), ("cp1256", False)])
def test_csv_round_trip_byte_identical(env, encoding, arabic):
    data = rows(60, arabic_digits=arabic)
    src = write_csv(env / "in.csv", data, encoding)
    pol = write_policy(env / "policy.yaml")
    tk("tokenize", str(src), "out.csv", "--policy", str(pol), "-q")
    out_bytes = (env / "out.csv").read_bytes()
    assert out_bytes.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    text = out_bytes.decode(encoding)
    for value in raw_pii(data):
        assert value not in text
    tk("scan", "out.csv", "--against", str(src), "--policy", str(pol))
    tk("detokenize", "out.csv", "back.csv", "--policy", str(pol), "-q")
    assert (env / "back.csv").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "xlsx", "tsv"])
def test_other_formats_round_trip(env, fmt):
    data = rows(40)
    src = write_csv(env / "in.csv", data)
    pol = write_policy(env / "policy.yaml")
    tk("tokenize", str(src), f"out.{fmt}", "--policy", str(pol), "-q")
    tk("scan", f"out.{fmt}", "--against", str(src), "--policy", str(pol))
    tk("detokenize", f"out.{fmt}", "back.csv", "--policy", str(pol), "-q", "--output-encoding", "utf-8-sig")
    assert (env / "back.csv").read_bytes() == src.read_bytes()


def test_parquet_int64_ids_keep_type(env):
    ids = [29801010123456, 30001010123458, None]
    pq.write_table(pa.table({"national_id": pa.array(ids, pa.int64()), "x": [1, 2, 3]}), env / "in.parquet")
    (env / "p.yaml").write_text("columns:\n  national_id: {type: eg_national_id}\n")
    tk("tokenize", "in.parquet", "out.parquet", "--policy", "p.yaml", "-q")
    out = pq.read_table(env / "out.parquet")
    assert out.schema.field("national_id").type == pa.int64()
    assert out.column("national_id").to_pylist()[:2] != ids[:2]
    tk("detokenize", "out.parquet", "back.parquet", "--policy", "p.yaml", "-q")
    assert pq.read_table(env / "back.parquet").equals(pq.read_table(env / "in.parquet"))


def test_manifest_contents_and_verify_and_tamper(env):
    src = write_csv(env / "in.csv", rows(20))
    pol = write_policy(env / "policy.yaml")
    tk("keys", "create-signing", "s.pem", "s.pub")
    assert oct(os.stat(env / "s.pem").st_mode & 0o777) == "0o600"
    tk("tokenize", str(src), "out.csv", "--policy", str(pol), "--sign", "s.pem", "-q")
    m = json.loads((env / "out.csv.manifest.json").read_text())
    assert m["rows"] == 20 and m["key"]["name"] == "default" and m["key"]["version"] == 1
    assert len(m["output"]["sha256"]) == 64 and m["signature"]["algorithm"] == "Ed25519"
    assert set(m["columns"]) == {"الرقم القومي", "رقم الموبايل", "الإقامة", "email", "ملاحظات", "الاسم"}
    assert "material" not in json.dumps(m)
    assert tk("verify", "out.csv", "--public-key", "s.pub").exit_code == 0
    with open(env / "out.csv", "ab") as fh:
        fh.write(b"extra,row\n")
    res = tk("verify", "out.csv", "--public-key", "s.pub", code=1)
    assert "SHA-256 differs" in res.output
    (env / "out2.csv").write_bytes(b"")
    tk("tokenize", str(src), "out2.csv", "--policy", str(pol), "--sign", "s.pem", "-q", "--force")
    doc = json.loads((env / "out2.csv.manifest.json").read_text())
    doc["rows"] = 21
    (env / "out2.csv.manifest.json").write_text(json.dumps(doc))
    assert "signature is not valid" in tk("verify", "out2.csv", "--public-key", "s.pub", code=1).output


def test_rerun_gives_identical_output(env):
    src = write_csv(env / "in.csv", rows(30))
    pol = write_policy(env / "policy.yaml")
    tk("tokenize", str(src), "a.parquet", "--policy", str(pol), "-q")
    tk("tokenize", str(src), "b.parquet", "--policy", str(pol), "-q")
    assert (env / "a.parquet").read_bytes() == (env / "b.parquet").read_bytes()


def test_scan_exit_codes_and_suggest_policy(env):
    data = rows(30)
    src = write_csv(env / "in.csv", data)
    res = tk("scan", str(src), "--format", "json", "--suggest-policy", "suggested.yaml", code=1)
    doc = json.loads(res.stdout)
    assert doc["format"] == "tokenize-kit-scan" and doc["format_version"] == 1
    cols = {c["column"]: c for c in doc["columns"]}
    assert "national_id" in cols["الرقم القومي"]["values"] and cols["ملاحظات"]["in_text"]
    assert "name" in cols["الاسم"]["values"]  # a name column is found too
    for value in raw_pii(data):  # counts only, never a value
        assert value not in res.output
    suggested = (env / "suggested.yaml").read_text(encoding="utf-8")
    assert "eg_national_id" in suggested and "free_text" in suggested and "person_name" in suggested
    (env / "clean.csv").write_text("a,b\nhello,world\n", encoding="utf-8")
    tk("scan", "clean.csv", code=0)
    tk("scan", "missing.csv", code=2)


def test_scan_finds_forgotten_column(env):
    data = rows(30)
    src = write_csv(env / "in.csv", data)
    (env / "partial.yaml").write_text("columns:\n  الرقم القومي: {type: eg_national_id}\n", encoding="utf-8")
    tk("tokenize", str(src), "out.csv", "--policy", "partial.yaml", "-q")
    res = tk("scan", "out.csv", "--policy", "partial.yaml", code=1)
    assert "رقم الموبايل" in res.output and "الرقم القومي" not in res.output.split("outside the policy")[1]
    res = tk("scan", "out.csv", "--against", str(src), "--policy", "partial.yaml", code=1)


# -- the bad-input table: every error names the column/line and never shows a value ---------------------
def _bad(env, content: str, policy: str, *args: str, encoding="utf-8") -> str:
    (env / "bad.csv").write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    (env / "p.yaml").write_text(policy, encoding="utf-8")
    res = tk("tokenize", "bad.csv", "out.csv", "--policy", "p.yaml", "-q", *args, code=2)
    assert not (env / "out.csv").exists()
    return res.output


SECRET_ID = "29801010123456"


def test_bad_missing_policy_column(env):
    out = _bad(env, f"a,b\n{SECRET_ID},x\n", "columns:\n  mobile: {type: phone}\n")
    assert "'mobile'" in out and "a, b" in out and SECRET_ID not in out


def test_bad_unknown_type_and_method(env):
    out = _bad(env, "a\n1\n", "columns:\n  a: {type: eg_nat_id}\n")
    assert "valid types" in out and "eg_national_id" in out
    out = _bad(env, "a\n1\n", "columns:\n  a: {type: phone, method: scramble}\n")
    assert "valid methods" in out


def test_bad_ragged_row(env):
    out = _bad(env, f"a,b\n{SECRET_ID},x\n{SECRET_ID},x,extra\n", "columns:\n  a: {type: eg_national_id}\n")
    assert "line 3" in out and "fields" in out and SECRET_ID not in out


def test_bad_undecodable_bytes(env):
    content = b"a,b\n" + b"x,y\n" * 5 + b"\xff\xfe\xfa,z\n"
    out = _bad(env, content, "columns:\n  a: {type: eg_national_id}\n", "--encoding", "utf-8")
    assert "line 7" in out and "--encoding" in out


def test_bad_scientific_notation(env):
    out = _bad(env, f"id\n{SECRET_ID}\n2.9801010123456E+13\n", "columns:\n  id: {type: eg_national_id}\n")
    assert "'id'" in out and "row 2" in out and "scientific" in out and "2.98" not in out


def test_bad_on_invalid_error_names_row(env):
    policy = "columns:\n  id: {type: eg_national_id, on_invalid: error}\n"
    out = _bad(env, f"id\n{SECRET_ID}\n{SECRET_ID[:13]}\n", policy)
    assert "row 2" in out and SECRET_ID[:13] not in out


def test_bad_wrong_passphrase(env, monkeypatch):
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "not-it")
    out = _bad(env, f"id\n{SECRET_ID}\n", "columns:\n  id: {type: eg_national_id}\n")
    assert "wrong passphrase" in out and "not-it" not in out


def test_bad_corrupt_parquet(env):
    (env / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    (env / "p.yaml").write_text("columns:\n  id: {type: eg_national_id}\n")
    out = tk("tokenize", "bad.parquet", "out.parquet", "--policy", "p.yaml", code=2).output
    assert "Parquet" in out


def test_bad_output_equals_input(env):
    (env / "in.csv").write_text(f"id\n{SECRET_ID}\n")
    (env / "p.yaml").write_text("columns:\n  id: {type: eg_national_id}\n")
    out = tk("tokenize", "in.csv", "in.csv", "--policy", "p.yaml", "--force", code=2).output
    assert "output path is the input path" in out


def test_bad_existing_output_refused(env):
    (env / "in.csv").write_text(f"id\n{SECRET_ID}\n")
    (env / "out.csv").write_text("keep")
    (env / "p.yaml").write_text("columns:\n  id: {type: eg_national_id}\n")
    assert "--force" in tk("tokenize", "in.csv", "out.csv", "--policy", "p.yaml", code=2).output
    assert (env / "out.csv").read_text() == "keep"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_mid_run_leaves_no_output(env, sig):
    # distinct values (identical rows de-duplicate to almost no work), 50 batches: the job is interrupted as soon
    # as its first batch is in the partial output file, with 49 batches still to go
    n = 1_000_000
    big = env / "big.csv"
    with open(big, "w", encoding="utf-8") as fh:
        fh.write("id,phone\n")
        fh.writelines(f"{SECRET_ID[:9]}{i // 10 % 10_000:04d}{i % 10},010{i:08d}\n" for i in range(n))
    (env / "p.yaml").write_text("columns:\n  id: {type: eg_national_id}\n  phone: {type: phone}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenize_kit", "tokenize", str(big), str(env / "out.csv"), "--policy",
         str(env / "p.yaml"), "--batch-size", "20000", "-q"],
        env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    def written() -> int:
        """Bytes in the partial output file so far."""
        total = 0
        for p in env.iterdir():
            if p.name.startswith(".out.csv."):
                try:
                    total += p.stat().st_size
                except FileNotFoundError:
                    pass
        return total

    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and written() == 0:
        time.sleep(0.01)
    assert written() > 0, "no batch was written"
    assert proc.poll() is None, "the job finished before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not (env / "out.csv").exists() and not (env / "out.csv.manifest.json").exists()
    if sig == signal.SIGTERM:  # a handled signal also removes the temporary file
        assert not [p for p in env.iterdir() if p.name.startswith(".out.csv.")]


def test_header_constant():
    assert HEADER[0] == "الرقم القومي"


def test_scan_against_catches_a_value_that_passed_through(env):
    data = rows(30)
    src = write_csv(env / "in.csv", data)
    pol = write_policy(env / "policy.yaml")
    tk("tokenize", str(src), "out.csv", "--policy", str(pol), "-q")
    lines = (env / "out.csv").read_text(encoding="utf-8-sig").splitlines()
    fields = lines[1].split(",")
    fields[0] = data[0][0]  # put row 1's raw national ID back, as a buggy export would
    lines[1] = ",".join(fields)
    (env / "leaky.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = tk("scan", "leaky.csv", "--against", str(src), "--policy", str(pol), code=1)
    assert "RAW NATIONAL_ID OF THE INPUT in column 'الرقم القومي': 1 in their own row (rows 1)" in res.output
    assert data[0][0] not in res.output


#: runs the command's ``main()`` in a process where pandas cannot be imported at all, as where it is not installed
_WITHOUT_PANDAS = """
import sys
class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is not installed (test)", name=name)
sys.meta_path.insert(0, _NotInstalled())
from tokenize_kit.cli import main
sys.argv = ["tokenize-kit", *sys.argv[1:]]
main()
"""


def _command(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    """The command's own process (``main()``), with pandas not importable."""
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_PANDAS, *args], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "TOKENIZE_KIT_ALLOW_PANDAS"})
    assert proc.returncode == code, proc.stderr
    return proc


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl", "xlsx"])
def test_command_process_needs_no_pandas(env, fmt):
    """Every format's round trip and gate in the real command process where pandas is not installed (pandas is an
    optional extra): a code path that still needed pandas would fail here."""
    src = write_csv(env / "in.csv", rows(40))
    pol = write_policy(env / "policy.yaml")
    _command("tokenize", str(src), f"out.{fmt}", "--policy", str(pol), "-q")
    _command("scan", f"out.{fmt}", "--against", str(src), "--policy", str(pol))
    _command("detokenize", f"out.{fmt}", "back.csv", "--policy", str(pol), "-q", "--output-encoding", "utf-8-sig")
    assert (env / "back.csv").read_bytes() == src.read_bytes()
    assert _command("verify", f"out.{fmt}", "--allow-unsigned").stdout.startswith("OK")
    if fmt == "csv":
        _command("scan", str(src), code=1)


def test_command_loads_pyarrow_without_pandas_and_blocks_nothing(env):
    """The command's process: pyarrow is loaded with pandas hidden (its probes answered "not installed"), so a job
    never imports pandas, while an explicit ``import pandas`` afterwards works (no misleading "not installed")."""
    pytest.importorskip("pandas")
    src = write_csv(env / "in.csv", rows(20))
    pol = write_policy(env / "policy.yaml")
    probe = f"""
import sys
import tokenize_kit.cli as c
c._PYARROW_WITHOUT_PANDAS = True  # as main() sets it
finders = list(sys.meta_path)
try:
    c.cli(["tokenize", {str(src)!r}, "out.csv", "--policy", {str(pol)!r}, "-q"], prog_name="tokenize-kit")
except SystemExit as exc:
    assert not exc.code, exc.code
assert sys.meta_path == finders
print("pandas" in sys.modules)
import pandas
print(pandas.DataFrame({{"a": [1]}}).shape)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=env)
    assert out.stdout.split() == ["False", "(1,", "1)"], out.stderr


def test_jsonl_writer_escapes_and_types(tmp_path):
    import datetime

    import pyarrow.json as pajson

    from tokenize_kit.io import jsonl_lines

    batch = pa.record_batch({
        "نص": pa.array(['a"b\\c', "x\ny\x01\t\r", None, "عربي ٠١٢", "a/b"]),
        "n": pa.array([1, None, -3, 2**62, 0]),
        "f": pa.array([1.0, 2.5, float("nan"), None, float("inf")]),
        "b": pa.array([True, False, None, True, False]),
        "d": pa.array([datetime.date(2024, 1, 2), None, None, None, None]),
        "c": pa.array(["x", "y", "x", None, "y"]).dictionary_encode(),
        "l": pa.array([[1], None, [], [2, 3], None]),
    })
    lines = jsonl_lines(batch).to_pylist()
    assert all(line.endswith("}\n") and line.count("\n") == 1 for line in lines)
    assert [json.loads(line) for line in lines] == [
        {"نص": 'a"b\\c', "n": 1, "f": 1.0, "b": True, "d": "2024-01-02", "c": "x", "l": [1]},
        {"نص": "x\ny\x01\t\r", "n": None, "f": 2.5, "b": False, "d": None, "c": "y", "l": None},
        {"نص": None, "n": -3, "f": None, "b": None, "d": None, "c": "x", "l": []},
        {"نص": "عربي ٠١٢", "n": 2**62, "f": None, "b": True, "d": None, "c": None, "l": [2, 3]},
        {"نص": "a/b", "n": 0, "f": None, "b": False, "d": None, "c": "y", "l": None},
    ]
    assert "عربي" in lines[3] and '"f":1.0' in lines[0]  # text as it is; a whole float stays a float
    import decimal

    more = jsonl_lines(pa.record_batch({"t": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5), None]),
                                        "m": pa.array([decimal.Decimal("12.50"), None])})).to_pylist()
    assert [json.loads(line) for line in more] == [{"t": "2024-01-02 03:04:05.000000", "m": "12.50"},
                                                   {"t": None, "m": None}]
    (tmp_path / "x.jsonl").write_text("".join(lines), encoding="utf-8")
    back = pajson.read_json(tmp_path / "x.jsonl")
    assert back.schema.field("f").type == pa.float64() and back.column("n").to_pylist()[3] == 2**62


def test_progress_estimates_csv_rows(tmp_path):
    """A CSV does not say how many rows it has: the progress line's % and ETA come from its size and the first
    batch's bytes per row."""
    from tokenize_kit.io import read_batches
    from tokenize_kit.pipeline import estimated_rows

    src = write_csv(tmp_path / "in.csv", rows(3000))
    batches, _ = read_batches(src, batch_size=1000)
    estimate = estimated_rows(src, next(iter(batches)))
    assert 2700 <= estimate <= 3300
    seen = []
    from tokenize_kit.pipeline import run

    ks = Keyset.generate()
    run(src, tmp_path / "out.csv", write_policy(tmp_path / "p.yaml"), ks, batch_size=1000,
        progress=lambda done, total: seen.append((done, total)))
    assert [d for d, _ in seen] == [1000, 2000, 3000] and all(t and abs(t - 3000) <= 300 for _, t in seen)


def test_batches_by_bytes(tmp_path):
    """Batches hold about ``batch_bytes`` bytes (wide rows: fewer rows), at most ``batch_size`` rows and at least
    MIN_BATCH_ROWS, for CSV, Parquet and JSON Lines; the rows and their order are those of the file."""
    import pyarrow.json as pajson

    from tokenize_kit.io import MIN_BATCH_ROWS, read_batches, rows_for_bytes

    assert rows_for_bytes(1000, 100_000, 200_000, None) == 200_000
    assert rows_for_bytes(1000, 100_000, 200_000, 1 << 20) == 10_485
    assert rows_for_bytes(1000, 100_000, 5_000, 1 << 20) == 5_000
    assert rows_for_bytes(1000, 10**9, 200_000, 1 << 20) == MIN_BATCH_ROWS
    src = write_csv(tmp_path / "in.csv", rows(30_000))
    whole = pa.Table.from_batches(list(read_batches(src, batch_size=10**6, batch_bytes=None)[0]))
    pq.write_table(whole, tmp_path / "in.parquet", row_group_size=20_000)
    whole.to_pandas().to_json(tmp_path / "in.jsonl", orient="records", lines=True, force_ascii=False)
    per_row = whole.nbytes / whole.num_rows
    for path in (src, tmp_path / "in.parquet", tmp_path / "in.jsonl"):
        budget = 256 << 10
        got = list(read_batches(path, batch_size=10**6, batch_bytes=budget)[0])
        sizes = [b.num_rows for b in got]
        assert sum(sizes) == whole.num_rows and len(got) > 5, (path, sizes)
        assert all(b.nbytes <= 1.6 * budget for b in got), (path, [b.nbytes for b in got])
        assert all(s >= 0.5 * budget / per_row for s in sizes[:-1]), (path, sizes)
        back = pa.Table.from_batches(got)
        if path.suffix == ".jsonl":
            want = pajson.read_json(path)
            assert back.equals(pa.Table.from_batches(list(read_batches(path, batch_bytes=None)[0]))), path
            assert back.num_rows == want.num_rows
        else:
            assert back.equals(whole), path
        capped = [b.num_rows for b in read_batches(path, batch_size=1000, batch_bytes=budget)[0]]
        assert max(capped) <= 1000 and sum(capped) == whole.num_rows
        tiny = [b.num_rows for b in read_batches(path, batch_size=10**6, batch_bytes=1)[0]]
        assert min(tiny[:-1]) >= MIN_BATCH_ROWS


def test_output_same_whatever_the_batch_bytes_and_lanes(tmp_path, monkeypatch):
    """The delivery and its counts do not depend on the batches' byte budget; every part of a split batch runs on
    its own lane (part k on lane k, batch after batch), a batch that is not split on lane 0."""
    import threading

    from tokenize_kit import pipeline
    from tokenize_kit.pipeline import run

    src = write_csv(tmp_path / "in.csv", rows(40_000))
    ks = Keyset.generate()
    policy = write_policy(tmp_path / "p.yaml")
    lanes: list[tuple[int, str]] = []
    transform = pipeline.transform_table

    def recorded(table, *args):
        lanes.append((args[3], threading.current_thread().name))
        return transform(table, *args)

    monkeypatch.setattr(pipeline, "transform_table", recorded)
    monkeypatch.setattr(pipeline, "MIN_SPLIT_ROWS", 1024)
    outputs, reports = [], []
    for batch_bytes in (None, 1 << 20, 64 << 10):
        lanes.clear()
        result = run(src, tmp_path / f"out-{batch_bytes}.csv", policy, ks, batch_bytes=batch_bytes, threads=2)
        outputs.append((tmp_path / f"out-{batch_bytes}.csv").read_bytes())
        reports.append(result.report.to_dict())
        names = {name for _, name in lanes}
        # (one thread per lane, whatever the number of batches; with a 64 KB budget, batches are too small to split)
        assert names == ({"tokenize-kit-rows0_0"} if batch_bytes == 64 << 10
                         else {"tokenize-kit-rows0_0", "tokenize-kit-rows1_0"}), (batch_bytes, names)
    assert outputs[0] == outputs[1] == outputs[2]
    assert reports[0] == reports[1] == reports[2]


def test_batch_bytes_option_default_is_the_library_default():
    import inspect

    from tokenize_kit.io import DEFAULT_BATCH_BYTES
    from tokenize_kit.pipeline import run

    for name in ("tokenize", "detokenize"):
        option = next(p for p in cli.get_command(None, name).params if p.name == "batch_bytes")
        assert option.type.convert(option.default, option, None) == DEFAULT_BATCH_BYTES
    assert inspect.signature(run).parameters["batch_bytes"].default == DEFAULT_BATCH_BYTES
