//! Tables of cos/sin rows, the pool, and the apply functions.
use std::marker::PhantomData;
use std::mem::size_of;
use std::os::raw::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

use rotor_sys as sys;

use crate::error::{check, invalid};
use crate::{Config, Direction, Dtype, Element, Error, ErrorKind, EventReason, Pairing, Positions, RescalePolicy, Result,
            RopeLayout, Tensor, TensorMut};

/// Persistent worker threads (`rotor_pool`): pass `Some(&pool)` to spread a call over them.
#[derive(Debug)]
pub struct Pool {
    raw: NonNull<sys::rotor_pool>,
    threads: u32,
}

// SAFETY: rotor.h: "A pool runs one call at a time: concurrent calls that pass the same pool are
// serialised on it", so calls from any thread through &Pool are sound; rotor_pool_destroy may run
// on any thread once no call uses the pool, which Drop's &mut self guarantees.
unsafe impl Send for Pool {}
// SAFETY: as above.
unsafe impl Sync for Pool {}

impl Pool {
    /// `threads` in total per call, the caller's included (1 ..= 256).
    pub fn new(threads: u32) -> Result<Pool> {
        let mut raw = ptr::null_mut();
        // SAFETY: raw is a valid out pointer.
        check(unsafe { sys::rotor_pool_create(&mut raw, threads) })?;
        NonNull::new(raw)
            .map(|raw| Pool { raw, threads })
            .ok_or(Error::with_message(ErrorKind::OutOfMemory, "rotor_pool_create returned OK and a NULL pool"))
    }

    /// Threads a call may use (what workspace sizes are computed for).
    pub fn threads(&self) -> u32 {
        self.threads
    }

    pub(crate) fn ptr(pool: Option<&Pool>) -> *mut sys::rotor_pool {
        pool.map_or(ptr::null_mut(), |p| p.raw.as_ptr())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: created by rotor_pool_create; &mut self means no call is using it.
        unsafe { sys::rotor_pool_destroy(self.raw.as_ptr()) }
    }
}

/// A snapshot of a table's counters (`rotor_table_stats`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Rows computed and published.
    pub rows: u32,
    /// The hard maximum.
    pub max_len: u32,
    /// Bytes holding computed rows and state.
    pub bytes_in_use: u64,
    /// The whole arena.
    pub arena_bytes: u64,
    /// Growths so far.
    pub grow_events: u32,
    /// Rescales so far.
    pub rescale_events: u32,
    /// Current scaling factor.
    pub factor: f32,
    /// Factor folded into the current rows.
    pub attention_factor: f32,
    /// Rescales adopted so far.
    pub epoch: u64,
    /// Key sets re-rotated to new rows.
    pub key_rerotations: u64,
}

/// A growth or rescale (`rotor_table_event`), passed to the callback of
/// [`Table::set_event_callback`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    /// Why (None: a reason newer than this crate).
    pub reason: Option<EventReason>,
    /// Rows before and after.
    pub old_rows: u32,
    /// Rows before and after.
    pub new_rows: u32,
    /// Factor before and after (equal unless a rescale changed it).
    pub old_factor: f32,
    /// Factor before and after.
    pub new_factor: f32,
}

type Callback = dyn Fn(&Event) + Send + Sync;

/// cos/sin rows for positions 0 .. max_len, computed lazily and shared by any number of threads.
///
/// `'arena` is the borrow of the memory the table lives in: `'static` for [`Table::create`],
/// the caller's buffer for [`Table::init`]. The arena cannot be dropped or touched while the
/// table lives:
///
/// ```compile_fail
/// use rotor::{Arena, Config, Table};
/// let cfg = Config::new(64).max_len(1024);
/// let table = {
///     let mut arena = Arena::new(cfg.arena_size().unwrap()).unwrap();
///     Table::init(&cfg, &mut arena).unwrap()
/// }; // error[E0597]: `arena` does not live long enough
/// table.reserve(10).unwrap();
/// ```
pub struct Table<'arena> {
    raw: NonNull<sys::rotor_table>,
    rotary_dim: u32,
    pairing: Pairing,
    rope_layout: RopeLayout,
    // Boxed twice so the C side holds a thin pointer that stays put while the table moves.
    callback: Option<Box<Box<Callback>>>,
    _arena: PhantomData<&'arena mut [u8]>,
}

// SAFETY: rotor.h: "a table may be used by any number of threads at once (applies, cos_sin,
// reserve and stats_get all race safely with growth and rescales)", and the rescale policy is an
// atomic. Every method that C allows concurrently takes &self; those it does not (the event
// callback's registration, destruction) take &mut self or self. The callback is Send + Sync
// since it runs on whichever thread grows the table. An arena-backed table borrows its arena
// mutably for 'arena, so no other code touches that memory meanwhile.
unsafe impl Send for Table<'_> {}
// SAFETY: as above.
unsafe impl Sync for Table<'_> {}

impl Table<'static> {
    /// A table in memory the library allocates once (`rotor_table_create`).
    pub fn create(cfg: &Config) -> Result<Table<'static>> {
        let raw_cfg = cfg.validated_raw()?;
        let mut raw = ptr::null_mut();
        // SAFETY: raw_cfg is a valid config (factor pointers into cfg, alive for the call: the
        // library copies them); raw is a valid out pointer.
        check(unsafe { sys::rotor_table_create(&mut raw, &raw_cfg) })?;
        Ok(Table::wrap(raw, &raw_cfg))
    }
}

impl<'arena> Table<'arena> {
    /// A table inside `arena` (`rotor_table_init`): at least `cfg.arena_size()` bytes, 64-byte
    /// aligned (an [`Arena`](crate::Arena) is). The library never allocates for this table.
    pub fn init(cfg: &Config, arena: &'arena mut [u8]) -> Result<Table<'arena>> {
        let raw_cfg = cfg.validated_raw()?;
        let mut raw = ptr::null_mut();
        // SAFETY: as in create; arena is writable for arena.len() bytes and stays borrowed
        // (untouched by anyone else) for 'arena, which the table's lifetime is tied to.
        check(unsafe {
            sys::rotor_table_init(&mut raw, &raw_cfg, arena.as_mut_ptr() as *mut c_void, arena.len())
        })?;
        Ok(Table::wrap(raw, &raw_cfg))
    }

    fn wrap(raw: *mut sys::rotor_table, cfg: &sys::rotor_config) -> Table<'arena> {
        Table {
            raw: NonNull::new(raw).expect("rotor returned OK and a NULL table"),
            rotary_dim: cfg.rotary_dim,
            pairing: Pairing::from_raw(cfg.pairing).unwrap_or(Pairing::Half),
            // Config::validated_raw refused a layout this crate does not know (a newer library's):
            // axes_positions sizes the id slices by it.
            rope_layout: RopeLayout::from_raw(cfg.layout).unwrap_or(RopeLayout::OneD),
            callback: None,
            _arena: PhantomData,
        }
    }

    /// The C handle, for calls this crate does not wrap. Valid while the table lives.
    pub fn as_ptr(&self) -> *mut sys::rotor_table {
        self.raw.as_ptr()
    }

    /// Rotated dims per head.
    pub fn rotary_dim(&self) -> u32 {
        self.rotary_dim
    }

    /// The config's pairing.
    pub fn pairing(&self) -> Pairing {
        self.pairing
    }

    /// The config's rope layout.
    pub fn rope_layout(&self) -> RopeLayout {
        self.rope_layout
    }

    /// Position ids per token the `*_axes` calls take: 1, 2 (vision) or 3 (M-RoPE).
    pub fn axes(&self) -> u32 {
        self.rope_layout.axes()
    }

    /// The ids of an `*_axes` call, checked to hold exactly axes * batch * seq values: the
    /// library reads that many and cannot know the slice's length.
    pub(crate) fn axes_positions(&self, positions: &[i32], batch: u32, seq: u32) -> Result<*const i32> {
        if positions.len() as u64 != self.axes() as u64 * batch as u64 * seq as u64 {
            return Err(invalid("positions must hold axes * batch * seq ids (axis-major)"));
        }
        Ok(positions.as_ptr())
    }

    /// Makes rows [0, positions) ready now (`Error::OutOfRange` past max_len).
    pub fn reserve(&self, positions: u32) -> Result<()> {
        // SAFETY: a live table; reserve is safe concurrently with other calls (rotor.h).
        check(unsafe { sys::rotor_table_reserve(self.as_ptr(), positions) })
    }

    /// The table's counters.
    pub fn stats(&self) -> Stats {
        let mut s = sys::rotor_table_stats { struct_size: size_of::<sys::rotor_table_stats>() as u32, ..Default::default() };
        // SAFETY: a live table and a stats struct whose struct_size says how much may be written.
        let status = unsafe { sys::rotor_table_stats_get(self.as_ptr(), &mut s) };
        debug_assert_eq!(status, sys::ROTOR_OK);
        Stats {
            rows: s.rows,
            max_len: s.max_len,
            bytes_in_use: s.bytes_in_use,
            arena_bytes: s.arena_bytes,
            grow_events: s.grow_events,
            rescale_events: s.rescale_events,
            factor: s.factor,
            attention_factor: s.attention_factor,
            epoch: s.epoch,
            key_rerotations: s.key_rerotations,
        }
    }

    /// The current epoch (rescales adopted so far).
    pub fn epoch(&self) -> u64 {
        let mut epoch = 0;
        // SAFETY: a live table and a valid out pointer; lock-free.
        let status = unsafe { sys::rotor_table_epoch(self.as_ptr(), &mut epoch) };
        debug_assert_eq!(status, sys::ROTOR_OK);
        epoch
    }

    /// What attention_forward does with caches whose keys carry older rows.
    pub fn set_rescale_policy(&self, policy: RescalePolicy) -> Result<()> {
        // SAFETY: a live table; the policy is an atomic read at the start of each forward call.
        check(unsafe { sys::rotor_table_set_rescale_policy(self.as_ptr(), policy.raw()) })
    }

    /// Registers `callback` for growth and rescale events (None removes it). It runs on the
    /// thread that grew the table while the table's growth lock is held: it must not apply,
    /// reserve or read cos/sin on this table (that would deadlock); stats() is fine. A panic
    /// inside it is caught (it cannot cross the C library) and the event is dropped.
    pub fn set_event_callback<F>(&mut self, callback: Option<F>)
    where
        F: Fn(&Event) + Send + Sync + 'static,
    {
        let boxed: Option<Box<Box<Callback>>> = callback.map(|f| Box::new(Box::new(f) as Box<Callback>));
        let user = boxed.as_ref().map_or(ptr::null_mut(), |b| &**b as *const Box<Callback> as *mut c_void);
        let trampoline: sys::rotor_table_event_fn = if boxed.is_some() { Some(call_event) } else { None };
        // SAFETY: a live table; &mut self means no other thread is using it, so no old callback
        // is running while it is replaced and dropped below. user points at a Box kept alive
        // in self.callback until it is replaced or the table is destroyed.
        let status = unsafe { sys::rotor_table_set_event_callback(self.as_ptr(), trampoline, user) };
        debug_assert_eq!(status, sys::ROTOR_OK);
        self.callback = boxed;
    }

    /// cos and sin of positions [start, start + count) in `dtype` (`rotor_table_cos_sin`):
    /// each [count, r/2], or [count, r] (Hugging Face's cat(freqs, freqs)) when `duplicated`.
    pub fn cos_sin<E: Element>(&self, start: u32, count: u32, dtype: Dtype, duplicated: bool, cos: &mut [E],
                               sin: &mut [E]) -> Result<()> {
        let width = if duplicated { self.rotary_dim } else { self.rotary_dim / 2 } as u64;
        // In u64: count * width overflows a 32-bit usize, and a wrapped product would let short
        // slices through.
        let needed = count as u64 * width;
        if !E::holds(dtype) {
            return Err(invalid("the cos and sin slices' element type cannot hold dtype"));
        }
        if cos.len() as u64 != needed || sin.len() as u64 != needed {
            return Err(invalid("cos and sin must each hold count * rotary_dim / 2 values (count * rotary_dim \
                                duplicated)"));
        }
        // SAFETY: cos and sin each hold exactly count * width elements of dtype's size, what
        // the library writes; a live table.
        check(unsafe {
            sys::rotor_table_cos_sin(self.as_ptr(), start, count, dtype.raw(), duplicated as i32,
                                     cos.as_mut_ptr() as *mut c_void, sin.as_mut_ptr() as *mut c_void)
        })
    }

    /// Rotates `x` in place (`rotor_apply`).
    pub fn apply(&self, x: &mut TensorMut<'_>, positions: Positions<'_>, dir: Direction, pool: Option<&Pool>)
                 -> Result<()> {
        let (pos, offset) = positions.to_c(x.raw().batch, x.raw().seq)?;
        // SAFETY: x addresses only elements of its exclusively borrowed slice (checked when the
        // view was made); pos holds batch * seq values or is NULL; table and pool are live.
        check(unsafe { sys::rotor_apply(self.as_ptr(), x.raw(), pos, offset, dir.raw(), Pool::ptr(pool)) })
    }

    /// Rotates q and k in place together, one table read per token for all heads
    /// (`rotor_apply_qk`).
    pub fn apply_qk(&self, q: &mut TensorMut<'_>, k: &mut TensorMut<'_>, positions: Positions<'_>, dir: Direction,
                    pool: Option<&Pool>) -> Result<()> {
        let (pos, offset) = positions.to_c(q.raw().batch, q.raw().seq)?;
        // SAFETY: as in apply; the library rejects q and k of different batch or seq (so pos
        // has the length it reads) and views that overlap.
        check(unsafe { sys::rotor_apply_qk(self.as_ptr(), q.raw(), k.raw(), pos, offset, dir.raw(), Pool::ptr(pool)) })
    }

    /// Rotates `x` in place by one id per axis and token (`rotor_apply_axes`): `positions` is
    /// axis-major, `[axes][batch * seq]` (token (b, s) at `b * seq + s` of each axis), with
    /// [`Table::axes`] axes: (t, h, w) for M-RoPE, (row, column) for vision layouts, one for a
    /// 1-D table (then it equals [`Table::apply`] with those positions). A token whose ids are
    /// all equal gets the table's row, bit for bit 1-D RoPE. `Error::InvalidArgument` when
    /// `positions` does not hold exactly axes * batch * seq ids; `Error::OutOfRange` for an
    /// id < 0 or >= max_len (nothing is changed then).
    ///
    /// ```
    /// use rotor::{Config, Direction, Dtype, Layout, Table, TensorMut};
    /// // Qwen2-VL: 64 pairs in sections of 16 (t), 24 (h), 24 (w).
    /// let table = Table::create(&Config::new(128).base(1e6).mrope([16, 24, 24]))?;
    /// let mut x = vec![0.5f32; 4 * 2 * 128]; // [1, 4 tokens, 2 heads, 128]
    /// let mut view = TensorMut::new(&mut x, Dtype::F32, [1, 4, 2, 128], Layout::Bshd)?;
    /// // Two text tokens (ids 0, 1 on every axis), then a 1 x 1 x 2 image grid at 2.
    /// let ids = [0, 1, 2, 2, /* h */ 0, 1, 2, 2, /* w */ 0, 1, 2, 3];
    /// table.apply_axes(&mut view, &ids, Direction::Forward, None)?;
    /// # Ok::<(), rotor::Error>(())
    /// ```
    pub fn apply_axes(&self, x: &mut TensorMut<'_>, positions: &[i32], dir: Direction, pool: Option<&Pool>)
                      -> Result<()> {
        let pos = self.axes_positions(positions, x.raw().batch, x.raw().seq)?;
        // SAFETY: x addresses only elements of its exclusively borrowed slice; pos holds exactly
        // the axes * batch * seq ids the library reads; table and pool are live.
        check(unsafe { sys::rotor_apply_axes(self.as_ptr(), x.raw(), pos, dir.raw(), Pool::ptr(pool)) })
    }

    /// [`Table::apply_axes`] on q and k together (`rotor_apply_qk_axes`): they share batch,
    /// seq and ids (heads may differ), and must not overlap.
    pub fn apply_qk_axes(&self, q: &mut TensorMut<'_>, k: &mut TensorMut<'_>, positions: &[i32], dir: Direction,
                         pool: Option<&Pool>) -> Result<()> {
        let pos = self.axes_positions(positions, q.raw().batch, q.raw().seq)?;
        // SAFETY: as in apply_axes; the library rejects a k whose batch or seq differ from q's
        // (so pos has the length it reads) and views that overlap.
        check(unsafe { sys::rotor_apply_qk_axes(self.as_ptr(), q.raw(), k.raw(), pos, dir.raw(), Pool::ptr(pool)) })
    }

    /// Rotates `input` into `out` (same shape and dtype; dims past rotary_dim copied)
    /// (`rotor_apply_to`).
    pub fn apply_to(&self, input: &Tensor<'_>, out: &mut TensorMut<'_>, positions: Positions<'_>, dir: Direction,
                    pool: Option<&Pool>) -> Result<()> {
        let (pos, offset) = positions.to_c(input.raw().batch, input.raw().seq)?;
        // SAFETY: input is read only, out written only within its checked extent; a shared and
        // an exclusive borrow cannot overlap (the library checks raw views too).
        check(unsafe {
            sys::rotor_apply_to(self.as_ptr(), input.raw(), out.raw(), pos, offset, dir.raw(), Pool::ptr(pool))
        })
    }
}

impl Drop for Table<'_> {
    fn drop(&mut self) {
        // SAFETY: a live table; Drop has it exclusively, so no other thread uses it. Frees what
        // rotor_table_create allocated and leaves an init'ed table's arena to its owner. The
        // callback box is dropped after this, when the library can no longer call it.
        unsafe { sys::rotor_table_destroy(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Table<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("rotary_dim", &self.rotary_dim).field("stats", &self.stats()).finish()
    }
}

extern "C" fn call_event(user: *mut c_void, event: *const sys::rotor_table_event) {
    if user.is_null() || event.is_null() {
        return;
    }
    // SAFETY: user is the Box<Callback> registered with this trampoline, alive while registered;
    // event points at a valid event for the duration of the call (rotor.h).
    let (callback, e) = unsafe { (&*(user as *const Box<Callback>), &*event) };
    let event = Event {
        reason: EventReason::from_raw(e.reason),
        old_rows: e.old_rows,
        new_rows: e.new_rows,
        old_factor: e.old_factor,
        new_factor: e.new_factor,
    };
    // Unwinding into C is undefined: stop it here.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| callback(&event)));
}

/// Rotates `input` into `out` with cos/sin rows the caller brings (`rotor_apply_cos_sin`):
/// `cos` and `sin` are [rows, rotary_dim/2] f32, row-major; token (b, s) uses row
/// `positions[b][s]` (or offset + s). `out` may be a view of the same memory only through
/// [`apply_cos_sin_in_place`].
#[allow(clippy::too_many_arguments)]
pub fn apply_cos_sin(cos: &[f32], sin: &[f32], rotary_dim: u32, pairing: Pairing, input: &Tensor<'_>,
                     out: &mut TensorMut<'_>, positions: Positions<'_>, dir: Direction, pool: Option<&Pool>)
                     -> Result<()> {
    cos_sin_call(cos, sin, rotary_dim, pairing, input.raw(), out.raw(), positions, dir, pool)
}

/// [`apply_cos_sin`] in place on `x`.
pub fn apply_cos_sin_in_place(cos: &[f32], sin: &[f32], rotary_dim: u32, pairing: Pairing, x: &mut TensorMut<'_>,
                              positions: Positions<'_>, dir: Direction, pool: Option<&Pool>) -> Result<()> {
    cos_sin_call(cos, sin, rotary_dim, pairing, x.raw(), x.raw(), positions, dir, pool)
}

#[allow(clippy::too_many_arguments)]
fn cos_sin_call(cos: &[f32], sin: &[f32], rotary_dim: u32, pairing: Pairing, input: &sys::rotor_tensor,
                out: &sys::rotor_tensor, positions: Positions<'_>, dir: Direction, pool: Option<&Pool>)
                -> Result<()> {
    let half = (rotary_dim / 2) as usize;
    // The library reads rows * rotary_dim/2 floats of each: the slices must hold exactly that.
    if half == 0 || cos.len() != sin.len() || cos.len() % half != 0 || cos.len() / half > u32::MAX as usize {
        return Err(invalid("cos and sin must be equal [rows, rotary_dim / 2] slices, rotary_dim >= 2"));
    }
    let rows = (cos.len() / half) as u32;
    let (pos, offset) = positions.to_c(input.batch, input.seq)?;
    // SAFETY: cos and sin hold rows * rotary_dim/2 floats; the views were checked against their
    // slices (in place: the same view twice, which the library accepts as an exact alias).
    check(unsafe {
        sys::rotor_apply_cos_sin(cos.as_ptr(), sin.as_ptr(), rows, rotary_dim, pairing.raw(), input, out, pos, offset,
                                 dir.raw(), Pool::ptr(pool))
    })
}
