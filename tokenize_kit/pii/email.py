"""E-mail addresses.

Valid: ``local@domain`` where the local part uses letters, digits and ``. _ % + -`` and the domain is
dot-separated labels of letters, digits and hyphens ending in an alphabetic TLD of two or more letters
(the practical subset of RFC 5322 that real extracts contain; quoted local parts and IP-literal
domains are treated as invalid and go to ``on_invalid``).

Tokens: the local part is encrypted with character-class FPE (letters stay letters of the same case,
digits stay digits, punctuation stays in place), so the token is still a syntactically valid address;
the domain is kept by default (``keep_domain: false`` encrypts every domain label but the TLD).

>>> is_valid("ahmed.ali@example.com"), is_valid("not an email"), is_valid("a@b")
(True, False, False)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tokenize_kit.utf8 import group_bytes

from .base import TEXT_SLICE, ColumnSpec, Crypto, Parse, PIIType, int_domain_subkeys, stdnum_api
from .charclass import charclass, charclass_cps
from .exceptions import InvalidFormat

PATTERN = r"^(?P<local>[A-Za-z0-9._%+\-]+)@(?P<host>(?:[A-Za-z0-9\-]+\.)+)(?P<tld>[A-Za-z]{2,})$"


class Email(PIIType):
    name: ClassVar[str] = "email"
    description: ClassVar[str] = "E-mail address (local part encrypted, domain kept by default)"
    domain: ClassVar[str] = "email"
    subkeys: ClassVar[tuple[tuple[str, str], ...]] = (*int_domain_subkeys("email"), *int_domain_subkeys("email/host"))
    slice_values: ClassVar[int] = TEXT_SLICE

    def compact(self, value: str) -> str:
        return value.strip()

    def validate(self, value: str) -> str:
        v = self.compact(value)
        if not pc.match_substring_regex(pa.array([v]), PATTERN)[0].as_py():
            raise InvalidFormat("not a syntactically valid e-mail address")
        return v

    def parse(self, values: pa.Array, spec: ColumnSpec | None = None) -> Parse:
        return Parse(pc.fill_null(pc.match_substring_regex(values, PATTERN), False).to_numpy(zero_copy_only=False))

    def _crypt(self, values: pa.Array, crypto: Crypto, spec: ColumnSpec | None, decrypt: bool,
               parsed: Parse | None) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if spec is None or spec.options.get("keep_domain", True):
            fast = _crypt_local(values, crypto, self.domain, decrypt)
            if fast is not None:
                return fast
        parts = pc.extract_regex(values, PATTERN)
        local = pc.struct_field(parts, "local")
        host = pc.struct_field(parts, "host")
        tld = pc.struct_field(parts, "tld")
        local = charclass(local, crypto, self.domain, decrypt=decrypt)
        if spec is not None and not spec.options.get("keep_domain", True):
            host = charclass(host, crypto, self.domain + "/host", decrypt=decrypt)
        return pc.binary_join_element_wise(local, "@", host, tld, "")


def _crypt_local(values: pa.Array, crypto: Crypto, domain: str, decrypt: bool) -> pa.Array | None:
    """The tokens with the domain kept, on the column's bytes: a valid address is ASCII with one ``@``, so the
    local part of each row is the bytes before its ``@``.  Character-class FPE runs on the column's bytes as they
    are, each row ending at its ``@`` (the same tokens as encrypting the local parts as strings), so no local part
    is copied out and back.  ``None`` if the column is not of that shape
    (then the general path runs)."""
    if not pa.types.is_string(values.type) or values.null_count or len(values) == 0:
        return None
    data = group_bytes(values)
    n = len(values)
    raw = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1 + values.offset)[values.offset :]
    off = raw.astype(np.int64) - int(raw[0])
    at = np.flatnonzero(data == 0x40)
    if len(at) != n or int(data.max()) >= 0x80 or not ((at >= off[:-1]) & (at < off[1:])).all():
        return None
    out = charclass_cps(data, off, crypto, domain, decrypt=decrypt, row_end=at)
    return pa.StringArray.from_buffers(n, pa.py_buffer(off.astype(np.int32)), pa.py_buffer(out))


_TYPE = Email()


compact, validate, is_valid, format = stdnum_api(_TYPE)
