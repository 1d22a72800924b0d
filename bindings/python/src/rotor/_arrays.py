"""The caller's memory as the C API sees it: numpy arrays and torch CPU tensors as rotor_tensor
views or raw pointers, positions as int32, byte buffers (arenas, workspaces), and the checks
that make every pointer handed to C safe: C trusts a pointer's dtype, size and writability, so
each is verified here, before the call, and an array C cannot use as it is is refused, never
copied behind the caller's back."""
from __future__ import annotations

import ctypes
import sys
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import _capi
from ._enums import QUANTIZED_DTYPE
from ._errors import RotorError, Status

Array = Any  # a numpy.ndarray or a torch.Tensor
Positions = Optional[Any]  # None, or integers of shape [batch, seq] or [seq]

_UINT32_MAX = 2**32 - 1
_INT32_MIN, _INT32_MAX = -2**31, 2**31 - 1

_NUMPY_DTYPES = {np.dtype(np.float32): _capi.ROTOR_DTYPE_F32, np.dtype(np.float16): _capi.ROTOR_DTYPE_F16,
                 np.dtype(np.uint16): _capi.ROTOR_DTYPE_BF16}
_TORCH_DTYPES = {"torch.float32": _capi.ROTOR_DTYPE_F32, "torch.float16": _capi.ROTOR_DTYPE_F16,
                 "torch.bfloat16": _capi.ROTOR_DTYPE_BF16}
_DTYPE_NAMES = {_capi.ROTOR_DTYPE_F32: "float32", _capi.ROTOR_DTYPE_F16: "float16",
                _capi.ROTOR_DTYPE_BF16: "bfloat16"}


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "data_ptr")


def rotor_dtype(dtype: Any) -> int:
    """The rotor_dtype of a numpy or torch dtype (uint16 and bfloat16 are bf16)."""
    # A numpy array's own dtype first, by one dict lookup: str(dtype) alone costs microseconds,
    # a tenth of a whole small apply_to call (docs/performance-history.md, "out of place").
    if isinstance(dtype, np.dtype) and dtype in _NUMPY_DTYPES:
        return _NUMPY_DTYPES[dtype]
    if str(dtype) in _TORCH_DTYPES:
        return _TORCH_DTYPES[str(dtype)]
    if isinstance(dtype, str) and dtype.lower() in QUANTIZED_DTYPE:
        # Named before numpy sees it, which would only say "data type 'q8_0' not understood".
        raise TypeError(f"{dtype} is a KV cache storage type (KVCache(dtype={dtype.lower()!r})); arrays and "
                        f"tensors are float32, float16 or bfloat16")
    dtype = np.dtype(dtype)
    if dtype in _NUMPY_DTYPES:
        return _NUMPY_DTYPES[dtype]
    if dtype.name == "bfloat16" and dtype.itemsize == 2:  # ml_dtypes.bfloat16
        return _capi.ROTOR_DTYPE_BF16
    raise TypeError(f"rotor works on float32, float16 and bfloat16 (or its uint16 bits), not {dtype}")


def u32(value: Any, what: str) -> int:
    """value as a uint32_t argument. ctypes would wrap it silently (2**32 + 5 becomes 5, -1
    becomes 2**32 - 1): a value outside 0 .. 2**32 - 1 is OUT_OF_RANGE instead."""
    value = int(value)
    if not 0 <= value <= _UINT32_MAX:
        raise RotorError(Status.OUT_OF_RANGE, what, f"{what} = {value} is outside 0 .. 2**32 - 1")
    return value


def layout_axes(layout: str) -> Tuple[int, int, int]:
    """The array axes of batch, seq and heads for a memory layout."""
    if layout == "bshd":
        return (0, 1, 2)
    if layout == "bhsd":
        return (0, 2, 1)
    raise ValueError(f"layout must be 'bshd' or 'bhsd', not {layout!r}")


def require_writable(x: Array, what: str) -> None:
    """ValueError unless C may write x's memory: a numpy array flagged writeable (np.frombuffer
    of bytes is not); a torch tensor that autograd does not track (C's writes would bypass its
    version counter and corrupt gradients silently) and, for an inference tensor, inside
    torch.inference_mode (torch forbids in-place writes to it elsewhere)."""
    if is_torch(x):
        if x.requires_grad:
            raise ValueError(f"{what} requires grad: rotor would write it behind autograd's back (pass x.detach())")
        torch = sys.modules["torch"]
        if getattr(x, "is_inference", lambda: False)() and not torch.is_inference_mode_enabled():
            raise ValueError(f"{what} is an inference tensor, read-only outside torch.inference_mode()")
    elif isinstance(x, np.ndarray) and not x.flags.writeable:
        raise ValueError(f"{what} is read-only")


def _memory(x: Array, what: str, writable: bool) -> Tuple[tuple, tuple, int, Any]:
    """(shape, strides in elements, address, dtype) of a numpy array or a CPU torch tensor C can
    address: writable if asked, aligned to its element (C reads whole elements), strides whole
    elements, every dimension a uint32_t."""
    if is_torch(x):
        if x.device.type != "cpu":
            raise ValueError(f"{what}: rotor's Python binding works on CPU tensors, not {x.device}")
        if str(x.layout) != "torch.strided":
            raise ValueError(f"{what}: rotor needs a dense (strided) tensor, not {x.layout}")
        if writable:
            require_writable(x, what)
        shape, strides, address, dtype = tuple(x.shape), tuple(x.stride()), x.data_ptr(), x.dtype
        item = x.element_size()
    elif isinstance(x, np.ndarray):
        if writable:
            require_writable(x, what)
        item = x.itemsize
        if any(s % item for s in x.strides):
            raise ValueError(f"{what}: strides {x.strides} are not whole elements")
        shape, strides, address, dtype = x.shape, tuple(s // item for s in x.strides), x.ctypes.data, x.dtype
    else:
        raise TypeError(f"{what} must be a numpy array or a torch tensor, not {type(x).__name__}")
    if address % item:
        raise ValueError(f"{what} is not aligned to its {item}-byte elements")
    if any(n > _UINT32_MAX for n in shape):
        raise ValueError(f"{what}: shape {tuple(shape)} has a dimension past 2**32 - 1")
    return tuple(shape), strides, address, dtype


def view(x: Array, layout: str, what: str = "x", writable: bool = True) -> _capi.rotor_tensor:
    """The rotor_tensor over x's own memory (writable: C writes it). Refuses (ValueError) what
    rotor cannot address."""
    shape, strides, address, dtype = _memory(x, what, writable)
    if len(shape) != 4:
        raise ValueError(f"{what} must be 4-D [batch, seq, heads, head_dim] or [batch, heads, seq, head_dim], "
                         f"got shape {shape}")
    if shape[3] > 1 and strides[3] != 1:
        raise ValueError(f"{what}: each head's head_dim elements must be contiguous (stride {strides[3]})")
    if any(s < 0 for s in strides):
        raise ValueError(f"{what}: negative strides cannot be passed to this call (rotor_tensor strides are >= 0; "
                         f"apply, apply_qk and apply_to turn such axes around)")
    a = layout_axes(layout)
    result = _capi.rotor_tensor()
    result.data, result.dtype = address, rotor_dtype(dtype)
    result.batch, result.seq, result.heads, result.head_dim = shape[a[0]], shape[a[1]], shape[a[2]], shape[3]
    result.stride_batch, result.stride_seq, result.stride_head = strides[a[0]], strides[a[1]], strides[a[2]]
    return result


_VIEW_FIELDS = ("dtype", "batch", "seq", "heads", "head_dim")


def require_match(a: _capi.rotor_tensor, a_name: str, b: _capi.rotor_tensor, b_name: str,
                  fields: Sequence[str] = _VIEW_FIELDS) -> None:
    """ValueError when two views differ in a field the call needs equal (dtype, dims)."""
    for field in fields:
        left, right = getattr(a, field), getattr(b, field)
        if left != right:
            if field == "dtype":
                left, right = _DTYPE_NAMES.get(left, left), _DTYPE_NAMES.get(right, right)
            raise ValueError(f"{a_name} and {b_name} must agree on {field}: {left} and {right}")


def dense(x: Array, what: str, shape: Tuple[int, ...], writable: bool = True) -> Tuple[int, int]:
    """(address, rotor_dtype) of a C-contiguous array of exactly `shape`, which C reads or
    writes as plain memory: a raw pointer carries no size, dtype or writability, so all three
    are checked here (ValueError)."""
    got_shape, strides, address, dtype = _memory(x, what, writable)
    contiguous = x.is_contiguous() if is_torch(x) else x.flags.c_contiguous
    if got_shape != tuple(shape) or not contiguous:
        raise ValueError(f"{what} must be C-contiguous of shape {tuple(shape)}, got shape {got_shape}"
                         f"{'' if contiguous else ' (not contiguous)'}")
    return address, rotor_dtype(dtype)


def dtype_name(rotor_type: int) -> str:
    return _DTYPE_NAMES.get(rotor_type, str(rotor_type))


def like(x: Array) -> Array:
    """A new C-contiguous array of x's shape and dtype (torch: a CPU tensor)."""
    if is_torch(x):
        return x.new_empty(tuple(x.shape))
    return np.empty(x.shape, dtype=x.dtype)


def _int32(pos: np.ndarray) -> Tuple[np.ndarray, Any]:
    """(int32 C-order array kept alive, its pointer): integers only, each within int32 (the C
    API's type; a larger one would wrap into another position)."""
    if pos.size and not np.issubdtype(pos.dtype, np.integer):
        raise TypeError(f"positions must be integers, not {pos.dtype}")
    if pos.size and (pos.max() > _INT32_MAX or pos.min() < _INT32_MIN):
        raise RotorError(Status.OUT_OF_RANGE, "positions", "a position does not fit in int32")
    # The only copy the binding may make: positions become the int32 array the C API reads.
    pos = np.ascontiguousarray(pos, dtype=np.int32)
    return pos, pos.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def _as_numpy(positions: Any) -> np.ndarray:
    return np.asarray(positions.cpu().numpy() if is_torch(positions) else positions)


def positions(positions: Positions, batch: int, seq: int) -> Tuple[Any, Any]:
    """(array kept alive, int32 pointer) for [batch, seq] positions ([seq] serves every entry):
    the library reads exactly batch * seq of them. None gives (None, None): offset + s."""
    if positions is None:
        return None, None
    pos = _as_numpy(positions)
    if pos.ndim == 1:
        pos = np.broadcast_to(pos, (batch, pos.shape[0]))
    if pos.shape != (batch, seq):
        raise ValueError(f"positions must have shape ({batch}, {seq}) or ({seq},), got {pos.shape}")
    return _int32(pos)


def axes_positions(positions: Any, axes: int, batch: int, seq: int, layout: str) -> Tuple[Any, Any]:
    """(array kept alive, int32 pointer) of ids of shape (axes, batch, seq) or (axes, batch*seq):
    the library reads exactly axes * batch * seq of them, axis-major."""
    pos = _as_numpy(positions)
    if pos.shape not in ((axes, batch, seq), (axes, batch * seq)):
        raise ValueError(f"positions of a {layout!r} table must have shape ({axes}, {batch}, {seq}) or "
                         f"({axes}, {batch * seq}), got {pos.shape}")
    return _int32(pos)


def with_positive_strides(arrays: Sequence[Array], layout: str, positions: Positions,
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
    axes = layout_axes(layout)
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
            pos = _as_numpy(positions)
        pos = np.broadcast_to(pos, (batch, seq)) if pos.ndim == 1 else pos
        if pos.shape != (batch, seq):
            raise ValueError(f"positions must have shape ({batch}, {seq}) or ({seq},), got {pos.shape}")
        for role in flipped:
            pos = np.flip(pos, role)
        positions, offset = pos, 0
    return arrays, positions, offset, tuple(turned)


def aligned_buffer(nbytes: int) -> np.ndarray:
    """A zeroed uint8 array of nbytes whose address is 64-byte aligned (ROTOR_ARENA_ALIGNMENT):
    an arena for Table(arena=...), KVCache(arena=...) or a workspace. Zeroed memory of this size
    comes from the OS untouched, so it costs no resident memory until rotor writes to it."""
    raw = np.zeros(int(nbytes) + _capi.ARENA_ALIGNMENT, dtype=np.uint8)
    skip = (-raw.ctypes.data) % _capi.ARENA_ALIGNMENT
    return raw[skip:skip + int(nbytes)]


def byte_buffer(buffer: Any, what: str, call: str, need: int) -> Tuple[int, int, Any]:
    """(address, size, array keeping it alive) of the memory an arena or workspace argument
    lends C (a numpy array of any dtype, a bytearray, a writable memoryview). C is told its true
    size; it is checked here first all the same, so the error names the buffer: not writable
    or not contiguous is ValueError; misaligned is INVALID_ARGUMENT and smaller than `need`
    bytes OUT_OF_MEMORY, as RotorError with the status C would return."""
    if is_torch(buffer):
        raise TypeError(f"{what} must be a numpy array or a bytes-like buffer (see aligned_buffer), not a tensor")
    array = buffer if isinstance(buffer, np.ndarray) else np.frombuffer(buffer, dtype=np.uint8)
    if not array.flags.writeable or not array.flags.c_contiguous:
        raise ValueError(f"{what} must be a writable, contiguous buffer")
    address, size = array.ctypes.data, array.nbytes
    if address % _capi.ARENA_ALIGNMENT:
        raise RotorError(Status.INVALID_ARGUMENT, call,
                         f"{what} is not {_capi.ARENA_ALIGNMENT}-byte aligned (see aligned_buffer)")
    if size < need:
        raise RotorError(Status.OUT_OF_MEMORY, call, f"{what} holds {size} bytes, {need} are needed")
    return address, size, array
