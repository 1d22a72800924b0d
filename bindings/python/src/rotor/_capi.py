"""rotor's C API (include/rotor/rotor.h) as ctypes declarations, and nothing else.

This module needs only the standard library, so bindings/check_header.py can import it by path
and compare it with the header: every ROTOR_API function in PROTOTYPES (name, argument count,
argument and return types), every enum in ENUMS (every value), every struct field for field.
C enums travel as int32 (each has a *_FORCE_32BIT enumerator that keeps it 4 bytes wide).
Opaque handles (rotor_table *, rotor_pool *, rotor_kv_cache *) are c_void_p. DEFINES holds the
header's integer macros (version, alignment, limits), compared with the header too.
"""
import ctypes
from ctypes import POINTER, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p

ENUMS = {
    "rotor_status": {
        "ROTOR_OK": 0, "ROTOR_ERR_INVALID_ARGUMENT": 1, "ROTOR_ERR_OUT_OF_RANGE": 2, "ROTOR_ERR_OUT_OF_MEMORY": 3,
        "ROTOR_ERR_UNSUPPORTED": 4, "ROTOR_ERR_DEVICE": 5, "ROTOR_ERR_RESCALED": 6, "ROTOR_ERR_INTERNAL": 7,
        "ROTOR_ERR_NO_ROTARY": 8,
        "ROTOR_STATUS_FORCE_32BIT": 0x7FFFFFFF,
    },
    "rotor_pairing": {"ROTOR_PAIRING_HALF": 0, "ROTOR_PAIRING_INTERLEAVED": 1, "ROTOR_PAIRING_FORCE_32BIT": 0x7FFFFFFF},
    "rotor_growth": {
        "ROTOR_GROWTH_EXPONENTIAL": 0, "ROTOR_GROWTH_LINEAR": 1, "ROTOR_GROWTH_EXACT": 2, "ROTOR_GROWTH_MARGIN": 3,
        "ROTOR_GROWTH_FORCE_32BIT": 0x7FFFFFFF,
    },
    "rotor_scaling": {
        "ROTOR_SCALING_NONE": 0, "ROTOR_SCALING_LINEAR": 1, "ROTOR_SCALING_NTK": 2, "ROTOR_SCALING_DYNAMIC_NTK": 3,
        "ROTOR_SCALING_YARN": 4, "ROTOR_SCALING_LLAMA3": 5, "ROTOR_SCALING_LONGROPE": 6,
        "ROTOR_SCALING_PROPORTIONAL": 7, "ROTOR_SCALING_FORCE_32BIT": 0x7FFFFFFF,
    },
    "rotor_layout": {
        "ROTOR_LAYOUT_1D": 0, "ROTOR_LAYOUT_MROPE": 1, "ROTOR_LAYOUT_MROPE_INTERLEAVED": 2,
        "ROTOR_LAYOUT_VISION_HALVES": 3, "ROTOR_LAYOUT_VISION_ALTERNATE": 4, "ROTOR_LAYOUT_FORCE_32BIT": 0x7FFFFFFF,
    },
    # Q8_0 and Q4_0 (1.3) are KV cache storage only: tensors refuse them.
    "rotor_dtype": {
        "ROTOR_DTYPE_F32": 0, "ROTOR_DTYPE_F16": 1, "ROTOR_DTYPE_BF16": 2, "ROTOR_DTYPE_Q8_0": 3, "ROTOR_DTYPE_Q4_0": 4,
        "ROTOR_DTYPE_FORCE_32BIT": 0x7FFFFFFF,
    },
    "rotor_event_reason": {
        "ROTOR_EVENT_GROW": 0, "ROTOR_EVENT_GROW_AHEAD": 1, "ROTOR_EVENT_RESERVE": 2, "ROTOR_EVENT_RESCALE": 3,
        "ROTOR_EVENT_REASON_FORCE_32BIT": 0x7FFFFFFF,
    },
    "rotor_direction": {"ROTOR_FORWARD": 0, "ROTOR_INVERSE": 1, "ROTOR_DIRECTION_FORCE_32BIT": 0x7FFFFFFF},
    "rotor_rescale_policy": {
        "ROTOR_RESCALE_REROTATE": 0, "ROTOR_RESCALE_PIN": 1, "ROTOR_RESCALE_REFUSE": 2,
        "ROTOR_RESCALE_POLICY_FORCE_32BIT": 0x7FFFFFFF,
    },
    "rotor_vl_model": {
        "ROTOR_VL_QWEN2_VL": 0, "ROTOR_VL_QWEN2_5_VL": 1, "ROTOR_VL_QWEN3_VL": 2, "ROTOR_VL_MODEL_FORCE_32BIT": 0x7FFFFFFF,
    },
    "rotor_vl_rule": {
        "ROTOR_VL_RULE_TRANSFORMERS_5": 0, "ROTOR_VL_RULE_ORIGINAL": 1, "ROTOR_VL_RULE_FORCE_32BIT": 0x7FFFFFFF,
    },
    "rotor_vl_kind": {
        "ROTOR_VL_KIND_TEXT": 0, "ROTOR_VL_KIND_IMAGE": 1, "ROTOR_VL_KIND_VIDEO": 2,
        "ROTOR_VL_KIND_FORCE_32BIT": 0x7FFFFFFF,
    },
}
globals().update({name: value for values in ENUMS.values() for name, value in values.items()})

# Every integer #define of rotor.h (check_header.py compares them, both ways).
DEFINES = {
    "ROTOR_VERSION_MAJOR": 1, "ROTOR_VERSION_MINOR": 3, "ROTOR_VERSION_PATCH": 0,
    "ROTOR_MAX_AXES_ROTARY_DIM": 1024, "ROTOR_ARENA_ALIGNMENT": 64, "ROTOR_EPOCH_HISTORY": 16,
    "ROTOR_KV_UNROTATED_KEYS": 1, "ROTOR_KV_MAX_QUANTIZED_HEAD_DIM": 1024,
}
VERSION = (DEFINES["ROTOR_VERSION_MAJOR"], DEFINES["ROTOR_VERSION_MINOR"], DEFINES["ROTOR_VERSION_PATCH"])
ARENA_ALIGNMENT = DEFINES["ROTOR_ARENA_ALIGNMENT"]
EPOCH_HISTORY = DEFINES["ROTOR_EPOCH_HISTORY"]
MAX_AXES_ROTARY_DIM = DEFINES["ROTOR_MAX_AXES_ROTARY_DIM"]
KV_UNROTATED_KEYS = DEFINES["ROTOR_KV_UNROTATED_KEYS"]
KV_MAX_QUANTIZED_HEAD_DIM = DEFINES["ROTOR_KV_MAX_QUANTIZED_HEAD_DIM"]
_64_BIT = ctypes.sizeof(c_void_p) == 8
_enum = c_int32


class rotor_config(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("rotary_dim", c_uint32), ("pairing", _enum), ("reserved_0", c_uint32),
        ("base", c_double), ("initial_len", c_uint32), ("max_len", c_uint32), ("growth", _enum),
        ("growth_increment", c_uint32), ("growth_margin", c_float), ("growth_threshold", c_float),
        ("scaling", _enum), ("factor", c_float), ("original_max_len", c_uint32), ("ntk_dynamic", c_int),
        ("beta_fast", c_float), ("beta_slow", c_float), ("mscale", c_float), ("mscale_all_dim", c_float),
        ("attention_factor", c_float), ("low_freq_factor", c_float), ("high_freq_factor", c_float),
    ] + (
        # Padding before the pointers on 64-bit targets, after them on 32-bit ones (rotor.h).
        [("reserved_1", c_uint32), ("long_factor", POINTER(c_float)), ("short_factor", POINTER(c_float))]
        if _64_BIT else
        [("long_factor", POINTER(c_float)), ("short_factor", POINTER(c_float)), ("reserved_1", c_uint32)]
    ) + [
        # Appended in rotor 1.1: a 1.0 library refuses this larger struct_size rather than
        # ignore fields it does not know (the probe in _library.library() reports that).
        ("layout", _enum), ("mrope_section", c_uint32 * 3), ("rope_pairs", c_uint32), ("reserved_2", c_uint32),
        # Appended in rotor 1.2: how many floats long_factor and short_factor each hold, so the
        # library never reads past arrays of another length (the binding always sets it).
        ("factor_count", c_uint32), ("reserved_3", c_uint32),
    ]


class rotor_table_stats(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("rows", c_uint32), ("max_len", c_uint32), ("reserved_0", c_uint32),
        ("bytes_in_use", c_uint64), ("arena_bytes", c_uint64), ("grow_events", c_uint32),
        ("rescale_events", c_uint32), ("factor", c_float), ("attention_factor", c_float), ("epoch", c_uint64),
        ("key_rerotations", c_uint64),
    ]


class rotor_table_event(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32), ("reason", _enum), ("old_rows", c_uint32), ("new_rows", c_uint32),
        ("old_factor", c_float), ("new_factor", c_float),
    ]


class rotor_tensor(ctypes.Structure):
    _fields_ = [
        ("data", c_void_p), ("dtype", _enum), ("batch", c_uint32), ("seq", c_uint32), ("heads", c_uint32),
        ("head_dim", c_uint32),
    ] + (
        # The padding before the int64 strides exists (and is named) on 64-bit targets only.
        [("reserved_0", c_uint32)] if _64_BIT else []
    ) + [("stride_batch", c_int64), ("stride_seq", c_int64), ("stride_head", c_int64)]


class rotor_kv_cache_config(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("key_dtype", _enum), ("value_dtype", _enum), ("flags", c_uint32)]


rotor_table_event_fn = ctypes.CFUNCTYPE(None, c_void_p, POINTER(rotor_table_event))

_status = _enum
_handle = c_void_p
_out_handle = POINTER(c_void_p)
_cfg = POINTER(rotor_config)
_tensor = POINTER(rotor_tensor)
_kv_cfg = POINTER(rotor_kv_cache_config)
_i32s = POINTER(c_int32)
_f32s = POINTER(c_float)

# Every ROTOR_API function of rotor.h: name -> (restype, argtypes), in the header's order.
PROTOTYPES = {
    "rotor_version": (c_uint32, []),
    "rotor_status_string": (c_char_p, [_status]),
    "rotor_last_error_message": (c_char_p, []),
    "rotor_config_init_sized": (_status, [_cfg, c_size_t, c_uint32]),
    "rotor_config_init": (None, [_cfg, c_uint32]),  # 1.0 binaries' entry point; use _sized
    "rotor_table_arena_size": (c_size_t, [_cfg]),
    "rotor_table_init": (_status, [_out_handle, _cfg, c_void_p, c_size_t]),
    "rotor_table_create": (_status, [_out_handle, _cfg]),
    "rotor_table_destroy": (None, [_handle]),
    "rotor_table_reserve": (_status, [_handle, c_uint32]),
    "rotor_table_stats_get": (_status, [_handle, POINTER(rotor_table_stats)]),
    "rotor_table_cos_sin": (_status, [_handle, c_uint32, c_uint32, _enum, c_int, c_void_p, c_void_p]),
    "rotor_table_set_event_callback": (_status, [_handle, rotor_table_event_fn, c_void_p]),
    "rotor_tensor_bshd": (rotor_tensor, [c_void_p, _enum, c_uint32, c_uint32, c_uint32, c_uint32]),
    "rotor_tensor_bhsd": (rotor_tensor, [c_void_p, _enum, c_uint32, c_uint32, c_uint32, c_uint32]),
    "rotor_pool_create": (_status, [_out_handle, c_uint32]),
    "rotor_pool_destroy": (None, [_handle]),
    "rotor_apply": (_status, [_handle, _tensor, _i32s, c_uint32, _enum, _handle]),
    "rotor_apply_qk": (_status, [_handle, _tensor, _tensor, _i32s, c_uint32, _enum, _handle]),
    "rotor_apply_to": (_status, [_handle, _tensor, _tensor, _i32s, c_uint32, _enum, _handle]),
    "rotor_apply_cos_sin": (_status, [_f32s, _f32s, c_uint32, c_uint32, _enum, _tensor, _tensor, _i32s, c_uint32,
                                      _enum, _handle]),
    "rotor_apply_axes": (_status, [_handle, _tensor, _i32s, _enum, _handle]),
    "rotor_apply_qk_axes": (_status, [_handle, _tensor, _tensor, _i32s, _enum, _handle]),
    "rotor_vl_position_ids": (_status, [_enum, _enum, POINTER(ctypes.c_uint8), c_uint32, POINTER(c_uint32), c_uint32,
                                        POINTER(c_uint32), c_uint32, _f32s, c_uint32, c_uint32, _i32s, c_size_t,
                                        _i32s]),
    "rotor_config_preset_sized": (_status, [_cfg, c_size_t, c_char_p]),
    "rotor_config_preset": (_status, [_cfg, c_char_p]),  # 1.0 binaries' entry point; use _sized
    "rotor_preset_table_name": (_status, [c_char_p, c_uint32, POINTER(c_char_p)]),
    "rotor_preset_layers": (_status, [c_char_p, POINTER(c_uint32)]),
    "rotor_preset_layer_table": (_status, [c_char_p, c_uint32, POINTER(c_char_p)]),
    "rotor_preset_count": (c_uint32, []),
    "rotor_preset_name": (_status, [c_uint32, POINTER(c_char_p)]),
    "rotor_config_from_gguf_sized": (_status, [_cfg, c_size_t, c_void_p, c_size_t, c_uint32]),
    "rotor_gguf_layers": (_status, [c_void_p, c_size_t, POINTER(c_uint32)]),
    "rotor_kernel_name": (c_char_p, []),
    "rotor_kernel_count": (c_uint32, []),
    "rotor_kernel_available": (c_char_p, [c_uint32]),
    "rotor_kernel_force": (_status, [c_char_p]),
    "rotor_kv_cache_config_init_sized": (_status, [_kv_cfg, c_size_t, _enum]),
    "rotor_kv_cache_arena_size_ex": (c_size_t, [c_uint32, c_uint32, c_uint32, _kv_cfg]),
    "rotor_kv_cache_init_ex": (_status, [_out_handle, c_uint32, c_uint32, c_uint32, _kv_cfg, c_void_p, c_size_t]),
    "rotor_kv_cache_get_config": (_status, [_handle, _kv_cfg]),
    "rotor_kv_cache_arena_size": (c_size_t, [c_uint32, c_uint32, c_uint32, _enum]),
    "rotor_kv_cache_init": (_status, [_out_handle, c_uint32, c_uint32, c_uint32, _enum, c_void_p, c_size_t]),
    "rotor_kv_cache_length": (c_uint32, [_handle]),
    "rotor_kv_cache_get_length": (_status, [_handle, POINTER(c_uint32)]),
    "rotor_kv_cache_reset": (_status, [_handle]),
    "rotor_attention_workspace_size": (c_size_t, [c_uint32, c_uint32, c_uint32, c_uint32, c_uint32]),
    "rotor_attention_forward": (_status, [_handle, POINTER(c_void_p), _tensor, _tensor, _tensor, _tensor, c_float,
                                          c_void_p, c_size_t, _handle]),
    "rotor_attention_forward_axes": (_status, [_handle, POINTER(c_void_p), _tensor, _tensor, _tensor, _tensor, _i32s,
                                               c_float, c_void_p, c_size_t, _handle]),
    "rotor_table_set_rescale_policy": (_status, [_handle, _enum]),
    "rotor_table_epoch": (_status, [_handle, POINTER(c_uint64)]),
    "rotor_kv_cache_epoch": (_status, [_handle, POINTER(c_uint64)]),
    "rotor_kv_cache_rerotations": (_status, [_handle, POINTER(c_uint64)]),
    "rotor_rerotate_workspace_size": (c_size_t, [c_uint32, c_uint32]),
    "rotor_rerotate_keys": (_status, [_handle, _tensor, _i32s, c_uint32, c_uint64, POINTER(c_uint64), c_void_p,
                                      c_size_t, _handle]),
    "rotor_attention_scale": (_status, [_cfg, c_uint32, POINTER(c_float)]),
    "rotor_kv_cache_evict": (_status, [_handle, _handle, c_uint32, c_uint32, _handle]),
}


def bind(lib: ctypes.CDLL) -> None:
    """Sets restype and argtypes of every function on lib. A library that lacks one (older than
    this binding) raises ImportError naming them all, before anything is bound."""
    missing = [name for name in PROTOTYPES if not hasattr(lib, name)]
    if missing:
        raise ImportError(f"{lib._name} lacks {', '.join(missing)}: it is older than this binding "
                          f"(rotor {'.'.join(map(str, VERSION))})")
    for name, (restype, argtypes) in PROTOTYPES.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
