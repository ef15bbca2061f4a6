"""``tokenize-kit generate`` and ``tokenize-kit schemas``: synthetic datasets for contractors and QA."""

from __future__ import annotations

import time
from pathlib import Path

import click

FORMATS = ["parquet", "csv", "jsonl", "tsv", "xlsx"]


class _Refused(click.ClickException):
    """An output file that exists (without --force), or the folder cannot be written: exit 2."""

    exit_code = 2


@click.command()
@click.argument("dataset", required=False)
@click.argument("output_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--rows", type=click.IntRange(0),
              help="Rows of the main table (default 10,000; 200,000 with --report); the other tables follow "
                   "realistic ratios.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, byte-identical files.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="parquet", show_default=True)
@click.option("--tables", help="Comma-separated subset of the dataset's tables (default: all).")
@click.option("--dirty", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of PII cells to corrupt the way real extracts are (Arabic-Indic digits, lost "
                   "leading zeros, N/A, Excel scientific notation ...); _truth.csv lists each one.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--report", is_flag=True,
              help="Write nothing: generate in memory and print the realism table (each property against the "
                   "published figure, its tolerance and source) for DATASET, or both built-in datasets; exit 1 "
                   "if a check fails.")
@click.option("--force", is_flag=True, help="Replace table files that exist in OUTPUT_DIR (refused otherwise).")
def generate(dataset: str | None, output_dir: Path | None, rows: int | None, seed: int, fmt: str,
             tables: str | None, dirty: float, quiet: bool, report: bool, force: bool) -> None:
    """Generate a synthetic DATASET into OUTPUT_DIR (one file per table).

    DATASET is a built-in name (see `tokenize-kit schemas list`) or the path of your own schema YAML.

    \b
    Built-in datasets:
      eg-consumer-finance  customers, loans, instalments, collection_assignments
      sa-water-utility     customers, meters, bills, service_requests

    Existing files are never replaced without --force; the tables appear together when all are written.

    Every national ID and phone number is valid, names match the ID's gender, cities lie in their
    governorate/region, foreign keys resolve and dates are in order. The same seed always gives the
    same bytes, and --rows 1000 is the first 1,000 customers (with their loans ...) of --rows 1000000.

    \b
    Examples:
      tokenize-kit generate eg-consumer-finance fixtures/ --rows 100000 --seed 7 --format csv
      tokenize-kit generate sa-water-utility qa/ --rows 5000 --dirty 0.05 --tables customers,service_requests
      tokenize-kit generate --report                  # realism table, 200,000 customers per dataset
    """
    from generators import SchemaError, generate_dataset, load

    if report:
        _report(dataset, output_dir, 200_000 if rows is None else rows, seed)
        return
    if dataset is None or output_dir is None:
        raise click.UsageError(f"Missing argument '{'DATASET' if dataset is None else 'OUTPUT_DIR'}'.")
    rows = 10_000 if rows is None else rows

    from .progress import progress_line

    try:
        schema = load(dataset)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    wanted = [t.strip() for t in tables.split(",")] if tables else None
    update, finish = progress_line(quiet, f"generate {schema.name}")
    start = time.perf_counter()
    done: dict[str, int] = {}
    root = schema.root

    def progress(table: str, n: int) -> None:
        done[table] = done.get(table, 0) + n
        if update and table == (wanted or [root])[0]:
            update(done[table], rows if table == root else None)

    from tokenize_kit.io import InputError

    try:
        written = generate_dataset(schema, output_dir, rows, seed, fmt, wanted, progress, dirty=dirty,
                                   overwrite=force)
    except InputError as exc:  # (a file that exists, a full disk, a read-only folder: nothing was written)
        finish()
        raise _Refused(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finish()
    secs = time.perf_counter() - start
    for table, path in written.items():
        click.echo(f"{table}: {done.get(table, 0):,} rows -> {path}")
    if dirty:
        click.echo(f"defects injected: {output_dir / '_truth.csv'}")
    total = sum(done.values())
    click.echo(f"{total:,} rows in {secs:.2f}s ({total / max(secs, 1e-9):,.0f} rows/s)", err=True)


def _report(dataset: str | None, output_dir: Path | None, rows: int, seed: int) -> None:
    """Print the realism table (:mod:`generators.realism`); fail if any check is outside its tolerance."""
    from generators import realism

    if output_dir is not None:
        raise click.UsageError("--report writes nothing: drop OUTPUT_DIR")
    if rows < 1:
        raise click.UsageError("--report needs --rows >= 1")
    if dataset is not None and dataset not in realism.CHECKS:
        raise click.UsageError(f"no realism checks for {dataset!r}; built-in datasets: {', '.join(realism.CHECKS)}")
    checks = []
    for name in [dataset] if dataset else list(realism.CHECKS):
        start = time.perf_counter()
        checks += realism.CHECKS[name](rows, seed)
        click.echo(f"{name}: {rows:,} customers generated and checked in {time.perf_counter() - start:.1f}s",
                   err=True)
    for line in realism.format_table(checks):
        click.echo(line)
    failed = sum(not c.ok for c in checks)
    click.echo(f"{len(checks) - failed} of {len(checks)} checks pass")
    if rows < 200_000:
        click.echo("tolerances are set for 200,000 customers: fewer rows add sampling noise to the shares", err=True)
    if failed:
        from tokenize_kit.cli import Finding

        raise Finding(f"{failed} of {len(checks)} realism checks fail (marked FAIL above)")


@click.group()
def schemas() -> None:
    """List, show and validate dataset schemas (the YAML files that define datasets)."""


@schemas.command("list")
def schemas_list() -> None:
    """The built-in datasets with their tables."""
    from generators import builtin_names, load

    for name in builtin_names():
        s = load(name)
        click.echo(f"{name}: {', '.join(s.tables)}")


@schemas.command("show")
@click.argument("dataset")
@click.option("--yaml", "as_yaml", is_flag=True, help="Print the schema file itself (a starting point for your own).")
def schemas_show(dataset: str, as_yaml: bool) -> None:
    """Tables, columns and how each column is generated."""
    from generators import SchemaError, load
    from generators.schema import builtin_names, builtin_path

    try:
        s = load(dataset)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    if as_yaml:
        path = builtin_path(dataset) if dataset in builtin_names() else Path(dataset)
        click.echo(path.read_text(encoding="utf-8"), nl=False)
        return
    click.echo(f"{s.name}: {' '.join(s.description.split())}")
    click.echo(f"reference date: {s.reference_date}")
    for t in s.tables.values():
        rel = f" (children of {t.parent}: {t.per_parent})" if t.parent else " (main table: --rows)"
        click.echo(f"\n{t.name}{rel}")
        for c in t.columns:
            if c.hidden:
                continue
            extra = f", nulls {c.null_rate:.0%}" if c.null_rate else ""
            extra += f", only when {c.when['column']} = {c.when['equals']}" if c.when else ""
            click.echo(f"  {c.name:<24} {c.kind}{extra}")


@schemas.command("validate")
@click.argument("schema_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rows", default=100, show_default=True, type=click.IntRange(1),
              help="Also generate this many rows in memory to prove the schema runs.")
def schemas_validate(schema_file: Path, rows: int) -> None:
    """Check a schema file: structure, kinds, parameters and column references; then try it."""
    from generators import SchemaError, generate_batch, load

    try:
        s = load(schema_file)
        out = generate_batch(s, 0, 0, None, rows)
    except (SchemaError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{schema_file}: OK ({', '.join(f'{t}: {b.num_rows} rows' for t, b in out.items())})")
