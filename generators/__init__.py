"""Synthetic Egyptian and Saudi customer datasets (vectorised, deterministic, batch-streamed)."""

from .engine import BATCH_ROWS, DATASETS, generate_dataset, generate_table, iter_table, register

__all__ = ["BATCH_ROWS", "DATASETS", "generate_dataset", "generate_table", "iter_table", "register"]
