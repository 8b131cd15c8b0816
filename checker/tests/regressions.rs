//! Histories from real simulation runs that the checker once judged wrong
//! (false positives since fixed), kept as gzipped JSON lines under
//! `tests/data/regressions/`: each must pass every rule. The file name says
//! what went wrong. Add one with `faultline replay ... --history FILE`,
//! then `gzip -9`.

use std::io::Read;
use std::path::Path;

use checker::{CheckOptions, Overall, check_run};

#[test]
fn every_regression_history_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the regressions folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".jsonl.gz"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "regression histories missing in {dir:?}");
    for path in files {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("open"))
            .read_to_string(&mut text)
            .expect("gzipped JSON lines");
        let file = checker::jsonl::read_str(&text).expect("a valid history");
        let end = file.end.expect("an end-state record");
        let mut report = check_run(&file.history, &end, &CheckOptions::default());
        // Recorded before members reported their member lists: that rule
        // has nothing to judge (`faultline check` says it is skipped).
        if end.members.iter().all(|m| m.membership.is_none()) {
            report
                .results
                .retain(|r| r.property != checker::rules::END_MEMBERS);
        }
        assert!(
            matches!(report.overall(), Overall::Pass),
            "{}: {:?}",
            path.display(),
            report.failed_rules()
        );
    }
}
