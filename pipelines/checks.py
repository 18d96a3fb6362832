"""Quality gates as Dagster asset checks: Great Expectations 1.x on each standardised batch (blocking),
plus the quarantine-share gate. GE is imported inside the check (it costs ~5 s to import)."""

import logging

import dagster as dg
import pandas as pd

from pipelines import constants as C
from pipelines.resources import GridbridgeConfig
from schemas.expectations import Spec, suite
from schemas.normalise.ids import is_valid_checksum


def _observed(result) -> str:
    r = result.result or {}
    if "observed_value" in r:
        return str(r["observed_value"])
    if "unexpected_percent" in r and r["unexpected_percent"] is not None:
        return f"{100 - r['unexpected_percent']:.1f}% as expected ({r.get('unexpected_count')} unexpected)"
    return "n/a"


def validate(df: pd.DataFrame, specs: list[Spec], name: str) -> list[dict]:
    """Run the specs on `df` with an ephemeral GE context; one dict per expectation."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (context.data_sources.add_pandas(name).add_dataframe_asset(name)
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df}))
    gsuite = gx.ExpectationSuite(name=name)
    for spec in specs:
        gsuite.add_expectation(getattr(gx.expectations, spec.expectation)(**spec.kwargs))
    res = batch.validate(gsuite)
    return [{"expectation": spec.describe, "type": spec.expectation, "blocking": spec.blocking,
             "success": bool(r.success), "observed": _observed(r)} for spec, r in zip(specs, res.results)]


def gate_frame(stg: pd.DataFrame, entity: str) -> pd.DataFrame:
    df = stg.copy()
    if entity == "person":
        ids = df["id_number"]
        valid = is_valid_checksum(ids.fillna("")).astype("object")
        df["_id_valid"] = valid.where(ids.notna(), None)
    return df


def _check(source: str, entity: str) -> dg.AssetChecksDefinition:
    name = C.stg(source, entity)

    @dg.asset_check(asset=name, name=f"{name}_quality", blocking=True,
                    additional_ins={"quarantine": dg.AssetIn(C.quarantined(source, entity))},
                    description=f"GE suite on {name} + share of quarantined rows")
    def _gate(context: dg.AssetCheckExecutionContext, gridbridge: GridbridgeConfig,
              stg: pd.DataFrame, quarantine: pd.DataFrame) -> dg.AssetCheckResult:
        config = gridbridge.load()
        if config.entity(source, entity) is None:
            return dg.AssetCheckResult(passed=True, metadata={"note": "entity not configured"})
        results = validate(gate_frame(stg, entity), suite(entity, config.quality), name)
        total = len(stg) + len(quarantine)
        share = len(quarantine) / total if total else 0.0
        results.append({"expectation": f"quarantined share <= {config.quality.quarantine_max}", "type": "gridbridge",
                        "blocking": True, "success": share <= config.quality.quarantine_max,
                        "observed": f"{share:.4f}"})
        failed_blocking = [r for r in results if r["blocking"] and not r["success"]]
        failed_warn = [r for r in results if not r["blocking"] and not r["success"]]
        lines = [f"{'PASS' if r['success'] else 'FAIL'} {'blocking' if r['blocking'] else 'warning'}: "
                 f"{r['expectation']} (observed {r['observed']})" for r in results]
        passed = not failed_blocking and not failed_warn
        first = (failed_blocking or failed_warn or [None])[0]
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if failed_blocking else dg.AssetCheckSeverity.WARN,
            description=(f"{name}: {first['expectation']} failed (observed {first['observed']})" if first else "all passed"),
            metadata={"results": dg.MetadataValue.md("\n".join(f"- {l}" for l in lines)),
                      "failed_blocking": len(failed_blocking), "failed_warning": len(failed_warn)})

    return _gate


stg_checks = [_check(s, e) for s, e in C.SOURCE_ENTITIES]
