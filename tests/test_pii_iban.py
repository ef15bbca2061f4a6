"""IBAN type (EG, SA): published examples, bad inputs, valid / reversible / layout-preserving tokens, the
table API.  Validity is checked by an independent MOD 97-10 implementation (Python big integers)."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_pii_identifiers import shape as digit_shape
from tokenize_kit import detokenize_table, tokenize_table
from tokenize_kit.keys import Keyset
from tokenize_kit.pii import iban, registry
from tokenize_kit.pii.base import ColumnSpec, Crypto
from tokenize_kit.pii.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

KS = Keyset.generate()
CRYPTO = Crypto(KS)
T = registry.get("iban")
AR = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
PLAIN = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
STRUCTURE = {"EG": r"EG\d{2}\d{4}\d{4}\d{17}", "SA": r"SA\d{2}\d{2}[0-9A-Z]{18}"}

# SWIFT IBAN Registry examples (SA, EG) and the other published Egyptian example
PUBLISHED = [
    "SA0380000000608010167519",
    "SA03 8000 0000 6080 1016 7519",
    "EG380019000500000000263180002",
    "EG800002000156789012345180002",
    "EG80 0002 0001 5678 9012 3451 8000 2",
]


# -- independent reference (deliberately not the module's code) -----------------------------------
def independent_ok(value: str) -> bool:
    s = re.sub(r"[\s\-.\u00a0\u200e\u200f]", "", value.translate(PLAIN)).upper()
    if not re.fullmatch(STRUCTURE.get(s[:2], "$^"), s):
        return False
    number = int("".join(str(int(ch, 36)) for ch in s[4:] + s[:4]))
    return number % 97 == 1 and 2 <= int(s[2:4]) <= 98


def with_check(country: str, bban: str) -> str:
    number = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


def compact(value: str) -> str:
    return re.sub(r"[\s\-.]", "", value.translate(PLAIN)).upper()


_LETTER_SHAPE = str.maketrans({**{chr(c): "A" for c in range(65, 91)}, **{chr(c): "a" for c in range(97, 123)}})


def shape(s: str) -> str:
    """Layout: digits -> the zero of their script, letters -> A/a, everything else as is."""
    return digit_shape(s.translate(_LETTER_SHAPE))


def run(values, crypto=CRYPTO, **options):
    spec = ColumnSpec("c", "iban", options=options)
    arr = pa.array(values, pa.string())
    assert T.valid_mask(arr, spec).all()
    tok = T.tokenize(arr, crypto, spec)
    assert T.detokenize(tok, crypto, spec).to_pylist() == values
    assert T.tokenize(arr, Crypto(KS, algorithm=crypto.algorithm), spec).to_pylist() == tok.to_pylist()
    return tok.to_pylist()


# -- strategies -------------------------------------------------------------------------------------
SA_ACCOUNT = st.one_of(
    st.text("0123456789", min_size=18, max_size=18),
    st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=18, max_size=18),
)


@st.composite
def ibans(draw):
    country = draw(st.sampled_from(["EG", "SA"]))
    if country == "EG":
        bban = draw(st.text("0123456789", min_size=25, max_size=25))
    else:
        bban = draw(st.text("0123456789", min_size=2, max_size=2)) + draw(SA_ACCOUNT)
    value = with_check(country, bban)
    if draw(st.booleans()):
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    if draw(st.booleans()):
        value = value.lower()
    script = draw(st.sampled_from([None, AR, FA]))
    return value.translate(script) if script else value


# -- validation -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", PUBLISHED)
def test_published_examples_validate(value):
    assert independent_ok(value)
    assert T.is_valid(value) and iban.is_valid(value)
    assert iban.validate(value) == compact(value)
    assert T.valid_mask(pa.array([value])).all()


def test_compact_and_format():
    assert iban.compact("sa03-8000-0000-6080-1016-7519") == "SA0380000000608010167519"
    assert iban.compact("SA03 8000 0000 ٦٠٨٠ ١٠١٦ ٧٥١٩") == "SA0380000000608010167519"
    assert iban.format("EG380019000500000000263180002") == "EG38 0019 0005 0000 0000 2631 8000 2"
    assert iban.is_valid("\u200fSA03\u00a08000 0000 6080 1016 7519")


SA_OK = "SA0380000000608010167519"
EG_OK = "EG380019000500000000263180002"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (SA_OK[:-1], InvalidLength),  # 23 characters
        (SA_OK + "0", InvalidLength),
        (EG_OK[:-1], InvalidLength),
        ("SA0380000000608010167518", InvalidChecksum),  # last digit changed
        ("SA3080000000608010167519", InvalidChecksum),  # check digits swapped
        ("EG380019000500000000263180003", InvalidChecksum),
        ("EG380019000500000000263108002", InvalidChecksum),  # neighbours swapped
        ("GB82WEST12345698765432", InvalidComponent),  # a valid IBAN, but of an unsupported country
        ("AE070331234567890123456", InvalidComponent),
        ("EG38001900050000000026318000A", InvalidFormat),  # letter in an all-digit BBAN
        (with_check("EG", "0019000500000000263180A02"), InvalidFormat),
        (with_check("SA", "8A000000608010167519"), InvalidFormat),  # letter in the bank code
        ("SA03 8000 0000 6080 1016 751!", InvalidFormat),
        ("hello", InvalidFormat),
        ("", InvalidFormat),
        ("8000000608010167519", InvalidFormat),  # no country code
    ],
)
def test_bad_inputs(value, error):
    with pytest.raises(error) as info:
        iban.validate(value)
    if len(value) > 6:
        assert value not in str(info.value)
    assert not iban.is_valid(value)
    assert not T.valid_mask(pa.array([value])).any()


@pytest.mark.parametrize("check", ["00", "01", "99"])
def test_check_digit_aliases_rejected(check):
    """00, 01 and 99 can satisfy MOD 97 but are never computed; accepting them would break exact detokenize."""
    for bban in (f"{b:02d}" + "0" * 17 + f"{k}" for b in range(10, 100) for k in range(10)):
        base = int("".join(str(int(ch, 36)) for ch in bban + "SA00"))
        alias = {"00": 97, "01": 98, "99": 2}[check]
        if 98 - base % 97 == alias:
            value = f"SA{check}{bban}"
            assert int("".join(str(int(ch, 36)) for ch in bban + "SA" + check)) % 97 == 1
            with pytest.raises(InvalidChecksum):
                iban.validate(value)
            assert not T.valid_mask(pa.array([value])).any()
            return
    raise AssertionError("no alias found")  # pragma: no cover


def test_valid_mask_matches_scalar_validation():
    values = [*PUBLISHED, "SA0380000000608010167518", "GB82WEST12345698765432", "x", "EG38 0019"]
    mask = T.valid_mask(pa.array(values))
    assert mask.tolist() == [iban.is_valid(v) for v in values] == [independent_ok(v) for v in values]


# -- tokens -----------------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(st.lists(ibans(), min_size=1, max_size=25, unique_by=compact))
def test_tokens_valid_reversible_same_layout(values):
    tokens = run(values)
    for v, t in zip(values, tokens, strict=True):
        assert independent_ok(t), "token is not a valid IBAN"
        assert shape(t) == shape(v) and len(t) == len(v)
        cv, ct = compact(v), compact(t)
        kept = 12 if cv.startswith("EG") else 6  # country + check + bank (+ branch for EG)
        assert ct[:2] == cv[:2] and ct[4:kept] == cv[4:kept]
        assert ct != cv


@settings(max_examples=30, deadline=None)
@given(st.lists(ibans(), min_size=1, max_size=15, unique_by=compact), st.booleans())
def test_keep_options(values, keep_branch):
    for v, t in zip(values, run(values, keep_bank=False), strict=True):
        assert independent_ok(t) and shape(t) == shape(v) and compact(t)[:2] == compact(v)[:2]
    for v, t in zip(values, run(values, keep_branch=keep_branch), strict=True):
        cv, ct = compact(v), compact(t)
        assert independent_ok(t) and ct[4:6] == cv[4:6]
        if cv.startswith("EG"):
            assert ct[4:8] == cv[4:8]
            if keep_branch:
                assert ct[8:12] == cv[8:12]


def test_keep_bank_false_changes_banks():
    values = [with_check("SA", f"{b:02d}" + "0" * 10 + f"{k:08d}") for b in range(10, 20) for k in range(10)]
    tokens = run(values, keep_bank=False)
    assert len({compact(t)[4:6] for t in tokens}) > 10
    assert all(independent_ok(t) for t in tokens)


def test_same_account_at_two_banks_unrelated():
    account = "000000608010167519"
    a, b = run([with_check("SA", "80" + account), with_check("SA", "10" + account)])
    assert a[6:] != b[6:]
    eg = run([with_check("EG", "0019" + "0005" + "00000000263180002"), with_check("EG", "0019" + "0006"
                                                                                   + "00000000263180002")])
    assert eg[0][12:] != eg[1][12:]


def test_letter_positions_bind_the_digits():
    """The same digits with the letter in another position give unrelated digit tokens."""
    a, b = run([with_check("SA", "80A" + "0" * 17), with_check("SA", "80" + "0" * 17 + "A")])
    assert re.sub(r"\D", "", a[6:]) != re.sub(r"\D", "", b[6:])


def test_letters_stay_letters_digits_stay_digits():
    values = [with_check("SA", "80" + acc) for acc in ("ABCD00000000000001", "A00000000000000000",
                                                         "0000000000ZZZZZZZZ", "QWERTYUIOPASDFGHJK")]
    for v, t in zip(values, run(values), strict=True):
        assert shape(t) == shape(v) and independent_ok(t) and t != v


@pytest.mark.parametrize(
    "text",
    ["SA0380000000608010167519", "SA03 8000 0000 6080 1016 7519", "sa03 8000 0000 6080 1016 7519",
     "SA03-8000-0000-6080-1016-7519", "SA03 8000 0000 ٦٠٨٠ ١٠١٦ ٧٥١٩", "\u200fSA03\u00a08000 0000 ٦٠٨٠ 1016 ۷۵۱۹",
     "EG38 0019 0005 0000 0000 2631 8000 2", "eg38-0019-0005-0000-0000-2631-8000-2", "EG٣٨٠٠١٩٠٠٠٥٠٠٠٠٠٠٠٠٢٦٣١٨٠٠٠٢"],
)
def test_input_forms(text):
    [token] = run([text])
    assert shape(token) == shape(text) and token != text and independent_ok(token)
    assert iban.compact(token)[4:6] == iban.compact(text)[4:6]


def test_many_values_are_a_bijection():
    values = [with_check("EG", f"00190005{k:017d}") for k in range(2000)]
    tokens = run(values)
    assert len(set(tokens)) == len(values) and not set(tokens) & set(values)


def test_ff3_1_round_trip():
    c = Crypto(KS, algorithm="ff3-1")
    values = [*PUBLISHED, with_check("SA", "80ABCDE0000000000001")]
    tokens = run(values, crypto=c)
    assert all(independent_ok(t) for t in tokens)


def test_tokenize_rejects_invalid_without_showing_it():
    secret = "SA0380000000608010167518"
    with pytest.raises(ValueError) as info:
        T.tokenize(pa.array([secret]), CRYPTO, ColumnSpec("c", "iban"))
    assert secret not in str(info.value)


def test_surrogates_valid_deterministic_same_shape():
    spec = ColumnSpec("c", "iban", method="surrogate")
    values = [*PUBLISHED, "sa03 8000 0000 ٦٠٨٠ ١٠١٦ ٧٥١٩", with_check("SA", "80ABCDE0000000000001")]
    a = T.surrogate(pa.array(values), CRYPTO, spec).to_pylist()
    assert a == T.surrogate(pa.array(values), Crypto(KS), spec).to_pylist()
    for v, s in zip(values, a, strict=True):
        assert independent_ok(s) and shape(s) == shape(v) and s != v
        kept = 12 if compact(v).startswith("EG") else 6
        assert compact(s)[4:kept] == compact(v)[4:kept]
    assert a[0] != T.surrogate(pa.array(values[:1]), Crypto(Keyset.generate()), spec).to_pylist()[0]


def test_empty_array():
    spec = ColumnSpec("c", "iban")
    assert T.tokenize(pa.array([], pa.string()), CRYPTO, spec).to_pylist() == []
    assert T.valid_mask(pa.array([], pa.string())).tolist() == []


# -- registry and table API -------------------------------------------------------------------------
def test_registered_and_detectable():
    assert "iban" in registry.names()
    assert registry.get("iban") in registry.detectors()


def test_tokenize_table_round_trip():
    policy = {"columns": {"iban": {"type": "iban"}}}
    values = [*PUBLISHED, "not an iban", None, "", "SA0380000000608010167518", " SA0380000000608010167519 "]
    df = pd.DataFrame({"iban": values, "other": list(range(len(values)))})
    out = tokenize_table(df, policy, KS)
    for v, t in zip(values, out["iban"].tolist(), strict=True):
        if v and iban.is_valid(v):
            assert iban.is_valid(t) and shape(t) == shape(v) and t != v
        elif v:
            assert not iban.is_valid(t) and t != v  # generic token, never a valid IBAN
        else:
            assert not isinstance(t, str) or t == v  # empties stay empty
    assert out["iban"][0] == out["iban"][len(values) - 1].strip()  # same IBAN, same token
    assert out["other"].tolist() == df["other"].tolist()
    back = detokenize_table(out, policy, KS)
    assert [str(x) for x in back["iban"]] == [str(x) for x in df["iban"]]


def test_keep_options_from_a_policy_file():
    from tokenize_kit.policy import Policy

    pol = Policy.from_dict({"columns": {"iban": {"type": "iban", "keep_bank": False, "keep_branch": False}}})
    assert pol.columns["iban"].options["keep_bank"] is False
