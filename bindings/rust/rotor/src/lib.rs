//! Rotary Position Embeddings for LLM inference: a safe API over rotor's C library.
//!
//! ```
//! use rotor::{Config, Direction, Dtype, Layout, Positions, Table, TensorMut};
//!
//! let table = Table::create(&Config::new(128).base(500000.0).max_len(8192))?;
//! let mut q = vec![0.5f32; 16 * 32 * 128]; // [batch 1, seq 16, 32 heads, head_dim 128]
//! let mut k = vec![0.25f32; 16 * 8 * 128];
//! let mut qv = TensorMut::new(&mut q, Dtype::F32, [1, 16, 32, 128], Layout::Bshd)?;
//! let mut kv = TensorMut::new(&mut k, Dtype::F32, [1, 16, 8, 128], Layout::Bshd)?;
//! table.apply_qk(&mut qv, &mut kv, Positions::Offset(0), Direction::Forward, None)?;
//! assert_eq!(table.apply(&mut qv, Positions::Offset(8190), Direction::Forward, None),
//!            Err(rotor::Error::OutOfRange));
//! # Ok::<(), rotor::Error>(())
//! ```
//!
//! - [`Table`]: cos/sin rows, shared by any number of threads (`Send + Sync`), in memory the
//!   library allocates once ([`Table::create`]) or in an arena you lend ([`Table::init`], the
//!   table then borrows it: `Table<'arena>`).
//! - Views ([`TensorMut`], [`Tensor`]) over `&mut [f32]` or `&mut [u16]` (f16 / bf16 bit
//!   patterns), any non-negative strides with each head's head_dim contiguous; every element a
//!   view addresses is checked to lie inside its slice. Nothing is copied: the library works on
//!   your memory.
//! - Multi-axis RoPE (Qwen2-VL / Qwen3-VL M-RoPE, 2-D vision RoPE): a config with a
//!   [`RopeLayout`], then [`Table::apply_axes`], [`Table::apply_qk_axes`] and
//!   [`Table::attention_forward_axes`] with one id per axis and token.
//! - Qwen-VL position ids: [`vl_position_ids`] computes the M-RoPE ids of a Qwen2-VL,
//!   Qwen2.5-VL or Qwen3-VL prompt from its token kinds and vision grids (transformers'
//!   `get_rope_index`), for [`Table::apply_axes`].
//! - Context shift and StreamingLLM: [`KvCache::evict`] drops cached tokens and moves the later
//!   keys to their new positions.
//! - Quantized KV caches: [`KvCache::with_config`] and a [`KvCacheConfig`] choose the keys' and
//!   the values' storage ([`CacheType`]: f32, f16, bf16, ggml's Q8_0 and Q4_0) and whether keys
//!   are stored un-rotated (rotated at read; a context shift then rounds nothing).
//! - Model presets: [`Config::preset`] by a name of [`presets()`]; models whose layers use
//!   different tables (Gemma 3 / 4, Llama 4, Command R7B): the [`presets`](mod@presets) module.
//! - Errors are [`Error`]: an [`ErrorKind`] (one per `rotor_status`) and the reason, the
//!   library's `rotor_last_error_message` or this crate's own ([`Error::message`]).
//! - Soundness: every pointer this crate hands the library comes with the length the library
//!   will read, checked first (views against their slices, positions, cos/sin rows, cache
//!   lists, LongRoPE factors, which a [`Config`] owns); arenas and workspaces are exclusive
//!   borrows whose size and alignment the library checks before it writes.
//! - Linking: see rotor-sys's build.rs (builds the static library from the repository, or uses
//!   an installed one through `ROTOR_LIB_DIR` or pkg-config).
#![deny(missing_docs)]

mod attention;
mod config;
mod error;
mod gguf;
mod memory;
pub mod presets;
mod table;
mod tensor;
mod vl_position_ids;

use std::ffi::{CStr, CString};

pub use attention::{attention_workspace_size, rerotate_workspace_size, KvCache, KvCacheConfig};
pub use config::{CacheType, Config, Direction, Dtype, EventReason, Growth, Pairing, RescalePolicy, RopeLayout,
                 Scaling};
pub use error::{Error, ErrorKind, Result};
pub use gguf::{gguf_layers, gguf_layers_bytes};
pub use memory::Arena;
pub use rotor_sys as sys;
pub use table::{apply_cos_sin, apply_cos_sin_in_place, Event, Pool, Stats, Table};
pub use tensor::{Element, Layout, Positions, Tensor, TensorMut};
pub use vl_position_ids::{vl_position_ids, vl_position_ids_into, VlKind, VlModel, VlPrompt, VlRule};

/// The linked library's version (major, minor, patch).
pub fn version() -> (u32, u32, u32) {
    // SAFETY: no arguments; cannot fail.
    let v = unsafe { sys::rotor_version() };
    (v >> 16, (v >> 8) & 0xff, v & 0xff)
}

fn static_str(text: *const std::os::raw::c_char) -> Option<&'static str> {
    if text.is_null() {
        return None;
    }
    // SAFETY: callers pass what the kernel name and preset functions return: NULL or a
    // NUL-terminated string in the library's static storage.
    unsafe { CStr::from_ptr(text) }.to_str().ok()
}

/// The kernel set in use ("scalar", "avx2", "neon64", ...).
pub fn kernel_name() -> &'static str {
    // SAFETY: no arguments; never NULL.
    static_str(unsafe { sys::rotor_kernel_name() }).unwrap_or("?")
}

/// The kernel sets this CPU can run, best first (the scalar reference last).
pub fn kernels() -> Vec<&'static str> {
    // SAFETY: no arguments.
    let count = unsafe { sys::rotor_kernel_count() };
    // SAFETY: any index is accepted (NULL past the end).
    (0..count).filter_map(|i| static_str(unsafe { sys::rotor_kernel_available(i) })).collect()
}

/// Every name [`Config::preset`] and the [`presets`](mod@presets) functions accept
/// (`rotor_preset_count`, `rotor_preset_name`), in the library's order: single-table presets,
/// models whose layers use different tables ("gemma-3-4b", "gemma-4": a name for
/// [`presets::layers`], not for [`Config::preset`]), and since 1.2 aliases such as
/// "llama-3-8b", "llama-3.2-1b", "qwen2.5-7b" (each a preset with its model's values).
///
/// ```
/// let names = rotor::presets();
/// assert!(names.contains(&"llama-3.2-1b"));
/// for name in names {
///     // A config of its own, or a model whose layers name their tables.
///     assert!(rotor::Config::preset(name).is_ok() || rotor::presets::layer_count(name)? > 0);
/// }
/// # Ok::<(), rotor::Error>(())
/// ```
pub fn presets() -> Vec<&'static str> {
    // SAFETY: no arguments; cannot fail.
    let count = unsafe { sys::rotor_preset_count() };
    (0..count)
        .filter_map(|index| {
            let mut name: *const std::os::raw::c_char = std::ptr::null();
            // SAFETY: name is a valid out pointer; every index below the count is accepted.
            let status = unsafe { sys::rotor_preset_name(index, &mut name) };
            if status == sys::ROTOR_OK {
                static_str(name)
            } else {
                None
            }
        })
        .collect()
}

/// Forces a kernel set (one of [`kernels`]), or returns to the automatic choice with None.
///
/// # Safety
/// No other thread may be applying (with any table) during this call: the C library swaps its
/// global kernel table without synchronising with running calls.
pub unsafe fn force_kernel(name: Option<&str>) -> Result<()> {
    let name = match name {
        Some(n) => Some(CString::new(n).map_err(|_| error::invalid("the kernel name contains a NUL byte"))?),
        None => None,
    };
    // SAFETY: NULL or a NUL-terminated string alive for the call; the caller guarantees no
    // concurrent applies. The block is explicit for compilers that lint unsafe operations in
    // unsafe fns (unsafe_op_in_unsafe_fn); older ones (rustc 1.63) call it unused.
    #[allow(unused_unsafe)]
    let status = unsafe { sys::rotor_kernel_force(name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr())) };
    error::check(status)
}
