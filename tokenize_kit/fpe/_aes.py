"""AES-ECB over whole numpy buffers: the block cipher call of every Feistel round.

The ``cryptography`` package is the reference implementation and the fallback.  On Linux the system
OpenSSL ``libcrypto`` is also called directly through :mod:`ctypes` when it is present: for the batch
sizes used here it is several times faster (AES-NI/VAES code paths, no extra copy), and a ctypes call
releases the GIL, so rounds running in other threads (the pipeline's reader and writer, split groups)
are not blocked.  It is used only after a self-test against ``cryptography`` gives the same blocks;
``TOKENIZE_KIT_OPENSSL=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

#: ctypes takes the length as a C int: feed OpenSSL at most this many bytes per call
_MAX_CALL = 1 << 30


def _bind(lib: ctypes.CDLL) -> ctypes.CDLL:
    lib.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
    lib.EVP_CIPHER_CTX_new.argtypes = []
    lib.EVP_CIPHER_CTX_free.restype = None
    lib.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
    for name in ("EVP_aes_128_ecb", "EVP_aes_192_ecb", "EVP_aes_256_ecb"):
        getattr(lib, name).restype = ctypes.c_void_p
        getattr(lib, name).argtypes = []
    lib.EVP_EncryptInit_ex.restype = ctypes.c_int
    lib.EVP_EncryptInit_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p,
                                       ctypes.c_char_p]
    lib.EVP_CIPHER_CTX_set_padding.restype = ctypes.c_int
    lib.EVP_CIPHER_CTX_set_padding.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.EVP_EncryptUpdate.restype = ctypes.c_int
    lib.EVP_EncryptUpdate.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int),
                                      ctypes.c_void_p, ctypes.c_int]
    return lib


def _load() -> ctypes.CDLL | None:
    if os.environ.get("TOKENIZE_KIT_OPENSSL", "1") == "0" or not sys.platform.startswith("linux"):
        return None
    for name in ("libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"):
        try:
            lib = _bind(ctypes.CDLL(name))
        except (OSError, AttributeError):
            continue
        if _self_test(lib):
            return lib
    return None


_LIB: ctypes.CDLL | None = None
_LIB_LOADED = False
_LIB_LOCK = threading.Lock()


def _libcrypto() -> ctypes.CDLL | None:
    global _LIB, _LIB_LOADED
    if not _LIB_LOADED:
        with _LIB_LOCK:
            if not _LIB_LOADED:
                try:
                    _LIB = _load()
                except Exception:  # pragma: no cover - any surprise: use the reference implementation
                    _LIB = None
                _LIB_LOADED = True
    return _LIB


def _openssl_ecb(lib: ctypes.CDLL, key: bytes, data: np.ndarray) -> np.ndarray | None:
    """AES-ECB of ``data`` (contiguous uint8, whole blocks) with libcrypto; None if a call fails."""
    ctx = lib.EVP_CIPHER_CTX_new()
    if not ctx:
        return None
    try:
        cipher = {16: lib.EVP_aes_128_ecb, 24: lib.EVP_aes_192_ecb, 32: lib.EVP_aes_256_ecb}[len(key)]()
        if lib.EVP_EncryptInit_ex(ctx, cipher, None, key, None) != 1:
            return None
        lib.EVP_CIPHER_CTX_set_padding(ctx, 0)
        out = np.empty(len(data), dtype=np.uint8)
        written = ctypes.c_int()
        for start in range(0, len(data), _MAX_CALL):
            chunk = data[start : start + _MAX_CALL]
            ok = lib.EVP_EncryptUpdate(ctx, out.ctypes.data + start, ctypes.byref(written), chunk.ctypes.data,
                                       len(chunk))
            if ok != 1 or written.value != len(chunk):
                return None
        return out
    finally:
        lib.EVP_CIPHER_CTX_free(ctx)


def _self_test(lib: ctypes.CDLL) -> bool:
    rng = np.random.default_rng(0x5EED)
    data = rng.integers(0, 256, 16 * 67, dtype=np.uint8)
    for size in (16, 24, 32):
        key = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        got = _openssl_ecb(lib, key, data)
        want = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(data.tobytes())
        if got is None or got.tobytes() != want:
            return False
    return True


class AesEcb:
    """AES-ECB under one key, applied to a whole (rows, 16) array of blocks in one call."""

    __slots__ = ("_cipher", "_key")

    def __init__(self, key: bytes) -> None:
        self._key = bytes(key)
        self._cipher = Cipher(algorithms.AES(self._key), modes.ECB())

    def encrypt_blocks(self, blocks: np.ndarray) -> np.ndarray:
        """Encrypt every 16-byte row of ``blocks`` (any uint8 array of whole blocks); returns (rows, 16) uint8."""
        data = np.ascontiguousarray(blocks, dtype=np.uint8).reshape(-1)
        if len(data) >= 64:  # tiny inputs: the ctypes set-up costs more than it saves
            lib = _libcrypto()
            if lib is not None:
                out = _openssl_ecb(lib, self._key, data)
                if out is not None:
                    return out.reshape(-1, 16)
        out = self._cipher.encryptor().update(memoryview(data).cast("B"))
        return np.frombuffer(out, dtype=np.uint8).reshape(-1, 16)
