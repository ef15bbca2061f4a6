"""Worker processes for the parts of a batch that hold free text, and for the delivery gate's slices.

Finding PII in notes runs thousands of small numpy and Arrow steps per batch with Python between them, so it
holds the GIL most of the time: two threads on two halves of the notes take about as long as one thread on all
of them.  The pipeline can therefore split such a batch between its own process and worker processes
(``processes=``).

What a worker gets: the policy and a :class:`~tokenize_kit.derived_keys.DerivedKeyset` (the subkeys this
policy's types declare, never the master key), through its standard input, never written anywhere; then, per
task, its part of the batch as an Arrow IPC stream.  It answers with
:func:`~tokenize_kit.table.transform_table`'s result, so the tokens are those of the same call in the job's own
process.  A part that fails in a worker (any error, a worker that died) is done again in the job's process,
which raises the error with its column and row.

Workers are started as ``python -m tokenize_kit.text_workers`` (not through :mod:`multiprocessing`, whose
``spawn`` would run the caller's main script again and whose ``fork`` copies a process with running threads),
with their standard error discarded (a crash report could quote data), and ignore SIGINT (an interrupt is
handled once, by the job).  They end when the job closes their input; nothing is left running.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from .derived_keys import DerivedKeyset
from .policy import Policy
from .table import ColumnReport, crypto_for, transform_table

Result = dict[str, tuple[pa.Array | None, ColumnReport | None]]
_LEN = struct.Struct("<Q")


def has_text(policy: Policy) -> bool:
    """Whether the policy has a free-text column (or a free-text path inside a nested column).

    >>> has_text(Policy.from_dict({"columns": {"note": {"type": "free_text"}}}))
    True
    >>> has_text(Policy.from_dict({"columns": {"id": {"type": "eg_national_id"}}}))
    False
    """
    return any(spec.type == "free_text" for spec in policy.columns.values())


def _send(fh: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_LEN.pack(len(data)))
    fh.write(data)
    fh.flush()


def _receive(fh: IO[bytes]) -> Any:
    head = fh.read(_LEN.size)
    if len(head) < _LEN.size:
        raise EOFError
    size = _LEN.unpack(head)[0]
    data = fh.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)  # (from our own worker or our own job, through a pipe only the two hold)


def _ipc(table: pa.Table) -> bytes:
    """The table as one Arrow IPC stream (a slice's rows only, not its parent's buffers, as pickling would).

    >>> part = pa.table({"note": ["x" * 1000] * 100}).slice(0, 1)
    >>> stream = _ipc(part)
    >>> len(stream) < 2000, pa.ipc.open_stream(stream).read_all().equals(part)
    (True, True)
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, job: tuple[Policy, DerivedKeyset, bool]) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen([sys.executable, "-m", "tokenize_kit.text_workers"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        _send(self.stdin, job)

    def run(self, task: tuple[Any, ...]) -> Any:
        _send(self.stdin, task)
        status, value = _receive(self.stdout)
        if status != "ok":
            raise WorkerError(f"a worker process could not do its part ({value})")
        return value

    def close(self) -> None:
        try:
            self.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stdout.close()


class Pace:
    """Seconds per row of one kind of participant (the job's own thread, or its workers), from the parts they
    did, so a batch can be split in proportion to how fast each does its share.  Each participant's first part
    is left out: it pays for loading (a worker's imports, the keyed tables built on first use).

    >>> pace = Pace()
    >>> pace.add(1000, 9.0, "a"); pace.rate() is None
    True
    >>> pace.add(1000, 0.5, "a"); pace.add(1000, 0.25, "a"); round(pace.rate())
    2353
    """

    def __init__(self, weight: float = 0.3) -> None:
        self._weight = weight
        self._seconds_per_row: float | None = None
        self._seen: set[int] = set()
        self._lock = threading.Lock()

    def add(self, rows: int, seconds: float, who: object) -> None:
        """A part of ``rows`` rows took ``seconds`` (``who``: which participant did it)."""
        with self._lock:
            if id(who) not in self._seen:
                self._seen.add(id(who))
                return
            if rows <= 0 or seconds <= 0:
                return
            x, old = seconds / rows, self._seconds_per_row
            self._seconds_per_row = x if old is None else old + self._weight * (x - old)

    def rate(self) -> float | None:
        """Rows per second (None before a part other than a first one was timed)."""
        s = self._seconds_per_row
        return None if s is None else 1.0 / s


class WorkerError(RuntimeError):
    """A worker could not do its part (the job then does it itself and raises the real error, if any)."""


class _Workers:
    """Up to ``processes`` worker processes, each given ``job`` (what :func:`_serve` reads first) and then tasks;
    started on first use, stopped by :meth:`close`."""

    def __init__(self, processes: int, job: tuple[Any, ...]) -> None:
        self._job = job
        self.processes = processes
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._threads: ThreadPoolExecutor | None = None
        #: how fast the workers do their parts (see :class:`Pace`)
        self.pace = Pace()

    @property
    def started(self) -> bool:
        return self._threads is not None

    def start(self) -> None:
        """Start the workers now (they load while the job does other work)."""
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(max_workers=self.processes,
                                                   thread_name_prefix="tokenize-kit-text")
                for _ in range(self.processes):
                    worker = _Worker(self._job)
                    self._all.append(worker)
                    self._idle.put(worker)

    def _submit(self, task: tuple[Any, ...], rows: int) -> Future:
        self.start()
        assert self._threads is not None
        return self._threads.submit(self._run, task, rows)

    def _run(self, task: tuple[Any, ...], rows: int = 0) -> Any:
        worker = self._idle.get()
        try:
            start = time.perf_counter()
            result = worker.run(task)
            self.pace.add(rows, time.perf_counter() - start, worker)
            return result
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        with self._lock:
            if self._threads is not None:
                self._threads.shutdown(wait=True, cancel_futures=True)
                self._threads = None
            for worker in self._all:
                worker.close()
            self._all.clear()


#: a note that makes a worker load every table the finders use, before its first part arrives
_WARM_NOTE = ("العميل محمد أحمد السيد يسكن في 12 شارع التحرير، الدقي، الجيزة، ت 01012345678، الرقم القومي "
              "29801010123456، customer Mr Ahmed Ali lives at 5 King Fahd Road, Riyadh, a@b.com "
              "SA0380000000608010167519")


def _warm(policy: Policy, crypto: Any, detokenize: bool) -> None:
    names = [n for n, spec in policy.columns.items() if spec.type == "free_text" and "." not in n and "[" not in n]
    if names:
        transform_table(pa.table({n: [_WARM_NOTE] for n in names}), policy, crypto, detokenize, 0)


class TextWorkers(_Workers):
    """Worker processes that run :func:`~tokenize_kit.table.transform_table` on table parts.  ``keys``: the
    job's own derived keys (its run secret for irreversible date shifts is then the one the job's process uses
    too)."""

    def __init__(self, processes: int, policy: Policy, keys: DerivedKeyset, detokenize: bool) -> None:
        super().__init__(processes, ("transform", policy, keys, detokenize))

    def submit(self, table: pa.Table, row_offset: int) -> Future:
        """:func:`~tokenize_kit.table.transform_table` of ``table`` in a worker (a :data:`Result`)."""
        return self._submit((_ipc(table), row_offset), table.num_rows)


class GateWorkers(_Workers):
    """Worker processes for ``scan --against``: each compares aligned slices of the input and the output
    (:func:`~tokenize_kit.scan.compare`) and scans the output slice's other columns
    (:func:`~tokenize_kit.scan.scan_batch`).  They get the policy only: the gate uses no key."""

    def __init__(self, processes: int, policy: Policy, covered: list[str]) -> None:
        super().__init__(processes, ("gate", policy, covered))

    def submit_compare(self, raw: pa.Table, out: pa.Table, row_offset: int) -> Future:
        """``(ScanResult of the slice, Comparison)`` of one aligned slice, in a worker."""
        return self._submit((_ipc(raw), _ipc(out), row_offset), out.num_rows)


def gate_part(raw: pa.Table, out: pa.Table, policy: Policy, covered: list[str], row_offset: int) -> tuple[Any, Any]:
    """What the gate learns from one aligned slice: the output slice's scan (rows counted from ``row_offset``)
    and its :class:`~tokenize_kit.scan.Comparison` with the input slice (rows counted from the slice)."""
    from .scan import ScanResult, compare, release_freed, scan_batch

    part = ScanResult()
    scan_batch(out, part, covered, row_offset)
    c = compare(raw, out, policy)
    release_freed()
    return part, c


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """A worker's loop: the job, then parts until the job closes the pipe."""
    job = _receive(stdin)
    work: Callable[[tuple[Any, ...]], Any]
    if job[0] == "gate":
        _, policy, covered = job

        def work(task: tuple[Any, ...]) -> Any:
            raw, out, row_offset = task
            return gate_part(_table(raw), _table(out), policy, covered, row_offset)
    else:
        _, policy, keys, detokenize = job
        crypto = crypto_for(policy, keys)
        try:
            _warm(policy, crypto, detokenize)
        except Exception:  # (only a head start: the first part loads what this did not)
            pass

        def work(task: tuple[Any, ...]) -> Any:
            stream, row_offset = task
            return transform_table(_table(stream), policy, crypto, detokenize, row_offset)
    while True:
        try:
            task = _receive(stdin)
        except EOFError:
            return
        try:
            answer: tuple[str, Any] = ("ok", work(task))
        except Exception as exc:  # the job does the part again and raises the error with its column and row
            answer = ("error", type(exc).__name__)
        _send(stdout, answer)


def _table(stream: bytes) -> pa.Table:
    return pa.ipc.open_stream(stream).read_all()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # (anything a library prints goes where standard error goes, not into the answers)
    _serve(sys.stdin.buffer, answers)
