"""Batching shared by FF1 and FF3-1: length grouping, alphabet mapping, input/output kinds.

A subclass only implements ``_crypt(numerals, tweak, decrypt)`` on a 2-D array of numerals in which
every row has the same length.  Everything else (mixed lengths, nulls, list vs. Arrow input, error
messages that never show a value) lives here once.

The shortest value each radix allows (radix ** length >= 1,000,000):

>>> min_length(10), min_length(2), min_length(26), min_length(36)
(6, 20, 5, 4)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, TypeVar, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..parallel import in_worker, resolve_threads, worker_pool
from ..primitives import AesEcb
from ..utf8 import decode_fixed, encode_fixed, group_bytes
from ._alphabet import Alphabet
from .errors import DomainTooSmallError, InvalidKeyError, ValueTooLongError

#: NIST SP 800-38G (and Rev. 1): radix ** minlen must be at least one million.
MIN_DOMAIN = 1_000_000

#: below this many values a group is processed in the calling thread
PARALLEL_MIN_ROWS = 131_072


ArrowStrings = TypeVar("ArrowStrings", pa.StringArray, pa.LargeStringArray, pa.ChunkedArray)


def check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes | bytearray | memoryview):
        raise InvalidKeyError("key must be bytes (16, 24 or 32 bytes for AES-128/192/256)")
    key = bytes(key)
    if len(key) not in (16, 24, 32):
        raise InvalidKeyError(f"key must be 16, 24 or 32 bytes long, got {len(key)} bytes")
    return key


def min_length(radix: int) -> int:
    """Smallest length L with radix**L >= 1,000,000 (exact integer arithmetic, no float logs)."""
    length, size = 0, 1
    while size < MIN_DOMAIN:
        size *= radix
        length += 1
    return max(length, 2)


def ints_big_endian(nums: np.ndarray, radix: int, exact: bool) -> np.ndarray:
    """NUM_radix(X): digits with the most significant first -> integers (uint64 or Python ints)."""
    rows = nums.shape[0]
    if exact:
        acc = np.zeros(rows, dtype=object)
        for j in range(nums.shape[1]):
            acc = acc * radix + nums[:, j].astype(object)
        return acc
    acc = np.zeros(rows, dtype=np.uint64)
    r = np.uint64(radix)
    for j in range(nums.shape[1]):
        acc = acc * r + nums[:, j].astype(np.uint64)
    return acc


def digits_big_endian(values: np.ndarray, radix: int, width: int, dtype: type[np.integer] = np.int64) -> np.ndarray:
    """STR^width_radix: integers -> (rows, width) numerals, most significant first (``dtype``: of the result, wide
    enough for ``radix - 1``)."""
    out = np.empty((len(values), width), dtype=dtype)
    if values.dtype == object:
        acc = values.copy()
        for j in range(width - 1, -1, -1):
            out[:, j] = (acc % radix).astype(np.int64)
            acc = acc // radix
        return out
    small = radix**width <= 2**32  # 32-bit division is several times faster than 64-bit
    acc = values.astype(np.uint32 if small else np.uint64)
    r = acc.dtype.type(radix)
    for j in range(width - 1, -1, -1):
        q = acc // r  # (numpy's divmod and % are several times slower than // by a scalar)
        out[:, j] = acc - q * r
        acc = q
    return out


class FeistelCipher:
    """Common front end of the FF1 and FF3-1 ciphers (see the subclasses for the algorithms)."""

    algorithm = "abstract"

    def __init__(self, key: bytes, alphabet: str) -> None:
        key = check_key(key)
        self._alphabet = Alphabet(alphabet)
        self.radix = self._alphabet.radix
        self.min_len = min_length(self.radix)
        self.max_len = self._max_length()
        self._init_key(key)

    # -- subclass hooks -------------------------------------------------------------------------
    def _init_key(self, key: bytes) -> None:
        raise NotImplementedError

    def _max_length(self) -> int:
        raise NotImplementedError

    def _check_tweak(self, tweak: bytes) -> bytes:
        raise NotImplementedError

    def _crypt(self, nums: np.ndarray, tweak: bytes, decrypt: bool) -> np.ndarray:
        raise NotImplementedError

    # -- helpers for subclasses -----------------------------------------------------------------
    @staticmethod
    def _ecb(cipher: AesEcb, blocks: np.ndarray) -> np.ndarray:
        """One AES-ECB call over a whole (rows, 16) batch of blocks."""
        return cipher.encrypt(blocks)

    # -- public API -----------------------------------------------------------------------------
    @property
    def alphabet(self) -> str:
        return self._alphabet.chars

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(radix={self.radix}, key=<redacted>)"

    def encrypt(self, text: str, tweak: bytes = b"") -> str:
        """Encrypt one string; the result has the same length and uses the same alphabet."""
        return self._one(text, tweak, decrypt=False)

    def decrypt(self, text: str, tweak: bytes = b"") -> str:
        """Invert :meth:`encrypt` for the same key, alphabet and tweak."""
        return self._one(text, tweak, decrypt=True)

    @overload
    def encrypt_many(self, values: Sequence[str | None], tweak: bytes = ..., *, threads: int | None = ...
                     ) -> list[str | None]: ...
    @overload
    def encrypt_many(self, values: ArrowStrings, tweak: bytes = ..., *, threads: int | None = ...) -> ArrowStrings:
        ...
    def encrypt_many(self, values: Any, tweak: bytes = b"", *, threads: int | None = None) -> Any:
        """Encrypt a batch (list of str or Arrow string array, mixed lengths allowed); same kind back.

        Nulls (``None``) stay null.  Each Feistel round is one AES call over the whole batch.  A large batch
        is split over ``threads`` worker threads (``None``: one per CPU; ``1``: the calling thread only).
        """
        return self._many(values, tweak, False, resolve_threads(threads))

    @overload
    def decrypt_many(self, values: Sequence[str | None], tweak: bytes = ..., *, threads: int | None = ...
                     ) -> list[str | None]: ...
    @overload
    def decrypt_many(self, values: ArrowStrings, tweak: bytes = ..., *, threads: int | None = ...) -> ArrowStrings:
        ...
    def decrypt_many(self, values: Any, tweak: bytes = b"", *, threads: int | None = None) -> Any:
        """Decrypt a batch; see :meth:`encrypt_many`."""
        return self._many(values, tweak, True, resolve_threads(threads))

    def encrypt_numerals(self, nums: np.ndarray, tweak: bytes = b"") -> np.ndarray:
        """Encrypt a (rows, length) array of numerals (ints in ``range(radix)``); rows share one length.

        This is the layer the PII types build on (e.g. cycle walking over a mixed-radix domain).
        """
        return self._numerals(nums, tweak, decrypt=False)

    def decrypt_numerals(self, nums: np.ndarray, tweak: bytes = b"") -> np.ndarray:
        return self._numerals(nums, tweak, decrypt=True)

    # -- internals ------------------------------------------------------------------------------
    def _check_length(self, length: int, position: int) -> None:
        if length < self.min_len:
            raise DomainTooSmallError(
                f"value at position {position} has {length} characters; with radix {self.radix} "
                f"{self.algorithm} needs at least {self.min_len} (radix**length >= {MIN_DOMAIN:,})"
            )
        if length > self.max_len:
            raise ValueTooLongError(
                f"value at position {position} has {length} characters; {self.algorithm} with radix "
                f"{self.radix} allows at most {self.max_len}"
            )

    def _numerals(self, nums: np.ndarray, tweak: bytes, decrypt: bool) -> np.ndarray:
        nums = np.asarray(nums, dtype=np.int64)
        if nums.ndim != 2:
            raise ValueError("numerals must be a 2-D array (rows, length)")
        if nums.size and (nums.min() < 0 or nums.max() >= self.radix):
            raise ValueError(f"numerals must lie in range(radix={self.radix})")
        tweak = self._check_tweak(tweak)
        self._check_length(nums.shape[1], 0)
        if nums.shape[0] == 0:
            return nums.copy()
        return self._crypt(nums, tweak, decrypt)

    def _one(self, text: str, tweak: bytes, decrypt: bool) -> str:
        if not isinstance(text, str):
            raise TypeError("expected a str")
        out = self._many([text], tweak, decrypt, 1)
        return str(out[0])

    def _many(self, values: Any, tweak: bytes, decrypt: bool, threads: int) -> Any:
        tweak = self._check_tweak(tweak)
        if isinstance(values, pa.ChunkedArray):
            return pa.chunked_array(
                [self._array(chunk, tweak, decrypt, threads) for chunk in values.chunks], type=values.type
            )
        if isinstance(values, pa.Array):
            return self._array(values, tweak, decrypt, threads)
        if isinstance(values, str):
            raise TypeError("encrypt_many/decrypt_many take a list of str or an Arrow array, not a str")
        items = list(values)
        for pos, item in enumerate(items):
            if item is not None and not isinstance(item, str):
                raise TypeError(f"value at position {pos} is a {type(item).__name__}, expected str")
        return self._array(pa.array(items, type=pa.string()), tweak, decrypt, threads).to_pylist()

    def _array(self, arr: pa.Array, tweak: bytes, decrypt: bool, threads: int) -> pa.Array:
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            raise TypeError(f"expected an Arrow string array, got {arr.type}")
        large = pa.types.is_large_string(arr.type)
        rows = len(arr)
        if rows == 0:
            return arr
        lengths = pc.fill_null(pc.utf8_length(arr), -1).to_numpy(zero_copy_only=False)
        uniq = np.unique(lengths)
        if len(uniq) == 1 and uniq[0] >= 0:
            return self._group(arr, int(uniq[0]), None, tweak, decrypt, large, threads)
        pieces, order = [], []
        for length in uniq:
            idx = np.flatnonzero(lengths == length)
            order.append(idx)
            if length < 0:
                pieces.append(pa.nulls(len(idx), type=arr.type))
            else:
                pieces.append(self._group(arr.take(pa.array(idx)), int(length), idx, tweak, decrypt, large, threads))
        perm = np.concatenate(order)
        inverse = np.empty_like(perm)
        inverse[perm] = np.arange(len(perm))
        return pa.concat_arrays(pieces).take(pa.array(inverse))

    def _group(self, group: pa.Array, length: int, idx: np.ndarray | None, tweak: bytes, decrypt: bool, large: bool,
               threads: int) -> pa.Array:
        self._check_length(length, int(idx[0]) if idx is not None else 0)
        rows = len(group)
        if threads > 1 and rows >= PARALLEL_MIN_ROWS and not in_worker():
            bounds = np.linspace(0, rows, threads + 1).astype(int)
            parts = [
                (group.slice(lo, hi - lo), None if idx is None else idx[lo:hi])
                for lo, hi in itertools.pairwise(bounds)
                if hi > lo
            ]
            with worker_pool(len(parts), "fpe") as pool:
                futures = [
                    pool.submit(self._group_serial, part, length, part_idx, tweak, decrypt, large)
                    for part, part_idx in parts
                ]
                return pa.concat_arrays([f.result() for f in futures])
        return self._group_serial(group, length, idx, tweak, decrypt, large)

    def _group_serial(self, group: pa.Array, length: int, idx: np.ndarray | None, tweak: bytes, decrypt: bool,
                      large: bool) -> pa.Array:
        rows = len(group)
        cps = decode_fixed(group_bytes(group), rows, length)
        nums = self._alphabet.to_numerals(cps, rows=idx)
        out = self._crypt(nums, tweak, decrypt)
        return encode_fixed(self._alphabet.to_codepoints(out), large=large)

