"""Expectation suites for the standardised batches, as data (run by pipelines/checks.py with GE 1.x).

Each spec: (GE expectation class name, kwargs, blocking?, one-line description). A blocking failure stops
the run before publish; a warning is reported and kept in the run log.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Spec:
    expectation: str
    kwargs: dict = field(default_factory=dict)
    blocking: bool = True
    describe: str = ""


def suite(entity: str, quality) -> list[Spec]:
    common = [
        Spec("ExpectTableRowCountToBeBetween", {"min_value": quality.min_rows}, True,
             f"at least {quality.min_rows} loaded rows"),
        Spec("ExpectColumnValuesToNotBeNull", {"column": "source_key"}, True, "source_key not null"),
        Spec("ExpectColumnValuesToBeUnique", {"column": "source_key"}, True, "source_key unique"),
    ]
    if entity == "person":
        return common + [
            Spec("ExpectColumnValuesToNotBeNull", {"column": "name"}, True, "name not null"),
            Spec("ExpectColumnValuesToBeInSet",
                 {"column": "_id_valid", "value_set": [True], "mostly": quality.id_number_valid_min}, True,
                 f"share of valid ID numbers >= {quality.id_number_valid_min}"),
            Spec("ExpectColumnValuesToBeInSet", {"column": "sex", "value_set": ["0", "1", "2", "9"]}, False,
                 "sex within GB/T 2261.1"),
            Spec("ExpectColumnValuesToMatchRegex",
                 {"column": "birth_date", "regex": r"^(18[89]\d|19\d\d|20\d\d)-\d\d-\d\d$"}, False,
                 "birth dates from 1880 on"),
        ]
    return common + [Spec("ExpectColumnValuesToNotBeNull", {"column": "address"}, True, "address not null")]
