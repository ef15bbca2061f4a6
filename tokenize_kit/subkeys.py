"""Subkeys: one key per (primitive, purpose, domain), derived from a keyset's key material with HKDF-SHA256.

A PII type never sees key material: it asks its :class:`~tokenize_kit.pii.base.Crypto` for the key of a
*purpose* in a *domain* (``eg_national_id``, ``phone``, ``email/host`` ...), and the purpose fixes the
primitive the key is used with:

=============== ================================ ==================================================
purpose         primitive                        used for
=============== ================================ ==================================================
``fpe``         FF1 or FF3-1 (the policy's)      format-preserving encryption
``permutation`` AES (:func:`~tokenize_kit.primitives.cyclic_permutation`) tables of domains below 10**6
``keep-shift``  AES (PRF)                        offsets binding parts kept in clear
``surrogate``   AES (PRF)                        the irreversible ``surrogate`` method
``hash``        HMAC-SHA256                      the irreversible ``hash`` method
=============== ================================ ==================================================

Two derivations exist; the policy's ``derivation`` setting selects one and every delivery manifest records it
(``key.derivation``).

* Derivation 2 (the default)::

      subkey = HKDF-SHA256(ikm=material, salt=b"tokenize-kit/v2",
                           info=f"{primitive}|{purpose}|{domain}".encode("utf-8"), length=32)

  with ``primitive`` one of ``ff1``, ``ff3-1``, ``aes``, ``hmac-sha256`` as in the table.  No key serves two
  primitives or two purposes.

* Derivation 1 (tokens made before derivation 2 existed; kept so they can still be reversed)::

      subkey = HKDF-SHA256(ikm=material, salt=b"tokenize-kit/v1",
                           info=f"{old_purpose}:{domain}{suffix}".encode("utf-8"), length=32)

  with ``old_purpose`` ``fpe`` (FF1 and FF3-1 alike), ``prp`` (``permutation``; ``keep-shift`` with the
  suffix ``/keep-shift``; ``date-shift``, added after derivation 1, with the suffix ``/date-shift``) or
  ``hmac`` (``surrogate`` and ``hash`` alike: one key used with AES and HMAC, which is why derivation 2
  exists).

>>> material = bytes(range(32))
>>> derive(material, "fpe", "eg_national_id", derivation=1).hex()[:16]
'69d392f5faa55dd0'
>>> info("surrogate", "iban", algorithm="ff1", derivation=1)
(b'tokenize-kit/v1', b'hmac:iban')
>>> info("hash", "iban", algorithm="ff1", derivation=1)
(b'tokenize-kit/v1', b'hmac:iban')
"""

from __future__ import annotations

from .primitives import hkdf_sha256

FPE = "fpe"
PERMUTATION = "permutation"
KEEP_SHIFT = "keep-shift"
SURROGATE = "surrogate"
HASH = "hash"
DATE_SHIFT = "date-shift"
PURPOSES = (FPE, PERMUTATION, KEEP_SHIFT, SURROGATE, HASH, DATE_SHIFT)

#: the primitive each purpose's key is used with (``fpe``: the policy's algorithm)
PRIMITIVES = {PERMUTATION: "aes", KEEP_SHIFT: "aes", SURROGATE: "aes", HASH: "hmac-sha256", DATE_SHIFT: "aes"}
ALGORITHMS = ("ff1", "ff3-1")

DERIVATIONS = (1, 2)
#: the derivation of new work
DEFAULT_DERIVATION = 2

#: derivation 1: purpose -> (purpose label, domain suffix)
_V1 = {FPE: ("fpe", ""), PERMUTATION: ("prp", ""), KEEP_SHIFT: ("prp", "/keep-shift"), SURROGATE: ("hmac", ""),
       HASH: ("hmac", ""), DATE_SHIFT: ("prp", "/date-shift")}


def primitive(purpose: str, algorithm: str) -> str:
    """The primitive a ``purpose`` key is used with under the policy ``algorithm`` (``ff1`` or ``ff3-1``)."""
    if purpose == FPE:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm; choose one of: {', '.join(ALGORITHMS)}")
        return algorithm
    try:
        return PRIMITIVES[purpose]
    except KeyError:
        raise ValueError(f"unknown subkey purpose; choose one of: {', '.join(PURPOSES)}") from None


def check_derivation(derivation: int) -> int:
    if isinstance(derivation, bool) or derivation not in DERIVATIONS:
        raise ValueError(f"derivation must be one of: {', '.join(map(str, DERIVATIONS))}")
    return derivation


def info(purpose: str, domain: str, *, algorithm: str, derivation: int) -> tuple[bytes, bytes]:
    """The HKDF (salt, info) of the subkey of ``purpose`` in ``domain``."""
    prim = primitive(purpose, algorithm)
    if check_derivation(derivation) == 1:
        label, suffix = _V1[purpose]
        return b"tokenize-kit/v1", f"{label}:{domain}{suffix}".encode()
    return b"tokenize-kit/v2", f"{prim}|{purpose}|{domain}".encode()


def derive(material: bytes, purpose: str, domain: str, *, algorithm: str = "ff1",
           derivation: int = DEFAULT_DERIVATION) -> bytes:
    """The 32-byte subkey of ``purpose`` in ``domain`` (see the module docstring)."""
    salt, label = info(purpose, domain, algorithm=algorithm, derivation=derivation)
    return hkdf_sha256(material, salt, label)
