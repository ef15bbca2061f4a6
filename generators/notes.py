"""Collection and complaint notes with planted PII, and where each planted value is: the evaluation set of
free-text detection (``make bench`` and the tests) and realistic free text for QA.

Each note is an agent's note as consumer-finance and utility staff write them, in Arabic or English, for an
Egyptian or a Saudi customer, with 0 to 3 planted values of the kinds free text must find: phones in every
typed form (trunk 0 or not, ``+``/``00``/bare country code, grouped by spaces, dashes or dots, Arabic-Indic or
Extended Arabic-Indic digits, glued to a word, two numbers joined by ``/``, ``،``, ``-`` or ``و``), national
IDs (grouped or not), IBANs (compact or in groups of four, any case), e-mails, person names (after a cue word
or as two to four parts, Arabic letter variants included) and addresses (after a cue or around structure
words).  The rest of each note is ordinary text with amounts, dates, times and loan / meter / invoice
references, which must survive untouched.

Every planted value is drawn from the same generators and reference tables as the synthetic datasets, and
the row's own column values (its name, phone, ID, e-mail, IBAN, address) are returned beside the note, so
row-aware tokenization can be evaluated too.

>>> notes = generate(20, seed=3)
>>> len(notes.text), sorted(set(k for row in notes.spans for k, _, _ in row)) <= sorted(KINDS)
(20, True)
>>> row = notes.spans[0]
>>> all(notes.text[0][s:e] for _, s, e in row)
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

from tokenize_kit import refdata
from tokenize_kit.pii.eg_national_id import compose_arrow
from tokenize_kit.pii.iban import COUNTRIES, set_check_digits
from tokenize_kit.pii.sa_national_id import compose as compose_sa

KINDS = ("phone", "national_id", "iban", "email", "name", "address")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
EXTENDED = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

NAME_CUES_AR = ["العميل", "العميلة", "السيد", "السيدة", "الأستاذ", "الحاج", "ابنه", "زوجته", "أخوه", "والدته",
                "الضامن", "الكفيل"]
NAME_CUES_EN = ["Mr", "Mrs", "Ms", "Dr", "customer", "guarantor"]
ADDRESS_CUES_AR = ["يسكن في", "العنوان:", "عنوانه", "يقيم في", "العنوان الجديد:"]
ADDRESS_CUES_EN = ["lives at", "address:", "new address:"]
EG_STREET_WORDS = ["شارع", "ش"]
FILLER_AR = [
    "طلب تأجيل القسط إلى الشهر القادم", "وعد بالسداد يوم الخميس", "لم يرد على الاتصال",
    "تم الاتفاق على جدولة المديونية", "يطلب كشف حساب", "المبلغ المتأخر {amount}", "سدد {amount} بتاريخ {date}",
    "موعد الزيارة الساعة {time}",
    "بخصوص القرض رقم {loan}", "رقم العداد {meter}", "الفاتورة {invoice} غير مسددة", "شكوى من ارتفاع الفاتورة",
    "يرجى المتابعة بعد {days} أيام", "الرصيد المتبقي {amount}", "تم إرسال رسالة تذكير", "العميل متعاون",
]
FILLER_EN = [
    "asked to postpone the instalment", "promised to pay on Sunday", "did not answer the call",
    "paid {amount_en} on {date}",
    "visit scheduled at {time}", "regarding loan {loan}", "meter {meter} reading disputed", "invoice {invoice} unpaid",
    "follow up in {days} days", "balance due {amount_en}", "reminder SMS sent",
]


@dataclass
class Notes:
    """Generated notes: ``text[i]`` with its planted spans ``spans[i]`` (kind, start, end), and the row's own
    column values (``own[i]``: kind -> value as the column holds it)."""

    text: list[str] = field(default_factory=list)
    spans: list[list[tuple[str, int, int]]] = field(default_factory=list)
    own: list[dict[str, str]] = field(default_factory=list)
    country: list[str] = field(default_factory=list)


@cache
def _names() -> dict[tuple[str, str], tuple[list[tuple[str, str]], list[float]]]:
    """Name pools by (pool, role): (Arabic, Latin) spellings and published weights (``person_names.csv``)."""
    t = refdata.table("person_names")
    out: dict[tuple[str, str], tuple[list[tuple[str, str]], list[float]]] = {}
    cols = ("pool", "role", "gender", "name_ar", "name_en", "weight")
    for pool, role, gender, ar, en, weight in zip(*(t.column(c).to_pylist() for c in cols), strict=True):
        key = (pool, "family" if role == "family" else ("female" if gender == "F" else "male"))
        names, weights = out.setdefault(key, ([], []))
        names.append((ar, en))
        weights.append(float(weight))
    return out


#: pools of Saudi notes' people: citizens and the largest resident groups (shares of the sample, not census)
SA_POOLS = ("sa", "sa", "sa", "eg", "in", "pk", "bd", "ph", "ye", "sd", "lev")


def _draw(rnd: random.Random, pool: str, role: str) -> tuple[str, str]:
    pools = _names()
    names, weights = pools.get((pool, role)) or pools[("eg", role)]
    return rnd.choices(names, weights)[0]


@cache
def _places(country: str) -> tuple[list[str], list[str], list[str], list[tuple[str, str]]]:
    """(districts or cities, streets, top-level places, (village, markaz) pairs) in Arabic."""
    if country == "eg":
        cities = refdata.table("eg_cities").column("name_ar").to_pylist()
        streets = refdata.table("eg_streets").column("name_ar").to_pylist()
        top = refdata.table("eg_governorates").column("name_ar").to_pylist()[:-1]
        v = refdata.table("eg_villages")
        villages = list(zip(v.column("name_ar").to_pylist(), v.column("markaz_ar").to_pylist(), strict=True))
    else:
        cities = refdata.table("sa_city_districts").column("name_ar").to_pylist()
        streets = refdata.table("sa_streets").column("name_ar").to_pylist()
        top = refdata.table("sa_regions").column("capital_ar").to_pylist()
        villages = []
    return cities, streets, top, villages


def _digits(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice("0123456789") for _ in range(n))


def _script(rnd: random.Random, text: str, country: str) -> str:
    r = rnd.random()
    if r < 0.2:
        return text.translate(ARABIC_INDIC)
    if r < 0.25 and country == "sa":
        return text.translate(EXTENDED)
    return text


def phone(rnd: random.Random, country: str) -> tuple[str, str]:
    """(as written in a note, as a phone column holds it)."""
    if country == "eg":
        nsn = rnd.choice(["10", "11", "12", "15"]) + _digits(rnd, 8)
        cc = "20"
    else:
        nsn = "5" + rnd.choice("0345689") + _digits(rnd, 7)
        cc = "966"
    column = "0" + nsn
    form = rnd.randrange(9)
    if form == 0:
        text = "0" + nsn
    elif form == 1:
        text = nsn  # the trunk 0 left out
    elif form == 2:
        text = "+" + cc + nsn
    elif form == 3:
        text = "00" + cc + " " + nsn[:2] + " " + nsn[2:5] + " " + nsn[5:]
    elif form == 4:
        text = cc + nsn
    elif form == 5:
        z = "0" + nsn
        text = z[:3] + " " + z[3:6] + " " + z[6:]
    elif form == 6:
        z = "0" + nsn
        text = z[:4] + "-" + z[4:7] + "-" + z[7:]
    elif form == 7:
        z = "0" + nsn
        text = z[:3] + "." + z[3:7] + "." + z[7:]
    else:
        text = "+" + cc + " " + nsn[:2] + " " + nsn[2:6] + " " + nsn[6:]
    return _script(rnd, text, country), column


def national_id(rnd: random.Random, country: str) -> tuple[str, str]:
    import numpy as np

    if country == "eg":
        day = np.datetime64("1950-01-01") + np.timedelta64(rnd.randrange(0, 365 * 55), "D")
        gov = rnd.choice([1, 2, 12, 13, 21, 24, 88])
        value = compose_arrow(np.array([day]), np.array([gov]), np.array([rnd.randrange(10000)]),
                              np.array([rnd.randrange(10)]))[0].as_py()
        text = value if rnd.random() < 0.7 else f"{value[0]} {value[1:7]} {value[7:9]} {value[9:13]} {value[13]}"
    else:
        value = compose_sa(np.array([rnd.choice([1, 2])]), np.array([rnd.randrange(10**8)]))[0].as_py()
        text = value if rnd.random() < 0.8 else f"{value[:1]} {value[1:5]} {value[5:9]} {value[9]}"
    return _script(rnd, text, country), value


def iban(rnd: random.Random, country: str) -> tuple[str, str]:
    import numpy as np

    fmt = COUNTRIES[country.upper()]
    chars = np.frombuffer((fmt.code + "00" + ("0019" if country == "eg" else "80")).encode(), np.uint8)
    body = np.frombuffer(_digits(rnd, fmt.length - len(chars)).encode(), np.uint8)
    value = bytes(set_check_digits(np.concatenate([chars, body]).reshape(1, -1))[0]).decode()
    text = value
    if rnd.random() < 0.5:
        text = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    if rnd.random() < 0.15:
        text = text.lower()
    return text, value


def person(rnd: random.Random, country: str, script: str) -> tuple[str, str]:
    """(as written in a note: the full name or two of its parts, with letter variants; as the column holds it)."""
    pool = "eg" if country == "eg" else rnd.choice(SA_POOLS)
    gender = rnd.choice(["female", "male"])
    i = 0 if script == "ar" else 1
    first = _draw(rnd, pool, gender)[i]
    chain = [_draw(rnd, pool, "male")[i] for _ in range(2)]
    last = _draw(rnd, pool, "family")[i] if pool != "eg" else _draw(rnd, pool, "male")[i]
    full = [p for p in (first, *chain, last) if p]
    column = " ".join(full)
    take = rnd.choice([2, 2, 3, 4])
    start = 0 if rnd.random() < 0.7 else rnd.randrange(0, max(1, len(full) - take + 1))
    parts = full[start : start + take]
    if script == "ar" and rnd.random() < 0.3:  # how people type: no hamza on alef, final ه for ة, ى for ي
        parts = [p.replace("أ", "ا").replace("إ", "ا") if rnd.random() < 0.7 else p for p in parts]
        parts = [p[:-1] + "ه" if p.endswith("ة") else p[:-1] + "ى" if p.endswith("ي") and rnd.random() < 0.5 else p
                 for p in parts]
    if script == "en" and rnd.random() < 0.2:
        parts = [p.lower() for p in parts]
    return " ".join(parts), column


def email(rnd: random.Random, script_name: str) -> str:
    local = script_name.lower().replace(" ", rnd.choice([".", "_", ""]))
    if rnd.random() < 0.5:
        local += str(rnd.randrange(1, 99))
    return local + "@" + rnd.choice(["gmail.com", "yahoo.com", "hotmail.com", "outlook.com"])


def address(rnd: random.Random, country: str, script: str) -> str:
    cities, streets, top, villages = _places(country)
    number = str(rnd.randrange(1, 250))
    if script == "en":
        street = rnd.choice(["Nile", "Tahrir", "Gameat El Dowal", "King Fahd", "Olaya", "Prince Sultan"])
        kind = rnd.choice(["Street", "St.", "Road"])
        return f"{number} {street} {kind}, {rnd.choice(['Maadi', 'Dokki', 'Olaya', 'Nasr City'])}"
    if country == "eg":
        form = rnd.randrange(4)
        if form == 0:
            street = f"{rnd.choice(EG_STREET_WORDS)} {rnd.choice(streets)}"
            return f"{number} {street}، {rnd.choice(cities)}، {rnd.choice(top)}"
        if form == 1:
            return f"عمارة {number} {rnd.choice(EG_STREET_WORDS)} {rnd.choice(streets)} - {rnd.choice(cities)}"
        if form == 2:
            village, markaz = rnd.choice(villages)
            return f"قرية {village}، مركز {markaz}، {rnd.choice(top)}"
        return f"شقة {rnd.randrange(1, 30)} الدور {rnd.randrange(1, 12)} {number} شارع {rnd.choice(streets)}"
    building = str(rnd.randrange(1000, 9999))
    return f"{building} {rnd.choice(streets)}، حي {rnd.choice(cities)}، {rnd.choice(top)}"


def _filler(rnd: random.Random, script: str, country: str) -> str:
    tpl = rnd.choice(FILLER_AR if script == "ar" else FILLER_EN)
    currency = "جنيه" if country == "eg" else "ريال"
    values = {
        "amount": f"{rnd.randrange(100, 90000):,} {currency}",
        "amount_en": f"{rnd.randrange(100, 90000):,} {'EGP' if country == 'eg' else 'SAR'}",
        "date": rnd.choice([f"2025-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d}",
                            f"{rnd.randrange(1, 29)}/{rnd.randrange(1, 13)}/2025"]),
        "time": f"{rnd.randrange(8, 21)}:{rnd.choice(['00', '15', '30', '45'])}",
        "loan": rnd.choice([f"LN-2025-{rnd.randrange(10**6):06d}", f"L-{rnd.randrange(1000, 99999)}"]),
        "meter": f"MTR-{rnd.randrange(10**7):07d}",
        "invoice": f"INV-{rnd.randrange(10**8):08d}",
        "days": str(rnd.randrange(2, 30)),
    }
    text = tpl.format(**values)
    return _script(rnd, text, country) if script == "ar" and rnd.random() < 0.5 else text


def generate(count: int, seed: int) -> Notes:
    """``count`` notes (about 60-120 characters each) drawn with ``seed``."""
    rnd = random.Random(seed)
    out = Notes()
    for _ in range(count):
        country = rnd.choice(["eg", "sa"])
        script = "ar" if rnd.random() < 0.75 else "en"
        pieces: list[tuple[str, str | None]] = []  # (text, kind)
        own: dict[str, str] = {}
        written_name, own["name"] = person(rnd, country, script)
        own["phone"] = phone(rnd, country)[1]
        own["national_id"] = national_id(rnd, country)[1]
        own["email"] = email(rnd, person(rnd, country, "en")[1])
        own["iban"] = iban(rnd, country)[1]
        own["address"] = address(rnd, country, script)
        planted = rnd.choice([0, 1, 1, 2, 2, 3])
        kinds = rnd.sample(KINDS, planted) if planted else []
        pieces.append((_filler(rnd, script, country) + rnd.choice([" ", "، " if script == "ar" else ", ", ". "]), None))
        for kind in kinds:
            if kind == "name":
                cue = rnd.choice(NAME_CUES_AR if script == "ar" else NAME_CUES_EN)
                name = written_name if rnd.random() < 0.5 else person(rnd, country, script)[0]
                if rnd.random() < 0.8:
                    pieces += [(cue + " ", None), (name, "name")]
                else:
                    pieces += [(name, "name")]
            elif kind == "phone":
                text, _ = phone(rnd, country)
                glue = rnd.random()
                if glue < 0.15:
                    pieces += [("ت" if script == "ar" else "tel:", None), (text, "phone")]
                elif glue < 0.25 and script == "ar":
                    pieces += [("واتساب", None), (text, "phone")]
                elif glue < 0.35:  # two numbers joined
                    other, _ = phone(rnd, country)
                    joiner = rnd.choice(["/", "،", "-", " و", "و", " / "])
                    pieces += [("رقمه " if script == "ar" else "phones ", None), (text, "phone"), (joiner, None),
                               (other, "phone")]
                else:
                    pieces += [(rnd.choice(["اتصل على ", "رقم الموبايل ", "موبايل: ", "جوال "]) if script == "ar"
                                else rnd.choice(["call ", "mobile ", "phone: "]), None), (text, "phone")]
            elif kind == "national_id":
                text, _ = national_id(rnd, country)
                pieces += [(("الرقم القومي " if country == "eg" else "رقم الهوية ") if script == "ar" else "ID ",
                            None), (text, "national_id")]
            elif kind == "iban":
                text, _ = iban(rnd, country)
                pieces += [("الايبان " if script == "ar" else "IBAN ", None), (text, "iban")]
            elif kind == "email":
                text = own["email"] if rnd.random() < 0.5 else email(rnd, person(rnd, country, "en")[0])
                pieces += [("ايميل " if script == "ar" else "email ", None), (text, "email")]
            elif kind == "address":
                cue = rnd.choice(ADDRESS_CUES_AR if script == "ar" else ADDRESS_CUES_EN)
                text = own["address"] if rnd.random() < 0.5 else address(rnd, country, script)
                pieces += [(cue + " ", None), (text, "address")]
            pieces.append((rnd.choice(["، ", " - ", ". ", " "]) if script == "ar" else rnd.choice([", ", ". ", " - "]),
                           None))
        pieces.append((_filler(rnd, script, country), None))
        text, spans = "", []
        for piece, piece_kind in pieces:
            if piece_kind is not None:
                spans.append((piece_kind, len(text), len(text) + len(piece)))
            text += piece
        out.text.append(text)
        out.spans.append(spans)
        out.own.append(own)
        out.country.append(country)
    return out


def for_customers(names: list[str], mobiles: list[str], national_ids: list[str], seed: int) -> list[str]:
    """One agent's note per customer that mentions the customer's own name, mobile or ID the way agents type them
    (two parts of the name, letter variants, the mobile without its 0 or in Arabic-Indic digits, the ID grouped),
    sometimes another person's name and phone too: what row-aware tokenization links to the columns."""
    rnd = random.Random(seed)
    out = []
    for name, mobile, nid in zip(names, mobiles, national_ids, strict=True):
        parts = (name or "").split(" ")
        pieces = [_filler(rnd, "ar", "eg")]
        r = rnd.random()
        if r < 0.3 and len(parts) >= 2:
            mention = " ".join(parts[: rnd.choice([2, 3])])
            if rnd.random() < 0.4:
                mention = mention.replace("أ", "ا").replace("إ", "ا")
            pieces.append(f"{rnd.choice(NAME_CUES_AR)} {mention}")
        if mobile and rnd.random() < 0.5:
            grouped = f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"
            form = rnd.choice([mobile, mobile[1:], mobile.translate(ARABIC_INDIC), grouped])
            pieces.append(rnd.choice(["اتصل على ", "ت", "رقمه "]) + form)
        if nid and rnd.random() < 0.2:
            pieces.append(f"الرقم القومي {nid[:7]} {nid[7:]}")
        if rnd.random() < 0.15:
            other, _ = phone(rnd, "eg")
            pieces.append(f"وأعطى رقم قريبه {other}")
        out.append("، ".join(pieces))
    return out
