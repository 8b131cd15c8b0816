//! Scenario and repro files with any edit are read into a value or an error
//! naming the file, never a panic: every catalog file and a corpus repro, cut
//! short or with bytes changed, repeated or dropped.

use std::path::Path;

use proptest::prelude::*;
use reports::Repro;
use scenarios::{artefacts, catalog};

/// An edit of a valid file: cut it, or change, repeat or drop a byte range.
#[derive(Debug, Clone)]
enum Edit {
    Truncate(usize),
    Replace(usize, u8),
    Duplicate(usize, usize),
    Drop(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Replace(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Edit::Drop(at, n)),
    ]
}

fn apply(base: &str, edits: &[Edit]) -> String {
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

const REPRO: &str = include_str!("../../ci/corpus/standard-5.toml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn edited_scenario_files_never_panic(
        file in 0..catalog::CATALOG.len(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let (name, text) = catalog::CATALOG[file];
        if let Err(e) = catalog::parse(name, &apply(text, &edits)) {
            prop_assert!(e.to_string().starts_with(name), "{e}");
        }
    }

    #[test]
    fn edited_repro_files_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        let path = Path::new("standard-5.toml");
        if let Ok(repro) = Repro::from_toml(&apply(REPRO, &edits), path) {
            let _ = artefacts::from_repro(&repro, "standard-5.toml");
        }
    }
}

/// The unedited files are valid: an edit is what makes them fail.
#[test]
fn the_starting_files_are_read() {
    for (name, text) in catalog::CATALOG {
        catalog::parse(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let repro = Repro::from_toml(REPRO, Path::new("standard-5.toml")).expect("the repro");
    artefacts::from_repro(&repro, "standard-5.toml").expect("its scenario");
}
