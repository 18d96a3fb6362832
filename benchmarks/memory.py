"""Peak memory of this process, for benchmarks that run each engine or stage in a child process.

`resource.getrusage(RUSAGE_SELF).ru_maxrss` is no good there: Linux carries it across fork and exec, so a child
reports at least the parent's peak at the moment it was started (seen here: a fresh interpreter started by an
800 MB parent reports 813 MB). `VmHWM` in /proc/self/status belongs to the process's own address space and
starts afresh at exec.
"""
from __future__ import annotations

import resource


def peak_mb() -> float:
    """Peak resident memory of this process's own address space, in MB (ru_maxrss where /proc is absent)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
