"""Quality gates as Dagster asset checks (all `blocking=True`: nothing downstream runs after a failed one).

* `<stg>_quality` on each standardised batch: the Great Expectations 1.x suite of schemas/expectations.py plus the
  quarantined-share gate;
* `golden_person_match_quality` on the matched result: match-rate, review-band and match-weight drift against the
  last successful run, and two people's 户籍 registrations merged into one golden person.

Each gate has a level (`quality.levels`): a failed blocking gate makes the check an ERROR, which stops the run; a
failed warning makes it a WARN, which holds the publish unless the run was started with --force-publish
(pipelines/publish.py). What each gate observed is kept in its metadata (`observations`) and so in `run_log.gates`;
the next run compares with it. GE is imported inside the check (it costs seconds to import).
"""

import json
import logging

import dagster as dg
import pandas as pd

from matching.drift import match_metrics, psi
from pipelines import constants as C
from pipelines.resources import GridbridgeConfig
from schemas.expectations import BLOCKING, Spec, level, suite
from schemas.normalise.ids import is_valid_checksum
from warehouse.state import State


def _observed(result) -> str:
    r = result.result or {}
    if "observed_value" in r:
        return str(r["observed_value"])
    if "unexpected_percent" in r and r["unexpected_percent"] is not None:
        return f"{100 - r['unexpected_percent']:.1f}% as expected ({r.get('unexpected_count')} unexpected)"
    return "n/a"


def validate(df: pd.DataFrame, specs: list[Spec], name: str, quality) -> list[dict]:
    """Run the specs on `df` with an ephemeral GE context; one result per expectation. Only counts and
    aggregates are kept (never GE's `partial_unexpected_list`, which holds source values)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (context.data_sources.add_pandas(name).add_dataframe_asset(name)
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df}))
    gsuite = gx.ExpectationSuite(name=name)
    for spec in specs:
        gsuite.add_expectation(getattr(gx.expectations, spec.expectation)(**spec.kwargs, meta={"gate": spec.id}))
    res = batch.validate(gsuite)
    by_gate = {r.expectation_config.meta["gate"]: r for r in res.results}   # GE groups results by its own order
    missing = [s.id for s in specs if s.id not in by_gate]
    if missing:
        raise RuntimeError(f"Great Expectations returned no result for gates {missing}")
    return [result(spec.id, spec.describe, bool(by_gate[spec.id].success), _observed(by_gate[spec.id]), quality,
                   spec.expectation) for spec in specs]


def result(gate: str, describe: str, success: bool, observed, quality, kind: str = "gridbridge") -> dict:
    return {"gate": gate, "expectation": describe, "type": kind, "level": level(quality, gate),
            "blocking": level(quality, gate) == BLOCKING, "success": bool(success), "observed": str(observed)}


def gate_frame(stg: pd.DataFrame, entity: str) -> pd.DataFrame:
    """The batch plus the derived columns the suite checks (`_codes_known`, `_updated_at`, `_id_valid`,
    `_birth_date`)."""
    df = stg.copy()
    flags = df["flags"].fillna("") if "flags" in df else pd.Series("", index=df.index)
    df["_codes_known"] = ~flags.str.contains("code_unknown", regex=False)
    upd = df["updated_at"] if "updated_at" in df else pd.Series(None, index=df.index, dtype="object")
    df["_updated_at"] = pd.to_datetime(upd, errors="coerce", format="mixed")
    if entity == "person":
        ids = df["id_number"]
        valid = is_valid_checksum(ids.fillna("")).astype("object")
        df["_id_valid"] = valid.where(ids.notna(), None)
        df["_birth_date"] = pd.to_datetime(df["birth_date"], errors="coerce", format="mixed")
    return df


def previous_observations(state: State, check: str) -> dict:
    """What `check` observed on the last successful run (empty on the first run)."""
    last = state.last_successful_run()
    gates = json.loads(last["gates"]) if last and last.get("gates") else []
    for g in gates:
        if g.get("check") == check and isinstance(g.get("observations"), dict):
            return g["observations"]
    return {}


def check_result(name: str, results: list[dict], observations: dict) -> dg.AssetCheckResult:
    failed_blocking = [r for r in results if r["blocking"] and not r["success"]]
    failed_warn = [r for r in results if not r["blocking"] and not r["success"]]
    lines = [f"{'PASS' if r['success'] else 'FAIL'} {r['level']}: {r['gate']}: {r['expectation']} "
             f"(observed {r['observed']})" for r in results]
    first = (failed_blocking or failed_warn or [None])[0]
    return dg.AssetCheckResult(
        passed=not failed_blocking and not failed_warn,
        severity=dg.AssetCheckSeverity.ERROR if failed_blocking else dg.AssetCheckSeverity.WARN,
        description=(f"{name}: {first['gate']}: {first['expectation']} failed (observed {first['observed']})"
                     if first else "all passed"),
        metadata={"results": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines)),
                  "gates": dg.MetadataValue.json(results), "observations": dg.MetadataValue.json(observations),
                  "failed_blocking": len(failed_blocking), "failed_warning": len(failed_warn)})


def _stg_check(source: str, entity: str) -> dg.AssetChecksDefinition:
    name = C.stg(source, entity)
    check_name = f"{name}_quality"

    @dg.asset_check(asset=name, name=check_name, blocking=True,
                    additional_ins={"quarantine": dg.AssetIn(C.quarantined(source, entity))},
                    description=f"GE suite on {name} + share of quarantined rows")
    def _gate(context: dg.AssetCheckExecutionContext, gridbridge: GridbridgeConfig,
              stg: pd.DataFrame, quarantine: pd.DataFrame) -> dg.AssetCheckResult:
        config = gridbridge.load()
        if config.entity(source, entity) is None:
            return dg.AssetCheckResult(passed=True, metadata={"note": "entity not configured"})
        q = config.quality
        frame = gate_frame(stg, entity)
        newest = frame["_updated_at"].max()
        observations = {"loaded": len(stg), "newest_updated_at": None if pd.isna(newest) else newest.isoformat()}
        specs = suite(entity, q, previous_observations(State(config.state_dir), check_name))
        results = validate(frame, specs, name, q)
        total = len(stg) + len(quarantine)
        share = len(quarantine) / total if total else 0.0
        results.append(result("quarantine_share", f"quarantined share <= {q.quarantine_max}",
                              share <= q.quarantine_max, f"{share:.4f}", q))
        return check_result(name, results, observations)

    return _gate


MATCH_CHECK = "golden_person_match_quality"


def match_results(now: dict, before: dict, q) -> list[dict]:
    """The matched-result gates: `now` and `before` are `match_metrics` of this run and the last successful one."""
    out = []
    if before:
        change = now["in_both_share"] - before["in_both_share"]
        out.append(result("match_rate_drift", f"share of persons in both systems within ±{q.match_rate_max_change} "
                          f"of the last run's {before['in_both_share']:.4f}", abs(change) <= q.match_rate_max_change,
                          f"{now['in_both_share']:.4f} ({change:+.4f})", q))
        lo = before["review_pairs"] / q.review_band_ratio - q.review_band_slack
        hi = before["review_pairs"] * q.review_band_ratio + q.review_band_slack
        out.append(result("review_band_drift", f"review pairs within {max(lo, 0):.0f}–{hi:.0f} (last run "
                          f"{before['review_pairs']})", lo <= now["review_pairs"] <= hi, now["review_pairs"], q))
        value = psi(before["weight_hist"], now["weight_hist"])
        out.append(result("weight_drift", f"PSI of the per-record link weights (log2 odds of person_links."
                          f"match_probability) vs the last run <= {q.weight_psi_max}",
                          value <= q.weight_psi_max, f"{value:.4f}", q))
    out.append(result("duplicate_registration", "no golden person with two active police 户籍 records of different "
                      "valid ID numbers (重户 of one person are flagged, not failed)", now["two_people_registered"] == 0,
                      f"{now['two_people_registered']} (重户 flagged: {now['duplicate_registrations']})", q))
    return out


@dg.asset_check(asset="golden_person", name=MATCH_CHECK, blocking=True,
                additional_ins={"links": dg.AssetIn("person_links"), "review": dg.AssetIn("person_review"),
                                "police": dg.AssetIn(C.stg("police", "person"))},
                description="matched result vs the last successful run: match rate, review band, weight drift; "
                            "two people's 户籍 records in one golden person")
def match_gate(context: dg.AssetCheckExecutionContext, gridbridge: GridbridgeConfig, golden_person: pd.DataFrame,
               links: pd.DataFrame, review: pd.DataFrame, police: pd.DataFrame) -> dg.AssetCheckResult:
    config = gridbridge.load()
    now = match_metrics(golden_person, links, review, police)
    before = previous_observations(State(config.state_dir), MATCH_CHECK)
    return check_result("matched persons", match_results(now, before, config.quality), now)


stg_checks = [_stg_check(s, e) for s, e in C.SOURCE_ENTITIES]
all_checks = [*stg_checks, match_gate]
