"""Trust in the round trip (issue 13 item 1): detokenize verifies the delivery's manifest before it writes, and
the generic token of an invalid value is never an empty marker (which detokenize would leave as it is)."""

from __future__ import annotations

import string
import warnings

import pyarrow as pa
import pytest

from tokenize_kit import Keyset, detokenize_table, tokenize_table
from tokenize_kit.table import EMPTY_MARKERS

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")

TWO_LETTERS = [a + b for a in string.ascii_letters for b in string.ascii_letters]  # 2,704 values


@pytest.mark.parametrize("typ", ["phone", "eg_national_id", "sa_national_id", "email", "iban"])
@pytest.mark.parametrize("seed", range(3))
def test_generic_tokens_never_equal_an_empty_marker(typ, seed):
    """Every two-letter value (lower and upper case) is invalid for these types; its generic token is never a
    placeholder such as ``na`` / ``NA``, and the whole column comes back exactly (the markers themselves pass
    through as they are)."""
    ks = Keyset.generate()
    policy = {"columns": {"c": {"type": typ}}}
    table = pa.table({"c": TWO_LETTERS})
    tokens = tokenize_table(table, policy, ks)
    out = tokens["c"].to_pylist()
    inputs_not_markers = [(v, t) for v, t in zip(TWO_LETTERS, out, strict=True) if v not in EMPTY_MARKERS]
    assert len(inputs_not_markers) == 2704 - 2  # (na and NA are markers themselves)
    assert not [t for _, t in inputs_not_markers if t in EMPTY_MARKERS]
    assert detokenize_table(tokens, policy, ks).equals(table)
