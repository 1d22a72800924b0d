//! Statuses as a Rust error.
use std::ffi::CStr;
use std::fmt;

use rotor_sys as sys;

/// Every status rotor reports other than `ROTOR_OK`, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// `ROTOR_ERR_INVALID_ARGUMENT`: a NULL, a bad config, shape, stride, dtype or enum, or
    /// (from this crate) a slice too short for its view.
    InvalidArgument,
    /// `ROTOR_ERR_OUT_OF_RANGE`: a position < 0 or >= the table's (or cache's) max_len.
    OutOfRange,
    /// `ROTOR_ERR_OUT_OF_MEMORY`: an arena or workspace too small, or an allocation failed.
    OutOfMemory,
    /// `ROTOR_ERR_UNSUPPORTED`: not built into this library (a kernel the CPU lacks, CUDA).
    Unsupported,
    /// `ROTOR_ERR_DEVICE`: a CUDA runtime error.
    Device,
    /// `ROTOR_ERR_RESCALED`: cached keys carry rows the table no longer has: re-prefill.
    Rescaled,
    /// A status this crate does not know (a newer library): the raw value.
    Unknown(i32),
}

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The error for a C status; `None` for `ROTOR_OK`.
    pub fn from_status(status: sys::rotor_status) -> Option<Error> {
        Some(match status {
            sys::ROTOR_OK => return None,
            sys::ROTOR_ERR_INVALID_ARGUMENT => Error::InvalidArgument,
            sys::ROTOR_ERR_OUT_OF_RANGE => Error::OutOfRange,
            sys::ROTOR_ERR_OUT_OF_MEMORY => Error::OutOfMemory,
            sys::ROTOR_ERR_UNSUPPORTED => Error::Unsupported,
            sys::ROTOR_ERR_DEVICE => Error::Device,
            sys::ROTOR_ERR_RESCALED => Error::Rescaled,
            other => Error::Unknown(other),
        })
    }

    /// The C status value (`ROTOR_ERR_*`).
    pub fn status(self) -> sys::rotor_status {
        match self {
            Error::InvalidArgument => sys::ROTOR_ERR_INVALID_ARGUMENT,
            Error::OutOfRange => sys::ROTOR_ERR_OUT_OF_RANGE,
            Error::OutOfMemory => sys::ROTOR_ERR_OUT_OF_MEMORY,
            Error::Unsupported => sys::ROTOR_ERR_UNSUPPORTED,
            Error::Device => sys::ROTOR_ERR_DEVICE,
            Error::Rescaled => sys::ROTOR_ERR_RESCALED,
            Error::Unknown(status) => status,
        }
    }

    /// The library's description (`rotor_status_string`).
    pub fn description(self) -> &'static str {
        // SAFETY: rotor_status_string accepts any value and returns a non-NULL, NUL-terminated
        // string in static storage (rotor.h), so a 'static borrow of it is valid.
        let text = unsafe { CStr::from_ptr(sys::rotor_status_string(self.status())) };
        text.to_str().unwrap_or("rotor status")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for Error {}

/// `Ok(())` for ROTOR_OK, the error otherwise.
pub(crate) fn check(status: sys::rotor_status) -> Result<()> {
    match Error::from_status(status) {
        None => Ok(()),
        Some(error) => Err(error),
    }
}
