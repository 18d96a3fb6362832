"""Why two records did or did not match: the comparison levels, m/u and weights of one pair.

`explain_pair(left, right, entity, settings, records)` scores one pair exactly as `link()` does
(`records.prepare_records` → `comparisons.compute_gammas` → `scoring.score`) and returns an
`Explanation`: the prior, one `Step` per comparison (level, values on both sides, m, u, weight,
term-frequency part), the capped groups, the final match weight and probability, the decision the
thresholds give, and per blocking rule whether it pairs the two records (and, given all `records`,
whether that block was small enough to be compared). `render(explanation)` is the text waterfall
of `gridbridge explain`. Values are shown masked by their field (`schemas.normalise.masking.mask_value`:
ID numbers and phones); blocking keys are never shown (they hold ID digits), only block sizes.

Pure: no files; the only engine is an in-memory DuckDB connection to evaluate the rules' keys.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from matching.blocking import shared_blocks
from matching.guards import GUARD_COLUMN
from matching.linker import score_pairs
from matching.records import MATCH_COLUMNS, RECORD_ID, match_columns, prepare_records
from matching.settings import MatchSettings
from schemas.normalise.masking import mask_value


@dataclass(frozen=True)
class Step:
    """One comparison of the pair. `weight` is log2(m/u) plus `tf` (0 for a null level)."""
    comparison: str
    level: str
    description: str
    columns: tuple[str, ...]
    left: tuple[str | None, ...]
    right: tuple[str | None, ...]
    m: float | None
    u: float | None
    weight: float
    tf: float
    group: str | None


@dataclass(frozen=True)
class GroupStep:
    """A capped group: its members' summed `raw` weight and the `counted` weight after the cap
    and the no-credit rule."""
    name: str
    comparisons: tuple[str, ...]
    raw: float
    counted: float
    max_weight: float
    note: str


@dataclass(frozen=True)
class RuleCheck:
    """One blocking rule: `shares_key` (all key parts equal and usable on both records); with all
    records known, `block_size` of the largest shared block, and `compared` (shares a key whose
    block is within `max_block`)."""
    rule: str
    shares_key: bool
    block_size: int | None
    max_block: int
    compared: bool | None


@dataclass(frozen=True)
class Explanation:
    entity: str
    left_id: str
    right_id: str
    model_version: int
    trained_by: str
    prior: float
    prior_weight: float
    steps: tuple[Step, ...]
    groups: tuple[GroupStep, ...]
    match_weight: float
    match_probability: float
    decision: str
    auto_match: float
    review: float
    rules: tuple[RuleCheck, ...]

    @property
    def candidate(self) -> bool:
        """Some blocking rule pairs the two (in a block small enough, when that is known)."""
        return any(r.compared if r.compared is not None else r.shares_key for r in self.rules)

    @property
    def counted(self) -> list[tuple[str, float]]:
        """The terms summed into `match_weight`, in waterfall order: prior, ungrouped comparisons,
        then groups."""
        grouped = {c for g in self.groups for c in g.comparisons}
        return ([("prior", self.prior_weight)]
                + [(s.comparison, s.weight) for s in self.steps if s.comparison not in grouped]
                + [(g.name, g.counted) for g in self.groups])


def _as_frame(record: Mapping | pd.Series) -> pd.DataFrame:
    return pd.DataFrame([dict(record)])


def _decision(p: float, settings: MatchSettings) -> str:
    if p >= settings.auto_match:
        return "auto match"
    return "review" if p >= settings.review else "no match"


def _rule_checks(prepared: pd.DataFrame, l_id: str, r_id: str, rules, full: bool) -> tuple[RuleCheck, ...]:
    """Keys of both records per rule (with block sizes over all of `prepared` when `full`)."""
    out = []
    for rule, sizes in zip(rules, shared_blocks(prepared, l_id, r_id, rules)):
        size = max(sizes) if sizes and full else None
        compared = any(n <= rule.max_block for n in sizes) if full else None
        out.append(RuleCheck(rule.name, bool(sizes), size, rule.max_block, compared))
    return tuple(out)


def explain_pair(left: Mapping | pd.Series, right: Mapping | pd.Series, entity: str = "person",
                 settings: MatchSettings | None = None, records: pd.DataFrame | None = None) -> Explanation:
    """Explain the pair of standardised records `left` and `right` (each with `source`,
    `source_key` and the entity's columns) under `settings` (default `MatchSettings()`).

    `records`: all standardised records of the run (both sources). When given, term-frequency
    adjustments use their value frequencies and block sizes are counted over them, as in the run;
    `left` and `right` must then be among them.
    """
    if entity not in MATCH_COLUMNS:
        raise ValueError(f"unknown entity {entity!r}; expected one of {sorted(MATCH_COLUMNS)}")
    settings = settings or MatchSettings()
    rules, comps = settings.rules_for(entity), settings.comparisons_for(entity)
    model = settings.model_for(entity)
    model.check(comps)
    pair = pd.concat([_as_frame(left), _as_frame(right)], ignore_index=True)
    base = records if records is not None else pair
    columns = match_columns(entity, rules, comps, [t.column for t in model.term_frequencies], base.columns)
    ids = [prepare_records(pair.iloc[[i]], entity, columns)[RECORD_ID].iloc[0] for i in (0, 1)]
    l_id, r_id = ids
    if l_id == r_id:
        raise ValueError(f"cannot explain a record against itself ({l_id})")
    prepared = prepare_records(base, entity, columns)
    missing = [i for i in ids if i not in set(prepared[RECORD_ID])]
    if missing:
        raise ValueError(f"record(s) {missing} are not in the records given")
    a, b = sorted(ids)
    scored = score_pairs(prepared, pd.DataFrame({"l_id": [a], "r_id": [b]}), entity, settings, model, comps,
                         term_frequencies=records is not None)
    row = scored.iloc[0]
    by_id = prepared.set_index(RECORD_ID)
    group_of = {c: g.name for g in model.groups for c in g.comparisons}
    steps = []
    for comp in comps:
        label = comp.labels[int(row[f"gamma_{comp.name}"])]
        level = next((lv for lv in comp.levels if lv.label == label), None)
        mu = model.levels[comp.name].get(label) if label != "null" else None
        steps.append(Step(
            comp.name, label, level.description if level else "a value is missing", comp.columns,
            tuple(mask_value(c, by_id.at[l_id, c]) for c in comp.columns),
            tuple(mask_value(c, by_id.at[r_id, c]) for c in comp.columns),
            mu["m"] if mu else None, mu["u"] if mu else None,
            float(row[f"w_{comp.name}"]), float(row.get(f"tf_{comp.name}", 0.0)), group_of.get(comp.name)))
    groups = []
    for g in model.groups:
        raw = sum(s.weight for s in steps if s.comparison in g.comparisons)
        counted = float(row[f"w_{g.name}"])
        vetoed = [c for c in g.no_credit_when_else if int(row[f"gamma_{c}"]) == 0]
        note = (f"no positive credit: {', '.join(vetoed)} disagree" if vetoed and raw > 0
                else f"capped at {g.max_weight:g}" if raw > g.max_weight else "")
        groups.append(GroupStep(g.name, g.comparisons, raw, counted, g.max_weight, note))
    p = float(row["match_probability"])
    return Explanation(
        entity, l_id, r_id, model.version, model.trained_by, model.prior, model.prior_weight, tuple(steps),
        tuple(groups), float(row["match_weight"]), p,
        _decision(p, settings) + (f" (capped by guard {row[GUARD_COLUMN]}: no ID on one side and no household "
                                  f"evidence)" if isinstance(row.get(GUARD_COLUMN), str) else ""),
        settings.auto_match,
        settings.review, _rule_checks(prepared, l_id, r_id, rules, records is not None))


# --- text ----------------------------------------------------------------------------------------

def _num(v: float | None, fmt: str) -> str:
    return "" if v is None else format(v, fmt)


def _vals(values: tuple[str | None, ...]) -> str:
    shown = [v for v in values if v is not None]
    return " / ".join(shown) if shown else "—"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(text: str, width: int) -> str:
    """`text` clipped and padded to `width` terminal columns (a Chinese character takes two)."""
    if _width(text) > width - 1:
        while _width(text) > width - 2:
            text = text[:-1]
        text += "…"
    return text + " " * (width - _width(text))


def render(e: Explanation) -> str:
    """The text waterfall: blocking, one line per comparison with the running total, the groups,
    the final weight, probability and decision."""
    lines = [f"{e.entity} pair  {e.left_id}  ↔  {e.right_id}",
             f"model: {e.entity} v{e.model_version} ({e.trained_by}); thresholds auto_match {e.auto_match:g}, "
             f"review {e.review:g}", ""]
    if e.candidate:
        paired = [r.rule for r in e.rules if (r.compared if r.compared is not None else r.shares_key)]
        lines.append(f"blocking: a candidate pair, compared by {', '.join(paired)}")
    else:
        lines.append("blocking: NOT a blocking candidate — the run never compared this pair "
                     "(the score below is what it would have been)")
    for r in e.rules:
        if r.compared:
            state = f"pairs them (block of {r.block_size})"
        elif r.shares_key and r.compared is None:
            state = "pairs them"
        elif r.shares_key:
            state = f"would pair them, but the block of {r.block_size} > max {r.max_block} was skipped"
        else:
            state = "would not pair them (keys differ or missing)"
        lines.append(f"  {'✓' if r.compared or (r.shares_key and r.compared is None) else '✗'} "
                     f"{r.rule:<34}{state}")
    l_src, r_src = e.left_id.split(":", 1)[0], e.right_id.split(":", 1)[0]
    lines += ["", f"{'comparison':<12}{'level':<16}{l_src:<28}{r_src:<28}{'m':>8}{'u':>10}"
                  f"{'weight':>9}{'total':>9}"]
    total = e.prior_weight
    lines.append(f"{'prior':<12}{'':<16}{'':<28}{'':<28}{'':>8}{_num(e.prior, '.2g'):>10}"
                 f"{e.prior_weight:>+9.2f}{total:>9.2f}")
    grouped = {c: g for g in e.groups for c in g.comparisons}
    for s in e.steps:
        tf = f"  (term frequency {s.tf:+.2f})" if s.tf else ""
        if s.comparison in grouped:
            shown = f"{'(' + format(s.weight, '+.2f') + ')':>9}{'':>9}  → {grouped[s.comparison].name}"
        else:
            total += s.weight
            shown = f"{s.weight:>+9.2f}{total:>9.2f}"
        lines.append(f"{s.comparison:<12}{s.level:<16}{_cell(_vals(s.left), 28)}{_cell(_vals(s.right), 28)}"
                     f"{_num(s.m, '.4g'):>8}{_num(s.u, '.3g'):>10}{shown}{tf}")
    for g in e.groups:
        total += g.counted
        note = f"  ({g.note})" if g.note else ""
        lines.append(f"{g.name:<12}{'group':<16}"
                     f"{_cell('sum of ' + ' + '.join(g.comparisons) + f' = {g.raw:+.2f}', 56)}"
                     f"{'':>8}{'':>10}{g.counted:>+9.2f}{total:>9.2f}{note}")
    lines += ["", f"match weight {e.match_weight:+.2f}   probability {e.match_probability:.6f}   → {e.decision}"]
    return "\n".join(lines)
