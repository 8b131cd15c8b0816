//! The public API of `getrandom` 0.2, implemented over the C library's
//! `getrandom(3)` so that madsim's interposed symbol makes it deterministic.

use core::fmt;
use core::mem::MaybeUninit;
use core::num::NonZeroU32;

/// An error from the random source: an OS `errno` or an internal code.
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct Error(NonZeroU32);

impl Error {
    /// Start of the range of codes reserved for this crate's own errors.
    pub const INTERNAL_START: u32 = 1 << 31;
    /// Start of the range of codes reserved for custom random sources.
    pub const CUSTOM_START: u32 = (1 << 31) + (1 << 30);
    /// The call kept being interrupted or returned no bytes.
    pub const UNEXPECTED: Error = Error(match NonZeroU32::new(Self::INTERNAL_START + 1) {
        Some(code) => code,
        None => unreachable!(),
    });

    /// The OS error number, if this error came from the OS.
    pub fn raw_os_error(self) -> Option<i32> {
        if self.0.get() < Self::INTERNAL_START {
            Some(self.0.get() as i32)
        } else {
            None
        }
    }

    /// The raw error code.
    pub const fn code(self) -> NonZeroU32 {
        self.0
    }

    fn from_errno(errno: i32) -> Self {
        match u32::try_from(errno).ok().and_then(NonZeroU32::new) {
            Some(code) if code.get() < Self::INTERNAL_START => Error(code),
            _ => Self::UNEXPECTED,
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.raw_os_error() {
            Some(errno) => write!(f, "Error {{ os_error: {errno} }}"),
            None => write!(f, "Error {{ internal_code: {} }}", self.0.get()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.raw_os_error() {
            Some(errno) => write!(f, "getrandom failed with OS error {errno}"),
            None => write!(f, "getrandom failed with internal code {}", self.0.get()),
        }
    }
}

impl std::error::Error for Error {}

impl From<NonZeroU32> for Error {
    fn from(code: NonZeroU32) -> Self {
        Error(code)
    }
}

impl From<Error> for std::io::Error {
    fn from(err: Error) -> Self {
        match err.raw_os_error() {
            Some(errno) => std::io::Error::from_raw_os_error(errno),
            None => std::io::Error::other(err),
        }
    }
}

/// Fills `dest` with random bytes.
pub fn getrandom(dest: &mut [u8]) -> Result<(), Error> {
    let mut filled = 0;
    while filled < dest.len() {
        let rest = &mut dest[filled..];
        // SAFETY: `rest` is a valid, writable buffer of `rest.len()` bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n > 0 {
            filled += n as usize;
            continue;
        }
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        if n < 0 && errno == libc::EINTR {
            continue;
        }
        return Err(if n == 0 {
            Error::UNEXPECTED
        } else {
            Error::from_errno(errno)
        });
    }
    Ok(())
}

/// Fills a possibly uninitialized buffer with random bytes and returns it.
pub fn getrandom_uninit(dest: &mut [MaybeUninit<u8>]) -> Result<&mut [u8], Error> {
    for byte in dest.iter_mut() {
        byte.write(0);
    }
    // SAFETY: every byte was initialized just above.
    let bytes = unsafe { &mut *(dest as *mut [MaybeUninit<u8>] as *mut [u8]) };
    getrandom(bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_whole_buffer() {
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        getrandom(&mut a).expect("random bytes");
        getrandom(&mut b).expect("random bytes");
        assert_ne!(a, b, "two draws of 64 random bytes should differ");
    }

    #[test]
    fn errno_codes_round_trip() {
        let err = Error::from_errno(libc::EAGAIN);
        assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
        assert_eq!(Error::from_errno(0), Error::UNEXPECTED);
        assert_eq!(Error::UNEXPECTED.raw_os_error(), None);
    }
}
