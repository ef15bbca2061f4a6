"""Dataset schemas (YAML) shipped inside the wheel as ``generators.schemas``."""
