"""``tokenize-kit generate``: synthetic datasets for contractors and QA."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click


@click.command()
@click.argument("dataset")
@click.argument("output_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rows", default=10_000, show_default=True, type=click.IntRange(0), help="Rows of the main table.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, byte-identical files.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "jsonl"]), default="parquet", show_default=True)
@click.option("--tables", help="Comma-separated subset of the dataset's tables.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
def generate(dataset: str, output_dir: Path, rows: int, seed: int, fmt: str, tables: str | None, quiet: bool) -> None:
    """Generate a synthetic DATASET into OUTPUT_DIR (one file per table).

    \b
    Datasets: eg-consumer-finance (table: customers).
    Every national ID and phone number is valid, names match the ID's gender, and the
    same seed always gives the same bytes; --rows 1000 is the first 1,000 rows of --rows 1000000.
    \b
    Example:
      tokenize-kit generate eg-consumer-finance fixtures/ --rows 100000 --seed 7 --format csv
    """
    from generators import generate_dataset

    start = time.perf_counter()
    done: dict[str, int] = {}

    def progress(table: str, n: int) -> None:
        done[table] = done.get(table, 0) + n
        if not quiet and sys.stderr.isatty():
            sys.stderr.write(f"\r{table}: {done[table]:,} rows")

    try:
        written = generate_dataset(dataset, output_dir, rows, seed, fmt,
                                   tables.split(",") if tables else None, progress)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not quiet and sys.stderr.isatty():
        sys.stderr.write("\n")
    secs = time.perf_counter() - start
    for table, path in written.items():
        click.echo(f"{table}: {done.get(table, 0):,} rows -> {path}")
    click.echo(f"done in {secs:.2f}s", err=True)
