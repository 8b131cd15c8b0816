//! `--target etcd` without starting anything: which catalog scenarios a
//! real cluster runs, a scenario with a step it cannot do refused on one
//! line naming the file and the step (exit 2) before any cluster starts
//! (by `run` and by `soak`), and a real run's repro refused by `replay`
//! (exit 2). The real runs themselves are `realetcd/tests/real_scenario.rs`,
//! `scenarios/tests/soak_real.rs` and ci/test.sh's.

use std::process::Command;

fn faultline(args: &[&str]) -> (Option<i32>, String, String) {
    faultline_with_old(args, None)
}

/// `faultline` with `$FAULTLINE_ETCD_OLD` set to `old`, or unset.
fn faultline_with_old(args: &[&str], old: Option<&str>) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_faultline"));
    command.args(args);
    match old {
        Some(old) => command.env("FAULTLINE_ETCD_OLD", old),
        None => command.env_remove("FAULTLINE_ETCD_OLD"),
    };
    let out = command.output().expect("faultline runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_listing_says_which_scenarios_run_against_etcd_and_why_not() {
    let (code, out, err) = faultline(&["list", "scenarios", "--target", "etcd"]);
    assert_eq!(code, Some(0), "{err}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} is not listed:\n{out}"))
            .to_string()
    };
    assert!(line("partitions").ends_with("runs against etcd"), "{out}");
    assert!(
        line("crash-restart").ends_with("runs against etcd"),
        "{out}"
    );
    // Cut off until a snapshot catches it up: run with a small
    // --snapshot-count.
    assert!(
        line("snapshot-catchup").ends_with("runs against etcd"),
        "{out}"
    );
    let disk = line("disk-faults");
    assert!(
        disk.contains("refused: faults[0] (torn_write_crash)"),
        "{disk}"
    );
    let skew = line("clock-skew");
    assert!(skew.contains("refused"), "{skew}");
    let (code, _, err) = faultline(&["list", "faults", "--target", "etcd"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn a_step_a_real_cluster_cannot_do_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("skewed.toml");
    std::fs::write(
        &file,
        r#"
name = "skewed"
[[traffic]]
profile = "etcd"
[[faults]]
kind = "crash"
at_s = 1.0
[[faults]]
kind = "clock_skew"
at_s = 2.0
drift_ppm = 500
"#,
    )
    .expect("the scenario is written");
    let path = file.display().to_string();
    // A binary that does not exist: nothing may be started (or looked up)
    // before the refusal.
    let (code, out, err) = faultline(&[
        "run",
        "--target",
        "etcd",
        "--scenario",
        &path,
        "--seeds",
        "0..3",
        "--etcd",
        "/nonexistent/etcd",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{path}: faults[1] (clock_skew): ")),
        "{err}"
    );
    let (code, _, err) = faultline(&["run", "--target", "etcd", "--bug", "etcd-18089"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--bug"), "{err}");
}

#[test]
fn a_real_soak_refuses_what_a_real_cluster_cannot_do_before_anything_starts() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("campaign");
    let out_arg = out.display().to_string();
    // A scenario with a step a real cluster cannot do (disk-faults' torn
    // write) among the asked ones: refused naming its file and the part,
    // before any folder is made or any binary asked.
    let (code, stdout, err) = faultline(&[
        "soak",
        "--target",
        "etcd",
        "--scenario",
        "partitions",
        "--scenario",
        "disk-faults",
        "--runs",
        "4",
        "--etcd",
        "/nonexistent/etcd",
        "--out",
        &out_arg,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("scenarios/catalog/disk-faults.toml: faults[0] (torn_write_crash): "),
        "{err}"
    );
    assert!(!out.exists(), "the refused soak made its folder");
    let (code, _, err) = faultline(&[
        "soak",
        "--target",
        "etcd",
        "--bug",
        "etcd-18089",
        "--runs",
        "1",
        "--out",
        &out_arg,
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("--bug: a real etcd has no bug switches"),
        "{err}"
    );
    for flag in ["--etcd", "--etcd-old"] {
        let (code, _, err) = faultline(&[
            "soak",
            flag,
            "/usr/bin/etcd",
            "--runs",
            "1",
            "--out",
            &out_arg,
        ]);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!("{flag}: goes with --target etcd")),
            "{err}"
        );
    }
    assert!(!out.exists());
}

#[test]
fn a_real_run_does_not_replay() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("repro.toml");
    let repro = reports::Repro {
        scenario_name: "partitions".into(),
        scenario_toml: "name = \"partitions\"\n".into(),
        seed: 4,
        bugs: Vec::new(),
        versions: vec!["3.4.23".into()],
        trace_hash: String::new(),
        real: Some(reports::RealEtcd {
            binary: "/usr/bin/etcd".into(),
            version: "3.4.23".into(),
            ..reports::RealEtcd::default()
        }),
    };
    std::fs::write(&file, repro.to_toml(&file).expect("encodes")).expect("written");
    let path = file.display().to_string();
    for command in ["replay", "shrink"] {
        let (code, _, err) = faultline(&[command, &path]);
        assert_eq!(code, Some(2), "{command}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{command}: {err}");
        assert!(err.contains("does not replay"), "{command}: {err}");
        assert!(
            err.contains("faultline run --target etcd --scenario partitions --seed 4"),
            "{command}: {err}"
        );
    }
}

/// The version file `realetcd`'s CLI run uses (rolling upgrade, swap back).
const VERSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real-versions.toml");

#[test]
fn version_changes_are_refused_without_the_old_binary() {
    let run = [
        "run",
        "--target",
        "etcd",
        "--scenario",
        VERSIONS,
        "--seed",
        "0",
        "--etcd",
        "/nonexistent/etcd",
    ];
    let (code, out, err) = faultline_with_old(&run, None);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "{VERSIONS}: faults[0] (rolling_upgrade): a version change (to 3.6) needs a second etcd binary: set $FAULTLINE_ETCD_OLD (or --etcd-old) to an older etcd"
        )),
        "{err}"
    );
    // With an old binary the plan is made, and the first thing that fails
    // is asking the (missing) new binary its version: past the refusal.
    let (code, _, err) = faultline_with_old(&run, Some("/nonexistent/etcd-old"));
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("rolling_upgrade"), "{err}");
    let (code, _, err) = faultline(&["run", "--etcd-old", "/usr/bin/etcd"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--etcd-old: goes with --target etcd"), "{err}");
}

#[test]
fn the_listing_says_whether_version_changes_run() {
    let list = ["list", "scenarios", "--target", "etcd"];
    let (code, _, err) = faultline_with_old(&list, None);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("$FAULTLINE_ETCD_OLD is not set: version changes"),
        "{err}"
    );
    let (code, _, err) = faultline_with_old(&list, Some("/usr/bin/etcd"));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("$FAULTLINE_ETCD_OLD is set: version changes"),
        "{err}"
    );
}
