"""rotor.h's enums as the strings the Python API takes (pairing="interleaved", ...)."""
from __future__ import annotations

from typing import Any, Dict

from . import _capi

PAIRING = {"half": _capi.ROTOR_PAIRING_HALF, "interleaved": _capi.ROTOR_PAIRING_INTERLEAVED}
GROWTH = {"exponential": _capi.ROTOR_GROWTH_EXPONENTIAL, "linear": _capi.ROTOR_GROWTH_LINEAR,
          "exact": _capi.ROTOR_GROWTH_EXACT, "margin": _capi.ROTOR_GROWTH_MARGIN}
SCALING = {"none": _capi.ROTOR_SCALING_NONE, "linear": _capi.ROTOR_SCALING_LINEAR, "ntk": _capi.ROTOR_SCALING_NTK,
           "dynamic_ntk": _capi.ROTOR_SCALING_DYNAMIC_NTK, "yarn": _capi.ROTOR_SCALING_YARN,
           "llama3": _capi.ROTOR_SCALING_LLAMA3, "longrope": _capi.ROTOR_SCALING_LONGROPE,
           "proportional": _capi.ROTOR_SCALING_PROPORTIONAL}
# rotor_layout: which position id each rotary pair takes, and how many ids a token brings.
LAYOUT = {"1d": _capi.ROTOR_LAYOUT_1D, "mrope": _capi.ROTOR_LAYOUT_MROPE,
          "mrope_interleaved": _capi.ROTOR_LAYOUT_MROPE_INTERLEAVED,
          "vision_halves": _capi.ROTOR_LAYOUT_VISION_HALVES, "vision_alternate": _capi.ROTOR_LAYOUT_VISION_ALTERNATE}
AXES = {_capi.ROTOR_LAYOUT_1D: 1, _capi.ROTOR_LAYOUT_MROPE: 3, _capi.ROTOR_LAYOUT_MROPE_INTERLEAVED: 3,
        _capi.ROTOR_LAYOUT_VISION_HALVES: 2, _capi.ROTOR_LAYOUT_VISION_ALTERNATE: 2}
POLICY = {"rerotate": _capi.ROTOR_RESCALE_REROTATE, "pin": _capi.ROTOR_RESCALE_PIN,
          "refuse": _capi.ROTOR_RESCALE_REFUSE}
REASON = {_capi.ROTOR_EVENT_GROW: "grow", _capi.ROTOR_EVENT_GROW_AHEAD: "grow_ahead",
          _capi.ROTOR_EVENT_RESERVE: "reserve", _capi.ROTOR_EVENT_RESCALE: "rescale"}
# A KV cache's storage types by name (KVCache(dtype="q8_0"), key_dtype=, value_dtype=): ggml's
# block quantizations have no numpy dtype, so strings name them; the float types keep numpy's
# names, which KVCache.key_dtype and value_dtype report, and rotor.h's short ones.
QUANTIZED_DTYPE = {"q8_0": _capi.ROTOR_DTYPE_Q8_0, "q4_0": _capi.ROTOR_DTYPE_Q4_0}
CACHE_DTYPE = {"float32": _capi.ROTOR_DTYPE_F32, "float16": _capi.ROTOR_DTYPE_F16,
               "bfloat16": _capi.ROTOR_DTYPE_BF16, "f32": _capi.ROTOR_DTYPE_F32, "f16": _capi.ROTOR_DTYPE_F16,
               "bf16": _capi.ROTOR_DTYPE_BF16, **QUANTIZED_DTYPE}
CACHE_DTYPE_NAME = {_capi.ROTOR_DTYPE_F32: "float32", _capi.ROTOR_DTYPE_F16: "float16",
                    _capi.ROTOR_DTYPE_BF16: "bfloat16", _capi.ROTOR_DTYPE_Q8_0: "q8_0",
                    _capi.ROTOR_DTYPE_Q4_0: "q4_0"}
# rotor_config's enum-typed fields, which Table(**fields) takes by name.
CONFIG_FIELDS = {"pairing": PAIRING, "growth": GROWTH, "scaling": SCALING, "layout": LAYOUT}


def enum_value(table: Dict[str, int], value: Any, what: str) -> int:
    """A name of `table` (any case) or a raw C value."""
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise ValueError(f"unknown {what} {value!r}; one of {sorted(table)}") from None
    return int(value)


def direction(inverse: bool) -> int:
    return _capi.ROTOR_INVERSE if inverse else _capi.ROTOR_FORWARD
