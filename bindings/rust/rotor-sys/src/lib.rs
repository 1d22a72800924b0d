//! Raw declarations of rotor's C API, `include/rotor/rotor.h`, one for one.
//!
//! Every `ROTOR_API` function, enum and struct of the header is here under its C name. The
//! declarations are checked against the header by `bindings/check_header.py` (run by this
//! crate's tests), so they cannot drift. The safe API is the `rotor` crate.
//!
//! Enums are `i32` type aliases with one constant per enumerator, not Rust enums: the library
//! could return a value this crate does not know (a newer library), and a Rust enum holding an
//! unknown discriminant is undefined behaviour. rotor's enums are 4 bytes whatever the
//! compiler's flags (each has a `ROTOR_*_FORCE_32BIT = 0x7fffffff` enumerator).
//!
//! Linking: `build.rs` builds the static library from this repository with CMake, or links an
//! installed one (`ROTOR_LIB_DIR`, or pkg-config with `ROTOR_USE_PKG_CONFIG=1`); see build.rs.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

// ---- Version and errors ---------------------------------------------------------------------

pub const ROTOR_VERSION_MAJOR: u32 = 1;
pub const ROTOR_VERSION_MINOR: u32 = 3;
pub const ROTOR_VERSION_PATCH: u32 = 0;

pub type rotor_status = i32;
pub const ROTOR_OK: rotor_status = 0;
pub const ROTOR_ERR_INVALID_ARGUMENT: rotor_status = 1;
pub const ROTOR_ERR_OUT_OF_RANGE: rotor_status = 2;
pub const ROTOR_ERR_OUT_OF_MEMORY: rotor_status = 3;
pub const ROTOR_ERR_UNSUPPORTED: rotor_status = 4;
pub const ROTOR_ERR_DEVICE: rotor_status = 5;
pub const ROTOR_ERR_RESCALED: rotor_status = 6;
/// Since 1.2: a system primitive the library relies on (a mutex, a once-flag) failed.
pub const ROTOR_ERR_INTERNAL: rotor_status = 7;
/// Since 1.3: this layer of the model has no rotary embedding: rotate nothing there.
pub const ROTOR_ERR_NO_ROTARY: rotor_status = 8;
pub const ROTOR_STATUS_FORCE_32BIT: rotor_status = 0x7fffffff;

// ---- Configuration --------------------------------------------------------------------------

pub type rotor_pairing = i32;
pub const ROTOR_PAIRING_HALF: rotor_pairing = 0;
pub const ROTOR_PAIRING_INTERLEAVED: rotor_pairing = 1;
pub const ROTOR_PAIRING_FORCE_32BIT: rotor_pairing = 0x7fffffff;

pub type rotor_growth = i32;
pub const ROTOR_GROWTH_EXPONENTIAL: rotor_growth = 0;
pub const ROTOR_GROWTH_LINEAR: rotor_growth = 1;
pub const ROTOR_GROWTH_EXACT: rotor_growth = 2;
pub const ROTOR_GROWTH_MARGIN: rotor_growth = 3;
pub const ROTOR_GROWTH_FORCE_32BIT: rotor_growth = 0x7fffffff;

pub type rotor_scaling = i32;
pub const ROTOR_SCALING_NONE: rotor_scaling = 0;
pub const ROTOR_SCALING_LINEAR: rotor_scaling = 1;
pub const ROTOR_SCALING_NTK: rotor_scaling = 2;
pub const ROTOR_SCALING_DYNAMIC_NTK: rotor_scaling = 3;
pub const ROTOR_SCALING_YARN: rotor_scaling = 4;
pub const ROTOR_SCALING_LLAMA3: rotor_scaling = 5;
pub const ROTOR_SCALING_LONGROPE: rotor_scaling = 6;
pub const ROTOR_SCALING_PROPORTIONAL: rotor_scaling = 7;
pub const ROTOR_SCALING_FORCE_32BIT: rotor_scaling = 0x7fffffff;

pub type rotor_layout = i32;
pub const ROTOR_LAYOUT_1D: rotor_layout = 0;
pub const ROTOR_LAYOUT_MROPE: rotor_layout = 1;
pub const ROTOR_LAYOUT_MROPE_INTERLEAVED: rotor_layout = 2;
pub const ROTOR_LAYOUT_VISION_HALVES: rotor_layout = 3;
pub const ROTOR_LAYOUT_VISION_ALTERNATE: rotor_layout = 4;
pub const ROTOR_LAYOUT_FORCE_32BIT: rotor_layout = 0x7fffffff;

pub const ROTOR_MAX_AXES_ROTARY_DIM: u32 = 1024;

pub type rotor_dtype = i32;
pub const ROTOR_DTYPE_F32: rotor_dtype = 0;
pub const ROTOR_DTYPE_F16: rotor_dtype = 1;
pub const ROTOR_DTYPE_BF16: rotor_dtype = 2;
/// Since 1.3: ggml's Q8_0 (32 int8 and an f16 scale per block); KV cache storage only.
pub const ROTOR_DTYPE_Q8_0: rotor_dtype = 3;
/// Since 1.3: ggml's Q4_0 (32 nibbles and an f16 scale per block); KV cache storage only.
pub const ROTOR_DTYPE_Q4_0: rotor_dtype = 4;
pub const ROTOR_DTYPE_FORCE_32BIT: rotor_dtype = 0x7fffffff;

/// `rotor_config`. Fill it with [`rotor_config_init_sized`] (passing `size_of::<rotor_config>()`):
/// a library newer than this crate then treats the fields it has and this struct lacks as
/// defaults. The reserved fields must stay zero.
///
/// `long_factor` and `short_factor` (LONGROPE) are read for `rotary_dim / 2` floats each: set
/// `factor_count` to the number of floats they really hold, so that a library of 1.2 or later
/// refuses (INVALID_ARGUMENT) rather than read past them when `rotary_dim` disagrees.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rotor_config {
    pub struct_size: u32,
    pub rotary_dim: u32,
    pub pairing: rotor_pairing,
    pub reserved_0: u32,
    pub base: f64,
    pub initial_len: u32,
    pub max_len: u32,
    pub growth: rotor_growth,
    pub growth_increment: u32,
    pub growth_margin: f32,
    pub growth_threshold: f32,
    pub scaling: rotor_scaling,
    pub factor: f32,
    pub original_max_len: u32,
    pub ntk_dynamic: c_int,
    pub beta_fast: f32,
    pub beta_slow: f32,
    pub mscale: f32,
    pub mscale_all_dim: f32,
    pub attention_factor: f32,
    pub low_freq_factor: f32,
    pub high_freq_factor: f32,
    // The padding sits before the pointers on 64-bit targets, after them on 32-bit ones (where
    // the struct's double makes it 8-aligned): offsets are rotor 1.0's on both.
    #[cfg(target_pointer_width = "64")]
    pub reserved_1: u32,
    pub long_factor: *const f32,
    pub short_factor: *const f32,
    #[cfg(target_pointer_width = "32")]
    pub reserved_1: u32,
    // Appended in rotor 1.1: a 1.0 library refuses this larger struct_size (INVALID_ARGUMENT)
    // rather than ignore fields it does not know.
    pub layout: rotor_layout,
    pub mrope_section: [u32; 3],
    pub rope_pairs: u32,
    pub reserved_2: u32,
    // Appended in rotor 1.2 (a 1.1 library refuses this larger struct_size, as above).
    // LONGROPE: floats in long_factor and in short_factor each; must be rotary_dim / 2, 0 = not
    // given (the arrays are then trusted to hold rotary_dim / 2 floats, as before 1.2).
    pub factor_count: u32,
    pub reserved_3: u32,
}

// rotor.h's sizes of the structs that grow or are laid out by pointer width, checked wherever
// this crate compiles (tests/header.rs checks every offset at run time).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<rotor_config>() == 144 && std::mem::size_of::<rotor_tensor>() == 56);
#[cfg(target_pointer_width = "32")]
const _: () = assert!(std::mem::size_of::<rotor_config>() == 136 && std::mem::size_of::<rotor_tensor>() == 48);

// ---- Tables ---------------------------------------------------------------------------------

/// Opaque: only ever behind a pointer the library hands out.
#[repr(C)]
pub struct rotor_table {
    _private: [u8; 0],
}

pub const ROTOR_ARENA_ALIGNMENT: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct rotor_table_stats {
    pub struct_size: u32,
    pub rows: u32,
    pub max_len: u32,
    pub reserved_0: u32,
    pub bytes_in_use: u64,
    pub arena_bytes: u64,
    pub grow_events: u32,
    pub rescale_events: u32,
    pub factor: f32,
    pub attention_factor: f32,
    pub epoch: u64,
    pub key_rerotations: u64,
}

pub type rotor_event_reason = i32;
pub const ROTOR_EVENT_GROW: rotor_event_reason = 0;
pub const ROTOR_EVENT_GROW_AHEAD: rotor_event_reason = 1;
pub const ROTOR_EVENT_RESERVE: rotor_event_reason = 2;
pub const ROTOR_EVENT_RESCALE: rotor_event_reason = 3;
pub const ROTOR_EVENT_REASON_FORCE_32BIT: rotor_event_reason = 0x7fffffff;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rotor_table_event {
    pub struct_size: u32,
    pub reason: rotor_event_reason,
    pub old_rows: u32,
    pub new_rows: u32,
    pub old_factor: f32,
    pub new_factor: f32,
}

/// `void (*)(void *user, const rotor_table_event *event)`; `None` is C's NULL.
pub type rotor_table_event_fn = Option<unsafe extern "C" fn(*mut c_void, *const rotor_table_event)>;

// ---- Applying -------------------------------------------------------------------------------

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct rotor_tensor {
    pub data: *mut c_void,
    pub dtype: rotor_dtype,
    pub batch: u32,
    pub seq: u32,
    pub heads: u32,
    pub head_dim: u32,
    // Explicit padding (ignored by the library): named since 1.2 so that every byte of the view
    // is a field; the strides' offsets are those of rotor 1.0 on 64- and 32-bit targets alike.
    #[cfg(target_pointer_width = "64")]
    pub reserved_0: u32,
    pub stride_batch: i64,
    pub stride_seq: i64,
    pub stride_head: i64,
}

pub type rotor_direction = i32;
pub const ROTOR_FORWARD: rotor_direction = 0;
pub const ROTOR_INVERSE: rotor_direction = 1;
pub const ROTOR_DIRECTION_FORCE_32BIT: rotor_direction = 0x7fffffff;

// ---- Qwen-VL position ids (1.3) -------------------------------------------------------------

pub type rotor_vl_model = i32;
pub const ROTOR_VL_QWEN2_VL: rotor_vl_model = 0;
pub const ROTOR_VL_QWEN2_5_VL: rotor_vl_model = 1;
pub const ROTOR_VL_QWEN3_VL: rotor_vl_model = 2;
pub const ROTOR_VL_MODEL_FORCE_32BIT: rotor_vl_model = 0x7fffffff;

pub type rotor_vl_rule = i32;
pub const ROTOR_VL_RULE_TRANSFORMERS_5: rotor_vl_rule = 0;
pub const ROTOR_VL_RULE_ORIGINAL: rotor_vl_rule = 1;
pub const ROTOR_VL_RULE_FORCE_32BIT: rotor_vl_rule = 0x7fffffff;

pub type rotor_vl_kind = i32;
pub const ROTOR_VL_KIND_TEXT: rotor_vl_kind = 0;
pub const ROTOR_VL_KIND_IMAGE: rotor_vl_kind = 1;
pub const ROTOR_VL_KIND_VIDEO: rotor_vl_kind = 2;
pub const ROTOR_VL_KIND_FORCE_32BIT: rotor_vl_kind = 0x7fffffff;

#[repr(C)]
pub struct rotor_pool {
    _private: [u8; 0],
}

// ---- Attention and rescales -----------------------------------------------------------------

#[repr(C)]
pub struct rotor_kv_cache {
    _private: [u8; 0],
}

/// Since 1.3: keys stored un-rotated and rotated at each read (`rotor_kv_cache_config::flags`).
pub const ROTOR_KV_UNROTATED_KEYS: u32 = 1;
/// Since 1.3: the largest head_dim of a Q8_0 or Q4_0 cache (which also needs a multiple of 32).
pub const ROTOR_KV_MAX_QUANTIZED_HEAD_DIM: u32 = 1024;

/// `rotor_kv_cache_config` (1.3): a sized struct; fill it with
/// [`rotor_kv_cache_config_init_sized`] (passing `size_of::<rotor_kv_cache_config>()`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct rotor_kv_cache_config {
    pub struct_size: u32,
    pub key_dtype: rotor_dtype,
    pub value_dtype: rotor_dtype,
    pub flags: u32,
}

pub type rotor_rescale_policy = i32;
pub const ROTOR_RESCALE_REROTATE: rotor_rescale_policy = 0;
pub const ROTOR_RESCALE_PIN: rotor_rescale_policy = 1;
pub const ROTOR_RESCALE_REFUSE: rotor_rescale_policy = 2;
pub const ROTOR_RESCALE_POLICY_FORCE_32BIT: rotor_rescale_policy = 0x7fffffff;

pub const ROTOR_EPOCH_HISTORY: u64 = 16;

// Every ROTOR_API function of rotor.h, in the header's order. The documentation of each is the
// header's comment.
extern "C" {
    pub fn rotor_version() -> u32;
    pub fn rotor_status_string(s: rotor_status) -> *const c_char;
    /// Since 1.2: why the last rotor call on this thread failed ("" after a success); static
    /// storage, never NULL. Read it on the failing thread before making another rotor call.
    pub fn rotor_last_error_message() -> *const c_char;

    pub fn rotor_config_init_sized(cfg: *mut rotor_config, cfg_size: usize, rotary_dim: u32) -> rotor_status;
    /// The pre-`_sized` entry point, kept for old binaries: call [`rotor_config_init_sized`].
    pub fn rotor_config_init(cfg: *mut rotor_config, rotary_dim: u32);

    pub fn rotor_table_arena_size(cfg: *const rotor_config) -> usize;
    pub fn rotor_table_init(out: *mut *mut rotor_table, cfg: *const rotor_config, arena: *mut c_void,
                            arena_size: usize) -> rotor_status;
    pub fn rotor_table_create(out: *mut *mut rotor_table, cfg: *const rotor_config) -> rotor_status;
    pub fn rotor_table_destroy(t: *mut rotor_table);
    pub fn rotor_table_reserve(t: *mut rotor_table, positions: u32) -> rotor_status;
    pub fn rotor_table_stats_get(t: *const rotor_table, out: *mut rotor_table_stats) -> rotor_status;
    pub fn rotor_table_cos_sin(t: *mut rotor_table, start: u32, count: u32, dtype: rotor_dtype, duplicated: c_int,
                               cos_out: *mut c_void, sin_out: *mut c_void) -> rotor_status;
    pub fn rotor_table_set_event_callback(t: *mut rotor_table, fn_: rotor_table_event_fn,
                                          user: *mut c_void) -> rotor_status;

    pub fn rotor_tensor_bshd(data: *mut c_void, dt: rotor_dtype, b: u32, s: u32, h: u32, d: u32) -> rotor_tensor;
    pub fn rotor_tensor_bhsd(data: *mut c_void, dt: rotor_dtype, b: u32, s: u32, h: u32, d: u32) -> rotor_tensor;

    pub fn rotor_pool_create(out: *mut *mut rotor_pool, threads: u32) -> rotor_status;
    pub fn rotor_pool_destroy(p: *mut rotor_pool);

    pub fn rotor_apply(t: *mut rotor_table, x: *const rotor_tensor, positions: *const i32, offset: u32,
                       dir: rotor_direction, pool: *mut rotor_pool) -> rotor_status;
    pub fn rotor_apply_qk(t: *mut rotor_table, q: *const rotor_tensor, k: *const rotor_tensor, positions: *const i32,
                          offset: u32, dir: rotor_direction, pool: *mut rotor_pool) -> rotor_status;
    pub fn rotor_apply_to(t: *mut rotor_table, in_: *const rotor_tensor, out: *const rotor_tensor,
                          positions: *const i32, offset: u32, dir: rotor_direction, pool: *mut rotor_pool)
                          -> rotor_status;
    pub fn rotor_apply_cos_sin(cos: *const f32, sin: *const f32, rows: u32, rotary_dim: u32, pairing: rotor_pairing,
                               in_: *const rotor_tensor, out: *const rotor_tensor, positions: *const i32, offset: u32,
                               dir: rotor_direction, pool: *mut rotor_pool) -> rotor_status;
    pub fn rotor_apply_axes(t: *mut rotor_table, x: *const rotor_tensor, positions: *const i32, dir: rotor_direction,
                            pool: *mut rotor_pool) -> rotor_status;
    pub fn rotor_apply_qk_axes(t: *mut rotor_table, q: *const rotor_tensor, k: *const rotor_tensor,
                               positions: *const i32, dir: rotor_direction, pool: *mut rotor_pool) -> rotor_status;
    /// Since 1.3: Qwen-VL M-RoPE position ids (transformers' get_rope_index).
    pub fn rotor_vl_position_ids(model: rotor_vl_model, rule: rotor_vl_rule, kinds: *const u8, n_tokens: u32,
                                 image_grids: *const u32, n_images: u32, video_grids: *const u32, n_videos: u32,
                                 seconds_per_grid: *const f32, tokens_per_second: u32, spatial_merge_size: u32,
                                 ids: *mut i32, ids_row_stride: usize, next_position_out: *mut i32)
                                 -> rotor_status;

    pub fn rotor_config_preset_sized(cfg: *mut rotor_config, cfg_size: usize, model_name: *const c_char)
                                     -> rotor_status;
    /// The pre-`_sized` entry point, kept for old binaries: call [`rotor_config_preset_sized`].
    pub fn rotor_config_preset(cfg: *mut rotor_config, model_name: *const c_char) -> rotor_status;
    pub fn rotor_preset_table_name(model_name: *const c_char, index: u32, name_out: *mut *const c_char)
                                   -> rotor_status;
    pub fn rotor_preset_layers(model_name: *const c_char, layers_out: *mut u32) -> rotor_status;
    pub fn rotor_preset_layer_table(model_name: *const c_char, layer: u32, name_out: *mut *const c_char)
                                    -> rotor_status;
    /// Since 1.2: the number of names [`rotor_preset_name`] lists (cannot fail).
    pub fn rotor_preset_count() -> u32;
    /// Since 1.2: the index-th preset or model name (static storage).
    pub fn rotor_preset_name(index: u32, name_out: *mut *const c_char) -> rotor_status;

    /// Since 1.3: a layer's config from a GGUF image in memory (see rotor.h, "Model files").
    pub fn rotor_config_from_gguf_sized(cfg: *mut rotor_config, cfg_size: usize, data: *const c_void, size: usize,
                                        layer: u32) -> rotor_status;
    /// Since 1.3: the layer count (`{arch}.block_count`) of a GGUF image.
    pub fn rotor_gguf_layers(data: *const c_void, size: usize, layers_out: *mut u32) -> rotor_status;

    pub fn rotor_kernel_name() -> *const c_char;
    pub fn rotor_kernel_count() -> u32;
    pub fn rotor_kernel_available(index: u32) -> *const c_char;
    pub fn rotor_kernel_force(name: *const c_char) -> rotor_status;

    /// Since 1.3: caches whose keys and values have their own storage types (Q8_0 and Q4_0
    /// among them) and un-rotated keys.
    pub fn rotor_kv_cache_config_init_sized(c: *mut rotor_kv_cache_config, c_size: usize, dtype: rotor_dtype)
                                            -> rotor_status;
    pub fn rotor_kv_cache_arena_size_ex(kv_heads: u32, head_dim: u32, max_len: u32, c: *const rotor_kv_cache_config)
                                        -> usize;
    pub fn rotor_kv_cache_init_ex(out: *mut *mut rotor_kv_cache, kv_heads: u32, head_dim: u32, max_len: u32,
                                  c: *const rotor_kv_cache_config, arena: *mut c_void, arena_size: usize)
                                  -> rotor_status;
    pub fn rotor_kv_cache_get_config(c: *const rotor_kv_cache, out: *mut rotor_kv_cache_config) -> rotor_status;
    pub fn rotor_kv_cache_arena_size(kv_heads: u32, head_dim: u32, max_len: u32, dtype: rotor_dtype) -> usize;
    pub fn rotor_kv_cache_init(out: *mut *mut rotor_kv_cache, kv_heads: u32, head_dim: u32, max_len: u32,
                               dtype: rotor_dtype, arena: *mut c_void, arena_size: usize) -> rotor_status;
    pub fn rotor_kv_cache_length(c: *const rotor_kv_cache) -> u32;
    pub fn rotor_kv_cache_get_length(c: *const rotor_kv_cache, out: *mut u32) -> rotor_status;
    pub fn rotor_kv_cache_reset(c: *mut rotor_kv_cache) -> rotor_status;
    pub fn rotor_attention_workspace_size(q_heads: u32, kv_heads: u32, head_dim: u32, max_new_tokens: u32,
                                          threads: u32) -> usize;
    pub fn rotor_attention_forward(t: *mut rotor_table, caches: *const *mut rotor_kv_cache, q: *const rotor_tensor,
                                   k: *const rotor_tensor, v: *const rotor_tensor, out: *const rotor_tensor,
                                   scale: f32, workspace: *mut c_void, workspace_size: usize,
                                   pool: *mut rotor_pool) -> rotor_status;
    pub fn rotor_attention_forward_axes(t: *mut rotor_table, caches: *const *mut rotor_kv_cache,
                                        q: *const rotor_tensor, k: *const rotor_tensor, v: *const rotor_tensor,
                                        out: *const rotor_tensor, positions: *const i32, scale: f32,
                                        workspace: *mut c_void, workspace_size: usize, pool: *mut rotor_pool)
                                        -> rotor_status;

    pub fn rotor_table_set_rescale_policy(t: *mut rotor_table, policy: rotor_rescale_policy) -> rotor_status;
    pub fn rotor_table_epoch(t: *const rotor_table, out: *mut u64) -> rotor_status;
    pub fn rotor_kv_cache_epoch(c: *const rotor_kv_cache, out: *mut u64) -> rotor_status;
    pub fn rotor_kv_cache_rerotations(c: *const rotor_kv_cache, out: *mut u64) -> rotor_status;
    pub fn rotor_rerotate_workspace_size(head_dim: u32, threads: u32) -> usize;
    pub fn rotor_rerotate_keys(t: *mut rotor_table, keys: *const rotor_tensor, positions: *const i32, offset: u32,
                               from_epoch: u64, to_epoch: *mut u64, workspace: *mut c_void, workspace_size: usize,
                               pool: *mut rotor_pool) -> rotor_status;
    pub fn rotor_attention_scale(cfg: *const rotor_config, head_dim: u32, scale_out: *mut f32) -> rotor_status;

    pub fn rotor_kv_cache_evict(t: *mut rotor_table, c: *mut rotor_kv_cache, start: u32, count: u32,
                                pool: *mut rotor_pool) -> rotor_status;
}
