"""Shared test configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TOKENIZE_KIT_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def fpe_vectors_path() -> Path:
    """The published FPE sample vectors (NIST FF1/FF3, ACVP FF3-1) from ../shared/reference."""
    path = SHARED / "reference" / "fpe-vectors.json"
    if not path.exists():  # a checkout without shared/ beside it: use the copy kept in tests/data
        path = REPO / "tests" / "data" / "fpe-vectors.json"
    return path
