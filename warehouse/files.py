"""Files on disk: owner-only modes for personal data, and the crash tests' pause hook. Standard library only, so
the warehouse layer (and `gridbridge status`) loads neither the connectors nor pyarrow.

Personal data on disk is owner-only from the first byte: `private_dir` creates a folder 0700 (and tightens an
existing one), `owner_only()` sets the umask to 077 while files are created (a context manager and a
decorator), so no file or folder is ever readable by others, not even for a moment.

`pause_point("publish_build")` does nothing unless the environment says `GRIDBRIDGE_PAUSE_AT=publish_build`;
then it writes the stage name into the file `GRIDBRIDGE_PAUSE_MARKER` (the test waits for it) and sleeps
until the test kills the process or deletes the marker (at most `PAUSE_SECONDS`, after which the run simply goes
on).
Stages: extract, standardise, match, publish_build (the new warehouse file is complete, not yet renamed in),
publish_swapped (renamed in, the run log not yet told).
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_umask_lock = threading.Lock()
_umask_depth = 0
_umask_saved = 0


@contextlib.contextmanager
def owner_only() -> Iterator[None]:
    """Files and folders created inside are owner-only (umask 077). Nests, and works across threads: the
    process umask is restored when the outermost user leaves."""
    global _umask_depth, _umask_saved
    with _umask_lock:
        if _umask_depth == 0:
            _umask_saved = os.umask(0o077)
        _umask_depth += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_depth -= 1
            if _umask_depth == 0:
                os.umask(_umask_saved)


def private_dir(path: Path) -> Path:
    """`path` as an owner-only (0700) folder: created so (parents as usual), an existing one tightened."""
    path = Path(path)
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


# ---- the crash tests' pause hook --------------------------------------------------------------------------------

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
    end = time.monotonic() + PAUSE_SECONDS
    while time.monotonic() < end and (not marker or os.path.exists(marker)):
        time.sleep(0.05)     # a test that deletes the marker lets the run go on
