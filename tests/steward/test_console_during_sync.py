"""The console keeps working while a nightly sync runs: pages answer throughout (the warehouse file is swapped
under them), decisions made mid-sync are kept (state.sqlite in WAL mode; no "database is locked"), and a decision
the running sync did not read applies at the next one."""
from __future__ import annotations

import re
import threading
import time

from steward.store import decisions
from tests.steward.data_demo import fresh_copy, open_conflicts, sync, table
from tests.steward.support import add_users, console, login, post
from tests.test_crash import _log, _start_sync
from warehouse.files import PAUSE_AT, PAUSE_MARKER

WAIT_S = 120


def _wait_for(path, proc, root) -> None:
    end = time.monotonic() + WAIT_S
    while not path.exists():
        assert proc.poll() is None, f"the sync ended before its pause point:\n{_log(root, 'paused')}"
        assert time.monotonic() < end, "the sync did not reach its pause point"
        time.sleep(0.05)


def test_pages_answer_and_decisions_are_kept_while_a_sync_runs(tmp_path):
    root = tmp_path / "demo"
    config = fresh_copy(root)
    app = console(root / "gridbridge.yaml")
    add_users(app, ("ann", "steward", []), ("bob", "steward", []))
    truth = open_conflicts(config)
    cid = truth["conflict_id"].iloc[0]
    grid_value = truth["grid_value"].iloc[0]
    seq_before = int(table(config, "SELECT max(run_seq) FROM publish_history").iloc[0, 0])

    answers: list[tuple[str, int]] = []
    seen: set[int] = set()                # the published run each queue page showed
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():                         # another steward browsing the queue and a conflict all along
        c = app.test_client()
        login(c, "bob")
        try:
            while not stop.is_set():
                for url in ("/conflicts", f"/conflicts/{cid}", "/reviews", "/"):
                    resp = c.get(url)
                    answers.append((url, resp.status_code))
                    if url == "/conflicts":
                        seen.add(int(re.search(r"第 (\d+) 次发布", resp.get_data(as_text=True)).group(1)))
        except BaseException as e:        # noqa: BLE001  reported below: any exception is a failure
            errors.append(e)
    thread = threading.Thread(target=reader, daemon=True)
    thread.start()

    marker = tmp_path / "paused"
    proc = _start_sync(root, "paused", {PAUSE_AT: "publish_build", PAUSE_MARKER: str(marker)})
    try:
        _wait_for(marker, proc, root)     # the new warehouse is built, not yet renamed in
        ann = app.test_client()
        login(ann, "ann")
        resp = post(ann, f"/conflicts/{cid}/decide", {"action": "take_grid", "reason": "同步进行中决定"})
        assert resp.status_code == 302
        marker.unlink()                   # let the sync go on: it swaps the file in under the reader
        assert proc.wait(timeout=WAIT_S) == 0, _log(root, "paused")
    finally:
        if proc.poll() is None:
            proc.kill()
        end = time.monotonic() + 10
        while seq_before + 1 not in seen and time.monotonic() < end and not errors:
            time.sleep(0.05)
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert len(answers) >= 8 and {s for _, s in answers} == {200}, [a for a in answers if a[1] != 200]
    assert int(table(config, "SELECT max(run_seq) FROM publish_history").iloc[0, 0]) == seq_before + 1
    assert seen == {seq_before, seq_before + 1}, "the reader saw the old warehouse and then the new one"

    made = decisions(config)
    assert list(zip(made["target"], made["value"], made["decided_by"])) == [(cid, grid_value, "ann")]
    # the sync that was running had read the decisions before this one: it applies at the next sync
    page = ann.get(f"/conflicts/{cid}").get_data(as_text=True)
    assert "已决定，下次同步生效" in re.search(r'id="state"[^>]*>([^<]+)<', page).group(1)
    sync(root / "gridbridge.yaml")
    row = table(config, "SELECT status, chosen_value, resolved_by FROM person_conflict WHERE conflict_id = ?", [cid])
    if row.empty:
        row = table(config, "SELECT status, chosen_value, resolved_by FROM house_conflict WHERE conflict_id = ?", [cid])
    assert tuple(row.iloc[0]) == ("resolved", grid_value, "ann")
