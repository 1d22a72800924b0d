"""Persistent worker threads (rotor_pool)."""
from __future__ import annotations

import ctypes
from typing import Optional

from ._arrays import u32
from ._errors import check
from ._handle import Handle
from ._library import library


class Pool(Handle):
    """Persistent worker threads (rotor_pool): pass pool= to spread a call over `threads`
    threads in total (the caller's included). One call at a time runs on a pool."""

    _what = "pool"

    def __init__(self, threads: int):
        handle = ctypes.c_void_p()
        check(library().rotor_pool_create(ctypes.byref(handle), u32(threads, "threads")), "rotor_pool_create")
        self._handle = handle.value
        self.threads = int(threads)

    def _release(self, handle: int) -> None:
        library().rotor_pool_destroy(handle)


def pool_handle(pool: Optional[Pool]) -> Optional[int]:
    """The C pointer of pool= (None: the calling thread alone)."""
    return None if pool is None else pool.handle


def pool_threads(pool: Optional[Pool]) -> int:
    """Threads a call on pool= runs on (workspace sizes depend on it)."""
    return 1 if pool is None else pool.threads
