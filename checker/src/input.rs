//! Reading an input file whole, bounded: every history reader takes its
//! text from here, so none reads more than [`MAX_FILE_BYTES`] into memory.

use std::io::Read;
use std::path::Path;

/// Largest input file read whole (a history of millions of operations is
/// far below it).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Why a file could not be read as text. Displays as one line (the caller
/// names the file).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file has {size} bytes, more than the {MAX_FILE_BYTES} read")]
    TooLarge { size: u64 },
    #[error("the file is not UTF-8 text")]
    NotText,
}

impl ReadError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// The file's text, refused before reading when it is larger than
/// [`MAX_FILE_BYTES`] (and, should it grow while read, cut there and refused).
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    read_text_within(path, MAX_FILE_BYTES)
}

fn read_text_within(path: &Path, max: u64) -> Result<String, ReadError> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > max {
        return Err(ReadError::TooLarge { size });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
        });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of this test's own, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let dir = std::env::temp_dir().join(format!("checker-input-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            TempDir(dir)
        }

        fn file(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).expect("write");
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn reads_text_and_refuses_what_is_too_large_or_not_text() {
        let dir = TempDir::new();
        let path = dir.file("ok", b"hello");
        assert_eq!(read_text_within(&path, 5).expect("read"), "hello");
        assert!(matches!(
            read_text_within(&path, 4),
            Err(ReadError::TooLarge { size: 5 })
        ));
        let path = dir.file("binary", &[0xff, 0xfe]);
        assert!(matches!(read_text(&path), Err(ReadError::NotText)));
        let missing = read_text(Path::new("/nonexistent/history.jsonl")).unwrap_err();
        assert!(missing.is_not_found());
    }
}
