"""FF1, NIST SP 800-38G (March 2016) section 5.1, unchanged in the SP 800-38G Rev. 1 drafts.

FF1 is the default algorithm of tokenize-kit: the second public draft of SP 800-38G Rev. 1
(February 2025) withdrew FF3-1, leaving FF1 as the approved FPE mode.

Vectorisation.  The PRF of round ``i`` is a CBC-MAC over ``P || Q`` where only the last block of
``Q`` (``[i] || NUM(B)``) depends on the value: the MAC state over ``P`` and the tweak is computed
once per (length, tweak), so each round is *one* AES-ECB call over the whole batch plus numpy
integer arithmetic.  While ``radix**ceil(n/2) < 2**32`` the halves and ``y mod radix**m`` fit in
uint64 (the "fast path").  Up to ``radix**ceil(n/2) < 2**62`` (the "wide path": e-mail local parts, name parts and
street names of 14-26 letters) the halves still fit in uint64; ``y`` is then 96 bits, reduced modulo the half's
modulus in uint64 with a float64 estimate of the quotient and an exact correction.  Longer numerals (street names
of 23 letters and more, whole addresses' letters) take the "long path": each half as a few base-``radix**e``
superdigits (``radix**e <= 2**32``), the conversions to and from the PRF's bytes as small int64 matrix products
(see :meth:`FF1._crypt_long`).  The "exact path" with Python integers (every AES call still batched) remains for
what the long path's bounds exclude and for tests (``force_exact``).  The paths give the same numerals (tests
compare them) and are checked against the NIST samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..primitives import AesEcb, cbc_mac
from ._base import FeistelCipher, digits_big_endian, ints_big_endian
from .errors import InvalidTweakError

ROUNDS = 10
#: SP 800-38G: maxlen <= 2**32.  (Memory runs out long before, but the bound is the standard's.)
FF1_MAX_LEN = 2**32
#: Tweaks are capped well below the standard's 2**32 bytes; a tweak is a domain label, not data.
FF1_MAX_TWEAK = 4096
#: the wide path's bound on a half's modulus: 2*m must fit in int64 for its remainder correction
WIDE_LIMIT = 2**62


class FF1(FeistelCipher):
    """FF1 format-preserving encryption over any alphabet of distinct Unicode characters.

    >>> c = FF1(bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C"), "0123456789")
    >>> c.encrypt("0123456789")
    '2433477484'
    >>> c.decrypt("2433477484")
    '0123456789'
    """

    algorithm = "FF1"

    def _init_key(self, key: bytes) -> None:
        self._key = key
        self._cipher = AesEcb(key)
        self._prefix_cache: dict[tuple[int, bytes], tuple[bytes, bytes, int, int]] = {}
        self._long_cache: dict[tuple[int, bytes], _LongPlan | None] = {}
        self.force_exact = False  # tests flip this to check the exact path against the fast one

    def _max_length(self) -> int:
        return FF1_MAX_LEN

    def _check_tweak(self, tweak: bytes) -> bytes:
        if not isinstance(tweak, bytes | bytearray | memoryview):
            raise InvalidTweakError("tweak must be bytes")
        tweak = bytes(tweak)
        if len(tweak) > FF1_MAX_TWEAK:
            raise InvalidTweakError(f"FF1 tweak must be at most {FF1_MAX_TWEAK} bytes, got {len(tweak)}")
        return tweak

    def _prefix(self, n: int, tweak: bytes) -> tuple[bytes, bytes, int, int]:
        """MAC state over the constant blocks, the constant head of the varying blocks, b and d."""
        cached = self._prefix_cache.get((n, tweak))
        if cached is not None:
            return cached
        radix = self.radix
        u = n // 2
        v = n - u
        b = ((radix**v - 1).bit_length() + 7) // 8
        d = 4 * ((b + 3) // 4) + 4
        t = len(tweak)
        p_block = (
            bytes([1, 2, 1])
            + radix.to_bytes(3, "big")
            + bytes([10, u % 256])
            + n.to_bytes(4, "big")
            + t.to_bytes(4, "big")
        )
        pad = (-t - b - 1) % 16
        q_const = tweak + bytes(pad)
        k = (1 + b + 15) // 16  # blocks touched by [i] || NUM(B)
        q_len = t + pad + 1 + b
        split = q_len - 16 * k
        state = cbc_mac(self._key, p_block + q_const[:split])
        head = q_const[split:]  # constant bytes at the start of the varying blocks
        result = (state, head, b, d)
        if len(self._prefix_cache) > 256:
            self._prefix_cache.clear()
        self._prefix_cache[(n, tweak)] = result
        return result

    def _exact(self, n: int, b: int) -> bool:
        """Whether length ``n`` needs Python integers (see the module docstring): halves of 2**62 or more."""
        return self.force_exact or (b > 4 and self.radix ** (n - n // 2) >= WIDE_LIMIT)

    def _crypt(self, nums: np.ndarray, tweak: bytes, decrypt: bool) -> np.ndarray:
        rows, n = nums.shape
        radix = self.radix
        u = n // 2
        v = n - u
        _, _, b, _ = self._prefix(n, tweak)
        exact = self._exact(n, b)
        if exact and not self.force_exact:
            plan = self._long_plan(n, tweak)
            if plan is not None:
                return self._crypt_long(nums, plan, decrypt)
        a = ints_big_endian(nums[:, :u], radix, exact)
        bb = ints_big_endian(nums[:, u:], radix, exact)
        a, bb = self._feistel(a, bb, n, tweak, decrypt, exact)
        out = np.empty((rows, n), dtype=np.int64)
        out[:, :u] = digits_big_endian(a, radix, u)
        out[:, u:] = digits_big_endian(bb, radix, v)
        return out

    def encrypt_ints(self, values: np.ndarray, length: int, tweak: bytes = b"") -> np.ndarray:
        """Encrypt integers in ``range(radix**length)`` as numeral strings of ``length`` (uint64 in/out).

        Same result as :meth:`encrypt_numerals` on the big-endian numerals of each value, without
        materialising them: FF1's halves are just ``x // radix**v`` and ``x % radix**v``.
        """
        return self._ints(values, length, tweak, decrypt=False)

    def decrypt_ints(self, values: np.ndarray, length: int, tweak: bytes = b"") -> np.ndarray:
        return self._ints(values, length, tweak, decrypt=True)

    def _ints(self, values: np.ndarray, length: int, tweak: bytes, decrypt: bool) -> np.ndarray:
        tweak = self._check_tweak(tweak)
        self._check_length(length, 0)
        if self.radix**length > 2**64:
            raise ValueError("encrypt_ints needs radix**length <= 2**64; use encrypt_numerals")
        x = np.asarray(values, dtype=np.uint64)
        u = length // 2
        v = length - u
        _, _, b, _ = self._prefix(length, tweak)
        exact = self._exact(length, b)
        mod_v = self.radix**v
        if exact:
            xo = x.astype(object)
            a, bb = xo // mod_v, xo % mod_v
        else:
            a = x // np.uint64(mod_v)
            bb = x - a * np.uint64(mod_v)
        a, bb = self._feistel(a, bb, length, tweak, decrypt, exact)
        if exact:
            return np.array([int(p) * mod_v + int(q) for p, q in zip(a, bb, strict=True)], dtype=np.uint64)
        return a.astype(np.uint64) * np.uint64(mod_v) + bb.astype(np.uint64)

    def crypt_ints_tweaks(self, values: np.ndarray, length: int, tweaks: Sequence[bytes], which: np.ndarray, *,
                          decrypt: bool = False) -> np.ndarray:
        """:meth:`encrypt_ints` (or :meth:`decrypt_ints`) of each value under its own tweak ``tweaks[which[i]]``,
        in one batch: the same integers as one call per tweak.  A tweak enters each round's PRF only through the
        two constant words of its last block, so the rounds take one pair of words per row; a cycle walk over many
        small groups (a phone column's prefixes) then runs its steps once for all of them.

        >>> c = FF1(bytes(16), "0123456789")
        >>> x = np.array([123456, 123456, 999999], dtype=np.uint64)
        >>> both = c.crypt_ints_tweaks(x, 6, [b"a", b"bb"], np.array([0, 1, 1]))
        >>> both.tolist() == [int(c.encrypt_ints(x[:1], 6, b"a")[0])] + c.encrypt_ints(x[1:], 6, b"bb").tolist()
        True
        >>> c.crypt_ints_tweaks(both, 6, [b"a", b"bb"], np.array([0, 1, 1]), decrypt=True).tolist()
        [123456, 123456, 999999]
        """
        checked = [self._check_tweak(t) for t in tweaks]
        self._check_length(length, 0)
        if self.radix**length > 2**64:
            raise ValueError("crypt_ints_tweaks needs radix**length <= 2**64")
        x = np.asarray(values, dtype=np.uint64)
        which = np.asarray(which, dtype=np.intp)
        b = self._prefix(length, checked[0])[2]  # (b depends on the radix and the length alone)
        if len(checked) == 1 or self._exact(length, b):
            out = np.empty(len(x), dtype=np.uint64)
            for k, tweak in enumerate(checked):
                sel = np.flatnonzero(which == k)
                if len(sel):
                    out[sel] = self._ints(x[sel], length, tweak, decrypt)
            return out
        consts = np.array([self._const_words(*self._prefix(length, t)[:3]) for t in checked], dtype=np.uint64)
        mod_v = np.uint64(self.radix ** (length - length // 2))
        a = x // mod_v
        bb = x - a * mod_v
        a, bb = self._feistel(a, bb, length, checked[0], decrypt, False, words=(consts[which, 0], consts[which, 1]))
        return a.astype(np.uint64) * mod_v + bb.astype(np.uint64)

    def _feistel(self, a: np.ndarray, bb: np.ndarray, n: int, tweak: bytes, decrypt: bool, exact: bool,
                 words: tuple[Any, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ten Feistel rounds on the integer halves (uint64 arrays, or object arrays if exact); ``words``: the
        tweak's two constant words (:meth:`_const_words`), or one pair per row (uint64 arrays)."""
        radix = self.radix
        u = n // 2
        v = n - u
        rows = len(a)
        state, head, b, d = self._prefix(n, tweak)
        mods = (radix**u, radix**v)
        order = range(ROUNDS - 1, -1, -1) if decrypt else range(ROUNDS)
        if exact:
            for i in order:
                m = mods[i % 2]
                if not decrypt:
                    a, bb = bb, (a + self._round_exact(bb, i, state, head, b, d, m, rows)) % m
                else:
                    bb, a = a, (bb - self._round_exact(a, i, state, head, b, d, m, rows)) % m
        else:
            if words is None:
                words = self._const_words(state, head, b)
            blk = np.empty((rows, 2), dtype=">u8")
            blk[:, 0] = words[0]
            for i in order:
                m = np.uint64(mods[i % 2])
                src = a if decrypt else bb
                if b > 4:
                    y = self._prf_wide(blk, words, i, b, src, mods[i % 2])
                else:
                    y = self._prf_fast(blk, words[1] ^ (np.uint64(i) << np.uint64(8 * b)), src)
                    if mods[i % 2] & (mods[i % 2] - 1):
                        y -= (y // m) * m  # y mod m: numpy divides by a scalar fast, its % is much slower
                    else:  # a power of two (radix 2, 4, ...): a mask is the remainder
                        y &= m - np.uint64(1)
                # c = (A + y) mod m without a second division: A, y < m, and where c < m, c - m wraps above c
                if not decrypt:
                    c = a + y
                    np.minimum(c, c - m, out=c)
                    a, bb = bb, c
                else:
                    c = bb + (m - y)
                    np.minimum(c, c - m, out=c)
                    bb, a = a, c
        return a, bb

    @staticmethod
    def _const_words(state: bytes, head: bytes, b: int) -> tuple[np.uint64, np.uint64]:
        """The last PRF block XOR the MAC state, as two big-endian words, varying bytes zeroed."""
        last = head + bytes(1 + b)
        block = bytes(x ^ y for x, y in zip(last, state, strict=True))
        return np.uint64(int.from_bytes(block[:8], "big")), np.uint64(int.from_bytes(block[8:], "big"))

    def _prf_fast(self, blk: np.ndarray, lo_const: np.uint64, src: np.ndarray) -> np.ndarray:
        """y for one round: b <= 4, so [i] || NUM(B) sits in the low 5 bytes of the second word
        and d == 8, so y is the first 8 bytes of R as a big-endian integer."""
        blk[:, 1] = lo_const ^ src
        r = self._ecb(self._cipher, blk.view(np.uint8))
        return r.view(">u8")[:, 0].astype(np.uint64)

    def _prf_wide(self, blk: np.ndarray, words: tuple[np.uint64, np.uint64], i: int, b: int, src: np.ndarray,
                  m: int) -> np.ndarray:
        """y mod m for one round when 4 < b <= 8 and m < 2**62: ``[i] || NUM(B)`` fills the low ``1 + b`` bytes of
        the block (``[i]`` reaches the first word when b == 8), d == 12, so y is the first 12 bytes of R: a 64-bit
        high part and a 32-bit low part, reduced modulo m exactly in uint64."""
        if b < 8:
            blk[:, 0] = words[0]
            blk[:, 1] = (words[1] ^ (np.uint64(i) << np.uint64(8 * b))) ^ src
        else:
            blk[:, 0] = words[0] ^ np.uint64(i)
            blk[:, 1] = words[1] ^ src
        r = self._ecb(self._cipher, blk.view(np.uint8))
        hi = r.view(">u8")[:, 0].astype(np.uint64)
        lo = r.view(">u4")[:, 2].astype(np.uint64)
        mm = np.uint64(m)
        r1 = hi - (hi // mm) * mm  # hi mod m
        # (r1 * 2**32 + lo) mod m: the quotient (< 2**32) from float64 is off by at most one, so the remainder it
        # leaves, computed modulo 2**64 and read as int64, lies in (-m, 2m) and one correction each way makes it exact
        q = np.floor((r1.astype(np.float64) * 4294967296.0 + lo.astype(np.float64)) / float(m)).astype(np.uint64)
        rem = ((r1 << np.uint64(32)) + lo - q * mm).view(np.int64)
        rem += np.where(rem < 0, np.int64(m), np.int64(0))
        rem -= np.where(rem >= np.int64(m), np.int64(m), np.int64(0))
        return rem.view(np.uint64)

    def _long_plan(self, n: int, tweak: bytes) -> _LongPlan | None:
        """The constants of the long path for length ``n`` and ``tweak`` (None where its bounds do not hold)."""
        key = (n, tweak)
        if key not in self._long_cache:
            if len(self._long_cache) > 256:
                self._long_cache.clear()
            self._long_cache[key] = _LongPlan.build(self.radix, n, *self._prefix(n, tweak))
        return self._long_cache[key]

    def _crypt_long(self, nums: np.ndarray, plan: _LongPlan, decrypt: bool) -> np.ndarray:
        """FF1 on numerals too long for uint64 halves, with numpy integer arithmetic on every row at once.

        A half is held as "superdigits" (``plan.e`` numerals each, base ``plan.q = radix**e <= 2**32``, least
        significant first, one row per superdigit; the top one holds the numerals left over): adding ``y`` modulo
        ``radix**m`` is a carry through a few superdigits, the top one taken modulo ``radix**(numerals it holds)``.
        The two conversions of each round are small integer matrix products, exact in int64 (every sum stays
        below 2**63): ``NUM(B)`` as 16-bit limbs is ``B``'s superdigits times the limbs of ``q**s``, and
        ``y mod radix**m`` is ``y``'s 16-bit words times the superdigits of ``2**(16 j) mod radix**m``.  Every
        AES call still covers the whole batch.  Same numerals as the exact path (tests compare them)."""
        rows, n = nums.shape
        u = n // 2
        v = n - u
        a = plan.to_super(nums[:, :u], u)
        bb = plan.to_super(nums[:, u:], v)
        order = range(ROUNDS - 1, -1, -1) if decrypt else range(ROUNDS)
        blocks = np.zeros((rows, 8 * plan.k), dtype=">u2")
        for i in order:
            m, src_len = (u, v) if i % 2 == 0 else (v, u)
            src = a if decrypt else bb
            y = self._prf_long(plan, i, src, src_len, m, blocks)
            if not decrypt:
                a, bb = bb, plan.reduce(a + y, m)
            else:
                bb, a = a, plan.reduce(bb - y, m)
        out = np.empty((rows, n), dtype=np.int64)
        out[:, :u] = plan.to_numerals(a, u)
        out[:, u:] = plan.to_numerals(bb, v)
        return out

    def _prf_long(self, plan: _LongPlan, i: int, src: np.ndarray, src_len: int, m: int, blocks: np.ndarray
                  ) -> np.ndarray:
        """``y`` of round ``i`` reduced modulo ``radix**m`` up to a carry: superdigits that may exceed their base
        (``src``: the superdigits of ``B``, ``src_len`` numerals)."""
        limbs = plan.limb_weights[src_len] @ src  # NUM(B) as 16-bit limbs, least significant first, unnormalised
        for j in range(len(limbs) - 1):
            limbs[j + 1] += limbs[j] >> 16
        limbs[:-1] &= 0xFFFF
        blocks[:, 8 * plan.k - len(limbs) :] = limbs[::-1].T  # NUM(B)_b: the last b bytes of the varying blocks
        raw = blocks.view(np.uint8) ^ plan.const[i]  # (the head and [i]; the MAC state folded into the first block)
        y_state = self._ecb(self._cipher, raw[:, :16])
        for j in range(1, plan.k):
            y_state = self._ecb(self._cipher, y_state ^ raw[:, 16 * j : 16 * j + 16])
        parts = [y_state] + [self._ecb(self._cipher, y_state ^ c) for c in plan.counters]
        s = np.concatenate(parts, axis=1) if len(parts) > 1 else y_state
        words = np.ascontiguousarray(s[:, : plan.d]).view(">u2").astype(np.int64)  # y, most significant first
        return plan.y_weights[m] @ words.T

    def _round_exact(self, src: np.ndarray, i: int, state: bytes, head: bytes, b: int, d: int, m: int, rows: int
                     ) -> np.ndarray:
        """y mod m for one round with Python integers (any length); AES still batched."""
        k = (1 + b + 15) // 16
        var = b"".join(int(x).to_bytes(b, "big") for x in src)
        blocks = np.empty((rows, 16 * k), dtype=np.uint8)
        blocks[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
        blocks[:, len(head)] = i
        blocks[:, len(head) + 1 :] = np.frombuffer(var, dtype=np.uint8).reshape(rows, b)
        y_state = np.empty((rows, 16), dtype=np.uint8)
        y_state[:] = np.frombuffer(state, dtype=np.uint8)
        for j in range(k):
            y_state = self._ecb(self._cipher, y_state ^ blocks[:, 16 * j : 16 * j + 16])
        parts = [y_state]
        for j in range(1, (d + 15) // 16):
            parts.append(self._ecb(self._cipher, y_state ^ np.frombuffer(j.to_bytes(16, "big"), np.uint8)))
        s = np.concatenate(parts, axis=1)[:, :d].tobytes()
        y = np.array([int.from_bytes(s[r * d : (r + 1) * d], "big") % m for r in range(rows)], dtype=object)
        return y


@dataclass(frozen=True)
class _LongPlan:
    """The constants of :meth:`FF1._crypt_long` for one (length, tweak).

    ``limb_weights[h]``: (16-bit limbs of NUM, superdigits of a half of ``h`` numerals): limb ``j`` of ``q**s``;
    ``y_weights[m]``: (superdigits modulo ``radix**m``, 16-bit words of ``y`` from the most significant): the
    superdigits of ``2**(16 * (d/2 - 1 - w)) mod radix**m``; ``const[i]``: the varying blocks of round ``i``
    without NUM(B) (the head, ``[i]``, and the MAC state XORed into the first block); ``counters``: ``[j]`` for the
    blocks of ``S`` after the first.
    """

    radix: int
    e: int
    q: int
    k: int
    d: int
    limb_weights: dict[int, np.ndarray]
    y_weights: dict[int, np.ndarray]
    const: list[np.ndarray]
    counters: list[np.ndarray]

    @classmethod
    def build(cls, radix: int, n: int, state: bytes, head: bytes, b: int, d: int) -> _LongPlan | None:
        e = 1
        while radix ** (e + 1) <= 2**32:
            e += 1
        q = radix**e
        u, v = n // 2, n - n // 2
        k = (1 + b + 15) // 16
        limbs = (b + 1) // 2
        words = d // 2
        halves = sorted({u, v})
        limb_weights, y_weights = {}, {}
        for h in halves:
            count = -(-h // e)
            # every sum of a product below 2**63, with room for the carries added to it
            if count * 2**16 * q >= 2**62 or words * 2**16 * q >= 2**62:
                return None
            limb_weights[h] = np.array([[(q**s >> (16 * j)) & 0xFFFF for s in range(count)] for j in range(limbs)],
                                       dtype=np.int64)
            mod = radix**h
            y_weights[h] = np.array([_superdigits(pow(2, 16 * (words - 1 - w), mod), radix, e, h)
                                     for w in range(words)], dtype=np.int64).T.copy()
        const = []
        for i in range(ROUNDS):
            block = bytearray(head + bytes([i]) + bytes(b))
            for j in range(16):
                block[j] ^= state[j]
            const.append(np.frombuffer(bytes(block), dtype=np.uint8))
        counters = [np.frombuffer(j.to_bytes(16, "big"), dtype=np.uint8) for j in range(1, (d + 15) // 16)]
        return cls(radix, e, q, k, d, limb_weights, y_weights, const, counters)

    def to_super(self, nums: np.ndarray, h: int) -> np.ndarray:
        """(rows, h) numerals, most significant first -> (superdigits, rows), least significant first."""
        count = -(-h // self.e)
        weights = np.zeros((count, h), dtype=np.int64)
        for j in range(h):
            p = h - 1 - j
            weights[p // self.e, j] = self.radix ** (p % self.e)
        out: np.ndarray = weights @ nums.T
        return out

    def reduce(self, x: np.ndarray, h: int) -> np.ndarray:
        """Superdigits with any int64 values -> the normalised superdigits of their number modulo ``radix**h``."""
        q = self.q
        for s in range(len(x) - 1):
            carry = x[s] // q
            x[s] -= carry * q
            x[s + 1] += carry
        x[-1] %= self.radix ** (h - self.e * (len(x) - 1))
        return x

    def to_numerals(self, x: np.ndarray, h: int) -> np.ndarray:
        """Normalised superdigits of a half of ``h`` numerals -> (rows, h) numerals, most significant first."""
        powers = self.radix ** np.arange(self.e, dtype=np.int64)
        digits: np.ndarray = (x[:, None, :] // powers[None, :, None]) % self.radix  # (superdigit, place, rows)
        return digits.reshape(-1, x.shape[1])[:h][::-1].T


def _superdigits(value: int, radix: int, e: int, h: int) -> list[int]:
    """The superdigits (base ``radix**e``, least significant first) of ``value < radix**h``."""
    q = radix**e
    return [(value // q**s) % q for s in range(-(-h // e))]
