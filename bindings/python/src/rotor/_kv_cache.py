"""One sequence's rotated keys and values (rotor_kv_cache), for Table.attention."""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from ._arrays import aligned_buffer, byte_buffer, rotor_dtype, u32
from ._errors import RotorError, Status, check
from ._handle import Handle
from ._library import library
from ._pool import Pool, pool_handle

if TYPE_CHECKING:  # a cache only names its table in annotations; _table imports this module
    from ._table import Table


class KVCache(Handle):
    """One sequence's rotated keys and values (rotor_kv_cache) for Table.attention, with a hard
    maximum length. Its arena is the caller's (arena=, 64-byte aligned, KVCache.arena_size(...)
    bytes) or one this object allocates once. dtype: storage type (float32, float16, bfloat16)."""

    _what = "KV cache"

    def __init__(self, kv_heads: int, head_dim: int, max_len: int, dtype: Any = np.float32, *, arena: Any = None):
        need = KVCache.arena_size(kv_heads, head_dim, max_len, dtype)
        address, size, self._arena = byte_buffer(aligned_buffer(need) if arena is None else arena, "arena",
                                                 "rotor_kv_cache_init", need)
        handle = ctypes.c_void_p()
        check(library().rotor_kv_cache_init(ctypes.byref(handle), int(kv_heads), int(head_dim), int(max_len),
                                            rotor_dtype(dtype), address, size), "rotor_kv_cache_init")
        self._handle = handle.value
        self.kv_heads, self.head_dim, self.max_len = int(kv_heads), int(head_dim), int(max_len)

    @staticmethod
    def arena_size(kv_heads: int, head_dim: int, max_len: int, dtype: Any = np.float32) -> int:
        """Bytes of an arena for such a cache (rotor_kv_cache_arena_size)."""
        size = library().rotor_kv_cache_arena_size(u32(kv_heads, "kv_heads"), u32(head_dim, "head_dim"),
                                                   u32(max_len, "max_len"), rotor_dtype(dtype))
        if size == 0:
            raise RotorError(Status.INVALID_ARGUMENT, "rotor_kv_cache_arena_size",
                             "a count is zero or max_len is past 2**31 - 1")
        return size

    def __len__(self) -> int:
        length = ctypes.c_uint32()
        check(library().rotor_kv_cache_get_length(self.handle, ctypes.byref(length)), "rotor_kv_cache_get_length")
        return length.value

    def reset(self) -> None:
        """Empties the cache for a new sequence."""
        check(library().rotor_kv_cache_reset(self.handle), "rotor_kv_cache_reset")

    def evict(self, table: "Table", start: int, count: int, pool: Optional[Pool] = None) -> None:
        """Context shift (rotor_kv_cache_evict): removes cached tokens [start, start + count) and
        moves the later ones down by count, each moved key rotated from position p to p - count
        (exactly, in double, rounded once to the cache's dtype), so token i is again at position
        i. table: the one the cache is used with (only its config is read). RotorError
        OUT_OF_RANGE when start + count exceeds len(self); nothing changes on error."""
        check(library().rotor_kv_cache_evict(table.handle, self.handle, u32(start, "start"), u32(count, "count"),
                                             pool_handle(pool)), "rotor_kv_cache_evict")

    def keep_sink_and_window(self, table: "Table", sink: int, window: int, pool: Optional[Pool] = None) -> int:
        """StreamingLLM: when more than sink + window tokens are held, keeps the first sink
        (attention sinks) and the last window, evicting the middle. Returns how many were evicted."""
        length = len(self)
        if length <= int(sink) + int(window):
            return 0
        count = length - int(sink) - int(window)
        self.evict(table, int(sink), count, pool)
        return count

    @property
    def epoch(self) -> int:
        """The epoch of the rows its keys carry."""
        value = ctypes.c_uint64()
        check(library().rotor_kv_cache_epoch(self.handle, ctypes.byref(value)), "rotor_kv_cache_epoch")
        return value.value

    @property
    def rerotations(self) -> int:
        """Times its keys were re-rotated to new rows."""
        value = ctypes.c_uint64()
        check(library().rotor_kv_cache_rerotations(self.handle, ctypes.byref(value)), "rotor_kv_cache_rerotations")
        return value.value
