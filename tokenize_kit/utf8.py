"""Vectorised UTF-8 <-> code point conversion for groups of equal-length strings.

The FPE engine works on numerals (indices into an alphabet).  Arrow stores strings as one UTF-8 byte
buffer plus offsets; decoding that buffer with numpy avoids a Python call per value, which matters
because Arabic alphabets (two bytes per letter) and Arabic-Indic digits are first-class here.

>>> arr = pa.array(["ab", "cd"])
>>> group_bytes(arr).tolist(), decode_fixed(group_bytes(arr), 2, 2).tolist()
([97, 98, 99, 100], [[97, 98], [99, 100]])
>>> encode_fixed(np.array([[0x645, 0x62D], [0x62F, 0x627]], dtype=np.uint32)).to_pylist()
['مح', 'دا']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def group_bytes(arr: pa.Array) -> np.ndarray:
    """Return the UTF-8 payload of a null-free string array as one uint8 array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    off_dtype: type[np.signedinteger[Any]] = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_dtype, count=len(arr) + 1 + arr.offset)[arr.offset :]
    if bufs[2] is None:
        return np.zeros(0, dtype=np.uint8)
    data = np.frombuffer(bufs[2], dtype=np.uint8)
    return data[int(offsets[0]) : int(offsets[-1])]


def decode_all(data: np.ndarray) -> np.ndarray:
    """Code points of every character of ``data`` (valid UTF-8), as uint32: Python's own codecs, which decode in
    one C pass what :func:`decode_at` does in a dozen numpy passes."""
    try:
        return np.frombuffer(data.tobytes().decode("utf-8").encode("utf-32-le"), dtype=np.uint32)
    except UnicodeDecodeError:  # not valid UTF-8 (Arrow strings are): read it as decode_at always did
        return decode_at(data, np.flatnonzero((data & 0xC0) != 0x80))


def decode_at(data: np.ndarray, lead_pos: np.ndarray) -> np.ndarray:
    """Code points of the UTF-8 characters starting at ``lead_pos`` in ``data`` (valid UTF-8)."""
    b0 = data[lead_pos].astype(np.uint32)
    nbytes = 1 + (b0 >= 0xC0).astype(np.int8) + (b0 >= 0xE0) + (b0 >= 0xF0)
    cp: np.ndarray = np.where(nbytes == 1, b0, np.where(nbytes == 2, b0 & 0x1F,
                                                        np.where(nbytes == 3, b0 & 0x0F, b0 & 0x07)))
    for k in (1, 2, 3):
        sel = np.flatnonzero(nbytes > k)
        if len(sel) == 0:
            break
        cp[sel] = (cp[sel] << 6) | (data[lead_pos[sel] + k].astype(np.uint32) & 0x3F)
    return cp


def encode_codepoints(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of a flat code-point array, and the byte offset of every character (plus the end)."""
    flat = flat.astype(np.uint32)
    nb = 1 + (flat >= 0x80).astype(np.int64) + (flat >= 0x800) + (flat >= 0x10000)
    char_off = np.zeros(len(flat) + 1, dtype=np.int64)
    np.cumsum(nb, out=char_off[1:])
    data = np.empty(int(char_off[-1]), dtype=np.uint8)
    start = char_off[:-1]
    for n, lead_mask in ((1, 0x00), (2, 0xC0), (3, 0xE0), (4, 0xF0)):
        sel = np.flatnonzero(nb == n)
        if len(sel) == 0:
            continue
        c = flat[sel]
        pos = start[sel]
        data[pos] = (lead_mask | (c >> (6 * (n - 1)))).astype(np.uint8)
        for k in range(1, n):
            data[pos + k] = (0x80 | ((c >> (6 * (n - 1 - k))) & 0x3F)).astype(np.uint8)
    return data, char_off


def decode_fixed(data: np.ndarray, rows: int, width: int) -> np.ndarray:
    """Decode ``rows`` strings of exactly ``width`` code points each into a (rows, width) uint32 array."""
    if rows == 0 or width == 0:
        return np.zeros((rows, width), dtype=np.uint32)
    if len(data) == rows * width:  # pure ASCII fast path: stay uint8, the alphabet maps it by table
        return data.reshape(rows, width)
    lead_pos = np.flatnonzero((data & 0xC0) != 0x80)
    cp = decode_at(data, lead_pos)
    return cp.reshape(rows, width)


def encode_fixed(cps: np.ndarray, large: bool = False) -> pa.Array:
    """Encode a (rows, width) array of code points into an Arrow string array (one string per row)."""
    rows, width = cps.shape
    if cps.dtype == np.uint8 and rows:  # ASCII code points (alphabet guarantees < 0x80)
        data = np.ascontiguousarray(cps).ravel()
        off_dtype = np.int64 if large else np.int32
        offsets = (np.arange(rows + 1, dtype=np.int64) * width).astype(off_dtype)
        cls = pa.LargeStringArray if large else pa.StringArray
        return cls.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))
    flat = cps.ravel().astype(np.uint32)
    out_type = pa.large_string() if large else pa.string()
    off_dtype = np.int64 if large else np.int32
    if rows == 0:
        return pa.array([], type=out_type)
    if width == 0 or int(flat.max(initial=0)) < 0x80:
        data = flat.astype(np.uint8)
        offsets = (np.arange(rows + 1, dtype=np.int64) * width).astype(off_dtype)
    else:
        data, char_off = encode_codepoints(flat)
        offsets = char_off[:: width].astype(off_dtype) if width else np.zeros(rows + 1, dtype=off_dtype)
    if not large and len(data) >= 2**31:
        return encode_fixed(cps, large=True).cast(pa.string())
    cls = pa.LargeStringArray if large else pa.StringArray
    return cls.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))
