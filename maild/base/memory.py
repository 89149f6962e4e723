"""Giving memory back: large blocks straight from and back to the system.

glibc's malloc serves a block over its mmap threshold (128 KB) with its own mapping and unmaps
it when freed, but then raises the threshold to that block's size (up to 32 MB): after the first
24 MB message, every later one was carved out of the heap instead, and a heap does not shrink
past what is still in use above it. The daemon kept 150 MB it no longer needed, and its peak
grew with it. Fixing the threshold at 1 MB turns that adjustment off: a message's bytes, its
parse and its database copies are returned to the system as soon as they are freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 1024 * 1024


def return_large_blocks(threshold: int = MMAP_THRESHOLD) -> bool:
    """Ask the C library to map blocks of ``threshold`` bytes and more on their own, for good;
    True when it agreed. Elsewhere than glibc (musl, macOS) nothing is done."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, threshold))
    if not done:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; large blocks may stay in the heap")
    return done
