//! Append-only line files that survive a SIGKILL: every line is written with
//! one `write` and made durable with `fsync` before `append` returns, so a
//! line is either wholly in the file or it is the last, unterminated line (a
//! torn tail). Readers skip such a tail and say so; a writer reopening the
//! file cuts it off before appending, so it never ends up in the middle.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{ReportsError, Result};

/// The unterminated last line of a file, left by a writer that was killed
/// while appending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornLine {
    /// Its 1-based line number.
    pub line: usize,
    /// What was there (lossily decoded).
    pub text: String,
}

/// A file's complete lines (up to and including the last newline) and its torn tail.
pub(crate) struct Lines {
    pub complete: String,
    pub torn: Option<TornLine>,
}

/// Splits raw file content into its complete lines and a torn tail.
fn split(path: &Path, bytes: &[u8]) -> Result<Lines> {
    let cut = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1);
    let (head, tail) = bytes.split_at(cut);
    let complete = match std::str::from_utf8(head) {
        Ok(text) => text.to_string(),
        Err(e) => {
            let line = head[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Err(ReportsError::malformed(path, line, "the line is not UTF-8"));
        }
    };
    let torn = (!tail.is_empty()).then(|| TornLine {
        line: complete.matches('\n').count() + 1,
        text: String::from_utf8_lossy(tail).into_owned(),
    });
    Ok(Lines { complete, torn })
}

/// Reads a line file, separating a torn tail from the complete lines.
pub(crate) fn read(path: &Path) -> Result<Lines> {
    let bytes = std::fs::read(path).map_err(|e| ReportsError::io(path, "read", e))?;
    let lines = split(path, &bytes)?;
    if let Some(torn) = &lines.torn {
        tracing::warn!(
            file = %path.display(),
            line = torn.line,
            "skipping a torn last line (a writer was killed while appending it)"
        );
    }
    Ok(lines)
}

/// An open line file that appends durably.
pub(crate) struct Appender {
    file: File,
    path: PathBuf,
    /// Bytes known to be complete lines: a failed append is cut back to this.
    len: u64,
}

/// What opening found.
pub(crate) struct Opened {
    pub appender: Appender,
    /// A torn tail that was cut off before appending.
    pub repaired: Option<TornLine>,
}

impl Appender {
    /// Opens `path` for appending, creating it (with `header` as its first
    /// line, if given) when it does not exist or is empty. An existing file
    /// must start with `header`; a torn tail is cut off.
    pub fn open(path: &Path, header: Option<&str>) -> Result<Opened> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| ReportsError::io(path, "open", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| ReportsError::io(path, "read", e))?;
        let lines = split(path, &bytes)?;
        let mut appender = Appender {
            file,
            path: path.to_path_buf(),
            len: lines.complete.len() as u64,
        };
        let mut repaired = lines.torn;
        match header {
            Some(header) if lines.complete.is_empty() => {
                // A new file, or one whose header itself was torn.
                if let Some(torn) = &repaired
                    && !header.starts_with(&torn.text)
                {
                    return Err(ReportsError::HeaderMismatch {
                        path: path.to_path_buf(),
                        expected: header.to_string(),
                        found: torn.text.clone(),
                    });
                }
                appender.truncate_to_len()?;
                appender.append(header)?;
                sync_parent(path)?;
                repaired = None;
            }
            Some(header) => {
                let first = lines.complete.lines().next().unwrap_or("");
                if first.trim_end_matches('\r') != header {
                    return Err(ReportsError::HeaderMismatch {
                        path: path.to_path_buf(),
                        expected: header.to_string(),
                        found: first.to_string(),
                    });
                }
            }
            None if bytes.is_empty() => sync_parent(path)?,
            None => {}
        }
        if let Some(torn) = &repaired {
            tracing::warn!(
                file = %path.display(),
                line = torn.line,
                "cutting off a torn last line before appending"
            );
            appender.truncate_to_len()?;
        }
        Ok(Opened { appender, repaired })
    }

    /// Appends one line (a newline is added) and syncs it to disk.
    pub fn append(&mut self, line: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Leave no partial line behind for the next append to glue onto.
            let _ = self.truncate_to_len();
            return Err(ReportsError::io(&self.path, "append to", e));
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn truncate_to_len(&mut self) -> Result<()> {
        self.file
            .set_len(self.len)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| ReportsError::io(&self.path, "truncate", e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Makes a newly created file's directory entry durable.
fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| ReportsError::io(parent, "sync the directory of", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_off_an_unterminated_tail() {
        let path = Path::new("x");
        let lines = split(path, b"a\nb\nc").expect("utf-8");
        assert_eq!(lines.complete, "a\nb\n");
        assert_eq!(
            lines.torn,
            Some(TornLine {
                line: 3,
                text: "c".into()
            })
        );
        let whole = split(path, b"a\n").expect("utf-8");
        assert!(whole.torn.is_none());
        let err = split(path, b"a\nb\xff\nc\n").err().expect("not utf-8");
        assert_eq!(err.line(), Some(2));
    }

    #[test]
    fn reopening_cuts_a_torn_tail_and_checks_the_header() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f.csv");
        let mut opened = Appender::open(&path, Some("h1,h2")).expect("create");
        opened.appender.append("1,2").expect("append");
        drop(opened);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"3,"))
            .expect("tear");
        let opened = Appender::open(&path, Some("h1,h2")).expect("reopen");
        assert_eq!(opened.repaired.map(|t| t.line), Some(3));
        let mut appender = opened.appender;
        appender.append("5,6").expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "h1,h2\n1,2\n5,6\n");
        let err = Appender::open(&path, Some("other"))
            .err()
            .expect("mismatch");
        assert!(matches!(err, ReportsError::HeaderMismatch { .. }), "{err}");
    }

    #[test]
    fn a_torn_header_is_rewritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f.csv");
        std::fs::write(&path, "h1,").expect("write");
        let opened = Appender::open(&path, Some("h1,h2")).expect("open");
        assert!(opened.repaired.is_none());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "h1,h2\n");
        std::fs::write(&path, "zz").expect("write");
        assert!(Appender::open(&path, Some("h1,h2")).is_err());
    }
}
