"""Policies: which columns hold which PII type, and how to protect each.

.. code-block:: yaml

    version: 1
    key: default          # key name in the keyset (default: default)
    key_version: 2        # optional; default: the key's primary version
    algorithm: ff1        # ff1 (default) or ff3-1
    derivation: 2         # how subkeys are derived: 2 (default) or 1 (tokens made before derivation 2)
    columns:
      الرقم القومي: {type: eg_national_id, keep: [governorate]}
      mobile:       {type: phone}
      notes:        {type: free_text}
      email:        {type: email, method: fpe, keep_domain: false}
      card_last4:   {type: sa_national_id, method: mask, keep_last: 4}
      birth_date:   {type: date, method: generalize, to: year}     # quasi-identifiers: see quasi.py
    quasi: [occupation]                 # optional: more quasi-identifiers (risk, suppress, --max-risk)
    suppress: {k: 5, max_share: 0.01}   # optional: empty the quasi-identifiers of rows in classes below k

Validation is strict: an unknown key, type, method, keep option or on_invalid value is an error that
names the column and lists what is valid, because a typo must never silently weaken protection.

>>> p = Policy.from_dict({"columns": {"national_id": {"type": "eg_national_id", "keep": ["governorate"]}}})
>>> p.columns["national_id"].keep, p.algorithm, p.derivation
(('governorate',), 'ff1', 2)
>>> Policy.from_dict({"columns": {"id": {"type": "eg_national_id", "keep": ["name"]}}})
Traceback (most recent call last):
    ...
tokenize_kit.policy.PolicyError: column 'id': cannot keep ['name'] for type eg_national_id; valid: ...
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import quasi as quasi_ids
from .pii import registry
from .pii.base import METHODS, ON_INVALID, ColumnSpec, PIIType
from .subkeys import ALGORITHMS, DEFAULT_DERIVATION, DERIVATIONS

TOP_LEVEL = {"version", "key", "key_version", "algorithm", "derivation", "columns", "quasi", "suppress"}
COLUMN_KEYS = {"type", "method", "keep", "on_invalid", "domain"}
#: type- and method-specific options a column entry may carry
OPTION_KEYS = {
    "check_digit",  # eg_national_id: none | luhn
    "max_birth_date",  # eg_national_id: upper bound of the token date domain
    "regions",  # phone: order of regions for ambiguous national numbers
    "keep_domain",  # email
    "keep_bank",  # iban: bank code in clear (default true)
    "keep_branch",  # iban (EG): branch code in clear (default true)
    "keep_last",  # mask
    "keep_first",  # mask
    "mask_char",  # mask
    "marker",  # redact
    "keep_places",  # eg_address / sa_address
    "find",  # free_text: the kinds to look for (national_id, phone, iban, email, name, address)
    "cues",  # free_text: extra cue words before a name
}


class PolicyError(ValueError):
    """The policy is malformed; the message names the column and the valid choices."""


def _supports_surrogate(t: PIIType) -> bool:
    return type(t).surrogate is not PIIType.surrogate


@dataclass
class Policy:
    columns: dict[str, ColumnSpec]
    key: str = "default"
    key_version: int | None = None
    algorithm: str = "ff1"
    version: int = 1
    source: dict[str, Any] = field(default_factory=dict, repr=False)
    #: how subkeys are derived (:mod:`tokenize_kit.subkeys`): 2 for new work, 1 to reverse older tokens
    derivation: int = DEFAULT_DERIVATION
    #: more quasi-identifier columns, delivered as they are (see :mod:`tokenize_kit.quasi`)
    quasi: tuple[str, ...] = ()
    suppress: quasi_ids.Suppress | None = None

    @classmethod
    def load(cls, src: Policy | Mapping[str, Any] | str | os.PathLike[str]) -> Policy:
        """A Policy from a Policy, a dict, or a YAML file path."""
        if isinstance(src, Policy):
            return src
        if isinstance(src, Mapping):
            return cls.from_dict(src)
        path = Path(src)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PolicyError(f"policy file {path} does not exist") from None
        except UnicodeDecodeError:
            raise PolicyError(f"policy file {path} is not UTF-8 text") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise PolicyError(f"policy file {path} is not valid YAML{where}") from None
        if not isinstance(doc, Mapping):
            raise PolicyError(f"policy file {path} must be a mapping with a 'columns' section")
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Policy:
        unknown = set(doc) - TOP_LEVEL
        if unknown:
            raise PolicyError(f"unknown policy key(s) {sorted(unknown)}; valid keys: {sorted(TOP_LEVEL)}")
        if doc.get("version", 1) != 1:
            raise PolicyError("policy version must be 1")
        algorithm = str(doc.get("algorithm", "ff1")).lower()
        if algorithm not in ALGORITHMS:
            raise PolicyError(f"algorithm must be one of: {', '.join(ALGORITHMS)}")
        derivation = doc.get("derivation", DEFAULT_DERIVATION)
        if isinstance(derivation, bool) or derivation not in DERIVATIONS:
            raise PolicyError(
                f"derivation must be one of: {', '.join(map(str, DERIVATIONS))} (1 reverses tokens made before "
                f"derivation 2; a delivery's manifest records its derivation under key.derivation)")
        key_version = doc.get("key_version")
        if key_version is not None and (not isinstance(key_version, int) or key_version < 1):
            raise PolicyError("key_version must be a positive integer")
        try:
            quasi = quasi_ids.parse_quasi(doc["quasi"]) if "quasi" in doc else ()
            suppress = quasi_ids.parse_suppress(doc["suppress"]) if "suppress" in doc else None
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        cols = doc.get("columns", {} if quasi else None)
        if not isinstance(cols, Mapping) or not (cols or quasi):
            raise PolicyError("the policy needs a non-empty 'columns' mapping (column name -> {type: ...})")
        columns = {str(name): cls._column(str(name), entry) for name, entry in cols.items()}
        return cls(columns, str(doc.get("key", "default")), key_version, algorithm, 1, dict(doc), derivation,
                   quasi, suppress)

    @staticmethod
    def _column(name: str, entry: Any) -> ColumnSpec:
        if isinstance(entry, str):
            entry = {"type": entry}
        if not isinstance(entry, Mapping) or "type" not in entry:
            raise PolicyError(f"column {name!r}: give at least a type, e.g. {{type: phone}}")
        if str(entry["type"]) in quasi_ids.TYPES:
            try:
                return quasi_ids.column_spec(name, entry)
            except ValueError as exc:
                raise PolicyError(f"column {name!r}: {exc}") from None
        unknown = set(entry) - COLUMN_KEYS - OPTION_KEYS
        if unknown:
            raise PolicyError(
                f"column {name!r}: unknown setting(s) {sorted(unknown)}; valid: {sorted(COLUMN_KEYS | OPTION_KEYS)}"
            )
        try:
            pii_type = registry.get(str(entry["type"]))
        except ValueError as exc:
            raise PolicyError(f"column {name!r}: {exc}; quasi-identifier types: {', '.join(quasi_ids.TYPES)}"
                              ) from None
        method = str(entry.get("method", "fpe"))
        if method in quasi_ids.METHODS:
            raise PolicyError(f"column {name!r}: method {method} is for the types {', '.join(quasi_ids.TYPES)} "
                              f"(e.g. {{type: date, method: {method}, ...}}), not for {pii_type.name}")
        if method not in METHODS:
            raise PolicyError(f"column {name!r}: unknown method {method!r}; valid methods: {', '.join(METHODS)}")
        if method == "surrogate" and not _supports_surrogate(pii_type):
            raise PolicyError(f"column {name!r}: type {pii_type.name} has no surrogate method")
        keep = entry.get("keep", [])
        if isinstance(keep, str):
            keep = [keep]
        bad = sorted(set(keep) - pii_type.keep_options)
        if bad:
            valid = ", ".join(sorted(pii_type.keep_options)) or "none"
            raise PolicyError(f"column {name!r}: cannot keep {bad} for type {pii_type.name}; valid: {valid}")
        on_invalid = str(entry.get("on_invalid", "generic"))
        if on_invalid not in ON_INVALID:
            raise PolicyError(f"column {name!r}: on_invalid must be one of: {', '.join(ON_INVALID)}")
        options = {k: entry[k] for k in entry if k in OPTION_KEYS}
        domain = entry.get("domain")
        spec = ColumnSpec(name, pii_type.name, method, tuple(keep), on_invalid, domain, options)
        if pii_type.name == "free_text":
            from .pii.free_text import options as free_text_options

            try:
                free_text_options(spec)
            except ValueError as exc:
                raise PolicyError(f"column {name!r}: {exc}") from None
        return spec

    def to_dict(self) -> dict[str, Any]:
        cols = {}
        for name, spec in self.columns.items():
            entry: dict[str, Any] = {"type": spec.type}
            if spec.method != "fpe":
                entry["method"] = spec.method
            if spec.keep:
                entry["keep"] = list(spec.keep)
            if spec.on_invalid != "generic":
                entry["on_invalid"] = spec.on_invalid
            if spec.domain:
                entry["domain"] = spec.domain
            entry.update(spec.options)
            cols[name] = entry
        doc: dict[str, Any] = {"version": 1, "key": self.key, "algorithm": self.algorithm,
                               "derivation": self.derivation, "columns": cols}
        if self.key_version is not None:
            doc["key_version"] = self.key_version
        if self.quasi:
            doc["quasi"] = list(self.quasi)
        if self.suppress is not None:
            doc["suppress"] = self.suppress.to_dict()
        return doc

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)

    @property
    def sha256(self) -> str:
        """Hash of the canonical form: two policies with the same meaning have the same hash.

        Derivation 1 is left out of the canonical form, which is then exactly that of the same policy before the
        ``derivation`` setting existed, so the hashes in older manifests still match."""
        doc = self.to_dict()
        if doc["derivation"] == 1:
            del doc["derivation"]
        canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
