"""Subkey derivations: tokens made under derivation 1 (before derivation 2 existed) still come out and reverse the
same; derivation 2 (the default) gives other tokens that round-trip; no subkey serves two primitives; the
derivation is recorded in policies and manifests; every type declares the subkeys it uses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import warnings
from pathlib import Path

import pyarrow as pa
import pytest

from tokenize_kit.keys import Keyset, fingerprint_of
from tokenize_kit.pii import registry
from tokenize_kit.policy import Policy, PolicyError
from tokenize_kit.spark import DerivedKeyset
from tokenize_kit.subkeys import DEFAULT_DERIVATION, PURPOSES, derive, info, primitive
from tokenize_kit.table import detokenize_table, policy_subkeys, tokenize_table

FIXTURE = json.loads((Path(__file__).parent / "data" / "tokens-v1.json").read_text(encoding="utf-8"))
ALGORITHMS = ("ff1", "ff3-1")
CASES = [(case, alg) for case in FIXTURE["cases"] for alg in ALGORITHMS]
REVERSIBLE = {"fpe"}


@pytest.fixture(scope="module")
def keyset(tmp_path_factory) -> Keyset:
    """The fixture's keyset: one key, version 1, material 0x00..0x1f (written as a keyset file and loaded)."""
    material = bytes.fromhex(FIXTURE["material_hex"])
    doc = {"format": "tokenize-kit-keyset", "format_version": 1, "protection": None,
           "keys": {"default": {"primary": 1, "versions": [
               {"version": 1, "created": "2026-01-01T00:00:00Z", "fingerprint": fingerprint_of(material),
                "material": base64.b64encode(material).decode("ascii")}]}}}
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Keyset.load(path)


def _policy(case: dict, algorithm: str, derivation: int | None) -> dict:
    doc = {"algorithm": algorithm, "columns": {case["column"]: case["spec"]}}
    if derivation is not None:
        doc["derivation"] = derivation
    return doc


def _table(case: dict) -> pa.Table:
    return pa.table({case["column"]: pa.array(FIXTURE["inputs"][case["column"]], pa.string())})


def _tokens(table: pa.Table) -> list:
    return table.column(0).to_pylist()


def _reversible(values: list, tokens: list) -> list:
    """The values at the rows whose token can be reversed (not redacted)."""
    return [v for v, t in zip(values, tokens, strict=True) if t != "[REDACTED]"]


@pytest.mark.parametrize(("case", "algorithm"), CASES, ids=[f"{c['name']}-{a}" for c, a in CASES])
def test_derivation_1_gives_and_reverses_the_recorded_tokens(keyset, case, algorithm):
    want = case["tokens"][algorithm]
    policy = _policy(case, algorithm, 1)
    assert _tokens(tokenize_table(_table(case), policy, keyset)) == want
    if case["spec"].get("method", "fpe") in REVERSIBLE:
        back = detokenize_table(pa.table({case["column"]: pa.array(want, pa.string())}), policy, keyset)
        assert _reversible(_tokens(back), want) == _reversible(FIXTURE["inputs"][case["column"]], want)


@pytest.mark.parametrize(("case", "algorithm"), CASES, ids=[f"{c['name']}-{a}" for c, a in CASES])
def test_derivation_2_is_the_default_gives_other_tokens_and_round_trips(keyset, case, algorithm):
    table = _table(case)
    new = _tokens(tokenize_table(table, _policy(case, algorithm, None), keyset))
    assert new == _tokens(tokenize_table(table, _policy(case, algorithm, 2), keyset))
    old = case["tokens"][algorithm]
    inputs = FIXTURE["inputs"][case["column"]]
    # every output that depends on a key changes (the others: empty cells, redacted invalid values)
    keyed = [i for i, (a, b) in enumerate(zip(inputs, old, strict=True)) if a != b and b != "[REDACTED]"]
    changed = [i for i in keyed if new[i] != old[i]]
    assert keyed and len(changed) >= 0.8 * len(keyed), (len(changed), len(keyed))
    if case["spec"].get("method", "fpe") in REVERSIBLE:
        back = detokenize_table(pa.table({case["column"]: pa.array(new, pa.string())}),
                                _policy(case, algorithm, None), keyset)
        assert _reversible(_tokens(back), new) == _reversible(inputs, new)


def _rfc5869(ikm: bytes, salt: bytes, info_: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 written out from RFC 5869, independent of the code under test."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info_ + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def test_derivation_2_is_the_documented_scheme():
    material = bytes(range(32))
    assert derive(material, "fpe", "eg_national_id") == _rfc5869(material, b"tokenize-kit/v2",
                                                                 b"ff1|fpe|eg_national_id")
    assert derive(material, "fpe", "phone", algorithm="ff3-1") == _rfc5869(material, b"tokenize-kit/v2",
                                                                           b"ff3-1|fpe|phone")
    assert derive(material, "permutation", "person_name") == _rfc5869(material, b"tokenize-kit/v2",
                                                                      b"aes|permutation|person_name")
    assert derive(material, "keep-shift", "iban") == _rfc5869(material, b"tokenize-kit/v2", b"aes|keep-shift|iban")
    assert derive(material, "surrogate", "iban") == _rfc5869(material, b"tokenize-kit/v2", b"aes|surrogate|iban")
    assert derive(material, "hash", "iban") == _rfc5869(material, b"tokenize-kit/v2", b"hmac-sha256|hash|iban")
    # derivation 1, as it always was
    assert derive(material, "keep-shift", "iban", derivation=1) == _rfc5869(material, b"tokenize-kit/v1",
                                                                            b"prp:iban/keep-shift")


def test_no_derivation_2_key_serves_two_primitives_or_purposes():
    """Under derivation 2 every (primitive, purpose, domain) has its own key; derivation 1 shared the surrogate
    (AES) and hash (HMAC) key, and the FF1 and FF3-1 key, of a domain."""
    material = os.urandom(32)
    domains = ("eg_national_id", "phone", "iban", "iban/generic", "x|y")
    keys = {}
    for purpose, domain, alg in itertools.product(PURPOSES, domains, ALGORITHMS):
        keys.setdefault(derive(material, purpose, domain, algorithm=alg), set()).add(
            (primitive(purpose, alg), purpose, domain))
    assert all(len(uses) == 1 for uses in keys.values())
    assert derive(material, "surrogate", "iban", derivation=1) == derive(material, "hash", "iban", derivation=1)
    assert info("fpe", "a", algorithm="ff1", derivation=1) == info("fpe", "a", algorithm="ff3-1", derivation=1)


def test_policy_records_the_derivation_and_old_hashes_still_match():
    doc = {"columns": {"id": {"type": "eg_national_id"}}}
    assert DEFAULT_DERIVATION == 2 and Policy.from_dict(doc).derivation == 2
    v1 = Policy.from_dict({**doc, "derivation": 1})
    assert v1.to_dict()["derivation"] == 1 and Policy.from_dict(v1.to_dict()).derivation == 1
    # the hash of a derivation-1 policy is the hash the same policy had before the setting existed
    old_canonical = {"version": 1, "key": "default", "algorithm": "ff1", "columns": {"id": {"type": "eg_national_id"}}}
    old_hash = hashlib.sha256(json.dumps(old_canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert v1.sha256 == old_hash != Policy.from_dict(doc).sha256
    for bad in (3, 0, "2", True, None):
        with pytest.raises(PolicyError, match="derivation"):
            Policy.from_dict({**doc, "derivation": bad})


def test_manifest_records_the_derivation(tmp_path, keyset):
    from tokenize_kit.pipeline import run

    src = tmp_path / "in.csv"
    src.write_text("id\n29801010123456\n", encoding="utf-8")
    for derivation in (1, 2):
        result = run(src, tmp_path / f"out{derivation}.csv",
                     {"derivation": derivation, "columns": {"id": {"type": "eg_national_id"}}}, keyset)
        assert result.manifest["key"]["derivation"] == derivation
        assert result.report.derivation == derivation


def _all_types_policy(derivation: int, algorithm: str) -> dict:
    columns = {}
    for name in registry.names():
        columns[name] = {"type": name}
        columns[name + "/d"] = {"type": name, "domain": "crm_" + name}
        if name in ("eg_national_id", "sa_national_id", "iban"):
            columns[name + "/s"] = {"type": name, "method": "surrogate"}
        columns[name + "/h"] = {"type": name, "method": "hash"}
    columns["eg_national_id/k"] = {"type": "eg_national_id", "keep": ["gender", "governorate"]}
    columns["email/h2"] = {"type": "email", "keep_domain": False}
    columns["iban/k"] = {"type": "iban", "keep_bank": False}
    return {"algorithm": algorithm, "derivation": derivation, "columns": columns}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("derivation", [1, 2])
def test_declared_subkeys_are_all_a_policy_uses(keyset, derivation, algorithm):
    """Tokenizing with only the subkeys the policy's types declare (what Spark ships) gives the same tokens as the
    whole keyset: a type that used an undeclared key would fail here."""
    policy = Policy.from_dict(_all_types_policy(derivation, algorithm))
    inputs = FIXTURE["inputs"]
    source = {"eg_national_id": "eg_id", "sa_national_id": "sa_id", "eg_phone": "eg_mobile", "sa_phone": "sa_mobile",
              "phone": "any_phone", "email": "email", "person_name": "name_ar", "eg_address": "eg_address",
              "sa_address": "sa_address", "iban": "sa_iban", "free_text": "notes"}
    missing = set(registry.names()) - set(source)
    assert not missing, f"add sample values for the new type(s) {missing}"
    table = pa.table({col: pa.array(inputs[source[spec.type]], pa.string()) for col, spec in policy.columns.items()})
    derived = DerivedKeyset.for_policy(keyset, policy)
    assert set(derived.domains()) == policy_subkeys(policy)
    whole = tokenize_table(table, policy, keyset)
    assert tokenize_table(table, policy, derived).equals(whole)
    assert detokenize_table(whole, policy, derived).equals(detokenize_table(whole, policy, keyset))
