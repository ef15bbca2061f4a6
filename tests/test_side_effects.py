"""The library leaves its caller's process as it found it: no environment changes, no import hooks, no allocator
tuning, no threads left running.  Only the command's entry point (``tokenize_kit.cli.main``) sets anything, and
only in the command's own process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import os, sys, threading, warnings
warnings.simplefilter("ignore")
finders, environ, threads = list(sys.meta_path), dict(os.environ), threading.active_count()
import numpy as np, pyarrow as pa
import tokenize_kit
from tokenize_kit import FF1, Keyset, detokenize_table, tokenize_table
from tokenize_kit.pii import registry
from tokenize_kit.pipeline import run

keyset = Keyset.generate()
values = {"eg_national_id": "29801010123456", "sa_national_id": "1000000008", "eg_phone": "01012345678",
          "sa_phone": "0501234567", "phone": "+966501234567", "email": "a.b@example.com", "person_name": "محمد أحمد",
          "eg_address": "12 شارع التحرير، الدقي، الجيزة", "sa_address": "حي النخيل، الرياض",
          "iban": "SA0380000000608010167519", "free_text": "اتصل على 01012345678"}
missing = set(registry.names()) - set(values)
assert not missing, missing
policy = {"columns": {name: {"type": name} for name in values}}
table = pa.table({name: [v, "N/A", v + "x"] for name, v in values.items()})
back = detokenize_table(tokenize_table(table, policy, keyset), policy, keyset)
c = FF1(bytes(16), "0123456789")
big = pa.array([str(i).zfill(10) for i in range(300_000)])
assert c.decrypt_many(c.encrypt_many(big, threads=2), threads=2).equals(big)
import tempfile, pathlib
with tempfile.TemporaryDirectory() as d:
    src = pathlib.Path(d) / "in.csv"
    src.write_text("id,phone\n" + "".join(f"2980101012{i:04d},0101234{i:04d}\n" for i in range(5000)))
    run(src, pathlib.Path(d) / "out.csv", {"columns": {"id": {"type": "eg_national_id"}, "phone": {"type": "phone"}}},
        keyset, threads=2, batch_size=1000)
assert sys.meta_path == finders, "sys.meta_path changed"
assert dict(os.environ) == environ, "os.environ changed"
assert threading.active_count() == threads, f"threads left running: {threading.enumerate()}"
print("ok")
"""


def test_library_leaves_meta_path_environment_and_threads_as_they_were():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "ok", out.stderr


#: what only the command's entry point may do: process-wide settings
PROCESS_WIDE = re.compile(r"mallopt|malloc_trim|ctypes|sys\.meta_path|os\.environ\[|environ\.setdefault|"
                          r"putenv|gc\.freeze|gc\.disable|set_memory_pool|jemalloc|mimalloc|OPENBLAS|MADVISE")


def test_no_library_module_makes_process_wide_settings():
    """No allocator tuning (mallopt, malloc_trim, a process-wide Arrow pool), no ctypes, no environment writes, no
    import hooks, no GC settings outside the command's entry point (``tokenize_kit/cli/__init__.py``)."""
    offenders = []
    for path in sorted((ROOT / "tokenize_kit").rglob("*.py")):
        if path.relative_to(ROOT).as_posix() == "tokenize_kit/cli/__init__.py":
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PROCESS_WIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_fpe_reads_no_environment_variable():
    for path in sorted((ROOT / "tokenize_kit" / "fpe").rglob("*.py")):
        assert "environ" not in path.read_text(encoding="utf-8") and "getenv" not in path.read_text(encoding="utf-8")
