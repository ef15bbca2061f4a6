"""The extract job: stream a file through the table API into an atomically written output + manifest."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from . import __version__
from .io import DEFAULT_BATCH, BatchWriter, InputError, TextEncoding, atomic_output, detect_format, read_batches
from .keys import Keyset
from .manifest import manifest_path, sha256_file, sign
from .policy import Policy
from .table import TableReport, check_columns, crypto_for, transform_column


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
    sign_key: Any = None,
    progress: Callable[[int, int | None], None] | None = None,
    overwrite: bool = False,
) -> JobResult:
    """Tokenize (or detokenize) INPUT into OUTPUT; OUTPUT and its manifest appear only on success."""
    input_path, output_path = Path(input_path), Path(output_path)
    if input_path.resolve() == output_path.resolve():
        raise InputError("the output path is the input path; write the delivery to a new file")
    if output_path.exists() and not overwrite:
        raise InputError(f"{output_path} already exists; choose another path or pass --force")
    policy = Policy.load(policy)
    start = time.perf_counter()
    batches, info = read_batches(input_path, input_format, encoding=encoding, batch_size=batch_size)
    out_fmt = detect_format(output_path, output_format) if output_format or output_path.suffix else info["format"]
    if output_encoding:
        from .io import detect_encoding

        out_enc = detect_encoding(input_path, output_encoding)
    else:
        out_enc = info.get("encoding") or TextEncoding("utf-8")
    crypto = crypto_for(policy, keyset)
    report = TableReport(crypto.key_name, crypto.version, crypto.algorithm)
    rows = 0
    with atomic_output(output_path) as fh:
        writer = BatchWriter(fh, out_fmt, out_enc if out_fmt in ("csv", "tsv") else None)
        first = True
        for batch in batches:
            if first:
                check_columns(policy, batch.schema.names)
                first = False
            table = pa.Table.from_batches([batch])
            local = TableReport(crypto.key_name, crypto.version, crypto.algorithm, batch.num_rows)
            for name, spec in policy.columns.items():
                i = table.column_names.index(name)
                col = table.column(i).combine_chunks()
                new, col_rep = transform_column(col, spec, crypto, detokenize, row_offset=rows)
                local.columns[name] = col_rep
                table = table.set_column(i, pa.field(name, new.type), new)
            report.add(local)
            for out_batch in table.to_batches():
                writer.write(out_batch)
            rows += batch.num_rows
            if progress:
                progress(rows, info.get("rows"))
        if first:  # empty input: still check the policy against the header we could read
            schema = info.get("schema")
            if schema is not None:
                check_columns(policy, schema.names)
        writer.close()
        fh.flush()
    seconds = time.perf_counter() - start
    manifest = {
        "tool": "tokenize-kit",
        "tool_version": __version__,
        "operation": "detokenize" if detokenize else "tokenize",
        "policy": {"sha256": policy.sha256, "columns": policy.to_dict()["columns"]},
        "key": {"name": crypto.key_name, "version": crypto.version,
                "fingerprint": keyset.fingerprint(crypto.key_name, crypto.version)},
        "algorithm": crypto.algorithm,
        "input": {"name": input_path.name, "sha256": sha256_file(input_path), "format": info["format"]},
        "output": {"name": output_path.name, "sha256": sha256_file(output_path), "format": out_fmt,
                   "encoding": out_enc.label if out_fmt in ("csv", "tsv") else None},
        "rows": rows,
        "columns": {k: vars(v) for k, v in report.columns.items()},
        "seconds": round(seconds, 3),
        "python": sys.version.split()[0],
    }
    if sign_key is not None:
        manifest = sign(manifest, sign_key)
    try:
        from .io import write_json_atomic

        write_json_atomic(manifest_path(output_path), manifest)
    except BaseException:
        output_path.unlink(missing_ok=True)  # no delivery without its manifest
        raise
    return JobResult(rows, seconds, report, manifest)
