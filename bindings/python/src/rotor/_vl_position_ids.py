"""Qwen-VL M-RoPE position ids (rotor_vl_position_ids): transformers' get_rope_index for
Qwen2-VL, Qwen2.5-VL and Qwen3-VL, computed by the C library from the token kinds and grids."""
from __future__ import annotations

import ctypes
from typing import Any, Optional, Tuple

import numpy as np

from . import _capi
from ._arrays import is_torch, u32
from ._enums import enum_value
from ._errors import RotorError, Status, check
from ._library import library

VL_MODEL = {"qwen2-vl": _capi.ROTOR_VL_QWEN2_VL, "qwen2.5-vl": _capi.ROTOR_VL_QWEN2_5_VL,
            "qwen3-vl": _capi.ROTOR_VL_QWEN3_VL}
VL_RULE = {"transformers5": _capi.ROTOR_VL_RULE_TRANSFORMERS_5, "original": _capi.ROTOR_VL_RULE_ORIGINAL}

_UINT32_MAX = 2**32 - 1


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if is_torch(x) else x)


def _kinds(kinds: Any) -> np.ndarray:
    """uint8 C-order copy of the kinds; a value outside 0 .. 255 is refused, not wrapped."""
    array = _numpy(kinds).reshape(-1)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"kinds must be integers (0 text, 1 image, 2 video), not {array.dtype}")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise RotorError(Status.INVALID_ARGUMENT, "rotor_vl_position_ids", "a token kind is not a rotor_vl_kind")
    return np.ascontiguousarray(array, dtype=np.uint8)


def _grids(grids: Any, what: str) -> np.ndarray:
    """(n, 3) uint32 C-order copy of (t, h, w) rows; None or empty gives zero rows."""
    if grids is None:
        return np.zeros((0, 3), dtype=np.uint32)
    array = _numpy(grids)
    if array.size == 0:
        return np.zeros((0, 3), dtype=np.uint32)
    if array.ndim != 2 or array.shape[1] != 3 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} must be integers of shape (n, 3): (t, h, w) per item, got {array.shape}")
    if array.min() < 0 or array.max() > _UINT32_MAX:
        raise RotorError(Status.OUT_OF_RANGE, what, f"a value of {what} is outside 0 .. 2**32 - 1")
    return np.ascontiguousarray(array, dtype=np.uint32)


def vl_position_ids(kinds: Any, image_grids: Any = None, video_grids: Any = None, *, model: str = "qwen2.5-vl",
                    rule: str = "transformers5", seconds_per_grid: Any = None, tokens_per_second: int = 2,
                    spatial_merge_size: int = 2, out: Optional[np.ndarray] = None) -> Tuple[np.ndarray, int]:
    """The M-RoPE ids of one prompt (rotor_vl_position_ids) and the next position.

    kinds: one value per token, 0 text, 1 image, 2 video (the processor's mm_token_type_ids;
    from token ids: 1 where input_ids == image_token_id, 2 where == video_token_id). image_grids,
    video_grids: (n, 3) integers, (t, h, w) per item before merging (image_grid_thw,
    video_grid_thw). model: "qwen2-vl", "qwen2.5-vl" or "qwen3-vl". rule: "transformers5"
    (transformers 5.x) or "original" (Qwen's code, transformers 4.49; differs after videos).
    seconds_per_grid (Qwen2.5-VL's second_per_grid_ts, one per video, float32) and
    tokens_per_second (its vision_config value, 2 for the released checkpoints) are read for
    Qwen2.5-VL only. Returns (ids, next_position): ids int32 of shape (3, n), rows t, h, w, ready
    for Table.apply_axes (one entry: ids[:, None, :] or as is); decode step k after the prompt
    takes next_position + k on all three axes. out: an int32 C-order (3, n) array to fill
    instead of a new one. RotorError on a layout the grids do not describe (nothing written)."""
    kind_array = _kinds(kinds)
    n = kind_array.size
    images, videos = _grids(image_grids, "image_grids"), _grids(video_grids, "video_grids")
    spg_pointer, spg = None, None
    if seconds_per_grid is not None:
        spg = np.ascontiguousarray(_numpy(seconds_per_grid).reshape(-1), dtype=np.float32)
        if spg.size != videos.shape[0]:
            raise ValueError(f"seconds_per_grid has {spg.size} values for {videos.shape[0]} videos")
        spg_pointer = spg.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    if out is None:
        ids = np.empty((3, n), dtype=np.int32)
    else:
        ids = out
        if (not isinstance(ids, np.ndarray) or ids.dtype != np.int32 or ids.shape != (3, n)
                or not ids.flags.c_contiguous or not ids.flags.writeable):
            raise ValueError(f"out must be a writable C-order int32 array of shape (3, {n})")
    next_position = ctypes.c_int32()
    u32p = ctypes.POINTER(ctypes.c_uint32)
    check(library().rotor_vl_position_ids(
        enum_value(VL_MODEL, model, "model"), enum_value(VL_RULE, rule, "rule"),
        kind_array.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), u32(n, "tokens"),
        images.ctypes.data_as(u32p), u32(images.shape[0], "images"), videos.ctypes.data_as(u32p),
        u32(videos.shape[0], "videos"), spg_pointer, u32(tokens_per_second, "tokens_per_second"),
        u32(spatial_merge_size, "spatial_merge_size"), ids.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), n,
        ctypes.byref(next_position)), "rotor_vl_position_ids")
    return ids, next_position.value
