//! Recorded histories kept under `tests/data/` (gzipped when the name ends
//! in `.gz`).

use std::io::Read;
use std::path::Path;

use checker::history::History;

/// The history of the recorded run `name` in `tests/data/`.
pub fn history(name: &str) -> History {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let mut text = String::new();
    if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = std::fs::read_to_string(&path).unwrap();
    }
    checker::jsonl::read_str(&text).unwrap().history
}
