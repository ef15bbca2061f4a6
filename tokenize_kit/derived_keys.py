"""The subkeys of one policy, derived in advance: what travels to a worker instead of the keyset.

Spark executors (:mod:`tokenize_kit.spark`) and the pipeline's worker processes (:mod:`tokenize_kit.pipeline`)
get a :class:`DerivedKeyset`: the HKDF subkeys of the (purpose, domain) pairs the policy's types declare
(:func:`~tokenize_kit.table.policy_subkeys`), never the master key, so a worker can derive nothing else.  Its
``repr`` shows no key bytes.

>>> from tokenize_kit.keys import Keyset
>>> from tokenize_kit.policy import Policy
>>> policy = Policy.from_dict({"columns": {"id": {"type": "eg_national_id"}}})
>>> keys = DerivedKeyset.for_policy(Keyset.generate(), policy)
>>> keys
DerivedKeyset(key='default', version=1, subkeys=5)
>>> keys.domains()[:2]
[('fpe', 'eg_national_id'), ('fpe', 'eg_national_id/generic')]
>>> keys.subkey("email")
Traceback (most recent call last):
...
tokenize_kit.keys.KeysetError: subkey (fpe, email) was not derived for this policy
"""

from __future__ import annotations

import os

from .keys import Keyset, KeysetError
from .policy import Policy
from .subkeys import DEFAULT_DERIVATION, FPE
from .table import crypto_for, policy_subkeys


class DerivedKeyset:
    """The subkeys one policy needs, derived where the keyset was opened; the same ``subkey`` interface as a
    Keyset.

    Asking for any other (purpose, domain), algorithm or derivation raises: a worker (a Spark executor, a worker
    process of the pipeline) can never derive anything else.
    """

    def __init__(self, name: str, version: int, fingerprint: str, algorithm: str, derivation: int,
                 subkeys: dict[tuple[str, str], bytes], run_secret: bytes | None = None) -> None:
        self._name, self._version, self._fingerprint = name, version, fingerprint
        self._algorithm, self._derivation = algorithm, derivation
        self._subkeys = dict(subkeys)
        #: the job's secret for irreversible date shifts (made once, where the keyset is open, so every worker agrees)
        self.run_secret = run_secret

    @classmethod
    def for_policy(cls, keyset: Keyset, policy: Policy) -> DerivedKeyset:
        """The subkeys of :func:`~tokenize_kit.table.policy_subkeys` (what the policy's types declare)."""
        crypto = crypto_for(policy, keyset)
        subkeys = {
            (purpose, domain): keyset.subkey(domain, purpose=purpose, algorithm=crypto.algorithm,
                                             derivation=crypto.derivation, name=crypto.key_name,
                                             version=crypto.version)
            for purpose, domain in policy_subkeys(policy)
        }
        irreversible_shift = any(s.method == "date_shift" and not s.options.get("reversible", True)
                                 for s in policy.columns.values())
        return cls(crypto.key_name, crypto.version, keyset.fingerprint(crypto.key_name, crypto.version),
                   crypto.algorithm, crypto.derivation, subkeys, os.urandom(32) if irreversible_shift else None)

    def domains(self) -> list[tuple[str, str]]:
        return sorted(self._subkeys)

    def primary_version(self, name: str = "default") -> int:
        self._check_name(name)
        return self._version

    def check_version(self, name: str, version: int) -> None:
        self._check_name(name)
        if version != self._version:
            raise KeysetError(f"only version {self._version} of key {name!r} was shipped to the workers")

    def fingerprint(self, name: str = "default", version: int | None = None) -> str:
        return self._fingerprint

    def subkey(self, domain: str, *, purpose: str = FPE, algorithm: str = "ff1",
               derivation: int = DEFAULT_DERIVATION, name: str = "default", version: int | None = None) -> bytes:
        self._check_name(name)
        if version is not None:
            self.check_version(name, version)
        if derivation != self._derivation or (purpose == FPE and algorithm != self._algorithm):
            raise KeysetError(f"only subkeys of derivation {self._derivation} for {self._algorithm} were shipped to "
                              "the workers")
        try:
            return self._subkeys[(purpose, domain)]
        except KeyError:
            raise KeysetError(f"subkey ({purpose}, {domain}) was not derived for this policy") from None

    def _check_name(self, name: str) -> None:
        if name != self._name:
            raise KeysetError(f"only key {self._name!r} was shipped to the workers")

    def __repr__(self) -> str:
        return f"DerivedKeyset(key={self._name!r}, version={self._version}, subkeys={len(self._subkeys)})"

    __str__ = __repr__
