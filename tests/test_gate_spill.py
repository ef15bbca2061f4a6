"""The gate's bounded design: the same leaks and coincidences whatever the slice size and the partition budget (a
tiny budget forces every partition through the block-by-block path), and a spill folder that fills up or cannot
be written is a one-line error naming the folder, exit 2, with nothing left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner

from tests.test_gate import LEAKS, POLICY, RAW, _clean, _with
from tokenize_kit import scan
from tokenize_kit.cli import cli
from tokenize_kit.scan import Gate, ScanResult, _aligned, scan_batch


def _gate(output: pa.Table, raw: pa.Table = RAW, parts: int = 64, budget: int = scan.PART_BUDGET,
          spill=None) -> ScanResult:
    result = ScanResult()
    with Gate(POLICY, spill, parts=parts, budget=budget) as gate:
        seen = 0
        for r, out in _aligned(iter(raw.to_batches(max_chunksize=13)), iter(output.to_batches(max_chunksize=17))):
            scan_batch(out, result, POLICY.columns, seen)
            gate.add(r, out, result, seen)
            seen += out.num_rows
        gate.finish(result)
    return result


def _summary(r: ScanResult) -> tuple[dict, dict]:
    return ({c: {k: (v.count, v.rows) for k, v in kinds.items()} for c, kinds in r.leaks.items()},
            {c: dict(kinds) for c, kinds in r.collisions.items()})


def _coincidences() -> pa.Table:
    """An output whose mobiles are other rows' raw mobiles (rows 0-9 hold rows 10-19's), with one raw ID and one
    raw e-mail of another row, and a leak of row 30's own mobile."""
    out = _clean()
    mobiles = out["mobile"].to_pylist()
    for i in range(10):
        mobiles[i] = RAW["mobile"][i + 10].as_py()
    mobiles[30] = RAW["mobile"][30].as_py()
    ids = out["national_id"].to_pylist()
    ids[3] = RAW["national_id"][33].as_py()
    emails = out["email"].to_pylist()
    emails[4] = RAW["email"][34].as_py().upper()
    for name, values in (("mobile", mobiles), ("national_id", ids), ("email", emails)):
        out = out.set_column(out.schema.get_field_index(name), name, pa.array(values))
    return out


def test_a_tiny_budget_and_tiny_slices_give_the_same_report(monkeypatch):
    """Every partition split into blocks of one record, slices of 3 rows: the same leaks and coincidences."""
    out = _coincidences()
    expected = _summary(_gate(out))
    assert expected[0] == {"mobile": {"phone": (1, [31])}}
    assert expected[1].get("mobile", {}).get("phone") == 10
    assert expected[1].get("national_id", {}).get("national_id") == 1
    assert expected[1].get("email", {}).get("email") == 1
    monkeypatch.setattr(scan, "GATE_ROWS", 3)
    for parts, budget in ((1, 16), (2, 16), (4, 48), (64, 1)):
        assert _summary(_gate(out, parts=parts, budget=budget)) == expected, (parts, budget)


@pytest.mark.parametrize(("column", "row", "text", "kind"), LEAKS)
def test_every_planted_leak_is_found_with_forced_spills(monkeypatch, column, row, text, kind):
    monkeypatch.setattr(scan, "GATE_ROWS", 5)
    r = _gate(_with(column, row, text), parts=2, budget=16)
    assert r.found and kind in r.leaks.get(column, {}), r.leaks
    assert r.leaks[column][kind].rows == [row + 1]


def test_coincidences_are_counted_once_per_row_across_blocks(monkeypatch):
    """One output row holding a raw value in several readings (+20, 0020, bare) is one coincidence, even when the
    readings fall in different partitions and blocks."""
    out = _clean()
    notes = out["notes"].to_pylist()
    notes[2] = "call +20 100 000 0011 or 00201000000011 or 01000000011"  # row 11's raw mobile, three times
    out = out.set_column(out.schema.get_field_index("notes"), "notes", pa.array(notes))
    for parts, budget in ((64, scan.PART_BUDGET), (2, 16), (1, 8)):
        assert _gate(out, parts=parts, budget=budget).collisions.get("notes", {}).get("phone") == 1


# -- a spill folder that fills up or cannot be written --------------------------------------------------------
ROWS = 30_000


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A raw input and a clean "delivery" of ROWS rows whose gate spills a few MB."""
    n = ROWS
    raw = pa.table({"national_id": [f"2900101{i:07d}" for i in range(n)],
                    "mobile": [f"010{i:08d}" for i in range(n)],
                    "notes": [f"call 011{i:08d} or 012{i:08d}" for i in range(n)]})
    out = pa.table({"national_id": [f"3911111{i:07d}" for i in range(n)],
                    "mobile": [f"015{i:08d}" for i in range(n)],
                    "notes": [f"call 015{i:08d} or 015{i + 1:08d}" for i in range(n)]})
    paths = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "policy.yaml"
    pacsv.write_csv(raw, paths[0])
    pacsv.write_csv(out, paths[1])
    paths[2].write_text("columns:\n  national_id: {type: eg_national_id}\n  mobile: {type: phone}\n"
                        "  notes: {type: free_text}\n", encoding="utf-8")
    return paths


def _scan(paths: tuple[Path, Path, Path], spill: Path):
    return CliRunner().invoke(cli, ["scan", str(paths[1]), "--against", str(paths[0]), "--policy", str(paths[2]),
                                    "--spill-dir", str(spill), "-q"])


def test_the_spill_folder_is_used_and_emptied(tmp_path):
    spill = tmp_path / "spill"
    spill.mkdir()
    res = _scan(_files(tmp_path), spill)
    assert res.exit_code == 0, res.output
    assert list(spill.iterdir()) == []


def test_a_full_disk_while_spilling_is_exit_2_naming_the_folder(tmp_path, monkeypatch):
    """ENOSPC injected after the first megabyte: one line, the folder, what to free; the folder left empty."""
    spill = tmp_path / "spill"
    spill.mkdir()
    real_open = open
    written = [0]

    class Filling:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            written[0] += len(data)
            if written[0] > 1 << 20:
                raise OSError(28, "No space left on device")
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(scan, "open", lambda *a, **k: Filling(real_open(*a, **k)), raising=False)
    res = _scan(_files(tmp_path), spill)
    assert res.exit_code == 2, res.output
    message = res.output.strip()
    assert "\n" not in message and str(spill) in message and "free space" in message and "--spill-dir" in message
    assert "No space left on device" in message
    assert list(spill.iterdir()) == []


def test_a_spill_folder_that_cannot_be_created_is_exit_2(tmp_path):
    (tmp_path / "file").write_text("x")
    not_a_folder = tmp_path / "file" / "spill"  # under a file: cannot be created
    res = _scan(_files(tmp_path), not_a_folder)
    assert res.exit_code == 2, res.output
    message = res.output.strip()
    assert "\n" not in message and "--spill-dir" in message and str(not_a_folder) in message


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"),
                    reason="mounting a small tmpfs needs root on Linux")
def test_a_real_full_tmpfs_is_exit_2_and_left_empty(tmp_path):
    """A 1 MB tmpfs as the spill folder: the disk really fills up (the command, in its own process)."""
    paths = _files(tmp_path)
    spill = tmp_path / "tmpfs"
    spill.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(spill)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        proc = subprocess.run([sys.executable, "-m", "tokenize_kit", "scan", str(paths[1]), "--against",
                               str(paths[0]), "--policy", str(paths[2]), "--spill-dir", str(spill), "-q"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and str(spill) in lines[0] and "free space" in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr and not proc.stdout.strip()
        assert list(spill.iterdir()) == []
    finally:
        subprocess.run(["umount", str(spill)], check=True)

