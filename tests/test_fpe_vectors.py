"""Published sample vectors (NIST SP 800-38G FF1/FF3 samples, ACVP FF3-1 cases), both directions,
through both the uint64 fast path and the exact Python-integer path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenize_kit.fpe import FF1, FF3_1

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO.parent / "shared" / "reference" / "fpe-vectors.json"
if not VECTORS.exists():  # a checkout without shared/ beside it: the copy kept in tests/data
    VECTORS = REPO / "tests" / "data" / "fpe-vectors.json"
DATA = json.loads(VECTORS.read_text())


def _cases(*families):
    return [pytest.param(c, id=c["name"]) for f in families for c in DATA[f]]


@pytest.mark.parametrize("ff1_case", _cases("ff1"))
@pytest.mark.parametrize("exact", [False, True], ids=["fast", "exact"])
def test_ff1_vector(ff1_case, exact):
    c = FF1(bytes.fromhex(ff1_case["key"]), ff1_case["alphabet"])
    c.force_exact = exact
    tweak = bytes.fromhex(ff1_case["tweak"])
    assert c.encrypt(ff1_case["plaintext"], tweak) == ff1_case["ciphertext"]
    assert c.decrypt(ff1_case["ciphertext"], tweak) == ff1_case["plaintext"]


@pytest.mark.parametrize("ff3_case", _cases("ff3", "ff3_1"))
@pytest.mark.parametrize("exact", [False, True], ids=["fast", "exact"])
def test_ff3_vector(ff3_case, exact):
    c = FF3_1(bytes.fromhex(ff3_case["key"]), ff3_case["alphabet"])
    c.force_exact = exact
    tweak = bytes.fromhex(ff3_case["tweak"])
    assert c.encrypt(ff3_case["plaintext"], tweak) == ff3_case["ciphertext"]
    assert c.decrypt(ff3_case["ciphertext"], tweak) == ff3_case["plaintext"]


def test_vector_file_has_all_families(fpe_vectors_path):
    data = json.loads(fpe_vectors_path.read_text())
    assert len(data["ff1"]) == 9
    assert len(data["ff3"]) >= 15
    assert len(data["ff3_1"]) >= 18
