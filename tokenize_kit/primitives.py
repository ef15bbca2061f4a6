"""The cryptographic primitives of tokenize-kit: the one module that calls a cryptography library.

Everything is built on ``cryptography`` (pyca): AES-ECB over whole numpy buffers (the block-cipher call of
every FF1/FF3-1 round), CBC-MAC, keyed pseudo-random functions and permutations for small domains,
HMAC-SHA256 and HKDF-SHA256.  The FPE engine (:mod:`tokenize_kit.fpe`), the PII types, the table layer and
the keyset all call these functions; none of them builds a cipher or a MAC itself.

Whole buffers: AES runs once per batch over a (rows, 16) block array, written by ``update_into`` straight
into a preallocated numpy buffer (no intermediate ``bytes``).  ``cryptography`` releases the GIL while it
encrypts, so calls in different threads run on different cores.

Each function takes a key that was derived for exactly one purpose (see :mod:`tokenize_kit.subkeys`);
none of them is ever handed a key meant for another.

>>> aes = AesEcb(bytes.fromhex("000102030405060708090a0b0c0d0e0f"))
>>> aes.encrypt(np.frombuffer(bytes.fromhex("00112233445566778899aabbccddeeff"), np.uint8)).tobytes().hex()
'69c4e0d86a7b0430d8cdb78070b4c55a'
>>> hkdf_sha256(bytes.fromhex("0b" * 22), bytes.fromhex("000102030405060708090a0b0c"),
...             bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42).hex()[:32]
'3cb25f25faacd57a90434f64d0362f2a'
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

BLOCK = 16


class AesEcb:
    """AES-ECB under one key (16, 24 or 32 bytes), applied to a whole array of blocks per call.

    Thread-safe: each thread keeps its own cipher context and reuses it from call to call.  ECB carries no state
    from one block to the next and every call passes whole blocks, so a reused context encrypts exactly as a new
    one; creating a context costs about 15 times the AES work of a small call (FF1 makes ten calls per batch, and
    a cycle walk's last rounds run on a handful of values).
    """

    __slots__ = ("_cipher", "_local")

    def __init__(self, key: bytes) -> None:
        self._cipher = Cipher(algorithms.AES(bytes(key)), modes.ECB())
        self._local = threading.local()

    def __repr__(self) -> str:  # never show the key
        return "AesEcb(key=<redacted>)"

    def encrypt(self, blocks: np.ndarray) -> np.ndarray:
        """Encrypt every 16-byte block of ``blocks`` (a uint8 array whose size is a multiple of 16).

        Returns a new (rows, 16) uint8 array.
        """
        data = np.ascontiguousarray(blocks, dtype=np.uint8).reshape(-1)
        n = len(data)
        if n % BLOCK:
            raise ValueError("AES-ECB input must be a whole number of 16-byte blocks")
        # update_into wants room for one more block than ECB writes; the extra 15 bytes stay unused
        out = np.empty(n + BLOCK - 1, dtype=np.uint8)
        if n:
            context = getattr(self._local, "context", None)
            if context is None:
                context = self._local.context = self._cipher.encryptor()
            context.update_into(data.data, out.data)
        return out[:n].reshape(-1, BLOCK)


def cbc_mac(key: bytes, data: bytes) -> bytes:
    """CBC-MAC with a zero IV over a whole number of blocks: the PRF of NIST SP 800-38G (FF1)."""
    if not data:
        return bytes(BLOCK)
    enc = Cipher(algorithms.AES(key), modes.CBC(bytes(BLOCK))).encryptor()
    return enc.update(data)[-BLOCK:]


def prf_u64(key: bytes, blocks: np.ndarray) -> np.ndarray:
    """A keyed pseudo-random 64-bit number per 16-byte block: the first 8 bytes of its AES encryption, big-endian.

    AES is a pseudo-random permutation of 16-byte blocks, so distinct blocks give independent-looking outputs;
    callers pack whatever identifies a row (a value, a context) into its block.
    """
    out = AesEcb(key).encrypt(blocks)
    return np.ascontiguousarray(out[:, :8]).view(">u8").ravel().astype(np.uint64)


def prf_u64_of_ints(key: bytes, values: np.ndarray) -> np.ndarray:
    """:func:`prf_u64` of the blocks ``0^8 || BE64(value)``, one per value (non-negative int64/uint64)."""
    blocks = np.zeros((len(values), BLOCK), dtype=np.uint8)
    blocks[:, 8:] = np.asarray(values).astype(">u8").view(np.uint8).reshape(-1, 8)
    return prf_u64(key, blocks)


def prf_u16x32(key: bytes, messages: np.ndarray) -> np.ndarray:
    """32 keyed pseudo-random uint16 per row of ``messages`` (uint8 rows of at most 32 bytes, zero-padded to 32).

    The CBC-MAC of the (two-block) row, then four counter blocks encrypted under the MAC state.  Every
    message is exactly two blocks long, and CBC-MAC is a PRF on messages of one fixed length.
    """
    rows = len(messages)
    msg = np.zeros((rows, 2 * BLOCK), dtype=np.uint8)
    msg[:, : messages.shape[1]] = messages
    aes = AesEcb(key)
    state = aes.encrypt(aes.encrypt(msg[:, :BLOCK]) ^ msg[:, BLOCK:])
    out = np.empty((rows, 4 * BLOCK), dtype=np.uint8)
    for i in range(4):
        counter = np.zeros(BLOCK, dtype=np.uint8)
        counter[-1] = i + 1
        out[:, BLOCK * i : BLOCK * (i + 1)] = aes.encrypt(state ^ counter)
    return out.view(">u2").reshape(rows, 32)


def label(parts: Iterable[str | bytes]) -> bytes:
    """The parts joined by U+001F, strings as UTF-8: how a list of labels becomes one tweak.

    >>> label(["phone", "20", "mobile"])
    b'phone\\x1f20\\x1fmobile'
    """
    return b"\x1f".join(p.encode() if isinstance(p, str) else p for p in parts)


def label_digest(parts: Iterable[str | bytes], size: int = 32) -> bytes:
    """SHA-256 of :func:`label`, cut to ``size`` bytes: a fixed-size tweak or table label."""
    return hashlib.sha256(label(parts)).digest()[:size]


_PERMUTATIONS: OrderedDict[tuple[bytes, bytes, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_PERMUTATION_BUDGET = 64 * 2**20  # bytes of tables kept (a 26**4 table pair takes 7.3 MB)
_permutation_lock = threading.Lock()


def cyclic_permutation(key: bytes, label: bytes, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A keyed pseudo-random permutation of ``range(size)`` made of ONE cycle, and its inverse (int64 arrays).

    For domains too small for FF1 (below a million values).  Every ``i`` gets the sort key
    :func:`prf_u64` of ``label[:8] || BE64(i)``; the values in sort-key order form a single cycle (each maps to
    the next one), so no value is its own image.  Cached, least recently used first out, within a budget of
    bytes rather than a count: free text uses dozens of small tables per batch (one per phone prefix, name
    group, letter class ...), and a count-bounded cache rebuilt most of them on every batch.
    """
    k = (key, label, size)
    with _permutation_lock:
        hit = _PERMUTATIONS.get(k)
        if hit is not None:
            _PERMUTATIONS.move_to_end(k)
            return hit
    made = _cyclic_permutation(key, label, size)
    with _permutation_lock:
        _PERMUTATIONS[k] = made
        held = sum(f.nbytes + i.nbytes for f, i in _PERMUTATIONS.values())
        while held > _PERMUTATION_BUDGET and len(_PERMUTATIONS) > 1:
            _, (f, i) = _PERMUTATIONS.popitem(last=False)
            held -= f.nbytes + i.nbytes
    return made


def _cyclic_permutation(key: bytes, label: bytes, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The table of :func:`cyclic_permutation`, built."""
    counters = np.zeros((size, BLOCK), dtype=np.uint8)
    counters[:, :8] = np.frombuffer(label[:8], dtype=np.uint8)
    counters[:, 8:] = np.arange(size, dtype=">u8").view(np.uint8).reshape(size, 8)
    keys = prf_u64(key, counters)
    # (a stable sort only where two sort keys are equal: with none, every sort gives the same order)
    order = np.argsort(keys)
    ranked = keys[order]
    if (ranked[1:] == ranked[:-1]).any():
        order = np.argsort(keys, kind="stable")
    order = order.astype(np.int64)
    forward = np.empty(size, dtype=np.int64)
    forward[order] = np.roll(order, -1)
    inverse = np.empty_like(forward)
    inverse[forward] = np.arange(size, dtype=np.int64)
    forward.setflags(write=False)
    inverse.setflags(write=False)
    return forward, inverse


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104).

    >>> hmac_sha256(b"key", b"The quick brown fox jumps over the lazy dog").hex()[:16]
    'f7bc83f430538424'
    """
    h = _hmac.HMAC(key, hashes.SHA256())
    h.update(message)
    return h.finalize()


def hmac_sha256_hex(key: bytes, messages: Sequence[str]) -> list[str]:
    """Hex HMAC-SHA256 of each string (UTF-8) under one key."""
    base = _hmac.HMAC(key, hashes.SHA256())
    out = []
    for m in messages:
        h = base.copy()
        h.update(m.encode("utf-8"))
        out.append(h.finalize().hex())
    return out


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869); the doctest above is the first 16 bytes of the RFC's test case 1."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)
