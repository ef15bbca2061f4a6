"""FPE throughput: 1,000,000 distinct 14-digit strings, ours vs the ``ff3`` package, in one process.

The ``ff3`` package encrypts one value per Python call (about 4,500/s here), so it is timed on a
20,000-value sample and its rate extrapolated; ours runs on all 1,000,000 values as one Arrow array.
Targets (issue 2): FF1 and FF3-1 each >= 1,000,000 values/s and >= 200x ff3.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pyarrow as pa
from ff3 import FF3Cipher

from tokenize_kit.fpe import DIGITS, FF1, FF3_1

N = 1_000_000
SAMPLE = 20_000
TARGET_RATE = 1_000_000
TARGET_RATIO = 200


def _values(n: int) -> pa.Array:
    rng = np.random.default_rng(2026)
    ints = rng.choice(10**14, size=n, replace=False)
    return pa.array(np.char.zfill(ints.astype(str), 14).tolist(), type=pa.string())


def main() -> None:
    values = _values(N)
    key = os.urandom(32)
    tweak7 = os.urandom(7)
    ref = FF3Cipher.withCustomAlphabet(key.hex(), tweak7.hex(), DIGITS)
    sample = values.slice(0, SAMPLE).to_pylist()
    t = time.perf_counter()
    for v in sample:
        ref.encrypt(v)
    ff3_rate = SAMPLE / (time.perf_counter() - t)
    print(f"   ff3 package (FF3-1)  : {ff3_rate:>12,.0f} values/s  (timed on {SAMPLE:,} values, extrapolated)")
    ok = True
    for name, cipher, tweak in (("FF1", FF1(key, DIGITS), b""), ("FF3-1", FF3_1(key, DIGITS), tweak7)):
        cipher.encrypt_many(values.slice(0, 1000), tweak)  # warm caches
        t = time.perf_counter()
        tokens = cipher.encrypt_many(values, tweak)
        enc_rate = N / (time.perf_counter() - t)
        t = time.perf_counter()
        back = cipher.decrypt_many(tokens, tweak)
        dec_rate = N / (time.perf_counter() - t)
        round_trip = back.equals(values)
        if name == "FF3-1":
            same = tokens.slice(0, 200).to_pylist() == [ref.encrypt(v) for v in sample[:200]]
        else:
            same = True
        met = enc_rate >= TARGET_RATE and enc_rate / ff3_rate >= TARGET_RATIO and round_trip and same
        ok &= met
        print(
            f"   tokenize-kit {name:<7} : {enc_rate:>12,.0f} values/s encrypt, {dec_rate:,.0f}/s decrypt, "
            f"{enc_rate / ff3_rate:,.0f}x ff3; round trip {'ok' if round_trip else 'FAILED'}"
            f"{'; equals ff3 on sample' if name == 'FF3-1' and same else ''}"
            f"  [{'target met' if met else 'TARGET MISSED'}: >= {TARGET_RATE:,}/s and >= {TARGET_RATIO}x]"
        )
    print(f"   FPE targets: {'all met' if ok else 'NOT all met'}")


if __name__ == "__main__":
    main()
