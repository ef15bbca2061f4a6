"""The contract every PII type implements, and the key access they share.

One registry (:mod:`tokenize_kit.pii.registry`) maps a type name used in policies
(``eg_national_id``, ``phone`` ...) to a :class:`PIIType` instance.  The same object serves

* ``scan``      - :meth:`PIIType.parse` / :meth:`PIIType.valid_mask` recognise values,
* ``tokenize``  - :meth:`PIIType.tokenize` / :meth:`PIIType.detokenize` / :meth:`PIIType.surrogate`,
* ``generate``  - the generators reuse the same reference tables and validators.

Columnar calls receive an Arrow ``StringArray`` that the table layer has already normalised:
no nulls, no empty / placeholder cells, de-duplicated, and (for ``tokenize``/``detokenize``)
only values the type's parse found valid.  They return an array of the same length.
The table layer handles ``on_invalid``, ``mask``, ``hash``, ``redact`` and ``keep`` once for all types.

The contract, once for every type:

* :meth:`PIIType.parse` ``(values, spec=None)`` reads a column once; its result's ``ok`` marks the valid
  values (:meth:`PIIType.valid_mask` is exactly that).  A type overrides ``parse``, never ``valid_mask``.
* :meth:`PIIType.tokenize` / :meth:`PIIType.detokenize` ``(values, crypto, spec, parsed=None)`` take the parse
  of the same ``values`` when the caller has it (the table layer does), so a column is parsed once; both call
  the type's one hook, ``_crypt(values, crypto, spec, decrypt, parsed)``.
* :attr:`PIIType.subkeys` lists the (purpose, domain) pairs of the keys ``_crypt`` asks ``crypto`` for (the
  ``surrogate`` method's key, ``(surrogate, domain)``, is implied by the method), so a caller that must ship
  keys elsewhere (Spark executors) derives exactly those.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import pyarrow as pa

from tokenize_kit.fpe import FF1, FF3_1, FeistelCipher
from tokenize_kit.primitives import label, label_digest
from tokenize_kit.subkeys import ALGORITHMS, DEFAULT_DERIVATION, FPE, PERMUTATION, check_derivation

from .exceptions import ValidationError

METHODS = ("fpe", "mask", "hash", "redact", "surrogate", "keep")
ON_INVALID = ("generic", "redact", "null", "error")


class SubkeySource(Protocol):
    """What :class:`Crypto` needs of a keyset: a :class:`~tokenize_kit.keys.Keyset`, or the subkeys of one
    policy derived in advance (:class:`~tokenize_kit.spark.DerivedKeyset`)."""

    def primary_version(self, name: str = ...) -> int: ...

    def check_version(self, name: str, version: int) -> None: ...

    def subkey(self, domain: str, *, purpose: str = ..., algorithm: str = ..., derivation: int = ...,
               name: str = ..., version: int | None = ...) -> bytes: ...


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
    """Key access for one policy run: derives the subkeys it is asked for lazily and caches them and the ciphers.

    ``algorithm`` is ``"ff1"`` (default) or ``"ff3-1"``; ``derivation`` selects how subkeys are derived
    (:mod:`tokenize_kit.subkeys`).  :meth:`tweak` hides the difference in tweak size between the two
    algorithms, so PII types never need to know which one is in use.
    """

    def __init__(
        self,
        keyset: SubkeySource,
        *,
        key_name: str = "default",
        version: int | None = None,
        algorithm: str = "ff1",
        derivation: int = DEFAULT_DERIVATION,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm; choose one of: {', '.join(ALGORITHMS)}")
        self._keyset = keyset
        self.key_name = key_name
        self.version = keyset.primary_version(key_name) if version is None else version
        keyset.check_version(key_name, self.version)
        self.algorithm = algorithm
        self.derivation = check_derivation(derivation)
        self._ciphers: dict[tuple[str, str], FeistelCipher] = {}
        self._keys: dict[tuple[str, str], bytes] = {}
        self._scope: tuple[str, str] | None = None
        self._memos: dict[tuple[object, ...], dict[Any, Any]] = {}

    def __repr__(self) -> str:
        return (f"Crypto(key={self.key_name!r}, version={self.version}, algorithm={self.algorithm!r}, "
                f"derivation={self.derivation})")

    def scoped(self, type_domain: str, domain: str) -> Crypto:
        """This Crypto with the subkey domains of a type renamed for a policy's ``domain:`` setting
        (:func:`scoped_domain`); it shares this one's caches."""
        view = copy.copy(self)
        view._scope = (type_domain, domain)
        return view

    def key(self, purpose: str, domain: str) -> bytes:
        """The subkey of ``purpose`` (:data:`tokenize_kit.subkeys.PURPOSES`) in ``domain``."""
        if self._scope is not None:
            domain = scoped_domain(domain, *self._scope)
        cached = self._keys.get((purpose, domain))
        if cached is None:
            cached = self._keys[(purpose, domain)] = self._keyset.subkey(
                domain, purpose=purpose, algorithm=self.algorithm, derivation=self.derivation,
                name=self.key_name, version=self.version)
        return cached

    def memo(self, domain: str, *label: object) -> dict[Any, Any]:
        """A dict for results derived under this Crypto's keys in ``domain`` (a type's tokens of values it sees
        again batch after batch), kept as long as this Crypto: its scoped views share it, each under its own
        domain.  The caller bounds its size."""
        if self._scope is not None:
            domain = scoped_domain(domain, *self._scope)
        return self._memos.setdefault((domain, self.derivation, self.algorithm, *label), {})

    def cipher(self, domain: str, alphabet: str) -> FeistelCipher:
        """The FF1 (or FF3-1) cipher for ``domain`` over ``alphabet``, keyed by the ``fpe`` subkey of ``domain``."""
        key = self.key(FPE, domain)
        if self._scope is not None:
            domain = scoped_domain(domain, *self._scope)
        cached = self._ciphers.get((domain, alphabet))
        if cached is None:
            cls = FF1 if self.algorithm == "ff1" else FF3_1
            cached = self._ciphers[(domain, alphabet)] = cls(key, alphabet)
        return cached

    def tweak(self, *parts: str | bytes) -> bytes:
        """A tweak for the given label parts: raw for FF1, a 56-bit SHA-256 prefix for FF3-1."""
        if self.algorithm == "ff1":
            return label(parts)
        return label_digest(parts, 7)


def scoped_domain(domain: str, type_domain: str, override: str) -> str:
    """The subkey domain a type's ``domain`` becomes under a policy's ``domain: override``: the type's own domain
    and its sub-domains (``type_domain/...``) are renamed, any other domain the type uses goes under the override.

    >>> scoped_domain("phone", "phone", "crm"), scoped_domain("phone/generic", "phone", "crm")
    ('crm', 'crm/generic')
    >>> scoped_domain("eg_national_id", "free_text", "notes")
    'notes/eg_national_id'
    """
    if domain.startswith(type_domain):
        return override + domain[len(type_domain):]
    return f"{override}/{domain}"


@dataclass
class Parse:
    """A type's reading of a column: ``ok`` marks the valid values; a type's own parse adds the parts it found."""

    ok: np.ndarray


#: :attr:`PIIType.slice_values` of the text types (names, e-mails, IBANs, addresses)
TEXT_SLICE = 65_536


def int_domain_subkeys(domain: str) -> tuple[tuple[str, str], ...]:
    """The subkeys :func:`~tokenize_kit.pii.intdomain.crypt_ints` (and so character-class FPE) uses in ``domain``:
    FF1 for large integer domains, the permutation tables for small ones."""
    return ((FPE, domain), (PERMUTATION, domain))


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
    #: whether the type has a notion of invalid values (free text has not)
    has_invalid: ClassVar[bool] = True
    #: the (purpose, domain) pairs of the subkeys :meth:`_crypt` uses (see the module docstring)
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: how many distinct values :func:`tokenize_kit.table.transform_column` gives :meth:`parse` and the token
    #: operations at a time (0: the whole column).  A text type's work arrays take several bytes per character;
    #: made for a whole column they are fresh memory the kernel faults in page by page (dear on a virtual
    #: machine), while slices reuse what the previous slice freed and bound the peak.  A nearly distinct column
    #: is de-duplicated in slices of the same size (:func:`tokenize_kit.table.distinct_in_slices`).  Number
    #: types keep 0: their cycle walks pay a fixed cost per call.
    slice_values: ClassVar[int] = 0

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
    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parse:
        """Read a column once; ``ok`` marks the valid values.  This default validates value by value: a type
        overrides it with a vectorised parse that also keeps what ``_crypt`` needs."""
        ok = np.fromiter((v is not None and self.is_valid(v) for v in values.to_pylist()), bool, len(values))
        return Parse(ok)

    def valid_mask(self, values: pa.Array, spec: ColumnSpec | None = None) -> np.ndarray:
        """Boolean array: which values are valid instances of this type (``parse(values, spec).ok``)."""
        return self.parse(values, spec).ok

    def tokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec, parsed: Parse | None = None) -> pa.Array:
        """Format-preserving, deterministic, reversible tokens for valid values; tokens are valid too.

        ``parsed`` is :meth:`parse` of these very ``values`` under ``spec``, if the caller has it."""
        return self._crypt(values, crypto, spec, False, parsed)

    def detokenize(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec, parsed: Parse | None = None
                   ) -> pa.Array:
        """Inverse of :meth:`tokenize` for the same crypto and spec."""
        return self._crypt(values, crypto, spec, True, parsed)

    @abstractmethod
    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        """Tokens of ``values`` (or, with ``decrypt``, the values of tokens); every value is valid."""

    def surrogate(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec) -> pa.Array:
        """Irreversible realistic stand-ins, deterministic per (value, key)."""
        raise NotImplementedError(f"method 'surrogate' is not available for type {self.name!r}")


def stdnum_api(pii_type: PIIType) -> tuple[Callable[[str], str], Callable[[str], str], Callable[[str], bool],
                                            Callable[[str], str]]:
    """The python-stdnum module functions ``compact, validate, is_valid, format`` of one PII type.

    Each type module ends with ``compact, validate, is_valid, format = stdnum_api(_TYPE)``.
    """
    return pii_type.compact, pii_type.validate, pii_type.is_valid, pii_type.format
