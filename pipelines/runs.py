"""Record a sync run's outcome in the run log (used by the CLI and by the failure sensor)."""
from __future__ import annotations

import datetime as dt

import dagster as dg

from warehouse.state import State


def gate_results(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    """Every asset-check evaluation of the run, from its event log (works for CLI and scheduled runs)."""
    records = instance.get_records_for_run(run_id=run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    out = []
    for rec in records:
        ev = rec.event_log_entry.dagster_event.event_specific_data
        md = {k: getattr(v, "value", v) for k, v in (ev.metadata or {}).items()}
        out.append({"check": ev.check_name, "asset": ev.asset_key.to_user_string(), "passed": ev.passed,
                    "severity": getattr(ev.severity, "value", str(ev.severity)),
                    "description": ev.description, "results": md.get("results"), "gates": md.get("gates"),
                    "observations": md.get("observations")})
    return out


def models_used(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict]:
    """Per entity, the matching model that scored the run (`model` path or `built-in`, `version`,
    `fingerprint`), from the `<entity>_links` materializations of the run's event log."""
    records = instance.get_records_for_run(run_id=run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    out = {}
    for rec in records:
        mat = rec.event_log_entry.dagster_event.event_specific_data.materialization
        name = mat.asset_key.to_user_string()
        md = {k: getattr(v, "value", v) for k, v in (mat.metadata or {}).items()}
        if name.endswith("_links") and "model" in md:
            out[name.removesuffix("_links")] = {"model": md["model"], "version": md.get("model_version"),
                                                "fingerprint": md.get("model_fingerprint")}
    return out


FORCE_TAG = "gridbridge/force_publish_reason"   # run tag set by `gridbridge sync --force-publish --reason …`


class GateHeld(Exception):
    """A warning-level gate failed and the run was not started with --force-publish: nothing is published."""


def held_gates(gates: list[dict]) -> list[dict]:
    """Checks of a run that failed at warning level only (a blocking failure never reaches publish)."""
    return [g for g in gates if not g["passed"] and g["severity"] == "WARN"]


def failed_gate_ids(check: dict) -> list[str]:
    return [r["gate"] for r in (check.get("gates") or []) if not r.get("success")]


# errors whose message is written for the operator (one line naming the source, entity, file or column)
USER_ERRORS = {"SourceError", "MappingError", "ConfigError", "GateHeld"}


def failure_message(instance: dg.DagsterInstance, run_id: str) -> tuple[str, str]:
    """(stage, one-line reason) of a failed run, from its event log: a failed blocking check names the
    expectation and observed value; otherwise the first failed step's error. ID numbers and phones in the
    reason are masked (it is stored in the run log and printed)."""
    from schemas.normalise.masking import mask_text

    records = instance.get_records_for_run(run_id=run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    for r in records:
        ev = r.event_log_entry.dagster_event.event_specific_data
        if not ev.passed and getattr(ev.severity, "value", "") == "ERROR":
            return "gate", mask_text(ev.description or f"{ev.check_name} failed")
    steps = instance.get_records_for_run(run_id=run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    for r in steps:
        de = r.event_log_entry.dagster_event
        err = de.event_specific_data.error
        cause = err
        while cause.cause is not None:
            cause = cause.cause
        msg = (cause.message or err.message).strip().splitlines()[-1]
        if cause.cls_name in USER_ERRORS:  # a user error speaks for itself: no module path, no class name
            msg = msg.split(f"{cause.cls_name}: ", 1)[-1]
        return ("gate" if cause.cls_name == "GateHeld" else de.step_key), mask_text(msg)
    return "unknown", "run failed"


def record_failure(state: State, instance: dg.DagsterInstance, run_id: str, started: float | None = None) -> str:
    stage, message = failure_message(instance, run_id)
    started_at = dt.datetime.fromtimestamp(started).isoformat(timespec="seconds") if started else None
    fields = {"status": "failed", "stage": stage, "message": message, "gates": gate_results(instance, run_id),
              "finished_at": dt.datetime.now().isoformat(timespec="seconds")}
    if started_at:
        fields["started_at"] = started_at
    state.record_run(run_id, **fields)
    if fields["gates"]:     # what the gates found is kept for a failed run too (warehouse/reports/<run_id>.html)
        from warehouse.report import report_path, write_failed_report
        try:
            write_failed_report(report_path(state.path.parent, run_id), {"run_id": run_id, **fields}, fields["gates"])
        except OSError:
            pass            # the run log already holds the gate results
    return message
