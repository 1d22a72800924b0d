//! The rotary attention forward path: KV caches, workspaces, key re-rotation.
use std::marker::PhantomData;
use std::mem::size_of;
use std::os::raw::c_void;
use std::ptr::{self, NonNull};

use rotor_sys as sys;

use crate::error::{check, invalid};
use crate::table::Pool;
use crate::{Arena, CacheType, Dtype, Positions, Result, Table, Tensor, TensorMut};

/// How a [`KvCache`] stores its keys and values (`rotor_kv_cache_config`): each a
/// [`CacheType`] of its own, and keys rotated on append (the default) or stored un-rotated.
///
/// ```
/// use rotor::{CacheType, KvCache, KvCacheConfig};
/// // 8-bit keys, 4-bit values, keys rotated at read (a context shift then rounds nothing).
/// let config = KvCacheConfig::new(CacheType::Q4_0).with_key(CacheType::Q8_0).with_unrotated_keys(true);
/// let cache = KvCache::with_config(8, 128, 4096, config)?;
/// assert_eq!(cache.config(), config);
/// # Ok::<(), rotor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KvCacheConfig {
    /// Storage type of the keys.
    pub key: CacheType,
    /// Storage type of the values.
    pub value: CacheType,
    /// Keys stored as they come and rotated with their position's row at each read
    /// (`ROTOR_KV_UNROTATED_KEYS`): a rotation per key read; [`KvCache::evict`] then only moves
    /// keys (the cache holds what a fresh prefill of the kept tokens holds), and
    /// [`Table::attention_forward_axes`] refuses the cache (it keeps no ids).
    pub unrotated_keys: bool,
}

impl KvCacheConfig {
    /// Keys and values both of `storage`, keys rotated on append.
    pub fn new(storage: CacheType) -> KvCacheConfig {
        KvCacheConfig { key: storage, value: storage, unrotated_keys: false }
    }

    /// The same with the keys of `key`.
    pub fn with_key(self, key: CacheType) -> KvCacheConfig {
        KvCacheConfig { key, ..self }
    }

    /// The same with the values of `value`.
    pub fn with_value(self, value: CacheType) -> KvCacheConfig {
        KvCacheConfig { value, ..self }
    }

    /// The same with keys stored un-rotated or not.
    pub fn with_unrotated_keys(self, unrotated_keys: bool) -> KvCacheConfig {
        KvCacheConfig { unrotated_keys, ..self }
    }

    /// The C struct, its `struct_size` this crate's.
    pub fn raw(&self) -> sys::rotor_kv_cache_config {
        let mut raw = sys::rotor_kv_cache_config::default();
        // SAFETY: raw is a writable struct of the size passed.
        let status = unsafe {
            sys::rotor_kv_cache_config_init_sized(&mut raw, size_of::<sys::rotor_kv_cache_config>(), self.key.raw())
        };
        debug_assert_eq!(status, sys::ROTOR_OK);
        raw.value_dtype = self.value.raw();
        raw.flags = if self.unrotated_keys { sys::ROTOR_KV_UNROTATED_KEYS } else { 0 };
        raw
    }

    /// The config a C struct describes, if this crate knows its types and flags.
    pub fn from_raw(raw: &sys::rotor_kv_cache_config) -> Option<KvCacheConfig> {
        if raw.flags & !sys::ROTOR_KV_UNROTATED_KEYS != 0 {
            return None;
        }
        Some(KvCacheConfig {
            key: CacheType::from_raw(raw.key_dtype)?,
            value: CacheType::from_raw(raw.value_dtype)?,
            unrotated_keys: raw.flags & sys::ROTOR_KV_UNROTATED_KEYS != 0,
        })
    }
}

impl From<CacheType> for KvCacheConfig {
    fn from(storage: CacheType) -> KvCacheConfig {
        KvCacheConfig::new(storage)
    }
}

impl From<Dtype> for KvCacheConfig {
    fn from(dtype: Dtype) -> KvCacheConfig {
        KvCacheConfig::new(dtype.into())
    }
}

/// One sequence's keys and values with a hard maximum length (`rotor_kv_cache`), in an arena
/// the caller lends ([`KvCache::init`], [`KvCache::init_with_config`]) or one this value owns
/// ([`KvCache::new`], [`KvCache::with_config`]).
pub struct KvCache<'arena> {
    raw: NonNull<sys::rotor_kv_cache>,
    // Some for KvCache::new: the arena moves with the cache (its heap address does not change).
    _owned: Option<Arena>,
    _arena: PhantomData<&'arena mut [u8]>,
}

// SAFETY: the cache is plain memory in its arena, used by one C call at a time: forward calls
// and reset take &mut self, so they are exclusive; the &self getters only read (rotor.h: they
// must not run while a forward call uses the cache, which &mut borrowing rules out).
unsafe impl Send for KvCache<'_> {}
// SAFETY: as above.
unsafe impl Sync for KvCache<'_> {}

impl KvCache<'static> {
    /// A cache in an arena of its own (allocated once here; the library never allocates), keys
    /// and values both of `dtype`, keys rotated on append.
    pub fn new(kv_heads: u32, head_dim: u32, max_len: u32, dtype: Dtype) -> Result<KvCache<'static>> {
        KvCache::with_config(kv_heads, head_dim, max_len, dtype.into())
    }

    /// A cache in an arena of its own whose keys and values are stored as `config` says
    /// (`Error::InvalidArgument` for a quantized type and a head_dim that is not a multiple of
    /// 32 or above `ROTOR_KV_MAX_QUANTIZED_HEAD_DIM`, and as [`KvCache::arena_size`]).
    pub fn with_config(kv_heads: u32, head_dim: u32, max_len: u32, config: KvCacheConfig)
                       -> Result<KvCache<'static>> {
        let mut arena = Arena::new(KvCache::arena_size_with_config(kv_heads, head_dim, max_len, config)?)?;
        let raw = init_raw(&mut arena, kv_heads, head_dim, max_len, config)?;
        Ok(KvCache { raw, _owned: Some(arena), _arena: PhantomData })
    }
}

fn init_raw(arena: &mut [u8], kv_heads: u32, head_dim: u32, max_len: u32, config: KvCacheConfig)
            -> Result<NonNull<sys::rotor_kv_cache>> {
    let mut raw = ptr::null_mut();
    let config = config.raw();
    // SAFETY: arena is writable for its length (the library checks it is large enough and
    // aligned before writing); config is a whole struct of the size it states; the caller keeps
    // the arena borrowed for the cache's life.
    check(unsafe {
        sys::rotor_kv_cache_init_ex(&mut raw, kv_heads, head_dim, max_len, &config, arena.as_mut_ptr() as *mut c_void,
                                    arena.len())
    })?;
    NonNull::new(raw).ok_or(invalid("rotor_kv_cache_init_ex returned OK and a NULL cache"))
}

impl<'arena> KvCache<'arena> {
    /// Bytes of an arena for such a cache (`Error::InvalidArgument` for a zero count, a
    /// max_len past 2^31 - 1, or a size that does not fit).
    pub fn arena_size(kv_heads: u32, head_dim: u32, max_len: u32, dtype: Dtype) -> Result<usize> {
        KvCache::arena_size_with_config(kv_heads, head_dim, max_len, dtype.into())
    }

    /// Bytes of an arena for a cache of `config` (`rotor_kv_cache_arena_size_ex`):
    /// `Error::InvalidArgument` as [`KvCache::arena_size`], and for a quantized type with a
    /// head_dim that is not a multiple of 32 or above `ROTOR_KV_MAX_QUANTIZED_HEAD_DIM`.
    pub fn arena_size_with_config(kv_heads: u32, head_dim: u32, max_len: u32, config: KvCacheConfig)
                                  -> Result<usize> {
        let raw = config.raw();
        // SAFETY: plain values and a whole struct; never allocates.
        match unsafe { sys::rotor_kv_cache_arena_size_ex(kv_heads, head_dim, max_len, &raw) } {
            0 if (config.key.is_quantized() || config.value.is_quantized())
                && (head_dim % 32 != 0 || head_dim > sys::ROTOR_KV_MAX_QUANTIZED_HEAD_DIM) => {
                Err(invalid("Q8_0 and Q4_0 caches need head_dim a multiple of 32 and at most 1024"))
            }
            0 => Err(invalid("no KV cache of these dimensions (a zero count, max_len past 2^31 - 1, or too large)")),
            n => Ok(n),
        }
    }

    /// An empty cache inside `arena` (64-byte aligned, at least `arena_size` bytes), borrowed
    /// for as long as the cache lives.
    pub fn init(arena: &'arena mut [u8], kv_heads: u32, head_dim: u32, max_len: u32, dtype: Dtype)
                -> Result<KvCache<'arena>> {
        KvCache::init_with_config(arena, kv_heads, head_dim, max_len, dtype.into())
    }

    /// An empty cache of `config` inside `arena` (64-byte aligned, at least
    /// [`KvCache::arena_size_with_config`] bytes), borrowed for as long as the cache lives.
    pub fn init_with_config(arena: &'arena mut [u8], kv_heads: u32, head_dim: u32, max_len: u32,
                            config: KvCacheConfig) -> Result<KvCache<'arena>> {
        let raw = init_raw(arena, kv_heads, head_dim, max_len, config)?;
        Ok(KvCache { raw, _owned: None, _arena: PhantomData })
    }

    /// How its keys and values are stored (`rotor_kv_cache_get_config`).
    pub fn config(&self) -> KvCacheConfig {
        let mut raw = sys::rotor_kv_cache_config {
            struct_size: size_of::<sys::rotor_kv_cache_config>() as u32,
            ..Default::default()
        };
        // SAFETY: a live cache, not in use by a forward call (that needs &mut self); raw is a
        // whole struct of the size it states.
        let status = unsafe { sys::rotor_kv_cache_get_config(self.as_ptr(), &mut raw) };
        debug_assert_eq!(status, sys::ROTOR_OK);
        // Every cache of this crate was built from a KvCacheConfig, whose values come back.
        KvCacheConfig::from_raw(&raw).expect("rotor_kv_cache_get_config reports the config the cache was built with")
    }

    /// The C handle.
    pub fn as_ptr(&self) -> *mut sys::rotor_kv_cache {
        self.raw.as_ptr()
    }

    /// Tokens held.
    pub fn len(&self) -> u32 {
        let mut length = 0;
        // SAFETY: a live cache, not in use by a forward call (that needs &mut self).
        let status = unsafe { sys::rotor_kv_cache_get_length(self.as_ptr(), &mut length) };
        debug_assert_eq!(status, sys::ROTOR_OK);
        length
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the cache for a new sequence.
    pub fn reset(&mut self) -> Result<()> {
        // SAFETY: a live cache, exclusively borrowed.
        check(unsafe { sys::rotor_kv_cache_reset(self.as_ptr()) })
    }

    /// Context shift (`rotor_kv_cache_evict`): removes cached tokens [start, start + count) and
    /// moves the later ones down by `count`, each moved key rotated from position p to
    /// p - count (exactly, in double, rounded once to the cache's dtype; Q8_0 and Q4_0 keys are
    /// quantized again, one rounding to their grid per shift), so the cache again holds token i
    /// at position i. Un-rotated keys ([`KvCacheConfig::unrotated_keys`]) are only moved: the
    /// cache then holds a fresh prefill's bytes, whatever the number of shifts. `table` is the
    /// one the cache is used with (only its config is read). `Error::OutOfRange` when
    /// start + count exceeds the length; nothing changes on error; count 0 does nothing. Decoding after it gives what a fresh prefill of the kept
    /// tokens at their new positions gives (within one rounding per shift).
    pub fn evict(&mut self, table: &Table<'_>, start: u32, count: u32, pool: Option<&Pool>) -> Result<()> {
        // SAFETY: a live, exclusively borrowed cache (no forward call can use it meanwhile); a
        // live table, only read (safe while other threads use it).
        check(unsafe { sys::rotor_kv_cache_evict(table.as_ptr(), self.as_ptr(), start, count, Pool::ptr(pool)) })
    }

    /// StreamingLLM: when more than `sink + window` tokens are held, keeps the first `sink`
    /// (attention sinks) and the last `window`, evicting the middle ([`KvCache::evict`]).
    /// Returns how many tokens were evicted (0 when the cache was within its budget).
    pub fn keep_sink_and_window(&mut self, table: &Table<'_>, sink: u32, window: u32, pool: Option<&Pool>)
                                -> Result<u32> {
        let len = self.len() as u64;
        let keep = sink as u64 + window as u64; // in u64: sink + window may overflow u32
        if len <= keep {
            return Ok(0);
        }
        let count = (len - keep) as u32;
        self.evict(table, sink, count, pool)?;
        Ok(count)
    }

    /// The epoch of the rows its keys carry.
    pub fn epoch(&self) -> u64 {
        let mut epoch = 0;
        // SAFETY: as in len.
        let status = unsafe { sys::rotor_kv_cache_epoch(self.as_ptr(), &mut epoch) };
        debug_assert_eq!(status, sys::ROTOR_OK);
        epoch
    }

    /// Times its keys were re-rotated.
    pub fn rerotations(&self) -> u64 {
        let mut count = 0;
        // SAFETY: as in len.
        let status = unsafe { sys::rotor_kv_cache_rerotations(self.as_ptr(), &mut count) };
        debug_assert_eq!(status, sys::ROTOR_OK);
        count
    }
}

impl std::fmt::Debug for KvCache<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvCache").field("len", &self.len()).field("epoch", &self.epoch())
         .field("config", &self.config()).finish()
    }
}

/// Workspace bytes of [`Table::attention_forward`] for calls of up to `max_new_tokens` tokens on
/// `threads` threads (the pool's, or 1).
pub fn attention_workspace_size(q_heads: u32, kv_heads: u32, head_dim: u32, max_new_tokens: u32, threads: u32)
                                -> Result<usize> {
    // SAFETY: plain values; never allocates.
    match unsafe { sys::rotor_attention_workspace_size(q_heads, kv_heads, head_dim, max_new_tokens, threads) } {
        0 => Err(invalid("no attention workspace for these arguments (a zero, q_heads not a multiple of kv_heads, \
                          or too large)")),
        n => Ok(n),
    }
}

/// Workspace bytes of [`Table::rerotate_keys`].
pub fn rerotate_workspace_size(head_dim: u32, threads: u32) -> Result<usize> {
    // SAFETY: plain values; never allocates.
    match unsafe { sys::rotor_rerotate_workspace_size(head_dim, threads) } {
        0 => Err(invalid("no rerotation workspace for these arguments (a zero, or too large)")),
        n => Ok(n),
    }
}

/// Cache pointers for up to this many batch entries live on the stack.
const INLINE_CACHES: usize = 16;

/// The `rotor_kv_cache *const *` of a forward call: on the stack for up to INLINE_CACHES
/// entries, so a decode step allocates nothing (Vec::new does not allocate when unused).
struct CachePointers {
    inline: [*mut sys::rotor_kv_cache; INLINE_CACHES],
    heap: Vec<*mut sys::rotor_kv_cache>,
}

impl CachePointers {
    /// `Error::InvalidArgument` unless there is exactly one cache per batch entry: the library
    /// reads `batch` pointers.
    fn new(caches: &[&mut KvCache<'_>], batch: u32) -> Result<CachePointers> {
        if caches.len() as u64 != batch as u64 {
            return Err(invalid("caches must hold one cache per batch entry of q"));
        }
        let mut pointers = CachePointers { inline: [ptr::null_mut(); INLINE_CACHES], heap: Vec::new() };
        if caches.len() <= INLINE_CACHES {
            for (slot, cache) in pointers.inline.iter_mut().zip(caches.iter()) {
                *slot = cache.as_ptr();
            }
        } else {
            pointers.heap = caches.iter().map(|c| c.as_ptr()).collect();
        }
        Ok(pointers)
    }

    fn as_ptr(&self) -> *const *mut sys::rotor_kv_cache {
        if self.heap.is_empty() {
            self.inline.as_ptr()
        } else {
            self.heap.as_ptr()
        }
    }
}

impl Table<'_> {
    /// Rotary attention with KV caches (`rotor_attention_forward`): for each batch entry b,
    /// rotates its new queries and keys at positions len_b .., appends keys and values to
    /// `caches[b]`, and writes causal softmax(q k^T * scale) v into `out`.
    /// q, out: [batch, s, q_heads, d]; k, v: [batch, s, kv_heads, d]; `workspace`: 64-byte
    /// aligned, [`attention_workspace_size`] bytes. Nothing is allocated (up to 16 batch entries;
    /// more need one small vector of cache pointers).
    #[allow(clippy::too_many_arguments)]
    pub fn attention_forward(&self, caches: &mut [&mut KvCache<'_>], q: &Tensor<'_>, k: &Tensor<'_>, v: &Tensor<'_>,
                             out: &mut TensorMut<'_>, scale: f32, workspace: &mut [u8], pool: Option<&Pool>)
                             -> Result<()> {
        let pointers = CachePointers::new(caches, q.raw().batch)?;
        // SAFETY: pointers holds batch live caches, each exclusively borrowed (distinct: two
        // &mut of one cache cannot coexist); q, k, v are read, out written within its checked
        // extent (the library rejects overlaps); workspace is writable for its length.
        check(unsafe {
            sys::rotor_attention_forward(self.as_ptr(), pointers.as_ptr(), q.raw(), k.raw(), v.raw(), out.raw(), scale,
                                         workspace.as_mut_ptr() as *mut c_void, workspace.len(), Pool::ptr(pool))
        })
    }

    /// [`Table::attention_forward`] with the new tokens rotated by the caller's ids
    /// (`rotor_attention_forward_axes`): `positions` is `[axes][batch * s]` as in
    /// [`Table::apply_axes`] (M-RoPE ids of a VL model; for a 1-D table, each token's own
    /// position instead of len_b + i). The cache index still orders the tokens (the causal
    /// mask), and cached keys keep the rotation they were stored with. Tables whose rows change
    /// (NTK, dynamic NTK, LongRoPE) are refused (`Error::InvalidArgument`): a re-rotation would
    /// need each cached key's ids. `Error::InvalidArgument` too when `positions` does not hold
    /// exactly axes * batch * s ids.
    #[allow(clippy::too_many_arguments)]
    pub fn attention_forward_axes(&self, caches: &mut [&mut KvCache<'_>], q: &Tensor<'_>, k: &Tensor<'_>,
                                  v: &Tensor<'_>, out: &mut TensorMut<'_>, positions: &[i32], scale: f32,
                                  workspace: &mut [u8], pool: Option<&Pool>) -> Result<()> {
        let pointers = CachePointers::new(caches, q.raw().batch)?;
        // The library takes batch and s from q (k, v and out must agree, which it checks).
        let pos = self.axes_positions(positions, q.raw().batch, q.raw().seq)?;
        // SAFETY: as in attention_forward; pos holds exactly the axes * batch * s ids read.
        check(unsafe {
            sys::rotor_attention_forward_axes(self.as_ptr(), pointers.as_ptr(), q.raw(), k.raw(), v.raw(), out.raw(),
                                              pos, scale, workspace.as_mut_ptr() as *mut c_void, workspace.len(),
                                              Pool::ptr(pool))
        })
    }

    /// Brings keys rotated with the rows of `from_epoch` to the table's current rows, in place
    /// (`rotor_rerotate_keys`); returns the epoch they now carry. `workspace`: 64-byte aligned,
    /// [`rerotate_workspace_size`] bytes.
    pub fn rerotate_keys(&self, keys: &mut TensorMut<'_>, positions: Positions<'_>, from_epoch: u64,
                         workspace: &mut [u8], pool: Option<&Pool>) -> Result<u64> {
        let (pos, offset) = positions.to_c(keys.raw().batch, keys.raw().seq)?;
        let mut to_epoch = 0;
        // SAFETY: keys within their checked extent, pos batch * seq values or NULL, workspace
        // writable for its length, to_epoch a valid out pointer.
        check(unsafe {
            sys::rotor_rerotate_keys(self.as_ptr(), keys.raw(), pos, offset, from_epoch, &mut to_epoch,
                                     workspace.as_mut_ptr() as *mut c_void, workspace.len(), Pool::ptr(pool))
        })?;
        Ok(to_epoch)
    }
}
