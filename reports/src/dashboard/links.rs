//! Relative links from the dashboard file to run reports, so the output
//! and the campaign folders can be moved or served together.

use std::path::{Component, Path, PathBuf};

/// `path` made absolute and with `.` and `..` resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A URL path segment with everything but unreserved characters escaped.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The relative URL of `target` as seen from a file written to `from_file`.
pub(crate) fn relative_url(from_file: &Path, target: &Path) -> String {
    let from_file = normalize(from_file);
    let base = from_file.parent().unwrap_or(Path::new("/"));
    let target = normalize(target);
    let base_parts: Vec<Component> = base.components().collect();
    let target_parts: Vec<Component> = target.components().collect();
    let common = base_parts
        .iter()
        .zip(&target_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut segments: Vec<String> = vec!["..".to_string(); base_parts.len() - common];
    segments.extend(
        target_parts[common..]
            .iter()
            .map(|c| encode(&c.as_os_str().to_string_lossy())),
    );
    segments.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_to_the_output_folder() {
        assert_eq!(
            relative_url(
                Path::new("/srv/review/dashboard.html"),
                Path::new("/srv/nightly/2025-03-01/runs/default-7/report.html")
            ),
            "../nightly/2025-03-01/runs/default-7/report.html"
        );
        assert_eq!(
            relative_url(
                Path::new("/srv/c/./out.html"),
                Path::new("/srv/c/runs/a b#1/report.html")
            ),
            "runs/a%20b%231/report.html"
        );
    }
}
