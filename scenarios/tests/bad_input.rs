//! Bad input gets one clear line naming the argument or field, and exit
//! status 2; a closed stdout ends the process quietly. Never a panic.

use std::io::Read;
use std::process::{Command, Stdio};

fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

/// Runs faultline and returns (status code, stderr).
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let out = faultline().args(args).output().expect("faultline runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_refused(args: &[&str], names: &str) {
    let (code, stderr) = refused(args);
    assert_eq!(code, Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(names), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
}

#[test]
fn huge_arguments_are_refused_by_name() {
    assert_refused(&["run", "--seeds", "0..18446744073709551615"], "--seeds");
    assert_refused(
        &[
            "hunt",
            "--bug",
            "etcd-15220",
            "--budget",
            "99999999999999999999h",
        ],
        "--budget",
    );
    assert_refused(
        &[
            "soak",
            "--out",
            "/nonexistent-faultline/x",
            "--duration",
            "99999999999999999999h",
        ],
        "--duration",
    );
}

#[test]
fn diff_refuses_bad_arguments_before_starting_anything() {
    assert_refused(&["diff", "--seeds", "0..20000"], "--seeds");
    assert_refused(&["diff", "--requests", "0"], "--requests");
    assert_refused(
        &["diff", "--requests", "18446744073709551615"],
        "--requests",
    );
    assert_refused(
        &["diff", "--steps", "/nonexistent-faultline/steps.json"],
        "--steps",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let steps = dir.path().join("steps.json");
    std::fs::write(&steps, "[{\"kind\": \"put\", \"key\": 7}]").expect("write");
    let steps = steps.to_string_lossy().into_owned();
    assert_refused(&["diff", "--steps", &steps], "--steps");
    // Nesting deeper than any sequence: refused, never a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let file = dir.path().join("deep.json");
    std::fs::write(&file, deep).expect("write");
    let file = file.to_string_lossy().into_owned();
    assert_refused(&["diff", "--steps", &file], "--steps");
}

#[test]
fn huge_numbers_in_a_scenario_file_are_refused_naming_file_and_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (body, field) in [
        (
            "[[faults]]\nkind = \"crash\"\nat_s = 1e300\n",
            "faults[0].at_s",
        ),
        ("[[traffic]]\nrate = 1e-300\n", "traffic[0].rate"),
        (
            "[cluster.knobs]\nsnapshot_count = 9223372036854775807\n",
            "cluster.knobs.snapshot_count",
        ),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, format!("name = \"bad\"\n{body}")).expect("write scenario");
        let path = path.to_str().expect("utf-8 path");
        let (code, stderr) = refused(&["run", "--scenario", path]);
        assert_eq!(code, Some(2), "{body}: {stderr}");
        assert!(
            stderr.contains("bad.toml") && stderr.contains(field),
            "{stderr}"
        );
    }
}

#[test]
fn a_closed_stdout_ends_the_run_without_a_panic() {
    let mut child = faultline()
        .args([
            "run",
            "--scenario",
            "single-member",
            "--seeds",
            "0..4",
            "--jobs",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faultline starts");
    // Close the reading end at once, as `| head -0` would.
    drop(child.stdout.take());
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut stderr).expect("stderr readable");
    }
    let status = child.wait().expect("faultline ends");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(status.code(), Some(101), "a panic's exit status: {stderr}");
}

#[test]
fn report_refuses_a_bad_class_and_an_unusable_shrinks_folder_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let campaign = dir.path().join("c");
    std::fs::create_dir_all(&campaign).expect("campaign folder");
    std::fs::write(
        campaign.join("campaign.json"),
        r#"{"name": "c", "started": "2025-03-01T02:00:00Z", "seed": 0, "shard": null}"#,
    )
    .expect("campaign.json");
    let header = reports::RESULTS_HEADER;
    std::fs::write(
        campaign.join("results.csv"),
        format!("{header}\ndefault,1,,fail,linearizability,1,0,0,0,1,1,h,0,stale-reed\n"),
    )
    .expect("results.csv");
    let out = dir.path().join("d.html");
    let (c, o) = (
        campaign.to_string_lossy().into_owned(),
        out.to_string_lossy().into_owned(),
    );
    assert_refused(&["report", &c, "--out", &o], "field classes");
    std::fs::write(
        campaign.join("results.csv"),
        format!("{header}\ndefault,1,,pass,,1,0,0,0,1,1,h,0,\n"),
    )
    .expect("results.csv");
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "x").expect("file");
    let f = file.to_string_lossy().into_owned();
    assert_refused(
        &["report", &c, "--out", &o, "--shrink", "1", "--shrinks", &f],
        "--shrinks",
    );
    // clap's own message (with its usage hint) for a value that is no number.
    let (code, stderr) = refused(&["report", &c, "--out", &o, "--shrink", "many"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--shrink"), "{stderr}");
}
