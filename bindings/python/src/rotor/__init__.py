"""rotor: Rotary Position Embeddings for LLM inference, on numpy arrays and PyTorch CPU tensors.

    import numpy as np, rotor
    table = rotor.Table(128, max_len=8192, base=500000.0)   # any rotor_config field by name
    q = np.random.rand(1, 16, 32, 128).astype(np.float32)   # [batch, seq, heads, head_dim]
    k = np.random.rand(1, 16, 8, 128).astype(np.float32)
    table.apply_qk(q, k, offset=0)                           # rotated IN PLACE, nothing copied

Multi-axis RoPE (Qwen2-VL / Qwen3-VL M-RoPE, 2-D vision RoPE): Table(preset="qwen2-vl-7b") or
Table(128, layout="mrope", mrope_section=(16, 24, 24)), then table.apply_axes(x, ids) with int32
ids of shape (axes, batch, seq). Context shift / StreamingLLM: KVCache.evict(table, start, count).
Models whose layers use different tables (Gemma 3 / 4, Llama 4): preset_layers(model).

The library (librotor.so, built by this package's CMake and installed inside it) is called
through ctypes, which releases the GIL for the duration of every call: other Python threads run
while rotor rotates, and one Table may be used by many threads at once (the C library is thread
safe for that). A Pool runs one call at a time; concurrent calls that share it wait their turn.

Arrays are used where they are, never copied: numpy arrays of float32, float16, bfloat16 as
uint16 bit patterns (or ml_dtypes.bfloat16), and torch CPU tensors (float32, float16,
bfloat16), with any non-negative strides as long as each head's head_dim elements are
contiguous. 4-D arrays are [batch, seq, heads, head_dim] (layout="bshd") or
[batch, heads, seq, head_dim] (layout="bhsd"); a [batch, seq, heads*head_dim] array is
reshaped by the caller (a view). An array rotor cannot address in place (negative strides, a
non-contiguous head_dim, a read-only array) raises ValueError rather than being copied
behind the caller's back.

Errors from the library raise RotorError; its .status is the rotor_status number (a Status).
"""
from __future__ import annotations

import ctypes
import enum
import os
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _capi

__all__ = [
    "RotorError", "Status", "Table", "Pool", "KVCache", "Event", "apply_cos_sin", "aligned_buffer",
    "attention_workspace_size", "rerotate_workspace_size", "version", "status_string", "kernel_name",
    "kernels", "force_kernel", "library_path", "preset_tables", "preset_layers", "preset_layer_table",
]

Array = Any  # a numpy.ndarray or a torch.Tensor
Positions = Optional[Any]  # None, or integers of shape [batch, seq] or [seq]


class Status(enum.IntEnum):
    """rotor_status, values pinned by rotor.h."""

    OK = _capi.ROTOR_OK
    INVALID_ARGUMENT = _capi.ROTOR_ERR_INVALID_ARGUMENT
    OUT_OF_RANGE = _capi.ROTOR_ERR_OUT_OF_RANGE
    OUT_OF_MEMORY = _capi.ROTOR_ERR_OUT_OF_MEMORY
    UNSUPPORTED = _capi.ROTOR_ERR_UNSUPPORTED
    DEVICE = _capi.ROTOR_ERR_DEVICE
    RESCALED = _capi.ROTOR_ERR_RESCALED


_PAIRING = {"half": _capi.ROTOR_PAIRING_HALF, "interleaved": _capi.ROTOR_PAIRING_INTERLEAVED}
_GROWTH = {"exponential": _capi.ROTOR_GROWTH_EXPONENTIAL, "linear": _capi.ROTOR_GROWTH_LINEAR,
           "exact": _capi.ROTOR_GROWTH_EXACT, "margin": _capi.ROTOR_GROWTH_MARGIN}
_SCALING = {"none": _capi.ROTOR_SCALING_NONE, "linear": _capi.ROTOR_SCALING_LINEAR, "ntk": _capi.ROTOR_SCALING_NTK,
            "dynamic_ntk": _capi.ROTOR_SCALING_DYNAMIC_NTK, "yarn": _capi.ROTOR_SCALING_YARN,
            "llama3": _capi.ROTOR_SCALING_LLAMA3, "longrope": _capi.ROTOR_SCALING_LONGROPE,
            "proportional": _capi.ROTOR_SCALING_PROPORTIONAL}
# rotor_layout: which position id each rotary pair takes, and how many ids a token brings.
_LAYOUT = {"1d": _capi.ROTOR_LAYOUT_1D, "mrope": _capi.ROTOR_LAYOUT_MROPE,
           "mrope_interleaved": _capi.ROTOR_LAYOUT_MROPE_INTERLEAVED,
           "vision_halves": _capi.ROTOR_LAYOUT_VISION_HALVES, "vision_alternate": _capi.ROTOR_LAYOUT_VISION_ALTERNATE}
_AXES = {_capi.ROTOR_LAYOUT_1D: 1, _capi.ROTOR_LAYOUT_MROPE: 3, _capi.ROTOR_LAYOUT_MROPE_INTERLEAVED: 3,
         _capi.ROTOR_LAYOUT_VISION_HALVES: 2, _capi.ROTOR_LAYOUT_VISION_ALTERNATE: 2}
_POLICY = {"rerotate": _capi.ROTOR_RESCALE_REROTATE, "pin": _capi.ROTOR_RESCALE_PIN,
           "refuse": _capi.ROTOR_RESCALE_REFUSE}
_REASON = {_capi.ROTOR_EVENT_GROW: "grow", _capi.ROTOR_EVENT_GROW_AHEAD: "grow_ahead",
           _capi.ROTOR_EVENT_RESERVE: "reserve", _capi.ROTOR_EVENT_RESCALE: "rescale"}
_ENUM_FIELDS = {"pairing": _PAIRING, "growth": _GROWTH, "scaling": _SCALING, "layout": _LAYOUT}
_HIDDEN_FIELDS = ("struct_size", "reserved_0", "reserved_1", "reserved_2")
_INT32_MAX = 2**31 - 1

# ---------------------------------------------------------------------------------------------
# The library
# ---------------------------------------------------------------------------------------------

_lib: Optional[ctypes.CDLL] = None
_lib_path = ""


def library_path() -> str:
    """Path of the librotor loaded: $ROTOR_LIBRARY if set, else the one inside this package."""
    _library()
    return _lib_path


def _library() -> ctypes.CDLL:
    global _lib, _lib_path
    if _lib is None:
        path = os.environ.get("ROTOR_LIBRARY") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                  "librotor.so")
        lib = ctypes.CDLL(path)
        _capi.bind(lib)  # AttributeError here: a library older than this binding
        probe = _capi.rotor_config()
        # A library older than this binding knows a smaller rotor_config and refuses ours.
        if lib.rotor_config_init_sized(ctypes.byref(probe), ctypes.sizeof(probe), 64) != Status.OK:
            raise ImportError(f"{path} does not accept this binding's rotor_config of {ctypes.sizeof(probe)} bytes")
        _lib, _lib_path = lib, path
    return _lib


class RotorError(Exception):
    """A rotor_status other than ROTOR_OK: .status (a Status, or the raw int for a value this
    binding does not know), .reason (rotor_status_string's text), .call (the C function)."""

    def __init__(self, status: int, call: str = ""):
        try:
            self.status: Union[Status, int] = Status(status)
        except ValueError:
            self.status = int(status)
        self.reason = status_string(int(status))
        self.call = call
        super().__init__(f"{call}: {self.reason}" if call else self.reason)


def _check(status: int, call: str) -> None:
    if status != Status.OK:
        raise RotorError(status, call)


def status_string(status: int) -> str:
    """rotor_status_string: a description of any status value."""
    return _library().rotor_status_string(int(status)).decode()


def version() -> Tuple[int, int, int]:
    """(major, minor, patch) of the library loaded."""
    v = _library().rotor_version()
    return (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


def kernel_name() -> str:
    """The kernel set in use: "scalar", "sse2", "avx2", "avx512", "avx512bf16", "neon", "neon64"."""
    return _library().rotor_kernel_name().decode()


def kernels() -> list:
    """The kernel sets this CPU can run, best first (the scalar reference last)."""
    lib = _library()
    return [lib.rotor_kernel_available(i).decode() for i in range(lib.rotor_kernel_count())]


def force_kernel(name: Optional[str]) -> None:
    """Forces a kernel set (None: back to the automatic choice). Not while other threads apply."""
    _check(_library().rotor_kernel_force(None if name is None else name.encode()), "rotor_kernel_force")


def aligned_buffer(nbytes: int) -> np.ndarray:
    """A zeroed uint8 array of nbytes whose address is 64-byte aligned (ROTOR_ARENA_ALIGNMENT):
    an arena for Table(arena=...), KVCache(arena=...) or a workspace. Zeroed memory of this size
    comes from the OS untouched, so it costs no resident memory until rotor writes to it."""
    raw = np.zeros(int(nbytes) + _capi.ARENA_ALIGNMENT, dtype=np.uint8)
    skip = (-raw.ctypes.data) % _capi.ARENA_ALIGNMENT
    return raw[skip:skip + int(nbytes)]


def _buffer_address(buffer: Any, what: str) -> Tuple[int, int, Any]:
    """(address, size, array keeping it alive) of a writable buffer (numpy array, bytearray...)."""
    array = buffer if isinstance(buffer, np.ndarray) else np.frombuffer(buffer, dtype=np.uint8)
    if not array.flags.writeable or not array.flags.c_contiguous:
        raise ValueError(f"{what} must be a writable, contiguous buffer")
    return array.ctypes.data, array.nbytes, array


# ---------------------------------------------------------------------------------------------
# Views over numpy arrays and torch tensors
# ---------------------------------------------------------------------------------------------

_NUMPY_DTYPES = {np.dtype(np.float32): _capi.ROTOR_DTYPE_F32, np.dtype(np.float16): _capi.ROTOR_DTYPE_F16,
                 np.dtype(np.uint16): _capi.ROTOR_DTYPE_BF16}
_TORCH_DTYPES = {"torch.float32": _capi.ROTOR_DTYPE_F32, "torch.float16": _capi.ROTOR_DTYPE_F16,
                 "torch.bfloat16": _capi.ROTOR_DTYPE_BF16}


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "data_ptr")


def _rotor_dtype(dtype: Any) -> int:
    """The rotor_dtype of a numpy or torch dtype (uint16 and bfloat16 are bf16)."""
    # A numpy array's own dtype first, by one dict lookup: str(dtype) alone costs microseconds,
    # a tenth of a whole small apply_to call (docs/performance.md, "Out of place").
    if isinstance(dtype, np.dtype) and dtype in _NUMPY_DTYPES:
        return _NUMPY_DTYPES[dtype]
    if str(dtype) in _TORCH_DTYPES:
        return _TORCH_DTYPES[str(dtype)]
    dtype = np.dtype(dtype)
    if dtype in _NUMPY_DTYPES:
        return _NUMPY_DTYPES[dtype]
    if dtype.name == "bfloat16" and dtype.itemsize == 2:  # ml_dtypes.bfloat16
        return _capi.ROTOR_DTYPE_BF16
    raise TypeError(f"rotor works on float32, float16 and bfloat16 (or its uint16 bits), not {dtype}")


def _layout_axes(layout: str) -> Tuple[int, int, int]:
    if layout == "bshd":
        return (0, 1, 2)
    if layout == "bhsd":
        return (0, 2, 1)
    raise ValueError(f"layout must be 'bshd' or 'bhsd', not {layout!r}")


def _view(x: Array, layout: str, what: str = "x", writable: bool = True) -> _capi.rotor_tensor:
    """The rotor_tensor over x's own memory. Refuses (ValueError) what rotor cannot address."""
    if _is_torch(x):
        if x.device.type != "cpu":
            raise ValueError(f"{what}: rotor's Python binding works on CPU tensors, not {x.device}")
        shape, strides, address, dtype = tuple(x.shape), tuple(x.stride()), x.data_ptr(), x.dtype
    elif isinstance(x, np.ndarray):
        if writable and not x.flags.writeable:
            raise ValueError(f"{what} is read-only")
        item = x.itemsize
        if any(s % item for s in x.strides):
            raise ValueError(f"{what}: strides {x.strides} are not whole elements")
        shape, strides, address, dtype = x.shape, tuple(s // item for s in x.strides), x.ctypes.data, x.dtype
    else:
        raise TypeError(f"{what} must be a numpy array or a torch tensor, not {type(x).__name__}")
    if len(shape) != 4:
        raise ValueError(f"{what} must be 4-D [batch, seq, heads, head_dim] or [batch, heads, seq, head_dim], "
                         f"got shape {tuple(shape)}")
    if shape[3] > 1 and strides[3] != 1:
        raise ValueError(f"{what}: each head's head_dim elements must be contiguous (stride {strides[3]})")
    if any(s < 0 for s in strides):
        raise ValueError(f"{what}: negative strides cannot be passed to this call (rotor_tensor strides are >= 0; "
                         f"apply, apply_qk and apply_to turn such axes around)")
    a = _layout_axes(layout)
    view = _capi.rotor_tensor()
    view.data, view.dtype = address, _rotor_dtype(dtype)
    view.batch, view.seq, view.heads, view.head_dim = shape[a[0]], shape[a[1]], shape[a[2]], shape[3]
    view.stride_batch, view.stride_seq, view.stride_head = strides[a[0]], strides[a[1]], strides[a[2]]
    return view


def _like(x: Array) -> Array:
    """A new C-contiguous array of x's shape and dtype (torch: a CPU tensor)."""
    if _is_torch(x):
        return x.new_empty(tuple(x.shape))
    return np.empty(x.shape, dtype=x.dtype)


def _positions(positions: Positions, view: _capi.rotor_tensor) -> Tuple[Any, Any]:
    """(array kept alive, int32 pointer) for [batch, seq] positions ([seq] serves every entry)."""
    if positions is None:
        return None, None
    if _is_torch(positions):
        positions = positions.cpu().numpy()
    pos = np.asarray(positions)
    if pos.size and not np.issubdtype(pos.dtype, np.integer):
        raise TypeError(f"positions must be integers, not {pos.dtype}")
    if pos.ndim == 1:
        pos = np.broadcast_to(pos, (view.batch, pos.shape[0]))
    if pos.shape != (view.batch, view.seq):
        raise ValueError(f"positions must have shape ({view.batch}, {view.seq}) or ({view.seq},), got {pos.shape}")
    if pos.size and (pos.max() > _INT32_MAX or pos.min() < -_INT32_MAX - 1):
        raise RotorError(Status.OUT_OF_RANGE, "positions")  # would wrap in the C API's int32
    # The only copy the binding may make: positions become the int32 [batch, seq] the C API reads.
    pos = np.ascontiguousarray(pos, dtype=np.int32)
    return pos, pos.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def _with_positive_strides(arrays: Sequence[Array], layout: str, positions: Positions,
                           offset: int) -> Tuple[list, Positions, int, Tuple[int, ...]]:
    """numpy allows negative strides (x[:, ::-1]); rotor_tensor does not. An axis (batch, seq
    or heads) that runs backwards in every array is turned around (np.flip: the same memory, a
    positive stride) and, for batch and seq, the positions with it, so every token still gets
    its own position (None becomes the explicit offset + s). Arrays whose strides on one axis
    disagree in sign cannot be described together and are refused (ValueError). Torch tensors
    never have negative strides. Also returns the array axes turned around."""
    arrays = list(arrays)
    if not all(isinstance(a, np.ndarray) and a.ndim == 4 for a in arrays):
        return arrays, positions, offset, ()
    axes = _layout_axes(layout)
    flipped = []  # which of (batch, seq) were turned around
    turned = []   # the array axes turned around
    for role, axis in enumerate(axes):
        backwards = [a.shape[axis] > 1 and a.strides[axis] < 0 for a in arrays]
        if not any(backwards):
            continue
        if not all(backwards):
            raise ValueError("negative strides on one axis of some arrays and not of the others: rotor "
                             "cannot address them together")
        arrays = [np.flip(a, axis) for a in arrays]
        turned.append(axis)
        if role < 2:
            flipped.append(role)
    if flipped:
        batch, seq = arrays[0].shape[axes[0]], arrays[0].shape[axes[1]]
        if positions is None:
            pos = int(offset) + np.arange(seq, dtype=np.int64)
        else:
            pos = positions.cpu().numpy() if _is_torch(positions) else np.asarray(positions)
        pos = np.broadcast_to(pos, (batch, seq)) if pos.ndim == 1 else pos
        if pos.shape != (batch, seq):
            raise ValueError(f"positions must have shape ({batch}, {seq}) or ({seq},), got {pos.shape}")
        for role in flipped:
            pos = np.flip(pos, role)
        positions, offset = pos, 0
    return arrays, positions, offset, tuple(turned)


def _direction(inverse: bool) -> int:
    return _capi.ROTOR_INVERSE if inverse else _capi.ROTOR_FORWARD


def _pool_handle(pool: Optional["Pool"]) -> Optional[int]:
    return None if pool is None else pool.handle


# ---------------------------------------------------------------------------------------------
# Handles
# ---------------------------------------------------------------------------------------------

class _Handle:
    """A library object released by close(), `with`, or garbage collection."""

    _handle: Optional[int] = None
    _what = "object"

    @property
    def handle(self) -> int:
        """The C pointer (as an int)."""
        if self._handle is None:
            raise ValueError(f"the {self._what} is closed")
        return self._handle

    def _release(self, handle: int) -> None:
        pass

    def close(self) -> None:
        """Releases the library object now (no call may be using it)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._release(handle)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Pool(_Handle):
    """Persistent worker threads (rotor_pool): pass pool= to spread a call over `threads`
    threads in total (the caller's included). One call at a time runs on a pool."""

    _what = "pool"

    def __init__(self, threads: int):
        handle = ctypes.c_void_p()
        _check(_library().rotor_pool_create(ctypes.byref(handle), int(threads)), "rotor_pool_create")
        self._handle = handle.value
        self.threads = int(threads)

    def _release(self, handle: int) -> None:
        _library().rotor_pool_destroy(handle)


class Event:
    """A table's growth or rescale: reason ("grow", "grow_ahead", "reserve", "rescale"),
    old_rows, new_rows, old_factor, new_factor."""

    __slots__ = ("reason", "old_rows", "new_rows", "old_factor", "new_factor")

    def __init__(self, e: _capi.rotor_table_event):
        self.reason = _REASON.get(e.reason, str(e.reason))
        self.old_rows, self.new_rows, self.old_factor, self.new_factor = e.old_rows, e.new_rows, e.old_factor, e.new_factor

    def __repr__(self) -> str:
        return (f"Event({self.reason}, rows {self.old_rows} -> {self.new_rows}, "
                f"factor {self.old_factor} -> {self.new_factor})")


def _enum_value(table: Dict[str, int], value: Any, what: str) -> int:
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise ValueError(f"unknown {what} {value!r}; one of {sorted(table)}") from None
    return int(value)


def _make_config(rotary_dim: Optional[int], preset: Optional[str], fields: Dict[str, Any]):
    """(rotor_config, arrays the config points at) from rotor_config_init_sized or
    rotor_config_preset_sized, then fields by name."""
    lib = _library()
    cfg = _capi.rotor_config()
    size = ctypes.sizeof(cfg)
    _check(lib.rotor_config_init_sized(ctypes.byref(cfg), size, int(rotary_dim or 0)), "rotor_config_init_sized")
    if preset is not None:
        _check(lib.rotor_config_preset_sized(ctypes.byref(cfg), size, preset.encode()), f"preset {preset!r}")
        if rotary_dim is not None:
            cfg.rotary_dim = int(rotary_dim)
    keep_alive = []
    known = {name for name, _ in _capi.rotor_config._fields_} - set(_HIDDEN_FIELDS)
    for name, value in fields.items():
        if name not in known:
            raise TypeError(f"unknown rotor_config field {name!r}")
        if name in _ENUM_FIELDS:
            value = _enum_value(_ENUM_FIELDS[name], value, name)
        elif name in ("long_factor", "short_factor"):
            factors = np.ascontiguousarray(value, dtype=np.float32)
            if factors.shape != (cfg.rotary_dim // 2,):  # the library reads exactly r/2 values
                raise ValueError(f"{name} must hold rotary_dim/2 = {cfg.rotary_dim // 2} values")
            keep_alive.append(factors)
            value = factors.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        elif name == "mrope_section":
            section = [int(n) for n in value]
            if len(section) != 3:  # t, h, w: the C field is uint32_t[3]
                raise ValueError(f"mrope_section must hold 3 values (t, h, w), got {len(section)}")
            value = (ctypes.c_uint32 * 3)(*section)
        setattr(cfg, name, value)
    return cfg, keep_alive


class Table(_Handle):
    """cos/sin rows for positions 0 .. max_len-1 (rotor_table), computed as needed, shared by
    any number of threads.

    Table(rotary_dim, **fields) starts from rotor_config_init_sized's defaults and sets any
    rotor_config field by name (enums as strings: pairing="interleaved", scaling="yarn",
    growth="exact", layout="mrope"; mrope_section as (t, h, w) pair counts; long_factor/short_factor
    as rotary_dim/2 floats). preset="llama-3.1-8b"
    starts from rotor_config_preset_sized instead (rotary_dim then from the preset unless given).
    arena=buffer builds the table inside the caller's memory (rotor_table_init: 64-byte
    aligned, at least Table.arena_size(...) bytes; see aligned_buffer): the library then never
    allocates, and the table keeps a reference to the buffer.
    """

    _what = "table"

    def __init__(self, rotary_dim: Optional[int] = None, *, preset: Optional[str] = None, arena: Any = None,
                 **fields: Any):
        cfg, keep_alive = _make_config(rotary_dim, preset, fields)
        lib = _library()
        handle = ctypes.c_void_p()
        if arena is None:
            _check(lib.rotor_table_create(ctypes.byref(handle), ctypes.byref(cfg)), "rotor_table_create")
            self._arena = None
        else:
            address, size, self._arena = _buffer_address(arena, "arena")
            _check(lib.rotor_table_init(ctypes.byref(handle), ctypes.byref(cfg), address, size), "rotor_table_init")
        self._handle = handle.value
        self._cfg, self._factors = cfg, keep_alive  # attention_scale reads the config again
        self._callback = None
        self.rotary_dim: int = cfg.rotary_dim
        self.pairing: str = "interleaved" if cfg.pairing == _capi.ROTOR_PAIRING_INTERLEAVED else "half"
        #: The rope layout ("1d", "mrope", "mrope_interleaved", "vision_halves", "vision_alternate").
        self.layout: str = {value: name for name, value in _LAYOUT.items()}[cfg.layout]
        #: Position ids per token apply_axes and friends take: 1, 3 (M-RoPE) or 2 (vision).
        self.axes: int = _AXES[cfg.layout]
        #: The rotor_config fields the table was made with (factor arrays left out).
        self.config: Dict[str, Any] = {name: getattr(cfg, name) for name, _ in _capi.rotor_config._fields_
                                       if name not in _HIDDEN_FIELDS + ("long_factor", "short_factor")}
        self.config["mrope_section"] = tuple(cfg.mrope_section)  # a plain tuple, not a ctypes array

    def _release(self, handle: int) -> None:
        _library().rotor_table_destroy(handle)

    @staticmethod
    def arena_size(rotary_dim: Optional[int] = None, *, preset: Optional[str] = None, **fields: Any) -> int:
        """Bytes an arena for Table(..., arena=) must have (rotor_table_arena_size)."""
        cfg, keep_alive = _make_config(rotary_dim, preset, fields)
        size = _library().rotor_table_arena_size(ctypes.byref(cfg))
        if size == 0:
            raise RotorError(Status.INVALID_ARGUMENT, "rotor_table_arena_size")
        return size

    def attention_scale(self, head_dim: int) -> float:
        """The softmax scale this table's config implies for heads of head_dim dims."""
        scale = ctypes.c_float()
        _check(_library().rotor_attention_scale(ctypes.byref(self._cfg), int(head_dim), ctypes.byref(scale)),
               "rotor_attention_scale")
        return scale.value

    def reserve(self, positions: int) -> None:
        """Makes rows [0, positions) ready now (RotorError OUT_OF_RANGE past max_len)."""
        _check(_library().rotor_table_reserve(self.handle, int(positions)), "rotor_table_reserve")

    def stats(self) -> Dict[str, Any]:
        """rotor_table_stats as a dict: rows, max_len, bytes_in_use, arena_bytes, grow_events,
        rescale_events, factor, attention_factor, epoch, key_rerotations."""
        stats = _capi.rotor_table_stats()
        stats.struct_size = ctypes.sizeof(stats)
        _check(_library().rotor_table_stats_get(self.handle, ctypes.byref(stats)), "rotor_table_stats_get")
        return {name: getattr(stats, name) for name, _ in stats._fields_ if name not in ("struct_size", "reserved_0")}

    @property
    def epoch(self) -> int:
        """Rescales adopted so far (rotor_table_epoch)."""
        value = ctypes.c_uint64()
        _check(_library().rotor_table_epoch(self.handle, ctypes.byref(value)), "rotor_table_epoch")
        return value.value

    def set_rescale_policy(self, policy: Union[str, int]) -> None:
        """"rerotate" (default), "pin" or "refuse": what attention() does when cached keys
        carry rows the table no longer uses."""
        _check(_library().rotor_table_set_rescale_policy(self.handle, _enum_value(_POLICY, policy, "policy")),
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
        _check(_library().rotor_table_set_event_callback(self.handle, trampoline or _capi.rotor_table_event_fn(),
                                                         None), "rotor_table_set_event_callback")
        self._callback = trampoline  # kept alive while registered

    def cos_sin(self, start: int, count: int, dtype: Any = np.float32, duplicated: bool = False,
                out: Optional[Tuple[Array, Array]] = None) -> Tuple[Array, Array]:
        """cos and sin of positions [start, start + count): [count, r/2] each, or [count, r]
        (Hugging Face's cat(freqs, freqs)) with duplicated=True; float32, float16 or bfloat16
        (uint16 bits). out=(cos, sin) writes into C-contiguous arrays of that shape instead."""
        width = self.rotary_dim if duplicated else self.rotary_dim // 2
        if out is None:
            cos = np.empty((int(count), width), dtype=dtype)
            sin = np.empty((int(count), width), dtype=dtype)
        else:
            cos, sin = out
        for array in (cos, sin):
            contiguous = array.is_contiguous() if _is_torch(array) else array.flags.c_contiguous
            if tuple(array.shape) != (int(count), width) or not contiguous:
                raise ValueError(f"cos/sin outputs must be C-contiguous of shape ({count}, {width})")
        address = (lambda a: a.data_ptr()) if _is_torch(cos) else (lambda a: a.ctypes.data)
        _check(_library().rotor_table_cos_sin(self.handle, int(start), int(count), _rotor_dtype(cos.dtype),
                                              int(bool(duplicated)), address(cos), address(sin)),
               "rotor_table_cos_sin")
        return cos, sin

    def apply(self, x: Array, positions: Positions = None, offset: int = 0, *, inverse: bool = False,
              layout: str = "bshd", pool: Optional[Pool] = None) -> Array:
        """Rotates x in place (rotor_apply) and returns it. positions: [batch, seq] or [seq]
        integers, or None for offset + s. Any numpy strides (negative ones included) as long
        as each head's head_dim elements are contiguous."""
        (flat,), positions, offset, _ = _with_positive_strides([x], layout, positions, offset)
        view = _view(flat, layout)
        _, pos = _positions(positions, view)
        _check(_library().rotor_apply(self.handle, ctypes.byref(view), pos, int(offset), _direction(inverse),
                                      _pool_handle(pool)), "rotor_apply")
        return x

    def apply_qk(self, q: Array, k: Array, positions: Positions = None, offset: int = 0, *, inverse: bool = False,
                 layout: str = "bshd", pool: Optional[Pool] = None) -> Tuple[Array, Array]:
        """Rotates q and k in place in one pass (heads may differ: grouped-query attention);
        q and k may be slices of one fused QKV buffer. Returns (q, k)."""
        (q_flat, k_flat), positions, offset, _ = _with_positive_strides([q, k], layout, positions, offset)
        q_view, k_view = _view(q_flat, layout, "q"), _view(k_flat, layout, "k")
        _, pos = _positions(positions, q_view)
        _check(_library().rotor_apply_qk(self.handle, ctypes.byref(q_view), ctypes.byref(k_view), pos, int(offset),
                                         _direction(inverse), _pool_handle(pool)), "rotor_apply_qk")
        return q, k

    def _axes_positions(self, positions: Any, batch: int, seq: int) -> Tuple[Any, Any]:
        """(array kept alive, int32 pointer) of ids of shape (axes, batch, seq) or (axes, batch*seq):
        the library reads exactly axes * batch * seq of them, axis-major."""
        if _is_torch(positions):
            positions = positions.cpu().numpy()
        pos = np.asarray(positions)
        if pos.size and not np.issubdtype(pos.dtype, np.integer):
            raise TypeError(f"positions must be integers, not {pos.dtype}")
        if pos.shape not in ((self.axes, batch, seq), (self.axes, batch * seq)):
            raise ValueError(f"positions of a {self.layout!r} table must have shape ({self.axes}, {batch}, {seq}) or "
                             f"({self.axes}, {batch * seq}), got {pos.shape}")
        if pos.size and (pos.max() > _INT32_MAX or pos.min() < -_INT32_MAX - 1):
            raise RotorError(Status.OUT_OF_RANGE, "positions")  # would wrap in the C API's int32
        pos = np.ascontiguousarray(pos, dtype=np.int32)  # a copy only when not int32 C-order already
        return pos, pos.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))

    def apply_axes(self, x: Array, positions: Any, *, inverse: bool = False, layout: str = "bshd",
                   pool: Optional[Pool] = None) -> Array:
        """Rotates x in place by one id per axis and token (rotor_apply_axes) and returns it.
        positions: integers of shape (axes, batch, seq) or (axes, batch*seq), axes = self.axes:
        (t, h, w) for M-RoPE, (row, column) for vision layouts, 1 for a 1-D table (then it equals
        apply with those positions). A token whose ids are all equal gets the table's row: bit
        for bit 1-D RoPE. The caller computes the ids (Qwen2-VL: the model's get_rope_index).
        layout is the memory order of x ("bshd" or "bhsd"), not the rope layout."""
        view = _view(x, layout)
        _, pos = self._axes_positions(positions, view.batch, view.seq)
        _check(_library().rotor_apply_axes(self.handle, ctypes.byref(view), pos, _direction(inverse),
                                           _pool_handle(pool)), "rotor_apply_axes")
        return x

    def apply_qk_axes(self, q: Array, k: Array, positions: Any, *, inverse: bool = False, layout: str = "bshd",
                      pool: Optional[Pool] = None) -> Tuple[Array, Array]:
        """apply_axes on q and k together (rotor_apply_qk_axes): they share batch, seq and ids
        (heads may differ). Returns (q, k)."""
        q_view, k_view = _view(q, layout, "q"), _view(k, layout, "k")
        _, pos = self._axes_positions(positions, q_view.batch, q_view.seq)
        _check(_library().rotor_apply_qk_axes(self.handle, ctypes.byref(q_view), ctypes.byref(k_view), pos,
                                              _direction(inverse), _pool_handle(pool)), "rotor_apply_qk_axes")
        return q, k

    def apply_to(self, x: Array, out: Optional[Array] = None, positions: Positions = None, offset: int = 0, *,
                 inverse: bool = False, layout: str = "bshd", pool: Optional[Pool] = None) -> Array:
        """Rotates x into out (rotor_apply_to; a new array when out is None) and returns out.
        Dims past rotary_dim are copied. x itself is not modified (unless out is x)."""
        if out is None:
            # A new array laid out like x turned around, returned turned back: result[i] is x[i]'s.
            (x_flat,), positions, offset, turned = _with_positive_strides([x], layout, positions, offset)
            out_flat = _like(x_flat)
            result = np.flip(out_flat, turned) if turned else out_flat
        else:
            result = out
            (x_flat, out_flat), positions, offset, _ = _with_positive_strides([x, out], layout, positions, offset)
        x_view, out_view = _view(x_flat, layout, "x", writable=False), _view(out_flat, layout, "out")
        _, pos = _positions(positions, x_view)
        _check(_library().rotor_apply_to(self.handle, ctypes.byref(x_view), ctypes.byref(out_view), pos, int(offset),
                                         _direction(inverse), _pool_handle(pool)), "rotor_apply_to")
        return result

    def attention(self, q: Array, k: Array, v: Array, caches: Sequence["KVCache"], *, out: Optional[Array] = None,
                  positions: Any = None, scale: Optional[float] = None, workspace: Any = None,
                  pool: Optional[Pool] = None) -> Array:
        """Rotary attention with KV caches (rotor_attention_forward): for each batch entry b,
        rotates its s new queries and keys at positions len(caches[b]) .., appends keys and
        values to caches[b], and returns causal softmax(q k^T * scale) v ([batch, s, q_heads, d],
        into out if given). q: [batch, s, q_heads, d]; k, v: [batch, s, kv_heads, d], bshd.
        scale defaults to attention_scale(d). workspace: an aligned_buffer of at least
        attention_workspace_size(...) bytes to reuse across calls (else one is made per call).

        positions (rotor_attention_forward_axes): the new tokens' ids, shape (axes, batch, s) or
        (axes, batch*s) as in apply_axes (M-RoPE ids of a VL model; for a 1-D table each token's
        own position instead of len(caches[b]) + i). The cache index still orders the tokens
        (the causal mask); cached keys keep the rotation they were stored with. Tables whose rows
        change (ntk, dynamic_ntk, longrope) are refused there (INVALID_ARGUMENT)."""
        result = _like(q) if out is None else out
        views = [_view(q, "bshd", "q", False), _view(k, "bshd", "k", False), _view(v, "bshd", "v", False),
                 _view(result, "bshd", "out")]
        if len(caches) != views[0].batch:
            raise ValueError(f"{len(caches)} caches for a batch of {views[0].batch}")
        if scale is None:
            scale = self.attention_scale(views[0].head_dim)
        threads = 1 if pool is None else pool.threads
        if workspace is None:
            workspace = aligned_buffer(attention_workspace_size(views[0].heads, views[1].heads, views[0].head_dim,
                                                                views[0].seq, threads))
        address, size, _ = _buffer_address(workspace, "workspace")
        pointers = (ctypes.c_void_p * len(caches))(*[c.handle for c in caches])
        if positions is None:
            _check(_library().rotor_attention_forward(self.handle, pointers, *[ctypes.byref(w) for w in views],
                                                      float(scale), address, size, _pool_handle(pool)),
                   "rotor_attention_forward")
        else:
            _, pos = self._axes_positions(positions, views[0].batch, views[0].seq)
            _check(_library().rotor_attention_forward_axes(self.handle, pointers, *[ctypes.byref(w) for w in views],
                                                           pos, float(scale), address, size, _pool_handle(pool)),
                   "rotor_attention_forward_axes")
        return result

    def rerotate_keys(self, keys: Array, from_epoch: int, positions: Positions = None, offset: int = 0, *,
                      layout: str = "bshd", workspace: Any = None, pool: Optional[Pool] = None) -> int:
        """Brings keys rotated with the rows of from_epoch to the table's current rows, in place
        (rotor_rerotate_keys). Returns the epoch they now carry."""
        view = _view(keys, layout, "keys")
        _, pos = _positions(positions, view)
        if workspace is None:
            workspace = aligned_buffer(rerotate_workspace_size(view.head_dim, 1 if pool is None else pool.threads))
        address, size, _ = _buffer_address(workspace, "workspace")
        to_epoch = ctypes.c_uint64()
        _check(_library().rotor_rerotate_keys(self.handle, ctypes.byref(view), pos, int(offset), int(from_epoch),
                                              ctypes.byref(to_epoch), address, size, _pool_handle(pool)),
               "rotor_rerotate_keys")
        return to_epoch.value


class KVCache(_Handle):
    """One sequence's rotated keys and values (rotor_kv_cache) for Table.attention, with a hard
    maximum length. Its arena is the caller's (arena=, 64-byte aligned, KVCache.arena_size(...)
    bytes) or one this object allocates once. dtype: storage type (float32, float16, bfloat16)."""

    _what = "KV cache"

    def __init__(self, kv_heads: int, head_dim: int, max_len: int, dtype: Any = np.float32, *, arena: Any = None):
        size = KVCache.arena_size(kv_heads, head_dim, max_len, dtype)
        self._arena = aligned_buffer(size) if arena is None else arena
        address, size, self._arena = _buffer_address(self._arena, "arena")
        handle = ctypes.c_void_p()
        _check(_library().rotor_kv_cache_init(ctypes.byref(handle), int(kv_heads), int(head_dim), int(max_len),
                                              _rotor_dtype(dtype), address, size), "rotor_kv_cache_init")
        self._handle = handle.value
        self.kv_heads, self.head_dim, self.max_len = int(kv_heads), int(head_dim), int(max_len)

    @staticmethod
    def arena_size(kv_heads: int, head_dim: int, max_len: int, dtype: Any = np.float32) -> int:
        """Bytes of an arena for such a cache (rotor_kv_cache_arena_size)."""
        size = _library().rotor_kv_cache_arena_size(int(kv_heads), int(head_dim), int(max_len), _rotor_dtype(dtype))
        if size == 0:
            raise RotorError(Status.INVALID_ARGUMENT, "rotor_kv_cache_arena_size")
        return size

    def __len__(self) -> int:
        length = ctypes.c_uint32()
        _check(_library().rotor_kv_cache_get_length(self.handle, ctypes.byref(length)), "rotor_kv_cache_get_length")
        return length.value

    def reset(self) -> None:
        """Empties the cache for a new sequence."""
        _check(_library().rotor_kv_cache_reset(self.handle), "rotor_kv_cache_reset")

    def evict(self, table: Table, start: int, count: int, pool: Optional[Pool] = None) -> None:
        """Context shift (rotor_kv_cache_evict): removes cached tokens [start, start + count) and
        moves the later ones down by count, each moved key rotated from position p to p - count
        (exactly, in double, rounded once to the cache's dtype), so token i is again at position
        i. table: the one the cache is used with (only its config is read). RotorError
        OUT_OF_RANGE when start + count exceeds len(self); nothing changes on error."""
        start, count = int(start), int(count)
        if not (0 <= start <= 0xFFFFFFFF and 0 <= count <= 0xFFFFFFFF):
            raise RotorError(Status.OUT_OF_RANGE, "rotor_kv_cache_evict")  # would wrap in uint32_t
        _check(_library().rotor_kv_cache_evict(table.handle, self.handle, start, count, _pool_handle(pool)),
               "rotor_kv_cache_evict")

    def keep_sink_and_window(self, table: Table, sink: int, window: int, pool: Optional[Pool] = None) -> int:
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
        _check(_library().rotor_kv_cache_epoch(self.handle, ctypes.byref(value)), "rotor_kv_cache_epoch")
        return value.value

    @property
    def rerotations(self) -> int:
        """Times its keys were re-rotated to new rows."""
        value = ctypes.c_uint64()
        _check(_library().rotor_kv_cache_rerotations(self.handle, ctypes.byref(value)), "rotor_kv_cache_rerotations")
        return value.value


def _preset_name(model: str, call: str, fill: Callable[[bytes, Any], int]) -> Optional[str]:
    name = ctypes.c_char_p()
    _check(fill(model.encode(), ctypes.byref(name)), call)
    return None if name.value is None else name.value.decode()


def preset_tables(model: str) -> list:
    """The distinct tables a model needs (rotor_preset_table_name), preset names for
    Table(preset=...): ["gemma-3-4b/local", "gemma-3-4b/global"] for "gemma-3-4b"; a
    single-table preset gives its own name. RotorError INVALID_ARGUMENT for an unknown model."""
    lib, names = _library(), []
    while True:  # no count in the C API: ask by index until it refuses (at 0: unknown model)
        name = ctypes.c_char_p()
        status = lib.rotor_preset_table_name(model.encode(), len(names), ctypes.byref(name))
        if status != Status.OK:
            if not names:
                _check(status, "rotor_preset_table_name")
            return names
        names.append(name.value.decode())


def preset_layer_table(model: str, layer: int) -> Optional[str]:
    """Layer `layer`'s table (rotor_preset_layer_table): a preset name, or None for a layer
    without rotary embedding (Llama 4's every fourth). RotorError INVALID_ARGUMENT for an
    unknown model or a layer past the model's count (a single-table preset accepts any)."""
    return _preset_name(model, "rotor_preset_layer_table",
                        lambda m, out: _library().rotor_preset_layer_table(m, int(layer), out))


def preset_layers(model: str) -> list:
    """Every layer's table in order (preset names, None where a layer has no rotary embedding):
    34 entries for "gemma-3-4b". Empty for a single-table preset ("llama-3.1-8b"), whose one
    table serves any number of layers (rotor_preset_layers gives 0)."""
    count = ctypes.c_uint32()
    _check(_library().rotor_preset_layers(model.encode(), ctypes.byref(count)), "rotor_preset_layers")
    return [preset_layer_table(model, layer) for layer in range(count.value)]


def attention_workspace_size(q_heads: int, kv_heads: int, head_dim: int, max_new_tokens: int, threads: int = 1) -> int:
    """Bytes of Table.attention's workspace (rotor_attention_workspace_size)."""
    size = _library().rotor_attention_workspace_size(int(q_heads), int(kv_heads), int(head_dim), int(max_new_tokens),
                                                     int(threads))
    if size == 0:
        raise RotorError(Status.INVALID_ARGUMENT, "rotor_attention_workspace_size")
    return size


def rerotate_workspace_size(head_dim: int, threads: int = 1) -> int:
    """Bytes of Table.rerotate_keys's workspace (rotor_rerotate_workspace_size)."""
    size = _library().rotor_rerotate_workspace_size(int(head_dim), int(threads))
    if size == 0:
        raise RotorError(Status.INVALID_ARGUMENT, "rotor_rerotate_workspace_size")
    return size


def apply_cos_sin(x: Array, cos: Array, sin: Array, positions: Positions = None, offset: int = 0, *,
                  pairing: str = "half", rotary_dim: Optional[int] = None, inverse: bool = False,
                  layout: str = "bshd", out: Optional[Array] = None, pool: Optional[Pool] = None) -> Array:
    """Rotates x with cos/sin rows the caller brings (rotor_apply_cos_sin): in place, or into
    out. cos and sin are [rows, rotary_dim/2] float32 (other float types are converted: the one
    copy made, of the rows, never of x); token (b, s) uses row positions[b, s], or offset + s.
    rotary_dim defaults to 2 * cos.shape[1]. Returns the rotated array (x or out)."""
    if _is_torch(cos):
        cos, sin = cos.float().contiguous().numpy(), sin.float().contiguous().numpy()
    cos = np.ascontiguousarray(cos, dtype=np.float32)
    sin = np.ascontiguousarray(sin, dtype=np.float32)
    if cos.ndim != 2 or cos.shape != sin.shape:
        raise ValueError(f"cos and sin must be 2-D [rows, rotary_dim/2] of one shape, got {cos.shape}, {sin.shape}")
    if rotary_dim is None:
        rotary_dim = 2 * cos.shape[1]
    if cos.shape[1] != rotary_dim // 2:
        raise ValueError(f"cos has {cos.shape[1]} columns; rotary_dim {rotary_dim} needs {rotary_dim // 2}")
    result = x if out is None else out
    x_view = _view(x, layout, "x", writable=out is None)
    out_view = _view(result, layout, "out")
    _, pos = _positions(positions, x_view)
    f32p = ctypes.POINTER(ctypes.c_float)
    _check(_library().rotor_apply_cos_sin(cos.ctypes.data_as(f32p), sin.ctypes.data_as(f32p), cos.shape[0],
                                          int(rotary_dim), _enum_value(_PAIRING, pairing, "pairing"),
                                          ctypes.byref(x_view), ctypes.byref(out_view), pos, int(offset),
                                          _direction(inverse), _pool_handle(pool)), "rotor_apply_cos_sin")
    return result
