"""FF3-1, NIST SP 800-38G Rev. 1 (first public draft, February 2019), bit-compatible with ``ff3``.

FF3-1 is kept for interoperability with systems that already hold FF3-1 tokens (notably those made
with the ``ff3`` Python package).  The February 2025 second public draft of SP 800-38G Rev. 1 removed
FF3-1, so new deployments should use :class:`~tokenize_kit.fpe.FF1`.

Tweaks: 7 bytes (56 bits, FF3-1); 8 bytes selects the original FF3 64-bit tweak for compatibility
with the ``ff3`` package and the NIST FF3 samples; ``b""`` means the all-zero 56-bit tweak.
Keys follow the ``ff3`` convention: pass the key as written; the cipher uses REVB(key) internally.

Vectorisation.  ``NUM_radix(REV(X))`` is just the little-endian value of the numeral string, and
``REVB`` of the PRF input/output turns into little-endian byte order, so each round is one AES-ECB
call over a (rows, 16) block array plus uint64 arithmetic while ``radix**ceil(n/2) < 2**32``.
"""

from __future__ import annotations

import numpy as np

from ..primitives import AesEcb
from ._base import FeistelCipher
from .errors import InvalidTweakError

ROUNDS = 8


def _ints_little_endian(nums: np.ndarray, radix: int, exact: bool) -> np.ndarray:
    """NUM_radix(REV(X)): first numeral is the least significant."""
    rows, width = nums.shape
    if exact:
        acc = np.zeros(rows, dtype=object)
        for j in range(width - 1, -1, -1):
            acc = acc * radix + nums[:, j].astype(object)
        return acc
    acc = np.zeros(rows, dtype=np.uint64)
    r = np.uint64(radix)
    for j in range(width - 1, -1, -1):
        acc = acc * r + nums[:, j].astype(np.uint64)
    return acc


def _digits_little_endian(values: np.ndarray, radix: int, width: int) -> np.ndarray:
    """REV(STR^width_radix(c))."""
    out = np.empty((len(values), width), dtype=np.int64)
    if values.dtype == object:
        acc = values.copy()
        for j in range(width):
            out[:, j] = (acc % radix).astype(np.int64)
            acc = acc // radix
        return out
    acc = values.astype(np.uint32 if radix**width <= 2**32 else np.uint64)
    r = acc.dtype.type(radix)
    for j in range(width):
        acc, out[:, j] = np.divmod(acc, r)
    return out


class FF3_1(FeistelCipher):
    """FF3-1 format-preserving encryption (interoperable with the ``ff3`` package).

    >>> c = FF3_1(bytes.fromhex("2DE79D232DF5585D68CE47882AE256D6"), "0123456789")
    >>> c.encrypt("3992520240", bytes.fromhex("CBD09280979564"))
    '8901801106'
    """

    algorithm = "FF3-1"

    def _init_key(self, key: bytes) -> None:
        self._cipher = AesEcb(key[::-1])
        self.force_exact = False

    def _max_length(self) -> int:
        # 2 * floor(log_radix(2**96)), computed exactly.
        e, size = 0, 1
        while size * self.radix <= 2**96:
            size *= self.radix
            e += 1
        return 2 * e

    def _check_tweak(self, tweak: bytes) -> bytes:
        if not isinstance(tweak, bytes | bytearray | memoryview):
            raise InvalidTweakError("tweak must be bytes")
        tweak = bytes(tweak)
        if len(tweak) == 0:
            return bytes(7)
        if len(tweak) not in (7, 8):
            raise InvalidTweakError(
                f"FF3-1 tweak must be 7 bytes (or 8 for legacy FF3), got {len(tweak)} bytes"
            )
        return tweak

    @staticmethod
    def _halves(tweak: bytes) -> tuple[bytes, bytes]:
        if len(tweak) == 8:
            return tweak[:4], tweak[4:]
        t = tweak
        return bytes([t[0], t[1], t[2], t[3] & 0xF0]), bytes([t[4], t[5], t[6], (t[3] & 0x0F) << 4])

    def _crypt(self, nums: np.ndarray, tweak: bytes, decrypt: bool) -> np.ndarray:
        rows, n = nums.shape
        radix = self.radix
        u = (n + 1) // 2
        v = n - u
        exact = self.force_exact or radix**u >= 2**32
        a = _ints_little_endian(nums[:, :u], radix, exact)
        b = _ints_little_endian(nums[:, u:], radix, exact)
        tl, tr = self._halves(tweak)
        order = range(ROUNDS - 1, -1, -1) if decrypt else range(ROUNDS)
        blk = None if exact else np.zeros((rows, 2), dtype="<u8")
        for i in order:
            m, w = (radix**u, tr) if i % 2 == 0 else (radix**v, tl)
            tail = bytes(reversed(w[:3] + bytes([w[3] ^ i])))
            src = a if decrypt else b
            if exact:
                y = self._round_exact(src, tail, m, rows)
                if decrypt:
                    b, a = a, (b - y) % m
                else:
                    a, b = b, (a + y) % m
                continue
            mm = np.uint64(m)
            assert blk is not None
            y = self._round_fast(blk, src, tail, m)
            if decrypt:
                c = b + (mm - y)
                c -= mm * (c >= mm)
                b, a = a, c
            else:
                c = a + y
                c -= mm * (c >= mm)
                a, b = b, c
        out = np.empty((rows, n), dtype=np.int64)
        out[:, :u] = _digits_little_endian(a, radix, u)
        out[:, u:] = _digits_little_endian(b, radix, v)
        return out

    def _round_fast(self, blk: np.ndarray, src: np.ndarray, tail: bytes, m: int) -> np.ndarray:
        """y mod m for one round.  REVB(P) = NUM(REV(B)) as 12 little-endian bytes || REVB(W xor i);
        with src < 2**32 that is word 0 = src and word 1 = the tail in its top four bytes."""
        blk[:, 0] = src
        blk[:, 1] = np.uint64(int.from_bytes(bytes(4) + tail, "little"))
        s = self._ecb(self._cipher, blk.view(np.uint8)).view("<u8")
        lo = s[:, 0]
        hi = s[:, 1]
        mm = np.uint64(m)
        # y = hi * 2**64 + lo; every product below stays < 2**64 because m < 2**32.
        return ((hi % mm) * np.uint64(2**64 % m) + lo % mm) % mm

    def _round_exact(self, src: np.ndarray, tail: bytes, m: int, rows: int) -> np.ndarray:
        head = b"".join(int(x).to_bytes(12, "little") for x in src)
        blk = np.empty((rows, 16), dtype=np.uint8)
        blk[:, :12] = np.frombuffer(head, dtype=np.uint8).reshape(rows, 12)
        blk[:, 12:] = np.frombuffer(tail, dtype=np.uint8)
        s = self._ecb(self._cipher, blk).tobytes()
        return np.array([int.from_bytes(s[r * 16 : (r + 1) * 16], "little") % m for r in range(rows)], dtype=object)
