"""Quality gates as data: the expectation suites run on each standardised batch (pipelines/checks.py runs them
with Great Expectations 1.x) and the names and default levels of every gate, the matched-result ones included.

Each gate has a stable `id`; `quality.levels` in gridbridge.yaml sets it to `blocking` or `warning`:

* a failed **blocking** gate stops the run before publish (exit ≠ 0, the previous warehouse stays as it was);
  `--force-publish` cannot override it — change its level in the config (recorded with the run) if you must;
* a failed **warning** gate holds the publish too, unless the operator reruns with
  `gridbridge sync --force-publish --reason "…"`: the reason and the gates it overrode go into `run_log`.

Gates that compare with the last successful run (row-count drift, freshness, match-rate and review-band drift,
match-weight drift) pass on the first run: there is nothing to compare with yet.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

BLOCKING, WARNING = "blocking", "warning"

# every gate: id → default level. What a gate checked, with its thresholds, is in its result (Spec.describe,
# pipelines/checks.py `result`).
GATES: dict[str, str] = {
    "min_rows": BLOCKING,                 # at least quality.min_rows loaded rows
    "row_count_drift": BLOCKING,          # loaded rows within row_count_band × the last successful run's
    "key_not_null": BLOCKING,
    "key_unique": BLOCKING,
    "name_not_null": BLOCKING,            # persons
    "address_not_null": BLOCKING,         # houses
    "id_number_valid": BLOCKING,          # share of ID numbers passing the check digit
    "quarantine_share": BLOCKING,         # share of quarantined rows
    "sex_code": WARNING,                  # GB/T 2261.1
    "codes_known": WARNING,               # share of rows whose code fields decode
    "birth_date_range": WARNING,          # between quality.birth_date_min and today
    "updated_at_fresh": WARNING,          # newest 更新时间 not older than the last run's (and freshness_max_days)
    "match_rate_drift": WARNING,          # share of persons in both systems vs the last run
    "review_band_drift": WARNING,         # review pairs vs the last run
    "weight_drift": WARNING,              # PSI of the per-record link weights (matching/drift.py) vs the last run
    "duplicate_registration": BLOCKING,   # two active police 户籍 records of different valid IDs in one person
}


@dataclass(frozen=True)
class Spec:
    id: str
    expectation: str  # GE expectation class name
    kwargs: dict = field(default_factory=dict)
    describe: str = ""


def level(quality, gate_id: str) -> str:
    return (quality.levels or {}).get(gate_id, GATES[gate_id])


def _date(value) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def suite(entity: str, quality, previous: dict | None = None, today: dt.date | None = None) -> list[Spec]:
    """The GE specs for one standardised batch. `previous`: what the same gate observed on the last
    successful run (`loaded`, `newest_updated_at`), or None."""
    previous = previous or {}
    today = today or dt.date.today()
    specs = [
        Spec("min_rows", "ExpectTableRowCountToBeBetween", {"min_value": quality.min_rows},
             f"at least {quality.min_rows} loaded rows"),
        Spec("key_not_null", "ExpectColumnValuesToNotBeNull", {"column": "source_key"}, "source_key not null"),
        Spec("key_unique", "ExpectColumnValuesToBeUnique", {"column": "source_key"}, "source_key unique"),
    ]
    prev_rows = previous.get("loaded")
    if prev_rows:
        lo, hi = quality.row_count_band
        specs.append(Spec("row_count_drift", "ExpectTableRowCountToBeBetween",
                          {"min_value": math.floor(prev_rows * lo), "max_value": math.ceil(prev_rows * hi)},
                          f"loaded rows within {lo}–{hi} × the last successful run's {prev_rows}"))
    floor = _date(previous.get("newest_updated_at"))
    if quality.freshness_max_days is not None:
        oldest_ok = dt.datetime.combine(today, dt.time()) - dt.timedelta(days=quality.freshness_max_days)
        floor = max(floor, oldest_ok) if floor else oldest_ok
    if floor is not None:
        specs.append(Spec("updated_at_fresh", "ExpectColumnMaxToBeBetween", {"column": "_updated_at", "min_value": floor},
                          f"newest updated_at not before {floor:%Y-%m-%d %H:%M}"))
    specs.append(Spec("codes_known", "ExpectColumnValuesToBeInSet",
                      {"column": "_codes_known", "value_set": [True], "mostly": quality.codes_known_min},
                      f"share of rows whose codes decode >= {quality.codes_known_min}"))
    if entity == "person":
        return specs + [
            Spec("name_not_null", "ExpectColumnValuesToNotBeNull", {"column": "name"}, "name not null"),
            Spec("id_number_valid", "ExpectColumnValuesToBeInSet",
                 {"column": "_id_valid", "value_set": [True], "mostly": quality.id_number_valid_min},
                 f"share of valid ID numbers >= {quality.id_number_valid_min}"),
            Spec("sex_code", "ExpectColumnValuesToBeInSet", {"column": "sex", "value_set": ["0", "1", "2", "9"]},
                 "sex within GB/T 2261.1"),
            Spec("birth_date_range", "ExpectColumnValuesToBeBetween",
                 {"column": "_birth_date", "min_value": dt.datetime.fromisoformat(quality.birth_date_min),
                  "max_value": dt.datetime.combine(today, dt.time())},
                 f"birth dates between {quality.birth_date_min} and {today.isoformat()}"),
        ]
    return specs + [Spec("address_not_null", "ExpectColumnValuesToNotBeNull", {"column": "address"}, "address not null")]
