"""The contract every PII type implements, and the key access they share.

One registry (:mod:`tokenize_kit.pii.registry`) maps a type name used in policies
(``eg_national_id``, ``phone`` ...) to a :class:`PIIType` instance.  The same object serves

* ``scan``      - :meth:`PIIType.valid_mask` / :meth:`PIIType.find` recognise values,
* ``tokenize``  - :meth:`PIIType.tokenize` / :meth:`PIIType.detokenize` / :meth:`PIIType.surrogate`,
* ``generate``  - the generators reuse the same reference tables and validators.

Columnar calls receive an Arrow ``StringArray`` that the table layer has already normalised:
no nulls, no empty / placeholder cells, de-duplicated, and (for ``tokenize``/``detokenize``)
only values for which ``valid_mask`` is True.  They return an array of the same length.
The table layer handles ``on_invalid``, ``mask``, ``hash``, ``redact`` and ``keep`` once for all types.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa

from tokenize_kit.fpe import FF1, FF3_1, FeistelCipher
from tokenize_kit.primitives import label, label_digest

from .exceptions import ValidationError

if TYPE_CHECKING:
    from tokenize_kit.keys import Keyset

METHODS = ("fpe", "mask", "hash", "redact", "surrogate", "keep")
ON_INVALID = ("generic", "redact", "null", "error")
ALGORITHMS = ("ff1", "ff3-1")


@dataclass(frozen=True)
class ColumnSpec:
    """One column's entry of a policy (see :mod:`tokenize_kit.policy`)."""

    column: str
    type: str
    method: str = "fpe"
    keep: tuple[str, ...] = ()
    on_invalid: str = "generic"
    #: subkey domain; ``None`` means the type's own ``domain`` (so the same ID in two files, or in a
    #: free-text column, gets the same token).
    domain: str | None = None
    #: type- or method-specific settings, e.g. ``{"keep_last": 4}`` for mask, ``{"keep_domain": True}``
    options: Mapping[str, Any] = field(default_factory=dict)


class Crypto:
    """Key access for one policy run: derives per-domain subkeys lazily and caches the ciphers.

    ``algorithm`` is ``"ff1"`` (default) or ``"ff3-1"``.  :meth:`tweak` hides the difference in tweak
    size between the two, so PII types never need to know which algorithm is in use.
    """

    def __init__(
        self,
        keyset: Keyset,
        *,
        key_name: str = "default",
        version: int | None = None,
        algorithm: str = "ff1",
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm; choose one of: {', '.join(ALGORITHMS)}")
        self._keyset = keyset
        self.key_name = key_name
        self.version = keyset.primary_version(key_name) if version is None else version
        keyset.check_version(key_name, self.version)
        self.algorithm = algorithm
        self._ciphers: dict[tuple[str, str], FeistelCipher] = {}
        self._hmac: dict[str, bytes] = {}
        self._prp: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"Crypto(key={self.key_name!r}, version={self.version}, algorithm={self.algorithm!r})"

    def cipher(self, domain: str, alphabet: str) -> FeistelCipher:
        """The FF1 (or FF3-1) cipher for ``domain`` over ``alphabet``, keyed by an HKDF subkey."""
        cached = self._ciphers.get((domain, alphabet))
        if cached is None:
            key = self._keyset.subkey(domain, name=self.key_name, version=self.version, purpose="fpe")
            cls = FF1 if self.algorithm == "ff1" else FF3_1
            cached = self._ciphers[(domain, alphabet)] = cls(key, alphabet)
        return cached

    def tweak(self, *parts: str | bytes) -> bytes:
        """A tweak for the given label parts: raw for FF1, a 56-bit SHA-256 prefix for FF3-1."""
        if self.algorithm == "ff1":
            return label(parts)
        return label_digest(parts, 7)

    def hmac_key(self, domain: str) -> bytes:
        """Subkey for keyed hashing (``hash`` and ``surrogate`` methods) in ``domain``."""
        cached = self._hmac.get(domain)
        if cached is None:
            cached = self._hmac[domain] = self._keyset.subkey(
                domain, name=self.key_name, version=self.version, purpose="hmac"
            )
        return cached


    def prp_key(self, domain: str) -> bytes:
        """Subkey for the keyed permutation tables of tiny domains (:mod:`tokenize_kit.pii.intdomain`)."""
        cached = self._prp.get(domain)
        if cached is None:
            cached = self._prp[domain] = self._keyset.subkey(
                domain, name=self.key_name, version=self.version, purpose="prp"
            )
        return cached


class PIIType(ABC):
    """A PII type: python-stdnum style scalar functions plus vectorised token operations."""

    #: the name used in policies
    name: ClassVar[str]
    #: one line for ``--help`` and error messages listing the valid types
    description: ClassVar[str]
    #: subkey domain shared by every type that must produce joinable tokens (e.g. all phone types)
    domain: ClassVar[str]
    #: the parts a policy may list under ``keep:``
    keep_options: ClassVar[frozenset[str]] = frozenset()
    #: whether the type has a notion of invalid values (free text and addresses do not)
    has_invalid: ClassVar[bool] = True

    # -- scalar, python-stdnum style ------------------------------------------------------------
    @abstractmethod
    def compact(self, value: str) -> str:
        """Strip formatting (spaces, dashes, other digit scripts) to the canonical form."""

    @abstractmethod
    def validate(self, value: str) -> str:
        """Return the compact form or raise InvalidLength/InvalidFormat/InvalidChecksum/InvalidComponent."""

    def is_valid(self, value: str) -> bool:
        try:
            self.validate(value)
        except ValidationError:
            return False
        return True

    def format(self, value: str) -> str:
        """Canonical human-readable form."""
        return self.compact(value)

    # -- columnar -------------------------------------------------------------------------------
    def valid_mask(self, values: pa.Array) -> np.ndarray:
        """Boolean array: which values are valid instances of this type (vectorise where it matters)."""
        return np.fromiter((v is not None and self.is_valid(v) for v in values.to_pylist()), bool, len(values))

    @abstractmethod
    def tokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        """Format-preserving, deterministic, reversible tokens for valid values; tokens are valid too."""

    @abstractmethod
    def detokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        """Inverse of :meth:`tokenize` for the same crypto and spec."""

    def surrogate(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        """Irreversible realistic stand-ins, deterministic per (value, key)."""
        raise NotImplementedError(f"method 'surrogate' is not available for type {self.name!r}")


def stdnum_api(pii_type: PIIType):
    """The python-stdnum module functions ``compact, validate, is_valid, format`` of one PII type.

    Each type module ends with ``compact, validate, is_valid, format = stdnum_api(_TYPE)``.
    """
    return pii_type.compact, pii_type.validate, pii_type.is_valid, pii_type.format


class LastParse:
    """The last parse of each PII type object, kept per thread.

    The table layer validates an array (``valid_mask``) and then tokenizes the same array object, so the parse is
    done once.  Per thread, so batches processed side by side never evict each other's entry; ``take`` drops the
    entry as it is used, so a parse does not outlive its batch."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _slots(self) -> dict[int, tuple]:
        slots = getattr(self._local, "slots", None)
        if slots is None:
            slots = self._local.slots = {}
        return slots

    def get(self, owner: object, values: object, key: object) -> object | None:
        hit = self._slots().get(id(owner))
        if hit is not None and hit[0] is values and hit[1] == key:
            return hit[2]
        return None

    def put(self, owner: object, values: object, key: object, parsed: object) -> None:
        self._slots()[id(owner)] = (values, key, parsed)

    def take(self, owner: object, values: object, key: object) -> object | None:
        """Like :meth:`get`, and forget the entry."""
        hit = self.get(owner, values, key)
        if hit is not None:
            del self._slots()[id(owner)]
        return hit
