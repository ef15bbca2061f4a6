"""Keysets: named keys with versions, optional passphrase protection, and HKDF subkeys.

A keyset file is JSON::

    {"format": "tokenize-kit-keyset", "format_version": 1,
     "protection": null | {"kdf": "scrypt", "salt": B64, "n": 32768, "r": 8, "p": 1,
                           "cipher": "AES-256-GCM", "check": {"nonce": B64, "ciphertext": B64}},
     "keys": {NAME: {"primary": 1,
                     "versions": [{"version": 1, "created": "2026-01-01T00:00:00Z",
                                   "fingerprint": HEX16,
                                   "material": B64                          # unprotected
                                   | "nonce": B64, "ciphertext": B64}]}}}   # protected

Each version holds 256 bits of key material from ``os.urandom``.  Protected material is encrypted
with AES-256-GCM under a key derived from the passphrase with scrypt (n=2**15, r=8, p=1); the
additional authenticated data binds the key name and version, so moving ciphertext between entries
is detected.  A "check" entry (AES-GCM of a constant) tells a wrong passphrase from a tampered file.

Loading is defensive, since a keyset file may come from anywhere: only the scrypt parameters this version
writes are accepted (checked before deriving: they set scrypt's memory, and n = 2**24 costs 16 GB), a key
version listed twice or a JSON key given twice is refused, and a file readable by group or others gives a
warning (an error with ``strict=True``).

Subkeys, one per (primitive, purpose, domain), are derived from a version's material with HKDF-SHA256
(RFC 5869) as :mod:`tokenize_kit.subkeys` describes, so a phone and a national ID never share a key, no key
serves two primitives, and the same ID in two files (same domain) gets the same token.  Material never
appears in ``repr``, errors or logs; ``fingerprint`` is a one-way 64-bit identifier safe to print.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .primitives import hmac_sha256
from .strict_json import DuplicateKeyError, unique_keys
from .subkeys import DEFAULT_DERIVATION, FPE, derive

FORMAT = "tokenize-kit-keyset"
FORMAT_VERSION = 1
PASSPHRASE_ENV = "TOKENIZE_KIT_PASSPHRASE"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_CHECK_PLAINTEXT = b"tokenize-kit keyset passphrase check"
_FINGERPRINT_LABEL = b"tokenize-kit/v1 fingerprint"


class KeysetError(ValueError):
    """Base class of keyset problems; messages never contain key material or passphrases."""


class KeysetPermissionError(KeysetError):
    """The keyset file is readable by group or others and ``strict`` was asked for."""


class KeysetExistsError(KeysetError):
    """Refusing to overwrite an existing keyset file."""


class PassphraseRequiredError(KeysetError):
    """The keyset is protected and no passphrase was given."""


class WrongPassphraseError(KeysetError):
    """The passphrase does not open this keyset."""


class KeysetTamperedError(KeysetError):
    """Key material does not match its fingerprint or fails authentication."""


class UnknownKeyError(KeysetError):
    """No key of that name in the keyset."""


class UnknownKeyVersionError(KeysetError):
    """No such version of the key."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (ValueError, TypeError) as exc:
        raise KeysetError(f"keyset is malformed: {what} is not valid base64") from exc


def fingerprint_of(material: bytes) -> str:
    """A 64-bit one-way identifier of key material, safe to print and store beside it."""
    return hmac_sha256(material, _FINGERPRINT_LABEL).hex()[:16]


def _scrypt(passphrase: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _aad(name: str, version: int) -> bytes:
    return f"tokenize-kit/v1|{name}|{version}".encode()


@dataclass
class _Version:
    version: int
    created: str
    fingerprint: str
    material: bytes

    def __repr__(self) -> str:
        return f"_Version(version={self.version}, fingerprint={self.fingerprint!r}, material=<redacted>)"


class Keyset:
    """Named keys, each with versions of 256-bit material and a primary version.

    >>> ks = Keyset.generate()
    >>> ks.names(), ks.versions(), ks.primary_version()
    (['default'], [1], 1)
    >>> len(ks.subkey("eg_national_id"))
    32
    >>> "material" in repr(ks)
    False
    """

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, Any]] = {}
        self._protection: dict[str, Any] | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def generate(cls, name: str = "default") -> Keyset:
        ks = cls()
        ks.add_key(name)
        return ks

    def add_key(self, name: str) -> None:
        if not name or not isinstance(name, str):
            raise KeysetError("a key needs a non-empty name")
        if name in self._keys:
            raise KeysetError(f"key {name!r} already exists; use rotate to add a version")
        self._keys[name] = {"primary": 1, "versions": {1: self._new_version(1)}}

    @staticmethod
    def _new_version(version: int) -> _Version:
        material = os.urandom(32)
        created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return _Version(version, created, fingerprint_of(material), material)

    def rotate(self, name: str = "default") -> int:
        """Add a new version of ``name`` and make it primary; returns the new version number."""
        entry = self._entry(name)
        version = max(entry["versions"]) + 1
        entry["versions"][version] = self._new_version(version)
        entry["primary"] = version
        return version

    # -- queries --------------------------------------------------------------------------------
    def _entry(self, name: str) -> dict[str, Any]:
        entry = self._keys.get(name)
        if entry is None:
            raise UnknownKeyError(f"no key named {name!r} in the keyset (keys: {', '.join(self.names())})")
        return entry

    def names(self) -> list[str]:
        return sorted(self._keys)

    def versions(self, name: str = "default") -> list[int]:
        return sorted(self._entry(name)["versions"])

    def primary_version(self, name: str = "default") -> int:
        return int(self._entry(name)["primary"])

    def check_version(self, name: str, version: int) -> None:
        if version not in self._entry(name)["versions"]:
            raise UnknownKeyVersionError(
                f"key {name!r} has no version {version} (versions: {', '.join(map(str, self.versions(name)))})"
            )

    def _version(self, name: str, version: int | None) -> _Version:
        entry = self._entry(name)
        v = entry["primary"] if version is None else version
        self.check_version(name, v)
        return entry["versions"][v]

    def fingerprint(self, name: str = "default", version: int | None = None) -> str:
        return self._version(name, version).fingerprint

    def subkey(self, domain: str, *, purpose: str = FPE, algorithm: str = "ff1",
               derivation: int = DEFAULT_DERIVATION, name: str = "default", version: int | None = None) -> bytes:
        """The 32-byte subkey of ``purpose`` in ``domain`` (see :mod:`tokenize_kit.subkeys`) under key ``name`` at
        ``version`` (primary if None); ``algorithm`` (``ff1`` or ``ff3-1``) matters for the ``fpe`` purpose."""
        return derive(self._version(name, version).material, purpose, domain, algorithm=algorithm,
                      derivation=derivation)

    @property
    def protected(self) -> bool:
        return self._protection is not None

    def describe(self) -> list[dict[str, Any]]:
        """One row per key version: name, version, created, primary, fingerprint (never material)."""
        rows = []
        for name in self.names():
            entry = self._keys[name]
            for v in sorted(entry["versions"]):
                ver = entry["versions"][v]
                rows.append(
                    {
                        "name": name,
                        "version": v,
                        "created": ver.created,
                        "primary": v == entry["primary"],
                        "fingerprint": ver.fingerprint,
                    }
                )
        return rows

    def __repr__(self) -> str:
        keys = ", ".join(f"{n}: v{self.versions(n)}" for n in self.names())
        return f"Keyset({keys}; protected={self.protected})"

    __str__ = __repr__

    def __reduce__(self):  # a keyset is never pickled (e.g. into a Spark closure) by accident
        raise TypeError("Keyset objects cannot be pickled; ship derived subkeys instead")

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *, passphrase: str | None = None, overwrite: bool = False) -> None:
        """Write the keyset as JSON with mode 0600, atomically; protect it when a passphrase is given."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise KeysetExistsError(f"{path} already exists; refusing to overwrite a keyset")
        doc: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "protection": None, "keys": {}}
        kek = None
        if passphrase is not None:
            if not passphrase:
                raise KeysetError("the passphrase must not be empty")
            salt = os.urandom(16)
            kek = _scrypt(passphrase, salt)
            nonce = os.urandom(12)
            doc["protection"] = {
                "kdf": "scrypt",
                "salt": _b64(salt),
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "cipher": "AES-256-GCM",
                "check": {"nonce": _b64(nonce), "ciphertext": _b64(AESGCM(kek).encrypt(nonce, _CHECK_PLAINTEXT, None))},
            }
        for name in self.names():
            entry = self._keys[name]
            versions = []
            for v in sorted(entry["versions"]):
                ver = entry["versions"][v]
                item: dict[str, Any] = {"version": v, "created": ver.created, "fingerprint": ver.fingerprint}
                if kek is None:
                    item["material"] = _b64(ver.material)
                else:
                    nonce = os.urandom(12)
                    item["nonce"] = _b64(nonce)
                    item["ciphertext"] = _b64(AESGCM(kek).encrypt(nonce, ver.material, _aad(name, v)))
                versions.append(item)
            doc["keys"][name] = {"primary": entry["primary"], "versions": versions}
        data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        _write_private(path, data, overwrite=overwrite)
        self._protection = doc["protection"]

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: str | None = None, *, strict: bool = False) -> Keyset:
        """Read a keyset file; a protected one needs ``passphrase`` or ``$TOKENIZE_KIT_PASSPHRASE``.

        A file readable by group or others is a warning, or with ``strict`` a :class:`KeysetPermissionError`:
        whoever can read an unprotected keyset can reverse every token (and try passphrases on a protected one)."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                mode = os.fstat(fh.fileno()).st_mode
                raw = fh.read(MAX_KEYSET_BYTES + 1)
        except FileNotFoundError:
            raise KeysetError(
                f"keyset file {path} does not exist (create one with: tokenize-kit keys create PATH --protect)"
            ) from None
        except OSError as exc:
            raise KeysetError(f"cannot read keyset file {path}: {exc.strerror}") from None
        if len(raw) > MAX_KEYSET_BYTES:
            raise KeysetError(f"{path} is not a tokenize-kit keyset (larger than {MAX_KEYSET_BYTES >> 20} MiB)")
        if os.name == "posix" and mode & 0o077:
            problem = (f"keyset {path} is readable by group or others (mode {mode & 0o777:04o}); "
                       f"restrict it with: chmod 600 {path}")
            if strict:
                raise KeysetPermissionError(problem + " (refused under --strict)")
            warnings.warn(problem, stacklevel=2)
        try:
            doc = json.loads(raw.decode("utf-8"), object_pairs_hook=unique_keys)
        except DuplicateKeyError as exc:
            raise KeysetError(f"keyset {path} is malformed: the JSON key {exc.key!r} is given twice (file was "
                              "altered?)") from None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise KeysetError(f"{path} is not a tokenize-kit keyset (not valid JSON)") from None
        return cls._from_doc(doc, path, passphrase)

    @classmethod
    def _from_doc(cls, doc: Any, path: Path, passphrase: str | None) -> Keyset:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeysetError(f"{path} is not a tokenize-kit keyset")
        if doc.get("format_version") != FORMAT_VERSION:
            raise KeysetError(
                f"{path} has keyset format_version {doc.get('format_version')!r}; this tokenize-kit reads "
                f"version {FORMAT_VERSION} (upgrade tokenize-kit)"
            )
        protection = doc.get("protection")
        kek = None
        if protection is not None:
            if passphrase is None:
                passphrase = os.environ.get(PASSPHRASE_ENV)
            if passphrase is None:
                raise PassphraseRequiredError(
                    f"keyset {path} is protected: set {PASSPHRASE_ENV} or enter the passphrase when prompted"
                )
            _check_protection(protection, path)
            try:
                salt = _unb64(protection["salt"], "protection.salt")
                kek = _scrypt(passphrase, salt, int(protection["n"]), int(protection["r"]), int(protection["p"]))
                check = protection["check"]
                AESGCM(kek).decrypt(
                    _unb64(check["nonce"], "check nonce"), _unb64(check["ciphertext"], "check ciphertext"), None
                )
            except InvalidTag:
                raise WrongPassphraseError(f"wrong passphrase for keyset {path}") from None
            except (KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, KeysetError):
                    raise
                raise KeysetError(f"keyset {path} is malformed: bad protection block") from None
        else:
            warnings.warn(
                f"keyset {path} is not passphrase-protected; anyone who can read the file can reverse tokens "
                "(protect it with: tokenize-kit keys create PATH --protect)",
                stacklevel=2,
            )
        ks = cls()
        ks._protection = protection
        keys = doc.get("keys")
        if not isinstance(keys, dict) or not keys:
            raise KeysetError(f"keyset {path} has no keys")
        for name, entry in keys.items():
            try:
                primary = int(entry["primary"])
                versions: dict[int, _Version] = {}
                for item in entry["versions"]:
                    v = int(item["version"])
                    if v in versions:
                        raise KeysetError(f"keyset {path}: key {name!r} lists version {v} twice (file was altered?)")
                    if kek is None:
                        material = _unb64(item["material"], f"key {name!r} version {v}")
                    else:
                        try:
                            material = AESGCM(kek).decrypt(
                                _unb64(item["nonce"], "nonce"), _unb64(item["ciphertext"], "ciphertext"), _aad(name, v)
                            )
                        except InvalidTag:
                            raise KeysetTamperedError(
                                f"keyset {path}: key {name!r} version {v} fails authentication (file was altered)"
                            ) from None
                    expected = str(item["fingerprint"])
                    if len(material) != 32 or not hmac.compare_digest(fingerprint_of(material), expected):
                        raise KeysetTamperedError(
                            f"keyset {path}: key {name!r} version {v} does not match its fingerprint "
                            "(file was altered)"
                        )
                    versions[v] = _Version(v, str(item.get("created", "")), str(item["fingerprint"]), material)
            except (KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, KeysetError):
                    raise
                raise KeysetError(f"keyset {path} is malformed: key {name!r} has missing or bad fields") from None
            if primary not in versions:
                raise KeysetError(f"keyset {path}: key {name!r} names primary version {primary}, which it lacks")
            ks._keys[name] = {"primary": primary, "versions": versions}
        return ks


def as_keyset(keyset: Any, passphrase: str | None = None) -> Any:
    """``keyset`` itself, or, given a path (``str`` / ``PathLike``), the keyset file opened the way the command
    opens it: the passphrase from ``passphrase``, else ``$TOKENIZE_KIT_PASSPHRASE``, else a hidden prompt when a
    terminal is attached.  The Python and Spark APIs accept either, so ``tokenize_table(df, policy, "keys.json")``
    works as the command line does."""
    if not isinstance(keyset, (str, os.PathLike)):
        return keyset
    try:
        return Keyset.load(keyset, passphrase)
    except PassphraseRequiredError:
        import sys

        if not sys.stdin.isatty():
            raise
        from getpass import getpass

        return Keyset.load(keyset, getpass(f"Passphrase for {keyset}: "))


#: the largest keyset file read (one key version takes about 200 bytes)
MAX_KEYSET_BYTES = 1 << 20


def _check_protection(protection: Any, path: Path) -> None:
    """Refuse, before deriving anything, a protection block other than the one this version writes.

    scrypt's n, r and p set its memory (128 * n * r bytes) and time, and they come from the file: n = 2**24
    would cost 16 GB before the passphrase could even be found wrong."""
    if not isinstance(protection, dict):
        raise KeysetError(f"keyset {path} is malformed: bad protection block")
    if protection.get("kdf") != "scrypt" or protection.get("cipher") != "AES-256-GCM":
        raise KeysetError(f"keyset {path}: protection must be scrypt with AES-256-GCM, as tokenize-kit writes it")
    params = tuple(protection.get(k) for k in ("n", "r", "p"))
    if params != (SCRYPT_N, SCRYPT_R, SCRYPT_P) or any(isinstance(x, bool) for x in params):
        raise KeysetError(
            f"keyset {path}: scrypt parameters other than the ones tokenize-kit writes (n=2**15, r=8, p=1) are "
            "refused before deriving (they set its memory and time); the file was altered or is not ours")


def _write_private(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` with mode 0600 through a partial file + fsync + placing (see
    :mod:`tokenize_kit.commit`): without ``overwrite`` an existing keyset is never clobbered, not even by a
    concurrent writer; with it (``rotate``) the file is replaced in one rename, so it is always whole."""
    from .commit import CommitSet, OutputExists

    try:
        with CommitSet([path], overwrite=overwrite) as commit:
            commit.write_bytes(path, data)  # (partial files are created with mode 0600)
            commit.commit()
    except OutputExists:
        raise KeysetExistsError(f"{path} already exists; refusing to overwrite a keyset") from None
