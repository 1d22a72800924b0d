//! Statuses as a Rust error, with the reason the library gave.
use std::ffi::CStr;
use std::fmt;
use std::hash::{Hash, Hasher};

use rotor_sys as sys;

/// What kind of failure: one variant per `rotor_status` other than `ROTOR_OK`.
///
/// `#[non_exhaustive]` because the C enum grows (1.2 added `ROTOR_ERR_INTERNAL`): a match needs
/// a `_` arm, so a later status is a new variant rather than a breaking change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `ROTOR_ERR_INVALID_ARGUMENT`: a NULL, a bad config, shape, stride, dtype or enum, or
    /// (from this crate) a slice too short for its view.
    InvalidArgument,
    /// `ROTOR_ERR_OUT_OF_RANGE`: a position < 0 or >= the table's (or cache's) max_len.
    OutOfRange,
    /// `ROTOR_ERR_OUT_OF_MEMORY`: an arena or workspace too small, or an allocation failed.
    OutOfMemory,
    /// `ROTOR_ERR_UNSUPPORTED`: not built into this library (a kernel the CPU lacks, CUDA), or
    /// a config this crate cannot describe safely.
    Unsupported,
    /// `ROTOR_ERR_DEVICE`: a CUDA runtime error.
    Device,
    /// `ROTOR_ERR_RESCALED`: cached keys carry rows the table no longer has: re-prefill.
    Rescaled,
    /// `ROTOR_ERR_INTERNAL` (1.2): a system primitive the library relies on (a mutex, a
    /// once-flag) failed; the call stopped there.
    Internal,
    /// `ROTOR_ERR_NO_ROTARY` (1.3): the model layer asked for has no rotary embedding (Llama 4's
    /// every fourth layer, Command R7B's full-attention layers): rotate nothing there.
    NoRotary,
    /// A status this crate does not know (a newer library): the raw value.
    Unknown(i32),
}

impl ErrorKind {
    /// The kind of a C status; `None` for `ROTOR_OK`.
    pub fn from_status(status: sys::rotor_status) -> Option<ErrorKind> {
        Some(match status {
            sys::ROTOR_OK => return None,
            sys::ROTOR_ERR_INVALID_ARGUMENT => ErrorKind::InvalidArgument,
            sys::ROTOR_ERR_OUT_OF_RANGE => ErrorKind::OutOfRange,
            sys::ROTOR_ERR_OUT_OF_MEMORY => ErrorKind::OutOfMemory,
            sys::ROTOR_ERR_UNSUPPORTED => ErrorKind::Unsupported,
            sys::ROTOR_ERR_DEVICE => ErrorKind::Device,
            sys::ROTOR_ERR_RESCALED => ErrorKind::Rescaled,
            sys::ROTOR_ERR_INTERNAL => ErrorKind::Internal,
            sys::ROTOR_ERR_NO_ROTARY => ErrorKind::NoRotary,
            other => ErrorKind::Unknown(other),
        })
    }

    /// The C status value (`ROTOR_ERR_*`).
    pub fn status(self) -> sys::rotor_status {
        match self {
            ErrorKind::InvalidArgument => sys::ROTOR_ERR_INVALID_ARGUMENT,
            ErrorKind::OutOfRange => sys::ROTOR_ERR_OUT_OF_RANGE,
            ErrorKind::OutOfMemory => sys::ROTOR_ERR_OUT_OF_MEMORY,
            ErrorKind::Unsupported => sys::ROTOR_ERR_UNSUPPORTED,
            ErrorKind::Device => sys::ROTOR_ERR_DEVICE,
            ErrorKind::Rescaled => sys::ROTOR_ERR_RESCALED,
            ErrorKind::Internal => sys::ROTOR_ERR_INTERNAL,
            ErrorKind::NoRotary => sys::ROTOR_ERR_NO_ROTARY,
            ErrorKind::Unknown(status) => status,
        }
    }
}

/// A failed call: its [`ErrorKind`] and why, in English.
///
/// The reason is the library's `rotor_last_error_message`, read on the failing thread right
/// after the call ("rotary_dim is odd"), or this crate's own when it refused an argument
/// before calling the library (it names the argument too). It is `&'static str`: the library's
/// messages are static storage, so an `Error` stays `Copy` and allocates nothing.
///
/// Until 1.1 `Error` was the enum that is now [`ErrorKind`]. Code written for it keeps
/// compiling where it builds or compares errors: each old variant is an associated constant
/// (`Error::OutOfRange`), and `==` compares kinds only, never messages, so
/// `assert_eq!(table.reserve(n), Err(Error::OutOfRange))` holds whatever the reason. A `match`
/// on the old variants does not compile (a constant of a type with a hand-written `PartialEq`
/// cannot be a pattern): match on [`Error::kind`] instead.
///
/// ```
/// use rotor::{Config, Error, ErrorKind, Table};
/// let err = Table::create(&Config::new(63)).unwrap_err();
/// assert_eq!(err, Error::InvalidArgument);
/// assert!(matches!(err.kind(), ErrorKind::InvalidArgument));
/// assert!(err.message().contains("rotary_dim"), "{}", err.message());
/// println!("{}", err); // "invalid argument: rotary_dim is odd"
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Error {
    kind: ErrorKind,
    message: &'static str,
}

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

// The names of the 1.1 enum's variants, kept so that code building or comparing errors by them
// still compiles.
#[allow(non_upper_case_globals)]
impl Error {
    /// An [`ErrorKind::InvalidArgument`] error without a message (for comparisons).
    pub const InvalidArgument: Error = Error::new(ErrorKind::InvalidArgument);
    /// An [`ErrorKind::OutOfRange`] error without a message.
    pub const OutOfRange: Error = Error::new(ErrorKind::OutOfRange);
    /// An [`ErrorKind::OutOfMemory`] error without a message.
    pub const OutOfMemory: Error = Error::new(ErrorKind::OutOfMemory);
    /// An [`ErrorKind::Unsupported`] error without a message.
    pub const Unsupported: Error = Error::new(ErrorKind::Unsupported);
    /// An [`ErrorKind::Device`] error without a message.
    pub const Device: Error = Error::new(ErrorKind::Device);
    /// An [`ErrorKind::Rescaled`] error without a message.
    pub const Rescaled: Error = Error::new(ErrorKind::Rescaled);
    /// An [`ErrorKind::Internal`] error without a message.
    pub const Internal: Error = Error::new(ErrorKind::Internal);
    /// An [`ErrorKind::NoRotary`] error without a message (1.3).
    pub const NoRotary: Error = Error::new(ErrorKind::NoRotary);

    /// 1.1's `Error::Unknown(status)` variant as a constructor: an error of a status this crate
    /// does not know.
    #[allow(non_snake_case)]
    #[deprecated(since = "1.2.0", note = "use Error::from_status or ErrorKind::Unknown")]
    pub fn Unknown(status: sys::rotor_status) -> Error {
        Error::new(ErrorKind::Unknown(status))
    }
}

impl Error {
    /// An error of `kind` without a message.
    pub const fn new(kind: ErrorKind) -> Error {
        Error { kind, message: "" }
    }

    /// An error of `kind` with a reason (static: an `Error` never allocates).
    pub const fn with_message(kind: ErrorKind, message: &'static str) -> Error {
        Error { kind, message }
    }

    /// The error for a C status, without a message; `None` for `ROTOR_OK`. Use
    /// [`Error::from_last_call`] right after a call made through [`sys`](crate::sys) to get
    /// the library's reason too.
    pub fn from_status(status: sys::rotor_status) -> Option<Error> {
        ErrorKind::from_status(status).map(Error::new)
    }

    /// The error for the status a rotor call just returned on this thread, with the library's
    /// reason (`rotor_last_error_message`); `None` for `ROTOR_OK`. Call it before any other
    /// rotor function on this thread: the next call replaces the reason.
    pub fn from_last_call(status: sys::rotor_status) -> Option<Error> {
        let kind = ErrorKind::from_status(status)?;
        // SAFETY: takes no argument, cannot fail, and returns a NUL-terminated string in static
        // storage, never NULL (rotor.h): a 'static borrow of it is valid.
        let text = unsafe { CStr::from_ptr(sys::rotor_last_error_message()) };
        Some(Error::with_message(kind, text.to_str().unwrap_or("")))
    }

    /// What kind of failure: match on this.
    pub fn kind(self) -> ErrorKind {
        self.kind
    }

    /// Why, in English (the library's reason or this crate's); "" when none was given.
    pub fn message(self) -> &'static str {
        self.message
    }

    /// The C status value (`ROTOR_ERR_*`).
    pub fn status(self) -> sys::rotor_status {
        self.kind.status()
    }

    /// The library's description of the status (`rotor_status_string`), without the reason.
    pub fn description(self) -> &'static str {
        // SAFETY: rotor_status_string accepts any value and returns a non-NULL, NUL-terminated
        // string in static storage (rotor.h), so a 'static borrow of it is valid.
        let text = unsafe { CStr::from_ptr(sys::rotor_status_string(self.status())) };
        text.to_str().unwrap_or("rotor status")
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

// Errors are equal when their kinds are: the message explains, it does not identify (the same
// failure may be worded differently by another library version or found by this crate first).
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.kind == other.kind
    }
}

impl Eq for Error {}

impl PartialEq<ErrorKind> for Error {
    fn eq(&self, other: &ErrorKind) -> bool {
        self.kind == *other
    }
}

// Consistent with PartialEq: the kind alone.
impl Hash for Error {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.description())
        } else {
            write!(f, "{}: {}", self.description(), self.message)
        }
    }
}

impl std::error::Error for Error {}

/// `Ok(())` for ROTOR_OK, otherwise the error with the library's reason. Called directly on the
/// status a C function just returned: no other rotor call may come between (it would replace
/// the thread's reason).
pub(crate) fn check(status: sys::rotor_status) -> Result<()> {
    match Error::from_last_call(status) {
        None => Ok(()),
        Some(error) => Err(error),
    }
}

/// An `ErrorKind::InvalidArgument` error of this crate, refused before the library was called.
pub(crate) const fn invalid(message: &'static str) -> Error {
    Error::with_message(ErrorKind::InvalidArgument, message)
}
