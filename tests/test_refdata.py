"""Reference tables: every file has its source named, no empty cells, codes consistent with the PII rules."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from tokenize_kit import refdata
from tokenize_kit.pii.eg_national_id import GOVERNORATE_CODES

#: tables whose rows are keyed by more than their first column (children listed under a parent)
KEYS = {
    "eg_cities": ("governorate_code", "name_ar"),
    "sa_districts": ("city_en", "name_ar"),
    "sa_postal_regions": ("region_en",),
    "sa_city_districts": ("city_en", "name_ar"),
    "person_names": ("pool", "role", "gender", "name_ar"),
    "sa_age_sex": ("group", "age_from"),
    "eg_villages": ("governorate_code", "markaz_ar", "name_ar"),
    "name_lexicon": ("name_ar", "name_en", "role"),
}

SOURCES = (Path(refdata.__file__).parent / "SOURCES.md").read_text(encoding="utf-8")


def test_every_table_has_a_source_entry():
    for name in refdata.names():
        assert f"`{name}.csv`" in SOURCES, f"{name}.csv is not listed in refdata/SOURCES.md"


def test_tables_have_no_empty_cells_or_duplicates():
    for name in refdata.names():
        t = refdata.table(name)
        assert t.num_rows > 0
        for col in t.column_names:
            values = t.column(col)
            if values.type == "string":
                assert not pc.any(pc.equal(pc.utf8_trim_whitespace(values), "")).as_py(), (name, col)
        key = list(zip(*(t.column(c).to_pylist() for c in KEYS.get(name, (t.column_names[0],))), strict=True))
        assert len(set(key)) == len(key), f"duplicate keys in {name}"


def test_governorate_codes_match_the_id_rules():
    t = refdata.table("eg_governorates")
    assert sorted(t.column("code").to_pylist()) == sorted(GOVERNORATE_CODES)
    en = dict(zip(t.column("code").to_pylist(), t.column("name_en").to_pylist(), strict=True))
    assert en == GOVERNORATE_CODES


def test_name_lists_disjoint_by_gender():
    male = set(refdata.table("names_eg_male").column("name_ar").to_pylist())
    female = set(refdata.table("names_eg_female").column("name_ar").to_pylist())
    assert not male & female
