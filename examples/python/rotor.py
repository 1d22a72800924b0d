"""rotor through ctypes: numpy arrays in, numpy arrays out.

    import numpy as np, rotor
    table = rotor.Table(128, max_len=8192)                 # Llama defaults: rotate_half, base 10000
    q = np.random.rand(1, 16, 32, 128).astype(np.float32)  # [batch, seq, heads, head_dim]
    q_rot = table.apply(q, offset=0)                        # a new array; out=q rotates in place

The library is found through the ROTOR_LIBRARY environment variable (a path), else the
system's search (ctypes.util.find_library), else librotor.so.1. Every error the C library
reports is raised as rotor.RotorError, whose message is rotor_status_string's text.

Arrays may be float32, float16 or (with ml_dtypes) bfloat16. 4-D arrays are [batch, seq,
heads, head_dim] (layout="bshd") or [batch, heads, seq, head_dim] (layout="bhsd"); any strides
are passed to the library as they are when the last axis is contiguous (a slice of a fused QKV
buffer is rotated without a copy), otherwise a contiguous copy is made.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

import numpy as np

__all__ = ["RotorError", "Table", "Pool", "apply_cos_sin", "version", "status_string",
           "kernel_name", "load_library"]

# Values pinned by include/rotor/rotor.h.
OK, ERR_INVALID_ARGUMENT, ERR_OUT_OF_RANGE, ERR_OUT_OF_MEMORY, ERR_UNSUPPORTED, ERR_DEVICE = range(6)
_PAIRING = {"half": 0, "interleaved": 1}
_GROWTH = {"exponential": 0, "linear": 1, "exact": 2, "margin": 3}
_SCALING = {"none": 0, "linear": 1, "ntk": 2, "dynamic_ntk": 3, "yarn": 4, "llama3": 5, "longrope": 6}
_DTYPE_F32, _DTYPE_F16, _DTYPE_BF16 = 0, 1, 2
_FORWARD, _INVERSE = 0, 1
_INT32_MAX = 2**31 - 1


class _Config(ctypes.Structure):
    """rotor_config, field for field (C enums are int). Checked against the library at load."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32), ("rotary_dim", ctypes.c_uint32),
        ("pairing", ctypes.c_int), ("base", ctypes.c_double),
        ("initial_len", ctypes.c_uint32), ("max_len", ctypes.c_uint32),
        ("growth", ctypes.c_int), ("growth_increment", ctypes.c_uint32),
        ("growth_margin", ctypes.c_float), ("growth_threshold", ctypes.c_float),
        ("scaling", ctypes.c_int), ("factor", ctypes.c_float),
        ("original_max_len", ctypes.c_uint32), ("ntk_dynamic", ctypes.c_int),
        ("beta_fast", ctypes.c_float), ("beta_slow", ctypes.c_float), ("mscale", ctypes.c_float),
        ("mscale_all_dim", ctypes.c_float), ("attention_factor", ctypes.c_float),
        ("low_freq_factor", ctypes.c_float), ("high_freq_factor", ctypes.c_float),
        ("long_factor", ctypes.POINTER(ctypes.c_float)), ("short_factor", ctypes.POINTER(ctypes.c_float)),
    ]


class _Stats(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32), ("rows", ctypes.c_uint32), ("max_len", ctypes.c_uint32),
        ("bytes_in_use", ctypes.c_uint64), ("arena_bytes", ctypes.c_uint64),
        ("grow_events", ctypes.c_uint32), ("rescale_events", ctypes.c_uint32),
        ("factor", ctypes.c_float), ("attention_factor", ctypes.c_float),
    ]


class _Tensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
        ("batch", ctypes.c_uint32), ("seq", ctypes.c_uint32), ("heads", ctypes.c_uint32),
        ("head_dim", ctypes.c_uint32),
        ("stride_batch", ctypes.c_int64), ("stride_seq", ctypes.c_int64), ("stride_head", ctypes.c_int64),
    ]


_p = ctypes.c_void_p
_status = ctypes.c_int
_i32p = ctypes.POINTER(ctypes.c_int32)
_f32p = ctypes.POINTER(ctypes.c_float)
_tensorp = ctypes.POINTER(_Tensor)
# name: (restype, argtypes). Resolved on first use, so a library without an optional
# function still serves every other one.
_PROTOTYPES = {
    "rotor_version": (ctypes.c_uint32, []),
    "rotor_status_string": (ctypes.c_char_p, [ctypes.c_int]),
    "rotor_config_init": (None, [ctypes.POINTER(_Config), ctypes.c_uint32]),
    "rotor_config_preset": (_status, [ctypes.POINTER(_Config), ctypes.c_char_p]),
    "rotor_table_create": (_status, [ctypes.POINTER(_p), ctypes.POINTER(_Config)]),
    "rotor_table_destroy": (None, [_p]),
    "rotor_table_reserve": (_status, [_p, ctypes.c_uint32]),
    "rotor_table_stats_get": (_status, [_p, ctypes.POINTER(_Stats)]),
    "rotor_table_cos_sin": (_status, [_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int, ctypes.c_int,
                                      _p, _p]),
    "rotor_pool_create": (_status, [ctypes.POINTER(_p), ctypes.c_uint32]),
    "rotor_pool_destroy": (None, [_p]),
    "rotor_tensor_bshd": (_Tensor, [_p, ctypes.c_int] + [ctypes.c_uint32] * 4),
    "rotor_apply_to": (_status, [_p, _tensorp, _tensorp, _i32p, ctypes.c_uint32, ctypes.c_int, _p]),
    "rotor_apply_qk": (_status, [_p, _tensorp, _tensorp, _i32p, ctypes.c_uint32, ctypes.c_int, _p]),
    "rotor_apply_cos_sin": (_status, [_f32p, _f32p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int,
                                      _tensorp, _tensorp, _i32p, ctypes.c_uint32, ctypes.c_int, _p]),
    "rotor_kernel_name": (ctypes.c_char_p, []),
}

_lib = None
_functions: dict = {}


def load_library(path: str | None = None) -> ctypes.CDLL:
    """Loads (once) the rotor shared library and checks that this module's view of the C
    structs matches the library's."""
    global _lib
    if _lib is not None and path is None:
        return _lib
    candidates = [path] if path else [os.environ.get("ROTOR_LIBRARY"), ctypes.util.find_library("rotor"),
                                      "librotor.so.1"]
    errors = []
    for candidate in (c for c in candidates if c):
        try:
            lib = ctypes.CDLL(candidate)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise OSError("cannot load librotor (set ROTOR_LIBRARY to its path): " + "; ".join(errors))
    _lib = lib
    _functions.clear()
    cfg = _Config()
    _fn("rotor_config_init")(ctypes.byref(cfg), 64)
    if cfg.struct_size != ctypes.sizeof(_Config):
        raise ImportError(f"rotor_config is {cfg.struct_size} bytes in the library, "
                          f"{ctypes.sizeof(_Config)} here: header and binding differ")
    probe = _fn("rotor_tensor_bshd")(None, _DTYPE_F16, 2, 3, 5, 8)
    if (probe.dtype, probe.heads, probe.stride_batch, probe.stride_seq, probe.stride_head) != (
            _DTYPE_F16, 5, 3 * 5 * 8, 5 * 8, 8):
        raise ImportError("rotor_tensor layout differs between the library and this binding")
    return lib


def _fn(name: str):
    fn = _functions.get(name)
    if fn is None:
        lib = _lib if _lib is not None else load_library()
        fn = getattr(lib, name)  # AttributeError: this library build lacks the function
        fn.restype, fn.argtypes = _PROTOTYPES[name]
        _functions[name] = fn
    return fn


class RotorError(Exception):
    """A rotor_status other than ROTOR_OK. .status is the number, .reason its description."""

    def __init__(self, status: int, call: str = ""):
        self.status = int(status)
        self.reason = status_string(self.status)
        super().__init__(f"{call}: {self.reason}" if call else self.reason)


def _check(status: int, call: str) -> None:
    if status != OK:
        raise RotorError(status, call)


def status_string(status: int) -> str:
    return _fn("rotor_status_string")(int(status)).decode()


def version() -> tuple:
    v = _fn("rotor_version")()
    return (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


def kernel_name() -> str:
    return _fn("rotor_kernel_name")().decode()


def _enum(table: dict, value, what: str) -> int:
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise ValueError(f"unknown {what} {value!r}; one of {sorted(table)}") from None
    return int(value)


def _rotor_dtype(dtype: np.dtype) -> int:
    if dtype == np.float32:
        return _DTYPE_F32
    if dtype == np.float16:
        return _DTYPE_F16
    if dtype.name == "bfloat16":  # ml_dtypes.bfloat16, 2 bytes like the C type
        return _DTYPE_BF16
    raise TypeError(f"rotor works on float32, float16 and bfloat16 arrays, not {dtype}")


def _view(array: np.ndarray, layout: str) -> _Tensor:
    """The rotor_tensor over array's memory (no copy). array must have a contiguous last axis
    and non-negative strides that are whole elements."""
    if array.ndim != 4:
        raise ValueError(f"expected a 4-D array [batch, seq, heads, head_dim] or "
                         f"[batch, heads, seq, head_dim], got shape {array.shape}")
    if layout == "bshd":
        axes = (0, 1, 2)
    elif layout == "bhsd":
        axes = (0, 2, 1)
    else:
        raise ValueError(f"layout must be 'bshd' or 'bhsd', not {layout!r}")
    item = array.itemsize
    batch, seq, heads = (array.shape[a] for a in axes)
    strides = [array.strides[a] // item for a in axes]
    view = _Tensor()
    view.data = array.ctypes.data
    view.dtype = _rotor_dtype(array.dtype)
    view.batch, view.seq, view.heads, view.head_dim = batch, seq, heads, array.shape[3]
    view.stride_batch, view.stride_seq, view.stride_head = strides
    return view


def _passable(array: np.ndarray) -> bool:
    """True when rotor can read the array in place: contiguous head_dim, strides >= 0 and whole."""
    if array.ndim != 4:
        return True  # reported by _view
    last_ok = array.shape[3] <= 1 or array.strides[3] == array.itemsize
    return last_ok and all(s >= 0 and s % array.itemsize == 0 for s in array.strides[:3])


def _input(array) -> np.ndarray:
    array = np.asarray(array)
    _rotor_dtype(array.dtype)
    return array if _passable(array) else np.ascontiguousarray(array)


def _output(x: np.ndarray, out) -> np.ndarray:
    if out is None:
        return np.empty_like(x, order="C")
    if not isinstance(out, np.ndarray) or out.shape != x.shape or out.dtype != x.dtype:
        raise ValueError("out must be a numpy array of the input's shape and dtype")
    if not out.flags.writeable or not _passable(out):
        raise ValueError("out must be writable with a contiguous last axis and non-negative strides")
    return out


def _positions(positions, batch: int, seq: int):
    """[batch, seq] int32 (a [seq] array serves every batch entry), or None for offset + s."""
    if positions is None:
        return None, None
    pos = np.asarray(positions)
    if not np.issubdtype(pos.dtype, np.integer):
        raise TypeError(f"positions must be integers, not {pos.dtype}")
    if pos.ndim == 1:
        pos = np.broadcast_to(pos, (batch, pos.shape[0]))
    if pos.shape != (batch, seq):
        raise ValueError(f"positions must have shape ({batch}, {seq}) or ({seq},), got {pos.shape}")
    if pos.size and (pos.max() > _INT32_MAX or pos.min() < -_INT32_MAX - 1):
        # Would wrap in the int32 the C API takes; the library would refuse them anyway.
        raise RotorError(ERR_OUT_OF_RANGE, "positions")
    pos = np.ascontiguousarray(pos, dtype=np.int32)
    return pos, pos.ctypes.data_as(_i32p)


def _direction(inverse: bool) -> int:
    return _INVERSE if inverse else _FORWARD


class _Owned:
    """A library handle freed by close(), by `with`, or when collected."""

    _destroy = ""  # the C function that frees the handle
    _what = ""

    @property
    def handle(self):
        if self._handle is None:
            raise ValueError(f"the {self._what} is closed")
        return self._handle

    def close(self) -> None:
        if getattr(self, "_handle", None) is not None:
            _fn(self._destroy)(self._handle)
            self._handle = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Pool(_Owned):
    """Worker threads a call may use (rotor_pool_create): pass pool= to the apply functions."""

    _destroy, _what = "rotor_pool_destroy", "pool"

    def __init__(self, threads: int):
        handle = ctypes.c_void_p()
        _check(_fn("rotor_pool_create")(ctypes.byref(handle), int(threads)), "rotor_pool_create")
        self._handle = handle


def _pool_handle(pool):
    return None if pool is None else pool.handle


class Table(_Owned):
    """A rotor_table: cos/sin rows for positions 0 .. max_len-1, computed as needed.

    Table(rotary_dim, **fields) sets any rotor_config field by name after the defaults of
    rotor_config_init (enums as strings: pairing="interleaved", scaling="yarn", growth="exact";
    long_factor/short_factor as sequences of rotary_dim/2 floats). preset="llama-3.1-8b" starts
    from rotor_config_preset instead, rotary_dim then coming from the preset unless given.
    """

    _destroy, _what = "rotor_table_destroy", "table"

    def __init__(self, rotary_dim: int | None = None, *, preset: str | None = None, **fields):
        cfg = _Config()
        _fn("rotor_config_init")(ctypes.byref(cfg), int(rotary_dim or 0))
        if preset is not None:
            _check(_fn("rotor_config_preset")(ctypes.byref(cfg), preset.encode()), f"preset {preset!r}")
            if rotary_dim is not None:
                cfg.rotary_dim = int(rotary_dim)
        keep_alive = []
        for name, value in fields.items():
            if name in ("pairing", "growth", "scaling"):
                value = _enum({"pairing": _PAIRING, "growth": _GROWTH, "scaling": _SCALING}[name], value, name)
            elif name in ("long_factor", "short_factor"):
                factors = np.ascontiguousarray(value, dtype=np.float32)
                keep_alive.append(factors)  # the library copies them during create
                value = factors.ctypes.data_as(_f32p)
            elif name == "struct_size" or name not in dict(_Config._fields_):
                raise TypeError(f"unknown rotor_config field {name!r}")
            setattr(cfg, name, value)
        handle = ctypes.c_void_p()
        _check(_fn("rotor_table_create")(ctypes.byref(handle), ctypes.byref(cfg)), "rotor_table_create")
        self._handle = handle
        self.rotary_dim = cfg.rotary_dim
        self.pairing = "interleaved" if cfg.pairing == _PAIRING["interleaved"] else "half"
        self.config = {name: getattr(cfg, name) for name, _ in _Config._fields_
                       if name not in ("struct_size", "long_factor", "short_factor")}

    def reserve(self, positions: int) -> None:
        _check(_fn("rotor_table_reserve")(self.handle, int(positions)), "rotor_table_reserve")

    def stats(self) -> dict:
        stats = _Stats()
        stats.struct_size = ctypes.sizeof(_Stats)
        _check(_fn("rotor_table_stats_get")(self.handle, ctypes.byref(stats)), "rotor_table_stats_get")
        return {name: getattr(stats, name) for name, _ in _Stats._fields_ if name != "struct_size"}

    def cos_sin(self, start: int, count: int, dtype=np.float32, duplicated: bool = False):
        """cos and sin of positions [start, start + count): two [count, r/2] arrays, or
        [count, r] (Hugging Face's cat(freqs, freqs)) with duplicated=True."""
        dtype = np.dtype(dtype)
        width = self.rotary_dim if duplicated else self.rotary_dim // 2
        cos = np.empty((count, width), dtype=dtype)
        sin = np.empty((count, width), dtype=dtype)
        _check(_fn("rotor_table_cos_sin")(self.handle, int(start), int(count), _rotor_dtype(dtype),
                                          int(bool(duplicated)), cos.ctypes.data, sin.ctypes.data),
               "rotor_table_cos_sin")
        return cos, sin

    def apply(self, x, positions=None, offset: int = 0, *, inverse: bool = False, layout: str = "bshd",
              out=None, pool: Pool | None = None) -> np.ndarray:
        """Rotates x (4-D, see layout) and returns the result: a new array, or out (out=x
        rotates in place). positions: [batch, seq] or [seq] integers; None means offset + s."""
        x = _input(x)
        result = _output(x, out)
        x_view, out_view = _view(x, layout), _view(result, layout)
        _, pos_ptr = _positions(positions, x_view.batch, x_view.seq)
        _check(_fn("rotor_apply_to")(self.handle, ctypes.byref(x_view), ctypes.byref(out_view), pos_ptr,
                                     int(offset), _direction(inverse), _pool_handle(pool)), "rotor_apply")
        return result

    def apply_qk(self, q, k, positions=None, offset: int = 0, *, inverse: bool = False,
                 layout: str = "bshd", pool: Pool | None = None):
        """Rotates q and k together (heads may differ: grouped-query attention). Returns new
        arrays (q and k are not modified)."""
        q_out = np.array(_input(q), order="C", copy=True)
        k_out = np.array(_input(k), order="C", copy=True)
        q_view, k_view = _view(q_out, layout), _view(k_out, layout)
        _, pos_ptr = _positions(positions, q_view.batch, q_view.seq)
        _check(_fn("rotor_apply_qk")(self.handle, ctypes.byref(q_view), ctypes.byref(k_view), pos_ptr,
                                     int(offset), _direction(inverse), _pool_handle(pool)), "rotor_apply_qk")
        return q_out, k_out


def apply_cos_sin(x, cos, sin, positions=None, offset: int = 0, *, pairing: str = "half",
                  rotary_dim: int | None = None, inverse: bool = False, layout: str = "bshd",
                  out=None, pool: Pool | None = None) -> np.ndarray:
    """Rotates x with cos/sin rows the caller brings (rotor_apply_cos_sin): cos and sin are
    [rows, rotary_dim/2] (converted to float32); token (b, s) uses row positions[b, s], or
    offset + s. rotary_dim defaults to 2 * cos.shape[1]."""
    x = _input(x)
    cos = np.ascontiguousarray(cos, dtype=np.float32)
    sin = np.ascontiguousarray(sin, dtype=np.float32)
    if cos.ndim != 2 or cos.shape != sin.shape:
        raise ValueError(f"cos and sin must be 2-D [rows, rotary_dim/2] of one shape, got {cos.shape}, {sin.shape}")
    if rotary_dim is None:
        rotary_dim = 2 * cos.shape[1]
    if cos.shape[1] != rotary_dim // 2:
        raise ValueError(f"cos has {cos.shape[1]} columns; rotary_dim {rotary_dim} needs {rotary_dim // 2}")
    result = _output(x, out)
    x_view, out_view = _view(x, layout), _view(result, layout)
    _, pos_ptr = _positions(positions, x_view.batch, x_view.seq)
    _check(_fn("rotor_apply_cos_sin")(cos.ctypes.data_as(_f32p), sin.ctypes.data_as(_f32p), cos.shape[0],
                                      int(rotary_dim), _enum(_PAIRING, pairing, "pairing"),
                                      ctypes.byref(x_view), ctypes.byref(out_view), pos_ptr, int(offset),
                                      _direction(inverse), _pool_handle(pool)), "rotor_apply_cos_sin")
    return result
