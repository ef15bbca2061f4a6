"""PII types: one module per type (python-stdnum style) and one registry serving scan, tokenize, generate."""

from .base import ColumnSpec, Crypto, PIIType
from .registry import describe, detectors, get, names, register

__all__ = ["ColumnSpec", "Crypto", "PIIType", "describe", "detectors", "get", "names", "register"]
