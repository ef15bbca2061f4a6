"""python-stdnum style exceptions for PII validation.

``validate()`` of every PII type raises one of these.  Like every error in tokenize-kit, the message
names the problem, never the value.
"""

from __future__ import annotations


class ValidationError(ValueError):
    """A value is not a valid instance of its PII type."""


class InvalidLength(ValidationError):
    """The value has the wrong number of characters or digits."""


class InvalidFormat(ValidationError):
    """The value has characters or structure the type does not allow."""


class InvalidChecksum(ValidationError):
    """The check digit does not match."""


class InvalidComponent(ValidationError):
    """A part of the value (date, region code, operator prefix ...) is not a real one."""
