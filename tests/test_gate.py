"""``scan --against``, the delivery gate: a raw value of the input in its own output row is a leak in any
written form and for every kind; the same value in another row is a coincidence; results do not depend on how
the files are cut into batches; spilled partitions are exact for leaks; bad set-ups fail clearly."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenize_kit import scan
from tokenize_kit.policy import Policy
from tokenize_kit.scan import Gate, ScanError, ScanResult, _aligned, scan_batch

POLICY = Policy.from_dict({"columns": {
    "national_id": {"type": "eg_national_id"}, "mobile": {"type": "phone"}, "name": {"type": "person_name"},
    "address": {"type": "eg_address"}, "email": {"type": "email"}, "iban": {"type": "iban"},
    "notes": {"type": "free_text"}, "kept": {"type": "phone", "method": "keep"}}})
N = 40
RAW = pa.table({
    "national_id": [f"290010101{i:04d}{i % 10}" for i in range(N)],
    "mobile": [f"010{i:08d}" for i in range(N)],
    "name": ["محمد أحمد علي حسن"] * N,
    "address": [f"{i + 1} شارع التحرير، الدقي، الجيزة" for i in range(N)],
    "email": [f"user{i}@example.com" for i in range(N)],
    "iban": ["EG380019000500000000263180002"] * N,
    "notes": [f"call 011{i:08d} today" if i % 3 == 0 else "paid" for i in range(N)],
    "kept": [f"012{i:08d}" for i in range(N)],
})


def _clean() -> pa.Table:
    """An output with no raw value: tokens everywhere."""
    return pa.table({
        "national_id": [f"3911111{i:07d}" for i in range(N)],
        "mobile": [f"015{i:08d}" for i in range(N)],
        "name": ["سعيد كريم يحيي سلطان"] * N,
        "address": [f"{i + 1} شارع زكلمنت، الدقي، الجيزة" for i in range(N)],
        "email": [f"qxsz{i}@example.com" for i in range(N)],
        "iban": ["EG800002000156789012345180002"] * N,
        "notes": [f"call 012{i:08d} today" if i % 3 == 0 else "paid" for i in range(N)],
        "kept": RAW["kept"].to_pylist(),
    })


def _gate(output: pa.Table, in_size: int = N, out_size: int = N, parts: int = 64, spill=None) -> ScanResult:
    result = ScanResult()
    with Gate(POLICY, spill, parts=parts) as gate:
        seen = 0
        for raw, out in _aligned(iter(RAW.to_batches(max_chunksize=in_size)),
                                 iter(output.to_batches(max_chunksize=out_size))):
            scan_batch(out, result, POLICY.columns, seen)
            gate.add(raw, out, result, seen)
            seen += out.num_rows
        gate.finish(result)
    return result


def _with(column: str, row: int, value: str) -> pa.Table:
    out = _clean()
    values = out[column].to_pylist()
    values[row] = value
    return out.set_column(out.schema.get_field_index(column), column, pa.array(values))


def test_a_clean_delivery_passes():
    r = _gate(_clean())
    assert r.leaks == {} and not r.found


LEAKS = [  # (column written to, row, text that carries row's raw value, kind reported)
    ("notes", 4, "رقمه " + "1000000004", "phone"),  # the mobile without its 0, in another column
    ("notes", 5, "+20 100 000 0005 للاتصال", "phone"),
    ("notes", 6, "٠١٠٠٠٠٠٠٠٠٦", "phone"),  # Arabic-Indic digits
    ("notes", 7, "ID 2900 1010 1000 77", "national_id"),  # grouped
    ("notes", 8, "iban eg38 0019 0005 0000 0000 2631 8000 2", "iban"),  # lower case, groups
    ("notes", 9, "mail USER9@example.com", "email"),  # case
    ("notes", 10, "اتصلت بأحمد علي أمس", "name"),  # two consecutive parts, a glued preposition
    ("notes", 11, "كلم احمد على", "name"),  # letter variants
    ("notes", 12, "يسكن 13 ش التحرير", "address"),
    ("notes", 15, "call 01100000015 today", "phone"),  # the phone of the input's own note, left raw
    ("mobile", 16, "01000000016", "phone"),  # a column left raw
    ("email", 17, "user17@example.com", "email"),
]


@pytest.mark.parametrize(("column", "row", "text", "kind"), LEAKS)
def test_every_kind_of_leak_fails_the_gate(column, row, text, kind):
    r = _gate(_with(column, row, text))
    assert r.found and kind in r.leaks.get(column, {}), r.leaks
    assert r.leaks[column][kind].rows == [row + 1]


def test_leaks_and_coincidences_whatever_the_batches():
    out = _with("mobile", 9, RAW["mobile"][30].as_py())  # another row's raw mobile: a coincidence
    out = out.set_column(out.schema.get_field_index("national_id"), "national_id",
                         pa.array([RAW["national_id"][i].as_py() if i == 5 else out["national_id"][i].as_py()
                                   for i in range(N)]))
    for in_size, out_size in [(40, 40), (7, 10), (10, 7), (1, 3)]:
        r = _gate(out, in_size, out_size, parts=2)
        assert {c: {k: v.count for k, v in kinds.items()} for c, kinds in r.leaks.items()} == {
            "national_id": {"national_id": 1}}, (in_size, out_size)
        assert r.collisions.get("mobile", {}).get("phone") == 1


def test_leaks_are_exact_when_every_hash_collides(monkeypatch):
    """Hashes only route coincidence counting: leaks are decided by comparing the keys themselves."""
    monkeypatch.setattr(scan, "_hash64", lambda keys: np.zeros(len(keys), dtype=np.uint64))
    r = _gate(_with("notes", 4, "رقمه 1000000004"), parts=2)
    assert {c: list(k) for c, k in r.leaks.items()} == {"notes": ["phone"]}


def test_kept_columns_are_not_leaks():
    r = _gate(_clean())  # "kept" holds its raw values, as the policy says (method keep)
    assert "kept" not in r.leaks and r.leaks == {}


def test_row_counts_must_agree():
    with pytest.raises(ScanError, match="row counts"):
        _gate(_clean().slice(0, N - 1))


def test_an_unusable_spill_folder_is_a_clear_error(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(ScanError, match="spill folder") as err:
        _gate(_clean(), spill=not_a_folder)
    assert str(not_a_folder) in str(err.value) and "--spill-dir" in str(err.value)


def test_a_full_spill_folder_is_a_clear_error(monkeypatch, tmp_path):
    """Disk full while spilling: the error names the folder and what to do, and nothing is left behind."""
    real_open = open

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(scan, "open", lambda *a, **k: Full(real_open(*a, **k)), raising=False)
    with pytest.raises(ScanError, match="full or not writable"):
        _gate(_with("mobile", 9, RAW["mobile"][30].as_py()), spill=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_spill_files_are_removed(tmp_path):
    _gate(_with("notes", 4, "رقمه 1000000004"), spill=tmp_path, parts=4)
    assert list(tmp_path.iterdir()) == []


def test_scan_reports_name_and_address_columns_left_out_of_a_policy():
    """Columns a policy forgot are found by kind, names and addresses too, with row numbers and never a value."""
    t = pa.table({
        "name": ["محمد أحمد علي", "Sara Hassan", "فهد القحطاني", "N/A"],
        "first_name": ["محمد", "سارة", "أحمد", "كريم"],
        "address": ["12 شارع التحرير، الدقي، الجيزة", "عمارة 5 ش النيل - المعادي", "5 Nile Street, Maadi",
                    "حي العليا، الرياض"],
        "note": ["paid", "call 01012345678 today", "ok", "الضامن كريم"],
        "amount": ["100", "200", "300", "400"],
    })
    r = ScanResult()
    scan_batch(t, r)
    kinds = {c: set(f.kinds_found()) for c, f in r.columns.items() if f.found}
    assert kinds == {"name": {"name"}, "first_name": {"name"}, "address": {"address"}, "note": set()}
    assert {k for k, v in r.columns["note"].in_text.items() if v.count} == {"phone", "name"}
    assert r.columns["name"].values["name"].rows == [1, 2, 3]
    assert "amount" not in kinds
    doc = str(r.to_dict())
    assert "01012345678" not in doc and "التحرير" not in doc


def test_single_name_cells_equal_the_word_by_word_reading():
    """A first-name column is found by its cells that are one lexicon name: read for the whole column at once
    (folded, looked up, and only those parsed), it equals parsing every cell on its own."""
    from tokenize_kit.pii import name_lexicon as nl
    from tokenize_kit.scan import _single_names

    cells = ["أحمد", " محمد ", "احمد", "Ahmed", "AHMED", "AhMed", "شارع", "", None, "عبد الرحمن", "عبدالرحمن",
             "فاطمه", "أَحمد", "أحـمد", "12", "محمد علي", "Mona", "mona", "حسن،"]
    want = [c is not None and " " not in c.strip() and nl.parse(c.strip()) is not None for c in cells]
    assert _single_names(pa.array(cells, pa.string())).tolist() == want
    assert sum(want) >= 8  # (the cells above hold names and non-names both)


def test_word_table_equals_the_word_by_word_reading():
    """The gate's per-word table (folded, prefix stripped, kept by the address types, a known place) computed in
    whole-array steps equals the reading of each word on its own (nl.fold, fw.role), on the words of notes, of
    their tokens, of addresses, digits and Latin text."""
    import pyarrow as pa

    from generators import notes as gen_notes
    from tokenize_kit import scan
    from tokenize_kit.keys import Keyset
    from tokenize_kit.pii import find_words as fw
    from tokenize_kit.pii import free_text as ft
    from tokenize_kit.pii import name_lexicon as nl
    from tokenize_kit.pii.base import Crypto
    from tokenize_kit.pii.textview import TextView

    texts = gen_notes.generate(2_000, seed=77).text
    tokens = ft.transform(pa.array(texts), Crypto(Keyset.generate())).values.to_pylist()
    extra = ["وبأحمد", "بالرياض", "لمحمد", "كالعادة", "فالدقي", "Mr", "STREET", "Ahmed's", "٠١٠١٢٣٤٥٦٧٨", "شارع",
             "عمارة", "أسيوط", "إسكندرية", "آمنة", "مصطفى", "فاطمة", "ـمحمـد", "مُحَمَّد", "ابو", "عبد"]
    view = TextView(pa.array(texts + tokens + extra))
    w = fw.words(view, np.zeros(len(view), dtype=bool))
    words = pa.array(sorted(set(w.text.to_pylist()) | set(extra)), pa.string())
    table = scan._word_table(words)
    places = scan._place_words()
    for k, word in enumerate(words.to_pylist()):
        folded = nl.fold(word)
        stripped = folded[1:] if len(folded) > 3 and ord(folded[0]) in fw.PREFIX_LETTERS else folded
        assert table.folded[k].as_py() == folded, word
        assert table.stripped[k].as_py() == stripped, word
        assert bool(table.prefixed[k]) == (stripped != folded), word
        assert bool(table.kept[k]) == bool(fw.role(word) & (fw.STRUCT | fw.PLACE_EG | fw.PLACE_SA)), word
        assert bool(table.known[k]) == (folded in places), word
    assert len(words) > 3_000


def _planted() -> pa.Table:
    """Every leak of LEAKS at once, a coincidence, and PII in a column the policy leaves out."""
    out = _clean()
    for column, row, text, _ in LEAKS:
        values = out[column].to_pylist()
        values[row] = text
        out = out.set_column(out.schema.get_field_index(column), column, pa.array(values))
    values = out["mobile"].to_pylist()
    values[20] = RAW["mobile"][30].as_py()
    out = out.set_column(out.schema.get_field_index("mobile"), "mobile", pa.array(values))
    return out.append_column("remark", pa.array([f"call 0109{i:07d}" if i % 4 == 0 else "ok" for i in range(N)]))


def test_the_gate_in_worker_processes_gives_the_same_report(tmp_path, monkeypatch):
    """``scan --against --processes N``: slices compared in this process and N-1 workers, findings taken in
    file order: the very report of one process, leaks, coincidences, row lists and the other columns' findings;
    a slice a worker could not do is done by the job; no worker is left."""
    import os
    from concurrent.futures import Future
    from pathlib import Path

    import pyarrow.csv as pacsv

    from tokenize_kit import text_workers

    pacsv.write_csv(RAW, tmp_path / "in.csv")
    pacsv.write_csv(_planted(), tmp_path / "out.csv")
    (tmp_path / "p.yaml").write_text(
        "columns:\n" + "".join(f"  {n}: {{type: {s.type}, method: {s.method}}}\n" for n, s in POLICY.columns.items()),
        encoding="utf-8")
    monkeypatch.setattr(scan, "GATE_ROWS", 6)  # (seven slices: every process gets several)

    def report(processes: int) -> dict:
        r = scan.scan_file(tmp_path / "out.csv", policy=tmp_path / "p.yaml", against=tmp_path / "in.csv",
                           processes=processes)
        return r.to_dict()

    one = report(1)
    assert sum(x["count"] for x in one["leaks"]) == len(LEAKS)  # (the planted file is found)
    assert one["coincidences"] and one["columns"]
    assert report(2) == one
    assert report(3) == one

    def failing(self, raw, out, row_offset):
        f: Future = Future()
        f.set_exception(text_workers.WorkerError("a worker process could not do its part (MemoryError)"))
        return f

    monkeypatch.setattr(text_workers.GateWorkers, "submit_compare", failing)
    assert report(2) == one
    children = [p for t in os.listdir("/proc/self/task")
                for p in Path(f"/proc/self/task/{t}/children").read_text().split()]
    assert not children


def test_the_gate_reads_batches_of_bounded_bytes(tmp_path, monkeypatch):
    """Both files are read in batches of about DEFAULT_BATCH_BYTES, not of 200,000 rows (a wide customers file's
    batch was hundreds of MB, held twice): with a tiny byte size the gate sees many batches, and its report is the
    one of a single batch."""
    import pyarrow.csv as pacsv

    from tokenize_kit import io

    pacsv.write_csv(RAW, tmp_path / "in.csv")
    pacsv.write_csv(_planted(), tmp_path / "out.csv")
    (tmp_path / "p.yaml").write_text(
        "columns:\n" + "".join(f"  {n}: {{type: {s.type}, method: {s.method}}}\n" for n, s in POLICY.columns.items()),
        encoding="utf-8")
    pieces: list[int] = []
    compare = scan.compare

    def counted(raw, out, policy):
        pieces.append(out.num_rows)
        return compare(raw, out, policy)

    def report() -> dict:
        pieces.clear()
        return scan.scan_file(tmp_path / "out.csv", policy=tmp_path / "p.yaml", against=tmp_path / "in.csv").to_dict()

    monkeypatch.setattr(scan, "compare", counted)
    whole = report()
    assert pieces == [N]
    monkeypatch.setattr(io, "MIN_BATCH_ROWS", 1)
    monkeypatch.setattr(io, "DEFAULT_BATCH_BYTES", 512)
    small = report()
    assert len(pieces) > 3 and sum(pieces) == N

    def by_column(r: dict) -> dict:  # (leaks are listed as met: the first batch's columns first)
        return {**r, "leaks": sorted(r["leaks"], key=lambda x: (x["column"], x["kind"]))}

    assert by_column(small) == by_column(whole)


def test_the_command_with_processes(tmp_path):
    """``scan --against --processes 2`` in the real command: the same report and exit status."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import pyarrow.csv as pacsv

    pacsv.write_csv(RAW, tmp_path / "in.csv")
    pacsv.write_csv(_planted(), tmp_path / "out.csv")
    (tmp_path / "p.yaml").write_text(
        "columns:\n" + "".join(f"  {n}: {{type: {s.type}, method: {s.method}}}\n" for n, s in POLICY.columns.items()),
        encoding="utf-8")
    tk = str(Path(sys.executable).with_name("tokenize-kit"))
    got = []
    for n in ("1", "2"):
        proc = subprocess.run([tk, "scan", "out.csv", "--against", "in.csv", "--policy", "p.yaml", "--format", "json",
                               "-q", "--processes", n], cwd=tmp_path, capture_output=True, timeout=300)
        assert proc.returncode == 1, proc.stderr.decode()
        got.append(json.loads(proc.stdout))
    assert got[0] == got[1] and got[0]["leaks"]


def _leak_report(table: pa.Table) -> dict:
    r = _gate(table, parts=2)
    return {"leaks": {c: {k: v.rows for k, v in kinds.items()} for c, kinds in r.leaks.items()},
            "coincidences": r.collisions}


def _same_report(monkeypatch, name: str, first_look, every, tables) -> None:
    """The gate's report with ``scan.<name>`` replaced by ``first_look`` equals its report with ``every``."""
    for table in tables:
        with monkeypatch.context() as m:
            m.setattr(scan, name, first_look)
            got = _leak_report(table)
        with monkeypatch.context() as m:
            m.setattr(scan, name, every)
            want = _leak_report(table)
        assert got == want


def test_the_first_look_at_output_words_changes_no_report(monkeypatch):
    """Word keys of an output row are made only where some word may be a word of the row's raw word keys (coarse
    hashes, with and without a glued preposition).  Every planted leak, more word leaks in other spellings (a
    diacritic first, tatweel, a name in a JSON column, an address pair in the name column) and a clean delivery
    give the report they give with every row's word keys made; and rows are left out."""
    import json

    out = _planted()
    extra = {("notes", 21): "زرت َمحمد أحمد", ("notes", 22): "قال محـمد أحمد", ("name", 23): "التحرير الدقي 1",
             ("notes", 24): "والأحمد علي", ("address", 25): "1 شارع أحمد علي", ("notes", 27): "سلمت بأحمد وعلي"}
    for (column, row), text in extra.items():
        values = out[column].to_pylist()
        values[row] = text
        out = out.set_column(out.schema.get_field_index(column), column, pa.array(values))
    out = out.append_column("meta", pa.array([json.dumps({"contact": {"name": "احمد علي" if i == 26 else "x"}},
                                                         ensure_ascii=False) for i in range(N)]))
    left_out, real = [], scan._meeting_words

    def spy(*args):
        keep = real(*args)
        left_out.append(int((~keep).sum()))
        return keep

    _same_report(monkeypatch, "_meeting_words", spy, lambda view, ws, *_: np.ones(len(ws), dtype=bool),
                 (out, _clean()))
    assert sum(left_out) > 0
    leaks = _leak_report(out)["leaks"]
    # (a diacritic first, tatweel, both words only without their glued prepositions, a JSON column)
    assert {22, 23, 28} <= set(leaks["notes"]["name"]) and leaks["meta"]["name"] == [27]
    assert leaks["notes"]["address"] == [13]


def test_raw_words_are_every_word_of_the_word_keys():
    from tokenize_kit.pii import free_text as ft
    from tokenize_kit.pii.textview import TextView

    keys = pa.array(["n:احمد علي", "w:محمد", "a:التحرير 13", "d:29001010100011", "e:a b@c.d", "n:x"])
    rows = np.array([0, 1, 1, 2, 3, 4])
    got = scan.raw_words(rows, keys)
    words = [(0, "احمد"), (0, "علي"), (1, "محمد"), (1, "التحرير"), (1, "13"), (4, "x")]
    view = TextView(pa.array([w for _, w in words]))
    want = ft.row_keys(view.coarse_hashes(view.row_off[:-1], view.row_off[1:]), np.array([r for r, _ in words]))
    assert got.tolist() == sorted(set(want.tolist()))


def test_whole_cell_keys_only_where_they_can_meet_the_input(monkeypatch):
    """A cell's whole-cell e-mail and IBAN keys are made only where its input row has such a key or the cell can
    have an e-mail's or an IBAN's shape (a coincidence probe), and "v:" keys only where the row has one: the planted
    leaks, whole cells copied into other columns of rows with and without an e-mail or IBAN of their own (an IBAN in
    groups, in Arabic-Indic digits, an e-mail in capitals) and a clean delivery give the report of every cell
    keyed; and cells are left out."""
    raw = RAW
    for column, rows in (("email", (30, 31, 33)), ("iban", (30, 31, 32, 33))):
        values = raw[column].to_pylist()
        for row in rows:
            values[row] = ""
        if column == "email":
            values[3] = "user3@intranet"  # (no dot in its domain: the finder in text does not take it)
        raw = raw.set_column(raw.schema.get_field_index(column), column, pa.array(values))
    monkeypatch.setattr(sys.modules[__name__], "RAW", raw)
    out = _planted()
    # (IBANs cut by right-to-left marks or dots: only their whole-cell keys find them)
    extra = {("name", 30): "EG38\u200f0019\u200f0005\u200f0000\u200f0000\u200f2631\u200f8000\u200f2",
             ("address", 32): "user32@example.com", ("remark", 31): "USER3@INTRANET",
             ("remark", 33): "EG٣٨.٠٠١٩.٠٠٠٥.٠٠٠٠.٠٠٠٠.٢٦٣١.٨٠٠٠.٢", ("notes", 34): " user34@example.com ",
             ("remark", 35): "eg38.0019.0005.0000.0000.2631.8000.2"}
    for (column, row), text in extra.items():
        values = out[column].to_pylist()
        values[row] = text
        out = out.set_column(out.schema.get_field_index(column), column, pa.array(values))
    made, real = [], scan._whole_cell_rows

    def spy(core, own, kind):
        rows = real(core, own, kind)
        made.append((kind, len(rows), len(core)))
        return rows

    _same_report(monkeypatch, "_whole_cell_rows", spy, lambda core, own, kind: real(core, None, kind),
                 (out, _clean()))
    for kind in ("value", "email", "iban"):
        assert sum(n for k, n, _ in made if k == kind) < sum(total for k, _, total in made if k == kind), kind
    r = _leak_report(out)
    assert 33 in r["leaks"]["address"]["email"] and 35 in r["leaks"]["notes"]["email"]
    assert 36 in r["leaks"]["remark"]["iban"]
    assert r["coincidences"]["name"]["iban"] == 1 and r["coincidences"]["remark"] == {"email": 1, "iban": 1}


def test_whole_cell_rows():
    core = pa.array(["EG38 0019 0005 0000 0000 2631 8000 2", "a@b.c", "محمد", "value", "SA03-8000-0000-6080-1016-7519",
                     "EG38 0019"])
    none = np.zeros(len(core), dtype=bool)
    assert scan._whole_cell_rows(core, none, "value").tolist() == []
    assert scan._whole_cell_rows(core, none | (np.arange(len(core)) == 3), "value").tolist() == [3]
    assert scan._whole_cell_rows(core, none, "email").tolist() == [1]
    assert scan._whole_cell_rows(core, none, "iban").tolist() == [0, 4]
    assert scan._whole_cell_rows(core, None, "iban").tolist() == list(range(len(core)))


@pytest.mark.parametrize("column", ["name", "address"])
def test_a_name_or_address_column_left_raw_fails_the_gate(column):
    """A tokenized name or address column may meet a raw pair of its row by chance (realistic tokens), but a raw
    value whose every word key is in one output cell passed whole: a column left raw is a leak in every row."""
    out = _clean()
    out = out.set_column(out.schema.get_field_index(column), column, RAW[column])
    r = _gate(out)
    kind = "name" if column == "name" else "address"
    # (every row with a key: an address that is a known street and a house number of one digit has none)
    keyed, _ = scan._column_raw_keys(RAW[column].combine_chunks(), POLICY.columns[column].type)
    assert len(set(keyed.tolist())) >= 30
    assert r.found and r.leaks[column][kind].count == len(set(keyed.tolist())), r.leaks
    assert column not in r.collisions


def test_a_raw_name_in_the_address_column_fails_the_gate():
    out = _with("address", 3, "محمد أحمد علي حسن")
    r = _gate(out)
    assert r.leaks["address"]["name"].rows == [4]


@pytest.mark.parametrize("token", ["محمد أحمد سعيد كريم", "محمد أحمد علي كريم", "سعيد أحمد علي كريم"])
def test_tokens_meeting_part_of_the_raw_name_are_coincidences(token):
    """One or two of the raw name's three pairs in the token (lexicon names meeting by chance): counted, not a
    leak; the whole name is."""
    r = _gate(_with("name", 6, token))
    assert "name" not in r.leaks and r.collisions["name"]["name"] == 1
    r = _gate(_with("name", 6, "محمد  أحمد علي حسن"))  # (the raw name with a double space: still whole)
    assert r.leaks["name"]["name"].rows == [7]


def test_a_two_part_raw_name_left_whole_is_a_leak(monkeypatch):
    raw = RAW.set_column(RAW.schema.get_field_index("name"), "name", pa.array(["محمد أحمد"] * N))
    monkeypatch.setattr(sys.modules[__name__], "RAW", raw)
    out = _with("name", 2, "محمد أحمد")
    r = _gate(out)
    assert r.leaks["name"]["name"].rows == [3]


def _whole_values_reference(found: list[str], o_value: list[int], own: list[str], r_keys: list[str],
                            r_value: list[int]) -> list[bool]:
    """:func:`scan._whole_values` one key at a time: a found key completes a raw column value (of word keys, one
    of them a pair) whose every word key was found in the same output value."""
    values: dict[int, set[str]] = {}
    several: dict[int, bool] = {}
    for o, k, v in zip(own, r_keys, r_value, strict=True):
        if v >= 0 and k[0] in "nwa":
            values.setdefault(v, set()).add(o)
            several[v] = several.get(v, False) or k[0] in "na"
    found_in: dict[int, set[str]] = {}
    for f, o in zip(found, o_value, strict=True):
        found_in.setdefault(o, set()).add(f)
    return [any(f in keys and several[v] and keys <= found_in[o] for v, keys in values.items())
            for f, o in zip(found, o_value, strict=True)]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_whole_values_equals_the_one_key_at_a_time_reading(data):
    n_raw = data.draw(st.integers(1, 12))
    r_keys = [data.draw(st.sampled_from(["n:a b", "n:b c", "w:a", "a:1 x", "w:x", "d:123", "n:c d"]))
              for _ in range(n_raw)]
    r_row = [data.draw(st.integers(0, 2)) for _ in range(n_raw)]
    r_value = [data.draw(st.integers(-1, 4)) for _ in range(n_raw)]
    own = [f"{r}\x1f{k}" for r, k in zip(r_row, r_keys, strict=True)]
    n_found = data.draw(st.integers(1, 10))
    found = [data.draw(st.sampled_from(own)) for _ in range(n_found)]
    o_value = [data.draw(st.integers(0, 3)) for _ in range(n_found)]
    got = scan._whole_values(pa.array(found), np.array(o_value), pa.array(own), pa.array(r_keys),
                             np.array(r_value, dtype=np.int64))
    assert got.tolist() == _whole_values_reference(found, o_value, own, r_keys, r_value)


def _reversed(columns: tuple[str, ...]) -> pa.Table:
    """A clean delivery with these columns holding the raw values of the input in reverse row order (no row
    holds its own: N is even)."""
    out = _clean()
    for column in columns:
        back = RAW[column].take(pa.array(range(N - 1, -1, -1)))
        out = out.set_column(out.schema.get_field_index(column), column, back)
    return out


def test_raw_values_in_other_rows_fail_the_gate_when_no_chance_explains_them():
    """Rows out of the input's order (a delivery sorted or written by parallel workers) hide every raw value from
    the row-by-row comparison: each is then in another row, a coincidence; but realistic tokens meet another row's
    raw value rarely, so a column where most probed rows do fails the gate, whatever the batches and partitions."""
    out = _reversed(("mobile", "email"))
    for in_size, out_size, parts in [(N, N, 64), (7, 10, 2), (1, 3, 2)]:
        r = _gate(out, in_size, out_size, parts=parts)
        assert r.leaks == {} and r.found, (in_size, out_size)
        assert r.implausible == {"mobile": {"phone": (N, N)}, "email": {"email": (N, N)}}
    # the share counts: other rows' raw mobiles in 30 rows of 40 fail the gate, in 20 of 40 they do not
    for raw_rows, bad in ((30, True), (20, False)):
        values = _clean()["mobile"].to_pylist()
        for i in range(raw_rows):
            values[i] = RAW["mobile"][(i + 1) % raw_rows].as_py()
        r = _gate(_clean().set_column(1, "mobile", pa.array(values)), parts=2)
        assert r.collisions["mobile"]["phone"] == raw_rows and r.found is bad
        assert r.implausible == ({"mobile": {"phone": (raw_rows, N)}} if bad else {})
    # a few raw values of other rows among tokens: coincidences, as realistic tokens give
    out = _with("mobile", 9, RAW["mobile"][30].as_py())
    r = _gate(out)
    assert r.implausible == {} and not r.found and r.collisions["mobile"]["phone"] == 1
    # tokens in another order: nothing
    clean = _clean()
    r = _gate(clean.take(pa.array(range(N - 1, -1, -1))))
    assert r.implausible == {} and not r.found


def test_implausible_coincidences_in_the_command_and_its_report(tmp_path):
    import json
    import subprocess
    from pathlib import Path

    import pyarrow.csv as pacsv

    pacsv.write_csv(RAW, tmp_path / "in.csv")
    pacsv.write_csv(_reversed(("mobile", "national_id")), tmp_path / "out.csv")
    (tmp_path / "p.yaml").write_text(
        "columns:\n" + "".join(f"  {n}: {{type: {s.type}, method: {s.method}}}\n" for n, s in POLICY.columns.items()),
        encoding="utf-8")
    tk = str(Path(sys.executable).with_name("tokenize-kit"))
    proc = subprocess.run([tk, "scan", "out.csv", "--against", "in.csv", "--policy", "p.yaml"], cwd=tmp_path,
                          capture_output=True, timeout=300)
    text = proc.stdout.decode()
    assert proc.returncode == 1 and "TOO MANY RAW PHONE VALUES OF OTHER ROWS in column 'mobile'" in text
    assert "rows are not in the input's order" in text and "01000000" not in text
    proc = subprocess.run([tk, "scan", "out.csv", "--against", "in.csv", "--policy", "p.yaml", "--format", "json"],
                          cwd=tmp_path, capture_output=True, timeout=300)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["pii_found"] is True
    assert {(d["column"], d["kind"], d["count"], d["probed"]) for d in doc["implausible_coincidences"]} == {
        ("mobile", "phone", N, N), ("national_id", "national_id", N, N)}
    # other rows' raw mobiles in 30 rows of 40: the gate fails at the default share, not at --coincidence-share 0.8
    values = _clean()["mobile"].to_pylist()
    values[:30] = [RAW["mobile"][(i + 1) % 30].as_py() for i in range(30)]
    pacsv.write_csv(_clean().set_column(1, "mobile", pa.array(values)), tmp_path / "out30.csv")
    codes = [subprocess.run([tk, "scan", "out30.csv", "--against", "in.csv", "--policy", "p.yaml", "-q", *extra],
                            cwd=tmp_path, capture_output=True, timeout=300).returncode
             for extra in ([], ["--coincidence-share", "0.8"])]
    assert codes == [1, 0]


def test_a_name_column_cut_to_raw_parts_fails_the_gate():
    """One pair of the row's raw name in a token column is a coincidence; the same in most rows is parts of the raw
    names passing (a name cut to its first two parts), whatever the batches."""
    out = _clean()
    out = out.set_column(out.schema.get_field_index("name"), "name", pa.array(["محمد أحمد كريم"] * N))
    for in_size, out_size in [(N, N), (7, 10), (1, 3)]:
        r = _gate(out, in_size, out_size, parts=2)
        assert r.leaks == {} and r.found and r.implausible == {"name": {"name": (N, N)}}, (in_size, out_size)
    r = _gate(_with("name", 6, "محمد أحمد كريم"))
    assert not r.found and r.collisions["name"]["name"] == 1


def test_a_column_of_one_part_names_left_raw_fails_the_gate(monkeypatch):
    """A one-part name is a single word (no pair to be whole): one such meeting is a coincidence, a column of them
    is not (names of fewer than four letters give no key at all)."""
    names = ["محمد", "أحمد", "علي", "حسن", "سعيد"] * (N // 5)
    raw = RAW.set_column(RAW.schema.get_field_index("name"), "name", pa.array(names))
    monkeypatch.setattr(sys.modules[__name__], "RAW", raw)
    out = _clean().set_column(_clean().schema.get_field_index("name"), "name", pa.array(names))
    r = _gate(out)
    keyed = 3 * N // 5
    assert r.found and r.implausible == {"name": {"name": (keyed, keyed)}}
    # the row's one-part name met in row 1, and "سعيد" of the clean tokens in the eight rows named so: coincidences
    r = _gate(_with("name", 0, "محمد"))
    assert not r.found and r.implausible == {} and r.collisions["name"]["name"] == 1 + N // 5


def test_a_column_repeating_a_name_word_is_no_first_name_column():
    """A nationality column (سعودي is also a given name) repeats one or two lexicon words: not a first-name column.
    A first-name column is reported with its count and rows, across batches."""
    from tokenize_kit.pii import name_lexicon as nl

    firsts = [w for w in ["محمد", "أحمد", "سارة", "كريم", "فاطمة", "خالد", "منى", "يوسف", "نورة", "عمر", "هدى",
                          "ياسر", "ريم", "طارق", "سلمى", "حسام", "دينا", "وليد", "رنا", "ماجد", "ليلى", "سامي"]
              if nl.parse(w) is not None]
    assert len(firsts) >= 20
    t = pa.table({"nationality": ["سعودي"] * 30 + ["مصري"] * 10,
                  "first": [firsts[i % len(firsts)] for i in range(40)]})
    r = ScanResult()
    for start in range(0, 40, 15):
        part = ScanResult()
        scan_batch(t.slice(start, 15), part, row_offset=start)
        r.merge(part)
    assert not r.columns["nationality"].found
    names = r.columns["first"].kinds_found()["name"]
    assert names.count == 40 and names.rows[:3] == [1, 2, 3]


def test_place_names_alone_are_not_pii():
    """A district named after a king, a region's English name, a city: places, not a person or an address; the
    same words inside a name or an address, and a given name that is also a place (منى), are still read."""
    t = pa.table({
        "district": ["الملك فهد", "الأمير فواز الجنوبى", "العليا", "الملز"] * 5,
        "region": ["Eastern Province", "Riyadh", "Makkah", "المنطقة الشرقية"] * 5,
        "person": ["فهد بن سعود القحطاني", "منى أحمد", "محمد الملك", "سارة علي"] * 5,
        "address": ["12 شارع الملك فهد، العليا، الرياض", "حي الملز، الرياض", "5 شارع التحلية، جدة", "x"] * 5,
    })
    r = ScanResult()
    scan_batch(t, r)
    found = {c for c, f in r.columns.items() if f.found}
    assert found == {"person", "address"}, found
    assert r.columns["person"].kinds_found()["name"].count == 20
