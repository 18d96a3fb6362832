"""Fault hook for the crash tests: stop a sync at a named stage so a test can kill it there.

`pause_point("publish_build")` does nothing unless the environment says `GRIDBRIDGE_PAUSE_AT=publish_build`;
then it writes the stage name into the file `GRIDBRIDGE_PAUSE_MARKER` (the test waits for it) and sleeps
until the test kills the process (at most `PAUSE_SECONDS`, after which the run simply goes on).
Stages: extract, standardise, match, publish_build (the new warehouse file is complete, not yet renamed in),
publish_swapped (renamed in, the run log not yet told).
"""
from __future__ import annotations

import os
import time

PAUSE_AT = "GRIDBRIDGE_PAUSE_AT"
PAUSE_MARKER = "GRIDBRIDGE_PAUSE_MARKER"
PAUSE_SECONDS = 60.0


def pause_point(stage: str) -> None:
    if os.environ.get(PAUSE_AT) != stage:
        return
    marker = os.environ.get(PAUSE_MARKER)
    if marker:
        tmp = f"{marker}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{stage} {os.getpid()}\n")
        os.replace(tmp, marker)  # the test sees the marker whole or not at all
    time.sleep(PAUSE_SECONDS)
