"""Encrypt integers in ``range(size)`` for any ``size``: the building block for structured tokens.

PII types map a value to an integer in a domain that is exactly the set of *valid* values
(an Egyptian national ID's (date, governorate, serial) as one mixed-radix number, a name's index in
a dictionary, the letters of a short word ...), encrypt that integer within the same domain, and map
it back.  Every token is then valid by construction and the map is a bijection, hence reversible.

Two regimes, chosen by ``size`` alone so both directions always agree:

* ``size >= 2**20``: FF1 (or FF3-1) over binary numerals of length ``bits(size-1)`` (at least 20, so
  radix**length stays above the NIST minimum of 1,000,000) with **cycle walking** (re-encrypt while the
  result is ``>= size``); fewer than two walks are expected.
  Only the rows still out of range are re-encrypted, so the work stays vectorised.
* ``size < 2**20``: a keyed pseudo-random **cyclic** permutation, built by sorting AES outputs of
  ``(tweak digest, i)`` for every ``i`` in the domain (one batched AES call), cached, and closed into a
  single cycle (each value maps to the next one in the sorted order).  A single cycle has no fixed
  point, so no value is ever its own token: with a uniformly random permutation a one-letter e-mail
  local part would come back unchanged one time in 26.  FF1 keeps a fixed-point probability of
  ``1/size <= 2**-20`` above the limit.  A domain this small can be enumerated by anyone holding
  tokens and some plaintexts, whatever the cipher: policies should not rely on it alone.

>>> from tokenize_kit.keys import Keyset
>>> from tokenize_kit.pii.base import Crypto
>>> crypto = Crypto(Keyset.generate())
>>> values = np.array([0, 1, 999_999, 123_456])
>>> tokens = crypt_ints(crypto, "example", values, 10**6, ("label",))
>>> bool(((tokens >= 0) & (tokens < 10**6)).all()), crypt_ints(crypto, "example", tokens, 10**6, ("label",),
...                                                           decrypt=True).tolist()
(True, [0, 1, 999999, 123456])
>>> small = crypt_ints(crypto, "example", np.arange(26), 26, ("letters",))  # a keyed cycle: no fixed point
>>> sorted(small.tolist()) == list(range(26)), bool((small != np.arange(26)).all())
(True, True)
"""

from __future__ import annotations

import numpy as np

from tokenize_kit.fpe import FF1
from tokenize_kit.primitives import cyclic_permutation, label_digest
from tokenize_kit.subkeys import PERMUTATION

from .base import Crypto

#: below this size a permutation table is used instead of FF1 + cycle walking
TABLE_LIMIT = 2**20
#: shortest binary numeral used with FF1: 2**20 >= 1,000,000 (NIST minimum domain)
MIN_BITS = 20
#: bound on cycle-walking iterations; reaching it means a bug, not bad luck (p < 2**-1000)
MAX_WALKS = 4096


def _bits(values: np.ndarray, width: int) -> np.ndarray:
    """Integers -> (rows, width) binary numerals, most significant bit first."""
    if values.dtype == object:
        out = np.empty((len(values), width), dtype=np.int64)
        acc = values.copy()
        for j in range(width - 1, -1, -1):
            out[:, j] = (acc & 1).astype(np.int64)
            acc = acc >> 1
        return out
    v = values.astype(np.uint64)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return ((v[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.int64)


def _from_bits(nums: np.ndarray, exact: bool) -> np.ndarray:
    if exact:
        acc = np.zeros(nums.shape[0], dtype=object)
        for j in range(nums.shape[1]):
            acc = (acc << 1) | nums[:, j].astype(object)
        return acc
    width = nums.shape[1]
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return (nums.astype(np.uint64) << shifts[None, :]).sum(axis=1, dtype=np.uint64)


def crypt_ints(
    crypto: Crypto,
    domain: str,
    values: np.ndarray,
    size: int,
    tweak: tuple[str | bytes, ...] = (),
    *,
    decrypt: bool = False,
) -> np.ndarray:
    """Encrypt (or decrypt) integers in ``range(size)`` to integers in ``range(size)``.

    ``values`` is an int64/uint64 array (or an object array of Python ints for sizes >= 2**63).
    ``domain`` selects the subkey (one per PII type), ``tweak`` binds context such as kept parts
    (e.g. the birth year kept in clear), so equal hidden parts under different kept parts give
    unrelated tokens.  Raises ``ValueError`` if a value lies outside the domain (never showing it).
    """
    if size < 2:
        raise ValueError("integer domain must have at least 2 elements")
    exact = size > 2**63
    vals = np.asarray(values, dtype=object if exact else np.int64)
    if len(vals) == 0:
        return vals.copy()
    if exact:
        bad = [i for i, v in enumerate(vals) if not 0 <= v < size]
        if bad:
            raise ValueError(f"value at position {bad[0]} is outside the integer domain")
    elif vals.min() < 0 or vals.max() >= size:
        raise ValueError(f"value at position {int(np.flatnonzero((vals < 0) | (vals >= size))[0])} "
                         "is outside the integer domain")
    if size < TABLE_LIMIT:
        forward, inverse = cyclic_permutation(crypto.key(PERMUTATION, domain), label_digest(tweak), size)
        return (inverse if decrypt else forward)[vals]
    width = max(MIN_BITS, (size - 1).bit_length())
    cipher = crypto.cipher(domain, "01")
    tw = crypto.tweak(*tweak)
    if isinstance(cipher, FF1) and not exact:
        # FF1: work on the integers directly (no bit matrices)
        int_step = cipher.decrypt_ints if decrypt else cipher.encrypt_ints
        cur = vals.astype(np.uint64)
        todo = np.arange(len(cur))
        for _ in range(MAX_WALKS):
            cur[todo] = int_step(cur[todo], width, tw)
            todo = todo[cur[todo] >= np.uint64(size)]
            if len(todo) == 0:
                return cur.astype(np.int64)
        raise RuntimeError("cycle walking did not terminate")  # pragma: no cover
    step = cipher.decrypt_numerals if decrypt else cipher.encrypt_numerals
    nums = _bits(vals, width)
    result_exact = exact  # width <= 63 whenever size <= 2**63
    out = _from_bits(nums, result_exact)
    todo = np.arange(len(vals))
    for _ in range(MAX_WALKS):
        nums_todo = step(nums[todo], tw)
        nums[todo] = nums_todo
        new = _from_bits(nums_todo, result_exact)
        out[todo] = new
        still = np.asarray(new >= size, dtype=bool) if result_exact else new >= np.uint64(size)
        todo = todo[still]
        if len(todo) == 0:
            break
    else:  # pragma: no cover - probability below 2**-1000
        raise RuntimeError("cycle walking did not terminate")
    return out if exact else out.astype(np.int64)
