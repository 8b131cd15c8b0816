//! Edits of valid files for the "never panics" properties: a file cut
//! short, or with bytes changed, repeated or dropped (what a truncated
//! download or a hand edit leaves). Shared by the checker's and the
//! scenarios crate's tests (`#[path]`).

use proptest::prelude::*;

/// An edit of a valid file: cut it, or change, repeat or drop a byte range.
#[derive(Debug, Clone)]
pub enum Edit {
    Truncate(usize),
    Replace(usize, u8),
    Duplicate(usize, usize),
    Drop(usize, usize),
}

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Replace(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Edit::Drop(at, n)),
    ]
}

/// Applies the edits byte-wise; the result is read as text where it still
/// is UTF-8, and lossily otherwise (a reader never sees invalid UTF-8: the
/// file layer refuses it first).
pub fn apply(base: &str, edits: &[Edit]) -> String {
    let mut bytes = base.as_bytes().to_vec();
    for e in edits {
        if bytes.is_empty() {
            break;
        }
        let at = |i: usize| i % bytes.len();
        match *e {
            Edit::Truncate(i) => bytes.truncate(at(i)),
            Edit::Replace(i, b) => {
                let i = at(i);
                bytes[i] = b;
            }
            Edit::Duplicate(i, n) => {
                let i = at(i);
                let end = (i + n).min(bytes.len());
                let copy = bytes[i..end].to_vec();
                bytes.splice(i..i, copy);
            }
            Edit::Drop(i, n) => {
                let i = at(i);
                let end = (i + n).min(bytes.len());
                bytes.drain(i..end);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
