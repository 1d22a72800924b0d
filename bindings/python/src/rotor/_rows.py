"""Rotation with cos/sin rows the caller brings (rotor_apply_cos_sin), no table involved."""
from __future__ import annotations

import ctypes
from typing import Optional

import numpy as np

from ._arrays import Array, Positions, is_torch, positions as int32_positions, require_match, u32, view
from ._enums import PAIRING, direction, enum_value
from ._errors import check
from ._library import library
from ._pool import Pool, pool_handle


def apply_cos_sin(x: Array, cos: Array, sin: Array, positions: Positions = None, offset: int = 0, *,
                  pairing: str = "half", rotary_dim: Optional[int] = None, inverse: bool = False,
                  layout: str = "bshd", out: Optional[Array] = None, pool: Optional[Pool] = None) -> Array:
    """Rotates x with cos/sin rows the caller brings (rotor_apply_cos_sin): in place (x then
    writable), or into out (x's shape and dtype, writable). cos and sin are [rows, rotary_dim/2]
    float32 (other float types are converted: the one copy made, of the rows, never of x);
    token (b, s) uses row positions[b, s], or offset + s. rotary_dim defaults to
    2 * cos.shape[1]. Returns the rotated array (x or out)."""
    if is_torch(cos):
        cos = cos.detach().cpu().float().contiguous().numpy()
    if is_torch(sin):
        sin = sin.detach().cpu().float().contiguous().numpy()
    # C reads rows * rotary_dim/2 floats from each bare pointer: float32, C order, checked shape.
    cos = np.ascontiguousarray(cos, dtype=np.float32)
    sin = np.ascontiguousarray(sin, dtype=np.float32)
    if cos.ndim != 2 or cos.shape != sin.shape:
        raise ValueError(f"cos and sin must be 2-D [rows, rotary_dim/2] of one shape, got {cos.shape}, {sin.shape}")
    if rotary_dim is None:
        rotary_dim = 2 * cos.shape[1]
    if cos.shape[1] != int(rotary_dim) // 2:
        raise ValueError(f"cos has {cos.shape[1]} columns; rotary_dim {rotary_dim} needs {int(rotary_dim) // 2}")
    result = x if out is None else out
    x_view = view(x, layout, "x", writable=out is None)
    out_view = view(result, layout, "out")
    require_match(x_view, "x", out_view, "out")
    _, pos = int32_positions(positions, x_view.batch, x_view.seq)
    f32p = ctypes.POINTER(ctypes.c_float)
    check(library().rotor_apply_cos_sin(cos.ctypes.data_as(f32p), sin.ctypes.data_as(f32p), u32(cos.shape[0], "rows"),
                                        u32(rotary_dim, "rotary_dim"), enum_value(PAIRING, pairing, "pairing"),
                                        ctypes.byref(x_view), ctypes.byref(out_view), pos, u32(offset, "offset"),
                                        direction(inverse), pool_handle(pool)), "rotor_apply_cos_sin")
    return result
