"""One sequence's keys and values (rotor_kv_cache), for Table.attention: float or ggml-quantized
storage (Q8_0, Q4_0), keys rotated on append or un-rotated and rotated at read."""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from . import _capi
from ._arrays import aligned_buffer, byte_buffer, rotor_dtype, u32
from ._enums import CACHE_DTYPE, CACHE_DTYPE_NAME, QUANTIZED_DTYPE
from ._errors import RotorError, Status, check
from ._handle import Handle
from ._library import library
from ._pool import Pool, pool_handle

if TYPE_CHECKING:  # a cache only names its table in annotations; _table imports this module
    from ._table import Table

def cache_dtype(dtype: Any, what: str = "dtype") -> int:
    """The rotor_dtype of a cache's storage type: a name of _enums.CACHE_DTYPE ("q8_0", "q4_0",
    "float16", "bf16", ...; any case) or a numpy or torch float dtype, as arrays take them."""
    if isinstance(dtype, str) and dtype.lower() in CACHE_DTYPE:
        return CACHE_DTYPE[dtype.lower()]
    try:
        return rotor_dtype(dtype)
    except TypeError:
        if isinstance(dtype, str):  # a misspelt name is a bad value, as enum names are (ValueError)
            raise ValueError(f"unknown {what} {dtype!r}; one of {sorted(CACHE_DTYPE)} or a numpy float32, "
                             f"float16 or bfloat16 dtype") from None
        raise


def cache_config(dtype: Any, key_dtype: Any, value_dtype: Any, unrotated_keys: bool) -> _capi.rotor_kv_cache_config:
    """The rotor_kv_cache_config of KVCache's arguments: dtype serves keys and values unless
    key_dtype or value_dtype names another type."""
    config = _capi.rotor_kv_cache_config()
    check(library().rotor_kv_cache_config_init_sized(ctypes.byref(config), ctypes.sizeof(config),
                                                     cache_dtype(dtype)), "rotor_kv_cache_config_init_sized")
    if key_dtype is not None:
        config.key_dtype = cache_dtype(key_dtype, "key_dtype")
    if value_dtype is not None:
        config.value_dtype = cache_dtype(value_dtype, "value_dtype")
    config.flags = _capi.KV_UNROTATED_KEYS if unrotated_keys else 0
    return config


class KVCache(Handle):
    """One sequence's keys and values (rotor_kv_cache) for Table.attention, with a hard maximum
    length. Its arena is the caller's (arena=, 64-byte aligned, KVCache.arena_size(...) bytes,
    with the same type arguments) or one this object allocates once.

    dtype: the storage type of keys and values: float32, float16 or bfloat16 (a numpy or torch
    dtype, or its name), or "q8_0" / "q4_0", ggml's 32-element block quantizations (8 or 4 bits
    and an f16 scale per block; head_dim a multiple of 32, at most 1024). key_dtype and
    value_dtype choose either one apart (e.g. dtype="q4_0", key_dtype="q8_0"). Each appended
    token is rounded or quantized once; attention reads the dequantized numbers.

    unrotated_keys: keys are stored as they come and rotated at each read (a rotation per key
    read); a context shift (evict) then moves them without rounding anything: the cache holds
    what a fresh prefill of the kept tokens holds, however many shifts. Table.attention with
    positions= (rotor_attention_forward_axes) refuses such a cache."""

    _what = "KV cache"

    def __init__(self, kv_heads: int, head_dim: int, max_len: int, dtype: Any = np.float32, *,
                 key_dtype: Any = None, value_dtype: Any = None, unrotated_keys: bool = False, arena: Any = None):
        config = cache_config(dtype, key_dtype, value_dtype, unrotated_keys)
        need = KVCache._arena_size(kv_heads, head_dim, max_len, config)
        address, size, self._arena = byte_buffer(aligned_buffer(need) if arena is None else arena, "arena",
                                                 "rotor_kv_cache_init_ex", need)
        handle = ctypes.c_void_p()
        check(library().rotor_kv_cache_init_ex(ctypes.byref(handle), int(kv_heads), int(head_dim), int(max_len),
                                               ctypes.byref(config), address, size), "rotor_kv_cache_init_ex")
        self._handle = handle.value
        self.kv_heads, self.head_dim, self.max_len = int(kv_heads), int(head_dim), int(max_len)

    @staticmethod
    def arena_size(kv_heads: int, head_dim: int, max_len: int, dtype: Any = np.float32, *, key_dtype: Any = None,
                   value_dtype: Any = None, unrotated_keys: bool = False) -> int:
        """Bytes of an arena for such a cache (rotor_kv_cache_arena_size_ex), the type arguments
        as KVCache's. At head_dim 128, per token and kv head: float16 256 bytes, q8_0 136, q4_0 72."""
        return KVCache._arena_size(kv_heads, head_dim, max_len,
                                   cache_config(dtype, key_dtype, value_dtype, unrotated_keys))

    @staticmethod
    def _arena_size(kv_heads: int, head_dim: int, max_len: int, config: _capi.rotor_kv_cache_config) -> int:
        size = library().rotor_kv_cache_arena_size_ex(u32(kv_heads, "kv_heads"), u32(head_dim, "head_dim"),
                                                      u32(max_len, "max_len"), ctypes.byref(config))
        if size == 0:
            if {config.key_dtype, config.value_dtype} & set(QUANTIZED_DTYPE.values()) and (
                    int(head_dim) % 32 or int(head_dim) > _capi.KV_MAX_QUANTIZED_HEAD_DIM):
                detail = (f"q8_0 and q4_0 need head_dim a multiple of 32 and at most "
                          f"{_capi.KV_MAX_QUANTIZED_HEAD_DIM}, not {int(head_dim)}")
            else:
                detail = "a count is zero, max_len is past 2**31 - 1, or the size does not fit"
            raise RotorError(Status.INVALID_ARGUMENT, "rotor_kv_cache_arena_size_ex", detail)
        return size

    def _config(self) -> _capi.rotor_kv_cache_config:
        config = _capi.rotor_kv_cache_config()
        config.struct_size = ctypes.sizeof(config)
        check(library().rotor_kv_cache_get_config(self.handle, ctypes.byref(config)), "rotor_kv_cache_get_config")
        return config

    @property
    def key_dtype(self) -> str:
        """Storage type of the keys, by name: "float32", "float16", "bfloat16", "q8_0" or "q4_0"."""
        value = self._config().key_dtype
        return CACHE_DTYPE_NAME.get(value, str(value))

    @property
    def value_dtype(self) -> str:
        """Storage type of the values, named as key_dtype."""
        value = self._config().value_dtype
        return CACHE_DTYPE_NAME.get(value, str(value))

    @property
    def unrotated_keys(self) -> bool:
        """Whether keys are stored un-rotated and rotated at each read (ROTOR_KV_UNROTATED_KEYS)."""
        return bool(self._config().flags & _capi.KV_UNROTATED_KEYS)

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
        (exactly, in double, rounded once to the cache's dtype; q8_0 and q4_0 keys are quantized
        again, one rounding to their grid per shift), so token i is again at position i. Keys of
        an unrotated_keys cache are only moved: no rounding, a fresh prefill's bytes. table: the
        one the cache is used with (only its config is read). RotorError OUT_OF_RANGE when
        start + count exceeds len(self); nothing changes on error."""
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
