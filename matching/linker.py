"""`link()`: one matching run for one entity — block, compare, score, cluster, assign stable ids."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from matching.blocking import run_blocking
from matching.clustering import cluster_pairs
from matching.comparisons import compute_gammas
from matching.constraints import PairConstraints
from matching.guards import missing_id_needs_household
from matching.ids import assign_ids
from matching.records import ID_COLUMN, ID_PREFIX, RECORD_ID, match_columns, prepare_records
from matching.scoring import score, weight_columns
from matching.settings import MatchSettings


@dataclass
class LinkResult:
    """What one run produced.

    * `pairs`: every candidate pair, scored — `l_id`, `r_id`, `rule`, `gamma_<c>`, `w_<c>`,
      `w_<group>`, `match_weight`, `match_probability`.
    * `xref`: one row per record — `source`, `source_key`, `person_id`/`house_id`,
      `match_probability`, `match_rule` (probability and blocking rule of the record's strongest
      kept link; NaN and `single` for a record linked to nothing).
    * `review`: pairs for stewards — `pair_id`, `left_source`, `left_key`, `right_source`,
      `right_key`, `police_key`, `grid_key` (set for cross-source pairs), `match_probability`,
      `match_weight`, `w_…` and the same as JSON in `weights`, `rule`, `reason`
      (`review_band` / `one_to_one_guard` / `steward_constraint`), `status` (`open`, or `escalated` for a
      pair a steward decided `unsure`).
    * `blocking_report`: per blocking rule (see `blocking.blocking_report`).
    * `retired_ids`: old ids no longer used, with `merged_into`; `split_ids`: new ids that took records
      of an old id, with `split_from` (matching/ids.py); `issued_max`: largest id number issued (persist
      it), `new_ids` of them issued by this run; `model_version`, `model_fingerprint`
      (`Model.fingerprint`) of the model that scored the pairs.
    """
    pairs: pd.DataFrame
    xref: pd.DataFrame
    review: pd.DataFrame
    blocking_report: pd.DataFrame
    retired_ids: pd.DataFrame
    split_ids: pd.DataFrame
    issued_max: int
    new_ids: int
    model_version: int
    model_fingerprint: str = ""


def pair_id(l_id: str, r_id: str) -> str:
    """Stable id of an unordered record pair (the same on every run)."""
    a, b = sorted((l_id, r_id))
    return hashlib.sha1(f"{a}\x1f{b}".encode()).hexdigest()[:16]


def score_pairs(prepared: pd.DataFrame, pairs: pd.DataFrame, entity: str, settings: MatchSettings, model,
                comparisons, term_frequencies: bool = True) -> pd.DataFrame:
    """Compare, score and apply the decision guards to candidate `pairs` of `prepared` records: the one
    scoring chain `link` and `explain` share. Without `term_frequencies` every level weighs its average."""
    scored = score(compute_gammas(prepared, pairs, comparisons), model, comparisons,
                   records=prepared if term_frequencies else None)
    if entity == "person":
        scored = missing_id_needs_household(scored, settings.auto_match, settings.review)
    return scored


def link(records: pd.DataFrame, entity: str = "person", settings: MatchSettings | None = None,
         previous_xref: pd.DataFrame | None = None, *, con: duckdb.DuckDBPyConnection | None = None,
         issued_max: int | None = None, constraints: PairConstraints | None = None) -> LinkResult:
    """Link the standardised `records` of both sources for `entity` (`person` or `house`).

    `previous_xref` (`source`, `source_key`, `person_id`/`house_id`) keeps ids stable across runs;
    `con` is a DuckDB connection to block on (a temporary in-memory one if not given);
    `constraints` are the stewards' pair decisions (`matching.constraints.pair_constraints`): `same` pairs
    are linked and `different` pairs kept apart whatever they score (see matching/clustering.py).
    """
    settings = settings or MatchSettings()
    rules, comps = settings.rules_for(entity), settings.comparisons_for(entity)
    model = settings.model_for(entity)
    model.check(comps)
    columns = match_columns(entity, rules, comps, [t.column for t in model.term_frequencies], records.columns)
    prepared = prepare_records(records, entity, columns)

    pairs, report = run_blocking(prepared, rules, con=con)
    scored = score_pairs(prepared, pairs, entity, settings, model, comps)
    clusters = cluster_pairs(prepared, scored, settings.thresholds, constraints)

    id_col = ID_COLUMN[entity]
    members = clusters.members.merge(prepared[[RECORD_ID, "source_key"]], on=RECORD_ID)
    ids = assign_ids(members, previous_xref, id_col=id_col, prefix=ID_PREFIX[entity],
                     issued_max=issued_max)
    xref = (members.assign(**{id_col: ids.assigned[id_col].to_numpy()})
            [["source", "source_key", id_col, "match_probability", "match_rule"]]
            .sort_values([id_col, "source", "source_key"], ignore_index=True))
    review = _review_frame(clusters.review, prepared, weight_columns(comps, model))
    return LinkResult(scored, xref, review, report, retired_ids=ids.retired, split_ids=ids.split,
                      issued_max=ids.issued_max, new_ids=ids.new_ids, model_version=model.version,
                      model_fingerprint=model.fingerprint)


def _review_frame(review: pd.DataFrame, prepared: pd.DataFrame, weights: list[str]) -> pd.DataFrame:
    by_id = prepared.set_index(RECORD_ID)
    side = {f"{name}_{col}": by_id[col].reindex(review[ids]).to_numpy()
            for name, ids in (("left", "l_id"), ("right", "r_id")) for col in ("source", "source_key")}
    ls, rs, lk, rk = side["left_source"], side["right_source"], side["left_source_key"], side["right_source_key"]
    cross = ls != rs

    def key_of(source: str) -> np.ndarray:
        return np.where(cross & (ls == source), lk, np.where(cross & (rs == source), rk, None))

    out = pd.DataFrame({
        "pair_id": [pair_id(a, b) for a, b in zip(review["l_id"], review["r_id"])],
        "left_source": ls, "left_key": lk, "right_source": rs, "right_key": rk,
        "police_key": key_of("police"), "grid_key": key_of("grid"),
        "match_probability": review["match_probability"].to_numpy(),
        "match_weight": review["match_weight"].to_numpy(),
    })
    for c in weights:
        out[c] = review[c].to_numpy()
    out["weights"] = [json.dumps({c.removeprefix("w_"): round(float(v), 3) for c, v in zip(weights, row)})
                      for row in review[weights].to_numpy()]
    out["rule"] = review["rule"].to_numpy()
    out["reason"] = review["reason"].to_numpy()
    out["status"] = review["status"].to_numpy() if "status" in review else "open"
    return out.sort_values(["match_probability", "pair_id"], ascending=[False, True], ignore_index=True)
