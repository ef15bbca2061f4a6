"""Exceptions raised by the FPE engine.

Every exception is a :class:`ValueError` subclass and names the *problem* (and, for a batch, the
position of the offending value) but never the value itself, the key or the tweak: error text ends up
in logs and terminals, and the whole point of this package is that plaintext does not.
"""

from __future__ import annotations


class FPEError(ValueError):
    """Base class of every error raised by :mod:`tokenize_kit.fpe`."""


class InvalidKeyError(FPEError):
    """The key is not bytes of length 16, 24 or 32 (AES-128/192/256)."""


class InvalidTweakError(FPEError):
    """The tweak has a length the algorithm does not accept."""


class InvalidAlphabetError(FPEError):
    """The alphabet has duplicate characters, too few or too many characters."""


class InvalidCharacterError(FPEError):
    """A value contains a character that is not in the cipher's alphabet."""


class DomainTooSmallError(FPEError):
    """radix ** length is below the NIST minimum domain size of 1,000,000."""


class ValueTooLongError(FPEError):
    """The value is longer than the algorithm's maximum length for this radix."""
