"""rotor_config from Python keywords: the library's defaults or a preset, then fields by name."""
from __future__ import annotations

import ctypes
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _capi
from ._arrays import u32
from ._enums import CONFIG_FIELDS, enum_value
from ._errors import RotorError, Status, check
from ._library import library

# Fields the caller never sets by name: sizes and padding, and factor_count, which must always
# be the length of the factor arrays the config points at (a count that overstated it would
# send the library reading past their end), so only make_config sets it.
HIDDEN_FIELDS = ("struct_size", "reserved_0", "reserved_1", "reserved_2", "reserved_3", "factor_count")
FACTOR_FIELDS = ("long_factor", "short_factor")
_INTEGER_TYPES = (ctypes.c_uint32, ctypes.c_int32, ctypes.c_int)


def _set_field(cfg: _capi.rotor_config, name: str, value: Any) -> None:
    """setattr, refusing an integer its C field would wrap (ctypes keeps the low bits silently:
    max_len=2**32 + 100 would become 100)."""
    setattr(cfg, name, value)
    ctype = dict(_capi.rotor_config._fields_)[name]
    if ctype in _INTEGER_TYPES and getattr(cfg, name) != value:
        raise ValueError(f"{name} = {value} does not fit rotor_config's {ctype.__name__} field")


def make_config(rotary_dim: Optional[int], preset: Optional[str],
                fields: Dict[str, Any]) -> Tuple[_capi.rotor_config, List[np.ndarray]]:
    """(rotor_config, the arrays it points at, to be kept alive while it is used) from
    rotor_config_init_sized or rotor_config_preset_sized, then fields by name."""
    lib = library()
    cfg = _capi.rotor_config()
    size = ctypes.sizeof(cfg)
    check(lib.rotor_config_init_sized(ctypes.byref(cfg), size, u32(rotary_dim or 0, "rotary_dim")),
          "rotor_config_init_sized")
    lengths: Dict[str, int] = {}  # factor field -> floats its pointer reaches
    if preset is not None:
        check(lib.rotor_config_preset_sized(ctypes.byref(cfg), size, preset.encode()), f"preset {preset!r}")
        # A LongRoPE preset's arrays live in the library and hold factor_count floats each.
        lengths = {name: cfg.factor_count for name in FACTOR_FIELDS if getattr(cfg, name)}
        if rotary_dim is not None:
            cfg.rotary_dim = u32(rotary_dim, "rotary_dim")
    keep_alive = []
    known = {name for name, _ in _capi.rotor_config._fields_} - set(HIDDEN_FIELDS)
    for name, value in fields.items():
        if name not in known:
            raise TypeError(f"unknown rotor_config field {name!r}")
        if name in CONFIG_FIELDS:
            value = enum_value(CONFIG_FIELDS[name], value, name)
        elif name in FACTOR_FIELDS:
            factors = np.ascontiguousarray(value, dtype=np.float32)
            if factors.shape != (cfg.rotary_dim // 2,):  # the library reads exactly r/2 values
                raise ValueError(f"{name} must hold rotary_dim/2 = {cfg.rotary_dim // 2} values")
            keep_alive.append(factors)
            lengths[name] = factors.shape[0]
            value = factors.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        elif name == "mrope_section":
            section = [u32(n, "mrope_section") for n in value]
            if len(section) != 3:  # t, h, w: the C field is uint32_t[3]
                raise ValueError(f"mrope_section must hold 3 values (t, h, w), got {len(section)}")
            value = (ctypes.c_uint32 * 3)(*section)
        _set_field(cfg, name, value)
    half = cfg.rotary_dim // 2
    if any(length != half for length in lengths.values()):
        # A preset's arrays for another rotary_dim (phi-3-mini-128k's 48 floats under
        # rotary_dim 128 would be read as 64): refused as the library refuses it.
        held = ", ".join(f"{name} holds {length}" for name, length in lengths.items())
        raise RotorError(Status.INVALID_ARGUMENT, f"preset {preset!r}" if preset else "rotor_config",
                         f"rotary_dim {cfg.rotary_dim} needs {half} LongRoPE factors, but {held}: pass "
                         f"long_factor= and short_factor= of {half} values each, or keep the preset's "
                         f"rotary_dim")
    cfg.factor_count = half if lengths else 0
    return cfg, keep_alive


def config_dict(cfg: _capi.rotor_config) -> Dict[str, Any]:
    """The fields a caller may set, by name (the factor arrays left out: pointers)."""
    result = {name: getattr(cfg, name) for name, _ in _capi.rotor_config._fields_
              if name not in HIDDEN_FIELDS + FACTOR_FIELDS}
    result["mrope_section"] = tuple(cfg.mrope_section)  # a plain tuple, not a ctypes array
    return result
