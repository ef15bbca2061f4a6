"""eg_address / sa_address: places and structure words kept, the rest class-preserving, exact round trip."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenize_kit.keys import Keyset
from tokenize_kit.pii.address import EgAddress, SaAddress
from tokenize_kit.pii.base import ColumnSpec, Crypto
from tokenize_kit.pii.charclass import ARABIC_LETTERS

KS = Keyset.generate()
CASES = {
    "eg_address": (EgAddress(), ["١٢ شارع التحرير، الدقي، الجيزة", "15 El Tahrir St, Dokki, Giza",
                                 "عمارة 5 شقة 12، كفر الشيخ", "Flat 3, Building 7, Port Said"]),
    "sa_address": (SaAddress(), ["RRRD2929, 8228 King Fahd Rd, Al Olaya, Riyadh 12214",
                                 "حي النزهة، شارع الأمير سلطان، جدة", "حي السلامة، خميس مشيط، عسير"]),
}


def _classes(s: str) -> str:
    out = []
    for ch in s:
        if ch.isdigit():
            out.append("d")
        elif ch in ARABIC_LETTERS:
            out.append("a")
        elif ch.isascii() and ch.isalpha():
            out.append("L" if ch.isupper() else "l")
        else:
            out.append(ch)
    return "".join(out)


@pytest.mark.parametrize("name", list(CASES))
def test_places_kept_rest_encrypted_round_trip(name):
    t, values = CASES[name]
    spec = ColumnSpec("a", name)
    tok = t.tokenize(pa.array(values), Crypto(KS), spec).to_pylist()
    for v, k in zip(values, tok, strict=True):
        assert _classes(v) == _classes(k) and v != k
    assert "الجيزة" in tok[0] and "Giza" in tok[1] and "كفر الشيخ" in tok[2] if name == "eg_address" else True
    assert t.detokenize(pa.array(tok), Crypto(KS), spec).to_pylist() == values


def test_keep_places_false_encrypts_places():
    t = EgAddress()
    spec = ColumnSpec("a", "eg_address", options={"keep_places": False})
    tok = t.tokenize(pa.array(["شارع التحرير، الجيزة"]), Crypto(KS), spec).to_pylist()[0]
    assert "الجيزة" not in tok and tok.startswith("شارع ")
    assert t.detokenize(pa.array([tok]), Crypto(KS), spec).to_pylist() == ["شارع التحرير، الجيزة"]


words = st.sampled_from(["شارع", "التحرير", "الجيزة", "عمارة", "١٢", "5", "Street", "Giza", "Nile", "Cairo",
                         "القاهرة", "حي", "X9", "بني", "سويف", "Red", "Sea"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(words, min_size=1, max_size=8).map(" ".join), min_size=1, max_size=10))
def test_round_trip_property(values):
    t = EgAddress()
    spec = ColumnSpec("a", "eg_address")
    tok = t.tokenize(pa.array(values), Crypto(KS), spec)
    assert t.detokenize(tok, Crypto(KS), spec).to_pylist() == values


def test_cities_and_districts_kept_but_streets_named_after_people_encrypted():
    from tokenize_kit import tokenize_table

    t = pa.table({"a": ["12 شارع فيصل، الهرم، الجيزة", "Building 3, Nasr City, Cairo"],
                  "s": ["1234 طريق الملك فهد، حي العليا، الرياض 12345", "Al Olaya, Riyadh"]})
    out = tokenize_table(t, {"columns": {"a": {"type": "eg_address"}, "s": {"type": "sa_address"}}}, KS)
    eg, sa = out.column("a").to_pylist(), out.column("s").to_pylist()
    assert eg[0].endswith("، الهرم، الجيزة") and "فيصل" not in eg[0]  # Faisal: a district name, but a person here
    assert "Nasr City, Cairo" in eg[1]
    assert "العليا" in sa[0] and "الرياض" in sa[0] and sa[1] == "Al Olaya, Riyadh"


def _reference_spans(value: str, country: str, keep_places: bool) -> list[tuple[int, int]]:
    """The rule, one value at a time in plain Python: runs of ``[\\w.]`` are words; at each word take the
    longest kept tuple starting there (then go on after it)."""
    import re

    from tokenize_kit.pii.address import _place_index, normalize

    places, longest = _place_index(country, keep_places)
    matches = list(re.finditer(r"[\w.]+", value))
    words = [normalize(m.group()) for m in matches]
    spans, i = [], 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            if tuple(words[i : i + n]) in places:
                spans.append((matches[i].start(), matches[i + n - 1].end()))
                i += n
                break
        else:
            i += 1
    return spans


@pytest.mark.parametrize("country", ["eg", "sa"])
@pytest.mark.parametrize("keep_places", [True, False])
def test_vectorised_kept_chars_match_the_rule(country, keep_places):
    """kept_chars (whole arrays) marks exactly the characters of the spans the per-value rule finds: multi-word
    places, overlapping candidates, words at row boundaries, empty rows, mixed scripts and separators."""
    import numpy as np

    from tokenize_kit.pii.address import _place_index, kept_chars
    from tokenize_kit.pii.text import decode

    places, _ = _place_index(country, True)
    pool = [*sorted(" ".join(t) for t in places), "Street", "الشارع", "12", "١٢", "فيصل", "x.y", "_", "أحمد"]
    seps = [" ", "، ", ", ", "-", "", "  ", "/"]
    rng = np.random.default_rng(11)
    values = [""]
    for _ in range(3000):
        k = int(rng.integers(0, 9))
        parts = [pool[int(j)] for j in rng.integers(0, len(pool), k)]
        values.append("".join(p + seps[int(s)] for p, s in zip(parts, rng.integers(0, len(seps), k), strict=True)))
    values += ["", "القاهرة", "Cairo", ""]
    # two places that overlap ("Kafr El Sheikh" + "Sheikh Zayed"): only the first one found may be kept
    for a in places:
        for b in places:
            for k in range(1, len(a)):
                if len(b) > len(a) - k and b[: len(a) - k] == a[k:]:
                    values.append(" ".join(a + b[len(a) - k :]))
    assert country == "sa" or len(values) > 3005  # the Egyptian gazetteer has such pairs
    cps, off = decode(pa.array(values, pa.string()))
    got = kept_chars(cps, off, country, keep_places)
    _assert_as_the_rule(got, off, values, country, keep_places)


def _assert_as_the_rule(got, off, values, country, keep_places):
    """Each value's kept characters (``got``, flat, rows at ``off``) are the reference rule's spans."""
    import numpy as np

    for r, v in enumerate(values):
        want = np.zeros(len(v), dtype=bool)
        for s, e in _reference_spans(v, country, keep_places):
            want[s:e] = True
        assert got[off[r] : off[r + 1]].tolist() == want.tolist(), r


@pytest.mark.parametrize("country", ["eg", "sa"])
def test_vectorised_kept_chars_match_the_rule_on_runs_of_place_words(country):
    """Runs of single words of places (so candidates reach over several later ones: a three-word place whose
    second and third words are places too), in both the spelling of the gazetteer and folded forms."""
    import numpy as np

    from tokenize_kit.pii.address import _place_index, kept_chars
    from tokenize_kit.pii.text import decode

    places, _ = _place_index(country, True)
    pool = [*sorted({w for t in places for w in t}), "x", "12"]
    rng = np.random.default_rng(5)
    values = [" ".join(pool[int(j)] for j in rng.integers(0, len(pool), int(rng.integers(1, 12))))
              for _ in range(4000)]
    cps, off = decode(pa.array(values, pa.string()))
    got = kept_chars(cps, off, country, True)
    _assert_as_the_rule(got, off, values, country, True)


def test_take_scans_like_the_rule_when_earlier_tuples_reach_far():
    """The greedy scan of kept tuples on a made-up gazetteer where a long tuple reaches past a short candidate to a
    later one (a b c kept whole; b and c are places too), checked against the rule word by word."""
    import numpy as np

    from tokenize_kit.pii.address import _build_trie, _take

    places = frozenset({("a", "b", "c"), ("b",), ("c",), ("b", "c", "d"), ("d", "e"), ("a",), ("e",), ("c", "d"),
                        ("a", "b", "c", "d")})
    trie = _build_trie(places, 4)
    vocab = ["a", "b", "c", "d", "e", "x"]
    rng = np.random.default_rng(3)
    rows = [list(rng.choice(vocab, int(rng.integers(0, 9)))) for _ in range(3000)]
    wid = np.array([trie.words.get(w, -1) for r in rows for w in r], dtype=np.int64)
    w_row = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    first, length = _take(wid, w_row, len(rows), trie)
    want = []
    base = 0
    for r in rows:
        i = 0
        while i < len(r):
            for n in range(min(4, len(r) - i), 0, -1):
                if tuple(r[i : i + n]) in places:
                    want.append((base + i, n))
                    i += n
                    break
            else:
                i += 1
        base += len(r)
    assert list(zip(first.tolist(), length.tolist(), strict=True)) == want


@pytest.mark.parametrize("name", ["eg_address", "sa_address"])
def test_ff3_1_takes_letter_runs_longer_than_its_maximum(name):
    """Under FF3-1 (at most 36 Arabic letters per numeral string) an address with more letters outside places than
    that is tokenized in pieces and comes back, instead of failing its whole batch; the letters of every piece
    change and the places stay."""
    t = EgAddress() if name == "eg_address" else SaAddress()
    spec = ColumnSpec("a", name)
    crypto = Crypto(KS, algorithm="ff3-1")
    long_street = " ".join(["عبدالرحمن محمد مصطفى ابراهيم عبدالعزيز"] * 3)  # 99 letters
    values = ["12 شارع التحرير، الجيزة", f"منزل {long_street}، القاهرة", f"{long_street} الرياض 12345"]
    tok = t.tokenize(pa.array(values), crypto, spec).to_pylist()
    assert [_classes(v) for v in values] == [_classes(k) for k in tok]
    assert t.detokenize(pa.array(tok), crypto, spec).to_pylist() == values
    words = long_street.split()
    assert not any(w in tok[1] for w in words) and not any(w in tok[2] for w in words)
    assert tok[1].endswith("، القاهرة") if name == "eg_address" else tok[2].split()[-2] == "الرياض"
