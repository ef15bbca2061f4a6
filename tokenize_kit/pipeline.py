"""The extract job: stream a file through the table API into an atomically written output + manifest."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyarrow as pa

from . import __version__
from .commit import CommitSet
from .derived_keys import DerivedKeyset
from .io import (
    DEFAULT_BATCH,
    DEFAULT_BATCH_BYTES,
    STDIO,
    BatchWriter,
    InputError,
    SpooledOutput,
    TextEncoding,
    detect_format,
    input_file,
    is_gzip,
    read_batches,
)
from .io import (
    output_encoding as as_output_encoding,
)
from .keys import Keyset
from .limits import Limits
from .manifest import manifest_path, sha256_file, sign
from .parallel import resolve_threads, worker_pool
from .policy import Policy
from .risk import RiskGate
from .table import ColumnReport, TableReport, check_columns, crypto_for, transform_table
from .text_workers import Pace, TextWorkers, has_text
from .utf8 import group_bytes


@dataclass
class JobResult:
    rows: int
    seconds: float
    report: TableReport
    manifest: dict[str, Any] = field(default_factory=dict)


def run(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    policy: Policy | str | os.PathLike[str] | dict,
    keyset: Keyset,
    *,
    detokenize: bool = False,
    input_format: str | None = None,
    output_format: str | None = None,
    encoding: str | None = None,
    output_encoding: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    batch_bytes: int | None = DEFAULT_BATCH_BYTES,
    sign_key: Any = None,
    progress: Callable[[int, int | None], None] | None = None,
    overwrite: bool = False,
    manifest_file: str | os.PathLike[str] | None = None,
    delimiter: str | None = None,
    limits: Limits | None = None,
    threads: int | None = None,
    processes: int = 1,
    max_risk: int | None = None,
    quasi: Sequence[str] = (),
) -> JobResult:
    """Tokenize (or detokenize) INPUT into OUTPUT; OUTPUT and its manifest appear only on success.

    A batch is at most ``batch_size`` rows and about ``batch_bytes`` bytes of input (the memory a batch takes
    follows its bytes: wide rows of text make smaller batches; see :data:`~tokenize_kit.io.DEFAULT_BATCH_BYTES`;
    ``None``: rows only).  Each batch's rows are split over ``threads`` worker threads (``None``: one per CPU),
    which exist for the duration of the call.  ``processes`` > 1: a job with free text and more than one batch
    runs its batches in that many processes in all, this one and ``processes - 1`` worker processes
    (:mod:`~tokenize_kit.text_workers`: finding PII in notes holds the GIL, so threads do not run it side by
    side), each batch split in proportion to how fast each has been; a worker takes memory of its own (about
    350 MB).
    ``-`` reads standard input or writes standard output (which then needs ``manifest_file``, the manifest's
    path: it cannot sit beside standard output; what goes to standard output is written only once the job
    succeeded).  ``max_risk``: refuse (:class:`~tokenize_kit.risk.RiskRefused`, nothing
    written) unless the delivery is ``max_risk``-anonymous over the policy's quasi-identifiers plus ``quasi``; a
    policy's ``suppress:`` reads the input's quasi-identifier columns once ahead (see
    :class:`~tokenize_kit.risk.RiskGate`).
    """
    from_stdin, to_stdout = str(input_path) == STDIO, str(output_path) == STDIO
    input_path, output_path = Path(input_path), Path(output_path)
    if to_stdout and manifest_file is None:
        raise InputError("OUTPUT - (standard output) needs --manifest PATH: the manifest cannot sit beside "
                         "standard output")
    manifest_out = Path(manifest_file) if manifest_file is not None else manifest_path(output_path)
    if not (from_stdin or to_stdout) and input_path.resolve() == output_path.resolve():
        raise InputError("the output path is the input path; write the delivery to a new file")
    for target in ((manifest_out,) if to_stdout else (output_path, manifest_out)):
        if target.is_dir():
            raise InputError(f"{target} is a folder; give a file name")
        if not target.parent.is_dir():  # (a bare file name's parent is ".")
            raise InputError(f"the folder {target.parent} of {target} does not exist; create it first")
    for target in ((manifest_out,) if to_stdout else (output_path, manifest_out)):
        if os.path.lexists(target) and not overwrite:  # (checked again when the files are placed: a race is caught)
            raise InputError(f"{target} already exists; choose another path or pass --force to replace it")
    policy = Policy.load(policy)
    gate = None if detokenize else RiskGate.for_job(policy, quasi, max_risk)
    if gate is not None:
        gate.prepare(lambda: read_batches(input_path, input_format, encoding=encoding, batch_size=batch_size,
                                          columns=gate.columns)[0])
    threads = resolve_threads(threads)
    start = time.perf_counter()
    input_data = input_file(input_path)  # (standard input: copied once to an anonymous temporary file)
    batches, info = read_batches(input_path, input_format, encoding=encoding, batch_size=batch_size,
                                 delimiter=delimiter, limits=limits, batch_bytes=batch_bytes)
    named = output_format or (output_path.suffix and not to_stdout)
    out_fmt = detect_format(output_path, output_format) if named else info["format"]
    out_enc = info.get("encoding") or TextEncoding("utf-8")
    if output_encoding:
        out_enc = as_output_encoding(output_encoding, out_enc)
    # a job with free text runs its batches' parts in worker processes (text_workers), which get the policy's
    # derived subkeys; the job's own process then uses the same keys (one run secret for irreversible shifts)
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError("processes must be a positive integer")
    keys = DerivedKeyset.for_policy(keyset, policy) if processes > 1 and has_text(policy) else None
    crypto = crypto_for(policy, keys or keyset)
    report = TableReport(crypto.key_name, crypto.version, crypto.algorithm, derivation=crypto.derivation)
    rows = 0
    input_hash = _Background(sha256_file, input_data)  # read once more, on the other core, while we work
    spool = SpooledOutput() if to_stdout else None
    # OUTPUT and its manifest are one commit: nothing of either appears unless both are complete
    targets = [manifest_out] if to_stdout else [output_path, manifest_out]
    # (this process does a share of every split batch: ``processes`` in all is this one and processes - 1 workers)
    workers = TextWorkers(processes - 1, policy, keys, detokenize) if keys is not None else None
    with CommitSet(targets, overwrite=overwrite) as commit:
        with spool or nullcontext(commit.open(output_path)) as fh, _Lanes(threads, workers) as pool:
            hashing = out_fmt in ("csv", "tsv", "jsonl")  # written by us, sequentially: hash as we write
            hasher = _HashingFile(fh) if hashing else None
            sink = cast(BinaryIO, hasher) if hasher is not None else fh
            writer = BatchWriter(sink, out_fmt, out_enc if out_fmt in ("csv", "tsv") else None,
                                 compress=not to_stdout and output_path.name.lower().endswith(".gz"),
                                 sheet=info.get("sheet"))
            # the writer formats and writes batch i while batch i+1 is transformed (Arrow and numpy release the GIL)
            with _WriterThread(writer) as write:

                def finish(job: _BatchJob) -> None:
                    """Collect a batch's columns (raising its error, if any), count them, hand the batch to the
                    writer."""
                    table = job.table
                    local = TableReport(crypto.key_name, crypto.version, crypto.algorithm, table.num_rows,
                                        derivation=crypto.derivation)
                    for name, (new, col_rep) in job.result().items():
                        if col_rep is not None:
                            local.columns[name] = col_rep
                        if new is not None:  # (a path into a nested column has counts, its column is the root's)
                            i = table.column_names.index(name)
                            table = table.set_column(i, pa.field(name, new.type), new)
                    if gate is not None:
                        table = gate.apply(job.table, table, job.row_offset)
                    report.add(local)
                    for out_batch in table.to_batches() or [pa.RecordBatch.from_pylist([], schema=table.schema)]:
                        write(out_batch)  # (a header-only input: one empty batch, so the output has its header)
                    del table
                    # Arrow's pool keeps freed pages for reuse; hand them back so the peak stays flat over the file
                    pa.default_memory_pool().release_unused()
                    if progress:
                        progress(job.row_offset + job.table.num_rows, info.get("rows") or total_hint)

                first = True
                total_hint: int | None = None  # a CSV's row count, estimated for the progress line's ETA
                pending: _BatchJob | None = None
                # a batch is transformed by the worker threads while the next one is read and parsed here
                source = iter(batches)
                while True:
                    try:
                        batch = next(source)
                    except StopIteration:
                        break
                    except BaseException:
                        if pending is not None:  # the earlier batch's own error comes first, as in reading order
                            finish(pending)
                        raise
                    if first:
                        check_columns(policy, batch.schema.names)
                        if gate is not None:
                            gate.check(batch.schema.names)
                        first = False
                        if progress and info["format"] in ("csv", "tsv"):
                            total_hint = estimated_rows(input_data, batch)
                    if pool.processes is not None and not pool.processes.started and _more_than_one_batch(
                            input_data, batch, rows, batch_bytes):
                        # this batch goes to them too: a worker is ready in well under a second, while this
                        # process doing the batch itself would hold one core for its whole length and leave the
                        # loading workers the other
                        pool.processes.start()
                    job = _BatchJob(pa.Table.from_batches([batch]), policy, crypto, detokenize, rows, pool, threads)
                    rows += batch.num_rows
                    del batch
                    if pending is not None:
                        finish(pending)
                    pending = job
                if pending is not None:
                    finish(pending)
                    pending = None
                if first:  # empty input: still check the policy against the header we could read
                    schema = info.get("schema")
                    if schema is not None:
                        check_columns(policy, schema.names)
            risk = gate.finish() if gate is not None else None  # (a refusal here leaves no OUTPUT)
            writer.close()
            fh.flush()
        output_sha256 = (hasher.hexdigest() if hasher is not None
                         else sha256_file(spool.path if spool else commit.partial(output_path)))
        seconds = time.perf_counter() - start
        manifest = {
            "tool": "tokenize-kit",
            "tool_version": __version__,
            "operation": "detokenize" if detokenize else "tokenize",
            "policy": {"sha256": policy.sha256, "columns": policy.to_dict()["columns"]},
            "key": {"name": crypto.key_name, "version": crypto.version,
                    "fingerprint": keyset.fingerprint(crypto.key_name, crypto.version),
                    "derivation": crypto.derivation},
            "algorithm": crypto.algorithm,
            "input": {"name": "<stdin>" if from_stdin else input_path.name, "sha256": input_hash.result(),
                      "format": info["format"]},
            "output": {"name": "<stdout>" if to_stdout else output_path.name, "sha256": output_sha256,
                       "format": out_fmt, "encoding": out_enc.label if out_fmt in ("csv", "tsv") else None},
            "rows": rows,
            "columns": {k: vars(v) for k, v in report.columns.items()},
            "seconds": round(seconds, 3),
            **({"risk": risk} if risk is not None else {}),
            "python": sys.version.split()[0],
        }
        if sign_key is not None:
            manifest = sign(manifest, sign_key)
        # the manifest is written and fsynced as a partial file too; both are placed together (manifest first)
        commit.write_bytes(manifest_out, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        commit.commit()
    if spool is not None:
        try:
            spool.commit()  # the output reaches standard output only now, after its manifest
        except BaseException:
            manifest_out.unlink(missing_ok=True)  # it describes bytes that did not all arrive
            raise
    return JobResult(rows, seconds, report, manifest)


def estimated_rows(path: Path, first_batch: pa.RecordBatch) -> int | None:
    """About how many rows an uncompressed CSV/TSV holds, from its size and the first batch's bytes per row
    (the cells' text plus one delimiter or newline each; quotes and a CRLF make it a slight overestimate of the
    bytes, so an underestimate of the rows).  Only the progress line's % and ETA use it."""
    if is_gzip(path) or not first_batch.num_rows:
        return None
    text = sum(len(group_bytes(c)) for c in first_batch.columns if pa.types.is_string(c.type))
    per_row = (text + first_batch.num_columns) / first_batch.num_rows
    return max(first_batch.num_rows, int(path.stat().st_size / per_row))


class _HashingFile:
    """A binary file wrapper that SHA-256-hashes what is written through it."""

    #: flush written data to disk every this many bytes, in the writer thread, so the final fsync of the
    #: delivery has little left to do (the disk works while the next batches are computed)
    SYNC_EVERY = 32 << 20

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self._hash = hashlib.sha256()
        self._unsynced = 0

    def write(self, data: Any) -> int:
        self._hash.update(data)
        n = self._fh.write(data)
        self._unsynced += len(memoryview(data).cast("B"))
        if self._unsynced >= self.SYNC_EVERY:
            self._unsynced = 0
            self._fh.flush()
            try:
                os.fdatasync(self._fh.fileno())
            except (AttributeError, OSError):  # not a real file, or no fdatasync here: the final fsync does it
                pass
        return n

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


class _Background:
    """``fn(*args)`` in a daemon thread; :meth:`result` waits for it (and re-raises its error)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, *args), name="tokenize-kit-hash", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            self._result = fn(*args)
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


class _WriterThread:
    """Writes batches through ``writer`` in a worker thread, in order, at most ``depth`` batches behind.

    Used as a context manager that returns the ``write`` function; on leaving, waits until everything is
    written and re-raises the worker's error, if any (an error in the caller stops the worker)."""

    _DONE = object()

    def __init__(self, writer: BatchWriter, depth: int = 1) -> None:
        self._writer = writer
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tokenize-kit-writer", daemon=True)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._DONE or self._stop.is_set():
                return
            try:
                self._writer.write(item)
            except BaseException as exc:  # handed to the producer
                self._error = exc
                self._stop.set()
                return

    def write(self, batch: pa.RecordBatch) -> None:
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue

    def __enter__(self) -> Callable[[pa.RecordBatch], None]:
        self._thread.start()
        return self.write

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.put(self._DONE, timeout=0.1)
                break
            except queue.Full:
                continue
        self._thread.join()
        if exc_type is None and self._error is not None:
            raise self._error


def _more_than_one_batch(input_data: Path, batch: pa.RecordBatch, rows_before: int, batch_bytes: int | None
                         ) -> bool:
    """Whether the job will read more than this first batch: worth starting worker processes for (each takes
    about a second to load).  Judged from the input file's size on disk against the batch size in bytes."""
    try:
        size = input_data.stat().st_size
    except OSError:
        return False
    return rows_before == 0 and size > 2 * (batch_bytes or DEFAULT_BATCH_BYTES)


#: below this many rows per thread a batch is not split
MIN_SPLIT_ROWS = 16_384
#: the same for a job with free text: a note costs about as much as a hundred IDs, so smaller parts still pay
#: for being sent to a worker process
MIN_SPLIT_TEXT_ROWS = 1_024


class _Lanes:
    """The worker threads of a job, one single-thread executor each ("lane"): part ``k`` of every batch runs on
    lane ``k``, a batch that is not split on lane 0.  A batch's arrays are then allocated and freed by the same
    threads batch after batch, so the memory the C allocator keeps for a thread after one batch is what that
    thread reuses for the next (with a shared pool, a batch could land on either thread and both would keep the
    memory of a whole batch)."""

    def __init__(self, threads: int, processes: TextWorkers | None = None) -> None:
        self._pools = [worker_pool(1, f"rows{k}") for k in range(max(1, threads))]
        #: the worker processes for the parts of a split batch, when the job has free text (see text_workers)
        self.processes = processes
        #: how fast this process does its own part of a batch split with the workers
        self.pace = Pace()
        self._split_before = False

    def submit(self, lane: int, fn: Callable[..., Any], *args: Any) -> Future:
        return self._pools[lane].submit(fn, *args)

    def shares(self, workers: int) -> list[float]:
        """The shares of a batch split between this process and ``workers`` worker processes: by their paces
        once timed; until then equal, except the very first split, which leaves the workers a third of a share
        each (they are still loading)."""
        assert self.processes is not None
        own, theirs = self.pace.rate(), self.processes.pace.rate()
        if own is None or theirs is None:
            first, self._split_before = not self._split_before, True
            return [1.0] + [1 / 3 if first else 1.0] * workers
        return [own] + [theirs] * workers

    def __enter__(self) -> _Lanes:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            for pool in self._pools:
                pool.shutdown(wait=True)
        finally:
            if self.processes is not None:
                self.processes.close()


def _split(n: int, shares: Sequence[float]) -> list[int]:
    """Row bounds of ``n`` rows cut in proportion to ``shares`` (every part at least one row, ``n`` >= parts).

    >>> _split(100, [1.0, 1.0]), _split(100, [3.0, 1.0]), _split(3, [1.0, 1e-9, 1e-9])
    ([0, 50, 100], [0, 75, 100], [0, 1, 2, 3])
    """
    total = sum(shares)
    bounds = [0]
    acc = 0.0
    for k, share in enumerate(shares[:-1]):
        acc += share
        left = len(shares) - 1 - k  # (parts after this one, each needing a row)
        bounds.append(min(max(round(n * acc / total), bounds[-1] + 1), n - left))
    bounds.append(n)
    return bounds


def _timed(pace: Pace, fn: Callable[..., Any], table: pa.Table, *args: Any) -> Any:
    """``fn(table, *args)``, its time per row added to ``pace`` (the first time: left out, see :class:`Pace`)."""
    start = time.perf_counter()
    out = fn(table, *args)
    pace.add(table.num_rows, time.perf_counter() - start, pace)  # (one participant: this process)
    return out


class _BatchJob:
    """The policy columns of one batch, started in the worker threads; :meth:`result` waits for them.

    The rows are split into one contiguous part per thread and the parts run side by side (most of the work is in
    Arrow, numpy and OpenSSL, which release the GIL); each part's memory is that of a smaller batch.  Tokens depend
    on the value only, so the parts give the same tokens and counts as the whole batch.  If any part fails, or the
    parts disagree on a column's output type (integer columns), the batch is done again as a whole, so errors and
    types are exactly those of the whole batch."""

    def __init__(self, table: pa.Table, policy: Policy, crypto: Any, detokenize: bool, row_offset: int,
                 pool: _Lanes, threads: int) -> None:
        self.table, self.policy, self.crypto, self.detokenize, self.row_offset = (
            table, policy, crypto, detokenize, row_offset)
        n = table.num_rows
        procs = pool.processes if pool.processes is not None and pool.processes.started else None
        if procs is not None and n >= 2 * MIN_SPLIT_TEXT_ROWS:
            # the first part is this process's own (on lane 0), the others go to the workers, each in
            # proportion to its pace
            bounds = _split(n, pool.shares(min(procs.processes, n // MIN_SPLIT_TEXT_ROWS - 1)))
            lo, hi = bounds[0], bounds[1]
            self.futures = [pool.submit(0, _timed, pool.pace, transform_table, table.slice(lo, hi - lo), policy,
                                        crypto, detokenize, row_offset + lo)]
            self.futures += [procs.submit(table.slice(lo, hi - lo), row_offset + lo)
                             for lo, hi in itertools.pairwise(bounds[1:])]
            return
        parts = max(1, min(threads, n // MIN_SPLIT_ROWS))
        bounds = [n * k // parts for k in range(parts + 1)]
        self.futures = [
            pool.submit(lane, transform_table, table.slice(lo, hi - lo), policy, crypto, detokenize, row_offset + lo)
            for lane, (lo, hi) in enumerate(itertools.pairwise(bounds))
        ] if threads > 1 else []

    def _whole(self) -> dict[str, tuple[pa.Array | None, ColumnReport | None]]:
        return transform_table(self.table, self.policy, self.crypto, self.detokenize, self.row_offset)

    def result(self) -> dict[str, tuple[pa.Array | None, ColumnReport | None]]:
        if not self.futures:
            return self._whole()
        futures, self.futures = self.futures, []
        wait(futures)  # (an interrupt while waiting propagates from here)
        if any(f.exception() is not None for f in futures):
            return self._whole()  # raises the whole batch's error
        results = [f.result() for f in futures]
        if len(results) == 1:
            return results[0]
        out: dict[str, tuple[pa.Array | None, ColumnReport | None]] = {}
        whole: dict[str, tuple[pa.Array | None, ColumnReport | None]] | None = None
        for name, (first_array, first_rep) in results[0].items():
            arrays = [r[name][0] for r in results]
            if first_array is not None and any(a is None or a.type != first_array.type for a in arrays):
                whole = whole or self._whole()
                out[name] = whole[name]
                continue
            rep = None
            if first_rep is not None:
                rep = ColumnReport(first_rep.method, first_rep.type)
                for r in results:
                    part = r[name][1]
                    if part is not None:
                        rep.add(part)
            out[name] = (pa.concat_arrays(arrays) if first_array is not None else None, rep)
        return out
