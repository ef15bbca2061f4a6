"""Worker processes for free text (tokenize_kit.text_workers): the same delivery as one process, a part that fails
in a worker is done again by the job (which raises the real error), and nothing is left running."""

from __future__ import annotations

import os
from concurrent.futures import Future
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from generators import notes as gen_notes
from tokenize_kit import text_workers
from tokenize_kit.derived_keys import DerivedKeyset
from tokenize_kit.keys import Keyset
from tokenize_kit.pipeline import run
from tokenize_kit.policy import Policy
from tokenize_kit.table import crypto_for, transform_table

POLICY = "columns:\n  id: {type: eg_national_id}\n  note: {type: free_text}\n"
BATCH_BYTES = 512 << 10  # batches of about 3,000 notes: several batches, each split in two


def _children() -> list[int]:
    out = []
    for task in os.listdir("/proc/self/task"):
        try:
            out += [int(p) for p in Path(f"/proc/self/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return out


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    d = tmp_path_factory.mktemp("workers")
    notes = gen_notes.generate(10_000, seed=4242)
    ids = [f"2980101{k:06d}" + "6" for k in range(10_000)]
    pacsv.write_csv(pa.table({"id": ids, "note": notes.text}), d / "in.csv")
    (d / "p.yaml").write_text(POLICY, encoding="utf-8")
    return d, Keyset.generate()


def test_workers_give_the_delivery_of_one_process(job, monkeypatch):
    d, ks = job
    used: list[int] = []
    submit = text_workers.TextWorkers.submit

    def counted(self, table, row_offset):
        used.append(table.num_rows)
        return submit(self, table, row_offset)

    monkeypatch.setattr(text_workers.TextWorkers, "submit", counted)
    one = run(d / "in.csv", d / "one.csv", d / "p.yaml", ks, threads=1, batch_bytes=BATCH_BYTES, overwrite=True)
    assert not used
    run(d / "in.csv", d / "threads.csv", d / "p.yaml", ks, threads=2, batch_bytes=BATCH_BYTES, overwrite=True)
    assert not used  # (worker processes only when asked for)
    two = run(d / "in.csv", d / "two.csv", d / "p.yaml", ks, threads=2, processes=2, batch_bytes=BATCH_BYTES,
              overwrite=True)
    # every batch is split between this process and the one worker (which gets its share of each)
    assert len(used) >= 3 and sum(used) < 10_000
    assert (d / "one.csv").read_bytes() == (d / "two.csv").read_bytes() == (d / "threads.csv").read_bytes()
    assert one.report.to_dict() == two.report.to_dict()
    assert not _children()
    used.clear()
    three = run(d / "in.csv", d / "three.csv", d / "p.yaml", ks, threads=2, processes=3, batch_bytes=BATCH_BYTES,
                overwrite=True)
    assert len(used) >= 6 and sum(used) < 10_000  # (two workers, each a part of every batch)
    assert (d / "three.csv").read_bytes() == (d / "one.csv").read_bytes()
    assert three.report.to_dict() == one.report.to_dict()
    assert not _children()
    used.clear()
    run(d / "two.csv", d / "back.csv", d / "p.yaml", ks, detokenize=True, threads=2, processes=2,
        batch_bytes=BATCH_BYTES, overwrite=True)
    assert used
    run(d / "two.csv", d / "back1.csv", d / "p.yaml", ks, detokenize=True, threads=1, batch_bytes=BATCH_BYTES,
        overwrite=True)
    assert (d / "back.csv").read_bytes() == (d / "back1.csv").read_bytes()
    back = pacsv.read_csv(d / "back.csv").column("note").to_pylist()
    differ = [i for i, (a, b) in enumerate(zip(back, pacsv.read_csv(d / "in.csv").column("note").to_pylist(),
                                                strict=True)) if a != b]
    # (a row whose token text did not read again exactly as its value did was masked: counted, never raw; about
    # 20 rows in 1 M notes, so 0-2 here depending on the random key)
    assert len(differ) <= one.report.columns["note"].irreversible <= 10
    assert all("#" in back[i] for i in differ)
    assert not _children()


def test_a_failed_part_is_done_again_by_the_job(job, monkeypatch):
    """A worker that fails (here: every part) changes nothing in the delivery: the job does the batch itself."""
    d, ks = job

    def failing(self, table, row_offset):
        self.start()
        f: Future = Future()
        f.set_exception(text_workers.WorkerError("a worker process could not transform its part (MemoryError)"))
        return f

    run(d / "in.csv", d / "ref.csv", d / "p.yaml", ks, threads=1, batch_bytes=BATCH_BYTES, overwrite=True)
    monkeypatch.setattr(text_workers.TextWorkers, "submit", failing)
    run(d / "in.csv", d / "out.csv", d / "p.yaml", ks, threads=2, processes=2, batch_bytes=BATCH_BYTES,
        overwrite=True)
    assert (d / "ref.csv").read_bytes() == (d / "out.csv").read_bytes()
    assert not _children()


def test_a_dead_worker_fails_its_part_and_is_stopped(job):
    d, ks = job
    policy = Policy.load(d / "p.yaml")
    keys = DerivedKeyset.for_policy(ks, policy)
    table = pacsv.read_csv(d / "in.csv").slice(0, 50)
    workers = text_workers.TextWorkers(1, policy, keys, False)
    try:
        got = workers.submit(table, 0).result(timeout=120)
        assert got["note"][0].equals(transform_table(table, policy, crypto_for(policy, keys), False)["note"][0])
        workers._all[0].proc.kill()
        workers._all[0].proc.wait()
        assert workers.submit(table, 0).exception(timeout=120) is not None
    finally:
        workers.close()
    assert not _children()


def test_worker_gets_derived_keys_only(job):
    """What crosses the pipe is the policy's subkeys, never the keyset's master key."""
    d, ks = job
    keys = DerivedKeyset.for_policy(ks, Policy.load(d / "p.yaml"))
    assert "subkeys=" in repr(keys) and not hasattr(keys, "_keys")
    with pytest.raises(Exception, match="was not derived for this policy"):
        keys.subkey("something-else", purpose="fpe")


def test_the_command_with_processes(job):
    """``--processes 2`` in the real command: the same delivery, no worker left behind, no key on its line."""
    import subprocess
    import sys

    d, ks = job
    ks.save(d / "keys.json", passphrase="pw")
    env = {**os.environ, "TOKENIZE_KIT_KEYSET": str(d / "keys.json"), "TOKENIZE_KIT_PASSPHRASE": "pw"}
    tk = str(Path(sys.executable).with_name("tokenize-kit"))
    for args in (["--processes", "2"], ["--processes", "1"]):
        proc = subprocess.run([tk, "tokenize", "in.csv", f"cli{args[1]}.csv", "--policy", "p.yaml", "-q", "--force",
                               "--batch-bytes", "512KiB", *args], cwd=d, env=env, capture_output=True, timeout=300)
        assert proc.returncode == 0, proc.stderr.decode()
    assert (d / "cli2.csv").read_bytes() == (d / "cli1.csv").read_bytes()
    assert not _children()


def test_batches_are_split_by_pace(job):
    """The first split leaves the loading workers a small share; then equal shares until both sides were timed
    (first parts left out); then in proportion to their paces."""
    from tokenize_kit.pipeline import _Lanes, _split

    d, ks = job
    policy = Policy.load(d / "p.yaml")
    workers = text_workers.TextWorkers(2, policy, DerivedKeyset.for_policy(ks, policy), False)  # (never started)
    with _Lanes(1, workers) as lanes:
        assert lanes.shares(2) == [1.0, 1 / 3, 1 / 3]
        assert lanes.shares(2) == [1.0, 1.0, 1.0]
        lanes.pace.add(1000, 5.0, lanes.pace)  # (a first part: left out)
        lanes.pace.add(1000, 0.1, lanes.pace)
        assert lanes.shares(2) == [1.0, 1.0, 1.0]  # (the workers not timed yet)
        for who in ("w1", "w2"):
            workers.pace.add(1000, 9.0, who)
        workers.pace.add(1000, 0.3, "w1")
        own, w1, w2 = lanes.shares(2)
        assert w1 == w2 and abs(own / w1 - 3.0) < 1e-9
        assert _split(1000, [own, w1, w2]) == [0, 600, 800, 1000]
