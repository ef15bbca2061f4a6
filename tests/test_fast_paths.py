"""The vectorised fast paths give exactly the answers of the simple definitions they replace."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tokenize_kit import detokenize_table, tokenize_table
from tokenize_kit import io as tkio
from tokenize_kit.fpe._base import digits_big_endian
from tokenize_kit.keys import Keyset
from tokenize_kit.pii import find_numbers, free_text, phone
from tokenize_kit.pii.base import ColumnSpec, Crypto
from tokenize_kit.pii.checksums import luhn_digit, luhn_digit_of
from tokenize_kit.pii.eg_national_id import EPOCH, _compose_days, _dates, _day_numbers, compose_arrow
from tokenize_kit.pii.text import ascii_digit_matrix
from tokenize_kit.pii.textview import TextView
from tokenize_kit.primitives import AesEcb
from tokenize_kit.table import EMPTY_MARKERS, _empty_markers

warnings.filterwarnings("ignore", message="keyset .* is not passphrase-protected")

ALPHABET = (list("0123456789") * 4 + list("٠١٢٣٤٥٦٧٨٩") + list("۰۱۲۳۴۵۶۷۸۹") + list(" -.()+") * 4
            + list("a_Zب\t\n/,") + ["०", "😀", "\u200f", "x", "²", "½", "Ⅳ"])


def _random_texts(seed: int, rows: int = 2000) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choice(ALPHABET) for _ in range(rnd.randrange(0, 40))) for _ in range(rows)]


#: the definition the vectorised number matcher implements: digit groups joined by one or two separators
NUMBER_MATCH = re.compile(r"\+?[0-9\u0660-\u0669\u06f0-\u06f9]+(?:[ \u00a0\-.()\u202f]{1,2}"
                          r"[0-9\u0660-\u0669\u06f0-\u06f9]+)*")


@pytest.mark.parametrize("seed", range(5))
def test_number_matches_are_the_regex_matches(seed):
    texts = _random_texts(seed)
    nums = find_numbers.candidates(TextView(pa.array(texts)))
    got = list(zip(nums.m_start.tolist(), nums.m_end.tolist(), strict=True))
    want, base = [], 0
    for t in texts:
        want += [(base + m.start(), base + m.end()) for m in NUMBER_MATCH.finditer(t)]
        base += len(t)
    assert got == want


def test_free_text_nulls_and_layout():
    crypto = Crypto(Keyset.generate())
    values = pa.array(["اتصل على 01012345678", None, "id 29801010123456 ok", "لا شيء", "+20 10 1234 5678"])
    tokens = free_text.transform(values, crypto).values
    assert tokens.null_count == 0 and tokens[1].as_py() == ""  # as before: a null reads as ""
    assert [len(t) for t in tokens.to_pylist()] == [len(v or "") for v in values.to_pylist()]
    assert tokens[3].as_py() == "لا شيء"
    back = free_text.transform(tokens, crypto, decrypt=True).values
    assert back.to_pylist() == [v or "" for v in values.to_pylist()]
    plain = pa.array(["no digits here", None])
    assert free_text.transform(plain, crypto).values is plain  # nothing found: the same array back


REGION_CASES = [(phone.REGIONS["EG"].mobile, "10", 8), (phone.REGIONS["EG"].mobile, "13", 8),
                (phone.REGIONS["EG"].fixed, "2", 8), (phone.REGIONS["EG"].fixed, "13", 7),
                (phone.REGIONS["EG"].fixed, "15", 6), (phone.REGIONS["SA"].mobile, "50", 7),
                (phone.REGIONS["SA"].mobile, "57", 7), (phone.REGIONS["SA"].fixed, "12", 7)]


@pytest.mark.parametrize(("pattern", "prefix", "length"), REGION_CASES)
def test_accepts_all_is_sound(pattern, prefix, length):
    rng = np.random.default_rng(length)
    numbers = np.concatenate([rng.integers(0, 10**length, 50_000), np.arange(1000) * 10 ** (length - 3)])
    strings = phone._digit_strings(prefix, numbers, length)
    regex = pc.match_substring_regex(strings, f"^(?:{pattern})$").to_numpy(zero_copy_only=False)
    if phone._accepts_all(pattern, prefix, length):
        assert regex.all()
    assert (phone._match(strings, pattern) == regex).all()


@pytest.mark.parametrize("region", ["EG", "SA"])
def test_digit_pattern_matches_like_the_regex(region):
    rnd = random.Random(7)
    values = ["".join(rnd.choice("0123456789" * 3 + "+ a٣") for _ in range(rnd.randrange(0, 14))) for _ in range(20000)]
    values += [f"1{d}{rnd.randrange(10**8):08d}" for d in range(10) for _ in range(50)]
    values += [f"5{d}{rnd.randrange(10**7):07d}" for d in range(10) for _ in range(50)]
    arr = pa.array([*values, None])
    for pattern in (phone.REGIONS[region].mobile, phone.REGIONS[region].fixed):
        assert phone._digit_pattern(pattern).usable
        want = pc.fill_null(pc.match_substring_regex(arr, f"^(?:{pattern})$"), False).to_numpy(zero_copy_only=False)
        assert (phone._match(arr, pattern) == want).all()
    assert not phone._digit_pattern(r"\+?[0-9]{7,15}").usable  # "+" is not a digit: stays a regex


def test_phone_accepts_chunked_arrays():
    crypto = Crypto(Keyset.generate())
    spec = ColumnSpec("c", "phone")
    values = pa.chunked_array([["01012345678", "+966501234567"], ["0223456789"]])
    assert phone.ANY.valid_mask(values, spec).tolist() == [True, True, True]
    tokens = phone.ANY.tokenize(values, crypto, spec)
    assert isinstance(tokens, pa.ChunkedArray)
    assert phone.ANY.detokenize(tokens, crypto, spec).to_pylist() == values.to_pylist()


@pytest.mark.parametrize("size", [16, 24, 32])
def test_aes_matches_cryptography(size):
    rng = np.random.default_rng(size)
    key = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    blocks = rng.integers(0, 256, (5000, 16), dtype=np.uint8)
    want = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(blocks.tobytes())
    assert AesEcb(key).encrypt(blocks).tobytes() == want
    assert AesEcb(key).encrypt(blocks[:1]).tobytes() == want[:16]
    assert AesEcb(key).encrypt(blocks[:0]).shape == (0, 16)
    with pytest.raises(ValueError, match="whole number"):
        AesEcb(key).encrypt(blocks.reshape(-1)[:17])


def test_ascii_digit_matrix():
    x = np.array([0, 7, 1234, 99_999_999, 12_345_678_901_234])
    assert [bytes(r).decode() for r in ascii_digit_matrix(x[:4], 8)] == ["00000000", "00000007", "00001234",
                                                                          "99999999"]
    assert bytes(ascii_digit_matrix(x[4:], 14)[0]).decode() == "12345678901234"
    assert [bytes(r).decode() for r in ascii_digit_matrix(x[:3], 3)] == ["000", "007", "234"]
    assert (digits_big_endian(x[:4], 10, 8) == ascii_digit_matrix(x[:4], 8) - 0x30).all()


def test_eg_id_calendar_and_compose():
    rng = np.random.default_rng(3)
    year, month, day = rng.integers(1900, 2100, 50_000), rng.integers(0, 14, 50_000), rng.integers(0, 33, 50_000)
    dates, ok = _dates(year, month, day)
    days, ok2 = _day_numbers(year, month, day)
    assert (ok == ok2).all()
    assert (days[ok] == (dates[ok] - EPOCH).astype(np.int64)).all()
    n = 20_000
    days = rng.integers(0, 73_000, n)
    gov, serial, check = rng.choice([1, 2, 21, 88], n), rng.integers(0, 10_000, n), rng.integers(0, 10, n)
    want = compose_arrow(EPOCH + days.astype("timedelta64[D]"), gov, serial, check)
    assert _compose_days(days, gov, serial, check).equals(want)


def test_luhn_digit_of_matches_luhn_digit():
    rng = np.random.default_rng(5)
    for width in (1, 9, 13):
        x = rng.integers(0, 10**width, 20_000)
        digits = (x[:, None] // 10 ** np.arange(width - 1, -1, -1)[None, :]) % 10
        assert (luhn_digit_of(x, width) == luhn_digit(digits)).all()


def test_table_prechecks():
    values = pa.array([*EMPTY_MARKERS, "x", "NA ", "غير", "12345678901234", "", "none"])
    want = pc.is_in(values, value_set=pa.array(EMPTY_MARKERS)).to_numpy(zero_copy_only=False)
    assert (_empty_markers(values) == want).all()


def test_every_trimmed_whitespace_is_kept_around_the_token():
    """Padded cells are found by the trimmed column's byte count: every character Arrow trims, before or after
    an ID, stays in place around the token, and the cell comes back exactly."""
    chars = [chr(c) for c in range(1, 0x10000) if not 0xD800 <= c < 0xE000]
    lead = pa.array([c + "a" for c in chars])
    spaces = [c for c, t in zip(chars, pc.not_equal(pc.utf8_trim_whitespace(lead), lead).to_pylist(), strict=True) if t]
    assert {" ", "\t", "\u00a0", "\u0085", "\u2029", "\u3000"} <= set(spaces)
    ks = Keyset.generate()
    policy = {"columns": {"id": {"type": "eg_national_id"}}}
    cells = [sp + "29801010123456" for sp in spaces] + ["29801010123456" + sp for sp in spaces] + ["29801010123456"]
    out = tokenize_table(pa.table({"id": cells}), policy, ks).column("id").to_pylist()
    token = out[-1]
    assert token != cells[-1]
    assert out == [sp + token for sp in spaces] + [token + sp for sp in spaces] + [token]
    assert detokenize_table(pa.table({"id": out}), policy, ks).column("id").to_pylist() == cells


def _csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("national_id,mobile,notes,other\n")
        for r in rows:
            fh.write(",".join(r) + "\n")


def _job(tmp_path, src, out, env=None, batch_size=None):
    args = [sys.executable, "-m", "tokenize_kit", "tokenize", str(src), str(out), "--policy",
            str(tmp_path / "p.yaml"), "-q", "--force"]
    if batch_size:
        args += ["--batch-size", str(batch_size)]
    subprocess.run(args, check=True, env={**os.environ, "TOKENIZE_KIT_KEYSET": str(tmp_path / "k.json"), **(env or {})},
                   capture_output=True)
    return out.read_bytes()


def test_pipeline_same_bytes_whatever_the_threads_and_batches(tmp_path):
    Keyset.generate().save(tmp_path / "k.json")
    (tmp_path / "p.yaml").write_text("columns:\n  national_id: {type: eg_national_id}\n  mobile: {type: phone}\n"
                                     "  notes: {type: free_text}\n")
    rng = np.random.default_rng(11)
    n = 90_000
    ids = compose_arrow(np.datetime64("1960-01-01") + rng.integers(0, 20000, n).astype("timedelta64[D]"),
                        rng.choice([1, 2, 21], n), rng.integers(0, 10000, n), rng.integers(0, 10, n)).to_pylist()
    rows = []
    for i in range(n):
        mob = f"01{rng.choice(['0', '1', '2', '5'])}{rng.integers(0, 10**8):08d}"
        note = '"call, maybe ' + mob + '"' if i % 7 == 0 else ("N/A" if i % 11 == 0 else f"رقم {mob}")
        rows.append([ids[i] if i % 13 else " ", mob if i % 17 else "bad", note, str(i)])
    src = tmp_path / "in.csv"
    _csv(src, rows)
    default = _job(tmp_path, src, tmp_path / "a.csv")
    assert _job(tmp_path, src, tmp_path / "b.csv", {"TOKENIZE_KIT_THREADS": "1"}) == default
    assert _job(tmp_path, src, tmp_path / "c.csv", {"TOKENIZE_KIT_THREADS": "3"}, batch_size=7000) == default
    manifest = json.loads((tmp_path / "a.csv.manifest.json").read_text())
    assert manifest["output"]["sha256"] == hashlib.sha256(default).hexdigest()
    assert manifest["input"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert manifest["columns"]["national_id"]["empty"] == sum(1 for i in range(n) if i % 13 == 0)


def test_csv_record_longer_than_a_block(tmp_path, monkeypatch):
    monkeypatch.setattr(tkio, "CSV_BLOCK", 1 << 12)
    long_note = "x" * 20_000 + "\n" + "y" * 10_000
    rows = [[f"row{i}", f'"{long_note}"' if i == 3000 else "note"] for i in range(6000)]
    src = tmp_path / "in.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        fh.write("a,b\n")
        for r in rows:
            fh.write(",".join(r) + "\n")
    batches, _ = tkio.read_batches(src, batch_size=2048)
    table = pa.Table.from_batches(list(batches))
    assert table.num_rows == 6000
    assert table.column("a").to_pylist() == [f"row{i}" for i in range(6000)]
    assert table.column("b")[3000].as_py() == long_note


NAME_CASES = ["سيف الدين محمد علي", "سيف محمد علي", "عبد الرحمن علي", "عبدالرحمن علي", "محمد بن سلمان آل سعود",
              "ذو الفقار أحمد", "Saif Eldin Ali", "a b c d e f g h i j", "احمد محمد ابراهيم", "أحمد  محمد",
              " محمد", "محمد علي ", "محمد\u00a0علي", "Zxqv Ploo", "MOHAMED ali", "محمّد علي", "مـحمد علي",
              "منة الله حسن", "ابو بكر", "Abdel Rahman", "bin Salman", "قمر الزمان علي", "علم الدين حسن", "محمد"]


@pytest.mark.parametrize("decrypt", [False, True])
def test_person_name_word_path_matches_crypt_names(decrypt):
    """person_name's whole-word path gives what name_lexicon.crypt_names (character spans) gives, row by row,
    for simple names, compounds written in two words (which the word path hands back), connectors and the rest."""
    from tokenize_kit.pii.charclass import charclass
    from tokenize_kit.pii.name_lexicon import crypt_names, generic_avoid
    from tokenize_kit.pii.person_name import _crypt_lexicon

    crypto = Crypto(Keyset.generate())
    rnd = random.Random(4)
    words = [w for name in NAME_CASES for w in name.split()]
    values = NAME_CASES + [" ".join(rnd.choice(words) for _ in range(rnd.randrange(1, 7))) for _ in range(3000)]
    arr = pa.array(values, pa.string())

    def generic(parts: pa.Array) -> pa.Array:
        return charclass(parts, crypto, "person_name/generic", decrypt=decrypt, avoid=generic_avoid)

    got = _crypt_lexicon(arr, crypto, decrypt, "person_name", generic)
    want = crypt_names(arr, crypto, decrypt=decrypt, domain="person_name", generic=generic)
    assert got.to_pylist() == want.to_pylist()


def test_person_name_digit_check_is_str_isdigit():
    """The regex class behind person_name's digit check accepts exactly the characters str.isdigit accepts."""
    from tokenize_kit.pii.person_name import _digit_class

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    got = pc.match_substring_regex(pa.array(chars, pa.string()), _digit_class()).to_numpy(zero_copy_only=False)
    assert got.tolist() == [ch.isdigit() for ch in chars]


def test_person_name_parse_is_is_valid():
    """person_name's columnar parse marks exactly the values is_valid accepts (digits of any script, odd
    whitespace, six or more words that compounds bring down to five, empty values)."""
    from tokenize_kit.pii import person_name

    rnd = random.Random(9)
    words = [w for name in NAME_CASES for w in name.split()] + ["عبد", "أبو", "ابو", "x2", "٣", "²", "a\tb"]
    values = NAME_CASES + ["", " ", "عبد", "عبد الله محمد علي حسن أحمد", "أبو بكر عبد الله محمد علي حسن"] + [
        rnd.choice(["", " "]).join(rnd.choice(words) for _ in range(rnd.randrange(1, 9))) for _ in range(3000)]
    got = person_name._TYPE.parse(pa.array(values, pa.string())).ok
    assert got.tolist() == [person_name.is_valid(v) for v in values]


# -- character-class FPE, e-mail and IBAN (issue 16: whole-column bookkeeping) -----------------------------------
def _charclass_reference(cps, row_off, crypto, domain, decrypt, protect=None, row_end=None):
    """The definition of character-class FPE, row by row and class by class: each class's subsequence of a row is
    encrypted on its own (FF1 over the class alphabet, or the keyed permutation for a domain below 10**6)."""
    from tokenize_kit.fpe import min_length
    from tokenize_kit.pii.charclass import CLASSES
    from tokenize_kit.pii.intdomain import crypt_ints

    def crypt(name: str, alphabet: str, nums: tuple[int, ...]) -> list[int]:
        radix, length = len(alphabet), len(nums)
        if radix**length >= 10**6 and length >= min_length(radix):
            cipher = crypto.cipher(domain, alphabet)
            tweak = crypto.tweak("charclass", name, str(length))
            step = cipher.decrypt_numerals if decrypt else cipher.encrypt_numerals
            return step(np.array([nums]), tweak)[0].tolist()
        value = sum(x * radix ** (length - 1 - i) for i, x in enumerate(nums))
        got = int(crypt_ints(crypto, domain, np.array([value]), radix**length, ("charclass", name, str(length)),
                             decrypt=decrypt)[0])
        return [(got // radix ** (length - 1 - i)) % radix for i in range(length)]

    found = []  # (class, alphabet, positions, numerals) of every row's subsequence of every class
    for r in range(len(row_off) - 1):
        end = row_off[r + 1] if row_end is None else row_end[r]
        for name, alphabet in CLASSES:
            idx = [p for p in range(row_off[r], end)
                   if chr(cps[p]) in alphabet and not (protect is not None and protect[p])]
            if idx:
                found.append((name, alphabet, idx, tuple(alphabet.index(chr(cps[p])) for p in idx)))
    out = cps.copy()
    done: dict[tuple[str, tuple[int, ...]], list[int]] = {}
    for name, alphabet, idx, nums in sorted(found, key=lambda f: (f[0], len(f[3]))):  # (one small table at a time)
        if (name, nums) not in done:
            done[name, nums] = crypt(name, alphabet, nums)
        for p, x in zip(idx, done[name, nums], strict=True):
            out[p] = ord(alphabet[x])
    return out


def _charclass_rows(seed: int) -> list[str]:
    """Rows mixing every class (both runs of the Arabic letters), characters of no class, empty rows, long rows (the
    wide and the exact FF1 paths) and many repeats (so some class and length has enough rows to be de-duplicated)."""
    rnd = random.Random(seed)
    pools = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
             "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئةى", " .-_@،ـپ😀"]

    def row(longest: int) -> str:
        return "".join(rnd.choice(rnd.choice(pools)) for _ in range(rnd.randrange(0, longest)))

    common = [row(14), "ahmed.ali", "sara.mohamed77", "محمد_علي"]  # (over 256 rows each: de-duplicated groups)
    rows = [row(40) for _ in range(120)] + ["", "x" * 30, "A" * 27, "٣" * 7, "ب" * 5, "a1"]
    rows += [rnd.choice(common) for _ in range(1500)]
    rnd.shuffle(rows)
    return rows


@pytest.mark.parametrize("decrypt", [False, True])
@pytest.mark.parametrize("algorithm", ["ff1", "ff3-1"])
def test_charclass_matches_its_definition(decrypt, algorithm):
    from tokenize_kit.pii.charclass import charclass_cps
    from tokenize_kit.pii.text import decode

    crypto = Crypto(Keyset.generate(), algorithm=algorithm)
    rows = _charclass_rows(3)
    if algorithm == "ff3-1":  # (FF3-1 refuses a subsequence longer than its maximum length)
        rows = [r for r in rows if len(r) < 25]
    cps, off = decode(pa.array(rows, pa.string()))
    rnd = np.random.default_rng(5)
    protect = rnd.random(len(cps)) < 0.2
    row_end = off[:-1] + (np.diff(off) * rnd.random(len(off) - 1)).astype(np.int64)
    for kwargs in ({}, {"protect": protect}, {"row_end": row_end}, {"protect": protect, "row_end": row_end}):
        got = charclass_cps(cps, off, crypto, "t", decrypt=decrypt, **kwargs)
        assert got.tolist() == _charclass_reference(cps, off, crypto, "t", decrypt, **kwargs).tolist(), kwargs
    ascii_rows = [r for r in rows if r.isascii()]
    data = np.frombuffer("".join(ascii_rows).encode(), np.uint8)
    ascii_off = np.concatenate([[0], np.cumsum([len(r) for r in ascii_rows])])
    got = charclass_cps(data, ascii_off, crypto, "t", decrypt=decrypt)  # (bytes in, bytes out)
    assert got.dtype == np.uint8
    assert got.tolist() == _charclass_reference(data, ascii_off, crypto, "t", decrypt).tolist()


def test_email_fast_path_is_the_general_path():
    """Tokens with the domain kept, computed on the column's bytes, are those of the local parts as strings."""
    from tokenize_kit.pii import email
    from tokenize_kit.pii.charclass import charclass

    crypto = Crypto(Keyset.generate())
    rnd = random.Random(8)
    locals_ = ["a", "Q", "1234567", "ahmed..ali", "A.B_c%d+e-f", "x1", "very.long.local.part.with.many.dots.0123456789",
               *("".join(rnd.choice("abcXYZ019._-+%") for _ in range(rnd.randrange(1, 30))) for _ in range(2000))]
    values = pa.array([f"{loc}@{rnd.choice(['gmail.com', 'x.co', 'Mail-Srv.example.ORG'])}" for loc in locals_])
    for decrypt in (False, True):
        fast = email._crypt_local(values, crypto, "email", decrypt)
        local = charclass(pa.array(locals_), crypto, "email", decrypt=decrypt).to_pylist()
        assert fast.to_pylist() == [f"{t}@{v.split('@', 1)[1]}" for t, v in zip(local, values.to_pylist(), strict=True)]


def test_iban_form_check_is_the_regex():
    """The byte-level check of an IBAN's form selects exactly the values its regex matches."""
    from tokenize_kit.pii import iban

    rnd = random.Random(2)
    values = []
    for _ in range(3000):
        code = rnd.choice(["EG", "SA", "DE", "E", "", "S٣"])
        length = rnd.choice([24, 29]) if rnd.random() < 0.7 else rnd.randrange(20, 32)
        body = "0123456789ABCDEFGHIJ" if code == "SA" and rnd.random() < 0.5 else "0123456789"
        values.append(code + "".join(rnd.choice("ag ٣é-/" if rnd.random() < 0.01 else body)
                                     for _ in range(length - len(code))))
    arr = pa.array([*values, None, "", "EG"], pa.string())
    for sub in (arr, arr.slice(7), arr.cast(pa.large_string())):
        texts = sub.to_pylist()
        for country in iban.COUNTRIES.values():
            want = np.flatnonzero(pc.fill_null(pc.match_substring_regex(sub, country.regex), False).to_numpy(
                zero_copy_only=False))
            assert len(want) > 30
            rows, matrix = iban._of_country(sub, country)
            assert rows.tolist() == want.tolist()
            assert [bytes(m).decode() for m in matrix] == [texts[i] for i in rows]


def test_iban_mod97_and_digit_conversions():
    from tokenize_kit.pii import iban
    from tokenize_kit.pii.checksums import mod97_10

    rnd = np.random.default_rng(3)
    for length in (24, 29):
        for letters in ("code", "fixed", "mixed"):
            m = (rnd.integers(0, 10, (500, length)) + 0x30).astype(np.uint8)
            m[:, :2] = np.frombuffer(b"SA", np.uint8)
            if letters == "fixed":
                m[:, [7, 11, 20]] = rnd.integers(0x41, 0x5B, (500, 3))
            elif letters == "mixed":
                where = rnd.random(m.shape) < 0.2
                m[where] = rnd.integers(0x41, 0x5B, int(where.sum()))
            want = mod97_10(np.concatenate([m[:, 4:], m[:, :4]], axis=1))
            assert (iban.mod97(m) == want).all()
    for width in range(1, 19):
        values = np.concatenate([[0, 10**width - 1], rnd.integers(0, 10**width, 300, dtype=np.int64)])
        chars = iban._digit_chars(values, width)
        assert [bytes(c).decode() for c in chars] == [str(v).zfill(width) for v in values.tolist()]
        assert (iban._digit_values(chars) == values).all()
