"""person_name: tokens are lexicon names of the same role (female, male, family), script and position, written
the way the original was (alef forms, final ة/ه and ي/ى, case, a glued compound, diacritics); unknown parts are
letter-encrypted and never become lexicon names; everything round-trips exactly.  Token scheme 1 (before the
lexicon) still reverses its own tokens."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenize_kit import refdata
from tokenize_kit.keys import Keyset
from tokenize_kit.pii import name_lexicon
from tokenize_kit.pii.base import ColumnSpec, Crypto
from tokenize_kit.pii.person_name import PersonName, _parts

KS = Keyset.generate()
T = PersonName()
SPEC = ColumnSpec("n", "person_name")
MALE = {s: refdata.table("names_eg_male").column(c).to_pylist() for s, c in (("ar", "name_ar"), ("en", "name_en"))}
FEMALE = {s: refdata.table("names_eg_female").column(c).to_pylist() for s, c in (("ar", "name_ar"), ("en", "name_en"))}


@st.composite
def names(draw):
    script = draw(st.sampled_from(["ar", "en"]))
    female = draw(st.booleans())
    first = draw(st.sampled_from(FEMALE[script] if female else MALE[script]))
    rest = draw(st.lists(st.sampled_from(MALE[script]), min_size=0, max_size=3))
    return script, female, " ".join([first, *rest])


def _scheme1() -> Crypto:
    c = Crypto(KS)
    c.derivation = 1  # type: ignore[attr-defined]
    return c


def _lexicon_parts(name: str) -> list[str]:
    """Name parts as token scheme 2 sees them: two words are one part when together they are a lexicon name."""
    from tokenize_kit.pii.textview import TextView

    view = TextView(pa.array([name]))
    s, e = name_lexicon.name_parts(view)
    return view.strings(s, e).to_pylist()


def _role(part: str) -> str:
    parsed = name_lexicon.parse(part)
    assert parsed is not None, "a token part is a lexicon name"
    return name_lexicon.ROLES[int(name_lexicon.lexicon().role[parsed.entry])]


@settings(max_examples=80, deadline=None)
@given(st.lists(names(), min_size=1, max_size=20))
def test_lexicon_names_keep_role_script_and_round_trip(items):
    values = [v for _, _, v in items]
    c = Crypto(KS)
    tok = T.tokenize(pa.array(values), c, SPEC).to_pylist()
    assert T.detokenize(pa.array(tok), c, SPEC).to_pylist() == values
    for (_script, female, v), t in zip(items, tok, strict=True):
        parts, tparts = _lexicon_parts(v), _lexicon_parts(t)
        assert len(tparts) == len(parts)
        assert _role(tparts[0]) == ("female" if female else "male") and tparts[0] != parts[0]
        assert all(_role(p) == "male" for p in tparts[1:])


@settings(max_examples=80, deadline=None)
@given(st.lists(names(), min_size=1, max_size=20))
def test_scheme_1_still_reverses_its_tokens(items):
    values = [v for _, _, v in items]
    c = _scheme1()
    tok = T.tokenize(pa.array(values), c, SPEC).to_pylist()
    assert T.detokenize(pa.array(tok), c, SPEC).to_pylist() == values
    for (script, female, v), t in zip(items, tok, strict=True):
        parts, tparts = _parts(v)[::2], _parts(t)[::2]
        first_names = FEMALE[script] if female else MALE[script]
        assert tparts[0] in first_names and tparts[0] != parts[0]
        assert all(p in MALE[script] for p in tparts[1:])


WRITTEN = ["احمد على", "أحمد علي", "إبراهيم فاطمه", "عبدالرحمن محمد", "عبد الرحمن محمد", "مُحمّد حسن",
           "AHMED ALI", "ahmed ali", "Ahmed Ali", "فهد القحطاني", "Fahad Al-Qahtani", "محمد  أحمد\tعلي"]


def test_the_way_a_name_is_written_is_carried_and_undone():
    c = Crypto(KS)
    tok = T.tokenize(pa.array(WRITTEN), c, SPEC).to_pylist()
    assert T.detokenize(pa.array(tok), c, SPEC).to_pylist() == WRITTEN
    by = dict(zip(WRITTEN, tok, strict=True))
    assert by["احمد على"].split(" ")[0][0] == "ا" and by["احمد على"][-1] == "ى"  # bare alef, final ى kept
    # one token, two spellings (unless the token itself begins with a bare alef: it cannot carry that variant)
    canon = name_lexicon.lexicon().canon[name_lexicon.parse(by["أحمد علي"].split(" ")[0]).entry]
    if canon[0] != "ا":
        assert name_lexicon.fold(by["احمد على"]) == name_lexicon.fold(by["أحمد علي"])
    glued = by["عبدالرحمن محمد"].split(" ")[0]  # a glued two-word name becomes another, glued
    assert " " not in glued and " " in name_lexicon.lexicon().canon[name_lexicon.parse(glued).entry]
    assert by["AHMED ALI"] == by["Ahmed Ali"].upper() and by["ahmed ali"] == by["Ahmed Ali"].lower()
    assert "ُ" in by["مُحمّد حسن"] and "ّ" in by["مُحمّد حسن"]
    assert "  " in by["محمد  أحمد\tعلي"] and "\t" in by["محمد  أحمد\tعلي"]


def _split(name: str) -> list[str]:
    """Name parts as the type sees them: a compound head (عبد, أبو) joins the word after it."""
    out: list[str] = []
    for word in name.split(" "):
        if out and out[-1] in ("عبد", "أبو"):
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def test_unknown_parts_are_letter_encrypted_and_reversible():
    c = Crypto(KS)
    values = ["Zzyzx Qwerty", "مجهولاسم محمد", "X"]
    tok = T.tokenize(pa.array(values), c, SPEC).to_pylist()
    known = set(MALE["ar"] + MALE["en"] + FEMALE["ar"] + FEMALE["en"])
    assert tok[0].split(" ")[0] not in known and len(tok[0]) == len(values[0]) and tok[0] != values[0]
    assert _role(_split(tok[1])[1]) == "male"
    assert T.detokenize(pa.array(tok), c, SPEC).to_pylist() == values


def test_transliterations_stay_consistent():
    """An Arabic name and its Latin spelling get the two spellings of one token."""
    tok = T.tokenize(pa.array(["محمد أحمد", "Mohamed Ahmed"]), _scheme1(), SPEC).to_pylist()
    ar, en = _split(tok[0]), _split(tok[1])
    assert [MALE["ar"].index(x) for x in ar] == [MALE["en"].index(x) for x in en]
    lex = name_lexicon.lexicon()
    tok = T.tokenize(pa.array(["محمد أحمد", "Mohamed Ahmed"]), Crypto(KS), SPEC).to_pylist()
    ar_e = [name_lexicon.parse(x).entry for x in _split(tok[0])]
    en_e = [name_lexicon.parse(x).entry for x in _split(tok[1])]
    # the Latin token is the Arabic token's Latin spelling, where the lexicon lists one (else it walks past it)
    assert all(lex.twin[a] == e for a, e in zip(ar_e, en_e, strict=True) if lex.twin[a] >= 0)


def test_table_api_and_validity():
    from tokenize_kit import detokenize_table, tokenize_table

    t = pa.table({"الاسم": ["محمد أحمد علي حسن", "", "N/A", "Sara Ali", "123"]})
    policy = {"columns": {"الاسم": {"type": "person_name"}}}
    out = tokenize_table(t, policy, KS)
    assert out.column("الاسم")[0].as_py() != "محمد أحمد علي حسن" and out.column("الاسم")[2].as_py() == "N/A"
    assert out.column("الاسم")[4].as_py() != "123"  # not a name: generic token, never raw
    assert detokenize_table(out, policy, KS).equals(t)


def test_remembered_part_tokens_equal_fresh_ones_per_key_and_domain():
    """Name-part tokens are remembered per Crypto, domain and direction (names repeat from batch to batch): a
    second batch through the same Crypto, a fresh Crypto of the same key and a batch in another order give the
    same tokens; a policy's own ``domain:`` gets its own tokens, not the remembered ones."""
    names = [" ".join(MALE["ar"][i : i + 4]) for i in range(0, len(MALE["ar"]) - 4, 4)] + [
        " ".join(MALE["en"][i : i + 3]) for i in range(0, len(MALE["en"]) - 3, 3)]
    assert len(names) > 50
    arr = pa.array(names)
    c = Crypto(KS)
    first = T.tokenize(arr, c, SPEC).to_pylist()
    assert T.tokenize(arr, c, SPEC).to_pylist() == first
    assert T.tokenize(pa.array(names[::-1]), Crypto(KS), SPEC).to_pylist() == first[::-1]
    scoped = T.tokenize(arr, c.scoped("person_name", "crm"), SPEC).to_pylist()
    assert scoped == T.tokenize(arr, Crypto(KS).scoped("person_name", "crm"), SPEC).to_pylist()
    assert sum(a != b for a, b in zip(scoped, first, strict=True)) > 0.9 * len(names)
    assert T.detokenize(pa.array(first), c, SPEC).to_pylist() == names
    assert T.detokenize(pa.array(scoped), c.scoped("person_name", "crm"), SPEC).to_pylist() == names
