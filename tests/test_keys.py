"""Keysets: file mode, no overwrite, rotation, protection, tampering, subkeys, no leaks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import warnings

import pytest
from click.testing import CliRunner

from tokenize_kit.cli import cli
from tokenize_kit.keys import (
    Keyset,
    KeysetError,
    KeysetExistsError,
    KeysetTamperedError,
    PassphraseRequiredError,
    UnknownKeyError,
    UnknownKeyVersionError,
    WrongPassphraseError,
)
from tokenize_kit.subkeys import derive


def _rfc5869(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 written out from RFC 5869, independent of the code under test."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def test_hkdf_derivation_is_documented_scheme():
    material = bytes(range(32))
    expected = _rfc5869(material, b"tokenize-kit/v1", b"fpe:eg_national_id")
    assert derive(material, "fpe", "eg_national_id", derivation=1) == expected


def test_subkeys_independent_across_domain_purpose_version():
    ks = Keyset.generate()
    v2 = ks.rotate()
    keys = {
        ks.subkey("eg_national_id"),
        ks.subkey("phone"),
        ks.subkey("phone", purpose="hash"),
        ks.subkey("phone", version=1),
    }
    assert len(keys) == 4  # every (domain, purpose, version) gives its own subkey
    assert ks.subkey("phone") == ks.subkey("phone", version=v2) != ks.subkey("phone", version=1)
    assert all(len(k) == 32 for k in keys)


def test_save_mode_0600_and_refuses_overwrite(tmp_path):
    path = tmp_path / "keys.json"
    ks = Keyset.generate()
    ks.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(KeysetExistsError):
        Keyset.generate().save(path)
    with pytest.warns(UserWarning, match="not passphrase-protected"):
        again = Keyset.load(path)
    assert again.subkey("x") == ks.subkey("x")


def test_protected_round_trip_and_errors(tmp_path, monkeypatch):
    path = tmp_path / "keys.json"
    ks = Keyset.generate()
    ks.save(path, passphrase="correct horse")
    text = path.read_text()
    doc = json.loads(text)
    assert "material" not in text and doc["protection"]["kdf"] == "scrypt" and doc["protection"]["n"] == 2**15
    monkeypatch.delenv("TOKENIZE_KIT_PASSPHRASE", raising=False)
    with pytest.raises(PassphraseRequiredError):
        Keyset.load(path)
    with pytest.raises(WrongPassphraseError) as info:
        Keyset.load(path, passphrase="wrong guess")
    assert "wrong guess" not in str(info.value)
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "correct horse")
    assert Keyset.load(path).subkey("d") == ks.subkey("d")


def test_tampered_unprotected_material(tmp_path):
    path = tmp_path / "keys.json"
    Keyset.generate().save(path)
    doc = json.loads(path.read_text())
    doc["keys"]["default"]["versions"][0]["material"] = base64.b64encode(os.urandom(32)).decode()
    path.write_text(json.dumps(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(KeysetTamperedError):
            Keyset.load(path)


def test_tampered_protected_ciphertext(tmp_path):
    path = tmp_path / "keys.json"
    ks = Keyset.generate()
    ks.rotate()
    ks.save(path, passphrase="pw")
    doc = json.loads(path.read_text())
    v = doc["keys"]["default"]["versions"]
    v[0]["ciphertext"], v[1]["ciphertext"] = v[1]["ciphertext"], v[0]["ciphertext"]  # swap entries
    path.write_text(json.dumps(doc))
    with pytest.raises(KeysetTamperedError):
        Keyset.load(path, passphrase="pw")


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"format": "something-else"}),
        json.dumps({"format": "tokenize-kit-keyset", "format_version": 99}),
    ],
)
def test_malformed_files(tmp_path, content):
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(KeysetError):
        Keyset.load(path)


def test_unknown_key_and_version():
    ks = Keyset.generate()
    with pytest.raises(UnknownKeyVersionError):
        ks.subkey("x", version=7)
    with pytest.raises(UnknownKeyError):
        ks.subkey("x", name="nope")


def test_material_never_in_repr_or_describe():
    ks = Keyset.generate()
    material = ks._keys["default"]["versions"][1].material
    for text in (repr(ks), str(ks), json.dumps(ks.describe()), repr(ks._keys)):
        assert material.hex() not in text and base64.b64encode(material).decode() not in text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(ks)


def test_cli_create_rotate_show(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "pw-for-test")
    runner = CliRunner()
    path = tmp_path / "k.json"
    res = runner.invoke(cli, ["keys", "create", str(path), "--protect"])
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    res = runner.invoke(cli, ["keys", "create", str(path)])
    assert res.exit_code != 0 and "refusing to overwrite" in res.output
    res = runner.invoke(cli, ["keys", "rotate", str(path)])
    assert res.exit_code == 0 and "version 2" in res.output
    res = runner.invoke(cli, ["keys", "show", str(path)])
    assert res.exit_code == 0
    ks = Keyset.load(path)
    for version in (1, 2):
        material = ks._keys["default"]["versions"][version].material
        assert base64.b64encode(material).decode() not in res.output and material.hex() not in res.output
        assert ks.fingerprint("default", version) in res.output
    assert "pw-for-test" not in res.output
    monkeypatch.setenv("TOKENIZE_KIT_PASSPHRASE", "not-the-passphrase")
    res = runner.invoke(cli, ["keys", "show", str(path)])
    assert res.exit_code == 2 and "wrong passphrase" in res.output and "not-the-passphrase" not in res.output


def test_cli_has_no_key_material_option():
    runner = CliRunner()
    for cmd in (["keys", "create", "--help"], ["keys", "rotate", "--help"]):
        out = runner.invoke(cli, cmd).output
        assert "--key " not in out and "--material" not in out and "--passphrase" not in out
