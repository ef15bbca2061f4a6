"""Delivery manifests (``OUTPUT.manifest.json``) and their Ed25519 signatures.

A manifest says what a delivery is without revealing anything in it: tool version, policy and its
SHA-256, key names and versions (with fingerprints, never material), algorithm, input and output
SHA-256, row count, per-column counts, timings.  ``verify`` lets the vendor check that the file they
received is the one described, and, when signed, that the company produced it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .keys import PASSPHRASE_ENV

MANIFEST_SUFFIX = ".manifest.json"


class VerifyError(ValueError):
    """A delivery does not match its manifest or signature."""


class ManifestError(VerifyError):
    """A manifest that cannot be read or is not a manifest (not JSON, not UTF-8, wrong shape): an input problem."""


#: a manifest is a few KB; anything this large is not one (and is not read into memory)
MAX_MANIFEST_BYTES = 16 << 20


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest at ``path`` as a dict whose fields the tool relies on have their types, or a
    :class:`ManifestError` naming the path and what is wrong (never a value from the file)."""
    from .commit import describe_os_error

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise ManifestError(f"no manifest at {path}") from None
    except OSError as exc:
        raise ManifestError(f"cannot read the manifest {path}: {describe_os_error(exc)}") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest {path} is larger than {MAX_MANIFEST_BYTES >> 20} MiB: not a manifest")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ManifestError(f"manifest {path} is not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError):
        raise ManifestError(f"manifest {path} is not valid JSON") from None
    problems = _shape_problems(doc)
    if problems:
        raise ManifestError(f"manifest {path} is malformed: {'; '.join(problems)}")
    return doc


def _shape_problems(doc: Any) -> list[str]:
    if not isinstance(doc, dict):
        return [f"it is a JSON {type(doc).__name__}, not an object"]
    problems = []
    output = doc.get("output")
    if not isinstance(output, dict) or not isinstance(output.get("sha256"), str):
        problems.append("'output.sha256' is missing or not text")
    if "rows" in doc and (not isinstance(doc["rows"], int) or isinstance(doc["rows"], bool)):
        problems.append("'rows' is not an integer")
    for name in ("key", "policy", "input", "columns"):
        if name in doc and not isinstance(doc[name], dict):
            problems.append(f"{name!r} is not an object")
    sig = doc.get("signature")
    if sig is not None and (not isinstance(sig, dict) or not isinstance(sig.get("value"), str)):
        problems.append("'signature' is not an object with a text 'value'")
    return problems


def manifest_path(output: str | os.PathLike[str]) -> Path:
    return Path(str(output) + MANIFEST_SUFFIX)


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def canonical(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def create_signing_key(private_path: Path, public_path: Path, passphrase: str | None, *,
                       overwrite: bool = False) -> str:
    """Write an Ed25519 key pair (private PEM 0600, optionally encrypted) as one commit; returns the public key id.
    Existing files are refused unless ``overwrite`` (then they are replaced only once both new files are written)."""
    from .commit import CommitSet, OutputExists

    key = Ed25519PrivateKey.generate()
    enc = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
           else serialization.NoEncryption())
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        with CommitSet([private_path, public_path], overwrite=overwrite) as commit:
            commit.write_bytes(private_path, private_pem)  # (partial files are created with mode 0600)
            commit.write_bytes(public_path, public_pem)
            commit.commit()
    except OutputExists as exc:
        raise FileExistsError(f"{exc}") from None
    return key_id(key.public_key())


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private(path: Path) -> Ed25519PrivateKey:
    data = path.read_bytes()
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        if not passphrase:
            raise VerifyError(f"signing key {path} is encrypted: set {PASSPHRASE_ENV}") from None
        try:
            key = serialization.load_pem_private_key(data, password=passphrase.encode())
        except ValueError:
            raise VerifyError(f"wrong passphrase for signing key {path}") from None
    except ValueError:
        raise VerifyError(f"{path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise VerifyError(f"{path} is not an Ed25519 key (make one with: tokenize-kit keys create-signing)")
    return key


def sign(doc: dict[str, Any], private: Ed25519PrivateKey) -> dict[str, Any]:
    signed = dict(doc)
    signed["signature"] = {
        "algorithm": "Ed25519",
        "key_id": key_id(private.public_key()),
        "value": base64.b64encode(private.sign(canonical(doc))).decode("ascii"),
    }
    return signed


def verify(output: str | os.PathLike[str], public_key: Path | None = None) -> dict[str, Any]:
    """Check OUTPUT against OUTPUT.manifest.json (hash; signature when present or required)."""
    output = Path(output)
    mpath = manifest_path(output)
    if not output.exists():
        raise VerifyError(f"delivery file {output} does not exist")
    if not mpath.exists():
        raise VerifyError(f"no manifest beside the delivery (expected {mpath})")
    doc = read_manifest(mpath)
    try:
        actual = sha256_file(output)
    except OSError as exc:
        from .commit import describe_os_error

        raise ManifestError(f"cannot read {output}: {describe_os_error(exc)}") from None
    if actual != doc["output"]["sha256"]:
        raise VerifyError(f"{output} does not match its manifest: SHA-256 differs (the file was changed or replaced)")
    sig = doc.get("signature")
    if public_key is not None:
        if not sig:
            raise VerifyError("the manifest is not signed, but a public key was given")
        try:
            pub = serialization.load_pem_public_key(public_key.read_bytes())
        except ValueError:
            raise VerifyError(f"{public_key} is not a PEM public key") from None
        if not isinstance(pub, Ed25519PublicKey):
            raise VerifyError(f"{public_key} is not an Ed25519 public key")
        try:
            pub.verify(base64.b64decode(sig["value"]), canonical(doc))
        except (InvalidSignature, KeyError, ValueError):
            raise VerifyError("the manifest's signature is not valid for this public key (altered or wrong key)")\
                from None
    return doc
