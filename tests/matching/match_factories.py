"""Builders of hand-made standardised person records for the matching tests (imported by name;
the module name is unique so it cannot clash with other test folders)."""
from __future__ import annotations

import pandas as pd

from schemas.normalise.ids import check_char

PERSON_COLUMNS = ("source", "source_key", "name", "name_key", "name_pinyin", "former_name", "sex",
                  "ethnicity", "birth_date", "id_number", "id_alias", "phone", "address_key")


def valid_id(body17: str) -> str:
    """An 18-digit number with the right check digit."""
    return body17 + check_char(body17)


def wrong_check(id18: str) -> str:
    """The same number with a wrong check digit (a typo of the last character)."""
    return id18[:17] + ("0" if id18[17] != "0" else "1")


def person(source: str, key: str, name: str, pinyin: str, birth: str | None, id_number: str | None = None,
           *, sex: str = "1", ethnicity: str = "01", phone: str | None = None, address: str | None = None,
           former: str | None = None, alias: str | None = None) -> dict:
    return {"source": source, "source_key": key, "name": name, "name_key": name, "name_pinyin": pinyin,
            "former_name": former, "sex": sex, "ethnicity": ethnicity, "birth_date": birth,
            "id_number": id_number, "id_alias": alias, "phone": phone, "address_key": address}


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(PERSON_COLUMNS))
