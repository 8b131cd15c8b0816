//! Scenario and repro files with any edit are read into a value or an error
//! naming the file, never a panic: every catalog file and a corpus repro, cut
//! short or with bytes changed, repeated or dropped.

use std::path::Path;

use proptest::prelude::*;
use reports::Repro;
use scenarios::{artefacts, catalog};

#[path = "../../checker/tests/support/edits.rs"]
mod edits;
use edits::{apply, edit};

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
