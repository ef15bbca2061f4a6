"""Tokens of ``person_name``, ``email``, ``iban`` and the addresses (the users of character-class FPE) are pinned:
the speed work on these types must give byte-identical tokens.  A fixed key (material 0x00..0x1f, as in
``tests/data/tokens-v1.json``), seeded generated values plus the awkward cases (compounds, odd whitespace, letter
variants, formatted and invalid values, which take the generic token), FF1 and FF3-1; each column's tokens are
compared by SHA-256 with the digests the code gave before the speed work, and detokenized back exactly.

``TOKENIZE_KIT_PRINT_GOLDEN=FILE pytest tests/test_type_tokens_golden.py`` writes the digests to FILE (only to pin a
deliberate token change, which also needs a new token scheme: tokens already handed out must still reverse)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import string
import warnings
from functools import cache

import numpy as np
import pyarrow as pa
import pytest

from tokenize_kit.keys import Keyset, fingerprint_of
from tokenize_kit.pii.base import ColumnSpec, Crypto
from tokenize_kit.table import transform_column

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")

ROWS = 3000
NAMES = ["عبد الرحمن محمد علي حسن", "احمد  محمد", " محمد علي ", "Sara Mahmoud", "AHMED ali",
         "محمد بن سلمان", "محمّد علي", "مـحمد علي", "Zxqv Ploo", "خخخخ ججج ححح", "محمد\tعلي", "a", "محمد 12",
         "عبدالرحمن خالد", "ابراهيم احمد", "منة الله حسن", "اسامه محمود", "هدى علي", "mohamed ahmed ali hassan",
         "بن", "فاطمه الزهراء", "Abdel Rahman Ali", "x y z w v u", "نور", "O'Brien Smith", "أحمد-علي"]
EMAILS = ["a@b.co", "A.B_c%d+e-f@Mail-Srv.example.ORG", "x1@y.com", "ahmed..ali@x.com", "not an email", "a@b",
          "Ahmed.Ali99@Gmail.com", "٣@x.com", "z@sub.domain.eg", "ab@x.com", "abc@x.com", "Q@x.com",
          "1234567@x.com", "very.long.local.part.with.many.dots.and.digits.0123456789@example.com"]
IBANS = ["EG380019000500000000263180002", "SA0380000000608010167519", "sa03 8000 0000 6080 1016 7519",
         "EG00 0019 0005 0000 0000 2631 8000 2", "SA038000000060801016751X", "DE89370400440532013000", "EG12"]
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

#: "column/algorithm/derivation" -> SHA-256 of the tokens (pinned from the code before the speed work)
GOLDEN: dict[str, str] = {
    "person_name/ff1/2": "e72eb7ba7d6074639fae009836bc80064237ba85a25f3c772df0e69dae0ef734",
    "person_name/ff1/1": "5a084fd38aee65c598fb35d6dc4b057d21a0fed5f954e5fd59fcf8c7d6e55a52",
    "person_name/ff3-1/2": "cacba151e5b9fc30ffec0e20a7bc074f1fce3175778d1fbdaecff4db6ed02ed3",
    "person_name/ff3-1/1": "78aebbf33e9ad93906c5ffc896cd5b5af1c9742f28daf3e63a689856e20a6946",
    "email/ff1/2": "7cc80bcae27167834384bdc704be0b20ad527e628916f9ff98b26f1741087bbc",
    "email/ff3-1/2": "5225d8fc5d33b424ef6b46df42273db4d5e2b5ffe246e6fe9e8283abc05bf098",
    "iban/ff1/2": "64c9fdd0d12d41f1e75fe2834117faf8a125b778cb8c194bafead9dcd4d9ceaf",
    "iban/ff3-1/2": "a5a86d87b87ddd9f0e99fee5fe7744ff649b28f96d01e94365691e2f4d17aefe",
    "eg_address/ff1/2": "41846287da9df073057e143b7d5227a51d9542f6193a62d60db535a9e93fc5be",
}


@cache
def _keyset_doc() -> dict:
    material = bytes(range(32))
    return {"format": "tokenize-kit-keyset", "format_version": 1, "protection": None,
            "keys": {"default": {"primary": 1, "versions": [
                {"version": 1, "created": "2026-01-01T00:00:00Z", "fingerprint": fingerprint_of(material),
                 "material": base64.b64encode(material).decode("ascii")}]}}}


@pytest.fixture(scope="module")
def keyset(tmp_path_factory) -> Keyset:
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    path.write_text(json.dumps(_keyset_doc()))
    os.chmod(path, 0o600)
    return Keyset.load(path)


@cache
def columns() -> dict[str, tuple[str, pa.Array]]:
    """Column label -> (type, values): generated values of both datasets and the awkward cases."""
    from generators import generate_table

    eg = generate_table("eg-consumer-finance", "customers", ROWS, seed=5)
    sa = generate_table("sa-water-utility", "customers", ROWS, seed=5)

    def col(t: pa.Table, name: str) -> list:
        return t.column(name).to_pylist()

    ibans = [v for v in col(eg, "salary_iban") + col(sa, "refund_iban") if v] + _saudi_with_letters(300)
    for i in range(0, len(ibans), 5):
        ibans[i] = " ".join(ibans[i][k : k + 4] for k in range(0, len(ibans[i]), 4))
    for i in range(0, len(ibans), 7):
        ibans[i] = ibans[i].lower()
    for i in range(0, len(ibans), 11):
        ibans[i] = ibans[i].translate(ARABIC_INDIC)
    return {
        "person_name": ("person_name", pa.array(col(eg, "full_name_ar") + col(sa, "full_name_ar")
                                                + col(eg, "full_name_en")[:500] + NAMES, pa.string())),
        "email": ("email", pa.array(col(eg, "email") + col(sa, "email") + EMAILS, pa.string())),
        "iban": ("iban", pa.array(ibans + IBANS, pa.string())),
        "eg_address": ("eg_address", pa.array(col(eg, "address_ar")[:1000], pa.string())),
    }


def _saudi_with_letters(count: int) -> list[str]:
    """Valid Saudi IBANs whose account numbers hold letters (the registry's ``18!c``), at seeded positions."""
    from tokenize_kit.pii.iban import set_check_digits

    rnd = random.Random(7)
    out = []
    for _ in range(count):
        body = "".join(rnd.choice(string.ascii_uppercase) if rnd.random() < 0.2 else rnd.choice(string.digits)
                       for _ in range(18))
        chars = np.frombuffer(f"SA0080{body}".encode(), np.uint8).reshape(1, -1).copy()
        out.append(bytes(set_check_digits(chars)[0]).decode())
    return out


def _digest(arr: pa.Array) -> str:
    return hashlib.sha256("\x1f".join("\x00" if v is None else v for v in arr.to_pylist()).encode()).hexdigest()


# (eg_address under FF3-1 is not pinned: its tokens were first made when a class run longer than FF3-1's maximum
# length could be encrypted at all, in pieces; tests/test_pii_address.py checks that path)
CASES = [(c, alg, d) for c in ("person_name", "email", "iban", "eg_address") for alg in ("ff1", "ff3-1")
         for d in ((2, 1) if c == "person_name" else (2,)) if not (c == "eg_address" and alg == "ff3-1")]


@pytest.mark.parametrize(("column", "algorithm", "derivation"), CASES)
def test_tokens_unchanged(keyset: Keyset, column: str, algorithm: str, derivation: int) -> None:
    type_name, values = columns()[column]
    crypto = Crypto(keyset, algorithm=algorithm, derivation=derivation)
    spec = ColumnSpec(column, type_name)
    tokens, _ = transform_column(values, spec, crypto, decrypt=False)
    key = f"{column}/{algorithm}/{derivation}"
    if os.environ.get("TOKENIZE_KIT_PRINT_GOLDEN"):
        with open(os.environ["TOKENIZE_KIT_PRINT_GOLDEN"], "a", encoding="utf-8") as fh:
            fh.write(f'    "{key}": "{_digest(tokens)}",\n')
    assert _digest(tokens) == GOLDEN[key]
    if derivation == 1:  # the old scheme: its round trip fails on some names (see the test below)
        return
    back, _ = transform_column(tokens, spec, crypto, decrypt=True)
    assert back.equals(values)


#: names with a compound head standing alone (no lexicon compound with the next word): a head was once taken as
#: the input of the generic token, whose walk avoids heads, so it never came back (silently, 1 in 1: محمد أبو زيد
#: came back as محمد ظةز زيد); heads are now kept like بن
HEAD_NAMES = ["عبد", "أبو", "أبو بكر الصديق", "محمد أبو زيد", "أحمد أبو العلا", "سارة أبو بكر", "ابو بكر سالم",
              "محمود عبد", "عبد الله أبو", "علي أبو الفتوح حسن", "خالد أبو النجا", "محمد ابو", "أبوبكر"]


@pytest.mark.parametrize("derivation", [2])
def test_names_with_a_lone_compound_head_come_back(keyset: Keyset, derivation: int) -> None:
    crypto = Crypto(keyset, derivation=derivation)
    spec = ColumnSpec("c", "person_name")
    values = pa.array(HEAD_NAMES)
    tokens, _ = transform_column(values, spec, crypto, decrypt=False)
    back, _ = transform_column(tokens, spec, crypto, decrypt=True)
    assert back.to_pylist() == HEAD_NAMES
    for name, token in zip(HEAD_NAMES, tokens.to_pylist(), strict=True):
        words, new = name.split(), token.split()
        assert len(words) == len(new)
        for w, t in zip(words, new, strict=True):  # a head stays; every other part is replaced
            assert (w == t) == (w in ("عبد", "أبو", "ابو")), (name, token)


@pytest.mark.xfail(strict=True, reason="known bug, found while pinning these tokens: token scheme 1 (kept only to "
                                       "reverse old tokens) with the family name ملك does not come back")
@pytest.mark.parametrize(("name", "derivation"), [("بلال عثمان ملك", 1)])
def test_known_round_trip_failures(keyset: Keyset, name: str, derivation: int) -> None:
    crypto = Crypto(keyset, derivation=derivation)
    spec = ColumnSpec("c", "person_name")
    values = pa.array([name])
    tokens, _ = transform_column(values, spec, crypto, decrypt=False)
    back, _ = transform_column(tokens, spec, crypto, decrypt=True)
    assert back.equals(values)
