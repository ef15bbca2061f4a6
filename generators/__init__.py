"""Synthetic Egyptian and Saudi customer datasets (vectorised, schema-driven, deterministic)."""
