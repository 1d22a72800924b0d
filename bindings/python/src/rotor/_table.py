"""Tables of cos/sin rows (rotor_table) and everything applied through one: rotation in place
or out of place, multi-axis ids, attention over KV caches, key re-rotation, events."""
from __future__ import annotations

import ctypes
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _capi
from ._arrays import (Array, Positions, aligned_buffer, axes_positions, byte_buffer, dense, dtype_name,
                      like, positions as int32_positions, require_match, rotor_dtype, u32, view,
                      with_positive_strides)
from ._config import config_dict, make_config
from ._enums import AXES, LAYOUT, POLICY, REASON, direction, enum_value
from ._errors import RotorError, Status, check
from ._handle import Handle
from ._kv_cache import KVCache
from ._library import library
from ._pool import Pool, pool_handle, pool_threads
from ._workspace import attention_workspace_size, rerotate_workspace_size


class Event:
    """A table's growth or rescale: reason ("grow", "grow_ahead", "reserve", "rescale"),
    old_rows, new_rows, old_factor, new_factor."""

    __slots__ = ("reason", "old_rows", "new_rows", "old_factor", "new_factor")

    def __init__(self, e: _capi.rotor_table_event):
        self.reason = REASON.get(e.reason, str(e.reason))
        self.old_rows, self.new_rows, self.old_factor, self.new_factor = e.old_rows, e.new_rows, e.old_factor, e.new_factor

    def __repr__(self) -> str:
        return (f"Event({self.reason}, rows {self.old_rows} -> {self.new_rows}, "
                f"factor {self.old_factor} -> {self.new_factor})")


class Table(Handle):
    """cos/sin rows for positions 0 .. max_len-1 (rotor_table), computed as needed, shared by
    any number of threads.

    Table(rotary_dim, **fields) starts from rotor_config_init_sized's defaults and sets any
    rotor_config field by name (enums as strings: pairing="interleaved", scaling="yarn",
    growth="exact", layout="mrope"; mrope_section as (t, h, w) pair counts; long_factor/short_factor
    as rotary_dim/2 floats). preset="llama-3.1-8b"
    starts from rotor_config_preset_sized instead (rotary_dim then from the preset unless given;
    a LongRoPE preset's factor arrays fit its own rotary_dim only: another one needs
    long_factor= and short_factor= of its length, else RotorError INVALID_ARGUMENT).
    arena=buffer builds the table inside the caller's memory (rotor_table_init: 64-byte
    aligned, at least Table.arena_size(...) bytes; see aligned_buffer): the library then never
    allocates, and the table keeps a reference to the buffer.
    """

    _what = "table"

    def __init__(self, rotary_dim: Optional[int] = None, *, preset: Optional[str] = None, arena: Any = None,
                 **fields: Any):
        cfg, keep_alive = make_config(rotary_dim, preset, fields)
        lib = library()
        handle = ctypes.c_void_p()
        if arena is None:
            check(lib.rotor_table_create(ctypes.byref(handle), ctypes.byref(cfg)), "rotor_table_create")
            self._arena = None
        else:
            # 0 for an invalid config: rotor_table_init then says what is wrong with it.
            need = lib.rotor_table_arena_size(ctypes.byref(cfg))
            address, size, self._arena = byte_buffer(arena, "arena", "rotor_table_init", need)
            check(lib.rotor_table_init(ctypes.byref(handle), ctypes.byref(cfg), address, size), "rotor_table_init")
        self._handle = handle.value
        self._cfg, self._factors = cfg, keep_alive  # attention_scale reads the config (and its arrays) again
        self._callback = None
        self.rotary_dim: int = cfg.rotary_dim
        self.pairing: str = "interleaved" if cfg.pairing == _capi.ROTOR_PAIRING_INTERLEAVED else "half"
        #: The rope layout ("1d", "mrope", "mrope_interleaved", "vision_halves", "vision_alternate").
        self.layout: str = {value: name for name, value in LAYOUT.items()}[cfg.layout]
        #: Position ids per token apply_axes and friends take: 1, 3 (M-RoPE) or 2 (vision).
        self.axes: int = AXES[cfg.layout]
        #: The rotor_config fields the table was made with (factor arrays left out).
        self.config: Dict[str, Any] = config_dict(cfg)

    def _release(self, handle: int) -> None:
        library().rotor_table_destroy(handle)

    @classmethod
    def from_gguf(cls, source: Any, layer: int = 0, **overrides: Any) -> "Table":
        """(1.3) The table of one layer of the model in a GGUF file (a path, or the file's bytes):
        rotor_config_from_gguf_sized, then any field overridden by name (max_len=8192). RotorError
        NO_ROTARY for a layer without rotary embedding; rotor.from_gguf gives the fields."""
        from ._gguf import table_from_gguf
        return table_from_gguf(cls, source, layer, **overrides)

    @staticmethod
    def arena_size(rotary_dim: Optional[int] = None, *, preset: Optional[str] = None, **fields: Any) -> int:
        """Bytes an arena for Table(..., arena=) must have (rotor_table_arena_size)."""
        cfg, keep_alive = make_config(rotary_dim, preset, fields)
        size = library().rotor_table_arena_size(ctypes.byref(cfg))
        if size == 0:
            raise RotorError(Status.INVALID_ARGUMENT, "rotor_table_arena_size",
                             "the config is invalid (Table() with the same arguments says why)")
        return size

    def attention_scale(self, head_dim: int) -> float:
        """The softmax scale this table's config implies for heads of head_dim dims."""
        scale = ctypes.c_float()
        check(library().rotor_attention_scale(ctypes.byref(self._cfg), u32(head_dim, "head_dim"),
                                              ctypes.byref(scale)), "rotor_attention_scale")
        return scale.value

    def reserve(self, positions: int) -> None:
        """Makes rows [0, positions) ready now (RotorError OUT_OF_RANGE past max_len)."""
        check(library().rotor_table_reserve(self.handle, u32(positions, "positions")), "rotor_table_reserve")

    def stats(self) -> Dict[str, Any]:
        """rotor_table_stats as a dict: rows, max_len, bytes_in_use, arena_bytes, grow_events,
        rescale_events, factor, attention_factor, epoch, key_rerotations."""
        stats = _capi.rotor_table_stats()
        stats.struct_size = ctypes.sizeof(stats)
        check(library().rotor_table_stats_get(self.handle, ctypes.byref(stats)), "rotor_table_stats_get")
        return {name: getattr(stats, name) for name, _ in stats._fields_ if name not in ("struct_size", "reserved_0")}

    @property
    def epoch(self) -> int:
        """Rescales adopted so far (rotor_table_epoch)."""
        value = ctypes.c_uint64()
        check(library().rotor_table_epoch(self.handle, ctypes.byref(value)), "rotor_table_epoch")
        return value.value

    def set_rescale_policy(self, policy: Union[str, int]) -> None:
        """"rerotate" (default), "pin" or "refuse": what attention() does when cached keys
        carry rows the table no longer uses."""
        check(library().rotor_table_set_rescale_policy(self.handle, enum_value(POLICY, policy, "policy")),
              "rotor_table_set_rescale_policy")

    def on_event(self, callback: Optional[Callable[[Event], None]]) -> None:
        """Calls callback(Event) on each growth or rescale (None removes it). It runs on the
        thread that grew the table (a pool worker too), holding the table's growth lock: it must
        not apply, reserve or read cos/sin of this table. Exceptions in it are printed by ctypes
        and otherwise ignored. Not to be changed while other threads use the table."""
        trampoline = None
        if callback is not None:
            def trampoline_fn(_user: Any, event: Any) -> None:
                callback(Event(event.contents))
            trampoline = _capi.rotor_table_event_fn(trampoline_fn)
        check(library().rotor_table_set_event_callback(self.handle, trampoline or _capi.rotor_table_event_fn(),
                                                       None), "rotor_table_set_event_callback")
        self._callback = trampoline  # kept alive while registered

    def cos_sin(self, start: int, count: int, dtype: Any = None, duplicated: bool = False,
                out: Optional[Tuple[Array, Array]] = None) -> Tuple[Array, Array]:
        """cos and sin of positions [start, start + count): [count, r/2] each, or [count, r]
        (Hugging Face's cat(freqs, freqs)) with duplicated=True; float32 (the default), float16
        or bfloat16 (uint16 bits). out=(cos, sin) writes into writable C-contiguous arrays of
        that shape and one dtype instead (dtype, if given, must be theirs)."""
        start, count = u32(start, "start"), u32(count, "count")
        width = self.rotary_dim if duplicated else self.rotary_dim // 2
        if dtype is not None:
            rotor_dtype(dtype)  # rotor's TypeError, before numpy's, for a type no array holds ("q8_0")
        if out is None:
            cos = np.empty((count, width), dtype=np.float32 if dtype is None else dtype)
            sin = np.empty((count, width), dtype=cos.dtype)
        else:
            cos, sin = out
        # C is told one dtype and two bare pointers: each array is checked on its own here.
        cos_address, cos_type = dense(cos, "cos", (count, width))
        sin_address, sin_type = dense(sin, "sin", (count, width))
        if sin_type != cos_type:
            raise ValueError(f"cos and sin must share one dtype: {dtype_name(cos_type)} and {dtype_name(sin_type)}")
        if dtype is not None and rotor_dtype(dtype) != cos_type:
            raise ValueError(f"dtype {dtype_name(rotor_dtype(dtype))} differs from the outputs' {dtype_name(cos_type)}")
        check(library().rotor_table_cos_sin(self.handle, start, count, cos_type, int(bool(duplicated)), cos_address,
                                            sin_address), "rotor_table_cos_sin")
        return cos, sin

    def apply(self, x: Array, positions: Positions = None, offset: int = 0, *, inverse: bool = False,
              layout: str = "bshd", pool: Optional[Pool] = None) -> Array:
        """Rotates x in place (rotor_apply) and returns it. positions: [batch, seq] or [seq]
        integers, or None for offset + s. Any numpy strides (negative ones included) as long
        as each head's head_dim elements are contiguous."""
        (flat,), positions, offset, _ = with_positive_strides([x], layout, positions, offset)
        x_view = view(flat, layout)
        _, pos = int32_positions(positions, x_view.batch, x_view.seq)
        check(library().rotor_apply(self.handle, ctypes.byref(x_view), pos, u32(offset, "offset"), direction(inverse),
                                    pool_handle(pool)), "rotor_apply")
        return x

    def apply_qk(self, q: Array, k: Array, positions: Positions = None, offset: int = 0, *, inverse: bool = False,
                 layout: str = "bshd", pool: Optional[Pool] = None) -> Tuple[Array, Array]:
        """Rotates q and k in place in one pass (heads may differ: grouped-query attention);
        q and k may be slices of one fused QKV buffer. Returns (q, k)."""
        (q_flat, k_flat), positions, offset, _ = with_positive_strides([q, k], layout, positions, offset)
        q_view, k_view = self._qk_views(q_flat, k_flat, layout)
        _, pos = int32_positions(positions, q_view.batch, q_view.seq)
        check(library().rotor_apply_qk(self.handle, ctypes.byref(q_view), ctypes.byref(k_view), pos,
                                       u32(offset, "offset"), direction(inverse), pool_handle(pool)), "rotor_apply_qk")
        return q, k

    @staticmethod
    def _qk_views(q: Array, k: Array, layout: str) -> Tuple[_capi.rotor_tensor, _capi.rotor_tensor]:
        """Writable views of q and k, which share batch and seq (one position per token). Their
        dtypes may differ: each view carries its own, and C rotates each in it."""
        q_view, k_view = view(q, layout, "q"), view(k, layout, "k")
        require_match(q_view, "q", k_view, "k", ("batch", "seq"))
        return q_view, k_view

    def _ids(self, positions: Any, batch: int, seq: int) -> Tuple[Any, Any]:
        """(array kept alive, int32 pointer) of this table's axis ids for batch x seq tokens."""
        return axes_positions(positions, self.axes, batch, seq, self.layout)

    def apply_axes(self, x: Array, positions: Any, *, inverse: bool = False, layout: str = "bshd",
                   pool: Optional[Pool] = None) -> Array:
        """Rotates x in place by one id per axis and token (rotor_apply_axes) and returns it.
        positions: integers of shape (axes, batch, seq) or (axes, batch*seq), axes = self.axes:
        (t, h, w) for M-RoPE, (row, column) for vision layouts, 1 for a 1-D table (then it equals
        apply with those positions). A token whose ids are all equal gets the table's row: bit
        for bit 1-D RoPE. The caller computes the ids (Qwen2-VL: the model's get_rope_index).
        layout is the memory order of x ("bshd" or "bhsd"), not the rope layout."""
        x_view = view(x, layout)
        _, pos = self._ids(positions, x_view.batch, x_view.seq)
        check(library().rotor_apply_axes(self.handle, ctypes.byref(x_view), pos, direction(inverse),
                                         pool_handle(pool)), "rotor_apply_axes")
        return x

    def apply_qk_axes(self, q: Array, k: Array, positions: Any, *, inverse: bool = False, layout: str = "bshd",
                      pool: Optional[Pool] = None) -> Tuple[Array, Array]:
        """apply_axes on q and k together (rotor_apply_qk_axes): they share batch, seq and ids
        (heads may differ). Returns (q, k)."""
        q_view, k_view = self._qk_views(q, k, layout)
        _, pos = self._ids(positions, q_view.batch, q_view.seq)
        check(library().rotor_apply_qk_axes(self.handle, ctypes.byref(q_view), ctypes.byref(k_view), pos,
                                            direction(inverse), pool_handle(pool)), "rotor_apply_qk_axes")
        return q, k

    def apply_to(self, x: Array, out: Optional[Array] = None, positions: Positions = None, offset: int = 0, *,
                 inverse: bool = False, layout: str = "bshd", pool: Optional[Pool] = None) -> Array:
        """Rotates x into out (rotor_apply_to; a new array when out is None) and returns out.
        out must have x's shape and dtype and be writable; dims past rotary_dim are copied.
        x itself is not modified (unless out is x) and may be read-only."""
        if out is None:
            # A new array laid out like x turned around, returned turned back: result[i] is x[i]'s.
            (x_flat,), positions, offset, turned = with_positive_strides([x], layout, positions, offset)
            out_flat = like(x_flat)
            result = np.flip(out_flat, turned) if turned else out_flat
        else:
            result = out
            (x_flat, out_flat), positions, offset, _ = with_positive_strides([x, out], layout, positions, offset)
        x_view, out_view = view(x_flat, layout, "x", writable=False), view(out_flat, layout, "out")
        require_match(x_view, "x", out_view, "out")
        _, pos = int32_positions(positions, x_view.batch, x_view.seq)
        check(library().rotor_apply_to(self.handle, ctypes.byref(x_view), ctypes.byref(out_view), pos,
                                       u32(offset, "offset"), direction(inverse), pool_handle(pool)), "rotor_apply_to")
        return result

    def attention(self, q: Array, k: Array, v: Array, caches: Sequence[KVCache], *, out: Optional[Array] = None,
                  positions: Any = None, scale: Optional[float] = None, workspace: Any = None,
                  pool: Optional[Pool] = None) -> Array:
        """Rotary attention with KV caches (rotor_attention_forward): for each batch entry b,
        rotates its s new queries and keys at positions len(caches[b]) .., appends keys and
        values to caches[b], and returns causal softmax(q k^T * scale) v ([batch, s, q_heads, d],
        into out if given: q's shape and dtype, writable). q: [batch, s, q_heads, d]; k, v:
        [batch, s, kv_heads, d], bshd, one dtype. scale defaults to attention_scale(d).
        workspace: an aligned_buffer of at least attention_workspace_size(...) bytes to reuse
        across calls (else one is made per call).

        positions (rotor_attention_forward_axes): the new tokens' ids, shape (axes, batch, s) or
        (axes, batch*s) as in apply_axes (M-RoPE ids of a VL model; for a 1-D table each token's
        own position instead of len(caches[b]) + i). The cache index still orders the tokens
        (the causal mask); cached keys keep the rotation they were stored with. Tables whose rows
        change (ntk, dynamic_ntk, longrope) are refused there (INVALID_ARGUMENT)."""
        q_view, k_view, v_view = (view(a, "bshd", name, writable=False) for a, name in ((q, "q"), (k, "k"), (v, "v")))
        require_match(k_view, "k", v_view, "v")
        require_match(q_view, "q", k_view, "k", ("dtype", "batch", "seq", "head_dim"))
        result = like(q) if out is None else out
        out_view = view(result, "bshd", "out")
        require_match(q_view, "q", out_view, "out")
        if len(caches) != q_view.batch:
            raise ValueError(f"{len(caches)} caches for a batch of {q_view.batch}")
        for cache in caches:
            if not isinstance(cache, KVCache):
                raise TypeError(f"caches must be KVCache objects, not {type(cache).__name__}")
            if (cache.kv_heads, cache.head_dim) != (k_view.heads, k_view.head_dim):
                raise ValueError(f"a cache of {cache.kv_heads} kv heads of {cache.head_dim} dims cannot hold k's "
                                 f"{k_view.heads} heads of {k_view.head_dim}")
        if scale is None:
            scale = self.attention_scale(q_view.head_dim)
        call = "rotor_attention_forward" if positions is None else "rotor_attention_forward_axes"
        need = attention_workspace_size(q_view.heads, k_view.heads, q_view.head_dim, q_view.seq, pool_threads(pool))
        address, size, _kept = byte_buffer(aligned_buffer(need) if workspace is None else workspace, "workspace",
                                           call, need)
        pointers = (ctypes.c_void_p * len(caches))(*[c.handle for c in caches])
        views = [ctypes.byref(w) for w in (q_view, k_view, v_view, out_view)]
        if positions is None:
            status = library().rotor_attention_forward(self.handle, pointers, *views, float(scale), address, size,
                                                       pool_handle(pool))
        else:
            _, pos = self._ids(positions, q_view.batch, q_view.seq)
            status = library().rotor_attention_forward_axes(self.handle, pointers, *views, pos, float(scale), address,
                                                            size, pool_handle(pool))
        check(status, call)
        return result

    def rerotate_keys(self, keys: Array, from_epoch: int, positions: Positions = None, offset: int = 0, *,
                      layout: str = "bshd", workspace: Any = None, pool: Optional[Pool] = None) -> int:
        """Brings keys rotated with the rows of from_epoch to the table's current rows, in place
        (rotor_rerotate_keys; keys writable). Returns the epoch they now carry."""
        keys_view = view(keys, layout, "keys")
        _, pos = int32_positions(positions, keys_view.batch, keys_view.seq)
        need = rerotate_workspace_size(keys_view.head_dim, pool_threads(pool))
        address, size, _kept = byte_buffer(aligned_buffer(need) if workspace is None else workspace, "workspace",
                                           "rotor_rerotate_keys", need)
        to_epoch = ctypes.c_uint64()
        check(library().rotor_rerotate_keys(self.handle, ctypes.byref(keys_view), pos, u32(offset, "offset"),
                                            int(from_epoch), ctypes.byref(to_epoch), address, size,
                                            pool_handle(pool)), "rotor_rerotate_keys")
        return to_epoch.value
