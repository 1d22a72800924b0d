//! Strided 4-D views over the caller's slices: what the apply and attention functions take.
use std::marker::PhantomData;
use std::os::raw::c_void;

use rotor_sys as sys;

use crate::error::invalid;
use crate::{Dtype, Result};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u16 {}
}

/// An element type a view may hold: `f32` (Dtype::F32) or `u16` bit patterns (Dtype::F16 or
/// Dtype::Bf16).
pub trait Element: sealed::Sealed + Copy {
    /// Whether slices of this type may carry `dtype`.
    fn holds(dtype: Dtype) -> bool;
}
impl Element for f32 {
    fn holds(dtype: Dtype) -> bool {
        dtype == Dtype::F32
    }
}
impl Element for u16 {
    fn holds(dtype: Dtype) -> bool {
        dtype == Dtype::F16 || dtype == Dtype::Bf16
    }
}

/// Memory order of the first three axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// [batch, seq, heads, head_dim].
    Bshd,
    /// [batch, heads, seq, head_dim].
    Bhsd,
}

/// Positions of a call's tokens.
#[derive(Clone, Copy, Debug)]
pub enum Positions<'p> {
    /// Token s of every batch entry at `offset + s`.
    Offset(u32),
    /// batch * seq positions, row-major `[batch][seq]`.
    Explicit(&'p [i32]),
}

impl<'p> Positions<'p> {
    /// The C arguments (pointer, offset), after checking the slice holds batch * seq values:
    /// the library reads exactly that many.
    pub(crate) fn to_c(self, batch: u32, seq: u32) -> Result<(*const i32, u32)> {
        match self {
            Positions::Offset(offset) => Ok((std::ptr::null(), offset)),
            Positions::Explicit(positions) => {
                if positions.len() as u64 != batch as u64 * seq as u64 {
                    return Err(invalid("positions must hold batch * seq values"));
                }
                Ok((positions.as_ptr(), 0))
            }
        }
    }
}

/// Checks that every element the view addresses lies inside a slice of `len` elements: the
/// library trusts the view, so this check is what keeps a safe call inside the caller's slice.
fn check_extent(len: usize, dtype: Dtype, elem_size: usize, shape: [u32; 4], strides: [i64; 3]) -> Result<()> {
    if dtype.size() != elem_size {
        return Err(invalid("the slice's element type cannot hold dtype"));
    }
    if shape.iter().any(|&n| n == 0) {
        return Ok(()); // the library refuses an empty view without touching memory
    }
    let mut last: u128 = shape[3] as u128 - 1; // head_dim elements are contiguous
    for (axis, &stride) in strides.iter().enumerate() {
        if stride < 0 {
            return Err(invalid("a stride is negative"));
        }
        last += (shape[axis] as u128 - 1) * stride as u128;
    }
    if last >= len as u128 {
        return Err(invalid("the view addresses elements past the end of its slice"));
    }
    Ok(())
}

fn strides_of(layout: Layout, shape: [u32; 4]) -> [i64; 3] {
    let [_, s, h, d] = shape.map(|n| n as i64);
    match layout {
        Layout::Bshd => [s * h * d, h * d, d],
        Layout::Bhsd => [h * s * d, d, s * d],
    }
}

fn raw_view(data: *mut c_void, dtype: Dtype, shape: [u32; 4], strides: [i64; 3]) -> sys::rotor_tensor {
    sys::rotor_tensor {
        data,
        dtype: dtype.raw(),
        batch: shape[0],
        seq: shape[1],
        heads: shape[2],
        head_dim: shape[3],
        #[cfg(target_pointer_width = "64")]
        reserved_0: 0,
        stride_batch: strides[0],
        stride_seq: strides[1],
        stride_head: strides[2],
    }
}

/// A view the library writes through: [batch, seq, heads, head_dim] over `&'a mut [E]`.
#[derive(Debug)]
pub struct TensorMut<'a> {
    raw: sys::rotor_tensor,
    _data: PhantomData<&'a mut [u8]>,
}

/// A view the library only reads (an apply_to input, attention's q, k, v).
#[derive(Clone, Copy, Debug)]
pub struct Tensor<'a> {
    raw: sys::rotor_tensor,
    _data: PhantomData<&'a [u8]>,
}

// SAFETY: a TensorMut is an exclusive borrow of plain numbers (like &mut [f32]), which is Send
// and Sync; the raw pointer inside is only that borrow.
unsafe impl Send for TensorMut<'_> {}
// SAFETY: as above; &TensorMut only yields read-only views.
unsafe impl Sync for TensorMut<'_> {}
// SAFETY: a Tensor is a shared borrow of plain numbers (like &[f32]).
unsafe impl Send for Tensor<'_> {}
// SAFETY: as above.
unsafe impl Sync for Tensor<'_> {}

impl<'a> TensorMut<'a> {
    /// A contiguous view of `shape` = [batch, seq, heads, head_dim] in `layout` order.
    /// `Error::InvalidArgument` when dtype does not fit E or the slice is too short.
    pub fn new<E: Element>(data: &'a mut [E], dtype: Dtype, shape: [u32; 4], layout: Layout) -> Result<Self> {
        Self::with_strides(data, dtype, shape, strides_of(layout, shape))
    }

    /// A view with strides [batch, seq, head] in elements (head_dim contiguous): a slice of a
    /// larger buffer, a [b, s, h*d] tensor, Q or K of a fused QKV buffer of one tensor.
    pub fn with_strides<E: Element>(data: &'a mut [E], dtype: Dtype, shape: [u32; 4], strides: [i64; 3])
                                    -> Result<Self> {
        if !E::holds(dtype) {
            return Err(invalid("the slice's element type cannot hold dtype (f32: F32; u16: F16, BF16)"));
        }
        check_extent(data.len(), dtype, std::mem::size_of::<E>(), shape, strides)?;
        Ok(TensorMut { raw: raw_view(data.as_mut_ptr() as *mut c_void, dtype, shape, strides), _data: PhantomData })
    }

    /// A view from its C form (Q and K views into one fused QKV buffer, memory from elsewhere).
    ///
    /// # Safety
    /// Every element the view addresses must be valid for reads and writes for 'a, and no other
    /// reference may access them meanwhile (views handed to one call together, such as Q and K
    /// of a fused buffer, may share a buffer: the library checks they do not overlap).
    pub unsafe fn from_raw(raw: sys::rotor_tensor) -> Self {
        TensorMut { raw, _data: PhantomData }
    }

    /// The C view.
    pub fn raw(&self) -> &sys::rotor_tensor {
        &self.raw
    }

    /// A read-only view of the same elements.
    pub fn as_tensor(&self) -> Tensor<'_> {
        Tensor { raw: self.raw, _data: PhantomData }
    }

    /// [batch, seq, heads, head_dim].
    pub fn shape(&self) -> [u32; 4] {
        [self.raw.batch, self.raw.seq, self.raw.heads, self.raw.head_dim]
    }
}

impl<'a> Tensor<'a> {
    /// A contiguous read-only view; see [`TensorMut::new`].
    pub fn new<E: Element>(data: &'a [E], dtype: Dtype, shape: [u32; 4], layout: Layout) -> Result<Self> {
        Self::with_strides(data, dtype, shape, strides_of(layout, shape))
    }

    /// A strided read-only view; see [`TensorMut::with_strides`].
    pub fn with_strides<E: Element>(data: &'a [E], dtype: Dtype, shape: [u32; 4], strides: [i64; 3]) -> Result<Self> {
        if !E::holds(dtype) {
            return Err(invalid("the slice's element type cannot hold dtype (f32: F32; u16: F16, BF16)"));
        }
        check_extent(data.len(), dtype, std::mem::size_of::<E>(), shape, strides)?;
        // The C struct has one non-const data pointer; the functions that take this view only
        // read through it (apply_to's input, attention's q, k, v).
        Ok(Tensor { raw: raw_view(data.as_ptr() as *mut c_void, dtype, shape, strides), _data: PhantomData })
    }

    /// The C view.
    pub fn raw(&self) -> &sys::rotor_tensor {
        &self.raw
    }

    /// [batch, seq, heads, head_dim].
    pub fn shape(&self) -> [u32; 4] {
        [self.raw.batch, self.raw.seq, self.raw.heads, self.raw.head_dim]
    }
}
