"""Build ``name_lexicon.csv`` from the name tables: ``python -m tokenize_kit.refdata.build_name_lexicon``.

Run only to make a new lexicon version: person_name tokens and free-text name detection depend on its rows
and their order (see ``SOURCES.md``).  Rows come in this order: ``names_eg_female``, ``names_eg_male``,
``names_sa_family``, then ``person_names`` (every pool); a row adding no new spelling is left out, and so are
names that are also cue, stop, structure or link words of free text, or the ordinary words listed here.
"""
import csv
from pathlib import Path

from tokenize_kit.pii import find_words as fw
from tokenize_kit.pii import name_lexicon as nl

HERE = Path(__file__).parent
#: ordinary words that are also listed as names: never read as names (found in generated service texts)
COMMON = {"امام", "مياه"}


def main() -> None:
    rows = []
    for table, role in (("names_eg_female", "female"), ("names_eg_male", "male"), ("names_sa_family", "family")):
        for r in csv.DictReader(open(HERE / f"{table}.csv", encoding="utf-8")):
            rows.append({"name_ar": r["name_ar"], "name_en": r["name_en"], "role": role, "source": table})
    for r in csv.DictReader(open(HERE / "person_names.csv", encoding="utf-8")):
        role = "family" if r["role"] == "family" else ("female" if r["gender"] == "F" else "male")
        rows.append({"name_ar": r["name_ar"], "name_en": r["name_en"], "role": role,
                     "source": "person_names/" + r["pool"]})
    special = set(COMMON)
    for lst in (fw.NAME_CUES, fw.ADDRESS_CUES, fw.STOP, fw.CONNECTORS, fw.CUE_LINKS, fw.STRUCTURE):
        special |= {nl.fold(w) for w in lst}
    seen, out = set(), []
    for r in rows:
        a, e = nl.fold(r["name_ar"]), nl.fold(r["name_en"])
        if a in special or e in special:
            continue
        if a in seen and e in seen:
            continue  # adds nothing
        seen |= {a, e, a.replace(" ", ""), e.replace(" ", "")}
        out.append(r)
    with open(HERE / "name_lexicon.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["name_ar", "name_en", "role", "source"])
        w.writeheader()
        w.writerows(out)
    print(len(rows), len(out))


if __name__ == "__main__":
    main()
