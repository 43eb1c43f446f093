"""Peak resident memory of a block of code, sampled from /proc/self/statm (Linux).

``ru_maxrss`` is a high-water mark for the whole process: once one test has used 2 GB, no
later test can show its own cost with it. This samples the current RSS every few
milliseconds while the block runs and reports the peak above its start.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss() -> int:
    """Resident set size now, in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return 0


class Peak:
    extra_bytes: int = 0
    seconds: float = 0.0

    @property
    def extra_mb(self) -> float:
        return self.extra_bytes / (1 << 20)


@contextmanager
def peak_rss(interval: float = 0.003):
    """``with peak_rss() as peak: ...`` then ``peak.extra_mb`` / ``peak.seconds``."""
    peak, start, top = Peak(), current_rss(), [0]
    top[0] = start
    done = threading.Event()

    def sample():
        while not done.is_set():
            top[0] = max(top[0], current_rss())
            done.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    t0 = time.perf_counter()
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()
        top[0] = max(top[0], current_rss())
        peak.seconds = time.perf_counter() - t0
        peak.extra_bytes = max(0, top[0] - start)
