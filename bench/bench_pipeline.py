"""End-to-end CSV tokenization: rows/s and peak RSS of the CLI job on 1,000,000 and 5,000,000-row files
(national ID, phone, address text and notes), next to the naive job a data engineer would write
(pandas ``read_csv``, ``apply`` with the ``ff3`` package per cell, ``to_csv``) measured in the same run on a
sample.

Targets (issue 4): >= 200,000 rows/s end to end, >= 100x the naive job, peak RSS < 500 MB for 5M rows.
Both the 1M-row job and the naive job run :data:`RUNS` times and their best runs are compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

POLICY = """\
columns:
  national_id: {type: eg_national_id}
  mobile: {type: phone}
  address: {type: eg_address}
  notes: {type: free_text}
"""


def _write_csv(path: Path, rows: int) -> None:
    from tokenize_kit.io import BatchWriter, TextEncoding
    from tokenize_kit.pii.eg_national_id import compose_arrow

    rng = np.random.default_rng(9)
    with open(path, "wb") as fh:
        w = BatchWriter(fh, "csv", TextEncoding("utf-8", newline="\n"))
        for start in range(0, rows, 500_000):
            n = min(500_000, rows - start)
            ids = compose_arrow(np.datetime64("1950-01-01") + rng.integers(0, 25000, n).astype("timedelta64[D]"),
                                np.array([1, 2, 12, 21])[rng.integers(0, 4, n)], rng.integers(0, 10000, n),
                                rng.integers(0, 10, n))
            mobiles = np.char.add("01", np.char.add(rng.choice(["0", "1", "2", "5"], n),
                                                    np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8)))
            street = np.char.add("شارع ", rng.choice(["التحرير", "الهرم", "فيصل", "الجمهورية"], n))
            address = np.char.add(np.char.add(rng.integers(1, 200, n).astype(str), " "), street)
            notes = np.where(rng.random(n) < 0.1, np.char.add("اتصل على ", mobiles), "تم السداد")
            w.write(pa.record_batch({"national_id": ids, "mobile": pa.array(mobiles), "address": pa.array(address),
                                     "notes": pa.array(notes), "amount": pa.array(rng.integers(100, 99999, n))}))
        w.close()


def _run_job(src: Path, out: Path, policy: Path) -> tuple[float, float]:
    return _run_cli("tokenize", str(src), str(out), "--policy", str(policy), "-q", "--force")


def _run_cli(*args: str, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall time and peak RSS of a CLI command.  Peak RSS is the child's own VmHWM, polled from /proc:
    ``getrusage(RUSAGE_CHILDREN)`` would include the parent's pages inherited through fork."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tokenize_kit", *args], env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_kb = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    secs = time.perf_counter() - t
    if proc.returncode not in ok:
        raise RuntimeError(f"tokenize-kit {args[0]} failed")
    return secs, peak_kb / 1024


def _naive_rates(src: Path, sample: int = 20_000) -> tuple[float, float]:
    """The same job written without us, on the first ``sample`` rows: read the CSV with pandas, encrypt the
    national ID, the mobile's subscriber digits and every mobile number inside the notes with the ``ff3``
    package per cell (``apply``), write the CSV.  The address is left as it is: ``ff3`` cannot take Arabic text
    and its house numbers are shorter than FF3-1's minimum length, so the naive job does less than ours.

    Returns (rows/s of the whole naive job, rows/s of its two ``apply`` calls on ID and mobile alone); the
    second is the figure earlier benches compared against, kept for continuity."""
    import re

    import pandas as pd
    from ff3 import FF3Cipher

    c = FF3Cipher.withCustomAlphabet("00" * 32, "00" * 7, "0123456789")
    mobile_in_text = re.compile(r"01[0125][0-9]{8}")
    t = time.perf_counter()
    df = pd.read_csv(src, nrows=sample, dtype=str, keep_default_na=False)
    t_apply = time.perf_counter()
    df["national_id"] = df["national_id"].apply(c.encrypt)
    df["mobile"] = df["mobile"].apply(lambda v: v[:3] + c.encrypt(v[3:]))
    apply_secs = time.perf_counter() - t_apply
    df["notes"] = df["notes"].apply(lambda s: mobile_in_text.sub(lambda m: m[0][:3] + c.encrypt(m[0][3:]), s))
    with tempfile.TemporaryDirectory() as d:
        df.to_csv(Path(d) / "naive.csv", index=False)
    return sample / (time.perf_counter() - t), sample / apply_secs


#: each timed job runs this many times and its best run counts, ours and the naive one alike (the shared 2-core
#: machine's speed drifts by tens of percent from minute to minute; the best of a few runs is the usual
#: estimate of what the code costs, and every run is printed)
RUNS = 3


def main() -> None:
    from tokenize_kit.keys import Keyset

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        Keyset.generate().save(d / "keys.json")
        os.environ["TOKENIZE_KIT_KEYSET"] = str(d / "keys.json")
        (d / "policy.yaml").write_text(POLICY, encoding="utf-8")
        naive = None
        for rows in (1_000_000, 5_000_000):
            src = d / f"in_{rows}.csv"
            _write_csv(src, rows)
            if naive is None:
                runs = [_naive_rates(src) for _ in range(RUNS)]
                naive, apply_only = max(r[0] for r in runs), max(r[1] for r in runs)
                print("   naive job (pandas read_csv, apply + ff3 per cell on ID, mobile, mobiles in notes, to_csv): "
                      f"{naive:,.0f} rows/s, best of {RUNS} (runs: {', '.join(f'{r[0]:,.0f}' for r in runs)}); "
                      f"its ID + mobile apply calls alone {apply_only:,.0f} rows/s (20,000-row sample, extrapolated)")
            jobs = [_run_job(src, d / "out.csv", d / "policy.yaml") for _ in range(RUNS if rows < 5_000_000 else 1)]
            secs, rss = min(j[0] for j in jobs), max(j[1] for j in jobs)
            rate = rows / secs
            met = rate >= 200_000 and rate / naive >= 100 and (rows < 5_000_000 or rss < 500)
            each = ""
            if len(jobs) > 1:
                each = f"best of {len(jobs)}, runs: {', '.join(f'{rows / j[0]:,.0f}' for j in jobs)}; "
            print(f"   tokenize {rows:>9,} rows CSV: {rate:>9,.0f} rows/s end to end ({each}"
                  f"{rate / naive:,.0f}x the naive job; "
                  f"{rate / apply_only:,.0f}x its apply calls), "
                  f"peak RSS {rss:,.0f} MB  [{'target met' if met else 'TARGET MISSED'}: >= 200,000 rows/s, "
                  f">= 100x the naive job{', RSS < 500 MB' if rows >= 5_000_000 else ''}]")
            if rows == 1_000_000:  # the delivery gate on the same file (no target; it reads the input twice)
                secs, rss = _run_cli("scan", str(d / "out.csv"), "--against", str(src), "--policy",
                                     str(d / "policy.yaml"), ok=(0, 1))
                print(f"   scan --against, same {rows:,} rows: {rows / secs:>9,.0f} rows/s, peak RSS {rss:,.0f} MB "
                      "[no target]")
            src.unlink()


if __name__ == "__main__":
    main()
