"""Format-preserving encryption primitives: NIST FF1 and FF3-1, vectorised over Arrow/numpy batches.

This layer knows nothing about countries, PII or files: it maps strings over an alphabet to strings
of the same length over the same alphabet under a key and a tweak.  Everything domain-specific lives
in :mod:`tokenize_kit.pii`.

>>> from tokenize_kit.fpe import DIGITS, FF1
>>> c = FF1(bytes(range(16)), DIGITS)
>>> c.encrypt_many(["0123456789", None, "12345678"])
['9233750996', None, '31329581']
>>> c.decrypt_many(['9233750996', None, '31329581'])
['0123456789', None, '12345678']
"""

from ._alphabet import (
    ARABIC_INDIC_DIGITS,
    BASE36,
    BASE62,
    DIGITS,
    EXTENDED_ARABIC_INDIC_DIGITS,
    Alphabet,
)
from ._base import MIN_DOMAIN, FeistelCipher, min_length
from .errors import (
    DomainTooSmallError,
    FPEError,
    InvalidAlphabetError,
    InvalidCharacterError,
    InvalidKeyError,
    InvalidTweakError,
    ValueTooLongError,
)
from .ff1 import FF1
from .ff3_1 import FF3_1

__all__ = [
    "ARABIC_INDIC_DIGITS",
    "BASE36",
    "BASE62",
    "DIGITS",
    "EXTENDED_ARABIC_INDIC_DIGITS",
    "FF1",
    "FF3_1",
    "MIN_DOMAIN",
    "Alphabet",
    "DomainTooSmallError",
    "FPEError",
    "FeistelCipher",
    "InvalidAlphabetError",
    "InvalidCharacterError",
    "InvalidKeyError",
    "InvalidTweakError",
    "ValueTooLongError",
    "min_length",
]
