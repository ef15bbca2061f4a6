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
    """Check OUTPUT against OUTPUT.manifest.json (hash; signature when present or required).

    A manifest that cannot be read raises :class:`ManifestError`; a mismatch :class:`VerifyError`.  Without
    ``public_key`` only the hash is checked, which proves nothing about who wrote the manifest (anyone who changes
    the file can re-hash it): the caller must say so."""
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
        except (InvalidSignature, KeyError, TypeError, ValueError):
            raise VerifyError("the manifest's signature is not valid for this public key (altered or wrong key)")\
                from None
    return doc


class ManifestMismatch(VerifyError):
    """The key, algorithm or policy given to detokenize is not what the delivery was made with."""


def load_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A delivery's manifest for ``detokenize``: :func:`read_manifest`, plus the fields the check against a keyset
    and policy needs (tool, operation, key name, version and fingerprint, algorithm, policy hash and columns);
    anything else is a one-line :class:`ManifestError`."""
    doc = read_manifest(path)
    if not isinstance(doc, dict) or doc.get("tool") != "tokenize-kit":
        raise ManifestError(f"{path} is not a tokenize-kit manifest (no \"tool\": \"tokenize-kit\")")
    for field, kind in (("output", dict), ("key", dict), ("policy", dict), ("algorithm", str), ("operation", str)):
        if not isinstance(doc.get(field), kind):
            what = "an object" if kind is dict else "a string"
            raise ManifestError(f"manifest {path} is malformed: field {field!r} is missing or not {what}")
    key, policy, output = doc["key"], doc["policy"], doc["output"]
    checks = (("key.name", key.get("name"), str), ("key.fingerprint", key.get("fingerprint"), str),
              ("policy.sha256", policy.get("sha256"), str), ("policy.columns", policy.get("columns"), dict),
              ("output.sha256", output.get("sha256"), str))
    for field, value, kind in checks:
        if not isinstance(value, kind):
            raise ManifestError(f"manifest {path} is malformed: field {field!r} is missing or of the wrong type")
    version = key.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ManifestError(f"manifest {path} is malformed: field 'key.version' is not a positive integer")
    derivation = key.get("derivation", 1)
    if not isinstance(derivation, int) or isinstance(derivation, bool):
        raise ManifestError(f"manifest {path} is malformed: field 'key.derivation' is not an integer")
    return doc


def _normal(entry: Any) -> Any:
    """A policy entry as it reads back from a manifest (tuples as lists, dates as text)."""
    return json.loads(json.dumps(entry, sort_keys=True, default=str))


def check_delivery(doc: dict[str, Any], policy: Any, keyset: Any, *, key_version: int | None = None,
                   source: str = "the manifest") -> int:
    """Check that ``policy`` and ``keyset`` are what the delivery described by ``doc`` (a :func:`load_manifest`
    document) was made with, and return the key version to reverse it with.

    Refuses (:class:`ManifestMismatch`, naming the field that differs and never a value or key) on: a manifest of
    another operation, the key name, the key version (the policy's ``key_version`` or ``key_version`` given here,
    or one the keyset lacks), the keyset fingerprint (another keyset, or a version replaced), the algorithm, the
    subkey derivation, or the policy.  The policy matches when its hash equals the manifest's, or else when every
    column it reverses is tokenized in the delivery exactly as it says (same entry under the same name, or, for a
    vendor's file with renamed columns, an entry equal to one of the delivery's): a results file carries only
    some of the delivery's columns."""
    if doc["operation"] != "tokenize":
        raise ManifestMismatch(f"{source} describes a {doc['operation']!r} output, not a tokenized delivery; give "
                               "the manifest written by `tokenize`")
    key = doc["key"]
    name, version = key["name"], int(key["version"])
    if policy.key != name:
        raise ManifestMismatch(f"key name mismatch: the policy uses key {policy.key!r}, the delivery was made with "
                               f"key {name!r} ({source})")
    for what, asked in (("the policy's key_version", policy.key_version), ("--key-version", key_version)):
        if asked is not None and asked != version:
            raise ManifestMismatch(f"key-version mismatch: {what} is {asked}, the delivery was made with version "
                                   f"{version} ({source}); leave it out to use the delivery's version")
    if version not in keyset.versions(name):
        raise ManifestMismatch(
            f"key-version mismatch: the delivery was made with key {name!r} version {version}, which this keyset "
            f"lacks (versions: {', '.join(map(str, keyset.versions(name)))}): another keyset?")
    if keyset.fingerprint(name, version) != key["fingerprint"]:
        raise ManifestMismatch(
            f"keyset fingerprint mismatch: key {name!r} version {version} of this keyset is not the key the delivery "
            f"was made with ({source}): another keyset, or a copy of it re-created; detokenizing would give wrong "
            "values")
    if policy.algorithm != doc["algorithm"]:
        raise ManifestMismatch(f"algorithm mismatch: the policy says {policy.algorithm}, the delivery was made with "
                               f"{doc['algorithm']} ({source})")
    if policy.derivation != key.get("derivation", 1):
        raise ManifestMismatch(f"derivation mismatch: the policy says derivation {policy.derivation}, the delivery "
                               f"was made with derivation {key.get('derivation', 1)} ({source})")
    if policy.sha256 != doc["policy"]["sha256"]:
        theirs = {str(k): _normal(v) for k, v in doc["policy"]["columns"].items()}
        for column, entry in policy.to_dict()["columns"].items():
            ours = _normal(entry)
            if column in theirs:
                if theirs[column] != ours:
                    raise ManifestMismatch(
                        f"policy hash mismatch: column {column!r} is tokenized differently in the delivery "
                        f"({source}); detokenize with the delivery's own policy entry for it")
            elif ours not in theirs.values():
                raise ManifestMismatch(
                    f"policy hash mismatch: column {column!r} is not in the delivery's policy and no column there is "
                    f"tokenized as it says ({source})")
    return version
