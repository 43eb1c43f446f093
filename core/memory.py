"""Process memory housekeeping.

Building a backend leaves most of what it allocated freed but still resident: ONNX Runtime
reads the graph file (85 MB for ResNet34), parses it, copies and pre-packs the initializers,
then frees the intermediate copies. glibc keeps those pages (its heap cannot shrink past a
chunk still in use), so ``cnsight-predict`` ran its whole loop ~150 MB above what it used, and
at interpreter exit, when the CUDA build of torch's libraries fault in ~170 MB of their own
pages in their destructors, that idle heap was sometimes still there: the peak then jumped
by ~135 MB whatever the number of images (issue 10 item 4; docs/performance.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(f"cnsight.{__name__}")


def release_freed_heap() -> bool:
    """Hand the C heap's free pages back to the OS (glibc ``malloc_trim(0)``); call it once
    after a large, short-lived allocation such as building a backend, not per image. Returns
    False where there is no glibc (macOS, Windows, musl): nothing to do there."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # musl has no malloc_trim
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
