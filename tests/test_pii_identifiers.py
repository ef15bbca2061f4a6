"""PII identifier types: validity of every token (independent validators, phonenumbers), exact round
trips, format/script preservation, determinism, keep options, independence across types."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenize_kit.keys import Keyset
from tokenize_kit.pii import registry
from tokenize_kit.pii.base import ColumnSpec, Crypto
from tokenize_kit.pii.eg_national_id import GOVERNORATE_CODES, compose_arrow
from tokenize_kit.pii.sa_national_id import compose as compose_sa

KS = Keyset.generate()
CRYPTO = Crypto(KS)
AR = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FA = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
GOVS = sorted(GOVERNORATE_CODES)


# -- independent validators (deliberately not the module's code) ----------------------------------
def independent_eg_id_ok(s: str, max_date=dt.date(2025, 12, 31)) -> bool:
    if not re.fullmatch(r"[23]\d{13}", s):
        return False
    year = (1900 if s[0] == "2" else 2000) + int(s[1:3])
    try:
        born = dt.date(year, int(s[3:5]), int(s[5:7]))
    except ValueError:
        return False
    return born <= max_date and int(s[7:9]) in {1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24,
                                                  25, 26, 27, 28, 29, 31, 32, 33, 34, 35, 88}


def independent_luhn_ok(s: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(s)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def plain(s: str) -> str:
    return s.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789"))


def shape(s: str) -> str:
    """Layout: every digit replaced by the zero of its script, everything else as is."""
    out = []
    for ch in s:
        if "0" <= ch <= "9":
            out.append("0")
        elif "٠" <= ch <= "٩":
            out.append("٠")
        elif "۰" <= ch <= "۹":
            out.append("۰")
        else:
            out.append(ch)
    return "".join(out)


def run(type_name, values, keep=(), **options):
    t = registry.get(type_name)
    spec = ColumnSpec("c", type_name, keep=tuple(keep), options=options)
    arr = pa.array(values, pa.string())
    assert t.valid_mask(arr, spec).all()
    tok = t.tokenize(arr, CRYPTO, spec)
    back = t.detokenize(tok, CRYPTO, spec)
    assert back.to_pylist() == values
    again = t.tokenize(arr, Crypto(KS), spec)  # a fresh Crypto: deterministic across objects
    assert again.to_pylist() == tok.to_pylist()
    return tok.to_pylist()


# -- strategies -------------------------------------------------------------------------------------
dates = st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31))
scripts = st.sampled_from([None, AR, FA])


@st.composite
def eg_ids(draw):
    d = draw(dates)
    ids = compose_arrow(
        np.array([d], "datetime64[D]"), np.array([draw(st.sampled_from(GOVS))]),
        np.array([draw(st.integers(0, 9999))]), np.array([draw(st.integers(0, 9))]),
    ).to_pylist()[0]
    script = draw(scripts)
    return ids.translate(script) if script else ids


@st.composite
def sa_ids(draw):
    body = f"{draw(st.sampled_from('12'))}{draw(st.integers(0, 10**8 - 1)):08d}"
    for check in range(10):
        if independent_luhn_ok(body + str(check)):
            return body + str(check)
    raise AssertionError


EG_MOBILE = st.builds(lambda p, n: f"1{p}{n:08d}", st.sampled_from("0125"), st.integers(0, 10**8 - 1))
SA_MOBILE = st.builds(lambda p, n: f"5{p}{n:07d}", st.sampled_from("0345689"), st.integers(0, 10**7 - 1))
EG_FIXED = st.builds(lambda n: f"2{n:08d}", st.integers(0, 10**8 - 1))  # Cairo
SA_FIXED = st.builds(lambda a, n: f"1{a}{n:07d}", st.sampled_from("1"), st.integers(0, 10**7 - 1))  # Riyadh 011


@st.composite
def phones(draw):
    region, nsn = draw(st.sampled_from(["EG", "SA"])), None
    if region == "EG":
        nsn = draw(st.one_of(EG_MOBILE, EG_FIXED))
        cc = "20"
    else:
        nsn = draw(st.one_of(SA_MOBILE, SA_FIXED))
        cc = "966"
    form = draw(st.sampled_from(["e164", "00", "national", "excel", "spaced", "dashed", "parens"]))
    text = {
        "e164": f"+{cc}{nsn}", "00": f"00{cc}{nsn}", "national": f"0{nsn}", "excel": nsn,
        "spaced": f"+{cc} {nsn[:2]} {nsn[2:5]} {nsn[5:]}", "dashed": f"0{nsn[:2]}-{nsn[2:]}",
        "parens": f"({cc}) {nsn}",
    }[form]
    script = draw(scripts)
    return region, (text.translate(script) if script else text)


# -- properties -------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(eg_ids(), min_size=1, max_size=30, unique=True))
def test_eg_national_id_tokens_valid_reversible_same_shape(values):
    tokens = run("eg_national_id", values)
    for v, t in zip(values, tokens, strict=True):
        assert independent_eg_id_ok(plain(t)), "token is not a valid Egyptian ID"
        assert shape(t) == shape(v)


@settings(max_examples=40, deadline=None)
@given(st.lists(eg_ids(), min_size=1, max_size=30, unique=True),
       st.lists(st.sampled_from(["birth_year", "birth_date", "gender", "governorate"]), unique=True))
def test_eg_national_id_keep_options(values, keep):
    tokens = run("eg_national_id", values, keep)
    for v, t in zip(map(plain, values), map(plain, tokens), strict=True):
        assert independent_eg_id_ok(t)
        if "birth_date" in keep or "birth_year" in keep:
            assert t[:3] == v[:3]
        if "birth_date" in keep:
            assert t[:7] == v[:7]
        if "governorate" in keep:
            assert t[7:9] == v[7:9]
        if "gender" in keep:
            assert int(t[12]) % 2 == int(v[12]) % 2


def test_eg_national_id_keep_nothing_changes_everything():
    values = [compose_arrow(np.array(["1985-06-15"], "datetime64[D]"), np.array([1]), np.array([k]),
                            np.array([3])).to_pylist()[0] for k in range(200)]
    tokens = run("eg_national_id", values)
    assert len(set(t[7:9] for t in tokens)) > 5 and len(set(t[1:7] for t in tokens)) > 50
    assert not set(tokens) & set(values)


@settings(max_examples=60, deadline=None)
@given(st.lists(sa_ids(), min_size=1, max_size=30, unique=True))
def test_sa_national_id_tokens(values):
    tokens = run("sa_national_id", values)
    for v, t in zip(values, tokens, strict=True):
        assert independent_luhn_ok(t) and len(t) == 10 and t[0] == v[0]


@settings(max_examples=80, deadline=None)
@given(st.lists(phones(), min_size=1, max_size=20, unique_by=lambda x: x[1]))
def test_phone_tokens_valid_for_libphonenumber(items):
    values = [v for _, v in items]
    tokens = run("phone", values)
    for (region, v), t in zip(items, tokens, strict=True):
        assert shape(t) == shape(v)
        before = phonenumbers.parse(registry.get("phone").compact(v))
        after = phonenumbers.parse(registry.get("phone").compact(t))
        assert phonenumbers.is_valid_number(after)
        assert phonenumbers.region_code_for_number(after) == region == phonenumbers.region_code_for_number(before)
        assert phonenumbers.number_type(after) == phonenumbers.number_type(before)


@pytest.mark.parametrize(
    "text",
    ["+201012345678", "00201012345678", "201012345678", "01012345678", "1012345678", "+20 101 234 5678",
     "010-1234-5678", "(010) 12345678", "٠١٠١٢٣٤٥٦٧٨", "۰۱۰۱۲۳۴۵۶۷۸", "+966501234567", "00966501234567",
     "0501234567", "501234567", "966 50 123 4567", "٠٥٠١٢٣٤٥٦٧", "0223456789", "+966112345678"],
)
def test_phone_input_forms(text):
    [token] = run("phone", [text])
    assert shape(token) == shape(text) and token != text


def test_same_number_same_token_across_forms_and_types():
    forms = ["+201012345678", "01012345678", "1012345678", "٠١٠١٢٣٤٥٦٧٨", "+20 10 1234 5678"]
    tokens = run("phone", forms)
    subscribers = {re.sub(r"\D", "", plain(t))[-8:] for t in tokens}
    assert len(subscribers) == 1
    assert run("eg_phone", ["01012345678"]) == [tokens[1]]


@pytest.mark.parametrize(
    ("type_name", "value"),
    [("eg_national_id", "2980101012345"), ("eg_national_id", "29802300123456"), ("eg_national_id", "29801019923456"),
     ("eg_national_id", "49801010123456"), ("sa_national_id", "1000000009"), ("sa_national_id", "3000000003"),
     ("phone", "0199999999"), ("phone", "12345"), ("phone", "hello"), ("email", "a@b"), ("eg_phone", "0501234567x")],
)
def test_invalid_values_flagged(type_name, value):
    assert not registry.get(type_name).valid_mask(pa.array([value])).any()


def test_types_are_independent():
    """The same digits under two types are encrypted under unrelated subkeys (HKDF per domain)."""
    same_digits = "12345678"
    by_domain = {d: CRYPTO.cipher(d, "0123456789").encrypt(same_digits) for d in ("sa_national_id", "phone")}
    assert by_domain["sa_national_id"] != by_domain["phone"]
    t_id = run("sa_national_id", [compose_sa([1], [12345678]).to_pylist()[0]])[0]
    t_phone = run("phone", ["+966112345678"])[0]
    assert t_id[1:9] != t_phone[-8:]


def test_email_tokens():
    values = ["Ahmed.Ali99@gmail.com", "x_y-z@company.com.eg", "sara@hotmail.com"]
    tokens = run("email", values)
    for v, t in zip(values, tokens, strict=True):
        assert t.split("@")[1] == v.split("@")[1] and registry.get("email").is_valid(t) and t != v
    hidden = run("email", values, keep_domain=False)
    assert all(h.rsplit(".", 1)[1] == v.rsplit(".", 1)[1] for h, v in zip(hidden, values, strict=True))


def test_error_messages_never_contain_values():
    t = registry.get("eg_national_id")
    secret = "2980101012345"
    with pytest.raises(ValueError) as info:
        t.tokenize(pa.array([secret]), CRYPTO, ColumnSpec("c", "eg_national_id"))
    assert secret not in str(info.value)
    with pytest.raises(ValueError) as info:
        t.validate(secret)
    assert secret not in str(info.value)


def test_surrogates_valid_and_deterministic():
    ids = ["29801010123456", "30001010123458"]
    spec = ColumnSpec("c", "eg_national_id", method="surrogate")
    t = registry.get("eg_national_id")
    a = t.surrogate(pa.array(ids), CRYPTO, spec).to_pylist()
    assert a == t.surrogate(pa.array(ids), Crypto(KS), spec).to_pylist()
    assert all(independent_eg_id_ok(x) for x in a) and a != ids
    s = registry.get("sa_national_id").surrogate(pa.array(["1000000008"]), CRYPTO, spec).to_pylist()
    assert independent_luhn_ok(s[0]) and s[0][0] == "1"


def test_ff3_1_policy_algorithm_also_round_trips():
    c = Crypto(KS, algorithm="ff3-1")
    for name, values in [("eg_national_id", ["29801010123456"]), ("sa_national_id", ["1000000008"]),
                         ("phone", ["01012345678", "+966501234567"]), ("email", ["ab.cd@x.com"])]:
        t = registry.get(name)
        spec = ColumnSpec("c", name)
        tok = t.tokenize(pa.array(values), c, spec)
        assert t.valid_mask(tok, spec).all()
        assert t.detokenize(tok, c, spec).to_pylist() == values


def test_phone_numbers_valid_in_both_countries_round_trip_and_keep_one_token_per_number():
    """Numbers such as 013 3978348 are Saudi landlines and (with 132/133) Egyptian ones too; 057 numbers
    are Egyptian landlines or Saudi mobiles.  Every token must be read back as its input's region and
    kind (or detokenizing decrypts under the wrong tweak), whatever the format it is written in."""
    from tokenize_kit import detokenize_table, tokenize_table

    rng = np.random.default_rng(7)
    areas = ["2", "3", "13", "40", "45", "50", "55", "57", "62", "64", "82", "84", "86", "88", "92", "95", "97",
             "11", "12", "14", "16", "17"]
    raw = [("0" + a + str(rng.integers(0, 10**8)).zfill(8))[:10] for a in areas for _ in range(150)]
    raw += ["0" + a + str(rng.integers(0, 10**7)).zfill(7)[:6] for a in ("57", "15") for _ in range(150)]
    arr = pa.array(raw)
    any_phone = registry.get("phone")
    national = [v for v, ok in zip(raw, any_phone.valid_mask(arr), strict=True) if ok]
    intl = [f"+{cc}{v[1:]}" for v in national for cc in ("20", "966")]
    intl = [v for v, ok in zip(intl, any_phone.valid_mask(pa.array(intl)), strict=True) if ok]
    values = national + intl
    assert len(national) > 2000 and len(intl) > 2000
    for _ in range(3):
        ks = Keyset.generate()
        policy = {"columns": {"p": {"type": "phone"}}}
        t = pa.table({"p": values})
        tok = tokenize_table(t, policy, ks)
        assert detokenize_table(tok, policy, ks).column("p").to_pylist() == values
        before = any_phone.parse(t.column("p").combine_chunks())
        after = any_phone.parse(tok.column("p").combine_chunks())
        assert (before.region == after.region).all() and (before.kind == after.kind).all()
        tokens = dict(zip(values, tok.column("p").to_pylist(), strict=True))
        for v in national:  # the same number written with its country code gets the same subscriber digits
            reg = "20" if any_phone.compact(v).startswith("+20") else "966"
            if f"+{reg}{v[1:]}" in tokens:
                assert tokens[f"+{reg}{v[1:]}"] == f"+{reg}{tokens[v][1:]}"


def test_phone_walks_together_equal_one_walk_per_group(monkeypatch):
    """The phone type walks all its (region, kind, prefix) groups of one length in one cipher call per step
    (FF1's ``crypt_ints_tweaks``): the tokens are those of one walk per group, both ways, on a column of mobiles
    and landlines of both countries, several area codes and both derivations."""
    from tokenize_kit.pii.phone import PhoneType

    rng = np.random.default_rng(11)
    areas = ["2", "3", "13", "40", "57", "64", "82", "92", "10", "11", "12", "15", "50", "53", "55", "59"]
    raw = [("0" + a + str(rng.integers(0, 10**8)).zfill(8))[:10 if len(a) > 1 else 9] for a in areas
           for _ in range(120)]
    raw += ["+20" + v[1:] for v in raw[:400]] + ["966" + v[1:] for v in raw[-300:]]
    t = registry.get("phone")
    spec = ColumnSpec("p", "phone")
    values = pa.array(raw).filter(t.valid_mask(pa.array(raw), spec))
    assert len(values) > 1500
    calls = []
    joint = PhoneType._walk_together

    def counted(*args, **kwargs):
        calls.append(len(args[4]))
        return joint(*args, **kwargs)

    def one_by_one(cipher, subs, out, length, group, decrypt):
        for w in group:
            out[w.rows] = PhoneType._walk(cipher, subs[w.rows], length, w, decrypt)

    for derivation in (1, 2):
        c = Crypto(Keyset.generate(), derivation=derivation)
        monkeypatch.setattr(PhoneType, "_walk_together", staticmethod(counted))
        tok, back = t.tokenize(values, c, spec), None
        back = t.detokenize(tok, c, spec)
        assert calls and max(calls) > 3  # (several groups of one length walked together)
        monkeypatch.setattr(PhoneType, "_walk_together", staticmethod(one_by_one))
        assert t.tokenize(values, c, spec).equals(tok)
        assert t.detokenize(tok, c, spec).equals(back) and back.equals(values)
