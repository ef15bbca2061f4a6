"""Check digits of identifiers, vectorised: Luhn (mod 10) and ISO 7064 MOD 97-10.

One implementation of each, used by every PII type and by the generators (python-stdnum keeps them apart
from the identifiers the same way: ``stdnum.luhn``, ``stdnum.iso7064.mod_97_10``).

Luhn: from the right, every second digit starting with the one left of the check digit is doubled (its
digits summed); the check digit makes the total a multiple of 10.

>>> luhn_digit(np.array([[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]]))  # the textbook example 7992739871 -> 3
array([3])
>>> luhn_digit_of(np.array([7992739871]), 10)
array([3])
>>> luhn_valid(np.array([[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3], [7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]]))
array([ True, False])

ISO 7064 MOD 97-10 over letters and digits (a letter counts as two digits, A = 10 ... Z = 35); an IBAN is
valid when its rearranged form (the first four characters moved to the end) leaves remainder 1:

>>> mod97_10(np.frombuffer(b"80000000608010167519SA03", np.uint8).reshape(1, -1))
array([1])
"""

from __future__ import annotations

import numpy as np

#: the Luhn value of a digit in a doubled position
_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int64)


def luhn_digit(digits: np.ndarray) -> np.ndarray:
    """The Luhn check digit of each row of a (rows, n) digit matrix (the digit that makes the row + it valid)."""
    n = digits.shape[1]
    doubled = (np.arange(n)[::-1] % 2) == 0  # positions counted from the right, the check digit's neighbour first
    vals = np.where(doubled, _DOUBLED[np.asarray(digits, dtype=np.int64)], digits)
    return (10 - vals.sum(axis=1) % 10) % 10


def luhn_digit_of(numbers: np.ndarray, width: int) -> np.ndarray:
    """:func:`luhn_digit` of each number written with ``width`` digits (zero-padded), by integer arithmetic."""
    x = np.asarray(numbers, dtype=np.int64)
    total = np.zeros(len(x), dtype=np.int64)
    for k in range(width):  # k = 0: the last digit, which is doubled (the check digit follows it)
        q = x // 10
        d = x - q * 10
        total += _DOUBLED[d] if k % 2 == 0 else d
        x = q
    return (10 - (total - (total // 10) * 10)) % 10


def luhn_valid(digits: np.ndarray) -> np.ndarray:
    """Whether each row of a digit matrix ends with its Luhn check digit."""
    return luhn_digit(digits[:, :-1]) == digits[:, -1]


_POW10_MOD97 = np.array([pow(10, k, 97) for k in range(80)], dtype=np.int64)


def mod97_10(chars: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 97-10 remainder of each row of a (rows, length) matrix of ASCII codes of ``0-9A-Z``.

    Each letter counts as two digits (A = 10 ... Z = 35).  The number is the sum of each character's value times
    ``10**(decimal digits after it)``, so the remainder is one weighted sum of the matrix with weights
    ``10**k mod 97`` (no loop over positions).
    """
    if len(chars) == 0:
        return np.zeros(0, dtype=np.int64)
    letter = chars >= 0x41
    # float64 values and products: every partial sum is below 36 * 96 * 80 < 2**53, so all exact
    value = chars.astype(np.float64) - 0x30
    if not (letter != letter[0]).any():  # one letter/digit pattern (the usual case): one weight vector
        value[:, letter[0]] -= 7.0  # 'A' (0x41) counts 10
        width = letter[0].astype(np.int64) + 1
        weights = _POW10_MOD97[np.cumsum(width[::-1])[::-1] - width].astype(np.float64)
        # einsum, not ``@``: a BLAS matrix-vector product would start OpenBLAS's thread pool for one small sum
        return np.rint(np.einsum("ij,j->i", value, weights)).astype(np.int64) % 97
    value -= 7.0 * letter
    width = letter.astype(np.int64) + 1
    after = np.cumsum(width[:, ::-1], axis=1)[:, ::-1] - width
    return np.rint((value * _POW10_MOD97[after]).sum(axis=1)).astype(np.int64) % 97
