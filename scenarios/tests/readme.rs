//! The README's bug table is the bug table: `faultline list bugs
//! --markdown` prints what the README shows between its markers.

const START: &str = "<!-- bug-table: faultline list bugs --markdown -->\n";
const END: &str = "<!-- /bug-table -->";

#[test]
fn the_readme_shows_the_bug_table_as_it_is() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme.find(START).expect("the README marks its bug table") + START.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("the bug table's end marker");
    assert_eq!(
        &readme[start..end],
        scenarios::bug_table::markdown(),
        "README.md's bug table differs from `faultline list bugs --markdown`: paste the command's output between the markers"
    );
}
