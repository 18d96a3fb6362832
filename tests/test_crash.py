"""Crash safety, tested for real: `python -m pipelines.cli sync` is SIGKILLed at each stage of a run.

One first sync makes the previous state; each case copies it, starts the command line in a child process that
stops at its stage (warehouse/files.py: GRIDBRIDGE_PAUSE_AT), kills it with SIGKILL there, looks at what was
left and syncs again without a fault. The warehouse must be byte for byte the previous file or a complete new
one — never half — the run log must not keep a run `running` for ever, leftovers must not matter, and the
rerun must succeed with the same person ids. The five children run at once; the reruns run in this process
(run_sync, what the command line calls) to spare five interpreters' imports.
"""
from __future__ import annotations

import hashlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import execute_sync, run_sync
from tests.demos import REPO, synced_demo
from warehouse.files import PAUSE_AT, PAUSE_MARKER
from warehouse.state import INTERRUPTED, PUBLISHED_BEFORE_END, State, SyncLockedError

PERSONS, SEED = 300, 13
STAGES = ("extract", "standardise", "match", "publish_build", "publish_swapped")
WAREHOUSE = Path("warehouse") / "gridbridge.duckdb"
WAIT_S = 90  # for a child to reach its stage (five children and the reruns share the cores)


def _start_sync(root: Path, name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The real command line in a child process (ephemeral Dagster instance), output to `root/<name>.log`."""
    child_env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", PAUSE_AT, PAUSE_MARKER)}
    child_env["PYTHONHASHSEED"] = str(int(os.environ.get("PYTHONHASHSEED") or 0) + 17)  # not this process's seed
    log = open(root / f"{name}.log", "wb")  # noqa: SIM115 — the child writes its own copy; kept for failure texts
    try:
        return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "sync", "--config", str(root / "gridbridge.yaml")],
                                cwd=REPO, env=child_env | (env or {}), stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


def _log(root: Path, name: str) -> str:
    return (root / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-3000:]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _warehouse(path: Path) -> dict:
    """What a reader finds in the warehouse file (raises if it is not a complete DuckDB warehouse)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {"persons": con.execute("SELECT count(*) FROM person").fetchone()[0],
                "published": [r[0] for r in con.execute("SELECT run_id FROM publish_history ORDER BY run_seq").fetchall()],
                "xref": sorted(con.execute("SELECT source, source_key, person_id FROM person_xref").fetchall())}
    finally:
        con.close()


def _leftovers(root: Path) -> dict[str, list[str]]:
    wh = root / "warehouse"
    return {"building": sorted(p.name for p in wh.glob(".*.building*")),
            "part": sorted(str(p.relative_to(wh)) for p in (wh / "landing").glob("*/*.part"))}


def _run_log(root: Path) -> dict[str, dict]:
    return {r["run_id"]: r for r in State(root / "warehouse").runs().to_dict("records")}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    """Demo sources + one successful sync: the 'previous state' every case starts from."""
    root = tmp_path_factory.mktemp("crash_first")
    t0 = time.perf_counter()
    synced_demo(root, PERSONS, SEED)
    return {"root": root, "md5": _md5(root / WAREHOUSE), "runs": set(_run_log(root)),
            "seconds": time.perf_counter() - t0, **_warehouse(root / WAREHOUSE)}


class _Case:
    """One stage: a copy of the first state and a command-line sync in it that pauses at `stage`."""

    def __init__(self, first: dict, stage: str, base: Path):
        self.first, self.stage, self.t0 = first, stage, time.perf_counter()
        self.root = base / stage
        shutil.copytree(first["root"], self.root, symlinks=True)
        self.marker = self.root / "paused"
        self.proc = _start_sync(self.root, "killed", {PAUSE_AT: stage, PAUSE_MARKER: str(self.marker)})
        self.out: dict = {"root": self.root}
        self.error: Exception | None = None

    def paused(self) -> bool:
        if self.marker.exists():
            return True
        if self.proc.poll() is not None or time.perf_counter() - self.t0 > WAIT_S:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"sync never paused at {self.stage} (exit {self.proc.returncode}):\n"
                                 f"{_log(self.root, 'killed')}")
        return False

    def kill(self) -> None:
        """SIGKILL the paused sync and record what it left."""
        root, out, first = self.root, self.out, self.first
        out["marker"] = self.marker.read_text(encoding="utf-8").split()
        out["paused_at_s"] = time.perf_counter() - self.t0  # (within the watcher's 50 ms poll)
        if self.stage == "extract":  # a second sync on the same warehouse meanwhile is refused, naming the live one
            try:
                execute_sync(str(root / "gridbridge.yaml"))
                out["second_sync"] = "ran"
            except SyncLockedError as e:
                out["second_sync"] = str(e)
        os.kill(self.proc.pid, signal.SIGKILL)
        out["kill_delay_s"] = time.time() - self.marker.stat().st_mtime  # how long it had been paused
        out["killed_exit"] = self.proc.wait(timeout=30)
        killed = [r for r in _run_log(root).values() if r["run_id"] not in first["runs"]]
        out["killed_run"] = killed[0]["run_id"] if len(killed) == 1 else killed
        out["killed_status"] = killed[0]["status"] if len(killed) == 1 else None
        out["md5"] = _md5(root / WAREHOUSE)
        out["after_kill"] = _warehouse(root / WAREHOUSE)
        landing = root / "warehouse" / "landing" / str(out["killed_run"])
        out["landed"] = sorted(p.name for p in landing.glob("*.parquet"))
        if self.stage == "extract":  # what a kill while writing a landing file leaves (land() writes .part first)
            (landing / "grid_person.parquet.part").write_bytes(b"PAR1 half a file")
        out["left"] = _leftovers(root)

    def rerun(self) -> dict:
        """Sync again without a fault and record the outcome: the same run_sync the command line calls (its exit
        code), in this process to save the ~6 s of CPU a fresh interpreter spends on imports."""
        root, out = self.root, self.out
        t1 = time.perf_counter()
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("DAGSTER_HOME", raising=False)
            out["rerun_exit"] = run_sync(str(root / "gridbridge.yaml"), quiet=True)
        out["rerun_s"] = time.perf_counter() - t1
        out["after_rerun"] = _warehouse(root / WAREHOUSE)
        out["run_log"] = _run_log(root)
        out["left_after_rerun"] = _leftovers(root)
        return out


@pytest.fixture(scope="module")
def crashes(first, tmp_path_factory):
    """Every stage's case. All paused syncs start at once; a watcher thread kills each as soon as it pauses (so
    none outlives its pause however long the reruns take) while this thread reruns the killed ones in turn."""
    base = tmp_path_factory.mktemp("crash_cases")
    t0 = time.perf_counter()
    cases = {stage: _Case(first, stage, base) for stage in STAGES}
    killed: queue.Queue = queue.Queue()

    def watch():
        pending = dict(cases)
        while pending:
            for stage, case in list(pending.items()):
                try:
                    if not case.paused():
                        continue
                    case.kill()
                except Exception as e:  # noqa: BLE001 — reported by that stage's test
                    case.error = e
                del pending[stage]
                killed.put(stage)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, name="crash-watcher", daemon=True)
    watcher.start()
    results: dict = {}
    try:
        while len(results) < len(cases):
            stage = killed.get(timeout=WAIT_S + 60)
            try:
                results[stage] = cases[stage].error or cases[stage].rerun()
            except Exception as e:  # noqa: BLE001
                results[stage] = e
    finally:
        watcher.join(timeout=WAIT_S + 60)
        for case in cases.values():
            if case.proc.poll() is None:
                case.proc.kill()
                case.proc.wait()
    timing = ", ".join(f"{s}: paused {r['paused_at_s']:.1f} s after start, killed {r['kill_delay_s']:.1f} s later, "
                       f"rerun {r['rerun_s']:.1f} s" for s, r in results.items() if isinstance(r, dict))
    print(f"\ncrash cases: first sync {first['seconds']:.1f} s; all cases {time.perf_counter() - t0:.1f} s ({timing})")
    for s, r in results.items():  # what each kill left and what the rerun made of it (pytest -s shows it)
        if isinstance(r, dict):
            kept = "previous file, same md5" if r["md5"] == first["md5"] else \
                f"new file, {r['after_kill']['persons']} persons, run in publish_history"
            status = r["run_log"].get(r["killed_run"], {}).get("status") if isinstance(r["killed_run"], str) else "?"
            print(f"  {s:<16} warehouse: {kept}; run log: {r['killed_status']}; left: {r['left']}; "
                  f"rerun exit {r['rerun_exit']}, killed run now {status}, left after: {r['left_after_rerun']}")
    return results


@pytest.mark.parametrize("stage", STAGES)
def test_a_sync_killed_at_any_stage_leaves_a_whole_warehouse_and_the_next_sync_repairs(crashes, first, stage):
    case = crashes[stage]
    if isinstance(case, Exception):
        raise case
    assert case["marker"][0] == stage and case["killed_exit"] == -signal.SIGKILL
    killed = case["killed_run"]
    assert isinstance(killed, str), f"expected one new run in the run log, got {killed}"

    # the file a reader opens is the previous one byte for byte, or the complete new one (never half)
    swapped = stage == "publish_swapped"
    if swapped:
        assert case["md5"] != first["md5"]
        assert case["after_kill"]["published"] == [*first["published"], killed]
        assert case["after_kill"]["persons"] == first["persons"]
        assert case["after_kill"]["xref"] == first["xref"]  # a fresh interpreter, another hash seed: the same ids
        assert case["killed_status"] == "publishing"  # the kill came before the run log was told
    else:
        assert case["md5"] == first["md5"]
        assert case["after_kill"]["published"] == first["published"]
        assert case["killed_status"] in ("running", "publishing")
    if stage == "publish_build":
        assert case["left"]["building"], "the kill should leave the built, unswapped file behind"
    if stage in ("extract", "standardise"):
        assert case["landed"], "the kill should come after a source was landed"
    if stage == "standardise":
        assert any(n.endswith(".stg.parquet") for n in case["landed"])

    # the rerun repairs the run log, cleans up, publishes and keeps every person's id
    assert case["rerun_exit"] == 0, case["run_log"]
    runs = case["run_log"]
    assert runs[killed]["status"] == ("success" if swapped else "interrupted")
    assert runs[killed]["message"] == (PUBLISHED_BEFORE_END if swapped else INTERRUPTED)
    rerun = [r for r in runs.values() if r["run_id"] not in first["runs"] | {killed}]
    assert len(rerun) == 1 and rerun[0]["status"] == "success"
    assert not [r for r in runs.values() if r["status"] in ("running", "publishing")]
    assert case["after_rerun"]["published"] == [*first["published"], *([killed] if swapped else []),
                                                rerun[0]["run_id"]]
    assert case["after_rerun"]["xref"] == first["xref"]  # same source record → same person_id
    assert case["left_after_rerun"] == {"building": [], "part": []}


def test_a_second_sync_while_one_runs_is_refused_with_the_running_pid(crashes):
    case = crashes["extract"]
    if isinstance(case, Exception):
        raise case
    pid = case["marker"][1]
    assert case["second_sync"] == f"another sync is running (pid {pid}); try again later"


def test_the_sync_lock_is_released_when_its_holder_ends(tmp_path):
    state = State(tmp_path)
    with state.sync_lock():
        with pytest.raises(SyncLockedError, match=f"pid {os.getpid()}"):
            with State(tmp_path).sync_lock():
                pass
    with state.sync_lock():  # released on leaving the block
        pass
    # a holder that is SIGKILLed: the kernel releases its lock
    code = f"from warehouse.state import State; import time\nwith State({str(tmp_path)!r}).sync_lock(): time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    try:
        deadline = time.monotonic() + 20
        lock = tmp_path / ".sync.lock"
        while not (lock.exists() and lock.read_text().strip() == str(child.pid)):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.02)
        with pytest.raises(SyncLockedError, match=f"pid {child.pid}"):
            with state.sync_lock():
                pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with state.sync_lock():
        pass


def test_repair_interrupted_closes_only_unfinished_runs(tmp_path):
    state = State(tmp_path)
    for run_id, status in [("a", "success"), ("b", "failed"), ("c", "running"), ("d", "publishing"),
                           ("e", "publishing")]:
        state.record_run(run_id, started_at=f"2026-01-01T00:00:0{ord(run_id) - 96}", status=status)
    assert state.repair_interrupted({"a", "e"}) == ["c", "d", "e"]
    got = state.runs().set_index("run_id")
    assert got["status"].to_dict() == {"a": "success", "b": "failed", "c": "interrupted", "d": "interrupted",
                                       "e": "success"}
    assert got.loc["c", "message"] == INTERRUPTED and got.loc["e", "message"] == PUBLISHED_BEFORE_END
    assert got.loc["e", "finished_at"] and state.last_successful_run()["run_id"] == "e"
    assert state.repair_interrupted({"a", "e"}) == []  # nothing left to close
