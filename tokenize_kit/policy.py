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
names the column and lists what is valid, because a typo must never silently weaken protection.  Option
values are checked by type and range before any row is read (``mask_char`` one character, ``keep_last`` a
whole number, ``max_birth_date`` a date, ``marker`` text ...), and every problem of the policy is listed in
one error.  A policy file is at most :data:`MAX_POLICY_BYTES` and may not use YAML anchors or aliases (a
631-byte file of nested aliases expands to gigabytes: the "billion laughs").

>>> p = Policy.from_dict({"columns": {"national_id": {"type": "eg_national_id", "keep": ["governorate"]}}})
>>> p.columns["national_id"].keep, p.algorithm, p.derivation
(('governorate',), 'ff1', 2)
>>> Policy.from_dict({"columns": {"id": {"type": "eg_national_id", "keep": ["name"]}}})
Traceback (most recent call last):
    ...
tokenize_kit.policy.PolicyError: column 'id': cannot keep ['name'] for type eg_national_id; valid: ...
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Mapping
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


#: the largest policy file read (a policy of a thousand columns is well under 100 KiB)
MAX_POLICY_BYTES = 1 << 20


class PolicyError(ValueError):
    """The policy is malformed; the message names the column and the valid choices."""


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise ValueError("must be a whole number from 0 to 1000")
    return value


def _one_char(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise ValueError("must be exactly one character, e.g. \"*\"")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 1000:
        raise ValueError("must be text (at most 1,000 characters), e.g. \"[REDACTED]\"")
    return value


def _birth_date(value: Any) -> str:
    """An ISO date between 1900-01-02 and 2099-12-31 (Egyptian IDs encode births in 1900-2099), kept as text so
    the policy's hash and its manifest copy read the same whatever YAML made of it."""
    if isinstance(value, dt.datetime):
        raise ValueError("must be a date YYYY-MM-DD, not a time")
    day: dt.date | None = value if isinstance(value, dt.date) else None
    if day is None and isinstance(value, str) and len(value) == 10:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            day = None
    if day is None:
        raise ValueError("must be a date YYYY-MM-DD, e.g. 2025-12-31")
    if not dt.date(1900, 1, 2) <= day <= dt.date(2099, 12, 31):
        raise ValueError("must be between 1900-01-02 and 2099-12-31")
    return day.isoformat()


def _check_digit(value: Any) -> str:
    if value not in ("none", "luhn"):
        raise ValueError("must be none or luhn")
    return str(value)


def _regions(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(v in ("EG", "SA") for v in value):
        raise ValueError("must be a list of EG and SA, e.g. [SA, EG]")
    return list(value)


#: how each option's value is checked (and normalised); free_text's find and cues are checked by the type
OPTION_CHECKS: dict[str, Callable[[Any], Any]] = {
    "check_digit": _check_digit, "max_birth_date": _birth_date, "regions": _regions,
    "keep_domain": _boolean, "keep_bank": _boolean, "keep_branch": _boolean, "keep_places": _boolean,
    "keep_last": _count, "keep_first": _count, "mask_char": _one_char, "marker": _text,
}


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing anchors and aliases, before anything is built from them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise PolicyError(f"line {event.start_mark.line + 1}: YAML anchors and aliases (& and *) are not "
                              "allowed in a policy; write each setting out")
        return super().compose_node(parent, index)


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
            with open(path, "rb") as fh:
                raw = fh.read(MAX_POLICY_BYTES + 1)
        except FileNotFoundError:
            raise PolicyError(f"policy file {path} does not exist") from None
        except IsADirectoryError:
            raise PolicyError(f"policy file {path} is a folder") from None
        except OSError as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from None
        if len(raw) > MAX_POLICY_BYTES:
            raise PolicyError(f"policy file {path} is larger than {MAX_POLICY_BYTES >> 20} MiB, the most a policy "
                              "may be (is it the right file?)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError(f"policy file {path} is not UTF-8 text") from None
        try:
            doc = yaml.load(text, Loader=_NoAliasLoader)  # (a SafeLoader without aliases)
        except PolicyError as exc:
            raise PolicyError(f"policy file {path}, {exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise PolicyError(f"policy file {path} is not valid YAML{where}") from None
        except RecursionError:
            raise PolicyError(f"policy file {path} is nested too deeply to be a policy") from None
        if not isinstance(doc, Mapping):
            raise PolicyError(f"policy file {path} must be a mapping with a 'columns' section")
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Policy:
        problems: list[str] = []  # every problem of the policy, listed in one error
        unknown = set(doc) - TOP_LEVEL
        if unknown:
            problems.append(f"unknown policy key(s) {sorted(unknown, key=str)}; valid keys: {sorted(TOP_LEVEL)}")
        if doc.get("version", 1) != 1:
            problems.append("policy version must be 1")
        algorithm = str(doc.get("algorithm", "ff1")).lower()
        if algorithm not in ALGORITHMS:
            problems.append(f"algorithm must be one of: {', '.join(ALGORITHMS)}")
        derivation = doc.get("derivation", DEFAULT_DERIVATION)
        if isinstance(derivation, bool) or derivation not in DERIVATIONS:
            problems.append(
                f"derivation must be one of: {', '.join(map(str, DERIVATIONS))} (1 reverses tokens made before "
                f"derivation 2; a delivery's manifest records its derivation under key.derivation)")
        key_version = doc.get("key_version")
        if key_version is not None and (isinstance(key_version, bool) or not isinstance(key_version, int)
                                        or key_version < 1):
            problems.append("key_version must be a positive integer")
        key = doc.get("key", "default")
        if not isinstance(key, str) or not key:
            problems.append("key must be a key name (text), e.g. default")
        quasi: tuple[str, ...] = ()
        suppress = None
        try:
            quasi = quasi_ids.parse_quasi(doc["quasi"]) if "quasi" in doc else ()
            suppress = quasi_ids.parse_suppress(doc["suppress"]) if "suppress" in doc else None
        except ValueError as exc:
            problems.append(str(exc))
        cols = doc.get("columns", {} if quasi else None)
        columns: dict[str, ColumnSpec] = {}
        if not isinstance(cols, Mapping) or not (cols or quasi):
            problems.append("the policy needs a non-empty 'columns' mapping (column name -> {type: ...})")
            cols = {}
        for name, entry in cols.items():
            try:
                columns[str(name)] = cls._column(str(name), entry)
            except PolicyError as exc:
                problems.extend(getattr(exc, "problems", None) or [str(exc)])
        if len(problems) == 1:
            raise PolicyError(problems[0])
        if problems:
            raise PolicyError(f"the policy has {len(problems)} problems: " + "; ".join(problems))
        return cls(columns, str(key), key_version, algorithm, 1, dict(doc), derivation, quasi, suppress)

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
        options: dict[str, Any] = {}
        problems = []
        for k in entry:
            if k not in OPTION_KEYS:
                continue
            check = OPTION_CHECKS.get(k)
            try:
                options[k] = check(entry[k]) if check is not None else entry[k]
            except ValueError as exc:
                problems.append(f"column {name!r}: {k} {exc}")
        if problems:
            error = PolicyError("; ".join(problems))
            error.problems = problems  # type: ignore[attr-defined]
            raise error
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
