//! Memory the caller owns: 64-byte aligned arenas for tables, KV caches and workspaces.
use std::alloc::{self, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::slice;

use crate::{Error, ErrorKind, Result};

/// A zeroed, `ROTOR_ARENA_ALIGNMENT`-aligned buffer: what [`Table::init`](crate::Table::init),
/// [`KvCache::init`](crate::KvCache::init) and the attention and rerotation workspaces need.
/// Any `&mut [u8]` with that alignment serves as well; this type just makes one.
///
/// Zeroed memory comes straight from the OS for large sizes, so an arena sized for a long
/// `max_len` costs no resident memory until the library writes rows into it.
pub struct Arena {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: an Arena owns its allocation exclusively (like a Box<[u8]>): moving it to another
// thread moves that ownership, and &Arena only gives shared reads of plain bytes.
unsafe impl Send for Arena {}
// SAFETY: as above; &Arena hands out only &[u8].
unsafe impl Sync for Arena {}

impl Arena {
    /// A zeroed arena of `len` bytes (`Error::OutOfMemory` if it cannot be allocated).
    pub fn new(len: usize) -> Result<Arena> {
        // A zero-sized allocation is not allowed by the allocator; one line serves instead.
        let layout = Layout::from_size_align(len.max(1), rotor_sys::ROTOR_ARENA_ALIGNMENT)
            .map_err(|_| Error::with_message(ErrorKind::OutOfMemory, "an arena of this size cannot be laid out"))?;
        // SAFETY: layout has a non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        match NonNull::new(ptr) {
            Some(ptr) => Ok(Arena { ptr, len }),
            None => Err(Error::with_message(ErrorKind::OutOfMemory, "the allocator refused the arena")),
        }
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Deref for Arena {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr holds len initialised (zeroed, then written by the library) bytes that
        // this Arena owns; the borrow of self keeps them alive.
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Arena {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; &mut self makes the borrow exclusive.
        unsafe { slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in Arena::new with this very layout (size max(len, 1)).
        unsafe {
            alloc::dealloc(self.ptr.as_ptr(),
                           Layout::from_size_align_unchecked(self.len.max(1), rotor_sys::ROTOR_ARENA_ALIGNMENT))
        }
    }
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Arena({} bytes at {:p})", self.len, self.ptr)
    }
}
